"""Order-history queries behind the recommendations of :class:`shop.ShopService`.

* "Customers who bought this also bought" is item-to-item co-occurrence: the products that share the
  most orders with the given ones (cancelled orders do not count, and each order counts once however many
  units it holds). The query runs on the ``order_items`` indexes at request time, which is instant for a
  shop of this size; a large shop would refresh a ``product_pairs(product_id, other_id, orders)`` table
  nightly (or incrementally from an order event) and read the top rows of it instead.
* "Similar products" come from the search index (:func:`shop.search.similar_positions`).
* New products and new shoppers have no history; the service fills their lists with best sellers.

Stock is checked where the service turns ids into results, so nothing here returns out-of-stock products
as final answers and the viewed (or already bought) products are excluded in the query itself.
"""

from __future__ import annotations

from typing import Sequence

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session, aliased

from shop.models import Customer, Order, OrderItem, Product, ProductVariant

#: Orders in these states say nothing about what shoppers want together.
IGNORED_ORDER_STATUSES = ("cancelled",)


def co_purchased(session: Session, product_ids: Sequence[int], limit: int) -> list[int]:
    """Ids of in-stock products bought in the same orders as any of ``product_ids`` (excluded
    themselves), most shared orders first, then most units sold, then id."""
    if not product_ids:
        return []
    seen_item, seen_variant = aliased(OrderItem), aliased(ProductVariant)
    other_item, other_variant = aliased(OrderItem), aliased(ProductVariant)
    in_stock = select(ProductVariant.id).where(
        ProductVariant.product_id == other_variant.product_id, ProductVariant.stock > 0
    )
    together = func.count(distinct(other_item.order_id))
    stmt = (
        select(other_variant.product_id, together)
        .select_from(seen_item)
        .join(seen_variant, seen_item.variant_id == seen_variant.id)
        .join(Order, Order.id == seen_item.order_id)
        .join(other_item, other_item.order_id == seen_item.order_id)
        .join(other_variant, other_item.variant_id == other_variant.id)
        .where(
            seen_variant.product_id.in_(list(product_ids)),
            other_variant.product_id.not_in(list(product_ids)),
            Order.status.not_in(IGNORED_ORDER_STATUSES),
            in_stock.exists(),
        )
        .group_by(other_variant.product_id)
        .order_by(together.desc(), func.sum(other_item.quantity).desc(), other_variant.product_id)
        .limit(limit)
    )
    return [int(product_id) for product_id, _ in session.execute(stmt)]


def purchased_products(session: Session, email: str) -> list[tuple[int, str]]:
    """``(id, sku)`` of every product the customer with ``email`` (normalised) has ordered."""
    stmt = (
        select(distinct(Product.id), Product.sku)
        .join(ProductVariant, ProductVariant.product_id == Product.id)
        .join(OrderItem, OrderItem.variant_id == ProductVariant.id)
        .join(Order, Order.id == OrderItem.order_id)
        .join(Customer, Customer.id == Order.customer_id)
        .where(Customer.email == email)
        .order_by(Product.id)
    )
    return [(int(product_id), sku) for product_id, sku in session.execute(stmt)]
