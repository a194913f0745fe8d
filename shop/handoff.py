"""Handoff tickets: the queue of conversations that wait for, or are held by, a person.

``action_handoff`` opens tickets, the agent console lists, claims, hands back and closes them; both call
only :class:`HandoffDesk`, which owns every query (one explicit transaction per call) and returns frozen
:class:`TicketInfo` values, never ORM objects. Concurrency is settled by the database: one open ticket per
conversation is a unique constraint, and state changes are conditional updates (two agents claiming the
same ticket at once: exactly one wins).

Configuration (environment variables, read by :meth:`HandoffSettings.from_env`):

``HANDOFF_BUSINESS_HOURS``   when people answer, e.g. ``Mon-Fri 09:00-18:00; Sat 10:00-14:00``.
                             Unset or empty: always staffed.
``HANDOFF_TIMEZONE``         IANA time zone of those hours (default ``UTC``).
``HANDOFF_WEBHOOK_URL``      optional; receives every new ticket as JSON (POST).
``HANDOFF_WEBHOOK_TIMEOUT``  seconds the webhook may take (default 2); failures are logged only.
``HANDOFF_WEBHOOK_SECRET``   optional; the body is signed with HMAC-SHA256 in ``X-ShopAssist-Signature``
                             (``sha256=<hex>``).
``HANDOFF_WAIT_BASE_MINUTES`` / ``HANDOFF_WAIT_PER_TICKET_MINUTES``
                             the wait a shopper is told: base + per ticket ahead in the queue (3 / 4).
``SHOP_SUPPORT_EMAIL``       where shoppers can write when no one is there (default
                             ``support@shopassist.example``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.orm import Session

from shop.config import database_url
from shop.db import get_engine, session_factory
from shop.errors import ShopUnavailableError, describe_url, translate_db_errors
from shop.handoff_models import OPEN_TICKET_STATUSES, TICKET_STATUSES, HandoffTicket
from shop.models import Customer
from shop.privacy import mask_email, mask_personal_data
from shop.shopper_text import normalize_order_id
from shop.vocabulary import normalize_email

__all__ = [
    "OPEN_TICKET_STATUSES",
    "TICKET_STATUSES",
    "BusinessHours",
    "HandoffDesk",
    "HandoffSettings",
    "OpenedTicket",
    "TicketInfo",
    "TicketNotFoundError",
    "TicketRequest",
    "TicketStateError",
    "mask_personal_data",
    "post_webhook",
]

logger = logging.getLogger(__name__)

BUSINESS_HOURS_ENV = "HANDOFF_BUSINESS_HOURS"
TIMEZONE_ENV = "HANDOFF_TIMEZONE"
WEBHOOK_URL_ENV = "HANDOFF_WEBHOOK_URL"
WEBHOOK_TIMEOUT_ENV = "HANDOFF_WEBHOOK_TIMEOUT"
WEBHOOK_SECRET_ENV = "HANDOFF_WEBHOOK_SECRET"
WAIT_BASE_ENV = "HANDOFF_WAIT_BASE_MINUTES"
WAIT_PER_TICKET_ENV = "HANDOFF_WAIT_PER_TICKET_MINUTES"
SUPPORT_EMAIL_ENV = "SHOP_SUPPORT_EMAIL"

DEFAULT_TIMEZONE = "UTC"
DEFAULT_WEBHOOK_TIMEOUT_S = 2.0
DEFAULT_WAIT_BASE_MINUTES = 3
DEFAULT_WAIT_PER_TICKET_MINUTES = 4
DEFAULT_SUPPORT_EMAIL = "support@shopassist.example"
WEBHOOK_SIGNATURE_HEADER = "X-ShopAssist-Signature"

#: Longest reason, agent name and resolution stored (longer values are cut).
MAX_REASON_LENGTH = 40
MAX_AGENT_LENGTH = 60
MAX_RESOLUTION_LENGTH = 2000
#: User turns kept in a ticket's intent/emotion history, and shopper messages in its summary.
MAX_HISTORY_TURNS = 20
MAX_SUMMARY_MESSAGES = 5
MAX_SUMMARY_MESSAGE_LENGTH = 200




# ---------------------------------------------------------------------------------------------- hours
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_SEGMENT = re.compile(r"^\s*(?P<days>[A-Za-z][A-Za-z ,\-]*?)\s+(?P<times>\d.*?)\s*$")
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _day(token: str, spec: str) -> int:
    key = token.strip().lower()[:3]
    if key not in _DAYS:
        raise ValueError(f"unknown day {token.strip()!r} in business hours {spec!r}")
    return _DAYS.index(key)


def _days(text: str, spec: str) -> list[int]:
    if text.strip().lower() in ("daily", "every day"):
        return list(range(7))
    days: list[int] = []
    for part in text.split(","):
        if "-" in part:
            first, last = (_day(token, spec) for token in part.split("-", 1))
            days += [(first + offset) % 7 for offset in range((last - first) % 7 + 1)]
        else:
            days.append(_day(part, spec))
    return days


def _minutes(hours: str, minutes: str, spec: str) -> int:
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > 24 * 60:
        raise ValueError(f"invalid time {hours}:{minutes} in business hours {spec!r}")
    return value


@dataclass(frozen=True)
class BusinessHours:
    """Opening hours per weekday (0 = Monday) as ``(start, end)`` minutes after midnight, local time.

    ``spans`` is None when the desk is always staffed (no hours configured).
    """

    spec: str
    tz_name: str
    spans: tuple[tuple[int, int, int], ...] | None

    @classmethod
    def parse(cls, spec: str | None, tz_name: str = DEFAULT_TIMEZONE) -> BusinessHours:
        """Parse ``Mon-Fri 09:00-18:00; Sat 10:00-14:00`` (days: ranges ``Mon-Fri``, lists ``Mon,Wed``,
        ``daily``; several time ranges per segment separated by commas). Raises ValueError."""
        ZoneInfo(tz_name)  # raises for an unknown zone
        text = (spec or "").strip()
        if not text:
            return cls("", tz_name, None)
        spans: list[tuple[int, int, int]] = []
        for segment in text.split(";"):
            if not segment.strip():
                continue
            match = _SEGMENT.match(segment)
            if match is None:
                raise ValueError(f"cannot read business hours {text!r} (example: 'Mon-Fri 09:00-18:00')")
            days = _days(match.group("days"), text)
            for times in match.group("times").split(","):
                span = _SPAN.match(times)
                if span is None:
                    raise ValueError(f"cannot read the time range {times.strip()!r} in {text!r}")
                start = _minutes(span.group(1), span.group(2), text)
                end = _minutes(span.group(3), span.group(4), text)
                if end <= start:
                    raise ValueError(f"time range {times.strip()!r} in {text!r} ends before it starts")
                spans += [(day, start, end) for day in days]
        if not spans:
            raise ValueError(f"business hours {text!r} name no opening times")
        return cls(text, tz_name, tuple(sorted(spans)))

    @property
    def always_open(self) -> bool:
        return self.spans is None

    def _local(self, now: datetime) -> datetime:
        aware = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
        return aware.astimezone(ZoneInfo(self.tz_name))

    def is_open(self, now: datetime) -> bool:
        """Whether people answer at ``now`` (aware; naive means UTC)."""
        if self.spans is None:
            return True
        local = self._local(now)
        minute = local.hour * 60 + local.minute
        return any(day == local.weekday() and start <= minute < end for day, start, end in self.spans)

    def next_opening(self, now: datetime) -> datetime | None:
        """The next moment (local time) the desk opens after ``now``; None when always open."""
        if self.spans is None:
            return None
        local = self._local(now)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        for offset in range(8):
            day = midnight + timedelta(days=offset)
            for weekday, start, _end in self.spans:
                if weekday == day.weekday():
                    opening = day + timedelta(minutes=start)
                    if opening > local:
                        return opening
        return None  # pragma: no cover - every week has an opening when spans is not empty

    def describe(self) -> str:
        """The hours as configured, with the time zone: ``Mon-Fri 09:00-18:00 (Europe/Berlin)``."""
        return "around the clock" if self.spans is None else f"{self.spec} ({self.tz_name})"


def describe_opening(moment: datetime | None) -> str:
    """``Monday at 09:00`` (shopper-facing)."""
    if moment is None:
        return "soon"
    return f"{_DAY_NAMES[moment.weekday()]} at {moment:%H:%M}"


# ---------------------------------------------------------------------------------------------- settings
def _env_float(name: str, default: float, minimum: float = 0.0) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return max(minimum, float(raw))
    except ValueError:
        logger.warning("ignoring %s=%r (not a number)", name, raw)
        return default


@dataclass(frozen=True)
class HandoffSettings:
    """Everything configurable about handing over; see the module docstring for the variables."""

    hours: BusinessHours = field(default_factory=lambda: BusinessHours("", DEFAULT_TIMEZONE, None))
    webhook_url: str | None = None
    webhook_timeout_s: float = DEFAULT_WEBHOOK_TIMEOUT_S
    webhook_secret: str | None = None
    wait_base_minutes: float = DEFAULT_WAIT_BASE_MINUTES
    wait_per_ticket_minutes: float = DEFAULT_WAIT_PER_TICKET_MINUTES
    support_email: str = DEFAULT_SUPPORT_EMAIL

    @classmethod
    def from_env(cls) -> HandoffSettings:
        """Read the environment. Invalid business hours or time zone are logged and ignored (always
        staffed) rather than breaking the handoff itself."""
        tz_name = os.environ.get(TIMEZONE_ENV, "").strip() or DEFAULT_TIMEZONE
        spec = os.environ.get(BUSINESS_HOURS_ENV, "")
        try:
            hours = BusinessHours.parse(spec, tz_name)
        except (ValueError, ZoneInfoNotFoundError) as exc:
            logger.error("ignoring %s / %s: %s", BUSINESS_HOURS_ENV, TIMEZONE_ENV, exc)
            hours = BusinessHours("", DEFAULT_TIMEZONE, None)
        return cls(
            hours=hours,
            webhook_url=os.environ.get(WEBHOOK_URL_ENV, "").strip() or None,
            webhook_timeout_s=_env_float(WEBHOOK_TIMEOUT_ENV, DEFAULT_WEBHOOK_TIMEOUT_S, 0.1),
            webhook_secret=os.environ.get(WEBHOOK_SECRET_ENV, "").strip() or None,
            wait_base_minutes=_env_float(WAIT_BASE_ENV, DEFAULT_WAIT_BASE_MINUTES),
            wait_per_ticket_minutes=_env_float(WAIT_PER_TICKET_ENV, DEFAULT_WAIT_PER_TICKET_MINUTES),
            support_email=os.environ.get(SUPPORT_EMAIL_ENV, "").strip() or DEFAULT_SUPPORT_EMAIL,
        )

    def expected_wait(self, tickets_ahead: int) -> str:
        """The wait a shopper is told, e.g. ``about 7 minutes``."""
        minutes = round(self.wait_base_minutes + max(0, tickets_ahead) * self.wait_per_ticket_minutes)
        if minutes <= 1:
            return "about a minute"
        if minutes < 60:
            return f"about {minutes} minutes"
        hours = round(minutes / 60)
        return "about an hour" if hours <= 1 else f"about {hours} hours"


# ---------------------------------------------------------------------------------------------- values
@dataclass(frozen=True)
class TicketRequest:
    """What ``action_handoff`` knows when it opens a ticket.

    ``customer_email``/``order_id`` only when the shopper verified the order; ``history`` entries are
    ``{"intent", "emotion", "at"}``; ``summary`` is already masked (see :func:`mask_personal_data`).
    """

    sender_id: str
    reason: str
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    emotion: str | None = None
    channel: str | None = None
    customer_email: str | None = None
    order_id: str | None = None
    after_hours: bool = False


@dataclass(frozen=True)
class TicketInfo:
    """A ticket as the action, the console and the webhook see it (UTC-aware datetimes)."""

    id: int
    sender_id: str
    status: str
    reason: str
    emotion: str | None
    history: list[dict[str, Any]]
    summary: list[str]
    channel: str | None
    customer_name: str | None
    customer_email: str | None
    order_id: str | None
    after_hours: bool
    follow_up: str | None
    follow_up_email: str | None
    agent: str | None
    resolution: str | None
    created_at: datetime
    claimed_at: datetime | None
    handed_back_at: datetime | None
    closed_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_TICKET_STATUSES

    @property
    def holds_conversation(self) -> bool:
        """Whether the bot is paused for this ticket (open, and not an after-hours e-mail follow-up)."""
        return self.is_open and not self.after_hours

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        """JSON-ready dict; ``waiting_seconds`` counts from creation until claimed (or ``now``)."""
        data = asdict(self)
        for key in ("created_at", "claimed_at", "handed_back_at", "closed_at"):
            value = data[key]
            data[key] = value.isoformat() if value is not None else None
        end = self.claimed_at or self.closed_at or now or datetime.now(timezone.utc)
        data["waiting_seconds"] = max(0, int((end - self.created_at).total_seconds()))
        return data

    def to_webhook_payload(self) -> dict[str, Any]:
        """What the webhook receives (it may be a chat channel): the ticket without the customer's name and
        with masked e-mail addresses; agents see the rest in the console."""
        data = self.to_dict()
        data.pop("customer_name")
        data["customer_email"] = mask_email(self.customer_email) if self.customer_email else None
        data["follow_up_email"] = mask_email(self.follow_up_email) if self.follow_up_email else None
        return {"event": "handoff.ticket_created", "ticket": data}


@dataclass(frozen=True)
class OpenedTicket:
    """Result of :meth:`HandoffDesk.open_ticket`: ``created`` is False when the conversation already had
    an open ticket (which comes back); ``waiting_ahead`` counts older waiting tickets."""

    ticket: TicketInfo
    created: bool
    waiting_ahead: int


class TicketNotFoundError(LookupError):
    """No ticket with that id."""


class TicketStateError(RuntimeError):
    """The ticket is not in a state that allows the operation (``ticket`` is its current state)."""

    def __init__(self, message: str, ticket: TicketInfo) -> None:
        super().__init__(message)
        self.ticket = ticket


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=timezone.utc) if value is not None else None


def _info(ticket: HandoffTicket, customer: Customer | None) -> TicketInfo:
    summary = [line for line in (ticket.summary or "").split("\n") if line]
    return TicketInfo(
        id=ticket.id,
        sender_id=ticket.sender_id,
        status=ticket.status,
        reason=ticket.reason,
        emotion=ticket.emotion,
        history=list(ticket.history or []),
        summary=summary,
        channel=ticket.channel,
        customer_name=customer.name if customer is not None else None,
        customer_email=customer.email if customer is not None else None,
        order_id=ticket.order_number,
        after_hours=bool(ticket.after_hours),
        follow_up=ticket.follow_up,
        follow_up_email=ticket.follow_up_email,
        agent=ticket.agent,
        resolution=ticket.resolution,
        created_at=_aware(ticket.created_at),
        claimed_at=_aware(ticket.claimed_at),
        handed_back_at=_aware(ticket.handed_back_at),
        closed_at=_aware(ticket.closed_at),
    )


def _one_line(value: Any, limit: int) -> str:
    text = "" if value is None else str(value)
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())[:limit]


# ---------------------------------------------------------------------------------------------- desk
_schema_ready: set[str] = set()
_schema_lock = threading.Lock()


class HandoffDesk:
    """Facade over the ticket table; cheap to create (engines are cached per URL) and thread-safe."""

    def __init__(self, db_url: str | None = None, *, clock: Callable[[], datetime] | None = None) -> None:
        """``db_url``: SQLAlchemy URL (None: ``$SHOP_DB_URL``, else the local SQLite file).
        ``clock``: returns the current time (tests); defaults to the UTC wall clock."""
        self.db_url = database_url(db_url)
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        with translate_db_errors(self.db_url):
            self._engine = get_engine(self.db_url)
            self._sessions = session_factory(self._engine)

    def now(self) -> datetime:
        """The current time, UTC-aware."""
        value = self._clock()
        return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)

    def _naive_now(self) -> datetime:
        return self.now().replace(tzinfo=None)

    def _ensure_table(self) -> None:
        """Create the ticket table in a database seeded before tickets existed (once per process)."""
        if self.db_url in _schema_ready:
            return
        with _schema_lock:
            if self.db_url in _schema_ready:
                return
            try:
                HandoffTicket.__table__.create(self._engine, checkfirst=True)
            except ProgrammingError:
                raise ShopUnavailableError(
                    f"The shop database ({describe_url(self.db_url)}) is not initialised."
                ) from None
            _schema_ready.add(self.db_url)

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with translate_db_errors(self.db_url):
            self._ensure_table()
            with self._sessions() as session, session.begin():
                yield session

    @staticmethod
    def _load(session: Session, ticket_id: int) -> tuple[HandoffTicket, Customer | None]:
        row = session.execute(
            select(HandoffTicket, Customer)
            .outerjoin(Customer, Customer.id == HandoffTicket.customer_id)
            .where(HandoffTicket.id == ticket_id)
        ).first()
        if row is None:
            raise TicketNotFoundError(f"no handoff ticket {ticket_id}")
        return row[0], row[1]

    # ---------------------------------------------------------------------------------- reading
    def get(self, ticket_id: int) -> TicketInfo:
        """One ticket; raises :class:`TicketNotFoundError`."""
        with self._transaction() as session:
            return _info(*self._load(session, int(ticket_id)))

    def queue(self, statuses: Sequence[str] = OPEN_TICKET_STATUSES) -> list[TicketInfo]:
        """Tickets in ``statuses`` (default: waiting and active), oldest first."""
        wanted = [status for status in statuses if status in TICKET_STATUSES]
        with self._transaction() as session:
            rows = session.execute(
                select(HandoffTicket, Customer)
                .outerjoin(Customer, Customer.id == HandoffTicket.customer_id)
                .where(HandoffTicket.status.in_(wanted))
                .order_by(HandoffTicket.created_at, HandoffTicket.id)
            ).all()
            return [_info(ticket, customer) for ticket, customer in rows]

    def open_ticket_for(self, sender_id: str) -> TicketInfo | None:
        """The open ticket of a conversation, if any."""
        with self._transaction() as session:
            ticket_id = session.execute(
                select(HandoffTicket.id).where(HandoffTicket.open_sender == str(sender_id))
            ).scalar_one_or_none()
            return None if ticket_id is None else _info(*self._load(session, ticket_id))

    @staticmethod
    def _waiting_ahead(session: Session, ticket_id: int) -> int:
        return session.execute(
            select(func.count())
            .select_from(HandoffTicket)
            .where(HandoffTicket.status == "waiting", HandoffTicket.id < ticket_id)
        ).scalar_one()

    # ---------------------------------------------------------------------------------- writing
    def open_ticket(self, request: TicketRequest) -> OpenedTicket:
        """Open a ticket for the conversation, or return its open one (idempotent, race-safe)."""
        sender = str(request.sender_id or "unknown")[:255]
        for _attempt in range(2):
            try:
                with self._transaction() as session:
                    existing = session.execute(
                        select(HandoffTicket.id).where(HandoffTicket.open_sender == sender)
                    ).scalar_one_or_none()
                    if existing is not None:
                        ticket, customer = self._load(session, existing)
                        ahead = self._waiting_ahead(session, existing)
                        return OpenedTicket(_info(ticket, customer), False, ahead)
                    customer = None
                    email = normalize_email(request.customer_email) if request.customer_email else None
                    if email:
                        customer = session.execute(
                            select(Customer).where(Customer.email == email)
                        ).scalar_one_or_none()
                    order_id = normalize_order_id(request.order_id) if request.order_id else None
                    ticket = HandoffTicket(
                        sender_id=sender,
                        open_sender=sender,
                        status="waiting",
                        reason=_one_line(request.reason, MAX_REASON_LENGTH) or "requested",
                        emotion=_one_line(request.emotion, 20) or None,
                        history=list(request.history)[-MAX_HISTORY_TURNS:],
                        summary="\n".join(
                            _one_line(line, MAX_SUMMARY_MESSAGE_LENGTH)
                            for line in request.summary[-MAX_SUMMARY_MESSAGES:]
                            if _one_line(line, MAX_SUMMARY_MESSAGE_LENGTH)
                        ),
                        channel=_one_line(request.channel, 60) or None,
                        customer_id=customer.id if customer is not None else None,
                        order_number=order_id if customer is not None else None,
                        after_hours=bool(request.after_hours),
                        follow_up="email" if request.after_hours else None,
                        follow_up_email=customer.email if (request.after_hours and customer) else None,
                        created_at=self._naive_now(),
                    )
                    session.add(ticket)
                    session.flush()
                    logger.info(
                        "handoff ticket %s opened (%s, reason %s%s)",
                        ticket.id,
                        "after hours" if request.after_hours else "in hours",
                        ticket.reason,
                        f", customer {mask_email(customer.email)}" if customer is not None else "",
                    )
                    ahead = self._waiting_ahead(session, ticket.id)
                    return OpenedTicket(_info(ticket, customer), True, ahead)
            except IntegrityError:
                # Another process opened this conversation's ticket between our check and insert.
                logger.info("handoff ticket for this conversation was opened concurrently")
        existing_ticket = self.open_ticket_for(sender)
        if existing_ticket is None:  # pragma: no cover - the constraint fired, so a ticket exists
            raise RuntimeError("could not open a handoff ticket")
        return OpenedTicket(existing_ticket, False, 0)

    def _transition(
        self,
        ticket_id: int,
        allowed: Callable[[HandoffTicket], str | None],
        values: dict[str, Any],
    ) -> TicketInfo:
        """Apply ``values`` when ``allowed(ticket)`` returns None (else it is the refusal message), as a
        conditional update on the status read, so a concurrent change makes this one fail cleanly."""
        with self._transaction() as session:
            ticket, customer = self._load(session, int(ticket_id))
            refusal = allowed(ticket)
            if refusal is not None:
                raise TicketStateError(refusal, _info(ticket, customer))
            result = session.execute(
                update(HandoffTicket)
                .where(HandoffTicket.id == ticket.id, HandoffTicket.status == ticket.status)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                session.expire(ticket)
                raise TicketStateError("the ticket was changed by someone else", _info(ticket, customer))
            session.expire(ticket)
            return _info(*self._load(session, ticket.id))

    def claim(self, ticket_id: int, agent: str) -> TicketInfo:
        """A waiting ticket becomes ``active``, held by ``agent``; claiming one's own ticket again is a
        no-op. Raises :class:`TicketStateError` when someone else holds it or it is no longer open."""
        name = _one_line(agent, MAX_AGENT_LENGTH)
        if not name:
            raise ValueError("agent name is empty")
        current = self.get(ticket_id)
        if current.status == "active" and current.agent == name:
            return current

        def allowed(ticket: HandoffTicket) -> str | None:
            if ticket.status == "active":
                return f"ticket {ticket.id} is already held by {ticket.agent}"
            if ticket.status != "waiting":
                return f"ticket {ticket.id} is {ticket.status}"
            return None

        info = self._transition(
            ticket_id, allowed, {"status": "active", "agent": name, "claimed_at": self._naive_now()}
        )
        logger.info("handoff ticket %s claimed by %s", info.id, name)
        return info

    def hand_back(self, ticket_id: int, agent: str) -> TicketInfo:
        """An active ticket held by ``agent`` becomes ``handed_back`` (the bot answers again)."""
        name = _one_line(agent, MAX_AGENT_LENGTH)

        def allowed(ticket: HandoffTicket) -> str | None:
            if ticket.status != "active":
                return f"ticket {ticket.id} is {ticket.status}; claim it first"
            if ticket.agent != name:
                return f"ticket {ticket.id} is held by {ticket.agent}"
            return None

        info = self._transition(
            ticket_id,
            allowed,
            {"status": "handed_back", "open_sender": None, "handed_back_at": self._naive_now()},
        )
        logger.info("handoff ticket %s handed back to the bot by %s", info.id, name)
        return info

    def close(self, ticket_id: int, agent: str, resolution: str) -> TicketInfo:
        """Record the resolution and close: waiting and handed-back tickets by any agent, active ones only
        by their holder. Raises :class:`TicketStateError` for a closed ticket."""
        name = _one_line(agent, MAX_AGENT_LENGTH)
        text = (resolution or "").strip()[:MAX_RESOLUTION_LENGTH]
        if not name or not text:
            raise ValueError("closing a ticket needs an agent and a resolution")

        def allowed(ticket: HandoffTicket) -> str | None:
            if ticket.status == "closed":
                return f"ticket {ticket.id} is already closed"
            if ticket.status == "active" and ticket.agent != name:
                return f"ticket {ticket.id} is held by {ticket.agent}"
            return None

        info = self._transition(
            ticket_id,
            allowed,
            {
                "status": "closed",
                "open_sender": None,
                "agent": func.coalesce(HandoffTicket.agent, name),
                "resolution": text,
                "closed_at": self._naive_now(),
            },
        )
        logger.info("handoff ticket %s closed by %s", info.id, name)
        return info


# ---------------------------------------------------------------------------------------------- webhook
async def post_webhook(settings: HandoffSettings, ticket: TicketInfo) -> bool:
    """POST the new ticket to ``settings.webhook_url`` (if any) within the configured timeout.

    Returns True when the webhook answered 2xx. Failures are logged (without personal data) and never
    raised: the shopper's reply must not depend on a notification.
    """
    if not settings.webhook_url:
        return False
    import aiohttp  # imported here: only needed when a webhook is configured

    body = json.dumps(ticket.to_webhook_payload(), separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"}
    if settings.webhook_secret:
        digest = hmac.new(settings.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        headers[WEBHOOK_SIGNATURE_HEADER] = f"sha256={digest}"
    try:
        timeout = aiohttp.ClientTimeout(total=settings.webhook_timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            async with http.post(settings.webhook_url, data=body, headers=headers) as response:
                if 200 <= response.status < 300:
                    return True
                logger.warning("handoff webhook answered HTTP %s for ticket %s", response.status, ticket.id)
    except Exception as exc:  # any failure of a notification is only logged
        logger.warning("handoff webhook failed for ticket %s: %s", ticket.id, type(exc).__name__)
    return False
