"""Recommendations: bought together, similar, popular fallback; never out of stock or the viewed product."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from shop.db import get_engine
from shop.models import OrderItem, Product, ProductVariant
from shop.search import SearchConfig
from shop.service import ShopService
from tests.search.conftest import ALEX


def _never_ordered_sku(db_url: str, category: str) -> str:
    with get_engine(db_url).connect() as conn:
        ordered = select(ProductVariant.product_id).join(OrderItem, OrderItem.variant_id == ProductVariant.id)
        rows = conn.execute(
            select(Product.sku)
            .where(Product.id.not_in(ordered), Product.sku.like(f"{category}-%"))
            .order_by(Product.sku)
        ).all()
    return rows[0][0]


def _sell_out(db_url: str, sku: str) -> None:
    with get_engine(db_url).begin() as conn:
        product_id = conn.execute(select(Product.id).where(Product.sku == sku)).scalar_one()
        conn.execute(update(ProductVariant).where(ProductVariant.product_id == product_id).values(stock=0))


def test_also_bought_uses_order_history(hybrid: ShopService) -> None:
    # SA-100002 holds the Cloudline hoodie and the Stride Runner sneakers.
    result = hybrid.also_bought("HOD-0001", limit=5)
    assert "SHO-0001" in [p.sku for p in result]
    assert "HOD-0001" not in {p.sku for p in result}
    assert len(result) == 5 and all(p.in_stock for p in result)
    assert len({p.sku for p in result}) == 5


def test_also_bought_never_returns_sold_out_products(db_url: str, hybrid_config: SearchConfig) -> None:
    svc = ShopService(db_url, search_config=hybrid_config)
    assert "SHO-0001" in {p.sku for p in svc.also_bought("Cloudline Pullover Hoodie")}
    _sell_out(db_url, "SHO-0001")
    result = svc.also_bought("Cloudline Pullover Hoodie", limit=10)
    assert "SHO-0001" not in {p.sku for p in result}
    assert result and all(p.in_stock for p in result)


def test_also_bought_falls_back_to_popular_products_of_the_category(
    hybrid: ShopService, shared_url: str
) -> None:
    sku = _never_ordered_sku(shared_url, "DRS")
    result = hybrid.also_bought(sku, limit=4)
    popular = [p.sku for p in hybrid.popular_products(category="dresses", limit=5) if p.sku != sku][:4]
    assert [p.sku for p in result] == popular


@pytest.mark.parametrize("svc_name", ["hybrid", "keyword"])
def test_similar_products(request: pytest.FixtureRequest, svc_name: str) -> None:
    svc: ShopService = request.getfixturevalue(svc_name)
    result = svc.similar_products("Ridgeline Rain Jacket", limit=5)
    assert len(result) == 5
    assert "JKT-0001" not in {p.sku for p in result}
    assert all(p.in_stock for p in result)
    assert sum(p.category == "jackets" for p in result) >= 4
    assert svc.similar_products("no such product at all") == []


def test_similar_products_skip_sold_out(db_url: str, hybrid_config: SearchConfig) -> None:
    svc = ShopService(db_url, search_config=hybrid_config)
    top = svc.similar_products("JKT-0001", limit=1)[0].sku
    _sell_out(db_url, top)
    assert top not in {p.sku for p in svc.similar_products("JKT-0001", limit=10)}


def test_customer_recommendations(hybrid: ShopService) -> None:
    new = hybrid.recommend_for_customer("nobody@example.com", limit=5)
    assert [p.sku for p in new] == [p.sku for p in hybrid.popular_products(limit=5)]
    assert [p.sku for p in hybrid.recommend_for_customer(None, limit=3)] == [
        p.sku for p in hybrid.popular_products(limit=3)
    ]
    bought = {"JKT-0001", "HOD-0001", "SHO-0001", "JNS-0001", "TSH-0001", "SWT-0001", "BAG-0001"}
    for_alex = hybrid.recommend_for_customer(ALEX.upper(), limit=5)
    assert len(for_alex) == 5 and all(p.in_stock for p in for_alex)
    assert not bought & {p.sku for p in for_alex}
    shoes = hybrid.recommend_for_customer(ALEX, category="shoe", limit=3)
    assert shoes and all(p.category == "shoes" for p in shoes)
    assert hybrid.recommend_for_customer(ALEX, category="spaceships") == []
    assert hybrid.also_bought("no such product") == []
