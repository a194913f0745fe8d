"""Benchmark of `shopassist report`: a synthetic tracker store of N conversations, scanned end to end.

Creates the ``events`` table with Rasa's own ``SQLTrackerStore`` schema, fills it with bulk inserts of
events in Rasa's JSON format (about 8 per conversation: session start, two or three user turns with intent
and emotion, bot replies, some fallbacks and handoffs), then runs ``python -m shopassist.report`` in a
child process and prints its wall time, conversations per second and peak memory (max RSS of the child).

    .venv/bin/python -m bench.report.run --conversations 100000
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

INTENTS = ["order_status", "search_products", "greet", "return_item", "cancel_order", "product_info"]
EMOTIONS = ["neutral", "neutral", "neutral", "joy", "anger", "confusion", "sadness", "fear"]
START = 1_790_000_000.0  # a fixed UTC instant; conversations spread over the next 30 days


@dataclass
class Args:
    conversations: int = 100_000
    seed: int = 13
    db: str = ""
    out: str = ""


def _row(sender, type_name, ts, event, intent=None, action=None):
    event = {"event": type_name, "timestamp": ts, **event}
    return (sender, type_name, ts, intent, action, json.dumps(event))


def conversation_rows(index: int, rng: random.Random):
    sender = f"bench-{index:07d}"
    ts = START + rng.random() * 30 * 86_400
    rows = [_row(sender, "action", ts, {"name": "action_session_start"}, action="action_session_start"),
            _row(sender, "session_started", ts, {}),
            _row(sender, "action", ts, {"name": "action_listen"}, action="action_listen")]
    outcome = rng.random()
    for turn in range(rng.choice((1, 2, 2, 3))):
        ts += 5
        fallback = outcome > 0.85 and turn == 0
        intent = "nlu_fallback" if fallback else rng.choice(INTENTS)
        text = f"gibberish {rng.randrange(500)} mail me at x{rng.randrange(50)}@example.com" if fallback \
            else f"message {rng.randrange(10_000)}"
        parse = {"intent": {"name": intent, "confidence": round(rng.random(), 3)}, "entities": [],
                 "text": text, "emotion": {"name": rng.choice(EMOTIONS), "confidence": 0.8}}
        rows.append(_row(sender, "user", ts, {"text": text, "parse_data": parse, "input_channel": "rest"},
                         intent=intent))
        rows.append(_row(sender, "bot", ts + 1, {"text": "ok", "data": {}, "metadata": {}}))
        rows.append(_row(sender, "action", ts + 1, {"name": "action_listen"}, action="action_listen"))
    if outcome < 0.15:
        reason = rng.choice(["anger_sustained", "requested", "repeated_fallback", "fraud"])
        rows.append(_row(sender, "slot", ts + 2, {"name": "handoff_reason", "value": reason}))
        rows.append(_row(sender, "action", ts + 2, {"name": "action_handoff",
                                                    "metadata": {"handoff_reason": reason}},
                         action="action_handoff"))
    return rows


def generate(path: Path, conversations: int, seed: int) -> int:
    import sqlalchemy as sa
    from rasa.core.tracker_store import SQLTrackerStore

    engine = sa.create_engine(f"sqlite:///{path}")
    SQLTrackerStore.Base.metadata.create_all(engine)
    engine.dispose()
    rng = random.Random(seed)
    total = 0
    with sqlite3.connect(path) as connection:
        batch = []
        for index in range(conversations):
            batch += conversation_rows(index, rng)
            if len(batch) >= 50_000:
                total += len(batch)
                connection.executemany("INSERT INTO events (sender_id, type_name, timestamp, intent_name, "
                                       "action_name, data) VALUES (?, ?, ?, ?, ?, ?)", batch)
                batch = []
        total += len(batch)
        connection.executemany("INSERT INTO events (sender_id, type_name, timestamp, intent_name, "
                               "action_name, data) VALUES (?, ?, ?, ?, ?, ?)", batch)
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=Args.conversations)
    parser.add_argument("--seed", type=int, default=Args.seed)
    parser.add_argument("--db", help="reuse/create this SQLite file (default: a temporary one)")
    parser.add_argument("--out", help="HTML report path (default: next to the database)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="report-bench-"))
    db = Path(args.db) if args.db else workdir / "tracker.db"
    if not db.exists():
        started = time.perf_counter()
        events = generate(db, args.conversations, args.seed)
        print(f"generated {args.conversations} conversations, {events} events in "
              f"{time.perf_counter() - started:.1f} s ({db.stat().st_size / 2**20:.0f} MiB)")
    out = args.out or str(workdir / "report.html")
    command = [sys.executable, "-m", "shopassist.report", "--db", f"sqlite:///{db}", "--out", out,
               "--no-progress", "--shop-db", f"sqlite:///{workdir / 'no-shop.db'}"]
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    print(completed.stdout, completed.stderr, sep="")
    if completed.returncode:
        return completed.returncode
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"report: {seconds:.1f} s wall (process start, scan, plots, HTML), "
          f"{args.conversations / seconds:,.0f} conversations/s, peak memory {peak_mib:.0f} MiB (max RSS)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
