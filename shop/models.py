"""SQLAlchemy models of the shop: catalog, customers, orders, returns, refunds and feedback.

Constraints live in the schema, not only in code, so that every writer (service, seed, console, a
psql session) keeps the data consistent, and so that races are settled by the database: for example
one return per order item is a unique constraint, which makes a retried or doubled request harmless.
Money is ``Numeric(10, 2)`` (exact); timestamps are naive UTC (portable between SQLite and PostgreSQL).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship, validates
from sqlalchemy.types import TypeDecorator

from shop.return_reasons import RETURN_REASONS
from shop.vocabulary import ORDER_STATUSES, REFUND_STATUSES, RETURN_STATUSES

Base = declarative_base()
CENT = Decimal("0.01")


class Money(TypeDecorator):
    """``NUMERIC(10, 2)`` that always hands back ``Decimal`` rounded to cents.

    PostgreSQL stores it exactly. SQLite has no decimal type and stores a float, so values are bound as
    floats and rounded back to cents when read (exact for any amount below 10^8), which also avoids
    SQLAlchemy's "Decimal objects not supported natively" warning on every query.
    """

    impl = Numeric(10, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Numeric(10, 2, asdecimal=False))
        return dialect.type_descriptor(Numeric(10, 2))

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        amount = Decimal(str(value)).quantize(CENT)
        return float(amount) if dialect.name == "sqlite" else amount

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        return None if value is None else Decimal(str(value)).quantize(CENT)


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)  # constants from vocabulary.py, never user input
    return f"{column} IN ({quoted})"


class Category(Base):
    """A catalog category; ``name`` is the canonical plural of docs/contract.md."""

    __tablename__ = "categories"
    id = Column(Integer, primary_key=True)
    name = Column(String(40), nullable=False, unique=True)


class Brand(Base):
    """A brand sold by the shop."""

    __tablename__ = "brands"
    id = Column(Integer, primary_key=True)
    name = Column(String(60), nullable=False, unique=True)


class Product(Base):
    """A product as shown in search results; what can be bought is a :class:`ProductVariant`."""

    __tablename__ = "products"
    id = Column(Integer, primary_key=True)
    sku = Column(String(20), nullable=False, unique=True)
    name = Column(String(120), nullable=False, index=True)
    description = Column(Text, nullable=False, default="")
    material = Column(String(120), nullable=False, default="")
    price = Column(Money, nullable=False)
    category_id = Column(
        Integer, ForeignKey("categories.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    brand_id = Column(Integer, ForeignKey("brands.id", ondelete="RESTRICT"), nullable=False, index=True)

    category = relationship(Category, lazy="joined")
    brand = relationship(Brand, lazy="joined")
    variants = relationship("ProductVariant", back_populates="product", order_by="ProductVariant.id")

    __table_args__ = (CheckConstraint("price >= 0", name="ck_products_price"),)


class ProductVariant(Base):
    """One colour/size combination of a product with its stock level."""

    __tablename__ = "product_variants"
    id = Column(Integer, primary_key=True)
    product_id = Column(Integer, ForeignKey("products.id", ondelete="CASCADE"), nullable=False)
    color = Column(String(20), nullable=False)
    size = Column(String(20), nullable=False)
    stock = Column(Integer, nullable=False, default=0)

    product = relationship(Product, back_populates="variants")

    __table_args__ = (
        UniqueConstraint("product_id", "color", "size", name="uq_variants_product_color_size"),
        CheckConstraint("stock >= 0", name="ck_variants_stock"),
        Index("ix_variants_color_size", "color", "size"),
    )


class Customer(Base):
    """A registered shopper; e-mails are stored lower-cased so lookups are exact and indexed."""

    __tablename__ = "customers"
    id = Column(Integer, primary_key=True)
    name = Column(String(120), nullable=False)
    email = Column(String(254), nullable=False, unique=True)

    __table_args__ = (CheckConstraint("email = lower(email)", name="ck_customers_email_lower"),)

    @validates("email")
    def _lower_email(self, _key: str, value: str) -> str:
        return value.strip().lower()


class Order(Base):
    """An order; ``order_number`` is the canonical ``SA-`` + six digits shoppers quote."""

    __tablename__ = "orders"
    id = Column(Integer, primary_key=True)
    order_number = Column(String(9), nullable=False, unique=True)
    customer_id = Column(Integer, ForeignKey("customers.id", ondelete="RESTRICT"), nullable=False, index=True)
    status = Column(String(12), nullable=False)
    placed_at = Column(DateTime, nullable=False)
    carrier = Column(String(60))
    tracking_number = Column(String(40))
    estimated_delivery = Column(Date)
    delivered_at = Column(DateTime)
    shipping_address = Column(Text, nullable=False)
    total = Column(Money, nullable=False)

    customer = relationship(Customer, lazy="joined")
    items = relationship("OrderItem", back_populates="order", order_by="OrderItem.id")

    __table_args__ = (
        CheckConstraint(_in("status", ORDER_STATUSES), name="ck_orders_status"),
        CheckConstraint("order_number LIKE 'SA-______'", name="ck_orders_number_format"),
        CheckConstraint("total >= 0", name="ck_orders_total"),
        Index("ix_orders_status", "status"),
    )


class OrderItem(Base):
    """One line of an order; ``unit_price`` is the price paid, independent of later catalog changes."""

    __tablename__ = "order_items"
    id = Column(Integer, primary_key=True)
    order_id = Column(Integer, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True)
    variant_id = Column(
        Integer, ForeignKey("product_variants.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    quantity = Column(Integer, nullable=False)
    unit_price = Column(Money, nullable=False)

    order = relationship(Order, back_populates="items")
    variant = relationship(ProductVariant, lazy="joined")

    __table_args__ = (
        CheckConstraint("quantity > 0", name="ck_order_items_quantity"),
        CheckConstraint("unit_price >= 0", name="ck_order_items_unit_price"),
    )


class Return(Base):
    """A return (RMA) of one order item. At most one per order item, enforced by a unique constraint.

    ``reason`` is one of :data:`shop.return_reasons.RETURN_REASONS`; the shopper's own words are kept in
    ``reason_note`` (nullable: added after the first release, see :func:`shop.db.create_schema`)."""

    __tablename__ = "returns"
    id = Column(Integer, primary_key=True)
    rma_number = Column(String(24), nullable=False, unique=True)
    order_id = Column(Integer, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True)
    order_item_id = Column(
        Integer, ForeignKey("order_items.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    reason = Column(Text, nullable=False, default="other")
    reason_note = Column(Text)
    status = Column(String(12), nullable=False)
    created_at = Column(DateTime, nullable=False)

    order_item = relationship(OrderItem, lazy="joined")

    __table_args__ = (
        CheckConstraint(_in("status", RETURN_STATUSES), name="ck_returns_status"),
        CheckConstraint(_in("reason", RETURN_REASONS), name="ck_returns_reason"),
    )


class Refund(Base):
    """Money owed back for a return; one refund per return."""

    __tablename__ = "refunds"
    id = Column(Integer, primary_key=True)
    return_id = Column(Integer, ForeignKey("returns.id", ondelete="CASCADE"), nullable=False, unique=True)
    amount = Column(Money, nullable=False)
    status = Column(String(12), nullable=False)
    created_at = Column(DateTime, nullable=False)

    return_ = relationship(Return, lazy="joined")

    __table_args__ = (
        CheckConstraint(_in("status", REFUND_STATUSES), name="ck_refunds_status"),
        CheckConstraint("amount >= 0", name="ck_refunds_amount"),
    )


class CancellationRefund(Base):
    """Money owed back for a paid order cancelled before it shipped; at most one per order (unique), written
    in the same transaction as the cancellation, so the refund the shopper is promised always exists."""

    __tablename__ = "cancellation_refunds"
    id = Column(Integer, primary_key=True)
    order_id = Column(Integer, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, unique=True)
    amount = Column(Money, nullable=False)
    status = Column(String(12), nullable=False)
    created_at = Column(DateTime, nullable=False)

    __table_args__ = (
        CheckConstraint(_in("status", REFUND_STATUSES), name="ck_cancellation_refunds_status"),
        CheckConstraint("amount >= 0", name="ck_cancellation_refunds_amount"),
    )


class VerificationLock(Base):
    """An order that one conversation may not verify until ``locked_until``, after too many wrong e-mails.

    Kept in the database rather than in a slot so that neither ``/restart`` nor a new session of the same
    conversation nor an action-server restart lifts it. ``conversation_id`` is Rasa's sender id; expired rows
    are deleted when a new lock is written."""

    __tablename__ = "verification_locks"
    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), nullable=False)
    order_number = Column(String(9), nullable=False)
    locked_until = Column(DateTime, nullable=False, index=True)

    __table_args__ = (
        UniqueConstraint("conversation_id", "order_number", name="uq_verification_locks_conversation_order"),
    )


class VerificationFailure(Base):
    """One wrong e-mail given for an order in one conversation (``conversation_id`` is Rasa's sender id).

    Counted in the database, like :class:`VerificationLock`, so that ``/restart`` or a new session does not
    start the count afresh: the third failure within the counting window locks the order for that
    conversation. A successful check or the lock deletes the rows; rows older than the window are deleted
    when a new failure is written."""

    __tablename__ = "verification_failures"
    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), nullable=False)
    order_number = Column(String(9), nullable=False)
    failed_at = Column(DateTime, nullable=False, index=True)

    __table_args__ = (
        Index("ix_verification_failures_conversation_order", "conversation_id", "order_number"),
    )


class Feedback(Base):
    """Free-text feedback from a conversation (``sender_id`` is Rasa's conversation id)."""

    __tablename__ = "feedback"
    id = Column(Integer, primary_key=True)
    sender_id = Column(String(255), nullable=False, index=True)
    rating = Column(Integer)
    text = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False)

    __table_args__ = (
        CheckConstraint("rating IS NULL OR (rating BETWEEN 1 AND 5)", name="ck_feedback_rating"),
    )


#: Tables in dependency order (parents first), used by the seed and for counting.
TABLES = (
    Category,
    Brand,
    Product,
    ProductVariant,
    Customer,
    Order,
    OrderItem,
    Return,
    Refund,
    CancellationRefund,
    VerificationLock,
    VerificationFailure,
    Feedback,
)
