"""The end-of-chat survey: when it is asked, how ratings and comments are stored, and that the report
reads them."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from actions.feedback import (
    ActionOfferCsat,
    ActionRecordCsat,
    ActionRecordCsatComment,
    parse_score,
)
from shopassist.report import read_csat
from tests.actions.conftest import make_tracker, responses, run_action, slot_events

SENDER = "csat-shopper"


def _feedback_rows(url):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(
                sa.text("SELECT sender_id, rating, text, created_at FROM feedback WHERE sender_id = :s"),
                {"s": SENDER},
            ).all()
    finally:
        engine.dispose()


def _button(score):
    return [{"entity": "csat_score", "value": score}]


def rate(domain, text="", entities=None, **slots):
    tracker = make_tracker(slots=slots, text=text, intent="rate", entities=entities, sender_id=SENDER)
    messages, events = run_action(ActionRecordCsat(), tracker, domain)
    return messages, slot_events(events)


# ------------------------------------------------------------------------------------------ asking
@pytest.mark.parametrize("intent", ["thank", "goodbye"])
def test_the_rating_is_asked_once_a_task_is_done(domain, intent):
    tracker = make_tracker(slots={"task_completed": True}, intent=intent)
    messages, events = run_action(ActionOfferCsat(), tracker, domain)
    assert responses(messages) == ["utter_ask_csat"]
    assert slot_events(events) == {"csat_asked": True}


@pytest.mark.parametrize(
    "slots",
    [
        {},
        {"task_completed": False},
        {"task_completed": True, "csat_asked": True},
        {"task_completed": True, "handoff_active": True},
    ],
    ids=["nothing-done", "not-done", "already-asked", "with-a-person"],
)
@pytest.mark.parametrize("intent, usual", [("thank", "utter_welcome"), ("goodbye", "utter_goodbye")])
def test_otherwise_the_usual_reply(domain, slots, intent, usual):
    messages, events = run_action(ActionOfferCsat(), make_tracker(slots=slots, intent=intent), domain)
    assert responses(messages) == [usual]
    assert events == []


def test_the_question_has_five_rating_buttons_and_a_text_fallback(domain):
    question = domain["responses"]["utter_ask_csat"][0]
    # as Rasa sends them: domain.yml doubles the braces of button payloads (tests/test_button_payloads.py)
    payloads = [b["payload"].replace("{{", "{").replace("}}", "}") for b in question["buttons"]]
    assert payloads == [f'/rate{{"csat_score": {n}}}' for n in range(1, 6)]
    assert "1-5" in question["text"]
    assert "csat_score" in domain["entities"] and "rate" in domain["intents"]


# ------------------------------------------------------------------------------------------ scores
@pytest.mark.parametrize(
    "value, score",
    [
        (4, 4),
        ("5", 5),
        ("4 stars", 4),
        ("I'd say four", 4),
        ("3 out of 5", 3),
        ("4/5", 4),
        ("five", 5),
        ("10", None),
        ("4.5", None),
        ("great", None),
        ("3 or 4", None),
        ("0", None),
        (True, None),
        (None, None),
        ("", None),
    ],
)
def test_parse_score(value, score):
    assert parse_score(value) == score


# ------------------------------------------------------------------------------------------ storing
def test_a_button_rating_is_stored_with_sender_and_time(fresh_db, domain):
    messages, slots = rate(domain, text='/rate{"csat_score": 4}', entities=_button(4), csat_asked=True)
    assert responses(messages) == ["utter_ask_csat_comment"]
    rows = _feedback_rows(fresh_db)
    assert [(r.sender_id, r.rating) for r in rows] == [(SENDER, 4)]
    assert rows[0].created_at is not None
    assert slots == {"csat_asked": True, "csat_feedback_id": slots["csat_feedback_id"]}
    assert slots["csat_feedback_id"]


def test_a_typed_rating_after_the_question_is_stored(fresh_db, domain):
    messages, _ = rate(domain, text="I'd give you 2 out of 5", csat_asked=True)
    assert responses(messages) == ["utter_ask_csat_comment"]
    assert [r.rating for r in _feedback_rows(fresh_db)] == [2]


def test_a_bare_number_out_of_the_blue_is_not_a_rating(fresh_db, domain):
    messages, slots = rate(domain, text="3")
    assert responses(messages) == ["utter_default"]
    assert slots == {} and _feedback_rows(fresh_db) == []


def test_no_number_after_the_question_explains_the_scale(fresh_db, domain):
    messages, slots = rate(domain, text="pretty good", csat_asked=True)
    assert responses(messages) == ["utter_ask_csat_again"]
    assert slots == {} and _feedback_rows(fresh_db) == []


def test_rating_again_replaces_the_first_rating(fresh_db, domain):
    _, first = rate(domain, text="/rate", entities=_button(2), csat_asked=True)
    _, second = rate(domain, text="/rate", entities=_button(5), **first)
    assert second["csat_feedback_id"] == first["csat_feedback_id"]
    assert [r.rating for r in _feedback_rows(fresh_db)] == [5]


def test_the_comment_is_added_to_the_rating(fresh_db, domain):
    _, slots = rate(domain, text="/rate", entities=_button(3), csat_asked=True)
    tracker = make_tracker(
        slots=slots, text="the tracking page  was confusing", intent="give_feedback", sender_id=SENDER
    )
    messages, events = run_action(ActionRecordCsatComment(), tracker, domain)
    assert responses(messages) == ["utter_csat_thanks"] and events == []
    assert [(r.rating, r.text) for r in _feedback_rows(fresh_db)] == [(3, "the tracking page was confusing")]


@pytest.mark.parametrize("intent", ["deny", "goodbye", "thank"])
def test_no_comment_closes_the_survey(fresh_db, domain, intent):
    _, slots = rate(domain, text="/rate", entities=_button(5), csat_asked=True)
    tracker = make_tracker(slots=slots, text="no thanks", intent=intent, sender_id=SENDER)
    messages, _ = run_action(ActionRecordCsatComment(), tracker, domain)
    assert responses(messages) == ["utter_csat_closed"]
    assert [(r.rating, r.text) for r in _feedback_rows(fresh_db)] == [(5, "")]


def after_comment_question(slots, text, intent, asked_for_text=False):
    """The shopper's message after the rating's comment question (or, ``asked_for_text``, after the bot
    asked them to type the comment), with the turn before it as Rasa records it."""
    tracker = make_tracker(slots=slots, text=text, intent=intent, sender_id=SENDER)
    previous = (
        [
            {"event": "action", "name": "action_record_csat_comment"},
            {
                "event": "bot",
                "text": "Great, please type ...",
                "metadata": {"utter_action": "utter_ask_csat_comment_text"},
            },
        ]
        if asked_for_text
        else [
            {"event": "action", "name": "action_record_csat"},
            {
                "event": "bot",
                "text": "Thank you for rating us! ...",
                "metadata": {"utter_action": "utter_ask_csat_comment"},
            },
        ]
    )
    tracker.events[:0] = [
        {"event": "user", "text": "/rate", "parse_data": {"intent": {"name": "rate"}}},
        *previous,
        {"event": "action", "name": "action_listen"},
    ]
    return tracker


@pytest.mark.parametrize("yes", ["yes", "sure!", "ok", "Yes please", "yeah I do"])
def test_yes_to_the_comment_question_asks_for_the_comment_then_stores_it(fresh_db, domain, yes):
    """A bare yes is no comment: the bot asks the shopper to type it, and the next message is stored as
    the comment of the same rating (before: "Okay! Let me know what you'd like to do next.")."""
    _, slots = rate(domain, text="/rate", entities=_button(4), csat_asked=True)
    messages, events = run_action(
        ActionRecordCsatComment(), after_comment_question(slots, yes, "affirm"), domain
    )
    assert responses(messages) == ["utter_ask_csat_comment_text"] and events == []
    assert "type your comment" in domain["responses"]["utter_ask_csat_comment_text"][0]["text"]
    assert [(r.rating, r.text) for r in _feedback_rows(fresh_db)] == [(4, "")]  # "yes" is not stored

    comment = after_comment_question(
        slots, "the tracking page could link to the carrier", "give_feedback", asked_for_text=True
    )
    messages, events = run_action(ActionRecordCsatComment(), comment, domain)
    assert responses(messages) == ["utter_csat_thanks"] and events == []
    assert [(r.rating, r.text) for r in _feedback_rows(fresh_db)] == [
        (4, "the tracking page could link to the carrier")
    ]


def test_no_after_the_request_for_the_comment_closes_the_survey(fresh_db, domain):
    _, slots = rate(domain, text="/rate", entities=_button(5), csat_asked=True)
    tracker = after_comment_question(slots, "no, never mind", "deny", asked_for_text=True)
    messages, _ = run_action(ActionRecordCsatComment(), tracker, domain)
    assert responses(messages) == ["utter_csat_closed"]
    assert [(r.rating, r.text) for r in _feedback_rows(fresh_db)] == [(5, "")]


def test_a_yes_that_says_something_is_the_comment(fresh_db, domain):
    _, slots = rate(domain, text="/rate", entities=_button(3), csat_asked=True)
    tracker = after_comment_question(slots, "yes, the sizes run small", "affirm")
    messages, _ = run_action(ActionRecordCsatComment(), tracker, domain)
    assert responses(messages) == ["utter_csat_thanks"]
    assert [(r.rating, r.text) for r in _feedback_rows(fresh_db)] == [(3, "yes, the sizes run small")]


@pytest.mark.parametrize(
    "intent, usual",
    [
        ("give_feedback", "action_record_feedback"),
        ("deny", "action_handle_confirmation"),
        ("affirm", "action_handle_confirmation"),
    ],
)
def test_after_the_survey_ended_the_message_is_handled_as_usual(fresh_db, domain, intent, usual):
    """The comment was stored (or the survey closed): a later message is no comment of that rating."""
    _, slots = rate(domain, text="/rate", entities=_button(2), csat_asked=True)
    tracker = after_comment_question(slots, "also, the site is slow", intent)
    tracker.events[1:3] = [
        {"event": "action", "name": "action_record_csat_comment"},
        {
            "event": "bot",
            "text": "Thanks, I've passed ...",
            "metadata": {"utter_action": "utter_csat_thanks"},
        },
    ]
    messages, events = run_action(ActionRecordCsatComment(), tracker, domain)
    assert messages == []
    assert events == [{"event": "followup", "name": usual, "timestamp": None}]
    assert [(r.rating, r.text) for r in _feedback_rows(fresh_db)] == [(2, "")]


def test_a_comment_never_edits_another_conversations_feedback(fresh_db, domain):
    _, slots = rate(domain, text="/rate", entities=_button(1), csat_asked=True)
    tracker = make_tracker(slots=slots, text="I was hacked", intent="give_feedback", sender_id="someone-else")
    run_action(ActionRecordCsatComment(), tracker, domain)
    assert [(r.rating, r.text) for r in _feedback_rows(fresh_db)] == [(1, "")]


@pytest.mark.parametrize(
    "intent, usual",
    [
        ("give_feedback", "action_record_feedback"),
        ("complaint", "utter_complaint"),
        ("nlu_fallback", "action_answer_from_knowledge"),
        ("deny", "action_handle_confirmation"),
    ],
)
def test_without_a_stored_rating_the_message_is_handled_as_usual(fresh_db, domain, intent, usual):
    tracker = make_tracker(text="whatever", intent=intent, sender_id=SENDER)
    messages, events = run_action(ActionRecordCsatComment(), tracker, domain)
    assert messages == []
    assert events == [{"event": "followup", "name": usual, "timestamp": None}]
    assert usual in domain["actions"] or usual in domain["responses"]


def test_the_report_counts_stored_ratings(fresh_db, domain):
    before = read_csat(fresh_db, None, None) or {"responses": 0, "distribution": {5: 0}}
    rate(domain, text="/rate", entities=_button(5), csat_asked=True)
    after = read_csat(fresh_db, None, None)
    assert after["responses"] == before["responses"] + 1
    assert after["distribution"][5] == before["distribution"][5] + 1


def test_an_outage_is_answered_not_raised(dead_db, domain):
    messages, slots = rate(domain, text="/rate", entities=_button(4), csat_asked=True)
    assert responses(messages) == ["utter_service_unavailable"]
    assert slots == {}


# ------------------------------------------------------------------------------ when a task is done
def _order_request(domain, order_id, task):
    from actions.orders import ActionHandleOrderRequest
    from tests.actions.conftest import ALEX

    slots = {"order_id": order_id, "email": ALEX, "order_verified": True, "order_task": task}
    return slot_events(run_action(ActionHandleOrderRequest(), make_tracker(slots=slots), domain)[1])


def test_an_answered_order_question_completes_a_task(shop_db, domain):
    assert _order_request(domain, "SA-100001", "status")["task_completed"] is True
    assert _order_request(domain, "SA-100005", "refund_status")["task_completed"] is True


def test_a_refused_return_or_a_pending_cancellation_does_not(shop_db, domain):
    assert "task_completed" not in _order_request(domain, "SA-100004", "return")  # outside the window
    assert "task_completed" not in _order_request(domain, "SA-100003", "cancel")  # only asked so far


def test_feedback_with_a_number_answers_an_open_survey(fresh_db, domain):
    from actions.feedback import ActionRecordFeedback

    tracker = make_tracker(
        slots={"csat_asked": True}, text="5 stars, great shop", intent="give_feedback", sender_id=SENDER
    )
    messages, events = run_action(ActionRecordFeedback(), tracker, domain)
    assert responses(messages) == ["utter_feedback_thanks"]
    assert slot_events(events)["csat_feedback_id"]
    assert [(r.rating, r.text) for r in _feedback_rows(fresh_db)] == [(5, "5 stars, great shop")]


def test_feedback_without_an_open_survey_carries_no_rating(fresh_db, domain):
    from actions.feedback import ActionRecordFeedback

    tracker = make_tracker(text="5 stars, great shop", intent="give_feedback", sender_id=SENDER)
    _, events = run_action(ActionRecordFeedback(), tracker, domain)
    assert events == []
    assert [(r.rating, r.text) for r in _feedback_rows(fresh_db)] == [(None, "5 stars, great shop")]


@pytest.mark.parametrize("text", ["thanks, bye", "cheers, have a nice day!", "thank you, see you"])
def test_thanks_that_take_leave_end_the_chat(domain, text):
    """ "thanks, bye" is read as thanks; it still says goodbye instead of asking "Anything else?"."""
    messages, _ = run_action(ActionOfferCsat(), make_tracker(text=text, intent="thank"), domain)
    assert "utter_welcome" not in responses(messages)
    assert responses(messages)


def test_plain_thanks_still_get_the_usual_reply(domain):
    messages, _ = run_action(ActionOfferCsat(), make_tracker(text="thanks a lot", intent="thank"), domain)
    assert responses(messages) == ["utter_welcome"]


def test_an_unsure_order_remark_after_the_comment_question_is_the_comment(fresh_db, domain):
    """"the tracking page could link straight to the carrier" read as order_status 0.41 is a suggestion: it is
    stored as the comment, not answered with an order look-up."""
    _, slots = rate(domain, text="/rate", entities=_button(4), csat_asked=True)
    remark = "the tracking page could link to the courier"
    tracker = make_tracker(slots=slots, text=remark, intent="order_status", confidence=0.41, sender_id=SENDER)
    messages, events = run_action(ActionRecordCsatComment(), tracker, domain)
    assert responses(messages) == ["utter_csat_thanks"] and events == []
    assert [(r.rating, r.text) for r in _feedback_rows(fresh_db)] == [(4, remark)]


@pytest.mark.parametrize(
    "confidence, entities",
    [(0.9, []), (0.45, [{"entity": "order_id", "value": "SA-100002"}])],
)
def test_a_real_order_question_after_the_comment_question_starts_the_order_form(fresh_db, domain, confidence,
                                                                                 entities):
    _, slots = rate(domain, text="/rate", entities=_button(4), csat_asked=True)
    tracker = make_tracker(slots=slots, text="and where is my other order SA-100002?", intent="order_status",
                           confidence=confidence, entities=entities, sender_id=SENDER)
    messages, events = run_action(ActionRecordCsatComment(), tracker, domain)
    assert messages == []
    assert events == [{"event": "followup", "timestamp": None, "name": "order_form"}]
    assert [(r.rating, r.text) for r in _feedback_rows(fresh_db)] == [(4, "")]
