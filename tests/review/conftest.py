"""A real Rasa tracker store with messages a designer should review, and some that should not be."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.report.trackers import fill_sqlite

DAY1 = datetime(2026, 11, 10, 9, tzinfo=timezone.utc).timestamp()
DAY2 = datetime(2026, 11, 11, 9, tzinfo=timezone.utc).timestamp()
FALLBACK_RANKING = [("nlu_fallback", 0.4), ("delivery_options", 0.31), ("payment_methods", 0.2)]

CONVERSATIONS = {
    # fallbacks: the suggestion is the best intent below nlu_fallback
    "r1": (DAY1, [("do you gift wrap parcels?", "nlu_fallback", 0.31, "neutral", [], FALLBACK_RANKING),
                  ("thanks", "thank", 0.99, "joy", [])]),
    # the same message in other casing and spacing: one example, counted twice
    "r2": (DAY1 + 60, [("Do you  gift wrap PARCELS?", "nlu_fallback", 0.29, "confusion", [],
                        FALLBACK_RANKING)]),
    # low confidence (below 0.6) with personal data; a confident turn that must not be exported
    "r3": (DAY1 + 120, [("my number is +44 7700 900123 and mail alex.morgan@example.com about SA-100002",
                         "order_status", 0.52, "neutral", []),
                        ("where is my order", "order_status", 0.97, "neutral", [])]),
    # the message before a handoff, although confident
    "r4": (DAY1 + 180, [("I was charged twice on card 4111 1111 1111 1111", "payment_issue", 0.9, "anger",
                         [("action", "action_handoff", {"handoff_reason": "fraud"})])]),
    # answered by action_default_fallback; a button payload that must be skipped
    "r5": (DAY1 + 240, [("/request_human", "request_human", 1.0, "neutral", []),
                        ("blorp zing", "greet", 0.7, "neutral",
                         [("action", "action_default_fallback", None)])]),
    # another day
    "r6": (DAY2, [("can I pay with bitcoin", "payment_methods", 0.45, "neutral", [])]),
}


@pytest.fixture(scope="session")
def review_tracker_db(tmp_path_factory) -> str:
    return fill_sqlite(tmp_path_factory.mktemp("review") / "tracker.db", CONVERSATIONS)
