"""A real Rasa SQL tracker store filled with conversations whose outcomes are known."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.report.trackers import fill_sqlite

DAY1 = datetime(2026, 11, 1, 9, tzinfo=timezone.utc).timestamp()
DAY2 = datetime(2026, 11, 2, 15, tzinfo=timezone.utc).timestamp()

# sender_id -> (start timestamp, turns). A turn is (text, intent, confidence, emotion, extra events after
# the bot's reaction), where extra events are ("action", name, metadata) or ("slot", name, value).
CONVERSATIONS = {
    "c1": (DAY1, [("hi", "greet", 0.95, "joy", []),
                  ("where is SA-100001", "order_status", 0.85, "neutral", [])]),
    "c2": (DAY1 + 60, [("hello", "greet", 0.9, "neutral", []),
                       ("red hoodies", "search_products", 0.8, "joy", []),
                       ("bye", "goodbye", 0.99, "joy", [])]),
    "c3": (DAY1 + 120, [("order status", "order_status", 0.75, "neutral", [])]),
    "f1": (DAY1 + 180, [("My mail is alex.morgan@example.com", "nlu_fallback", 0.3, "confusion", []),
                        ("blorp  zing", "nlu_fallback", 0.2, "confusion", [])]),
    "f2": (DAY1 + 240, [("Blorp zing", "greet", 0.35, "neutral",
                         [("action", "action_default_fallback", None)]),
                        ("<script>alert(1)</script>", "nlu_fallback", 0.1, "anger", [])]),
    "h1": (DAY1 + 300, [("where is my order", "order_status", 0.7, "anger", []),
                        ("this is useless", "order_status", 0.65, "anger",
                         [("slot", "handoff_reason", "anger_sustained"),
                          ("action", "action_handoff", None)])]),
    "h2": (DAY2, [("someone used my card", "report_fraud", 0.9, "fear",
                   [("action", "action_handoff", {"handoff_reason": "fraud"})])]),
}


@pytest.fixture(scope="session")
def tracker_db(tmp_path_factory) -> str:
    """SQLAlchemy URL of a SQLite tracker store written by Rasa's own SQLTrackerStore."""
    path: Path = tmp_path_factory.mktemp("report") / "tracker.db"
    return fill_sqlite(path, CONVERSATIONS)
