"""shop.catalog_terms: database vocabulary, stable snapshot hash, fallback when the database is away."""

from __future__ import annotations

import logging

from sqlalchemy import insert, select

from components.extractors.catalog_entity_extractor import CatalogEntityExtractor
from components.extractors.catalog_matcher import COMPILER_VERSION
from shop.catalog_terms import catalog_snapshot_hash, catalog_terms, fallback_terms, load_catalog_terms
from shop.db import dispose_engine, get_engine
from shop.models import Brand, Category, Product


def test_database_vocabulary(shop_db_url):
    terms = catalog_terms(shop_db_url)
    assert terms.source == "database"
    assert len(terms.products) >= 300
    assert "Atlas Supply" in terms.brands and "t-shirts" in terms.categories
    assert terms.category_synonyms["sneakers"] == "shoes" and terms.color_synonyms["gray"] == "grey"
    assert {"XS", "XXL", "42", "one size"} <= set(terms.sizes)
    assert "merino" in terms.materials


def test_snapshot_hash_is_stable(shop_db_url):
    assert catalog_snapshot_hash(shop_db_url) == catalog_snapshot_hash(shop_db_url)
    assert len(catalog_snapshot_hash(shop_db_url)) == 64


def test_fingerprint_changes_when_the_catalog_changes(writable_db_url):
    config = {**CatalogEntityExtractor.get_default_config(), "db_url": writable_db_url}
    before = CatalogEntityExtractor.fingerprint_addon(config)
    assert before == f"v{COMPILER_VERSION}:{catalog_snapshot_hash(writable_db_url)}"
    engine = get_engine(writable_db_url)
    with engine.begin() as conn:
        category_id = conn.execute(select(Category.id).where(Category.name == "hats")).scalar_one()
        brand_id = conn.execute(insert(Brand).values(name="Zephyrine")).inserted_primary_key[0]
        conn.execute(
            insert(Product).values(
                sku="HAT-9999",
                name="Pelican Straw Boater",
                description="A new hat.",
                material="straw weave",
                price=30,
                category_id=category_id,
                brand_id=brand_id,
            )
        )
    after = CatalogEntityExtractor.fingerprint_addon(config)
    assert after != before
    terms = load_catalog_terms(writable_db_url)
    assert "Zephyrine" in terms.brands and "Pelican Straw Boater" in {p.name for p in terms.products}


def test_fallback_when_the_database_is_unreachable(tmp_path, caplog):
    missing = f"sqlite:///{tmp_path / 'no' / 'such' / 'shop.db'}"
    with caplog.at_level(logging.WARNING, logger="shop.catalog_terms"):
        terms = catalog_terms(missing)
    assert terms.source == "vocabulary" and terms.products == ()
    assert "canonical vocabulary" in caplog.text
    assert not (tmp_path / "no").exists()  # looking did not create a database
    assert catalog_snapshot_hash(missing) == fallback_terms().snapshot_hash()


def test_fallback_when_the_catalog_is_empty(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    from shop.db import create_schema

    create_schema(get_engine(url))
    try:
        assert catalog_terms(url).source == "vocabulary"
    finally:
        dispose_engine(url)


def test_fallback_when_the_server_refuses(caplog):
    with caplog.at_level(logging.WARNING):
        terms = catalog_terms("postgresql://shop:secret@127.0.0.1:9/shop")
    assert terms.source == "vocabulary"
    assert "secret" not in caplog.text


def test_fingerprint_changes_with_the_vocabulary_compiler(shop_db_url, monkeypatch):
    """A new compiler (new shopper words, aliases) must retrain the component: Rasa does not hash code."""
    import components.extractors.catalog_entity_extractor as module

    config = {**CatalogEntityExtractor.get_default_config(), "db_url": shop_db_url}
    before = CatalogEntityExtractor.fingerprint_addon(config)
    monkeypatch.setattr(module, "COMPILER_VERSION", COMPILER_VERSION + 1)
    assert CatalogEntityExtractor.fingerprint_addon(config) != before
