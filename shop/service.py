"""The shop's public API: catalog search, order look-ups and the writes a conversation can trigger.

Actions and the agent console call only :class:`ShopService`; it owns every query, opens one explicit
transaction per call, and returns frozen dataclasses of plain Python values (``float`` money, timezone
aware UTC ``datetime``, ``date`` for estimated deliveries), so callers never hold ORM objects or sessions.

Order methods always check the order number together with the shopper's e-mail and never reveal anything
about an order to a wrong e-mail. Writes a retry could repeat are idempotent: cancelling and re-addressing
are conditional updates, and a return is unique per order line in the schema.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, Iterator, Sequence

import numpy as np
from sqlalchemy import delete, distinct, exists, false, func, or_, outerjoin, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from shop.config import database_url
from shop.db import get_engine, session_factory
from shop.errors import OrderAccessError, ShopUnavailableError, translate_db_errors
from shop.matching import best_matches, keywords, like_pattern, name_score, parse_price
from shop.models import (
    Brand,
    CancellationRefund,
    Category,
    Feedback,
    Order,
    OrderItem,
    Product,
    ProductVariant,
    Refund,
    Return,
    VerificationFailure,
    VerificationLock,
)
from shop.privacy import mask_email
from shop.recommend import co_purchased, purchased_products
from shop.return_reasons import normalize_return_reason
from shop.search import Filters, SearchConfig, engine_for, similar_positions
from shop.search import invalidate as invalidate_search_index
from shop.shopper_text import normalize_order_id
from shop.vocabulary import (
    CLOTHING_SIZES,
    COLORS,
    OPEN_ORDER_STATUSES,
    Verification,
    material_matches,
    normalize_category,
    normalize_color,
    normalize_email,
    normalize_size,
    rma_number,
)

__all__ = [
    "RETURN_WINDOW_DAYS",
    "Availability",
    "FailedVerification",
    "OrderAccessError",
    "OrderInfo",
    "OrderItemInfo",
    "OrderOutcome",
    "ProductDetails",
    "ProductSummary",
    "RefundInfo",
    "ReturnOutcome",
    "SearchResult",
    "ShopService",
    "ShopUnavailableError",
    "Verification",
    "VariantInfo",
    "normalize_order_id",
]

logger = logging.getLogger(__name__)

#: Days after delivery during which an item can be returned. Override with ``SHOP_RETURN_WINDOW_DAYS``
#: (read when a :class:`ShopService` is created) or the service's ``return_window_days`` argument.
RETURN_WINDOW_DAYS = 30
RETURN_WINDOW_ENV = "SHOP_RETURN_WINDOW_DAYS"
#: Identical feedback from the same conversation within this period is treated as a retry, not new feedback.
FEEDBACK_DEDUP_WINDOW = timedelta(minutes=10)
MAX_ADDRESS_LENGTH = 300
MAX_FEEDBACK_LENGTH = 5000
MAX_RESULTS = 50
#: Filters :meth:`ShopService.search_products` may suggest dropping, in the order they are tried.
RELAXABLE_FILTERS = ("max_price", "color", "size", "brand", "material")

# Reasons in OrderOutcome / ReturnOutcome when ``ok`` is False (besides the Verification values).
ALREADY_CANCELLED = "already_cancelled"
NOT_CANCELLABLE = "not_cancellable"
NOT_CHANGEABLE = "not_changeable"
INVALID_ADDRESS = "invalid_address"
WHICH_ITEM = "which_item"
ITEM_NOT_FOUND = "item_not_found"
NOT_DELIVERED = "not_delivered"
NOT_RETURNABLE = "not_returnable"
WINDOW_EXPIRED = "window_expired"


# ---------------------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class VariantInfo:
    """One colour/size of a product and how many are in stock."""

    color: str
    size: str
    stock: int


@dataclass(frozen=True)
class ProductSummary:
    """A product as listed in search results; ``colors``/``sizes`` are all that the product comes in."""

    sku: str
    name: str
    brand: str
    category: str
    price: float
    colors: list[str]
    sizes: list[str]
    in_stock: bool


@dataclass(frozen=True)
class ProductDetails(ProductSummary):
    """Everything about one product, including the stock of each variant."""

    description: str
    material: str
    variants: list[VariantInfo]


@dataclass(frozen=True)
class SearchResult:
    """One page of search results; ``total`` counts all matches, ``relax_hint`` names a filter
    ("max_price", "color", "size", "brand") whose removal would find something when nothing matched."""

    products: list[ProductSummary]
    total: int
    relax_hint: str | None


@dataclass(frozen=True)
class Availability:
    """Stock of a product for the requested colour/size (None = any); ``stock`` sums the matching variants
    and ``available_variants`` lists every in-stock variant of the product, to suggest alternatives."""

    product: str
    color: str | None
    size: str | None
    in_stock: bool
    stock: int
    available_variants: list[VariantInfo]


@dataclass(frozen=True)
class OrderItemInfo:
    """One line of an order."""

    sku: str
    name: str
    category: str
    color: str
    size: str
    quantity: int
    unit_price: float


@dataclass(frozen=True)
class OrderInfo:
    """An order as a verified shopper may see it."""

    order_id: str
    status: str
    placed_at: datetime
    items: list[OrderItemInfo]
    carrier: str | None
    tracking_number: str | None
    estimated_delivery: date | None
    delivered_at: datetime | None
    shipping_address: str
    total: float


@dataclass(frozen=True)
class OrderSummary:
    """One order in a verified shopper's list of their orders (:meth:`ShopService.recent_orders`)."""

    order_id: str
    status: str
    placed_at: datetime
    total: float


@dataclass(frozen=True)
class CustomerOrders:
    """The most recent orders of one customer, newest first, and how many orders the customer has in all
    (``total`` > ``len(orders)`` when older ones were left out)."""

    orders: list[OrderSummary]
    total: int


@dataclass(frozen=True)
class OrderOutcome:
    """Result of cancelling or re-addressing an order. ``reason`` is None when ``ok``; otherwise one of
    "not_found", "email_mismatch", "already_cancelled", "not_cancellable", "not_changeable",
    "invalid_address". ``order`` is the order after the call (None unless the shopper was verified).
    ``refund`` is the refund a successful cancellation of a paid order created (None for a pending order:
    no money was taken)."""

    ok: bool
    reason: str | None
    order: OrderInfo | None
    refund: RefundInfo | None = None


@dataclass(frozen=True)
class ReturnOutcome:
    """Result of a return request. ``created`` is False when the same item already had a return (its RMA
    comes back, ``ok`` stays True). ``reason`` is None when ``ok``; otherwise one of "not_found",
    "email_mismatch", "which_item", "item_not_found", "not_delivered", "not_returnable", "window_expired"."""

    ok: bool
    created: bool
    rma_number: str | None
    status: str | None
    item_name: str | None
    reason: str | None


@dataclass(frozen=True)
class RefundInfo:
    """A refund of the order: of a return (``kind`` "return", with its ``rma_number``) or of the whole order
    cancelled after payment (``kind`` "cancellation", no RMA). ``expected_by`` is the day the money should
    have reached the shopper (created + the processing time in working days) while the refund is still
    pending or processing; None once it is completed or failed."""

    rma_number: str | None
    amount: float
    status: str
    created_at: datetime
    expected_by: date | None = None
    kind: str = "return"


@dataclass(frozen=True)
class FailedVerification:
    """A wrong e-mail recorded by :meth:`ShopService.record_failed_verification`: how many the conversation
    has now given for the order within the counting window, and until when the order is locked for it
    (None while below the limit; the count starts again after a lock)."""

    failures: int
    locked_until: datetime | None


# ---------------------------------------------------------------------------------------------- helpers
def _money(value: Decimal | None) -> float:
    return float(value) if value is not None else 0.0


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=timezone.utc) if value is not None else None


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value


def _size_key(size: str) -> tuple[int, int]:
    if size in CLOTHING_SIZES:
        return (0, CLOTHING_SIZES.index(size))
    if size.isdigit():
        return (1, int(size))
    return (2, 0)


def _color_key(color: str) -> int:
    return COLORS.index(color) if color in COLORS else len(COLORS)


def _sorted_variants(variants: Sequence[ProductVariant]) -> list[VariantInfo]:
    ordered = sorted(variants, key=lambda v: (_color_key(v.color), _size_key(v.size)))
    return [VariantInfo(color=v.color, size=v.size, stock=v.stock) for v in ordered]


def _summary_fields(product: Product, variants: Sequence[ProductVariant]) -> dict[str, Any]:
    return {
        "sku": product.sku,
        "name": product.name,
        "brand": product.brand.name,
        "category": product.category.name,
        "price": _money(product.price),
        "colors": sorted({v.color for v in variants}, key=_color_key),
        "sizes": sorted({v.size for v in variants}, key=_size_key),
        "in_stock": any(v.stock > 0 for v in variants),
    }


def _order_info(order: Order) -> OrderInfo:
    items = [
        OrderItemInfo(
            sku=item.variant.product.sku,
            name=item.variant.product.name,
            category=item.variant.product.category.name,
            color=item.variant.color,
            size=item.variant.size,
            quantity=item.quantity,
            unit_price=_money(item.unit_price),
        )
        for item in order.items
    ]
    return OrderInfo(
        order_id=order.order_number,
        status=order.status,
        placed_at=_aware(order.placed_at),
        items=items,
        carrier=order.carrier,
        tracking_number=order.tracking_number,
        estimated_delivery=order.estimated_delivery,
        delivered_at=_aware(order.delivered_at),
        shipping_address=order.shipping_address,
        total=_money(order.total),
    )


def _return_window_from_env() -> int:
    raw = os.environ.get(RETURN_WINDOW_ENV, "").strip()
    if not raw:
        return RETURN_WINDOW_DAYS
    try:
        return max(0, int(raw))
    except ValueError:
        logger.warning("ignoring %s=%r (not a whole number of days)", RETURN_WINDOW_ENV, raw)
        return RETURN_WINDOW_DAYS


#: Working days a refund takes to reach the shopper once it is created (data/knowledge/refunds.md: "within
#: 5-7 working days"; the upper bound is what the shopper is told). ``SHOP_REFUND_PROCESSING_DAYS``.
REFUND_PROCESSING_DAYS = 7
REFUND_PROCESSING_ENV = "SHOP_REFUND_PROCESSING_DAYS"
#: Minutes an order stays locked for a conversation after too many wrong e-mails (the cool-down).
#: ``SHOP_VERIFICATION_LOCKOUT_MINUTES``.
VERIFICATION_LOCKOUT_MINUTES = 15
VERIFICATION_LOCKOUT_ENV = "SHOP_VERIFICATION_LOCKOUT_MINUTES"
#: Minutes during which wrong e-mails for one order and conversation add up towards the lock (the length
#: of a conversation session: the slot that counted them before was reset by a new session).
VERIFICATION_FAILURE_WINDOW_MINUTES = 60
#: Refund states in which the money is still on its way (an expected date applies).
OPEN_REFUND_STATUSES = ("pending", "processing")


def _whole_number_from_env(name: str, default: int) -> int:
    """``$name`` as a whole number of at least 0, else ``default`` (a bad value is logged, not fatal)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return max(0, int(raw))
    except ValueError:
        logger.warning("ignoring %s=%r (not a whole number)", name, raw)
        return default


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days (Monday to Friday) after ``start``; public holidays are not known."""
    current, left = start, max(0, days)
    while left:
        current += timedelta(days=1)
        if current.weekday() < 5:
            left -= 1
    return current


_SOLD = (
    select(ProductVariant.product_id.label("product_id"), func.sum(OrderItem.quantity).label("sold"))
    .join(OrderItem, OrderItem.variant_id == ProductVariant.id)
    .group_by(ProductVariant.product_id)
    .subquery("sold")
)


# ---------------------------------------------------------------------------------------------- service
class ShopService:
    """Facade over the shop database; cheap to create (engines are cached per URL) and thread-safe."""

    def __init__(
        self,
        db_url: str | None = None,
        *,
        return_window_days: int | None = None,
        clock: Callable[[], datetime] | None = None,
        search_config: SearchConfig | None = None,
        refund_processing_days: int | None = None,
        verification_lockout_minutes: int | None = None,
        verification_failure_window_minutes: int | None = None,
    ) -> None:
        """``db_url``: SQLAlchemy URL (None: ``$SHOP_DB_URL``, else the local SQLite file).
        ``return_window_days``: overrides :data:`RETURN_WINDOW_DAYS` / ``$SHOP_RETURN_WINDOW_DAYS``.
        ``clock``: returns the current time (tests); defaults to the UTC wall clock.
        ``search_config``: text search and recommendation settings (default
        :meth:`shop.search.SearchConfig.from_env`).
        ``refund_processing_days``: overrides :data:`REFUND_PROCESSING_DAYS` /
        ``$SHOP_REFUND_PROCESSING_DAYS``.
        ``verification_lockout_minutes``: overrides :data:`VERIFICATION_LOCKOUT_MINUTES` /
        ``$SHOP_VERIFICATION_LOCKOUT_MINUTES``.
        ``verification_failure_window_minutes``: overrides :data:`VERIFICATION_FAILURE_WINDOW_MINUTES`."""
        self.search_config = search_config or SearchConfig.from_env()
        self.db_url = database_url(db_url)
        self.return_window_days = (
            return_window_days if return_window_days is not None else _return_window_from_env()
        )
        self.refund_processing_days = (
            refund_processing_days
            if refund_processing_days is not None
            else _whole_number_from_env(REFUND_PROCESSING_ENV, REFUND_PROCESSING_DAYS)
        )
        self.verification_lockout = timedelta(
            minutes=verification_lockout_minutes
            if verification_lockout_minutes is not None
            else _whole_number_from_env(VERIFICATION_LOCKOUT_ENV, VERIFICATION_LOCKOUT_MINUTES)
        )
        self.verification_failure_window = timedelta(
            minutes=verification_failure_window_minutes
            if verification_failure_window_minutes is not None
            else VERIFICATION_FAILURE_WINDOW_MINUTES
        )
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        with translate_db_errors(self.db_url):
            self._sessions = session_factory(get_engine(self.db_url))

    def _now(self) -> datetime:
        return _naive_utc(self._clock())

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        """One session and one explicit transaction; database outages surface as ShopUnavailableError."""
        with translate_db_errors(self.db_url):
            with self._sessions() as session, session.begin():
                yield session

    # ------------------------------------------------------------------------------------ catalog
    def _filters(
        self,
        category: str | None,
        brand: str | None,
        color: str | None,
        size: str | None,
        min_price: Any,
        max_price: Any,
        text: str | None,
        in_stock_only: bool,
        *,
        exclude_brand: str | None = None,
        exclude_color: str | None = None,
    ) -> list[Any]:
        conditions: list[Any] = []
        if category:
            canonical = normalize_category(category)
            conditions.append(Category.name == canonical if canonical else false())
        if brand and brand.strip():
            conditions.append(func.lower(Brand.name) == " ".join(brand.lower().split()))
        if exclude_brand and exclude_brand.strip():
            conditions.append(func.lower(Brand.name) != " ".join(exclude_brand.lower().split()))
        for bound, compare in ((min_price, Product.price.__ge__), (max_price, Product.price.__le__)):
            amount = parse_price(bound)
            if amount is not None:
                conditions.append(compare(amount))
            elif bound not in (None, ""):
                logger.debug("ignoring unreadable price filter %r", bound)
        variant_conditions: list[Any] = [ProductVariant.product_id == Product.id]
        if color:
            canonical = normalize_color(color)
            variant_conditions.append(ProductVariant.color == canonical if canonical else false())
        if size:
            canonical = normalize_size(size)
            variant_conditions.append(ProductVariant.size == canonical if canonical else false())
        excluded = normalize_color(exclude_color) if exclude_color else None
        if excluded:  # a product counts when it comes (in stock) in another colour
            variant_conditions.append(ProductVariant.color != excluded)
        if in_stock_only:
            variant_conditions.append(ProductVariant.stock > 0)
        conditions.append(exists(select(ProductVariant.id).where(*variant_conditions)))
        for word in keywords(text):
            pattern = like_pattern(word)
            word_matches = [
                Product.name.ilike(pattern, escape="\\"),
                Product.description.ilike(pattern, escape="\\"),
            ]
            word_category = normalize_category(word)
            if word_category:
                word_matches.append(Category.name == word_category)
            conditions.append(or_(*word_matches))
        return conditions

    @staticmethod
    def _material_condition(session: Session, material: str) -> Any:
        """Products made of ``material`` (whole words of their material text, see
        :func:`shop.vocabulary.material_matches`): the few distinct material texts are matched here, so
        the query stays a plain ``IN`` on every database."""
        texts = session.execute(select(distinct(Product.material))).scalars()
        made_of = sorted(t for t in texts if material_matches(material, t))
        return Product.material.in_(made_of) if made_of else false()

    def _search_conditions(self, session: Session, arguments: dict[str, Any]) -> list[Any]:
        """:meth:`_filters` plus the material filter, for the keyword arguments of search_products."""
        material = arguments.get("material")
        conditions = self._filters(**{k: v for k, v in arguments.items() if k != "material"})
        if material not in (None, ""):
            conditions.append(self._material_condition(session, str(material)))
        return conditions

    @staticmethod
    def _count(session: Session, conditions: list[Any]) -> int:
        stmt = (
            select(func.count(Product.id))
            .join(Category, Product.category_id == Category.id)
            .join(Brand, Product.brand_id == Brand.id)
            .where(*conditions)
        )
        return session.execute(stmt).scalar_one()

    @staticmethod
    def _ranked_products(session: Session, conditions: list[Any], limit: int) -> list[ProductSummary]:
        """Matching products, best sellers first, with their variants loaded in one extra query."""
        stmt = (
            select(Product)
            .select_from(outerjoin(Product, _SOLD, _SOLD.c.product_id == Product.id))
            .join(Category, Product.category_id == Category.id)
            .join(Brand, Product.brand_id == Brand.id)
            .where(*conditions)
            .order_by(func.coalesce(_SOLD.c.sold, 0).desc(), Product.name, Product.id)
            .limit(limit)
        )
        products = session.execute(stmt).unique().scalars().all()
        variants: dict[int, list[ProductVariant]] = {p.id: [] for p in products}
        if products:
            rows = session.execute(
                select(ProductVariant).where(ProductVariant.product_id.in_(list(variants)))
            )
            for variant in rows.scalars():
                variants[variant.product_id].append(variant)
        return [ProductSummary(**_summary_fields(p, variants[p.id])) for p in products]

    def search_products(
        self,
        category: str | None = None,
        brand: str | None = None,
        color: str | None = None,
        size: str | None = None,
        min_price: Any = None,
        max_price: Any = None,
        text: str | None = None,
        in_stock_only: bool = True,
        limit: int = 5,
        material: str | None = None,
        exclude_brand: str | None = None,
        exclude_color: str | None = None,
    ) -> SearchResult:
        """Products matching every given filter (case-insensitive; singular categories such as "jacket"
        are accepted; prices may be numbers or strings like "$80"), best sellers first when there is no text.
        ``material`` ("leather", "wool") keeps products whose material has that word. ``exclude_brand``
        leaves out that brand's products and ``exclude_color`` the products that come in no other colour
        ("any brand except Marlow", "anything but black"); an unknown colour excludes nothing.

        ``text`` goes through the hybrid search of :mod:`shop.search`: products whose name, description,
        brand or colours contain every keyword are listed when there are any, otherwise related products
        (some keywords, or a similar meaning: "something warm for a winter hike"); either way ranked by
        keyword and embedding similarity, a product named exactly first. Text without keywords (e.g.
        "show me some") is no filter. When nothing matches, ``relax_hint`` names one filter whose removal
        finds products."""
        limit = max(1, min(int(limit), MAX_RESULTS))
        if keywords(text):
            return self._text_search(
                Filters(category, brand, color, size, min_price, max_price, in_stock_only, material,
                        exclude_brand, exclude_color),
                str(text),
                limit,
            )
        arguments = {
            "category": category,
            "brand": brand,
            "color": color,
            "size": size,
            "min_price": min_price,
            "max_price": max_price,
            "text": text,
            "in_stock_only": in_stock_only,
            "material": material,
            "exclude_brand": exclude_brand,
            "exclude_color": exclude_color,
        }
        with self._transaction() as session:
            conditions = self._search_conditions(session, arguments)
            total = self._count(session, conditions)
            if total:
                return SearchResult(self._ranked_products(session, conditions, limit), total, None)
            for name in RELAXABLE_FILTERS:
                if arguments[name] in (None, ""):
                    continue
                if self._count(session, self._search_conditions(session, {**arguments, name: None})):
                    return SearchResult([], 0, name)
            return SearchResult([], 0, None)

    def _summaries(self, product_ids: Sequence[int], filters: Filters | None = None) -> list[ProductSummary]:
        """Summaries of ``product_ids`` in that order, read fresh from the database; with ``filters``,
        products whose variants no longer pass the colour/size/stock filters are left out."""
        if not product_ids:
            return []
        with self._transaction() as session:
            products = {
                p.id: p
                for p in session.execute(select(Product).where(Product.id.in_(list(product_ids))))
                .unique()
                .scalars()
            }
            variants: dict[int, list[ProductVariant]] = {pid: [] for pid in products}
            rows = session.execute(
                select(ProductVariant).where(ProductVariant.product_id.in_(list(products)))
            )
            for variant in rows.scalars():
                variants[variant.product_id].append(variant)
            color = normalize_color(filters.color) if filters and filters.color else None
            size = normalize_size(filters.size) if filters and filters.size else None
            other_than = normalize_color(filters.exclude_color) if filters and filters.exclude_color else None
            summaries = []
            for pid in product_ids:
                if pid not in products:
                    continue
                if filters is not None and not any(
                    (color is None or v.color == color)
                    and (other_than is None or v.color != other_than)
                    and (size is None or v.size == size)
                    and (v.stock > 0 or not filters.in_stock_only)
                    for v in variants[pid]
                ):
                    continue
                summaries.append(ProductSummary(**_summary_fields(products[pid], variants[pid])))
            return summaries

    def _text_search(self, filters: Filters, text: str, limit: int) -> SearchResult:
        engine = engine_for(self.db_url, self.search_config)
        ranking = engine.search(self._transaction, text, filters, window=3 * limit + 10)
        if ranking.total:
            products: list[ProductSummary] = []
            ids, chunk = ranking.product_ids, limit + 2
            for start in range(0, len(ids), chunk):  # usually one chunk; more only when stock went stale
                products += self._summaries(ids[start : start + chunk], filters)
                if len(products) >= limit:
                    break
            return SearchResult(products[:limit], ranking.total, None)
        for name in RELAXABLE_FILTERS:
            if getattr(filters, name) in (None, ""):
                continue
            if engine.search(self._transaction, text, replace(filters, **{name: None}), window=1).total:
                return SearchResult([], 0, name)
        return SearchResult([], 0, None)

    def _in_stock_popular(
        self, category: str | None, exclude_skus: set[str], limit: int
    ) -> list[ProductSummary]:
        """Best sellers in stock (in ``category`` if given), none of ``exclude_skus``."""
        with self._transaction() as session:
            conditions = self._filters(category, None, None, None, None, None, None, True)
            if exclude_skus:
                conditions.append(Product.sku.not_in(sorted(exclude_skus)))
            return self._ranked_products(session, conditions, limit)

    def _identify(self, product: str) -> tuple[int, str, str] | None:
        """``(id, sku, category)`` of a product named by SKU or (partial) name."""
        with self._transaction() as session:
            found = self._resolve_product(session, product)
            return (found.id, found.sku, found.category.name) if found is not None else None

    def similar_products(self, product: str, limit: int = 5) -> list[ProductSummary]:
        """In-stock products most like ``product`` (name or SKU) by embedding similarity (keyword
        similarity without an encoder), never the product itself; empty for an unknown product."""
        limit = max(1, min(int(limit), MAX_RESULTS))
        found = self._identify(product)
        if found is None:
            return []
        index = engine_for(self.db_url, self.search_config).index(self._transaction)
        position = index.position.get(found[0])
        if position is None:  # added after the index was built; it refreshes within the TTL
            return self._in_stock_popular(found[2], {found[1]}, limit)
        candidates = np.flatnonzero(index.in_stock)
        candidates = candidates[candidates != position]
        ordered = similar_positions(index, position, candidates)[: 3 * limit + 10]
        ids = [int(i) for i in index.ids[ordered]]
        return self._summaries(ids, Filters())[:limit]

    def also_bought(self, product: str, limit: int = 5) -> list[ProductSummary]:
        """ "Customers who bought this also bought": in-stock products found in the same orders as
        ``product`` (name or SKU), most shared orders first; filled up with best sellers of the same
        category, then of the shop, when the product is new or rarely bought. Never the product itself;
        empty for an unknown product."""
        limit = max(1, min(int(limit), MAX_RESULTS))
        found = self._identify(product)
        if found is None:
            return []
        product_id, sku, category = found
        with self._transaction() as session:
            together = co_purchased(session, [product_id], limit=3 * limit + 10)
        chosen = self._summaries(together, Filters())[:limit]
        return self._fill_with_popular(chosen, {sku}, [category, None], limit)

    def recommend_for_customer(
        self, email: str | None, category: str | None = None, limit: int = 5
    ) -> list[ProductSummary]:
        """Recommendations for a shopper: products bought together with what ``email`` bought before
        (not what they already bought), in stock, optionally in one category; best sellers for a new or
        unknown shopper (or ``email`` None)."""
        limit = max(1, min(int(limit), MAX_RESULTS))
        canonical = normalize_category(category) if category else None
        if category and canonical is None:
            return []  # an unknown category has no products, as in search_products
        address = normalize_email(email)
        with self._transaction() as session:
            owned = purchased_products(session, address) if address else []
            ids = [product_id for product_id, _ in owned]
            together = co_purchased(session, ids, limit=10 * limit + 20) if ids else []
        chosen = [
            s for s in self._summaries(together, Filters()) if canonical is None or s.category == canonical
        ][:limit]
        logger.info("recommendations for %s: %d from order history", mask_email(email), len(chosen))
        return self._fill_with_popular(chosen, {sku for _, sku in owned}, [canonical], limit)

    def _fill_with_popular(
        self, chosen: list[ProductSummary], exclude_skus: set[str], categories: list[str | None], limit: int
    ) -> list[ProductSummary]:
        """Top ``chosen`` up to ``limit`` with best sellers of each of ``categories`` in turn (None: any)."""
        for category in categories:
            if len(chosen) >= limit:
                break
            taken = exclude_skus | {s.sku for s in chosen}
            chosen = chosen + self._in_stock_popular(category, taken, limit - len(chosen))
        return chosen

    def popular_products(self, category: str | None = None, limit: int = 5) -> list[ProductSummary]:
        """Best-selling products that are in stock, optionally within one category."""
        limit = max(1, min(int(limit), MAX_RESULTS))
        with self._transaction() as session:
            conditions = self._filters(category, None, None, None, None, None, None, True)
            return self._ranked_products(session, conditions, limit)

    @staticmethod
    def _resolve_product(session: Session, name_or_sku: object) -> Product | None:
        """Find a product by SKU, exact name, or the best partial name match (best seller wins a tie)."""
        if not isinstance(name_or_sku, str) or not name_or_sku.strip():
            return None
        query = " ".join(name_or_sku.split())
        for condition in (
            func.lower(Product.sku) == query.lower(),
            func.lower(Product.name) == query.lower(),
        ):
            product = session.execute(select(Product).where(condition).limit(1)).unique().scalar_one_or_none()
            if product is not None:
                return product
        words = keywords(query)
        if not words:
            return None
        stmt = (
            select(Product, func.coalesce(_SOLD.c.sold, 0))
            .select_from(outerjoin(Product, _SOLD, _SOLD.c.product_id == Product.id))
            .where(or_(*(Product.name.ilike(like_pattern(w), escape="\\") for w in words)))
        )
        candidates = session.execute(stmt).unique().all()
        scored = [(name_score(words, p.name), sold, p) for p, sold in candidates]
        scored = [entry for entry in scored if entry[0] >= 0.5]
        if not scored:
            return None
        return min(scored, key=lambda e: (-e[0], -e[1], len(e[2].name), e[2].sku))[2]

    def get_product(self, name_or_sku: str) -> ProductDetails | None:
        """Details of a product named by SKU, exact name or a partial name ("cloudline hoodie")."""
        with self._transaction() as session:
            product = self._resolve_product(session, name_or_sku)
            if product is None:
                return None
            variants = list(product.variants)
            return ProductDetails(
                **_summary_fields(product, variants),
                description=product.description,
                material=product.material,
                variants=_sorted_variants(variants),
            )

    def check_availability(
        self, product: str, color: str | None = None, size: str | None = None
    ) -> Availability | None:
        """Stock of ``product`` (name or SKU) in the given colour and/or size; None for an unknown product."""
        with self._transaction() as session:
            found = self._resolve_product(session, product)
            if found is None:
                return None
            wanted_color = (normalize_color(color) or " ".join(color.lower().split())) if color else None
            wanted_size = (normalize_size(size) or size.strip()) if size else None
            matching = [
                v
                for v in found.variants
                if (wanted_color is None or v.color == wanted_color)
                and (wanted_size is None or v.size == wanted_size)
            ]
            stock = sum(v.stock for v in matching)
            return Availability(
                product=found.name,
                color=wanted_color,
                size=wanted_size,
                in_stock=stock > 0,
                stock=stock,
                available_variants=[v for v in _sorted_variants(found.variants) if v.stock > 0],
            )

    # ------------------------------------------------------------------------------------ orders
    @staticmethod
    def _verify(session: Session, order_id: object, email: object) -> tuple[Verification, Order | None]:
        number = normalize_order_id(order_id)
        if number is None:
            return Verification.NOT_FOUND, None
        stmt = (
            select(Order)
            .where(Order.order_number == number)
            .options(
                selectinload(Order.items).joinedload(OrderItem.variant).joinedload(ProductVariant.product)
            )
        )
        order = session.execute(stmt).unique().scalar_one_or_none()
        if order is None:
            result = Verification.NOT_FOUND
        elif normalize_email(email) != order.customer.email:
            result = Verification.EMAIL_MISMATCH
        else:
            result = Verification.VERIFIED
        logger.info("order %s verification for %s: %s", number, mask_email(email), result.value)
        return result, (order if result is Verification.VERIFIED else None)

    def verify_order(self, order_id: str, email: str) -> Verification:
        """Whether ``order_id`` exists and belongs to ``email`` (trimmed, case-insensitive).
        Malformed order numbers are NOT_FOUND."""
        with self._transaction() as session:
            return self._verify(session, order_id, email)[0]

    def get_order(self, order_id: str, email: str) -> OrderInfo:
        """The order, for its owner only; raises :class:`OrderAccessError` otherwise."""
        with self._transaction() as session:
            verification, order = self._verify(session, order_id, email)
            if order is None:
                raise OrderAccessError(normalize_order_id(order_id), verification)
            return _order_info(order)

    def recent_orders(self, order_id: str, email: str, limit: int = 5) -> CustomerOrders:
        """The most recent orders (newest first, at most ``limit``) of the customer who owns ``order_id``,
        for that customer only: the order number and ``email`` must verify, else :class:`OrderAccessError`.

        Keyed on a verified order rather than on the e-mail alone on purpose: anyone can type an address,
        so a look-up by e-mail would list a stranger's orders (enumeration); one order number with its
        e-mail is the identity check every other order request passes first."""
        with self._transaction() as session:
            verification, order = self._verify(session, order_id, email)
            if order is None:
                raise OrderAccessError(normalize_order_id(order_id), verification)
            theirs = Order.customer_id == order.customer_id
            rows = session.execute(
                select(Order.order_number, Order.status, Order.placed_at, Order.total)
                .where(theirs)
                .order_by(Order.placed_at.desc(), Order.id.desc())
                .limit(max(1, limit))
            ).all()
            total = session.execute(select(func.count()).select_from(Order).where(theirs)).scalar_one()
            summaries = [
                OrderSummary(order_id=number, status=status, placed_at=_aware(placed), total=_money(amount))
                for number, status, placed, amount in rows
            ]
            return CustomerOrders(orders=summaries, total=int(total))

    def _change_open_order(
        self, order_id: str, email: str, values: dict[str, Any], closed_reason: str, cancelling: bool
    ) -> OrderOutcome:
        """Apply ``values`` to a pending/paid order with an UPDATE conditional on the status it was read
        with, so concurrent or repeated calls cannot both succeed on an order that has moved on (an order
        whose payment cleared meanwhile is read again). Cancelling also puts the items back in stock and,
        for a paid order, creates its refund in the same transaction: a cancellation never exists without
        the refund the shopper is promised."""
        for _ in range(2):
            outcome = self._try_change_open_order(order_id, email, values, closed_reason, cancelling)
            if outcome is not None:
                return outcome
        return OrderOutcome(False, closed_reason, None)

    def _try_change_open_order(
        self, order_id: str, email: str, values: dict[str, Any], closed_reason: str, cancelling: bool
    ) -> OrderOutcome | None:
        """One attempt of :meth:`_change_open_order`; None when the order moved from pending to paid
        between reading and updating it (try again)."""
        with self._transaction() as session:
            verification, order = self._verify(session, order_id, email)
            if order is None:
                return OrderOutcome(False, verification.value, None)
            seen = order.status
            updated = 0
            if seen in OPEN_ORDER_STATUSES:
                updated = session.execute(
                    update(Order)
                    .where(Order.id == order.id, Order.status == seen)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                ).rowcount
            refund = None
            if updated == 1 and cancelling:
                self._restock(session, order)
                if seen == "paid":
                    refund = self._create_cancellation_refund(session, order)
            session.refresh(order)
            if updated == 1:
                return OrderOutcome(True, None, _order_info(order), refund)
            if seen in OPEN_ORDER_STATUSES and order.status in OPEN_ORDER_STATUSES:
                return None
            reason = ALREADY_CANCELLED if order.status == "cancelled" and cancelling else closed_reason
            return OrderOutcome(False, reason, _order_info(order))

    @staticmethod
    def _restock(session: Session, order: Order) -> None:
        for item in order.items:
            session.execute(
                update(ProductVariant)
                .where(ProductVariant.id == item.variant_id)
                .values(stock=ProductVariant.stock + item.quantity)
                .execution_options(synchronize_session=False)
            )

    def _create_cancellation_refund(self, session: Session, order: Order) -> RefundInfo:
        """The refund of a paid order being cancelled: its whole total, pending (the payment provider has
        not been asked yet). One per order (unique in the schema)."""
        record = CancellationRefund(
            order_id=order.id, amount=order.total, status="pending", created_at=self._now()
        )
        session.add(record)
        session.flush()
        return self._refund_info(None, record.amount, record.status, record.created_at, "cancellation")

    def _refund_info(
        self, rma: str | None, amount: Decimal | None, status: str, created: datetime, kind: str
    ) -> RefundInfo:
        """A refund as the shopper sees it, with the day it should arrive while it is still on its way."""
        expected = (
            add_working_days(created.date(), self.refund_processing_days)
            if status in OPEN_REFUND_STATUSES
            else None
        )
        return RefundInfo(rma, _money(amount), status, _aware(created), expected, kind)

    def cancel_order(self, order_id: str, email: str) -> OrderOutcome:
        """Cancel a pending or paid order and put its items back in stock; a paid order also gets a refund of
        its total (``outcome.refund``), which :meth:`refund_status` then lists. A second call answers
        ``already_cancelled``; shipped, delivered or returned orders answer ``not_cancellable``."""
        outcome = self._change_open_order(
            order_id, email, {"status": "cancelled"}, NOT_CANCELLABLE, cancelling=True
        )
        if outcome.ok:
            invalidate_search_index(self.db_url)  # stock moved: the search index re-reads it
        logger.info(
            "cancel %s for %s: %s", normalize_order_id(order_id), mask_email(email), outcome.reason or "ok"
        )
        return outcome

    def change_shipping_address(self, order_id: str, email: str, new_address: str) -> OrderOutcome:
        """Change where a pending or paid order goes (``not_changeable`` once it has left the warehouse)."""
        address = " ".join(new_address.split()) if isinstance(new_address, str) else ""
        if not 5 <= len(address) <= MAX_ADDRESS_LENGTH:
            with self._transaction() as session:
                verification, order = self._verify(session, order_id, email)
                info = _order_info(order) if order is not None else None
            return OrderOutcome(False, verification.value if info is None else INVALID_ADDRESS, info)
        outcome = self._change_open_order(
            order_id, email, {"shipping_address": address}, NOT_CHANGEABLE, cancelling=False
        )
        logger.info(
            "address change %s for %s: %s",
            normalize_order_id(order_id),
            mask_email(email),
            outcome.reason or "ok",
        )
        return outcome

    def _pick_item(self, order: Order, item: str | None) -> tuple[list[OrderItem], int | None]:
        """Order lines ``item`` may mean, and the 1-based position when exactly one matches."""
        lines = list(order.items)
        if item is None or not str(item).strip():
            return lines, (1 if len(lines) == 1 else None)
        candidates = [(line.variant.product.name, line.variant.product.category.name) for line in lines]
        for index, line in enumerate(lines):  # a SKU is as good as a name
            if line.variant.product.sku.lower() == str(item).strip().lower():
                return [line], index + 1
        matches = best_matches(str(item), candidates)
        return [lines[i] for i in matches], (matches[0] + 1 if len(matches) == 1 else None)

    def _try_start_return(
        self, order_id: str, email: str, item: str | None, reason: str | None
    ) -> ReturnOutcome:
        with self._transaction() as session:
            verification, order = self._verify(session, order_id, email)
            if order is None:
                return ReturnOutcome(False, False, None, None, None, verification.value)
            if order.status in ("pending", "paid", "shipped"):
                return ReturnOutcome(False, False, None, None, None, NOT_DELIVERED)
            if order.status == "cancelled":
                return ReturnOutcome(False, False, None, None, None, NOT_RETURNABLE)
            matches, position = self._pick_item(order, item)
            line = matches[0] if position is not None else None
            name = line.variant.product.name if line is not None else None
            if line is not None:  # a repeated request gets the RMA it already has, whatever the date
                existing = session.execute(
                    select(Return).where(Return.order_item_id == line.id)
                ).scalar_one_or_none()
                if existing is not None:
                    return ReturnOutcome(True, False, existing.rma_number, existing.status, name, None)
            if order.status != "delivered":
                return ReturnOutcome(False, False, None, None, name, NOT_RETURNABLE)
            now = self._now()
            deadline = (
                order.delivered_at + timedelta(days=self.return_window_days) if order.delivered_at else None
            )
            if deadline is None or now > deadline:
                return ReturnOutcome(False, False, None, None, name, WINDOW_EXPIRED)
            if line is None:
                return ReturnOutcome(
                    False, False, None, None, None, WHICH_ITEM if matches else ITEM_NOT_FOUND
                )
            note = " ".join((reason or "").split())[:MAX_FEEDBACK_LENGTH]
            record = Return(
                rma_number=rma_number(order.order_number, position),
                order_id=order.id,
                order_item_id=line.id,
                reason=normalize_return_reason(note),
                reason_note=note or None,
                status="requested",
                created_at=now,
            )
            session.add(record)
            session.flush()
            session.add(
                Refund(
                    return_id=record.id,
                    amount=line.unit_price * line.quantity,
                    status="pending",
                    created_at=now,
                )
            )
            return ReturnOutcome(True, True, record.rma_number, record.status, name, None)

    def start_return(self, order_id: str, email: str, item: str | None, reason: str | None) -> ReturnOutcome:
        """Open a return (RMA) for one item of a delivered order inside the return window.

        ``item`` may be a product name, part of one ("the hoodie", "shoes") or None when the order has a
        single line. ``reason`` is the shopper's words: the return stores its reason code
        (:func:`shop.return_reasons.normalize_return_reason`) and keeps the words as its note. Asking again
        for the same item returns the existing RMA with ``created=False``; a concurrent duplicate loses on
        the unique constraint and gets that same answer.
        """
        try:
            outcome = self._try_start_return(order_id, email, item, reason)
        except IntegrityError:
            logger.info(
                "return for %s raced with another request; reading the winner", normalize_order_id(order_id)
            )
            outcome = self._try_start_return(order_id, email, item, reason)
        logger.info(
            "return %s for %s: %s",
            normalize_order_id(order_id),
            mask_email(email),
            outcome.reason or ("created" if outcome.created else "existing"),
        )
        return outcome

    def refund_status(self, order_id: str, email: str) -> list[RefundInfo]:
        """Refunds of the order, oldest first: those of its returns and the one of its cancellation (empty
        when nothing is being refunded), each with the day it should arrive while it is on its way.
        Raises :class:`OrderAccessError` unless the order belongs to ``email``."""
        with self._transaction() as session:
            verification, order = self._verify(session, order_id, email)
            if order is None:
                raise OrderAccessError(normalize_order_id(order_id), verification)
            rows = session.execute(
                select(Return.rma_number, Refund.amount, Refund.status, Refund.created_at)
                .join(Refund, Refund.return_id == Return.id)
                .where(Return.order_id == order.id)
                .order_by(Refund.created_at, Refund.id)
            ).all()
            refunds = [
                self._refund_info(rma, amount, status, created, "return")
                for rma, amount, status, created in rows
            ]
            cancellation = session.execute(
                select(CancellationRefund).where(CancellationRefund.order_id == order.id)
            ).scalar_one_or_none()
            if cancellation is not None:
                refunds.append(
                    self._refund_info(
                        None, cancellation.amount, cancellation.status, cancellation.created_at,
                        "cancellation",
                    )
                )
            return sorted(refunds, key=lambda refund: refund.created_at)

    # ------------------------------------------------------------------------------------ identity checks
    def verification_locked_until(self, conversation_id: str, order_id: str) -> datetime | None:
        """Until when conversation ``conversation_id`` may not verify ``order_id`` (UTC, aware), or None.

        Set by :meth:`lock_verification` after too many wrong e-mails; whatever the shopper then asks for
        that order (status, cancel, return, address, refund) is refused until the cool-down is over."""
        number = normalize_order_id(order_id)
        if number is None:
            return None
        with self._transaction() as session:
            until = session.execute(
                select(VerificationLock.locked_until).where(
                    VerificationLock.conversation_id == str(conversation_id)[:255],
                    VerificationLock.order_number == number,
                    VerificationLock.locked_until > self._now(),
                )
            ).scalar_one_or_none()
        return _aware(until)

    def lock_verification(self, conversation_id: str, order_id: str) -> datetime | None:
        """Lock ``order_id`` for ``conversation_id`` for the cool-down (:data:`VERIFICATION_LOCKOUT_MINUTES`)
        and return until when (None for a malformed order number). Locking again extends the lock; expired
        locks of every conversation are deleted on the way."""
        number = normalize_order_id(order_id)
        if number is None:
            return None
        with self._transaction() as session:
            until = self._lock(session, str(conversation_id)[:255], number, self._now())
        return _aware(until)

    def _lock(self, session: Session, conversation: str, number: str, now: datetime) -> datetime:
        """Write the lock of ``number`` for ``conversation`` (see :meth:`lock_verification`); the failures
        that led to it are cleared, so the count starts again once the lock is over."""
        until = now + self.verification_lockout
        for stale in session.execute(
            select(VerificationLock).where(
                or_(
                    VerificationLock.locked_until <= now,
                    (VerificationLock.conversation_id == conversation)
                    & (VerificationLock.order_number == number),
                )
            )
        ).scalars():
            session.delete(stale)
        session.execute(
            delete(VerificationFailure).where(
                VerificationFailure.conversation_id == conversation,
                VerificationFailure.order_number == number,
            )
        )
        session.flush()
        session.add(VerificationLock(conversation_id=conversation, order_number=number, locked_until=until))
        logger.info("order %s locked for a conversation until %s", number, until.strftime("%H:%M"))
        return until

    def record_failed_verification(
        self, conversation_id: str, order_id: str, max_failures: int
    ) -> FailedVerification:
        """Count a wrong e-mail for ``order_id`` in ``conversation_id``; the ``max_failures``-th within
        :data:`VERIFICATION_FAILURE_WINDOW_MINUTES` locks the order for the conversation (as
        :meth:`lock_verification`). Kept in the database, not in a conversation slot, so that ``/restart``
        or a new session cannot reset the count. Failures older than the window, of every conversation,
        are deleted on the way. A malformed order number counts nothing."""
        number = normalize_order_id(order_id)
        if number is None:
            return FailedVerification(0, None)
        conversation = str(conversation_id)[:255]
        now = self._now()
        with self._transaction() as session:
            session.execute(
                delete(VerificationFailure).where(
                    VerificationFailure.failed_at <= now - self.verification_failure_window
                )
            )
            session.add(VerificationFailure(conversation_id=conversation, order_number=number, failed_at=now))
            session.flush()
            failures = session.execute(
                select(func.count(VerificationFailure.id)).where(
                    VerificationFailure.conversation_id == conversation,
                    VerificationFailure.order_number == number,
                )
            ).scalar_one()
            until = self._lock(session, conversation, number, now) if failures >= max_failures else None
        return FailedVerification(failures, _aware(until))

    def clear_failed_verifications(self, conversation_id: str, order_id: str) -> None:
        """Forget the wrong e-mails ``conversation_id`` gave for ``order_id`` (it has just verified it)."""
        number = normalize_order_id(order_id)
        if number is None:
            return
        with self._transaction() as session:
            session.execute(
                delete(VerificationFailure).where(
                    VerificationFailure.conversation_id == str(conversation_id)[:255],
                    VerificationFailure.order_number == number,
                )
            )

    # ------------------------------------------------------------------------------------ feedback
    def record_feedback(self, sender_id: str, text: str, rating: int | None = None) -> int:
        """Store feedback and return its id. ``rating`` is 1-5 or None. The same feedback sent again by the
        same conversation within a few minutes (a retried action) returns the first id instead of a copy.
        Raises ValueError for an out-of-range rating or when there is neither text nor rating."""
        if rating is not None:
            if isinstance(rating, bool) or not str(rating).strip().isdigit() or not 1 <= int(rating) <= 5:
                raise ValueError("rating must be a whole number from 1 to 5")
            rating = int(rating)
        message = text.strip()[:MAX_FEEDBACK_LENGTH] if isinstance(text, str) else ""
        if not message and rating is None:
            raise ValueError("feedback needs a text or a rating")
        sender = str(sender_id or "unknown")[:255]
        now = self._now()
        with self._transaction() as session:
            previous = session.execute(
                select(Feedback.id)
                .where(
                    Feedback.sender_id == sender,
                    Feedback.text == message,
                    Feedback.rating.is_(None) if rating is None else Feedback.rating == rating,
                    Feedback.created_at >= now - FEEDBACK_DEDUP_WINDOW,
                )
                .order_by(Feedback.id)
                .limit(1)
            ).scalar_one_or_none()
            if previous is not None:
                return previous
            record = Feedback(sender_id=sender, rating=rating, text=message, created_at=now)
            session.add(record)
            session.flush()
            return record.id

    def amend_feedback(
        self, feedback_id: int, sender_id: str, rating: int | None = None, comment: str | None = None
    ) -> bool:
        """Change the rating and/or add ``comment`` to feedback ``feedback_id`` of conversation
        ``sender_id`` (a CSAT answer rated first and commented on next). The comment is appended to any
        text already there. False when there is no such feedback of that conversation (an id from another
        conversation never edits its feedback). Raises ValueError for an out-of-range rating."""
        if rating is not None:
            if isinstance(rating, bool) or not str(rating).strip().isdigit() or not 1 <= int(rating) <= 5:
                raise ValueError("rating must be a whole number from 1 to 5")
            rating = int(rating)
        note = comment.strip()[:MAX_FEEDBACK_LENGTH] if isinstance(comment, str) else ""
        try:
            key = int(feedback_id)
        except (TypeError, ValueError):
            return False
        with self._transaction() as session:
            record = session.get(Feedback, key)
            if record is None or record.sender_id != str(sender_id or "unknown")[:255]:
                return False
            if rating is not None:
                record.rating = rating
            if note:
                record.text = f"{record.text}\n{note}"[:MAX_FEEDBACK_LENGTH] if record.text else note
            return True
