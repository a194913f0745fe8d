"""Conversation analytics for conversation designers: `shopassist report`.

Reads the ``events`` table of Rasa's SQL tracker store (``rasa.core.tracker_store.SQLTrackerStore``: one
row per event, columns ``sender_id``, ``type_name``, ``timestamp``, ``intent_name``, ``action_name`` and
``data``, the event as JSON) through SQLAlchemy, one sender at a time, and folds every conversation
into running aggregates as soon as its last event has been read, so memory does not grow with the number
of events. Writes a self-contained HTML page (plots as inline PNG) and returns a :class:`Report` whose
:meth:`Report.summary` is the terminal summary.

Definitions (also printed in the HTML):

* a *conversation* is one session of a ``sender_id`` with at least one shopper message inside the date
  range: a ``restart`` event (``/restart``) or a ``session_started`` event starts a new one, so a shopper
  who restarts ``rasa shell`` 17 times had 17 conversations (events are filtered by their timestamp;
  ``--until`` is inclusive, whole UTC days);
* *control commands* (Rasa's ``restart``, ``session_start`` and ``back`` intents, and ``/stop``) steer the
  assistant; they are counted apart and are neither shopper turns nor intents;
* *handed off*: an ``action_handoff`` ``ActionExecuted`` event; *contained*: not handed off;
* the handoff *trigger*: ``metadata.handoff_reason`` of that event (set by the HandoffPolicy), else the
  latest ``handoff_reason`` slot value set before it, else ``requested``;
* a *fallback turn*: a user message with intent ``nlu_fallback``, or one answered by
  ``action_default_fallback``;
* an *unsure help-page answer*: a reply from the help pages whose retrieval score (``knowledge_score`` in
  the bot event's metadata, recorded by ``actions/knowledge.py``) is below ``--unsure-below``; the right
  page is then little better than a coin toss;
* the texts of both go to "not understood" (e-mails, phone and card numbers masked);
* *turns to resolution*: shopper messages of a contained conversation;
* *CSAT*: the ratings of the shop database's ``feedback`` table, without the demo feedback that
  ``shopassist seed`` writes (conversation ids ``seed-...``) unless ``--include-seed``; rating comments
  are listed.
"""
from __future__ import annotations

import base64
import html
import io
import json
import logging
import os
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import sqlalchemy as sa

from shop.privacy import mask_personal_data

logger = logging.getLogger(__name__)

HANDOFF_ACTION = "action_handoff"
FALLBACK_INTENT = "nlu_fallback"
FALLBACK_ACTION = "action_default_fallback"
REASON_SLOT = "handoff_reason"
DEFAULT_REASON = "requested"
UNKNOWN_EMOTION = "unknown"
#: Events that start a new conversation within one sender's tracker: ``Restarted`` (``/restart``) and
#: ``SessionStarted`` (first message, or the first one after the session expired).
CONVERSATION_START_EVENTS = frozenset({"restart", "session_started"})
#: Intents that steer the assistant instead of asking it something: Rasa's default intents ``restart``,
#: ``session_start`` and ``back`` (rasa.shared.core.constants) and the ``/stop`` that ends ``rasa shell``.
#: ``out_of_scope`` and ``nlu_fallback`` are Rasa defaults too, but they are real shopper messages.
CONTROL_INTENTS = frozenset({"restart", "session_start", "back", "stop"})
#: Bot event metadata with the retrieval score of a help-page answer (actions/knowledge.py).
KNOWLEDGE_SCORE_KEY = "knowledge_score"
#: Default ``--unsure-below``: help-page answers scoring below it count as not understood. Measured on
#: bench/knowledge with the shipped hybrid score: answers below 0.45 showed the right page for 7 of 17
#: messages (tuning set, off-topic ones included) and 4 of 13 (held-out set); at 0.45 and above for 64 of 71
#: and 51 of 55. Keyword-only scores (no encoder) are lower, so more of their answers count as unsure.
UNSURE_ANSWER_SCORE = 0.45
#: Conversation ids of the demo feedback that ``shopassist seed`` writes (shop/seed.py: ``seed-001``, ...).
SEED_SENDER_PREFIX = "seed-"
#: Feedback comments listed in the report at most (the newest).
MAX_COMMENTS = 100
#: Confidence histogram bins per intent: [0, 0.1), ..., [0.9, 1.0].
CONFIDENCE_BINS = 10
#: Distinct not-understood texts kept while scanning; beyond it, texts seen once are dropped.
MAX_DISTINCT_TEXTS = 50_000
CHUNK_SIZE = 10_000

EVENTS = sa.Table(
    "events",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255)),
    sa.Column("type_name", sa.String(255)),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data", sa.Text),
)


def mask_text(text: str) -> str:
    """Shopper text with e-mail addresses, phone and card numbers masked (``shop.privacy``)."""
    return mask_personal_data(text)


def normalise_text(text: Any) -> str:
    return " ".join(str(text or "").split())[:300]


def tracker_store_url(endpoints: str | Path = "endpoints.yml") -> str:
    """The SQLAlchemy URL of the SQL tracker store configured in *endpoints* (Rasa's defaults)."""
    import yaml

    path = Path(endpoints)
    config: Dict[str, Any] = {}
    if path.exists():
        loaded = yaml.safe_load(os.path.expandvars(path.read_text(encoding="utf-8"))) or {}
        config = loaded.get("tracker_store") or {}
    if str(config.get("type", "")) == "serving.stores.EnvTrackerStore":
        from serving.settings import tracker_store_url as from_environment

        return from_environment()  # $SHOPASSIST_TRACKER_STORE_URL, else the SQLite file under .state/
    if config and str(config.get("type", "")).lower() not in ("sql", ""):
        raise ValueError(f"the tracker store in {path} is {config.get('type')!r}, not SQL")
    dialect = config.get("dialect", "sqlite")
    host, db = config.get("url"), config.get("db", "rasa.db")
    if host and "://" in str(host):
        return str(host)
    if dialect == "sqlite":
        return f"sqlite:///{db}"
    url = sa.engine.URL.create(
        drivername=dialect, username=config.get("username"), password=config.get("password"),
        host=host, port=config.get("port"), database=db,
    )
    return url.render_as_string(hide_password=False)


def parse_day(value: str) -> date:
    return datetime.strptime(value, "%Y-%m-%d").date()


def _day_start(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()


@dataclass
class Report:
    """Aggregates over all conversations of the range (plain Python values)."""

    since: Optional[date] = None
    until: Optional[date] = None
    conversations: int = 0
    events: int = 0
    handed_off: int = 0
    user_turns: int = 0
    fallback_turns: int = 0
    conversations_with_fallback: int = 0
    per_day: Counter = field(default_factory=Counter)
    handoff_reasons: Counter = field(default_factory=Counter)
    intents: Counter = field(default_factory=Counter)
    confidence_hist: Dict[str, List[int]] = field(default_factory=dict)
    confidence_sum: Counter = field(default_factory=Counter)
    emotions: Counter = field(default_factory=Counter)
    emotion_per_day: Dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    emotion_per_intent: Dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    turns_to_resolution: List[int] = field(default_factory=list)
    not_understood: Counter = field(default_factory=Counter)
    #: Of ``not_understood``: how often each text got an unsure help-page answer.
    unsure_texts: Counter = field(default_factory=Counter)
    control_turns: int = 0
    unsure_answer_turns: int = 0
    unsure_below: float = UNSURE_ANSWER_SCORE
    csat: Optional[Dict[str, Any]] = None
    feedback: Optional[FeedbackSummary] = None
    seconds: float = 0.0

    # -- derived figures -------------------------------------------------------------------------------
    @property
    def contained(self) -> int:
        return self.conversations - self.handed_off

    def _rate(self, part: int, whole: int) -> float:
        return part / whole if whole else 0.0

    @property
    def containment_rate(self) -> float:
        return self._rate(self.contained, self.conversations)

    @property
    def handoff_rate(self) -> float:
        return self._rate(self.handed_off, self.conversations)

    @property
    def fallback_rate(self) -> float:
        """Share of user turns that were not understood."""
        return self._rate(self.fallback_turns, self.user_turns)

    @property
    def not_understood_turns(self) -> int:
        """Fallback turns plus unsure help-page answers."""
        return self.fallback_turns + self.unsure_answer_turns

    @property
    def median_turns_to_resolution(self) -> Optional[float]:
        return float(statistics.median(self.turns_to_resolution)) if self.turns_to_resolution else None

    def top_intents(self, limit: int = 10) -> List[Tuple[str, int, float]]:
        """(intent, user turns, mean confidence), most frequent first."""
        return [(name, count, self.confidence_sum[name] / count)
                for name, count in self.intents.most_common(limit)]

    def top_not_understood(self, limit: int = 20) -> List[Tuple[str, int]]:
        return sorted(self.not_understood.items(), key=lambda item: (-item[1], item[0]))[:limit]

    def emotion_mix(self) -> Dict[str, float]:
        total = sum(self.emotions.values())
        return {name: count / total for name, count in self.emotions.most_common()} if total else {}

    def summary(self) -> str:
        """The short terminal summary."""
        span = f"{self.since or 'start'} .. {self.until or 'now'}"
        lines = [
            f"ShopAssist report {span}: {self.conversations} conversations, {self.user_turns} user turns",
            f"  containment {self.containment_rate:.1%}   handoff {self.handoff_rate:.1%}   "
            f"fallback {self.fallback_rate:.1%} of turns ({self.conversations_with_fallback} conversations)",
            f"  not understood: {self.not_understood_turns} turns ({self.fallback_turns} fallback, "
            f"{self.unsure_answer_turns} unsure help-page answers below {self.unsure_below:.2f})",
        ]
        if self.control_turns:
            lines.append("  control commands (/restart, /session_start, /back, /stop), not counted as turns: "
                         f"{self.control_turns}")
        if self.handoff_reasons:
            reasons = ", ".join(f"{name} {count}" for name, count in self.handoff_reasons.most_common(5))
            lines.append(f"  handoff triggers: {reasons}")
        if self.intents:
            lines.append("  top intents: " + ", ".join(
                f"{name} {count} ({conf:.2f})" for name, count, conf in self.top_intents(5)))
        if self.emotions:
            lines.append("  emotions: " + ", ".join(f"{k} {v:.0%}" for k, v in self.emotion_mix().items()))
        median = self.median_turns_to_resolution
        lines.append(f"  median turns to resolution: {median if median is not None else '-'}")
        if self.csat:
            lines.append(f"  CSAT {self.csat['csat']:.1%} (mean {self.csat['mean']:.2f}, "
                         f"{self.csat['responses']} ratings)")
        if self.feedback is not None:
            lines.append(f"  feedback: {self.feedback.describe()}")
        lines.append(f"  scanned {self.events} events in {self.seconds:.1f} s")
        return "\n".join(lines)

    # -- incremental aggregation -----------------------------------------------------------------------
    def add_conversation(self, rows: Sequence[Tuple[str, float, Optional[str], Optional[str], Any]]) -> None:
        """Fold one sender's events (type_name, timestamp, intent_name, action_name, data) in: one
        conversation per session (see :func:`split_conversations`)."""
        self.events += len(rows)
        for conversation in split_conversations(rows):
            self._add_session(conversation)

    def _add_session(self, rows: Sequence[Tuple[str, float, Optional[str], Optional[str], Any]]) -> None:
        user_turns = 0
        fallback_turns = 0
        first_user_ts: Optional[float] = None
        handoff_reason: Optional[str] = None
        handed_off = False
        last_reason_slot: Optional[str] = None
        pending_text: Optional[str] = None  # text of the latest user turn not yet counted as not understood
        for type_name, timestamp, intent_name, action_name, data in rows:
            if type_name == "user":
                event = _loads(data)
                parse = event.get("parse_data") or {}
                intent = intent_name or (parse.get("intent") or {}).get("name") or "unknown"
                text = normalise_text(event.get("text"))
                pending_text = None
                if is_control_command(intent, text):
                    self.control_turns += 1
                    continue
                user_turns += 1
                if first_user_ts is None:
                    first_user_ts = timestamp or 0.0
                self._count_turn(intent, parse, _day(timestamp))
                if intent == FALLBACK_INTENT:
                    fallback_turns += 1
                    self._not_understood(text)
                else:
                    pending_text = text
            elif type_name == "bot":
                if pending_text is not None and self._unsure_answer(_loads(data).get("metadata")):
                    self.unsure_answer_turns += 1
                    self._not_understood(pending_text, unsure=True)
                    pending_text = None
            elif type_name == "action":
                if action_name == FALLBACK_ACTION and pending_text is not None:
                    fallback_turns += 1
                    self._not_understood(pending_text)
                    pending_text = None
                elif action_name == HANDOFF_ACTION and not handed_off:
                    handed_off = True
                    metadata = _loads(data).get("metadata") or {}
                    handoff_reason = metadata.get("handoff_reason") or last_reason_slot or DEFAULT_REASON
            elif type_name == "slot" and not handed_off:
                event = _loads(data)
                if event.get("name") == REASON_SLOT and event.get("value"):
                    last_reason_slot = str(event["value"])
        if not user_turns:
            return
        self.conversations += 1
        self.per_day[_day(first_user_ts)] += 1
        self.user_turns += user_turns
        self.fallback_turns += fallback_turns
        self.conversations_with_fallback += fallback_turns > 0
        if handed_off:
            self.handed_off += 1
            self.handoff_reasons[str(handoff_reason)] += 1
        else:
            self.turns_to_resolution.append(user_turns)

    def _count_turn(self, intent: str, parse: Dict[str, Any], day: str) -> None:
        """Intent, confidence and emotion of one shopper turn."""
        confidence = float((parse.get("intent") or {}).get("confidence") or 0.0)
        emotion = emotion_name(parse)
        self.intents[intent] += 1
        self.confidence_sum[intent] += confidence
        hist = self.confidence_hist.setdefault(intent, [0] * CONFIDENCE_BINS)
        hist[min(CONFIDENCE_BINS - 1, max(0, int(confidence * CONFIDENCE_BINS)))] += 1
        self.emotions[emotion] += 1
        self.emotion_per_day[day][emotion] += 1
        self.emotion_per_intent[intent][emotion] += 1

    def _unsure_answer(self, metadata: Any) -> bool:
        """Whether a bot message is a help-page answer whose retrieval score is below ``unsure_below``."""
        if not isinstance(metadata, dict):
            return False
        try:
            score = float(metadata[KNOWLEDGE_SCORE_KEY])
        except (KeyError, TypeError, ValueError):
            return False
        return score < self.unsure_below

    def _not_understood(self, text: str, unsure: bool = False) -> None:
        if not text:
            return
        key = mask_text(text).lower()
        self.not_understood[key] += 1
        if unsure:
            self.unsure_texts[key] += 1
        if len(self.not_understood) > MAX_DISTINCT_TEXTS:
            for key in [key for key, count in self.not_understood.items() if count == 1]:
                del self.not_understood[key]
                self.unsure_texts.pop(key, None)


def split_conversations(rows: Sequence[Tuple]) -> Iterator[Sequence[Tuple]]:
    """One sender's events cut into conversations: each ``restart`` or ``session_started`` event begins a
    new one (Rasa keeps every session of a sender id in one tracker)."""
    start = 0
    for index, row in enumerate(rows):
        if row[0] in CONVERSATION_START_EVENTS and index > start:
            yield rows[start:index]
            start = index
    if start < len(rows):
        yield rows[start:]


def is_control_command(intent: str, text: str) -> bool:
    """``/restart``, ``/session_start``, ``/back`` or ``/stop``: a command to the assistant, not a shopper's
    request (by intent, or by text when a client sent the command without it being parsed as one)."""
    command = text.strip().lower()
    return intent in CONTROL_INTENTS or (command.startswith("/") and command[1:] in CONTROL_INTENTS)


def emotion_name(parse: Dict[str, Any]) -> str:
    """The predicted emotion of a parsed message (``parse_data["emotion"]["name"]``, set by
    TransformerIntentEmotionClassifier), or ``unknown`` (``/intent`` payloads and models without one)."""
    emotion = parse.get("emotion")
    if isinstance(emotion, dict):
        emotion = emotion.get("name")
    return str(emotion) if isinstance(emotion, str) and emotion else UNKNOWN_EMOTION


def _loads(data: Any) -> Dict[str, Any]:
    if not data:
        return {}
    try:
        value = json.loads(data)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _day(timestamp: Optional[float]) -> str:
    return datetime.fromtimestamp(timestamp or 0.0, tz=timezone.utc).date().isoformat()


# -- reading the tracker store -------------------------------------------------------------------------
def _conditions(since: Optional[date], until: Optional[date]) -> List[Any]:
    conditions = []
    if since:
        conditions.append(EVENTS.c.timestamp >= _day_start(since))
    if until:
        conditions.append(EVENTS.c.timestamp < _day_start(until + timedelta(days=1)))
    return conditions


def iter_conversations(engine: sa.engine.Engine, since: Optional[date] = None, until: Optional[date] = None,
                       progress: bool = False, chunk_size: int = CHUNK_SIZE) -> Iterator[List[Tuple]]:
    """Yield each conversation's events in order, reading the table in chunks (server-side cursor)."""
    conditions = _conditions(since, until)
    columns = (EVENTS.c.sender_id, EVENTS.c.type_name, EVENTS.c.timestamp, EVENTS.c.intent_name,
               EVENTS.c.action_name, EVENTS.c.data)
    query = sa.select(*columns).where(*conditions).order_by(EVENTS.c.sender_id, EVENTS.c.id)
    bar = None
    with engine.connect() as connection:
        if progress:
            from tqdm import tqdm

            total = connection.execute(sa.select(sa.func.count()).select_from(EVENTS).where(*conditions))
            bar = tqdm(total=total.scalar_one(), unit="ev", unit_scale=True, desc="scanning", file=sys.stderr)
        result = connection.execution_options(stream_results=True).execute(query)
        current: Optional[str] = None
        rows: List[Tuple] = []
        try:
            while True:
                chunk = result.fetchmany(chunk_size)
                if not chunk:
                    break
                for sender_id, *rest in chunk:
                    if sender_id != current:
                        if rows:
                            yield rows
                        current, rows = sender_id, []
                    rows.append(tuple(rest))
                if bar is not None:
                    bar.update(len(chunk))
            if rows:
                yield rows
        finally:
            result.close()
            if bar is not None:
                bar.close()


@dataclass
class FeedbackSummary:
    """What the shop database's ``feedback`` table holds for the range: CSAT, comments, and why not."""

    csat: Optional[Dict[str, Any]] = None
    #: (UTC day, rating or None, comment with personal data masked), newest first, at most MAX_COMMENTS.
    comments: List[Tuple[str, Optional[int], str]] = field(default_factory=list)
    comments_total: int = 0
    #: Rows of the seed's demo feedback left out (0 with ``include_seed``).
    seed_excluded: int = 0
    #: Why there is nothing to show (no database, no table, unreadable), else None.
    unavailable: Optional[str] = None

    def describe(self) -> str:
        if self.unavailable:
            return self.unavailable
        ratings = self.csat["responses"] if self.csat else 0
        text = f"{ratings} ratings, {self.comments_total} comments"
        if self.seed_excluded:
            text += (f" ({self.seed_excluded} demo rows of `shopassist seed` left out; "
                     "--include-seed shows them)")
        return text


def read_feedback(shop_db_url: Optional[str], since: Optional[date], until: Optional[date],
                  include_seed: bool = False) -> FeedbackSummary:
    """CSAT (ratings 1-5) and comments from the shop database's ``feedback`` table; the seed's demo
    feedback (conversation ids ``seed-...``) is left out unless ``include_seed``: its ratings are spread
    over the two months before seeding and would pass for real shoppers' ones."""
    if not shop_db_url:
        return FeedbackSummary(unavailable="no shop database configured")
    url = sa.engine.make_url(shop_db_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        # do not create an empty SQLite file just to find nothing
        return FeedbackSummary(unavailable="the shop database does not exist (run `shopassist seed`)")
    try:
        engine = sa.create_engine(shop_db_url)
        try:
            if not sa.inspect(engine).has_table("feedback"):
                return FeedbackSummary(unavailable="the shop database has no feedback table")
            table = sa.Table("feedback", sa.MetaData(), autoload_with=engine)
            with engine.connect() as connection:
                return _feedback_from(connection, table, since, until, include_seed)
        finally:
            engine.dispose()
    except sa.exc.SQLAlchemyError as error:
        logger.warning("no CSAT: the shop database could not be read (%s)", type(error).__name__)
        return FeedbackSummary(unavailable=f"the shop database could not be read ({type(error).__name__})")


def _feedback_from(connection: Any, table: sa.Table, since: Optional[date], until: Optional[date],
                   include_seed: bool) -> FeedbackSummary:
    in_range = []
    if since:
        in_range.append(table.c.created_at >= datetime(since.year, since.month, since.day))
    if until:
        end = until + timedelta(days=1)
        in_range.append(table.c.created_at < datetime(end.year, end.month, end.day))
    seed = table.c.sender_id.startswith(SEED_SENDER_PREFIX, autoescape=True)
    summary = FeedbackSummary()
    if not include_seed:
        summary.seed_excluded = int(connection.execute(
            sa.select(sa.func.count()).select_from(table).where(*in_range, seed)).scalar_one())
        in_range.append(sa.not_(seed))
    ratings = sa.select(table.c.rating, sa.func.count()).where(*in_range, table.c.rating.isnot(None))
    counts = {int(r): int(c) for r, c in connection.execute(ratings.group_by(table.c.rating))}
    summary.csat = _csat(counts)
    commented = [*in_range, table.c.text.isnot(None), sa.func.length(sa.func.trim(table.c.text)) > 0]
    summary.comments_total = int(connection.execute(
        sa.select(sa.func.count()).select_from(table).where(*commented)).scalar_one())
    newest = (sa.select(table.c.created_at, table.c.rating, table.c.text).where(*commented)
              .order_by(table.c.created_at.desc(), table.c.id.desc()).limit(MAX_COMMENTS))
    summary.comments = [(_feedback_day(created), None if rating is None else int(rating),
                         mask_text(normalise_text(text)))
                        for created, rating, text in connection.execute(newest)]
    return summary


def _csat(counts: Dict[int, int]) -> Optional[Dict[str, Any]]:
    responses = sum(counts.values())
    if not responses:
        return None
    return {
        "responses": responses,
        "distribution": {rating: counts.get(rating, 0) for rating in range(1, 6)},
        "mean": sum(r * c for r, c in counts.items()) / responses,
        "csat": sum(c for r, c in counts.items() if r >= 4) / responses,
    }


def _feedback_day(created: Any) -> str:
    return created.date().isoformat() if isinstance(created, datetime) else str(created or "")[:10]


def read_csat(shop_db_url: Optional[str], since: Optional[date], until: Optional[date],
              include_seed: bool = False) -> Optional[Dict]:
    """CSAT from the shop database's ``feedback.rating`` (1-5); None when there is no rated feedback."""
    return read_feedback(shop_db_url, since, until, include_seed).csat


def build_report(db_url: str, since: Optional[date] = None, until: Optional[date] = None,
                 shop_db_url: Optional[str] = None, progress: bool = False, include_seed: bool = False,
                 unsure_below: float = UNSURE_ANSWER_SCORE) -> Report:
    """Scan the tracker store at *db_url* and aggregate the conversations of [since, until]."""
    started = time.perf_counter()
    report = Report(since=since, until=until, unsure_below=unsure_below)
    engine = sa.create_engine(db_url)
    try:
        for rows in iter_conversations(engine, since, until, progress=progress):
            report.add_conversation(rows)
    finally:
        engine.dispose()
    report.feedback = read_feedback(shop_db_url, since, until, include_seed)
    report.csat = report.feedback.csat
    report.seconds = time.perf_counter() - started
    return report


# -- HTML ----------------------------------------------------------------------------------------------
def _png(figure: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


@dataclass(frozen=True)
class Chart:
    """One plot of the page (base64 PNG); ``empty_because`` says, in the plot and under it, why it has no
    data, so an empty chart is never mistaken for a broken one."""

    png: str
    empty_because: Optional[str] = None


NO_MESSAGES = "No shopper messages in this range."
NO_EMOTION = ("No emotion was recorded with the shopper messages: their parse data has no 'emotion' (a model "
              "without the emotion head, or only /intent payloads such as button clicks).")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _empty_chart(title: str, reason: str) -> Chart:
    import textwrap

    fig, ax = _pyplot().subplots(figsize=(8, 1.8))
    ax.set_title(title)
    ax.axis("off")
    ax.text(0.5, 0.45, textwrap.fill(reason, 90), ha="center", va="center", color="#555555",
            transform=ax.transAxes)
    return Chart(_png(fig), reason)


def _no_emotion(report: Report) -> Optional[str]:
    if not report.user_turns:
        return NO_MESSAGES
    return NO_EMOTION if set(report.emotions) <= {UNKNOWN_EMOTION} else None


def _per_day_chart(report: Report) -> Chart:
    title, days = "Conversations per day", sorted(report.per_day)
    if not days:
        return _empty_chart(title, "No conversations in this range.")
    fig, ax = _pyplot().subplots(figsize=(8, 3))
    ax.bar(days, [report.per_day[d] for d in days], color="#4c72b0")
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=45, labelsize=7)
    return Chart(_png(fig))


def _handoff_chart(report: Report) -> Chart:
    title = "Handoff triggers"
    if not report.handoff_reasons:
        reason = ("No conversation was handed to a person in this range." if report.conversations
                  else "No conversations in this range.")
        return _empty_chart(title, reason)
    names, counts = zip(*report.handoff_reasons.most_common(10), strict=True)
    fig, ax = _pyplot().subplots(figsize=(6, 3))
    ax.barh(names[::-1], counts[::-1], color="#dd8452")
    ax.set_title(title)
    return Chart(_png(fig))


def _intents_chart(report: Report) -> Chart:
    top = report.top_intents(10)
    if not top:
        return _empty_chart("Top intents", NO_MESSAGES)
    fig, (left, right) = _pyplot().subplots(1, 2, figsize=(10, 4))
    names = [name for name, _, _ in top][::-1]
    left.barh(names, [count for _, count, _ in top][::-1], color="#55a868")
    left.set_title("Top intents (user turns)")
    centres = [(i + 0.5) / CONFIDENCE_BINS for i in range(CONFIDENCE_BINS)]
    for name, count, _ in top[:6]:
        right.plot(centres, [c / count for c in report.confidence_hist[name]], marker="o", label=name)
    right.set_title("Confidence distribution (share of turns)")
    right.set_xlabel("confidence")
    right.legend(fontsize=7)
    return Chart(_png(fig))


def _emotion_stack_chart(report: Report, title: str, labels: Sequence[str],
                         value: Callable[[str, str], float], *, horizontal: bool,
                         figsize: Tuple[float, float], ylabel: Optional[str] = None,
                         rotate_labels: bool = False, legend_loc: Optional[str] = None) -> Chart:
    """One bar per label, stacked by emotion (most frequent first); ``value(label, emotion)`` is a bar's
    segment. Horizontal bars stack from the left, vertical ones from the bottom."""
    missing = _no_emotion(report)
    if missing:
        return _empty_chart(title, missing)
    fig, ax = _pyplot().subplots(figsize=figsize)
    base = [0] * len(labels)
    for emotion, _ in report.emotions.most_common():
        values = [value(label, emotion) for label in labels]
        if horizontal:
            ax.barh(labels, values, left=base, label=emotion)
        else:
            ax.bar(labels, values, bottom=base, label=emotion)
        base = [a + b for a, b in zip(base, values, strict=True)]
    ax.set_title(title)
    if ylabel:
        ax.set_ylabel(ylabel)
    if rotate_labels:
        ax.tick_params(axis="x", rotation=45, labelsize=7)
    ax.legend(fontsize=7, **({"loc": legend_loc} if legend_loc else {}))
    return Chart(_png(fig))


def _emotion_day_chart(report: Report) -> Chart:
    """Stacked bars, one per day: a stacked area needs two days to show anything, and a demo has one."""
    return _emotion_stack_chart(
        report, "Emotion of user turns per day", sorted(report.emotion_per_day),
        lambda day, emotion: report.emotion_per_day[day][emotion],
        horizontal=False, figsize=(8, 3), ylabel="user turns", rotate_labels=True, legend_loc="upper left")


def _emotion_intent_chart(report: Report) -> Chart:
    return _emotion_stack_chart(
        report, "Emotion mix per intent", [name for name, _, _ in report.top_intents(10)][::-1],
        lambda intent, emotion: report.emotion_per_intent[intent][emotion] / max(1, report.intents[intent]),
        horizontal=True, figsize=(8, 4))


def _feedback_of(report: Report) -> FeedbackSummary:
    return report.feedback or FeedbackSummary(unavailable="no shop database configured")


def _csat_chart(report: Report) -> Chart:
    title = "Feedback ratings"
    if not report.csat:
        feedback = _feedback_of(report)
        reason = feedback.unavailable or "No ratings in this range."
        if feedback.seed_excluded:
            reason += f" {feedback.seed_excluded} demo rows of `shopassist seed` left out (--include-seed)."
        return _empty_chart(title, reason)
    fig, ax = _pyplot().subplots(figsize=(5, 3))
    dist = report.csat["distribution"]
    ax.bar([str(r) for r in dist], list(dist.values()), color="#8172b2")
    ax.set_title(title)
    return Chart(_png(fig))


def _plots(report: Report) -> Dict[str, Chart]:
    """Every chart of the page, each with data or with the reason it has none."""
    return {
        "per_day": _per_day_chart(report),
        "handoff": _handoff_chart(report),
        "intents": _intents_chart(report),
        "emotion_day": _emotion_day_chart(report),
        "emotion_intent": _emotion_intent_chart(report),
        "csat": _csat_chart(report),
    }


def _table(headers: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(report: Report) -> str:
    """The report as one HTML page with no external resources (inline CSS, base64 PNG images)."""
    esc = html.escape
    plots = _plots(report)

    def img(key: str, alt: str) -> str:
        chart = plots[key]
        tag = f'<img alt="{esc(alt)}" src="data:image/png;base64,{chart.png}">'
        if chart.empty_because:
            tag += f'<p class="empty">{esc(chart.empty_because)}</p>'
        return tag

    median = report.median_turns_to_resolution
    figures = [
        ("Conversations", report.conversations),
        ("Contained (no person)", f"{report.contained} ({report.containment_rate:.1%})"),
        ("Handed off", f"{report.handed_off} ({report.handoff_rate:.1%})"),
        ("User turns", report.user_turns),
        ("Fallback turns", f"{report.fallback_turns} ({report.fallback_rate:.1%} of turns)"),
        ("Conversations with a fallback", report.conversations_with_fallback),
        (f"Unsure help-page answers (score below {report.unsure_below:.2f})", report.unsure_answer_turns),
        ("Control commands (/restart, /session_start, /back, /stop; not counted)", report.control_turns),
        ("Median turns to resolution", median if median is not None else "-"),
    ]
    if report.csat:
        figures.append(("CSAT (ratings 4-5)", f"{report.csat['csat']:.1%} of {report.csat['responses']}, "
                                              f"mean {report.csat['mean']:.2f}"))
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>ShopAssist conversation report</title><style>",
        "body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}img{max-width:100%}"
        ".empty{color:#555;font-style:italic}",
        "</style></head><body>",
        f"<h1>ShopAssist conversation report</h1><p>Range: {esc(str(report.since or 'start'))} to "
        f"{esc(str(report.until or 'now'))} (UTC days, inclusive).</p>",
        "<h2>Overview</h2>", _table(["figure", "value"], figures), img("per_day", "conversations per day"),
        "<h2>Handoff triggers</h2>",
        _table(["trigger", "conversations"], report.handoff_reasons.most_common()),
        img("handoff", "handoffs"),
        "<h2>Top intents</h2>",
        _table(["intent", "user turns", "mean confidence"],
               [(n, c, f"{m:.2f}") for n, c, m in report.top_intents(15)]),
        img("intents", "top intents and confidence"),
        "<h2>Emotions</h2>",
        _table(["emotion", "share"], [(k, f"{v:.1%}") for k, v in report.emotion_mix().items()]),
        img("emotion_day", "emotion per day"), img("emotion_intent", "emotion per intent"),
        "<h2>Most frequent messages not understood</h2><p>Fallback turns and unsure help-page answers. "
        "E-mail addresses, phone and card numbers are masked.</p>",
        _table(["message", "times", "of which unsure help-page answers"],
               [(text, times, report.unsure_texts.get(text, 0))
                for text, times in report.top_not_understood(30)]),
        *_csat_section(report, img("csat", "ratings")),
        "<h2>Definitions</h2><p>A conversation is one session of a sender id with a shopper message in the "
        "range (/restart and a new session start a new one); control commands (/restart, /session_start, "
        "/back, /stop) are not shopper turns or intents; handed off means action_handoff ran; a fallback "
        "turn is a user message with intent nlu_fallback or answered by action_default_fallback; an unsure "
        "help-page answer is a reply from the help pages whose retrieval score is below "
        f"{report.unsure_below:.2f}; turns to resolution count the shopper messages of contained "
        "conversations; CSAT leaves out the demo feedback of shopassist seed unless --include-seed.</p>"
        "</body></html>",
    ]
    return "\n".join(parts)


def _csat_section(report: Report, chart: str) -> List[str]:
    """Ratings chart, where the ratings come from, and the comments (newest first, masked)."""
    feedback = _feedback_of(report)
    parts = ["<h2>Customer satisfaction</h2>", chart, f"<p>{html.escape(feedback.describe())}.</p>"]
    if feedback.comments:
        shown = len(feedback.comments)
        rows = [(day, "-" if rating is None else rating, text) for day, rating, text in feedback.comments]
        parts += [f"<h3>Comments ({shown} newest of {feedback.comments_total})</h3>",
                  _table(["day", "rating", "comment"], rows)]
    return parts


def write_report(report: Report, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(report), encoding="utf-8")
    return out


# -- command line --------------------------------------------------------------------------------------
def add_store_arguments(parser: Any) -> None:
    """Which tracker store and date range to read: shared by `shopassist report` and `shopassist review`."""
    parser.add_argument("--db", metavar="URL",
                        help="tracker store SQLAlchemy URL (default: the SQL tracker_store of --endpoints)")
    parser.add_argument("--endpoints", default="endpoints.yml",
                        help="Rasa endpoints file (default: %(default)s)")
    parser.add_argument("--since", type=parse_day, metavar="YYYY-MM-DD", help="first UTC day (inclusive)")
    parser.add_argument("--until", type=parse_day, metavar="YYYY-MM-DD", help="last UTC day (inclusive)")


def add_arguments(parser: Any) -> None:
    """The options of `shopassist report` (shared by the CLI and `python -m shopassist.report`)."""
    add_store_arguments(parser)
    parser.add_argument("--shop-db", metavar="URL",
                        help="shop database for CSAT (default: $SHOP_DB_URL, else .state/shop.db)")
    parser.add_argument("--include-seed", action="store_true",
                        help="count the demo feedback of `shopassist seed` (conversation ids seed-...) "
                             "in CSAT")
    parser.add_argument("--unsure-below", type=float, default=UNSURE_ANSWER_SCORE, metavar="SCORE",
                        help="help-page answers with a retrieval score below this count as not understood "
                             "(default: %(default)s)")
    parser.add_argument("--out", default="results/report.html", help="HTML file (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: Any) -> int:
    """Handler of `shopassist report`."""
    from shop.config import database_url

    try:
        db_url = args.db or tracker_store_url(args.endpoints)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    engine = sa.create_engine(db_url)
    try:
        if not sa.inspect(engine).has_table("events"):
            print("error: no tracker store events table at the configured database", file=sys.stderr)
            return 2
    except sa.exc.SQLAlchemyError as error:
        print(f"error: the tracker store cannot be read ({type(error).__name__})", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    if args.since and args.until and args.since > args.until:
        print("error: --since is after --until", file=sys.stderr)
        return 2
    report = build_report(db_url, args.since, args.until, shop_db_url=database_url(args.shop_db),
                          progress=not args.no_progress and sys.stderr.isatty(),
                          include_seed=args.include_seed, unsure_below=args.unsure_below)
    out = write_report(report, args.out)
    print(report.summary())
    print(f"HTML report: {out}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="shopassist report", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
