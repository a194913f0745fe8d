"""What `shopassist report` tells a manager (issue 15): conversations per session, control commands apart
from shopper intents, unsure help-page answers under "not understood", charts that show data or say why
not, and CSAT without the seed's demo ratings, with the comments."""

from __future__ import annotations

import asyncio
import base64
import io
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List

import pytest
import sqlalchemy as sa

from shopassist.report import Report, build_report, main, render_html
from tests.report.conftest import CONVERSATIONS
from tests.report.trackers import conversation_events, fill_sqlite, fill_sqlite_events

ROOT = Path(__file__).resolve().parents[2]
DAY = datetime(2026, 11, 3, 10, tzinfo=timezone.utc).timestamp()
RESTART = ("/restart", "restart", 1.0, "neutral", [("action", "action_restart", None)])


def restarted() -> Any:
    from rasa.shared.core.events import Restarted

    return Restarted()


def shell_tracker() -> List[Any]:
    """One `rasa shell` sender: a question, /restart, another, /restart, /restart at once (nothing asked),
    a question, /session_start, and after an hour away (a new session) a last question."""
    sessions = [
        [("hi", "greet", 0.9, "joy", []), ("where is SA-100001", "order_status", 0.8, "neutral", []),
         RESTART],
        [("red hoodies", "search_products", 0.85, "joy", []), RESTART],
        [RESTART],
        [("return policy?", "return_policy", 0.9, "neutral", []),
         ("/session_start", "session_start", 1.0, "neutral", [])],
        [("thanks", "thank", 0.95, "joy", []), ("/stop", "stop", 1.0, "neutral", [])],
    ]
    events: List[Any] = []
    for index, turns in enumerate(sessions):
        events += conversation_events(DAY + index * 3600, turns)
        if turns[-1] is RESTART:
            events.append(restarted())
    return events


@pytest.fixture(scope="module")
def shell(tmp_path_factory) -> Report:
    url = fill_sqlite_events(tmp_path_factory.mktemp("shell") / "tracker.db", {"shell": shell_tracker()})
    return build_report(url)


def test_every_restart_and_session_is_a_conversation_of_its_own(shell):
    # sessions with a shopper message: 1, 2, 4 and 5; the one that was only "/restart" is none
    assert shell.conversations == 4
    assert shell.per_day == {"2026-11-03": 4}
    assert sorted(shell.turns_to_resolution) == [1, 1, 1, 2]


def test_control_commands_are_not_shopper_turns_or_intents(shell):
    assert shell.control_turns == 5  # three /restart, /session_start, /stop
    assert shell.user_turns == 5
    assert set(shell.intents) == {"greet", "order_status", "search_products", "return_policy", "thank"}
    assert not {"restart", "session_start", "stop", "back"} & set(shell.emotion_per_intent)
    assert "/stop), not counted as turns: 5" in shell.summary()


def test_control_intents_are_rasas_own_defaults():
    from rasa.shared.core.constants import USER_INTENT_BACK, USER_INTENT_RESTART, USER_INTENT_SESSION_START

    from shopassist.report import CONTROL_INTENTS, is_control_command

    assert {USER_INTENT_RESTART, USER_INTENT_SESSION_START, USER_INTENT_BACK} <= CONTROL_INTENTS
    assert is_control_command("nlu_fallback", "/restart") and is_control_command("stop", "/stop")
    assert not is_control_command("out_of_scope", "restart the washing machine?")


# -- help-page answers ------------------------------------------------------------------------------------
def help_page_reply(score: float) -> List[Any]:
    """The bot events Rasa stores for a help-page answer scoring ``score``: the action's message as
    actions/knowledge.py sends it, through Rasa's own RemoteAction handling of an action server's reply."""
    from rasa.core.actions.action import RemoteAction
    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions.knowledge import utter_passage
    from shop.knowledge import Passage

    dispatcher = CollectingDispatcher()
    utter_passage(dispatcher, Passage("Returns and refunds", "Return window", "You have 30 days.", score))
    domain = Domain.load(str(ROOT / "domain.yml"))
    tracker = DialogueStateTracker("help", domain.slots)
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    output = CollectingOutputChannel()
    return asyncio.run(RemoteAction._utter_responses(dispatcher.messages, output, nlg, tracker))


@pytest.fixture(scope="module")
def answered(tmp_path_factory) -> Report:
    unsure = [("event", event, None) for event in help_page_reply(0.33)]
    sure = [("event", event, None) for event in help_page_reply(0.81)]
    conversations = {
        "u1": (DAY, [("can I send back worn socks?", "return_policy", 0.9, "neutral", unsure)]),
        "u2": (DAY + 60, [("how long do I have to return?", "return_policy", 0.95, "neutral", sure)]),
        "u3": (DAY + 120, [("can I send back worn socks?", "return_policy", 0.8, "neutral", unsure),
                           ("blorp", "nlu_fallback", 0.2, "confusion", unsure)]),
    }
    return build_report(fill_sqlite(tmp_path_factory.mktemp("help") / "tracker.db", conversations))


def test_the_answer_carries_its_retrieval_score_into_the_stored_bot_event():
    (event,) = help_page_reply(0.33)
    assert event.metadata["knowledge_score"] == pytest.approx(0.33)
    assert event.text and "30 days" in event.text


def test_unsure_help_page_answers_are_listed_as_not_understood(answered):
    assert answered.unsure_answer_turns == 2
    assert answered.fallback_turns == 1  # "blorp" counts once, as a fallback, not again as unsure
    assert answered.not_understood_turns == 3
    assert answered.top_not_understood() == [("can i send back worn socks?", 2), ("blorp", 1)]
    assert answered.unsure_texts == {"can i send back worn socks?": 2}
    page = render_html(answered)
    assert "<td>can i send back worn socks?</td><td>2</td><td>2</td>" in page
    assert "how long do i have to return?" not in page
    assert "not understood: 3 turns (1 fallback, 2 unsure help-page answers below 0.45)" in answered.summary()


def test_the_unsure_score_is_an_option(tmp_path):
    reply = [("event", event, None) for event in help_page_reply(0.33)]
    turn = ("can I send back worn socks?", "return_policy", 0.9, "neutral", reply)
    url = fill_sqlite(tmp_path / "tracker.db", {"u1": (DAY, [turn])})
    assert build_report(url, unsure_below=0.3).unsure_answer_turns == 0
    assert build_report(url).unsure_answer_turns == 1


# -- charts -----------------------------------------------------------------------------------------------
def chart_pixels(page: str, alt: str) -> int:
    """Strongly coloured pixels of the chart with ``alt`` (axes, text and background are grey or white)."""
    import numpy as np
    from PIL import Image

    match = re.search(rf'<img alt="{alt}" src="data:image/png;base64,([^"]+)"', page)
    assert match, f"no chart {alt!r}"
    image = np.asarray(Image.open(io.BytesIO(base64.b64decode(match.group(1)))).convert("RGB")).astype(int)
    return int(((image.max(axis=2) - image.min(axis=2)) > 60).sum())


def test_emotion_per_day_shows_the_emotions_of_a_single_day(tmp_path):
    one_day = {k: v for k, v in CONVERSATIONS.items() if k != "h2"}  # every conversation on 2026-11-01
    report = build_report(fill_sqlite(tmp_path / "tracker.db", one_day))
    assert len(report.emotion_per_day) == 1
    page = render_html(report)
    # the legend alone is a few hundred pixels; the bars of 12 turns are thousands
    assert chart_pixels(page, "emotion per day") > 5000
    assert "No shopper messages" not in page and "No emotion was recorded" not in page


EMPTY_REASONS = {
    "conversations per day": "No conversations in this range.",
    "handoffs": "No conversations in this range.",
    "top intents and confidence": "No shopper messages in this range.",
    "emotion per day": "No shopper messages in this range.",
    "emotion per intent": "No shopper messages in this range.",
    "ratings": "no shop database configured",
}


def test_every_chart_without_data_says_why():
    page = render_html(Report())
    for alt, reason in EMPTY_REASONS.items():
        assert re.search(rf'<img alt="{alt}" src="data:image/png;base64,[^"]+"><p class="empty">'
                         rf'{re.escape(reason)}', page), alt


def test_emotion_charts_say_when_no_emotion_was_recorded(tmp_path):
    from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered

    clicks = [ActionExecuted("action_session_start", timestamp=DAY), SessionStarted(timestamp=DAY)]
    for offset, intent in ((5, "greet"), (10, "order_status")):
        parse = {"intent": {"name": intent, "confidence": 1.0}, "entities": [], "text": f"/{intent}"}
        clicks.append(UserUttered(f"/{intent}", intent=parse["intent"], parse_data=parse,
                                  timestamp=DAY + offset))
    report = build_report(fill_sqlite_events(tmp_path / "tracker.db", {"buttons": clicks}))
    assert dict(report.emotions) == {"unknown": 2}
    page = render_html(report)
    assert page.count("No emotion was recorded with the shopper messages") == 2
    assert chart_pixels(page, "top intents and confidence") > 1000


# -- CSAT -------------------------------------------------------------------------------------------------
@pytest.fixture
def shop_db(tmp_path) -> str:
    """A shop database with the seed's demo feedback and three real answers of today."""
    from shop.models import Base, Feedback
    from shop.seed import build_seed_rows

    url = f"sqlite:///{tmp_path / 'shop.db'}"
    engine = sa.create_engine(url)
    Base.metadata.create_all(engine, tables=[Feedback.__table__])
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    real = [
        {"id": 101, "sender_id": "web-1", "rating": 5, "text": "Lovely, write to alex.morgan@example.com",
         "created_at": now - timedelta(hours=3)},
        {"id": 102, "sender_id": "web-2", "rating": 2, "text": "", "created_at": now - timedelta(hours=2)},
        {"id": 103, "sender_id": "web-3", "rating": None, "text": "Please stock XXL hoodies",
         "created_at": now},
    ]
    with engine.begin() as connection:
        connection.execute(sa.insert(Feedback.__table__), build_seed_rows()[Feedback] + real)
    engine.dispose()
    return url


def seed_feedback() -> List[Dict[str, Any]]:
    from shop.models import Feedback
    from shop.seed import build_seed_rows

    return build_seed_rows()[Feedback]


def test_csat_leaves_the_seeds_demo_ratings_out_and_lists_the_comments(tracker_db, shop_db):
    report = build_report(tracker_db, shop_db_url=shop_db)
    assert report.csat["responses"] == 2 and report.csat["distribution"] == {1: 0, 2: 1, 3: 0, 4: 0, 5: 1}
    assert report.feedback.seed_excluded == len(seed_feedback()) == 10
    assert [(rating, text) for _, rating, text in report.feedback.comments] == [
        (None, "Please stock XXL hoodies"), (5, "Lovely, write to a***@example.com")]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", day) for day, _, _ in report.feedback.comments)
    page = render_html(report)
    assert "<td>5</td><td>Lovely, write to a***@example.com</td>" in page
    assert "alex.morgan" not in page and "Found my size in seconds" not in page
    assert "10 demo rows of `shopassist seed` left out" in page


def test_include_seed_counts_the_demo_ratings_too(tracker_db, shop_db, tmp_path, capsys):
    seeded_ratings = sum(1 for row in seed_feedback() if row["rating"] is not None)
    report = build_report(tracker_db, shop_db_url=shop_db, include_seed=True)
    assert report.csat["responses"] == 2 + seeded_ratings
    assert report.feedback.seed_excluded == 0
    assert "Found my size in seconds, thanks!" in [text for _, _, text in report.feedback.comments]
    assert main(["--db", tracker_db, "--shop-db", shop_db, "--out", str(tmp_path / "r.html"), "--no-progress",
                 "--include-seed"]) == 0
    assert f"{2 + seeded_ratings} ratings" in capsys.readouterr().out
