"""Deterministic demo data for the shop: catalog, customers, orders, returns, refunds, feedback.

Everything comes from a fixed-seed ``random.Random`` (see :mod:`shop.seed_catalog` for the catalog), and
dates are offsets from a ``now`` argument, so two seeds are identical apart from the moment they are
anchored to, and the demo orders of docs/contract.md ("delivered 5 days ago", "estimated delivery in the
future") stay true whenever the database is seeded. Rows are written with Core bulk inserts in one
transaction: seeding takes a fraction of a second and is all-or-nothing.

Run ``python -m shop.seed [--db-url URL] [--reset]`` to seed the configured database.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from shop.config import database_url
from shop.db import create_schema, drop_schema, get_engine
from shop.errors import describe_url, translate_db_errors
from shop.models import (
    TABLES,
    Brand,
    Category,
    Customer,
    Feedback,
    Order,
    OrderItem,
    Product,
    ProductVariant,
    Refund,
    Return,
)
from shop.return_reasons import normalize_return_reason
from shop.seed_catalog import CatalogProduct, build_catalog
from shop.vocabulary import BRANDS, CATEGORIES, rma_number

logger = logging.getLogger(__name__)

ORDERS_SEED = 7321
GENERATED_CUSTOMERS = 58
GENERATED_ORDERS = 224
FIRST_GENERATED_ORDER = 100007

DEMO_CUSTOMERS = (
    ("Alex Morgan", "alex.morgan@example.com", "14 Orchard Lane, Millbrook, 40213"),
    ("Sam Lee", "sam.lee@example.com", "7 Quayside Row, Fairhaven, 51920"),
)
FIRST_NAMES = (
    "Jamie",
    "Priya",
    "Tomas",
    "Leah",
    "Noor",
    "Oliver",
    "Mei",
    "Diego",
    "Hannah",
    "Kofi",
    "Ines",
    "Ravi",
    "Clara",
    "Yusuf",
    "Elena",
    "Marcus",
    "Aiko",
    "Felix",
    "Zara",
    "Luca",
    "Maya",
    "Owen",
    "Sofia",
    "Theo",
    "Amara",
    "Jonas",
    "Freya",
    "Hugo",
    "Lina",
    "Mateo",
)
LAST_NAMES = (
    "Carter",
    "Nakamura",
    "Okafor",
    "Lindqvist",
    "Bauer",
    "Haddad",
    "Fischer",
    "Moreau",
    "Patel",
    "Reyes",
    "Sullivan",
    "Kowalski",
    "Andersen",
    "Dubois",
    "Mensah",
    "Rossi",
    "Takahashi",
    "Novak",
    "Ortega",
    "Walsh",
    "Brennan",
    "Castillo",
    "Eriksen",
    "Ferreira",
    "Hartley",
    "Ibrahim",
)
STREETS = (
    "Willow",
    "Chestnut",
    "Harbour",
    "Mill",
    "Station",
    "Larch",
    "Kingfisher",
    "Beacon",
    "Foundry",
    "Rowan",
    "Meadowbank",
    "Copper",
    "Sandpiper",
    "Elder",
    "Tannery",
)
STREET_KINDS = ("Street", "Road", "Lane", "Avenue", "Close", "Terrace", "Way")
TOWNS = (
    "Brookfield",
    "Ashby",
    "Millbrook",
    "Fairhaven",
    "Kingsbridge",
    "Oakridge",
    "Redcliff",
    "Elmstead",
    "Westmere",
    "Stonebury",
    "Halden",
    "Marston",
)
#: Invented carriers and the prefix of their tracking numbers.
CARRIERS = (
    ("Parcelway", "PW"),
    ("SwiftShip Express", "SSX"),
    ("Harbor Post", "HP"),
    ("Northline Freight", "NLF"),
)
RETURN_REASONS = (
    "Too small",
    "Too big",
    "Colour looks different from the photos",
    "Changed my mind",
    "Arrived damaged",
    "Stitching came loose",
    "Ordered two sizes, returning one",
    "Not as comfortable as expected",
)
FEEDBACK_TEXTS = (
    (5, "Found my size in seconds, thanks!"),
    (4, "Quick answer about my parcel."),
    (2, "It took a while to understand I wanted to return something."),
    (None, "Can you add gift cards?"),
    (5, "Return was easy."),
    (3, "Fine, but I wanted to talk to a person sooner."),
    (4, "Helpful recommendations for hiking boots."),
    (1, "My refund is taking too long."),
    (None, "Please stock more XXL hoodies."),
    (5, "Great service."),
)
STATUS_WEIGHTS = (
    ("pending", 8),
    ("paid", 10),
    ("shipped", 14),
    ("delivered", 45),
    ("cancelled", 10),
    ("returned", 13),
)


@dataclass(frozen=True)
class _Variant:
    id: int
    product: CatalogProduct
    color: str
    size: str


def _utc_naive(now: datetime | None) -> datetime:
    """Anchor time as naive UTC (how the schema stores timestamps); naive input is taken as UTC."""
    moment = now or datetime.now(timezone.utc)
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def _address(rng: random.Random) -> str:
    return (
        f"{rng.randint(1, 220)} {rng.choice(STREETS)} {rng.choice(STREET_KINDS)}, {rng.choice(TOWNS)}, "
        f"{rng.randint(10000, 99999)}"
    )


class _Builder:
    """Accumulates the rows of every table with explicit ids (parents before children)."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.rng = random.Random(ORDERS_SEED)
        self.rows: dict[type, list[dict[str, Any]]] = {model: [] for model in TABLES}
        self.variants: list[_Variant] = []
        self.variant_by_key: dict[tuple[str, str, str], _Variant] = {}
        self.customer_addresses: dict[int, str] = {}

    # -- catalog -------------------------------------------------------------------------------
    def catalog(self) -> None:
        category_ids = {name: i for i, name in enumerate(CATEGORIES, start=1)}
        brand_ids = {name: i for i, name in enumerate(BRANDS, start=1)}
        self.rows[Category] = [{"id": i, "name": name} for name, i in category_ids.items()]
        self.rows[Brand] = [{"id": i, "name": name} for name, i in brand_ids.items()]
        for product_id, product in enumerate(build_catalog(), start=1):
            self.rows[Product].append(
                {
                    "id": product_id,
                    "sku": product.sku,
                    "name": product.name,
                    "description": product.description,
                    "material": product.material,
                    "price": Decimal(product.price),
                    "category_id": category_ids[product.category],
                    "brand_id": brand_ids[product.brand],
                }
            )
            for color, size, stock in product.variants:
                variant = _Variant(len(self.variants) + 1, product, color, size)
                self.variants.append(variant)
                self.variant_by_key[(product.sku, color, size)] = variant
                self.rows[ProductVariant].append(
                    {"id": variant.id, "product_id": product_id, "color": color, "size": size, "stock": stock}
                )

    # -- customers -----------------------------------------------------------------------------
    def customers(self) -> None:
        emails: set[str] = set()
        people = list(DEMO_CUSTOMERS)
        while len(people) < len(DEMO_CUSTOMERS) + GENERATED_CUSTOMERS:
            first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
            local = f"{first}.{last}".lower()
            domain = self.rng.choice(("example.com", "example.org"))
            email = f"{local}@{domain}"
            if email in emails or any(email == p[1] for p in DEMO_CUSTOMERS):
                email = f"{local}{self.rng.randint(2, 99)}@{domain}"
            if email in emails or any(email == p[1] for p in DEMO_CUSTOMERS):
                continue
            emails.add(email)
            people.append((f"{first} {last}", email, _address(self.rng)))
        for customer_id, (name, email, address) in enumerate(people, start=1):
            self.rows[Customer].append({"id": customer_id, "name": name, "email": email})
            self.customer_addresses[customer_id] = address

    # -- orders --------------------------------------------------------------------------------
    def _tracking(self, carrier_index: int) -> tuple[str, str]:
        carrier, prefix = CARRIERS[carrier_index % len(CARRIERS)]
        return carrier, f"{prefix}{self.rng.randint(10**9, 10**10 - 1)}"

    def _order(
        self,
        number: int,
        customer_id: int,
        status: str,
        placed_ago: timedelta,
        lines: list[tuple[_Variant, int]],
        delivered_ago: timedelta | None = None,
        eta_in: timedelta | None = None,
    ) -> tuple[int, list[int]]:
        """Add an order with its lines; returns the order id and the ids of its lines."""
        order_id = len(self.rows[Order]) + 1
        placed_at = self.now - placed_ago
        carrier = tracking = estimated = delivered_at = None
        if status in ("shipped", "delivered", "returned"):
            carrier, tracking = self._tracking(self.rng.randrange(len(CARRIERS)))
        if status == "shipped":
            estimated = (self.now + (eta_in or timedelta(days=2))).date()
        if status in ("delivered", "returned"):
            delivered_at = self.now - (delivered_ago or timedelta(days=1))
            estimated = delivered_at.date()
        total = Decimal("0.00")
        item_ids = []
        for variant, quantity in lines:
            price = Decimal(variant.product.price)
            total += price * quantity
            item_id = len(self.rows[OrderItem]) + 1
            item_ids.append(item_id)
            self.rows[OrderItem].append(
                {
                    "id": item_id,
                    "order_id": order_id,
                    "variant_id": variant.id,
                    "quantity": quantity,
                    "unit_price": price,
                }
            )
        self.rows[Order].append(
            {
                "id": order_id,
                "order_number": f"SA-{number:06d}",
                "customer_id": customer_id,
                "status": status,
                "placed_at": placed_at,
                "carrier": carrier,
                "tracking_number": tracking,
                "estimated_delivery": estimated,
                "delivered_at": delivered_at,
                "shipping_address": self.customer_addresses[customer_id],
                "total": total,
            }
        )
        return order_id, item_ids

    def _return(
        self,
        order_id: int,
        order_number: str,
        item_ids: list[int],
        position: int,
        status: str,
        refund_status: str | None,
        created_ago: timedelta,
        reason: str,
    ) -> None:
        return_id = len(self.rows[Return]) + 1
        item_id = item_ids[position - 1]
        item = self.rows[OrderItem][item_id - 1]
        self.rows[Return].append(
            {
                "id": return_id,
                "rma_number": rma_number(order_number, position),
                "order_id": order_id,
                "order_item_id": item_id,
                "reason": normalize_return_reason(reason),
                "reason_note": reason,
                "status": status,
                "created_at": self.now - created_ago,
            }
        )
        if refund_status:
            refund_ago = max(created_ago - timedelta(days=3), timedelta(hours=6))
            self.rows[Refund].append(
                {
                    "id": len(self.rows[Refund]) + 1,
                    "return_id": return_id,
                    "amount": item["unit_price"] * item["quantity"],
                    "status": refund_status,
                    "created_at": self.now - refund_ago,
                }
            )

    def demo_orders(self) -> None:
        """The orders docs/contract.md promises, on the signature products of seed_catalog."""
        v = self.variant_by_key
        alex, sam = 1, 2
        self._order(
            100001,
            alex,
            "shipped",
            timedelta(days=3),
            [(v[("JKT-0001", "navy", "M")], 1)],
            eta_in=timedelta(days=2),
        )
        self._order(
            100002,
            alex,
            "delivered",
            timedelta(days=9),
            [(v[("HOD-0001", "grey", "M")], 1), (v[("SHO-0001", "white", "42")], 1)],
            delivered_ago=timedelta(days=5),
        )
        self._order(
            100003,
            alex,
            "paid",
            timedelta(days=1),
            [(v[("JNS-0001", "blue", "32")], 1), (v[("TSH-0001", "white", "M")], 2)],
        )
        self._order(
            100004,
            alex,
            "delivered",
            timedelta(days=65),
            [(v[("SWT-0001", "beige", "M")], 1)],
            delivered_ago=timedelta(days=60),
        )
        order_id, items = self._order(
            100005,
            alex,
            "returned",
            timedelta(days=30),
            [(v[("BAG-0001", "brown", "one size")], 1)],
            delivered_ago=timedelta(days=25),
        )
        self._return(
            order_id,
            "SA-100005",
            items,
            1,
            "received",
            "processing",
            timedelta(days=20),
            "Stitching came loose",
        )
        self._order(
            100006,
            sam,
            "pending",
            timedelta(hours=2),
            [(v[("SOC-0001", "grey", "M")], 3), (v[("HAT-0001", "black", "one size")], 1)],
        )

    def generated_orders(self) -> None:
        rng = self.rng
        statuses = [s for s, _ in STATUS_WEIGHTS]
        weights = [w for _, w in STATUS_WEIGHTS]
        first_customer = len(DEMO_CUSTOMERS) + 1
        for offset in range(GENERATED_ORDERS):
            number = FIRST_GENERATED_ORDER + offset
            # Cycle through every status first so even a tiny seed covers all of them.
            status = statuses[offset] if offset < len(statuses) else rng.choices(statuses, weights)[0]
            customer_id = rng.randint(first_customer, len(self.rows[Customer]))
            lines = [
                (variant, 1 if rng.random() < 0.8 else 2)
                for variant in rng.sample(self.variants, rng.choice((1, 1, 1, 2, 2, 3)))
            ]
            delivered_days = rng.randint(1, 120)
            ago = {
                "pending": timedelta(hours=rng.randint(1, 30)),
                "paid": timedelta(hours=rng.randint(4, 72)),
                "shipped": timedelta(days=rng.randint(1, 6)),
                "cancelled": timedelta(days=rng.randint(1, 90)),
            }.get(status, timedelta(days=delivered_days + rng.randint(2, 7)))
            order_id, item_ids = self._order(
                number,
                customer_id,
                status,
                ago,
                lines,
                delivered_ago=timedelta(days=delivered_days),
                eta_in=timedelta(days=rng.randint(1, 5)),
            )
            order_number = f"SA-{number:06d}"
            if status == "returned":
                done = rng.random() < 0.6
                for position in range(1, len(item_ids) + 1):
                    self._return(
                        order_id,
                        order_number,
                        item_ids,
                        position,
                        "refunded" if done else "received",
                        "completed" if done else "processing",
                        timedelta(days=max(delivered_days - rng.randint(1, 10), 1)),
                        rng.choice(RETURN_REASONS),
                    )
            elif status == "delivered" and delivered_days <= 30 and rng.random() < 0.25:
                self._return(
                    order_id,
                    order_number,
                    item_ids,
                    1,
                    rng.choice(("requested", "approved")),
                    "pending",
                    timedelta(days=rng.randint(0, delivered_days)),
                    rng.choice(RETURN_REASONS),
                )

    def feedback(self) -> None:
        for index, (rating, message) in enumerate(FEEDBACK_TEXTS, start=1):
            self.rows[Feedback].append(
                {
                    "id": index,
                    "sender_id": f"seed-{index:03d}",
                    "rating": rating,
                    "text": message,
                    "created_at": self.now
                    - timedelta(days=self.rng.randint(1, 60), minutes=self.rng.randint(0, 600)),
                }
            )


def build_seed_rows(now: datetime | None = None) -> dict[type, list[dict[str, Any]]]:
    """All seed rows per model (in insertion order), anchored at ``now`` (default: current UTC time)."""
    builder = _Builder(_utc_naive(now))
    builder.catalog()
    builder.customers()
    builder.demo_orders()
    builder.generated_orders()
    builder.feedback()
    return builder.rows


def table_counts(conn: Connection) -> dict[str, int]:
    """Row count of every shop table, keyed by table name."""
    return {
        model.__tablename__: conn.execute(select(func.count()).select_from(model.__table__)).scalar_one()
        for model in TABLES
    }


def _sync_postgres_sequences(conn: Connection) -> None:
    """Explicit ids bypass PostgreSQL's serial sequences; move them past the seeded ids."""
    for model in TABLES:
        table = model.__tablename__  # a constant of models.py, not input
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            )
        )


def seed_database(
    db_url: str | None = None, reset: bool = False, now: datetime | None = None
) -> dict[str, int]:
    """Create the schema and fill it with the demo data; return the row count per table.

    The returned dict also holds ``already_seeded`` (1 when the database already had a catalog and
    nothing was written, else 0). ``reset=True`` drops the shop tables first. A concurrent seeder that
    loses the race sees a unique-constraint violation, which is reported as already seeded.
    """
    url = database_url(db_url)
    engine = get_engine(url)
    with translate_db_errors(url):
        if reset:
            drop_schema(engine)
        create_schema(engine)
        with engine.connect() as conn:
            seeded = conn.execute(select(func.count()).select_from(Product.__table__)).scalar_one() > 0
        if not seeded:
            rows = build_seed_rows(now)
            try:
                with engine.begin() as conn:
                    for model in TABLES:
                        if rows[model]:
                            conn.execute(model.__table__.insert(), rows[model])
                    if engine.dialect.name == "postgresql":
                        _sync_postgres_sequences(conn)
            except IntegrityError:
                logger.info("another process seeded %s first", describe_url(url))
                seeded = True
        with engine.connect() as conn:
            counts = table_counts(conn)
    counts["already_seeded"] = int(seeded)
    logger.info("shop database %s: %s", describe_url(url), "already seeded" if seeded else "seeded")
    return counts


def main(argv: list[str] | None = None) -> int:
    """Command line: seed the configured (or given) database and print the counts as JSON."""
    parser = argparse.ArgumentParser(description="Seed the ShopAssist demo shop database.")
    parser.add_argument(
        "--db-url", default=None, help="SQLAlchemy URL (default: $SHOP_DB_URL or .state/shop.db)"
    )
    parser.add_argument("--reset", action="store_true", help="drop the shop tables and seed from scratch")
    args = parser.parse_args(argv)
    print(json.dumps(seed_database(args.db_url, reset=args.reset), indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
