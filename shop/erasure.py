"""Erasing what the shop database holds about one customer or some conversations (right to erasure).

What is deleted and what is kept, and why:

* **handoff tickets** of the conversations (their summaries and histories are the shopper's words and
  moods) and every ticket linked to the customer (``customer_id`` or the follow-up e-mail): deleted;
* **feedback** rows of the conversations (text and CSAT rating): deleted;
* **orders** are business records that the shop must keep for accounting, tax and warranty (typically
  6-10 years): kept with their numbers, items, amounts, statuses and dates, but the shipping address is
  replaced by ``[erased]``; the notes of returns (the shopper's own words) are emptied, their reason codes
  (``too_small``, ``damaged``, ...) are kept; a reason written before codes existed becomes ``other``;
* **verification locks** and **failed verifications** of the conversations (conversation id and order
  number): deleted;
* the **customer** row is kept because orders point to it, but anonymised: name ``Erased customer``,
  e-mail ``erased-<id>@erased.invalid`` (the reserved ``.invalid`` domain never delivers), so nobody
  can verify an order with the old address any more.

A customer with orders still on their way (``pending``, ``paid``, ``shipped``) is not anonymised unless
``include_open_orders`` is set: wiping the address of an order that still has to be delivered or
returned would break the shop's own obligations; erase again once those orders are done.

Everything happens in one transaction, so an erasure is all or nothing; running it twice is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Set

from sqlalchemy import delete, inspect, or_, select, update
from sqlalchemy.engine import Engine

from shop.db import session_factory
from shop.handoff_models import HandoffTicket
from shop.models import Customer, Feedback, Order, Return, VerificationFailure, VerificationLock
from shop.return_reasons import OTHER, RETURN_REASONS

ERASED_NAME = "Erased customer"
ERASED_ADDRESS = "[erased]"
ERASED_EMAIL_DOMAIN = "erased.invalid"
OPEN_ORDER_STATUSES = ("pending", "paid", "shipped")


def erased_email(customer_id: int) -> str:
    return f"erased-{customer_id}@{ERASED_EMAIL_DOMAIN}"


class OpenOrdersError(Exception):
    """The customer still has orders on their way; the message lists them. Nothing was changed."""


@dataclass
class ShopErasure:
    """What an erasure removes (``applied`` False: what it would remove)."""

    applied: bool = False
    customer_id: Optional[int] = None
    tickets: int = 0
    feedback: int = 0
    orders_anonymised: List[str] = field(default_factory=list)
    returns_cleared: int = 0
    open_orders: List[str] = field(default_factory=list)
    #: Conversations the shop database links to the customer (handoff tickets); the tracker store
    #: part of the erasure adds them to the ones it found itself.
    linked_conversations: Set[str] = field(default_factory=set)

    def lines(self) -> List[str]:
        verb = "deleted" if self.applied else "would delete"
        lines = [f"shop database: {verb} {self.tickets} handoff tickets, {self.feedback} feedback rows"]
        if self.customer_id is not None:
            verb = "anonymised" if self.applied else "would anonymise"
            orders = ", ".join(self.orders_anonymised) or "none"
            lines.append(f"shop database: {verb} customer #{self.customer_id} and the addresses of orders "
                         f"{orders} ({self.returns_cleared} return notes emptied); orders are kept")
        return lines


def _has_tables(engine: Engine, *names: str) -> bool:
    inspector = inspect(engine)
    return all(inspector.has_table(name) for name in names)


def linked_conversations(engine: Engine, email: str) -> Set[str]:
    """Conversation ids the shop database links to the customer with *email* (handoff tickets)."""
    if not _has_tables(engine, "customers", "handoff_tickets"):
        return set()
    address = email.strip().lower()
    with session_factory(engine)() as session:
        query = select(Customer.id).where(Customer.email == address)
        customer_id = session.execute(query).scalar_one_or_none()
        conditions = [HandoffTicket.follow_up_email == address]
        if customer_id is not None:
            conditions.append(HandoffTicket.customer_id == customer_id)
        return set(session.execute(select(HandoffTicket.sender_id).where(or_(*conditions))).scalars())


def erase_shop_records(engine: Engine, sender_ids: Iterable[str], email: Optional[str] = None,
                       apply: bool = False, include_open_orders: bool = False) -> ShopErasure:
    """Erase (or with ``apply=False`` only count) the shop's records of *sender_ids* and of the
    customer with *email*. Raises :class:`OpenOrdersError` (nothing changed) when the customer has open
    orders and ``include_open_orders`` is not set."""
    senders = sorted({str(s) for s in sender_ids})
    result = ShopErasure(applied=apply)
    address = email.strip().lower() if email else None
    with session_factory(engine)() as session, session.begin():
        customer = None
        if address and _has_tables(engine, "customers"):
            customer = session.execute(select(Customer).where(Customer.email == address)).scalar_one_or_none()
        ticket_filter = []
        if _has_tables(engine, "handoff_tickets"):
            if senders:
                ticket_filter.append(HandoffTicket.sender_id.in_(senders))
            if address:
                ticket_filter.append(HandoffTicket.follow_up_email == address)
            if customer is not None:
                ticket_filter.append(HandoffTicket.customer_id == customer.id)
        if ticket_filter:
            tickets = session.execute(select(HandoffTicket.id, HandoffTicket.sender_id)
                                      .where(or_(*ticket_filter))).all()
            result.tickets = len(tickets)
            result.linked_conversations = {sender for _, sender in tickets}
            if apply and tickets:
                session.execute(delete(HandoffTicket).where(HandoffTicket.id.in_([t for t, _ in tickets])))
        if senders and _has_tables(engine, "feedback"):
            query = select(Feedback.id).where(Feedback.sender_id.in_(senders))
            feedback = session.execute(query).scalars().all()
            result.feedback = len(feedback)
            if apply and feedback:
                session.execute(delete(Feedback).where(Feedback.id.in_(feedback)))
        if senders and apply and _has_tables(engine, "verification_locks"):
            session.execute(delete(VerificationLock).where(VerificationLock.conversation_id.in_(senders)))
        if senders and apply and _has_tables(engine, "verification_failures"):
            session.execute(
                delete(VerificationFailure).where(VerificationFailure.conversation_id.in_(senders))
            )
        if customer is not None:
            query = select(Order.id, Order.order_number, Order.status).where(Order.customer_id == customer.id)
            orders = session.execute(query.order_by(Order.order_number)).all()
            result.customer_id = customer.id
            result.orders_anonymised = [number for _, number, _ in orders]
            result.open_orders = [f"{number} ({status})" for _, number, status in orders
                                  if status in OPEN_ORDER_STATUSES]
            order_ids = [order_id for order_id, _, _ in orders]
            returns = []
            if order_ids:
                query = select(Return.id).where(Return.order_id.in_(order_ids))
                returns = session.execute(query).scalars().all()
            result.returns_cleared = len(returns)
            if result.open_orders and not include_open_orders:
                raise OpenOrdersError(
                    f"customer #{customer.id} has orders still on their way: "
                    f"{', '.join(result.open_orders)}. "
                    "Erase after they are delivered or cancelled, or pass --include-open-orders.")
            if apply:
                if order_ids:
                    session.execute(update(Order).where(Order.id.in_(order_ids))
                                    .values(shipping_address=ERASED_ADDRESS))
                if returns:
                    theirs = Return.id.in_(returns)
                    session.execute(update(Return).where(theirs).values(reason_note=None))
                    free_text = Return.reason.notin_(RETURN_REASONS)  # written before reason codes existed
                    session.execute(update(Return).where(theirs, free_text).values(reason=OTHER))
                session.execute(update(Customer).where(Customer.id == customer.id)
                                .values(name=ERASED_NAME, email=erased_email(customer.id)))
    return result
