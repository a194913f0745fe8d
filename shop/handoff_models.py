"""SQLAlchemy model of a handoff ticket: one conversation waiting for, or held by, a person.

The table shares :data:`shop.models.Base`, so :func:`shop.db.create_schema` creates it with the shop tables
(the ``shop`` package imports this module, which registers the table on ``Base.metadata``).

At most one *open* ticket (``waiting`` or ``active``) per conversation is a schema rule, not only a check
in code: ``open_sender`` holds the conversation id while the ticket is open and NULL afterwards, and it is
unique (NULLs never collide in SQLite or PostgreSQL). A retried or doubled ``action_handoff`` therefore
cannot open a second ticket, whatever the timing.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)

from shop.models import Base

#: Ticket life cycle: ``waiting`` (in the queue) -> ``active`` (claimed by an agent) -> ``handed_back`` (the
#: bot answers again) -> ``closed`` (resolution recorded). ``waiting``/``active`` may also be closed directly.
TICKET_STATUSES = ("waiting", "active", "handed_back", "closed")
OPEN_TICKET_STATUSES = ("waiting", "active")

_OPEN = "status IN ('waiting', 'active')"  # constants above, never user input


class HandoffTicket(Base):
    """A request for a person. ``sender_id`` is Rasa's conversation id.

    ``history`` is a JSON list of ``{"intent", "emotion", "at"}`` per user turn of the session;
    ``summary`` is the last few shopper messages, one per line, with e-mail addresses and long numbers
    masked. ``customer_id``/``order_number`` are only set when the shopper verified an order.
    ``follow_up`` is ``"email"`` when the request came outside business hours and a colleague answers by
    e-mail (``follow_up_email``, when known).
    """

    __tablename__ = "handoff_tickets"
    id = Column(Integer, primary_key=True)
    sender_id = Column(String(255), nullable=False, index=True)
    open_sender = Column(String(255), unique=True)
    status = Column(String(12), nullable=False)
    reason = Column(String(40), nullable=False)
    emotion = Column(String(20))
    history = Column(JSON, nullable=False, default=list)
    summary = Column(Text, nullable=False, default="")
    channel = Column(String(60))
    customer_id = Column(Integer, ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    order_number = Column(String(9))
    after_hours = Column(Boolean, nullable=False, default=False)
    follow_up = Column(String(12))
    follow_up_email = Column(String(254))
    agent = Column(String(60))
    resolution = Column(Text)
    created_at = Column(DateTime, nullable=False)
    claimed_at = Column(DateTime)
    handed_back_at = Column(DateTime)
    closed_at = Column(DateTime)

    __table_args__ = (
        CheckConstraint(
            "status IN ('waiting', 'active', 'handed_back', 'closed')", name="ck_handoff_tickets_status"
        ),
        CheckConstraint(
            f"({_OPEN} AND open_sender IS NOT NULL) OR (NOT {_OPEN} AND open_sender IS NULL)",
            name="ck_handoff_tickets_open_sender",
        ),
        CheckConstraint("status = 'waiting' OR agent IS NOT NULL", name="ck_handoff_tickets_agent"),
        Index("ix_handoff_tickets_status_created", "status", "created_at"),
    )
