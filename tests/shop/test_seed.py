"""The demo seed: volume, coverage, the contract's demo orders, determinism, idempotence and speed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from shop.db import dispose_engine, get_engine
from shop.models import Brand, Category, Customer, Order, Product, ProductVariant, Refund, Return
from shop.seed import seed_database, table_counts
from shop.vocabulary import BRANDS, CATEGORIES, CATEGORY_SIZES, COLORS, ORDER_STATUSES

from .conftest import sqlite_url


def _rows(url: str, stmt) -> list[tuple]:  # noqa: ANN001 - any select()
    with get_engine(url).connect() as conn:
        return [tuple(row) for row in conn.execute(stmt)]


@pytest.fixture
def fresh_url(tmp_path: Path):  # noqa: ANN201
    url = sqlite_url(tmp_path / "fresh.db")
    yield url
    dispose_engine(url)


def test_seed_counts(fresh_url: str) -> None:
    counts = seed_database(fresh_url)
    assert counts["already_seeded"] == 0
    assert counts["categories"] == 10 and counts["brands"] == 12
    assert counts["products"] >= 300
    assert counts["customers"] >= 50
    assert counts["orders"] >= 200
    assert counts["returns"] > 0 and counts["refunds"] > 0
    assert counts["product_variants"] > counts["products"]


def test_seed_covers_the_vocabulary(shared_url: str) -> None:
    assert sorted(r[0] for r in _rows(shared_url, select(Category.name))) == sorted(CATEGORIES)
    assert sorted(r[0] for r in _rows(shared_url, select(Brand.name))) == sorted(BRANDS)
    variants = _rows(
        shared_url,
        select(Category.name, ProductVariant.color, ProductVariant.size, ProductVariant.stock, Product.id)
        .join(Product, Product.id == ProductVariant.product_id)
        .join(Category, Category.id == Product.category_id),
    )
    assert all(color in COLORS for _, color, _, _, _ in variants)
    assert all(size in CATEGORY_SIZES[category] for category, _, size, _, _ in variants)
    assert any(stock == 0 for *_, stock, _ in variants), "some variants must be out of stock"
    stock_by_product: dict[int, int] = {}
    for *_, stock, product_id in variants:
        stock_by_product[product_id] = stock_by_product.get(product_id, 0) + stock
    assert any(total == 0 for total in stock_by_product.values()), "some products must be sold out"
    per_category = {
        c: sum(1 for r in _rows(shared_url, select(Product.id).join(Category).where(Category.name == c)))
        for c in CATEGORIES
    }
    assert min(per_category.values()) >= 25


def test_seed_orders_cover_every_status_with_shipping_data(shared_url: str) -> None:
    orders = _rows(shared_url, select(Order.status, Order.carrier, Order.tracking_number, Order.delivered_at))
    assert {status for status, *_ in orders} == set(ORDER_STATUSES)
    for status, carrier, tracking, delivered_at in orders:
        if status in ("shipped", "delivered", "returned"):
            assert carrier and tracking
        if status in ("delivered", "returned"):
            assert delivered_at is not None
        if status in ("pending", "paid", "cancelled"):
            assert tracking is None and delivered_at is None
    refund_statuses = {r[0] for r in _rows(shared_url, select(Refund.status))}
    assert {"pending", "processing", "completed"} <= refund_statuses


def test_seed_customers_use_reserved_example_domains(shared_url: str) -> None:
    emails = [r[0] for r in _rows(shared_url, select(Customer.email))]
    assert len(emails) == len(set(emails))
    assert all(e == e.lower() and e.rsplit("@", 1)[1] in ("example.com", "example.org") for e in emails)


def test_demo_orders_match_the_contract(shared_url: str, seed_now: datetime) -> None:
    now = seed_now.replace(tzinfo=None)
    stmt = (
        select(
            Order.order_number,
            Customer.email,
            Order.status,
            Order.carrier,
            Order.tracking_number,
            Order.estimated_delivery,
            Order.delivered_at,
        )
        .join(Customer)
        .where(Order.order_number <= "SA-100006")
    )
    orders = {row[0]: row[1:] for row in _rows(shared_url, stmt)}
    alex, sam = "alex.morgan@example.com", "sam.lee@example.com"
    assert {k: v[:2] for k, v in orders.items()} == {
        "SA-100001": (alex, "shipped"),
        "SA-100002": (alex, "delivered"),
        "SA-100003": (alex, "paid"),
        "SA-100004": (alex, "delivered"),
        "SA-100005": (alex, "returned"),
        "SA-100006": (sam, "pending"),
    }
    _, _, carrier, tracking, eta, _ = orders["SA-100001"]
    assert carrier and tracking and eta > now.date()
    assert abs(orders["SA-100002"][5] - (now - timedelta(days=5))) < timedelta(minutes=1)
    assert abs(orders["SA-100004"][5] - (now - timedelta(days=60))) < timedelta(minutes=1)
    assert orders["SA-100003"][3] is None  # paid, not shipped
    items = _rows(
        shared_url,
        select(Category.name)
        .select_from(Order)
        .join(Order.items)
        .join(ProductVariant)
        .join(Product)
        .join(Category)
        .where(Order.order_number == "SA-100002"),
    )
    assert sorted(r[0] for r in items) == ["hoodies", "shoes"]
    refunds = _rows(
        shared_url,
        select(Return.rma_number, Refund.status)
        .join(Refund)
        .join(Order)
        .where(Order.order_number == "SA-100005"),
    )
    assert refunds == [("RMA-100005-1", "processing")]


def test_seed_is_deterministic(tmp_path: Path) -> None:
    first, second = sqlite_url(tmp_path / "a.db"), sqlite_url(tmp_path / "b.db")
    seed_database(first, now=datetime(2024, 1, 1, tzinfo=timezone.utc))
    seed_database(second, now=datetime(2025, 6, 15, 12, 30, tzinfo=timezone.utc))
    try:
        for stmt in (
            select(
                Product.sku,
                Product.name,
                Product.description,
                Product.material,
                Product.price,
                Product.category_id,
                Product.brand_id,
            ).order_by(Product.id),
            select(
                ProductVariant.product_id, ProductVariant.color, ProductVariant.size, ProductVariant.stock
            ).order_by(ProductVariant.id),
            select(Customer.name, Customer.email).order_by(Customer.id),
            select(
                Order.order_number, Order.customer_id, Order.status, Order.tracking_number, Order.total
            ).order_by(Order.id),
        ):
            assert _rows(first, stmt) == _rows(second, stmt)
        placed = _rows(first, select(Order.placed_at).where(Order.order_number == "SA-100002"))
        assert placed == [(datetime(2023, 12, 23),)]  # anchored to ``now``: 9 days before 2024-01-01
    finally:
        dispose_engine(first)
        dispose_engine(second)


def test_seed_twice_is_a_no_op_and_reset_starts_over(fresh_url: str) -> None:
    first = seed_database(fresh_url)
    again = seed_database(fresh_url)
    assert again["already_seeded"] == 1
    assert {k: v for k, v in again.items() if k != "already_seeded"} == {
        k: v for k, v in first.items() if k != "already_seeded"
    }
    with get_engine(fresh_url).begin() as conn:
        conn.execute(
            Order.__table__.update().where(Order.order_number == "SA-100003").values(status="cancelled")
        )
    reset = seed_database(fresh_url, reset=True)
    assert reset["already_seeded"] == 0
    assert _rows(fresh_url, select(Order.status).where(Order.order_number == "SA-100003")) == [("paid",)]
    with get_engine(fresh_url).connect() as conn:
        assert table_counts(conn)["orders"] == first["orders"]
