"""Hybrid search through ShopService.search_products: filters, exact names, meaning, fallbacks, safety."""

from __future__ import annotations

import logging
from collections import Counter

import pytest
from sqlalchemy import func, select, update

from shop.db import get_engine
from shop.models import Product, ProductVariant
from shop.search import SearchConfig, engine_for
from shop.service import ShopService
from shop.vocabulary import material_matches
from tests.search.conftest import INJECTION

EXACT_NAMES = [
    ("Cloudline Pullover Hoodie", "HOD-0001"),
    ("Ridgeline Rain Jacket", "JKT-0001"),
    ("Harbor Slim Jeans", "JNS-0001"),
    ("Trailhead Hiking Socks", "SOC-0001"),
    ("Fjord Running Shoes", "SHO-0021"),
    ("meadow wrap dress", "DRS-0001"),
]


def test_text_with_filters_respects_every_filter(hybrid: ShopService) -> None:
    result = hybrid.search_products(
        text="a jacket for cold mornings", category="jacket", max_price="$200", color="black", limit=10
    )
    assert result.total > 0 and result.products
    for product in result.products:
        assert product.category == "jackets"
        assert product.price <= 200
        assert "black" in product.colors
        assert product.in_stock
        availability = hybrid.check_availability(product.sku, color="black")
        assert availability is not None and availability.in_stock


def test_size_and_brand_filters_with_text(hybrid: ShopService, keyword: ShopService) -> None:
    for svc in (hybrid, keyword):
        result = svc.search_products(text="comfortable", size="42", category="shoes", limit=50)
        assert result.products
        assert all("42" in p.sizes and p.category == "shoes" for p in result.products)
        brand = result.products[0].brand
        branded = svc.search_products(text="comfortable", brand=brand.upper(), limit=50)
        assert branded.products and all(p.brand == brand for p in branded.products)


@pytest.mark.parametrize(("name", "sku"), EXACT_NAMES)
def test_exact_name_ranks_the_product_first(
    hybrid: ShopService, keyword: ShopService, name: str, sku: str
) -> None:
    for svc in (hybrid, keyword):
        assert svc.search_products(text=name).products[0].sku == sku
    assert hybrid.search_products(text=sku.lower()).products[0].sku == sku
    assert hybrid.search_products(text=f"do you have the {name} in stock?").products[0].sku == sku


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("something to keep my head warm on winter walks", "hats"),
        ("what should I wear to a summer wedding", "dresses"),
        ("something comfortable on my feet for a long walk in the city", "shoes"),
        ("cosy knitwear for cold evenings by the fire", "sweaters"),
        ("trousers made of denim", "jeans"),
    ],
)
def test_semantic_query_finds_the_sensible_category(hybrid: ShopService, text: str, category: str) -> None:
    result = hybrid.search_products(text=text, limit=5)
    assert result.products, text
    top = Counter(p.category for p in result.products)
    assert result.products[0].category == category, [p.name for p in result.products]
    assert top[category] >= 3, [p.name for p in result.products]


def test_products_with_every_keyword_come_first_and_alone(hybrid: ShopService) -> None:
    """The keyword filter of the original search still holds when some product has every word."""
    result = hybrid.search_products(text="waterproof", limit=50)
    assert result.total == len(result.products) > 0
    for product in result.products:
        details = hybrid.get_product(product.sku)
        assert "waterproof" in (details.name + " " + details.description).lower()


def test_related_products_when_no_product_has_every_word(hybrid: ShopService) -> None:
    result = hybrid.search_products(text="something warm for a winter hike", limit=5)
    assert result.total > 0
    warm = {"jackets", "sweaters", "socks", "hats", "shoes", "hoodies"}
    assert {p.category for p in result.products} <= warm


def test_hybrid_keeps_keyword_ranking_of_plain_words(hybrid: ShopService) -> None:
    result = hybrid.search_products(text="red dress", limit=5)
    assert all(p.category == "dresses" and "red" in p.colors for p in result.products)


def test_relax_hint_with_text(hybrid: ShopService) -> None:
    result = hybrid.search_products(text="hoodie", color="teal")
    assert (result.total, result.products, result.relax_hint) == (0, [], "color")
    result = hybrid.search_products(text="merino beanie", max_price=1)
    assert result.relax_hint == "max_price"


def test_keyword_only_when_encoder_cannot_be_loaded(
    shared_url: str, keyword_config: SearchConfig, caplog: pytest.LogCaptureFixture
) -> None:
    broken = SearchConfig.from_env(cache_dir=keyword_config.cache_dir, encoder_path="/nonexistent/minilm")
    svc = ShopService(shared_url, search_config=broken)
    with caplog.at_level(logging.WARNING, logger="shop.embeddings"):
        result = svc.search_products(text="Cloudline Pullover Hoodie")
    assert result.products[0].sku == "HOD-0001"
    assert any("keywords only" in r.getMessage() for r in caplog.records)
    index = engine_for(svc.db_url, broken).index(svc._transaction)
    assert index.mode == "keyword" and index.vectors is None
    assert svc.search_products(text="wool socks", limit=5).products
    # A query that needs meaning finds nothing without the encoder instead of failing (and instead of
    # returning products that merely share a stop word with it).
    meaning_only = svc.search_products(text="what should I wear to a summer wedding")
    assert (meaning_only.total, meaning_only.products) == (0, [])


@pytest.mark.parametrize(
    ("text", "finds_all"),
    [
        (INJECTION, False),
        ("robert'); DROP TABLE orders;--", False),
        ("1; DELETE FROM product_variants WHERE 1=1", False),
        ("' OR '1'='1", True),  # no keyword at all: no text filter, like the original search
    ],
)
def test_sql_in_search_text_is_just_text(
    db_url: str, hybrid_config: SearchConfig, text: str, finds_all: bool
) -> None:
    svc = ShopService(db_url, search_config=hybrid_config)
    everything = svc.search_products(limit=1).total

    def counts() -> tuple[int, int]:
        with get_engine(db_url).connect() as conn:
            return (
                conn.execute(select(func.count()).select_from(Product.__table__)).scalar_one(),
                conn.execute(select(func.sum(ProductVariant.stock))).scalar_one(),
            )

    before = counts()
    result = svc.search_products(text=text, limit=5)
    assert result.total == (everything if finds_all else 0)
    assert counts() == before


@pytest.mark.parametrize("svc_name", ["hybrid", "keyword"])
def test_like_wildcards_are_plain_characters(request: pytest.FixtureRequest, svc_name: str) -> None:
    svc: ShopService = request.getfixturevalue(svc_name)
    everything = svc.search_products(limit=50).total
    for text in ("%", "_", "%%", "% _ %", "\\"):
        assert svc.search_products(text=text).total == everything, text
    assert svc.search_products(text="100%_cotton_").total < everything
    underscored = svc.search_products(text="hood_e", limit=50)
    assert all(p.category != "hoodies" or "hood" in p.name.lower() for p in underscored.products)
    assert svc.search_products(text="_oodie", limit=50).products  # "oodie" is a real substring
    assert all("oodie" in p.name.lower() for p in svc.search_products(text="%oodie%", limit=5).products)


def test_shown_products_are_in_stock_even_before_the_index_refreshes(
    db_url: str, hybrid_config: SearchConfig
) -> None:
    svc = ShopService(db_url, search_config=hybrid_config)
    first = svc.search_products(text="Cloudline Pullover Hoodie").products[0]
    assert first.sku == "HOD-0001"
    with get_engine(db_url).begin() as conn:  # sold out behind the service's back
        product_id = conn.execute(select(Product.id).where(Product.sku == "HOD-0001")).scalar_one()
        conn.execute(update(ProductVariant).where(ProductVariant.product_id == product_id).values(stock=0))
    result = svc.search_products(text="Cloudline Pullover Hoodie", limit=5)
    assert "HOD-0001" not in {p.sku for p in result.products}
    assert "HOD-0001" in {
        p.sku for p in svc.search_products(text="Cloudline Pullover Hoodie", in_stock_only=False).products
    }


def test_cancelling_an_order_refreshes_the_index(db_url: str, hybrid_config: SearchConfig) -> None:
    svc = ShopService(db_url, search_config=hybrid_config)
    engine = engine_for(svc.db_url, hybrid_config)
    before = engine.index(svc._transaction)
    assert svc.cancel_order("SA-100003", "alex.morgan@example.com").ok
    after = engine.index(svc._transaction)
    assert after is not before
    assert after.keyword_index is before.keyword_index  # texts unchanged: nothing re-indexed or re-embedded
    assert after.vectors is before.vectors


def test_very_long_text_is_cut_not_choked_on(hybrid: ShopService) -> None:
    result = hybrid.search_products(text="warm hoodie " * 3000, limit=3)
    assert result.products and all(p.category == "hoodies" for p in result.products)


@pytest.mark.parametrize("svc_name", ["hybrid", "keyword"])
@pytest.mark.parametrize("text", [None, "bag for the office"])
def test_material_filter_keeps_only_products_of_that_material(
    request: pytest.FixtureRequest, svc_name: str, text: str | None
) -> None:
    """"leather bags" listed canvas bags: the material is a filter, with and without search text."""
    svc: ShopService = request.getfixturevalue(svc_name)
    everything = svc.search_products(category="bags", text=text, limit=50)
    assert any("leather" not in svc.get_product(p.sku).material for p in everything.products)
    leather = svc.search_products(category="bags", material="Leather", text=text, limit=50)
    assert leather.products
    assert all("leather" in svc.get_product(p.sku).material for p in leather.products)


def test_material_matches_whole_words_and_wool_covers_merino(keyword: ShopService) -> None:
    wool = keyword.search_products(material="wool", limit=50)
    materials = {keyword.get_product(p.sku).material for p in wool.products}
    assert "lambswool" in materials or any("merino" in m for m in materials)
    assert all(any(w in m for w in ("wool", "merino")) for m in materials)
    assert keyword.search_products(material="plastic").total == 0


def test_relax_hint_names_the_material(keyword: ShopService) -> None:
    result = keyword.search_products(category="bags", material="silk")
    assert result.total == 0 and result.relax_hint == "material"


@pytest.mark.parametrize(
    ("asked", "material", "matches"),
    [
        ("leather", "vegetable-tanned leather", True),
        ("Leather", "full-grain leather", True),
        ("wool", "merino wool blend", True),
        ("wool", "lambswool", True),
        ("woollen", "felted wool", True),
        ("wool", "waxed canvas", False),
        ("mesh", "meshed nylon", False),
        ("plastic", "plastic", False),  # not a catalog material word: matches nothing, like an unknown colour
        (None, "canvas", False),
    ],
)
def test_material_matches(asked: str | None, material: str, matches: bool) -> None:
    assert material_matches(asked, material) is matches
