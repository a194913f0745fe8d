"""action_answer_other_clause and the order form's questions: the second request of a message that asked two
things is answered (a question) or offered (a task), never answered twice; and a delivery problem uses the
order number the shopper already gave."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk import Tracker

from actions import policy_answers
from actions.other_clause import ActionAnswerOtherClause, offer_topic
from actions.policy_answers import ActionAnswerDeliveryProblem, ActionAskEmail, ActionAskOrderId
from shop.knowledge import Passage
from tests.actions.conftest import make_tracker, responses, run_action, slot_events

PASSAGES = {
    "free": Passage(
        "Shipping zones and costs",
        "Delivery options",
        "Standard delivery takes 3-5 working days and is free on orders over $50.",
        0.66,
        "shipping",
    ),
    "change": Passage(
        "Order changes and cancellation",
        "Changing items in an order",
        "Items in an order cannot be changed once it is placed.",
        0.63,
        "order-changes",
    ),
    "return": Passage(
        "Returns and exchanges",
        "How to return an item",
        "Start a return in the chat with your order number.",
        0.64,
        "returns",
    ),
}


class FakeKnowledgeBase:
    """Answers by keyword, records the questions it was asked."""

    keyword_only = False

    def __init__(self) -> None:
        self.asked: List[str] = []

    def search(self, question: str, k: int = 3) -> List[Passage]:
        self.asked.append(question)
        text = question.lower()
        if "free" in text and "shipping" in text:
            return [PASSAGES["free"]]
        if "change" in text:
            return [PASSAGES["change"]]
        if "return" in text:
            return [PASSAGES["return"]]
        return []


@pytest.fixture
def kb(monkeypatch) -> FakeKnowledgeBase:
    fake = FakeKnowledgeBase()
    monkeypatch.setattr(policy_answers, "_knowledge_base", lambda: fake)
    monkeypatch.delenv(policy_answers.THRESHOLD_ENV, raising=False)
    return fake


def clause(text: str, intent: str, start: int = 0, entities: Optional[list] = None) -> Dict[str, Any]:
    return {
        "text": text,
        "start": start,
        "end": start + len(text),
        "intent": {"name": intent, "confidence": 0.9},
        "entities": entities or [],
    }


SHIPPING_TEXT = "how long does shipping take and is it free?"
SHIPPING = [
    clause("how long does shipping take", "delivery_time"),
    clause("is it free?", "delivery_options", 32),
]
ORDER_TEXT = "where is SA-100006 and can I still change what's in it?"
ORDER_ENTITY = {"entity": "order_id", "value": "SA-100006", "start": 9, "end": 18}
ORDER = [
    clause("where is SA-100006", "order_status", entities=[ORDER_ENTITY]),
    clause("can I still change what's in it?", "change_order", 23),
]


def after_first_answer(
    text: str,
    intent: str,
    clauses: List[Dict[str, Any]],
    other: Optional[Dict[str, Any]],
    bot: Optional[Dict[str, Any]] = None,
    entities: Optional[list] = None,
) -> Tracker:
    """The tracker the action sees: the two-request message, the first answer, the clause in the slot."""
    tracker = make_tracker(
        text=text, intent=intent, entities=entities, slots={"other_clause": other, "order_id": None}
    )
    tracker.latest_message["clauses"] = [{k: v for k, v in c.items() if k != "entities"} for c in clauses]
    if bot is not None:
        tracker.events.append(
            {"event": "bot", "text": bot["text"], "metadata": {"utter_action": bot["response"]}}
        )
    return tracker


def reply(text: str, intent: str, offer: Any, previous_action: str = "action_answer_other_clause") -> Tracker:
    """The shopper's yes or no right after ``previous_action``."""
    tracker = make_tracker(text=text, intent=intent, slots={"other_clause": offer})
    tracker.events[:0] = [
        {"event": "user", "text": ORDER_TEXT},
        {"event": "action", "name": previous_action},
        {"event": "action", "name": "action_listen"},
    ]
    return tracker


# ------------------------------------------------------------------------------------------ questions
def test_the_other_question_is_answered_from_the_help_pages(kb, domain) -> None:
    first = {"response": "utter_delivery_time", "text": "Standard delivery takes 3-5 working days."}
    tracker = after_first_answer(SHIPPING_TEXT, "delivery_time", SHIPPING, SHIPPING[1], first)
    messages, events = run_action(ActionAnswerOtherClause(), tracker, domain)
    assert responses(messages) == ["utter_other_clause_intro", "utter_knowledge_answer"]
    assert messages[1]["answer"] == PASSAGES["free"].text
    assert kb.asked == ["is it free? shipping"]  # "it" is the shipping the other clause named
    assert slot_events(events) == {"other_clause": None}


def test_no_second_answer_when_the_first_one_already_said_it(kb, domain) -> None:
    first = {
        "response": "utter_knowledge_answer",
        "text": f"{PASSAGES['free'].text}\n(From our help pages: Shipping zones and costs, ...)",
    }
    tracker = after_first_answer(SHIPPING_TEXT, "delivery_time", SHIPPING, SHIPPING[1], first)
    messages, events = run_action(ActionAnswerOtherClause(), tracker, domain)
    assert messages == []
    assert slot_events(events) == {"other_clause": None}


def test_without_a_passage_the_intents_own_reply_answers_once(monkeypatch, domain) -> None:
    monkeypatch.setattr(policy_answers, "_knowledge_base", lambda: FakeKnowledgeBase())
    other = clause("do you take paypal?", "payment_methods", 30)
    tracker = after_first_answer(
        "how long does delivery take and do you take paypal?", "delivery_time", [SHIPPING[0], other], other
    )
    assert responses(run_action(ActionAnswerOtherClause(), tracker, domain)[0]) == [
        "utter_other_clause_intro",
        "utter_payment_methods",
    ]
    said = after_first_answer(
        "...",
        "delivery_time",
        [SHIPPING[0], other],
        other,
        {"response": "utter_payment_methods", "text": "We accept Visa ..."},
    )
    assert run_action(ActionAnswerOtherClause(), said, domain)[0] == []


def test_a_general_question_under_an_order_intent_is_answered_not_offered(kb, domain) -> None:
    other = clause("How do I start a return?", "return_item", 27)
    tracker = after_first_answer(
        "What's your return policy? How do I start a return?",
        "return_policy",
        [clause("What's your return policy?", "return_policy"), other],
        other,
    )
    messages, _ = run_action(ActionAnswerOtherClause(), tracker, domain)
    assert responses(messages) == ["utter_other_clause_intro", "utter_knowledge_answer"]
    assert messages[1]["answer"] == PASSAGES["return"].text


# ------------------------------------------------------------------------------------------ offers
def test_a_request_that_needs_the_order_form_is_offered(kb, domain) -> None:
    first = {"response": "utter_knowledge_answer", "text": PASSAGES["change"].text}
    tracker = after_first_answer(ORDER_TEXT, "change_order", ORDER, ORDER[0], first, [ORDER_ENTITY])
    messages, events = run_action(ActionAnswerOtherClause(), tracker, domain)
    assert responses(messages) == ["utter_other_clause_offer"]
    assert messages[0]["topic"] == "where order SA-100006 is"
    assert slot_events(events)["other_clause"] == {**ORDER[0], "offered": True}
    assert kb.asked == []  # a request, not a question: the help pages are not asked


def test_yes_starts_the_offered_order_task_with_its_order_number(domain) -> None:
    tracker = reply("yes", "affirm", {**ORDER[0], "offered": True})
    messages, events = run_action(ActionAnswerOtherClause(), tracker, domain)
    assert messages == []
    assert slot_events(events) == {"other_clause": None, "order_task": "status", "order_id": "SA-100006"}
    assert events[-1] == {"event": "followup", "name": "order_form", "timestamp": None}


def test_no_drops_the_offer(domain) -> None:
    tracker = reply("no", "deny", {**ORDER[0], "offered": True})
    messages, events = run_action(ActionAnswerOtherClause(), tracker, domain)
    assert responses(messages) == ["utter_ask_anything_else"]
    assert slot_events(events) == {"other_clause": None}


@pytest.mark.parametrize(
    "offer, previous_action",
    [
        (None, "action_answer_other_clause"),  # the action answered a question: nothing of its own is open
        ({**ORDER[0], "offered": True}, "action_search_products"),
    ],  # the offer is stale
)
def test_any_other_yes_goes_to_the_usual_confirmation(domain, offer, previous_action) -> None:
    messages, events = run_action(
        ActionAnswerOtherClause(), reply("yes", "affirm", offer, previous_action), domain
    )
    assert messages == []
    assert events == [{"event": "followup", "name": "action_handle_confirmation", "timestamp": None}]


def test_a_product_request_is_offered_and_yes_runs_its_action(kb, domain) -> None:
    product = {"entity": "product", "value": "Cloudline Pullover Hoodie", "start": 30, "end": 55}
    other = clause("is the Cloudline Pullover Hoodie in stock?", "check_availability", 23, [product])
    assert offer_topic(other) == "whether Cloudline Pullover Hoodie is in stock"
    tracker = reply("yes", "affirm", {**other, "offered": True})
    messages, events = run_action(ActionAnswerOtherClause(), tracker, domain)
    assert slot_events(events) == {"other_clause": None, "product": "Cloudline Pullover Hoodie"}
    assert events[-1]["name"] == "action_check_availability"


def test_nothing_to_do_without_a_clause(domain) -> None:
    tracker = make_tracker(text="hi", intent="greet", slots={"other_clause": None})
    assert run_action(ActionAnswerOtherClause(), tracker, domain) == ([], [])


# ------------------------------------------------------------------------ three things in one message
def three(
    text: str,
    intent: str,
    clauses: List[Dict[str, Any]],
    entities: Optional[list] = None,
    bot: Optional[Dict[str, Any]] = None,
) -> Tracker:
    """A message that asked three things after the first answer, with the two clauses it left open in the
    slot as OtherClausePolicy hands them over (the second under ``further``)."""
    open_clauses = [c for c in clauses if c["intent"]["name"] != intent]
    handed = {**open_clauses[0], "further": open_clauses[1:]}
    return after_first_answer(text, intent, clauses, handed, bot, entities)


SHIPPING_FIRST = {"response": "utter_delivery_time", "text": "Standard delivery takes 3-5 working days."}


def test_every_question_of_three_is_answered(kb, domain) -> None:
    """Before, only the first of the two open questions was answered and the third was dropped silently."""
    text = "How long does shipping take? Is it free? Can I still change what's in my order?"
    clauses = [
        clause("How long does shipping take?", "delivery_time"),
        clause("Is it free?", "delivery_options", 29),
        clause("Can I still change what's in my order?", "change_order", 41),
    ]
    messages, events = run_action(
        ActionAnswerOtherClause(), three(text, "delivery_time", clauses, bot=SHIPPING_FIRST), domain
    )
    assert responses(messages) == [
        "utter_other_clause_intro",
        "utter_knowledge_answer",
        "utter_other_clause_intro_next",
        "utter_knowledge_answer",
    ]
    assert [m["answer"] for m in messages if "answer" in m] == [
        PASSAGES["free"].text,
        PASSAGES["change"].text,
    ]
    assert slot_events(events) == {"other_clause": None}


def test_of_three_the_question_is_answered_and_the_task_offered_last(kb, domain) -> None:
    text = "How long does shipping take? Where is SA-100006? Is it free?"
    order = {"entity": "order_id", "value": "SA-100006", "start": 38, "end": 47}
    clauses = [
        clause("How long does shipping take?", "delivery_time"),
        clause("Where is SA-100006?", "order_status", 29, [order]),
        clause("Is it free?", "delivery_options", 49),
    ]
    messages, events = run_action(
        ActionAnswerOtherClause(), three(text, "delivery_time", clauses, [order], SHIPPING_FIRST), domain
    )
    assert responses(messages) == [
        "utter_other_clause_intro",
        "utter_knowledge_answer",
        "utter_other_clause_offer",
    ]
    assert messages[-1]["topic"] == "where order SA-100006 is"
    assert slot_events(events)["other_clause"] == {**clauses[1], "offered": True}  # yes starts this one


def test_of_three_two_tasks_are_both_named_and_the_first_offered(kb, domain) -> None:
    """The bot does one thing at a time, but says what else was asked, so nothing is dropped silently."""
    text = "How long does shipping take? Where is SA-100006? Please cancel SA-100003"
    status = {"entity": "order_id", "value": "SA-100006", "start": 38, "end": 47}
    cancel = {"entity": "order_id", "value": "SA-100003", "start": 63, "end": 72}
    clauses = [
        clause("How long does shipping take?", "delivery_time"),
        clause("Where is SA-100006?", "order_status", 29, [status]),
        clause("Please cancel SA-100003", "cancel_order", 49, [cancel]),
    ]
    messages, events = run_action(
        ActionAnswerOtherClause(),
        three(text, "delivery_time", clauses, [status, cancel], SHIPPING_FIRST),
        domain,
    )
    assert responses(messages) == ["utter_other_clause_offer_first"]
    assert messages[0]["topics"] == "where order SA-100006 is and about cancelling order SA-100003"
    offered = slot_events(events)["other_clause"]
    assert offered == {**clauses[1], "offered": True} and "further" not in offered
    said = domain["responses"]["utter_other_clause_offer_first"][0]["text"]
    assert "{topics}" in said and "the other one" in said
    assert kb.asked == []
    yes = reply("yes", "affirm", offered)
    assert slot_events(run_action(ActionAnswerOtherClause(), yes, domain)[1]) == {
        "other_clause": None,
        "order_task": "status",
        "order_id": "SA-100006",
    }


def test_the_order_form_answers_every_open_question_of_three(kb, domain) -> None:
    text = "where is SA-100006? do you take paypal? is shipping free?"
    paypal = clause("do you take paypal?", "payment_methods", 20)
    free = clause("is shipping free?", "delivery_options", 40)
    tracker = after_first_answer(
        text, "order_status", [ORDER[0], paypal, free], None, entities=[ORDER_ENTITY]
    )
    messages, _ = run_action(ActionAskEmail(), tracker, domain)
    assert responses(messages) == [
        "utter_other_clause_intro",
        "utter_payment_methods",
        "utter_other_clause_intro_next",
        "utter_knowledge_answer",
        "utter_ask_email",
    ]


# --------------------------------------------------------------------- the order form asks first
def test_the_order_forms_question_comes_after_the_other_question(kb, domain) -> None:
    """'where is SA-100006 and do you take paypal?' read as order_status: the form asks for the e-mail at
    once (and the policy never interrupts a form), so the other question is answered before it."""
    text = "where is SA-100006 and do you take paypal?"
    paypal = clause("do you take paypal?", "payment_methods", 23)
    tracker = after_first_answer(text, "order_status", [ORDER[0], paypal], None, entities=[ORDER_ENTITY])
    messages, _ = run_action(ActionAskEmail(), tracker, domain)
    assert responses(messages) == ["utter_other_clause_intro", "utter_payment_methods", "utter_ask_email"]
    messages, _ = run_action(ActionAskOrderId(), tracker, domain)
    assert responses(messages) == ["utter_other_clause_intro", "utter_payment_methods", "utter_ask_order_id"]


def test_a_question_the_form_already_answered_is_not_answered_again(kb, domain) -> None:
    """The whole message asks how things work ("can I still ..."), so the form's question answers it from the
    help pages already; the clause's answer is that same passage and is not sent twice."""
    tracker = after_first_answer(ORDER_TEXT, "order_status", ORDER, None, entities=[ORDER_ENTITY])
    messages, _ = run_action(ActionAskEmail(), tracker, domain)
    assert responses(messages) == ["utter_knowledge_answer", "utter_ask_email"]
    assert messages[0]["answer"] == PASSAGES["change"].text


def test_the_order_forms_question_alone_for_one_request(kb, domain) -> None:
    tracker = make_tracker(text="where is SA-100006", intent="order_status", entities=[ORDER_ENTITY])
    assert responses(run_action(ActionAskEmail(), tracker, domain)[0]) == ["utter_ask_email"]
    task = [
        clause("where is SA-100006", "order_status"),
        clause("cancel SA-100003 please", "cancel_order", 23),
    ]
    offers_nothing = after_first_answer(
        "where is SA-100006 and cancel SA-100003 please", "order_status", task, None
    )
    assert responses(run_action(ActionAskEmail(), offers_nothing, domain)[0]) == ["utter_ask_email"]


# ------------------------------------------------------------ issue 15.7: the order number given first
def angry_shopper_later() -> Tracker:
    """An angry first message gave the order number (the from_entity mapping filled `order_id`), the bot
    answered the complaint, and the shopper now reports the delivery problem without repeating it."""
    events = [
        {
            "event": "user",
            "text": "THIS IS RIDICULOUS!!! SA-100001 IS A WEEK LATE!!!",
            "parse_data": {
                "intent": {"name": "complaint"},
                "entities": [{"entity": "order_id", "value": "SA-100001", "start": 22, "end": 31}],
            },
        },
        {"event": "slot", "name": "order_id", "value": "SA-100001"},
        {"event": "action", "name": "utter_complaint"},
        {
            "event": "bot",
            "text": "I'm really sorry about that ...",
            "metadata": {"utter_action": "utter_complaint"},
        },
        {"event": "action", "name": "action_listen"},
        {
            "event": "user",
            "text": "it still hasn't arrived and nobody tells me anything",
            "parse_data": {"intent": {"name": "delivery_problem"}},
        },
    ]
    latest = {
        "text": events[-1]["text"],
        "intent": {"name": "delivery_problem", "confidence": 0.9},
        "entities": [],
    }
    return Tracker("angry", {"order_id": "SA-100001"}, latest, events, False, None, {}, "action_listen")


def test_a_delivery_problem_uses_the_order_number_given_earlier(monkeypatch, domain) -> None:
    monkeypatch.setattr(policy_answers, "_knowledge_base", lambda: pytest.fail("a report, not a question"))
    messages, events = run_action(ActionAnswerDeliveryProblem(), angry_shopper_later(), domain)
    assert responses(messages) == ["utter_delivery_problem_known_order"]
    assert messages[0]["order_id"] == "SA-100001"
    assert slot_events(events) == {"order_id": "SA-100001", "order_task": "status"}
    assert events[-1]["name"] == "order_form"  # which asks only for the e-mail: the order number is set


def test_a_delivery_problem_with_the_number_in_it_looks_it_up(monkeypatch, domain) -> None:
    monkeypatch.setattr(policy_answers, "_knowledge_base", lambda: pytest.fail("a report, not a question"))
    entities = [{"entity": "order_id", "value": "SA-100002"}]
    tracker = make_tracker(
        text="my parcel SA-100002 never arrived!!",
        intent="delivery_problem",
        entities=entities,
        slots={"order_id": "SA-100001"},
    )
    messages, events = run_action(ActionAnswerDeliveryProblem(), tracker, domain)
    assert messages[0]["order_id"] == "SA-100002"
    assert slot_events(events)["order_id"] == "SA-100002"
