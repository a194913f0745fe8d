"""shop.clauses: where a message splits into two requests, and which clause its answer left open."""

from __future__ import annotations

import pytest

from shop.clauses import (
    entities_in,
    looks_like_request,
    split_requests,
    unanswered_clauses,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("how long does shipping take and is it free?", ["how long does shipping take", "is it free?"]),
        (
            "where is SA-100006 and can I still change what's in it?",
            ["where is SA-100006", "can I still change what's in it?"],
        ),
        ("How long does shipping take? Is it free?", ["How long does shipping take?", "Is it free?"]),
        (
            "What's your return policy? How do I start a return?",
            ["What's your return policy?", "How do I start a return?"],
        ),
        (
            "how much is express delivery, also do you take paypal?",
            ["how much is express delivery", "do you take paypal?"],
        ),
        ("I want to cancel my order and I want a refund", ["I want to cancel my order", "I want a refund"]),
        (
            "Hi! Where is SA-100001? Also, can I pay with Klarna?",
            ["Hi! Where is SA-100001?", "can I pay with Klarna?"],
        ),
    ],
)
def test_two_requests_are_split(text: str, expected: list) -> None:
    clauses = split_requests(text)
    assert [clause.text for clause in clauses] == expected
    for clause in clauses:
        assert text[clause.start : clause.end] == clause.text


@pytest.mark.parametrize(
    "text",
    [
        "how long does delivery take?",
        "Hi! How long does delivery take?",  # a greeting is no request of its own
        "My parcel is late. Where is it?",  # a statement joins the question it explains
        "Can you help me? I want to return my shoes.",  # an opener asks for nothing
        "I want to return it and get a refund",  # "get a refund" does not start a request
        "show me black and white sneakers",
        "if I cancel, will I get my money back?",  # a condition before a comma asks nothing of its own
        "standard costs 4.95 and is it faster?",  # a statement before "and"
        "THIS IS RIDICULOUS!!! ORDER SA-100001 STILL NOT HERE AFTER 2 WEEKS!!!",
        "Where is my order?! Why does nobody answer?! Is this a joke?! Who is in charge?!",  # > 3: a story
        "",
        None,
    ],
)
def test_one_request_is_left_whole(text) -> None:
    assert split_requests(text) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("how long does shipping take, is it free?", ["how long does shipping take", "is it free?"]),
        ("where is SA-100006, can I still change it?", ["where is SA-100006", "can I still change it?"]),
        (
            "Is SA-100003 shipped yet, can I still cancel it?",
            ["Is SA-100003 shipped yet", "can I still cancel it?"],
        ),
        (
            "do you have the Trailpeak jacket in M, how much is it?",
            ["do you have the Trailpeak jacket in M", "how much is it?"],
        ),
        (
            "I want to return the hoodie, how long does the refund take?",
            ["I want to return the hoodie", "how long does the refund take?"],
        ),
        (
            "how much is delivery to Norway , do you charge customs?",
            ["how much is delivery to Norway", "do you charge customs?"],
        ),
        (
            "can you show me red hoodies, what sizes do they come in?",
            ["can you show me red hoodies", "what sizes do they come in?"],
        ),
        (
            "when will my order arrive, could you check SA-100001?",
            ["when will my order arrive", "could you check SA-100001?"],
        ),
        (
            "what payment methods do you accept, where's my refund for SA-100005?",
            ["what payment methods do you accept", "where's my refund for SA-100005?"],
        ),
        (
            "I need to cancel SA-100003, please refund it to my card",
            ["I need to cancel SA-100003", "please refund it to my card"],
        ),
        # a greeting before the first comma stays with its request
        (
            "Hi, where is my parcel, can I get a refund for the delay?",
            ["Hi, where is my parcel", "can I get a refund for the delay?"],
        ),
        (
            "where is SA-100001, can I change the address, and how do returns work?",
            ["where is SA-100001", "can I change the address", "how do returns work?"],
        ),
    ],
)
def test_a_comma_between_two_requests_splits(text: str, expected: list) -> None:
    test_two_requests_are_split(text, expected)


@pytest.mark.parametrize(
    "text",
    [
        "I want a red, warm jacket",  # a list of adjectives
        "hi, where is my order",  # a greeting is no request
        "yes, please",
        "show me shoes, bags and hats",  # a list of things
        "do you have it in red, blue or green?",
        "when it arrives, can I still return it?",  # "when" without inversion: a condition
        "could you tell me, is the parka waterproof?",  # a lead-in
        "can you check, is it in stock?",
        "is the jacket warm, do you know?",  # a tag with no topic of its own
        "I want to cancel SA-100003, is that possible?",
        "I want to cancel, how do I do that?",
        "what about returns, how do they work?",
        "I bought boots last week, can I return them?",  # a statement explains the question
        "Thanks, can you also check my refund?",
        "Can you check SA-100001, please?",
        "I'd like the hoodie in grey, size M",
        "I want to return the jacket, which is too small",  # a relative clause
        "please send it to my office, where it is safe",
        "No, I want the blue one, not the black",
        "where is my order, it's been two weeks",
        "I want to return the shoes, they don't fit",  # a reason, not a request
        "it costs 4,95 euros, is that right?",
    ],
)
def test_a_comma_inside_one_request_does_not_split(text: str) -> None:
    assert split_requests(text) == []


def test_requests_need_three_words_and_a_question_or_request_start() -> None:
    assert looks_like_request("is it free?")
    assert looks_like_request("and also I want a refund")
    assert not looks_like_request("is it?")
    assert not looks_like_request("it has been two weeks")
    assert not looks_like_request("could you please help me?")


def clause(text: str, intent: str, confidence: float = 0.9, start: int = 0) -> dict:
    return {
        "text": text,
        "start": start,
        "end": start + len(text),
        "intent": {"name": intent, "confidence": confidence},
    }


SHIPPING = [
    clause("how long does shipping take", "delivery_time"),
    clause("is it free?", "delivery_options", start=32),
]


def test_the_clause_of_another_intent_is_left_open() -> None:
    assert unanswered_clauses(SHIPPING, "delivery_time")[:1] == [SHIPPING[1]]
    assert unanswered_clauses(SHIPPING, "delivery_options")[:1] == [SHIPPING[0]]


def test_nothing_is_left_open_when_it_is_unclear_or_already_answered() -> None:
    # No clause has the message's intent: which half did the answer cover?
    assert unanswered_clauses(SHIPPING, "payment_methods") == []
    # Both halves have the message's intent (or an equivalent one): one answer covers both.
    same = [clause("where is my order", "order_status"), clause("it never arrived", "delivery_problem")]
    assert unanswered_clauses(same, "order_status") == []
    # An unsure, ignored or missing clause intent.
    unsure = [SHIPPING[0], clause("is it free?", "delivery_options", confidence=0.3)]
    assert unanswered_clauses(unsure, "delivery_time") == []
    thanks = [SHIPPING[0], clause("can I say thanks", "thank")]
    assert unanswered_clauses(thanks, "delivery_time") == []
    # The message answered a question of the bot, or was not understood.
    assert unanswered_clauses(SHIPPING, "affirm") == []
    assert unanswered_clauses(SHIPPING, "nlu_fallback") == []
    assert unanswered_clauses(None, "delivery_time") == []
    assert unanswered_clauses(SHIPPING[:1], "delivery_time") == []


def test_entities_are_assigned_to_their_clause() -> None:
    entities = [
        {"entity": "order_id", "value": "SA-100006", "start": 9, "end": 18},
        {"entity": "email", "value": "a@b.co", "start": 40, "end": 46},
    ]
    where = clause("where is SA-100006", "order_status")
    assert entities_in(where, entities) == [entities[0]]
    assert entities_in({"text": "x"}, entities) == []


def test_a_message_that_asked_three_things_leaves_two_clauses_open() -> None:
    three = [*SHIPPING, clause("do you take paypal?", "payment_methods", start=45)]
    assert unanswered_clauses(three, "delivery_time") == three[1:]
    assert unanswered_clauses(three, "payment_methods") == three[:2]
    assert unanswered_clauses(three, "order_status") == []  # no clause has the message's intent
    assert unanswered_clauses(SHIPPING, "delivery_time") == [SHIPPING[1]]
