"""Conversation analytics for conversation designers: `shopassist report`.

Reads the ``events`` table of Rasa's SQL tracker store (``rasa.core.tracker_store.SQLTrackerStore``: one
row per event, columns ``sender_id``, ``type_name``, ``timestamp``, ``intent_name``, ``action_name`` and
``data``, the event as JSON) through SQLAlchemy, one conversation at a time, and folds every conversation
into running aggregates as soon as its last event has been read, so memory does not grow with the number
of events. Writes a self-contained HTML page (plots as inline PNG) and returns a :class:`Report` whose
:meth:`Report.summary` is the terminal summary.

Definitions (also printed in the HTML):

* a *conversation* is one ``sender_id`` with at least one user message inside the date range (events are
  filtered by their timestamp; ``--until`` is inclusive, whole UTC days);
* *handed off*: an ``action_handoff`` ``ActionExecuted`` event; *contained*: not handed off;
* the handoff *trigger*: ``metadata.handoff_reason`` of that event (set by the HandoffPolicy), else the
  latest ``handoff_reason`` slot value set before it, else ``requested``;
* a *fallback turn*: a user message with intent ``nlu_fallback``, or one answered by
  ``action_default_fallback``; its text goes to "not understood" (e-mails, phone and card numbers masked);
* *turns to resolution*: user messages of a contained conversation.
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
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import sqlalchemy as sa

from shop.privacy import mask_personal_data

logger = logging.getLogger(__name__)

HANDOFF_ACTION = "action_handoff"
FALLBACK_INTENT = "nlu_fallback"
FALLBACK_ACTION = "action_default_fallback"
REASON_SLOT = "handoff_reason"
DEFAULT_REASON = "requested"
UNKNOWN_EMOTION = "unknown"
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
    csat: Optional[Dict[str, Any]] = None
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
        ]
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
        lines.append(f"  scanned {self.events} events in {self.seconds:.1f} s")
        return "\n".join(lines)

    # -- incremental aggregation -----------------------------------------------------------------------
    def add_conversation(self, rows: Sequence[Tuple[str, float, Optional[str], Optional[str], Any]]) -> None:
        """Fold one conversation's events (type_name, timestamp, intent_name, action_name, data) in."""
        self.events += len(rows)
        user_turns = 0
        fallback_turns = 0
        first_user_ts: Optional[float] = None
        handoff_reason: Optional[str] = None
        handed_off = False
        last_reason_slot: Optional[str] = None
        pending_text: Optional[str] = None  # text of the latest user turn not yet counted as fallback
        for type_name, timestamp, intent_name, action_name, data in rows:
            if type_name == "user":
                event = _loads(data)
                parse = event.get("parse_data") or {}
                intent = intent_name or (parse.get("intent") or {}).get("name") or "unknown"
                confidence = float((parse.get("intent") or {}).get("confidence") or 0.0)
                emotion = (parse.get("emotion") or {}).get("name") or UNKNOWN_EMOTION
                user_turns += 1
                if first_user_ts is None:
                    first_user_ts = timestamp or 0.0
                day = _day(timestamp)
                self.intents[intent] += 1
                self.confidence_sum[intent] += confidence
                hist = self.confidence_hist.setdefault(intent, [0] * CONFIDENCE_BINS)
                hist[min(CONFIDENCE_BINS - 1, max(0, int(confidence * CONFIDENCE_BINS)))] += 1
                self.emotions[emotion] += 1
                self.emotion_per_day[day][emotion] += 1
                self.emotion_per_intent[intent][emotion] += 1
                text = normalise_text(event.get("text"))
                if intent == FALLBACK_INTENT:
                    fallback_turns += 1
                    self._not_understood(text)
                    pending_text = None
                else:
                    pending_text = text
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

    def _not_understood(self, text: str) -> None:
        if not text:
            return
        self.not_understood[mask_text(text).lower()] += 1
        if len(self.not_understood) > MAX_DISTINCT_TEXTS:
            for key in [key for key, count in self.not_understood.items() if count == 1]:
                del self.not_understood[key]


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


def read_csat(shop_db_url: Optional[str], since: Optional[date], until: Optional[date]) -> Optional[Dict]:
    """CSAT from the shop database's ``feedback.rating`` (1-5); None when there is no rated feedback."""
    if not shop_db_url:
        return None
    url = sa.engine.make_url(shop_db_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        return None  # do not create an empty SQLite file just to find nothing
    try:
        engine = sa.create_engine(shop_db_url)
        try:
            if not sa.inspect(engine).has_table("feedback"):
                return None
            table = sa.Table("feedback", sa.MetaData(), autoload_with=engine)
            query = sa.select(table.c.rating, sa.func.count()).where(table.c.rating.isnot(None))
            if since:
                query = query.where(table.c.created_at >= datetime(since.year, since.month, since.day))
            if until:
                end = until + timedelta(days=1)
                query = query.where(table.c.created_at < datetime(end.year, end.month, end.day))
            with engine.connect() as connection:
                counts = {int(r): int(c) for r, c in connection.execute(query.group_by(table.c.rating))}
        finally:
            engine.dispose()
    except sa.exc.SQLAlchemyError as error:
        logger.warning("no CSAT: the shop database could not be read (%s)", type(error).__name__)
        return None
    responses = sum(counts.values())
    if not responses:
        return None
    return {
        "responses": responses,
        "distribution": {rating: counts.get(rating, 0) for rating in range(1, 6)},
        "mean": sum(r * c for r, c in counts.items()) / responses,
        "csat": sum(c for r, c in counts.items() if r >= 4) / responses,
    }


def build_report(db_url: str, since: Optional[date] = None, until: Optional[date] = None,
                 shop_db_url: Optional[str] = None, progress: bool = False) -> Report:
    """Scan the tracker store at *db_url* and aggregate the conversations of [since, until]."""
    started = time.perf_counter()
    report = Report(since=since, until=until)
    engine = sa.create_engine(db_url)
    try:
        for rows in iter_conversations(engine, since, until, progress=progress):
            report.add_conversation(rows)
    finally:
        engine.dispose()
    report.csat = read_csat(shop_db_url, since, until)
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


def _plots(report: Report) -> Dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots: Dict[str, str] = {}
    days = sorted(report.per_day)
    if days:
        fig, ax = plt.subplots(figsize=(8, 3))
        ax.bar(days, [report.per_day[d] for d in days], color="#4c72b0")
        ax.set_title("Conversations per day")
        ax.tick_params(axis="x", rotation=45, labelsize=7)
        plots["per_day"] = _png(fig)
    if report.handoff_reasons:
        names, counts = zip(*report.handoff_reasons.most_common(10), strict=True)
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.barh(names[::-1], counts[::-1], color="#dd8452")
        ax.set_title("Handoff triggers")
        plots["handoff"] = _png(fig)
    top = report.top_intents(10)
    if top:
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
        names = [name for name, _, _ in top][::-1]
        left.barh(names, [count for _, count, _ in top][::-1], color="#55a868")
        left.set_title("Top intents (user turns)")
        centres = [(i + 0.5) / CONFIDENCE_BINS for i in range(CONFIDENCE_BINS)]
        for name, count, _ in top[:6]:
            right.plot(centres, [c / count for c in report.confidence_hist[name]], marker="o", label=name)
        right.set_title("Confidence distribution (share of turns)")
        right.set_xlabel("confidence")
        right.legend(fontsize=7)
        plots["intents"] = _png(fig)
    emotions = [name for name, _ in report.emotions.most_common()]
    if emotions and days:
        fig, ax = plt.subplots(figsize=(8, 3))
        emo_days = sorted(report.emotion_per_day)
        series = [[report.emotion_per_day[d][e] for d in emo_days] for e in emotions]
        ax.stackplot(range(len(emo_days)), *series, labels=emotions)
        ax.set_xticks(range(len(emo_days)))
        ax.set_xticklabels(emo_days, rotation=45, fontsize=7)
        ax.set_title("Emotion of user turns per day")
        ax.legend(fontsize=7, loc="upper left")
        plots["emotion_day"] = _png(fig)
        fig, ax = plt.subplots(figsize=(8, 4))
        intents = [name for name, _, _ in top][::-1]
        left_edge = [0.0] * len(intents)
        for emotion in emotions:
            shares = [report.emotion_per_intent[i][emotion] / max(1, report.intents[i]) for i in intents]
            ax.barh(intents, shares, left=left_edge, label=emotion)
            left_edge = [a + b for a, b in zip(left_edge, shares, strict=True)]
        ax.set_title("Emotion mix per intent")
        ax.legend(fontsize=7)
        plots["emotion_intent"] = _png(fig)
    if report.csat:
        fig, ax = plt.subplots(figsize=(5, 3))
        dist = report.csat["distribution"]
        ax.bar([str(r) for r in dist], list(dist.values()), color="#8172b2")
        ax.set_title("Feedback ratings")
        plots["csat"] = _png(fig)
    return plots


def _table(headers: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(report: Report) -> str:
    """The report as one HTML page with no external resources (inline CSS, base64 PNG images)."""
    esc = html.escape
    plots = _plots(report)

    def img(key: str, alt: str) -> str:
        return f'<img alt="{esc(alt)}" src="data:image/png;base64,{plots[key]}">' if key in plots else ""

    median = report.median_turns_to_resolution
    figures = [
        ("Conversations", report.conversations),
        ("Contained (no person)", f"{report.contained} ({report.containment_rate:.1%})"),
        ("Handed off", f"{report.handed_off} ({report.handoff_rate:.1%})"),
        ("User turns", report.user_turns),
        ("Fallback turns", f"{report.fallback_turns} ({report.fallback_rate:.1%} of turns)"),
        ("Conversations with a fallback", report.conversations_with_fallback),
        ("Median turns to resolution", median if median is not None else "-"),
    ]
    if report.csat:
        figures.append(("CSAT (ratings 4-5)", f"{report.csat['csat']:.1%} of {report.csat['responses']}, "
                                              f"mean {report.csat['mean']:.2f}"))
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>ShopAssist conversation report</title><style>",
        "body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}img{max-width:100%}",
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
        "<h2>Most frequent messages not understood</h2><p>E-mail addresses, phone and card numbers "
        "are masked.</p>",
        _table(["message", "times"], report.top_not_understood(30)),
    ]
    if report.csat:
        parts += ["<h2>Customer satisfaction</h2>", img("csat", "ratings")]
    parts.append(
        "<h2>Definitions</h2><p>A conversation is a sender id with a user message in the range; handed off "
        "means action_handoff ran; a fallback turn is a user message with intent nlu_fallback or answered "
        "by action_default_fallback; turns to resolution count the user messages of contained "
        "conversations.</p></body></html>")
    return "\n".join(parts)


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
                          progress=not args.no_progress and sys.stderr.isatty())
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
