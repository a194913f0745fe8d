"""`shopassist erase`: remove what ShopAssist stores about one customer or one conversation.

``--conversation SENDER_ID`` erases that conversation; ``--customer EMAIL`` erases every conversation in
which the shopper gave that e-mail address (found in the tracker store: slots, entities, typed text) or
that the shop links to the customer (handoff tickets), and anonymises the customer record. Per
conversation that is:

* the tracker store's events (Rasa's SQL tracker store from endpoints.yml / ``--tracker-db``);
* the analytics database's events (``shopassist analytics-sink``; ``--analytics-db``, else
  ``$SHOPASSIST_ANALYTICS_DB_URL``, else ``.state/analytics.db`` when it exists);
* the shop database's handoff tickets and feedback/CSAT rows (:mod:`shop.erasure`, which also explains
  why orders are kept with the customer anonymised).

It is a dry run unless ``--yes`` is given: first it prints what it would erase. The shop database changes
in one transaction, then the analytics database, then the tracker store, each in one transaction. A run
that stopped half-way can simply be repeated: the tracker store, erased last, still names the
conversations. Not covered: log files (they hold masked text only, see :mod:`shop.privacy`), backups,
and messages still queued in RabbitMQ.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, List, Optional, Set

import sqlalchemy as sa

from shop.erasure import OpenOrdersError, ShopErasure, erase_shop_records, linked_conversations
from shopassist.report import EVENTS, tracker_store_url


@dataclass
class Erasure:
    """What one run erased (or would erase)."""

    applied: bool
    conversations: Set[str] = field(default_factory=set)
    tracker_events: Optional[int] = None      # None: store not reachable / not configured
    analytics_events: Optional[int] = None
    shop: Optional[ShopErasure] = None
    notes: List[str] = field(default_factory=list)

    def describe(self) -> str:
        verb = "deleted" if self.applied else "would delete"
        shown = ", ".join(sorted(self.conversations)[:10]) + (" ..." if len(self.conversations) > 10 else "")
        lines = [f"conversations: {len(self.conversations)}" + (f" ({shown})" if shown else "")]
        if self.tracker_events is not None:
            lines.append(f"tracker store: {verb} {self.tracker_events} events")
        if self.analytics_events is not None:
            lines.append(f"analytics database: {verb} {self.analytics_events} events")
        if self.shop is not None:
            lines += self.shop.lines()
        lines += [f"note: {note}" for note in self.notes]
        if not self.applied:
            lines.append("Dry run: nothing was changed. Run again with --yes to erase.")
        return "\n".join(lines)


def _engine(url: Optional[str]) -> Optional[sa.engine.Engine]:
    """An engine for *url*, or None when it names a SQLite file that does not exist (nothing stored)."""
    if not url:
        return None
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).exists():
        return None
    return sa.create_engine(url)


def _has_events(engine: sa.engine.Engine) -> bool:
    return sa.inspect(engine).has_table("events")


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def conversations_mentioning(engine: sa.engine.Engine, email: str) -> Set[str]:
    """Sender ids whose events contain *email* (case-insensitive): slot values, entities, typed text."""
    pattern = f"%{_like_escape(email.strip().lower())}%"
    query = sa.select(EVENTS.c.sender_id).distinct().where(
        sa.func.lower(EVENTS.c.data).like(pattern, escape="\\"))
    with engine.connect() as connection:
        return {str(sender) for sender in connection.execute(query).scalars()}


def erase_events(engine: sa.engine.Engine, sender_ids: Iterable[str], apply: bool) -> int:
    """Delete (or count) the events of *sender_ids* in one transaction."""
    senders = sorted(set(sender_ids))
    if not senders:
        return 0
    condition = EVENTS.c.sender_id.in_(senders)
    with engine.begin() as connection:
        query = sa.select(sa.func.count()).select_from(EVENTS).where(condition)
        count = connection.execute(query).scalar_one()
        if apply and count:
            connection.execute(EVENTS.delete().where(condition))
    return int(count)


def erase(*, customer: Optional[str] = None, conversation: Optional[str] = None,
          tracker_url: Optional[str] = None, shop_url: Optional[str] = None,
          analytics_url: Optional[str] = None, apply: bool = False,
          include_open_orders: bool = False) -> Erasure:
    """Erase one customer's or one conversation's data from every configured store (dry run unless
    *apply*). Raises :class:`shop.erasure.OpenOrdersError` before changing anything when the customer
    still has open orders and *include_open_orders* is false."""
    if bool(customer) == bool(conversation):
        raise ValueError("name exactly one of a customer e-mail or a conversation id")
    email = customer.strip().lower() if customer else None
    if email is not None and ("@" not in email or any(ch.isspace() for ch in email)):
        raise ValueError(f"{customer!r} is not an e-mail address")
    result = Erasure(applied=apply)
    engines = {name: _engine(url) for name, url in
               (("tracker", tracker_url), ("shop", shop_url), ("analytics", analytics_url))}
    try:
        tracker, shop, analytics = engines["tracker"], engines["shop"], engines["analytics"]
        if tracker is not None and not _has_events(tracker):
            result.notes.append("the tracker store has no events table")
            tracker = None
        if analytics is not None and not _has_events(analytics):
            analytics = None
        if tracker is None:
            result.notes.append("no tracker store was found; only the other stores were searched")
        if conversation:
            result.conversations.add(conversation)
        else:
            if tracker is not None:
                result.conversations |= conversations_mentioning(tracker, email)
            if shop is not None:
                result.conversations |= linked_conversations(shop, email)
        if shop is not None:
            result.shop = erase_shop_records(shop, result.conversations, email, apply=apply,
                                             include_open_orders=include_open_orders)
            result.conversations |= result.shop.linked_conversations
            if email and result.shop.customer_id is None:
                result.notes.append("the shop database has no customer with this e-mail")
        else:
            result.notes.append("no shop database was found")
        # The tracker store last: it is where a repeated run finds the customer's conversations again.
        if analytics is not None:
            result.analytics_events = erase_events(analytics, result.conversations, apply)
        if tracker is not None:
            result.tracker_events = erase_events(tracker, result.conversations, apply)
    finally:
        for engine in engines.values():
            if engine is not None:
                engine.dispose()
    return result


# -- command line ----------------------------------------------------------------------------------------
def add_arguments(parser: Any) -> None:
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--customer", metavar="EMAIL",
                        help="erase everything about the customer with this e-mail")
    target.add_argument("--conversation", metavar="SENDER_ID",
                        help="erase one conversation (Rasa's sender id)")
    parser.add_argument("--yes", action="store_true",
                        help="really erase (default: a dry run that only reports)")
    parser.add_argument("--include-open-orders", action="store_true",
                        help="anonymise the customer even with orders still pending, paid or shipped")
    parser.add_argument("--tracker-db", metavar="URL",
                        help="tracker store SQLAlchemy URL (default: the tracker_store of --endpoints)")
    parser.add_argument("--endpoints", default="endpoints.yml",
                        help="Rasa endpoints file (default: %(default)s)")
    parser.add_argument("--shop-db", metavar="URL",
                        help="shop database (default: $SHOP_DB_URL, else .state/shop.db)")
    parser.add_argument("--analytics-db", metavar="URL",
                        help="analytics database of `shopassist analytics-sink` (default: "
                             "$SHOPASSIST_ANALYTICS_DB_URL, else .state/analytics.db when it exists)")


def run(args: Any) -> int:
    """Handler of `shopassist erase`."""
    from shop.config import database_url
    from shopassist.analytics_sink import analytics_db_url

    try:
        tracker_url = args.tracker_db or tracker_store_url(args.endpoints)
        result = erase(customer=args.customer, conversation=args.conversation, tracker_url=tracker_url,
                       shop_url=database_url(args.shop_db), analytics_url=analytics_db_url(args.analytics_db),
                       apply=args.yes, include_open_orders=args.include_open_orders)
    except (ValueError, OpenOrdersError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except sa.exc.SQLAlchemyError as error:
        print(f"error: a database could not be read or changed ({type(error).__name__}); what was erased "
              "before is listed by a new dry run", file=sys.stderr)
        return 2
    print(result.describe())
    return 0
