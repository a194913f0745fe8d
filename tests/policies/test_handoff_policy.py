"""HandoffPolicy: each trigger, its thresholds, forms, no re-firing, persistence and the ensemble."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import pytest
from rasa.core.constants import RULE_POLICY_PRIORITY
from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.engine.training.fingerprinting import calculate_fingerprint_key
from rasa.shared.core.constants import ACTION_LISTEN_NAME, REQUESTED_SLOT
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActiveLoop, BotUttered, SlotSet, UserUtteranceReverted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import InvalidConfigException

from components.policies.handoff_policy import (
    ALL_TRIGGERS,
    ANGER_RISING,
    ANGER_SUSTAINED,
    EXPLICIT_REQUEST,
    PERSISTED_FILE,
    REPEATED_FALLBACK,
    REPEATED_REQUEST,
    SENSITIVE_TOPIC,
    HandoffPolicy,
)
from tests.policies.helpers import conversation, execution_context, in_form, make_policy, user

HANDOFF = "action_handoff"


@pytest.fixture()
def policy(tmp_path: Path) -> HandoffPolicy:
    return make_policy(tmp_path)


def predicted(prediction: PolicyPrediction, domain: Domain) -> Optional[str]:
    if prediction.max_confidence <= 0.0:
        return None
    return domain.action_names_or_texts[prediction.max_confidence_index]


def reason(policy: HandoffPolicy, tracker: DialogueStateTracker) -> Optional[str]:
    decision = policy.decide(tracker)
    return decision.trigger if decision else None


def angry(intent: str = "complaint", confidence: float = 0.85, **kwargs: Any):
    return user(intent, feeling="anger", feeling_confidence=confidence, **kwargs)


# ----------------------------------------------------------------------------------------- config


def test_defaults_are_documented_and_outrank_rule_policy() -> None:
    config = HandoffPolicy.get_default_config()
    assert config["priority"] == RULE_POLICY_PRIORITY + 1
    assert config["handoff_action"] == HANDOFF
    assert config["prediction_confidence"] == 1.0
    assert config["triggers"] == list(ALL_TRIGGERS)
    assert config["triggers_in_active_loop"] == [EXPLICIT_REQUEST]
    for key in (
        "explicit_request_threshold",
        "anger_threshold",
        "anger_window",
        "anger_min_turns",
        "fallback_turns",
        "repeat_min_count",
        "repeat_window",
        "sensitive_patterns",
    ):
        assert key in config


@pytest.mark.parametrize(
    "bad",
    [
        {"triggers": ["explicit_request", "moon_phase"]},
        {"anger_threshold": 1.5},
        {"anger_min_turns": 4, "anger_window": 3},
        {"repeat_min_count": 1},
        {"sensitive_patterns": ["(unclosed"]},
        {"handoff_action": ""},
        {"noop_short_max_words": -1},
        {"repeat_related_max_confidence": 1.5},
    ],
)
def test_invalid_config_is_rejected(tmp_path: Path, bad: dict) -> None:
    with pytest.raises(InvalidConfigException):
        make_policy(tmp_path, **bad)


# ------------------------------------------------------------------------------ explicit_request


def test_explicit_request_predicts_handoff_with_reason(policy: HandoffPolicy, domain: Domain) -> None:
    tracker = conversation(domain, [user("greet"), "utter_greet", user("request_human", 0.92)])
    prediction = policy.predict_action_probabilities(tracker, domain)

    assert predicted(prediction, domain) == HANDOFF
    assert prediction.max_confidence == 1.0
    assert prediction.policy_priority == RULE_POLICY_PRIORITY + 1
    assert SlotSet("handoff_reason", EXPLICIT_REQUEST) in prediction.optional_events
    assert prediction.events == []  # nothing is forced on the tracker unless the policy wins
    assert prediction.action_metadata["handoff_reason"] == EXPLICIT_REQUEST
    assert prediction.is_no_user_prediction is False


def test_explicit_request_threshold_is_respected(tmp_path: Path, domain: Domain) -> None:
    tracker = conversation(domain, [user("request_human", 0.55)])
    assert reason(make_policy(tmp_path), tracker) == EXPLICIT_REQUEST
    assert reason(make_policy(tmp_path, explicit_request_threshold=0.6), tracker) is None


def test_explicit_request_by_text_when_the_intent_is_missed(policy: HandoffPolicy, domain: Domain) -> None:
    tracker = conversation(domain, [user("complaint", 0.7, text="just let me speak to a real person")])
    assert reason(policy, tracker) == EXPLICIT_REQUEST


def test_intent_payload_without_emotion_does_not_crash(policy: HandoffPolicy, domain: Domain) -> None:
    # `/request_human` from a button: Rasa's RegexMessageHandler drops `emotion`
    tracker = conversation(
        domain, [user("greet", feeling=None), "utter_greet", user("request_human", 1.0, feeling=None)]
    )
    assert reason(policy, tracker) == EXPLICIT_REQUEST
    tracker = conversation(domain, [user("affirm", feeling=None), "utter_greet", user("deny", feeling=None)])
    assert predicted(policy.predict_action_probabilities(tracker, domain), domain) is None


# ------------------------------------------------------------------------------------- anger


def test_sustained_anger_fires_on_k_of_n(policy: HandoffPolicy, domain: Domain) -> None:
    tracker = conversation(
        domain, [angry("order_status"), "utter_greet", user("inform"), "utter_greet", angry("complaint")]
    )
    assert reason(policy, tracker) == ANGER_SUSTAINED
    decision = policy.decide(tracker)
    assert decision.details[ANGER_SUSTAINED]["angry_turns"] == 2


def test_single_angry_outburst_does_not_fire(policy: HandoffPolicy, domain: Domain) -> None:
    tracker = conversation(
        domain, [user("order_status"), "utter_greet", user("inform"), "utter_greet", angry()]
    )
    assert reason(policy, tracker) is None


def test_anger_that_calmed_down_does_not_fire(policy: HandoffPolicy, domain: Domain) -> None:
    tracker = conversation(domain, [angry(), "utter_complaint", angry(), "utter_complaint", user("thank")])
    # two angry turns, but the latest is calm: anger_require_latest
    assert reason(policy, tracker) is None


def test_a_complaint_after_an_angry_message_escalates(
    tmp_path: Path, policy: HandoffPolicy, domain: Domain
) -> None:
    """A hole in a new hoodie, "I paid 60 and wore it ONCE" (anger), then "worst quality ever, I'm so done
    with this shop" (a complaint the emotion head reads as sadness): the grievance is getting worse."""
    sad_complaint = user("complaint", feeling="sadness")
    tracker = conversation(
        domain, [user("nlu_fallback"), "utter_default", angry(), "utter_complaint", sad_complaint]
    )
    assert reason(policy, tracker) == ANGER_SUSTAINED
    assert policy.decide(tracker).details[ANGER_SUSTAINED]["escalating_complaints"] == 1
    # two calm complaints are a shopper explaining, not escalating
    calm = conversation(domain, [user("complaint"), "utter_complaint", user("complaint", feeling="sadness")])
    assert reason(policy, calm) is None
    # an angry message, then a question: the shopper moved on
    moved_on = conversation(domain, [angry(), "utter_complaint", user("delivery_time")])
    assert reason(policy, moved_on) is None
    assert reason(make_policy(tmp_path, escalation_intents=[]), tracker) is None


def test_anger_thresholds_are_respected(tmp_path: Path, domain: Domain) -> None:
    mild = conversation(domain, [angry(confidence=0.5), "utter_complaint", angry(confidence=0.53)])
    assert reason(make_policy(tmp_path), mild) is None
    assert reason(make_policy(tmp_path, anger_threshold=0.45), mild) == ANGER_SUSTAINED

    two_of_three = conversation(domain, [angry(), "utter_complaint", user("inform"), "utter_greet", angry()])
    assert reason(make_policy(tmp_path, anger_min_turns=3), two_of_three) is None
    # a window of 2 no longer sees the first angry turn
    assert reason(make_policy(tmp_path, anger_window=2, anger_min_turns=2), two_of_three) is None


def test_rising_anger_fires(policy: HandoffPolicy, domain: Domain) -> None:
    tracker = conversation(
        domain,
        [
            user("order_status", feeling="neutral", feeling_confidence=0.8),  # anger 0.04
            "utter_greet",
            angry("order_status", confidence=0.3),
            "utter_greet",
            angry("complaint", confidence=0.55),
        ],
    )
    assert reason(policy, tracker) == ANGER_RISING


def test_flat_or_small_anger_steps_do_not_count_as_rising(policy: HandoffPolicy, domain: Domain) -> None:
    flat = conversation(
        domain,
        [
            angry("order_status", confidence=0.35),
            "utter_greet",
            angry("search_product", confidence=0.4),
            "utter_greet",
            angry(confidence=0.55),
        ],
    )
    assert reason(policy, flat) is None  # +0.05 is below anger_rising_min_step
    short = conversation(domain, [angry(confidence=0.2), "utter_greet", angry(confidence=0.55)])
    assert reason(policy, short) is None  # fewer than anger_rising_turns turns


# ------------------------------------------------------------------------------------ fallbacks


def test_consecutive_nlu_fallbacks_fire(tmp_path: Path, domain: Domain) -> None:
    steps = [
        user("nlu_fallback", 0.4),
        "utter_default",
        user("nlu_fallback", 0.4),
        "utter_default",
        user("nlu_fallback", 0.4),
    ]
    assert reason(make_policy(tmp_path), conversation(domain, steps)) == REPEATED_FALLBACK
    assert reason(make_policy(tmp_path), conversation(domain, steps[:3])) is None
    assert reason(make_policy(tmp_path, fallback_turns=4), conversation(domain, steps)) is None


def test_utter_default_sent_by_a_custom_action_counts_as_a_fallback(tmp_path: Path, domain: Domain) -> None:
    """action_answer_from_knowledge sends utter_default when no help page fits: the turn failed as much as
    one answered by the utter_default action (Rasa names the response in the message's metadata)."""
    rephrase = BotUttered("Sorry, I didn't quite get that.", metadata={"utter_action": "utter_default"})
    page = BotUttered("From our help pages: ...", metadata={"utter_action": "utter_knowledge_answer"})

    def steps(reply: BotUttered) -> list:
        return [
            user("out_of_scope", 0.9),
            "action_answer_from_knowledge",
            reply,
            user("inform", 0.9),
            "action_answer_from_knowledge",
            reply,
            user("nlu_fallback", 0.4),
        ]

    assert reason(make_policy(tmp_path), conversation(domain, steps(rephrase))) == REPEATED_FALLBACK
    assert reason(make_policy(tmp_path), conversation(domain, steps(page))) is None


def test_one_good_turn_among_four_does_not_reset_the_fallback_count(tmp_path: Path, domain: Domain) -> None:
    """3 failed of the last 4: a "hello?" the bot understood after misunderstandings keeps counting."""
    steps = [
        user("nlu_fallback", 0.4),
        "utter_default",
        user("order_status", 0.95),
        "order_form",
        user("nlu_fallback", 0.4),
        "utter_default",
        user("nlu_fallback", 0.4),
    ]
    assert reason(make_policy(tmp_path), conversation(domain, steps)) == REPEATED_FALLBACK
    assert reason(make_policy(tmp_path, fallback_window=3), conversation(domain, steps)) is None


def test_two_good_turns_or_a_good_latest_turn_do_not_fire(policy: HandoffPolicy, domain: Domain) -> None:
    two_good = [
        user("nlu_fallback", 0.4),
        "utter_default",
        user("order_status", 0.95),
        "order_form",
        user("greet", 0.95),
        "utter_greet",
        user("nlu_fallback", 0.4),
        "utter_default",
        user("nlu_fallback", 0.4),
    ]
    assert reason(policy, conversation(domain, two_good)) is None
    latest_good = [
        user("nlu_fallback", 0.4),
        "utter_default",
        user("nlu_fallback", 0.4),
        "utter_default",
        user("nlu_fallback", 0.4),
        "utter_default",
        user("order_status", 0.95),
    ]
    assert reason(policy, conversation(domain, latest_good)) is None


def test_a_greeting_after_three_failed_turns_counts_as_failed(policy: HandoffPolicy, domain: Domain) -> None:
    """Decided 2026-12-06 (this test said the opposite before): "??? hello" after three misunderstandings
    asks whether anyone is there; a greeting is no sign the bot understood, so the shopper gets a person."""
    failures = [user("nlu_fallback", 0.4), "utter_default"] * 3
    tracker = conversation(domain, [*failures, user("greet", 0.95, text="??? hello")])
    assert reason(policy, tracker) == REPEATED_FALLBACK
    assert policy.decide(tracker).details[REPEATED_FALLBACK]["greeting_after_failures"] is True


def test_a_greeting_after_fewer_failures_or_a_good_turn_does_not_fire(
    policy: HandoffPolicy, domain: Domain
) -> None:
    two_failures = [user("nlu_fallback", 0.4), "utter_default"] * 2
    assert reason(policy, conversation(domain, [*two_failures, user("greet", 0.95)])) is None
    recovered = [
        user("nlu_fallback", 0.4), "utter_default",
        user("nlu_fallback", 0.4), "utter_default",
        user("order_status", 0.95), "utter_ask_order_id",
        user("greet", 0.95),
    ]
    assert reason(policy, conversation(domain, recovered)) is None
    # a greeting button is never a misunderstanding
    failures = [user("nlu_fallback", 0.4), "utter_default"] * 3
    assert reason(policy, conversation(domain, [*failures, user("greet", 1.0, feeling=None)])) is None


def test_greetings_after_failures_can_be_switched_off(tmp_path: Path, domain: Domain) -> None:
    failures = [user("nlu_fallback", 0.4), "utter_default"] * 3
    tracker = conversation(domain, [*failures, user("greet", 0.95)])
    assert reason(make_policy(tmp_path, fallback_greeting_intents=[]), tracker) is None


@pytest.mark.parametrize("text", [
    "very bad quality, i am really angry now",
    "I'm so furious about this order",
    "honestly this makes me mad",
    "im getting really pissed off with you",
    "I feel absolutely livid",
])
def test_a_shopper_who_says_they_are_angry_is_angry(policy: HandoffPolicy, domain: Domain, text: str) -> None:
    """The emotion head read an explicit "I am really angry" as sadness; saying it counts as an angry turn."""
    tracker = conversation(domain, _sad_reading_then_angry(text))
    assert reason(policy, tracker) == ANGER_SUSTAINED
    assert policy.decide(tracker).details[ANGER_SUSTAINED]["said_angry"] == 1


@pytest.mark.parametrize("text", [
    "I'm not angry, just wondering where my parcel is",
    "I'm mad about these boots, they look great",
    "the angry birds t-shirt, do you have it in M?",
    "is the Fury jacket waterproof",
])
def test_no_anger_without_the_shopper_saying_so(policy: HandoffPolicy, domain: Domain, text: str) -> None:
    assert reason(policy, conversation(domain, _sad_reading_then_angry(text))) is None


def test_anger_patterns_can_be_switched_off(tmp_path: Path, domain: Domain) -> None:
    steps = _sad_reading_then_angry("i am really angry now")
    assert reason(make_policy(tmp_path, anger_patterns=[]), conversation(domain, steps)) is None


def _sad_reading_then_angry(text: str) -> list:
    """A complaint the emotion head read as sadness, then one it read as anger."""
    return [
        user("complaint", feeling="sadness", text=text), "utter_complaint",
        angry("complaint", text="never again, you sell rubbish"),
    ]


def test_out_of_scope_counts_as_not_understood(policy: HandoffPolicy, domain: Domain) -> None:
    """Keyboard mash and other languages land in out_of_scope, confidently: three of them hand over."""
    steps = [user("out_of_scope", 0.97), "utter_out_of_scope"] * 2 + [user("out_of_scope", 0.97)]
    assert reason(policy, conversation(domain, steps)) == REPEATED_FALLBACK


def test_core_fallbacks_and_low_confidence_count(policy: HandoffPolicy, domain: Domain) -> None:
    # action_default_fallback reverts the user message; the turn must still count
    steps = [
        user("search_product", 0.8),
        "action_default_fallback",
        UserUtteranceReverted(),
        user("order_status", 0.42),
        "utter_greet",
        user("complaint", 0.45),
    ]
    assert reason(policy, conversation(domain, steps)) == REPEATED_FALLBACK


# -------------------------------------------------------------------- no-op replies (repeated_fallback)

#: What action_handle_confirmation sends for a yes/no when nothing is pending.
OKAY = BotUttered("Okay! Let me know what you'd like to do next.", metadata={"utter_action": "utter_ok"})


def noop_then_two_fallbacks(first: Any, *answer: Any) -> list:
    """A message answered by ``answer`` (default: action_handle_confirmation saying utter_ok), then two
    messages that fell back; the decision is on the second of them."""
    answer = answer or ("action_handle_confirmation", OKAY)
    return [
        first,
        *answer,
        user("nlu_fallback", 0.4, text="the button thing on the jacket"),
        "utter_default",
        user("nlu_fallback", 0.4, text="it still won't"),
    ]


def test_a_confident_misreading_answered_with_okay_counts_as_failed(tmp_path: Path, domain: Domain) -> None:
    """ "it won't do the thing" read as deny (0.6) got the no-op "Okay!": not understood, whatever the NLU
    said; with the two fallbacks after it, three failed turns."""
    steps = noop_then_two_fallbacks(user("deny", 0.6, text="it won't do the thing"))
    policy = make_policy(tmp_path)
    assert reason(policy, conversation(domain, steps)) == REPEATED_FALLBACK
    details = policy.decide(conversation(domain, steps)).details[REPEATED_FALLBACK]
    assert details["noop_replies"] == 1 and details["failed_turns"] == 3
    assert reason(make_policy(tmp_path, noop_responses=[]), conversation(domain, steps)) is None
    # utter_ok run as a response action (no custom action) is the same no-op; so is a confident inform
    inform = noop_then_two_fallbacks(user("inform", 0.88, text="the zip on the thing I got"), "utter_ok")
    assert reason(policy, conversation(domain, inform)) == REPEATED_FALLBACK


@pytest.mark.parametrize(
    "first",
    [
        user("affirm", 0.95, text="ok"),
        user("thank", 0.9, text="thanks a lot, that is all"),
        user("greet", 0.9, text="hello there you lovely bot"),
        user("deny", 0.9, text="no"),
        user("deny", 0.9, text="no thank you"),
        user("deny", 0.9, text="I'd rather not"),
        user("deny", 1.0, feeling=None),  # a `/deny` button
        user("inform", 1.0, feeling=None),  # any button: the NLU cannot misread it
    ],
)
def test_okay_to_a_plain_yes_no_or_thanks_is_no_misunderstanding(
    policy: HandoffPolicy, domain: Domain, first: Any
) -> None:
    assert reason(policy, conversation(domain, noop_then_two_fallbacks(first))) is None


def test_a_deny_longer_than_noop_short_max_words_counts(tmp_path: Path, domain: Domain) -> None:
    steps = noop_then_two_fallbacks(user("deny", 0.9, text="no, that's not it"))  # 4 words
    assert reason(make_policy(tmp_path), conversation(domain, steps)) == REPEATED_FALLBACK
    assert reason(make_policy(tmp_path, noop_short_max_words=4), conversation(domain, steps)) is None
    exempt = make_policy(tmp_path, noop_exempt_intents=["deny"])
    assert reason(exempt, conversation(domain, steps)) is None


def test_okay_with_something_else_said_is_no_noop(policy: HandoffPolicy, domain: Domain) -> None:
    """The no-op must be the only thing the bot said in answer: a search it ran, a text it wrote or another
    response means the message did something."""
    first = user("deny", 0.7, text="not these, any colour is fine")
    listed = BotUttered("Here is what I found: ...")  # free text, no response name
    other = BotUttered("Anything else?", metadata={"utter_action": "utter_ask_anything_else"})
    for answer in (("action_handle_confirmation", OKAY, listed), ("action_handle_confirmation", OKAY, other)):
        assert reason(policy, conversation(domain, noop_then_two_fallbacks(first, *answer))) is None
    # another response alone is no no-op either
    assert reason(policy, conversation(domain, noop_then_two_fallbacks(first, "utter_greet"))) is None


def test_the_latest_turn_is_judged_by_its_own_nlu(policy: HandoffPolicy, domain: Domain) -> None:
    """The bot has not answered the latest message yet: a confident deny after two fallbacks is understood."""
    steps = [
        user("nlu_fallback", 0.4),
        "utter_default",
        user("nlu_fallback", 0.4),
        "utter_default",
        user("deny", 0.8, text="no, that is not what I asked at all"),
    ]
    assert reason(policy, conversation(domain, steps)) is None


# ----------------------------------------------------------------------------- repeated_request


def test_same_request_three_times_fires(policy: HandoffPolicy, domain: Domain) -> None:
    order = [{"entity": "order_id", "value": "SA-100001"}]
    steps = [
        user("order_status", entities=order),
        "action_handle_order_request",
        user("deny"),
        "utter_greet",
        user("order_status"),
        "action_handle_order_request",
        user("order_status", entities=order),
    ]
    assert reason(policy, conversation(domain, steps)) == REPEATED_REQUEST


def test_different_requests_or_small_talk_are_not_repeats(tmp_path: Path, domain: Domain) -> None:
    policy = make_policy(tmp_path)
    orders = [
        user("order_status", entities=[{"entity": "order_id", "value": f"SA-10000{i}"}]) for i in (1, 2, 3)
    ]
    steps = [orders[0], "action_handle_order_request", orders[1], "action_handle_order_request", orders[2]]
    assert reason(policy, conversation(domain, steps)) is None  # three different orders: progress
    thanks = [user("affirm"), "utter_greet", user("affirm"), "utter_greet", user("affirm")]
    assert reason(policy, conversation(domain, thanks)) is None  # ignored intents
    twice = [user("search_product"), "utter_greet", user("search_product")]
    assert reason(policy, conversation(domain, twice)) is None
    assert reason(make_policy(tmp_path, repeat_min_count=2), conversation(domain, twice)) == REPEATED_REQUEST


def test_equivalent_intents_count_as_the_same_request(tmp_path: Path, domain: Domain) -> None:
    """ "Where is my parcel?" / "is it lost?" / "has it been lost or not?": one unanswered request."""
    steps = [
        user("order_status", text="tracking hasn't moved"),
        "action_handle_order_request",
        user("delivery_problem", text="is it lost?"),
        "utter_delivery_problem",
        user("delivery_problem", text="has it been lost or not?"),
    ]
    assert reason(make_policy(tmp_path), conversation(domain, steps)) == REPEATED_REQUEST
    separate = make_policy(tmp_path, repeat_equivalent_intents=[])
    assert reason(separate, conversation(domain, steps)) is None


def test_the_same_answer_twice_and_a_third_ask_is_a_repeated_request(tmp_path: Path, domain: Domain) -> None:
    """However the NLU labels each try, a shopper who got the same answer twice and asks again is stuck."""
    answer = BotUttered("If a payment does not go through, check the card details ...")
    steps = [
        user("payment_issue", text="charged but no confirmation"),
        "action_answer_policy_question",
        answer,
        user("account_help", text="card charged, no order in my account"),
        "action_answer_policy_question",
        answer,
        user("order_status", text="hello?? money gone, no order. what happened?"),
    ]
    policy = make_policy(tmp_path)
    assert reason(policy, conversation(domain, steps)) == REPEATED_REQUEST
    assert policy.decide(conversation(domain, steps)).details[REPEATED_REQUEST]["same_answer_twice"] is True
    assert reason(make_policy(tmp_path, repeat_same_answer=False), conversation(domain, steps)) is None
    different = list(steps)
    different[5] = BotUttered("Something else entirely.")
    assert reason(policy, conversation(domain, different)) is None
    thanks = steps[:-1] + [user("thank", text="ok thanks")]
    assert reason(policy, conversation(domain, thanks)) is None


#: A generic answer the bot gives to an order question it cannot act on.
GENERIC = BotUttered(
    "Orders can be changed until they ship ...", metadata={"utter_action": "utter_change_order"}
)
ORDER = [{"entity": "order_id", "value": "SA-100001"}]


def restated(third: Any, second: Optional[Any] = None) -> list:
    """change_order, a misunderstanding, then ``third`` (the decision is on it)."""
    second = second or user("nlu_fallback", 0.4, text="no the SIZE, on what I bought")
    return [
        user("change_order", 0.9, text="I need to change the size on my order"),
        "action_answer_policy_question",
        GENERIC,
        second,
        "utter_default",
        third,
    ]


def test_a_request_restated_after_a_misunderstanding_is_repeated(tmp_path: Path, domain: Domain) -> None:
    """The third ask lands on another order intent (the wording changed, the NLU is unsure): three asks."""
    steps = restated(user("order_status", 0.68, text="can you change what I ordered"))
    policy = make_policy(tmp_path)
    assert reason(policy, conversation(domain, steps)) == REPEATED_REQUEST
    details = policy.decide(conversation(domain, steps)).details[REPEATED_REQUEST]
    assert details["times"] == 3 and details["failed_turns"] == 1
    assert details["intents"] == ["change_order", "nlu_fallback", "order_status"]
    assert reason(make_policy(tmp_path, repeat_count_failed_turns=False), conversation(domain, steps)) is None
    # the restatement read as a low-confidence inform is the same misunderstanding
    low_inform = restated(
        user("order_status", 0.68, text="can you change what I ordered"),
        user("inform", 0.45, text="the size of the shoes in it"),
    )
    assert reason(policy, conversation(domain, low_inform)) == REPEATED_REQUEST
    # ... and so is the second ask read, unsure, as the third one's intent
    low_order = restated(
        user("order_status", 0.68, text="can you change what I ordered"),
        user("order_status", 0.45, text="the size, of the order, I need to change it"),
    )
    assert reason(policy, conversation(domain, low_order)) == REPEATED_REQUEST


def test_the_same_request_around_a_failed_turn_counts_three(policy: HandoffPolicy, domain: Domain) -> None:
    steps = [
        user("payment_issue", 0.9, text="my payment went through twice"),
        "action_answer_policy_question",
        user("complaint", 0.42, text="twice the money gone"),
        "utter_complaint",
        user("payment_issue", 0.85, text="I was charged two times for one order"),
    ]
    assert reason(policy, conversation(domain, steps)) == REPEATED_REQUEST
    # a deny that got the no-op "Okay!" is the misunderstanding in between (A and B together)
    noop = [
        *steps[:2],
        user("deny", 0.7, text="no that does not help me"),
        "action_handle_confirmation",
        OKAY,
        steps[-1],
    ]
    assert reason(policy, conversation(domain, noop)) == REPEATED_REQUEST


@pytest.mark.parametrize(
    "third",
    [
        # a different, clearly understood request of another group
        user("search_product", 0.93, text="show me rain jackets"),
        # another order intent, but understood: a new request ("and where is my other order?")
        user("order_status", 0.9, text="where is my parcel"),
        # a related intent about another order
        user(
            "order_status",
            0.68,
            text="what about SA-100002",
            entities=[{"entity": "order_id", "value": "SA-100002"}],
        ),
        # small talk and answers are no requests
        user("thank", 0.9, text="ok thanks"),
    ],
)
def test_a_new_request_after_a_misunderstanding_is_no_repeat(
    policy: HandoffPolicy, domain: Domain, third: Any
) -> None:
    first = user("change_order", 0.9, text="change the size on SA-100001", entities=ORDER)
    steps = [first, *restated(third)[1:]]
    assert reason(policy, conversation(domain, steps)) is None


def test_a_completed_task_ends_the_request(policy: HandoffPolicy, domain: Domain) -> None:
    """The shopper cancelled an order (the action set task_completed), said something the bot did not get,
    then asked about an order: the next thing, not the same request again."""
    steps = [
        user("cancel_order", 0.9, text="cancel my order please"),
        "action_handle_order_request",
        SlotSet("task_completed", True),
        user("nlu_fallback", 0.4, text="hm and the other"),
        "utter_default",
        user("order_status", 0.7, text="when does the other one come"),
    ]
    assert reason(policy, conversation(domain, steps)) is None
    steps[2] = SlotSet("task_completed", False)
    assert reason(policy, conversation(domain, steps)) == REPEATED_REQUEST


def test_a_low_confidence_answer_a_form_took_is_no_restatement(tmp_path: Path, domain: Domain) -> None:
    """In a form a low intent confidence is no misunderstanding: the form took the e-mail anyway."""
    # as in config.yml: repeated_request may fire while a form asks
    policy = make_policy(tmp_path, triggers_in_active_loop=list(ALL_TRIGGERS))
    email = [{"entity": "email", "value": "alex@example.com"}]
    steps = [
        user("cancel_order", 0.9, text="cancel my order"),
        *in_form(),
        user("inform", 0.45, text="alex@example.com", entities=email),
        "order_form",
        ActiveLoop(None),
        "action_handle_order_request",
        user("order_status", 0.7, text="and when does it ship"),
    ]
    assert reason(policy, conversation(domain, steps)) is None
    # a message the form could not use (nlu_fallback) is one, though: the form asks again, the shopper
    # restates the request
    stuck = [
        user("change_order", 0.9, text="change my order"),
        *in_form(),
        user("nlu_fallback", 0.4, text="no I want a different size"),
        "order_form",
        user("order_status", 0.66, text="change the size of my order"),
    ]
    assert reason(policy, conversation(domain, stuck)) == REPEATED_REQUEST


def test_related_requests_without_a_misunderstanding_are_no_repeat(
    policy: HandoffPolicy, domain: Domain
) -> None:
    steps = [
        user("change_order", 0.9),
        "action_answer_policy_question",
        user("change_shipping_address", 0.85),
        "action_answer_policy_question",
        user("order_status", 0.7),
    ]
    assert reason(policy, conversation(domain, steps)) is None


@pytest.mark.parametrize(
    "text",
    [
        "could you get someone from customer service to look at this?",
        "please put me through to your team",
        "is there a person from support I can write to",
    ],
)
def test_indirect_requests_for_a_person_fire(policy: HandoffPolicy, domain: Domain, text: str) -> None:
    tracker = conversation(domain, [user("return_item", 0.7, text=text)])
    assert reason(policy, tracker) == EXPLICIT_REQUEST


# ------------------------------------------------------------------------------- sensitive_topic


@pytest.mark.parametrize(
    "text",
    [
        "there is an unauthorised charge on my card",
        "I will file a chargeback with my bank",
        "someone used my stolen card on your shop",
        "this looks like fraud",
    ],
)
def test_sensitive_keywords_fire(policy: HandoffPolicy, domain: Domain, text: str) -> None:
    tracker = conversation(domain, [user("payment_issue", 0.8, text=text)])
    assert reason(policy, tracker) == SENSITIVE_TOPIC


def test_ordinary_payment_question_does_not_fire(tmp_path: Path, domain: Domain) -> None:
    tracker = conversation(domain, [user("payment_issue", 0.9, text="my payment was declined, what now?")])
    assert reason(make_policy(tmp_path), tracker) is None
    configured = make_policy(tmp_path, sensitive_intents=["payment_issue"])
    assert reason(configured, tracker) == SENSITIVE_TOPIC


@pytest.mark.parametrize(
    "text, topic",
    [
        ("the heating pad in the jacket got very hot and left a mark on my son's back", "safety"),
        ("my mother passed away last month, her account still has an open order", "bereavement"),
    ],
)
def test_the_classifiers_sensitive_topic_fires_without_any_keyword(
    policy: HandoffPolicy, domain: Domain, text: str, topic: str
) -> None:
    """Calmly described and matched by no pattern: the NLU's sensitive head decides."""
    said = user("complaint", 0.8, text=text, sensitive=topic, sensitive_confidence=0.8)
    tracker = conversation(domain, [said])
    assert reason(policy, tracker) == SENSITIVE_TOPIC
    evidence = policy.decide(tracker).details[SENSITIVE_TOPIC]
    assert evidence == {"topic": topic, "confidence": 0.8}


def test_the_sensitive_head_needs_confidence_and_a_real_topic(tmp_path: Path, domain: Domain) -> None:
    text = "my card didn't go through"
    weak = conversation(
        domain, [user("payment_issue", text=text, sensitive="fraud", sensitive_confidence=0.3)]
    )
    nothing = conversation(
        domain, [user("payment_issue", text=text, sensitive="none", sensitive_confidence=0.99)]
    )
    policy = make_policy(tmp_path)
    assert reason(policy, weak) is None
    assert reason(policy, nothing) is None
    assert reason(make_policy(tmp_path, sensitive_model_threshold=0.25), weak) == SENSITIVE_TOPIC
    assert reason(make_policy(tmp_path, sensitive_model_threshold=None), weak) is None
    with pytest.raises(InvalidConfigException):
        make_policy(tmp_path, sensitive_model_threshold=1.5)


def test_the_sensitive_head_counts_all_topics_together(tmp_path: Path, domain: Domain) -> None:
    """ "A purchase on my profile I did not make": fraud 0.48, none 0.49 is more likely sensitive than not."""
    text = "there is a purchase on my profile that I did not make"
    split = {"none": 0.49, "fraud": 0.48, "bereavement": 0.03}
    tracker = conversation(
        domain,
        [
            user(
                "account_help",
                text=text,
                sensitive="none",
                sensitive_confidence=0.49,
                sensitive_ranking=split,
            )
        ],
    )
    policy = make_policy(tmp_path)
    assert reason(policy, tracker) == SENSITIVE_TOPIC
    assert policy.decide(tracker).details[SENSITIVE_TOPIC] == {"topic": "fraud", "confidence": 0.51}
    assert reason(make_policy(tmp_path, sensitive_model_score="top_label"), tracker) is None
    mostly_none = {"none": 0.6, "fraud": 0.2, "legal": 0.2}
    calm = conversation(
        domain,
        [
            user(
                "account_help",
                text=text,
                sensitive="none",
                sensitive_confidence=0.6,
                sensitive_ranking=mostly_none,
            )
        ],
    )
    assert reason(policy, calm) is None
    with pytest.raises(InvalidConfigException):
        make_policy(tmp_path, sensitive_model_score="sum")


def test_precedence_when_several_triggers_fire(policy: HandoffPolicy, domain: Domain) -> None:
    tracker = conversation(
        domain, [angry(), "utter_complaint", angry("request_human", text="fraud! get me a human agent")]
    )
    decision = policy.decide(tracker)
    assert decision.trigger == EXPLICIT_REQUEST
    assert decision.fired == [EXPLICIT_REQUEST, SENSITIVE_TOPIC, ANGER_SUSTAINED]


# ------------------------------------------------------------------------------------- forms


def test_stays_out_of_a_form_except_for_explicit_requests(policy: HandoffPolicy, domain: Domain) -> None:
    angry_in_form = conversation(domain, [angry("order_status"), *in_form(), angry("inform", text="SA-1!!")])
    assert predicted(policy.predict_action_probabilities(angry_in_form, domain), domain) is None
    fraud_in_form = conversation(
        domain, [user("order_status"), *in_form(), user("inform", text="it was fraud")]
    )
    assert reason(policy, fraud_in_form) is None

    request_in_form = conversation(domain, [user("order_status"), *in_form(), user("request_human", 0.9)])
    prediction = policy.predict_action_probabilities(request_in_form, domain)
    assert predicted(prediction, domain) == HANDOFF
    assert prediction.is_no_user_prediction is True  # competes with the loop's happy path
    assert prediction.optional_events[:2] == [ActiveLoop(None), SlotSet(REQUESTED_SLOT, None)]


def test_triggers_allowed_in_a_form_are_configurable(tmp_path: Path, domain: Domain) -> None:
    policy = make_policy(
        tmp_path, triggers_in_active_loop=[EXPLICIT_REQUEST, SENSITIVE_TOPIC], deactivate_active_loop=False
    )
    tracker = conversation(domain, [user("order_status"), *in_form(), user("inform", text="it was fraud")])
    prediction = policy.predict_action_probabilities(tracker, domain)
    assert predicted(prediction, domain) == HANDOFF
    assert ActiveLoop(None) not in prediction.optional_events


# ----------------------------------------------------------------------------- once, no re-fire


def test_predicts_nothing_after_the_handoff_in_the_same_turn(policy: HandoffPolicy, domain: Domain) -> None:
    tracker = conversation(domain, [user("request_human"), HANDOFF])
    assert predicted(policy.predict_action_probabilities(tracker, domain), domain) is None
    other_action = conversation(domain, [angry(), "utter_complaint", angry(), "utter_complaint"])
    assert policy.decide(other_action) is None


def test_does_not_refire_while_a_handoff_is_active(policy: HandoffPolicy, domain: Domain) -> None:
    after_handoff = conversation(
        domain, [angry(), "utter_complaint", angry(), HANDOFF, angry("request_human")]
    )
    assert policy.decide(after_handoff) is None  # the bot's last action was the handoff

    slot_active = conversation(domain, [user("request_human")], slots={"handoff_active": True})
    assert policy.decide(slot_active) is None


def test_evidence_before_a_handoff_is_not_counted_again(policy: HandoffPolicy, domain: Domain) -> None:
    # the agent handed the chat back; two angry turns before the handoff must not fire with one new one
    steps = [angry(), "utter_complaint", angry(), HANDOFF, user("thank"), "utter_greet", angry()]
    assert policy.decide(conversation(domain, steps)) is None
    steps += ["utter_complaint", angry()]
    assert reason(policy, conversation(domain, steps)) == ANGER_SUSTAINED


def test_ignores_rasa_default_intents(policy: HandoffPolicy, domain: Domain) -> None:
    tracker = conversation(domain, [angry(), "utter_complaint", user("restart", 1.0, feeling=None)])
    assert policy.decide(tracker) is None


def test_missing_action_or_slot_in_domain(tmp_path: Path) -> None:
    bare = Domain.from_yaml('version: "3.1"\nintents: [request_human]\nactions: [action_other]\n')
    tracker = conversation(bare, [user("request_human")])
    assert predicted(make_policy(tmp_path).predict_action_probabilities(tracker, bare), bare) is None

    no_slot = Domain.from_yaml('version: "3.1"\nintents: [request_human]\nactions: [action_handoff]\n')
    prediction = make_policy(tmp_path).predict_action_probabilities(
        conversation(no_slot, [user("request_human")]), no_slot
    )
    assert predicted(prediction, no_slot) == HANDOFF
    assert prediction.optional_events == []
    assert prediction.action_metadata["handoff_reason"] == EXPLICIT_REQUEST


# ------------------------------------------------------------------------------------ ensemble


def combine(
    domain: Domain, tracker: DialogueStateTracker, *predictions: PolicyPrediction
) -> PolicyPrediction:
    kwargs = {f"policy_{index}": prediction for index, prediction in enumerate(predictions)}
    return DefaultPolicyPredictionEnsemble().combine_predictions_from_kwargs(tracker, domain, **kwargs)


def test_handoff_beats_a_matching_rule(
    policy: HandoffPolicy, rule_policy: RulePolicy, domain: Domain
) -> None:
    tracker = conversation(domain, [angry(), "utter_complaint", angry("complaint")])
    rule = rule_policy.predict_action_probabilities(tracker, domain)
    assert predicted(rule, domain) == "utter_complaint" and rule.max_confidence == 1.0
    winner = combine(domain, tracker, rule, policy.predict_action_probabilities(tracker, domain))
    assert winner.policy_name == "HandoffPolicy"
    assert predicted(winner, domain) == HANDOFF
    assert SlotSet("handoff_reason", ANGER_SUSTAINED) in winner.events


def test_equal_confidence_ties_go_to_the_higher_priority(
    tmp_path: Path, rule_policy: RulePolicy, domain: Domain
) -> None:
    tracker = conversation(domain, [angry(), "utter_complaint", angry("complaint")])
    rule = rule_policy.predict_action_probabilities(tracker, domain)
    low = make_policy(tmp_path, priority=RULE_POLICY_PRIORITY - 1)
    winner = combine(domain, tracker, low.predict_action_probabilities(tracker, domain), rule)
    assert predicted(winner, domain) == "utter_complaint"
    # equal priorities: the first prediction given wins (the ensemble keeps the first maximum)
    same = make_policy(tmp_path, priority=RULE_POLICY_PRIORITY)
    assert (
        predicted(combine(domain, tracker, rule, same.predict_action_probabilities(tracker, domain)), domain)
        == "utter_complaint"
    )


def test_rule_wins_when_no_trigger_fires(
    policy: HandoffPolicy, rule_policy: RulePolicy, domain: Domain
) -> None:
    tracker = conversation(domain, [user("payment_issue", text="can I pay by invoice?")])
    winner = combine(
        domain,
        tracker,
        rule_policy.predict_action_probabilities(tracker, domain),
        policy.predict_action_probabilities(tracker, domain),
    )
    assert predicted(winner, domain) == "utter_payment_issue"
    assert winner.policy_name == "RulePolicy"


def test_explicit_request_beats_the_form_happy_path(
    policy: HandoffPolicy, rule_policy: RulePolicy, domain: Domain
) -> None:
    tracker = conversation(domain, [user("order_status"), *in_form(), user("request_human", 0.9)])
    rule = rule_policy.predict_action_probabilities(tracker, domain)
    assert predicted(rule, domain) == "order_form" and rule.is_no_user_prediction
    winner = combine(domain, tracker, rule, policy.predict_action_probabilities(tracker, domain))
    assert predicted(winner, domain) == HANDOFF
    assert ActiveLoop(None) in winner.events


def test_form_keeps_going_when_the_shopper_is_merely_angry(
    policy: HandoffPolicy, rule_policy: RulePolicy, domain: Domain
) -> None:
    tracker = conversation(domain, [angry("order_status"), *in_form(), angry("inform")])
    winner = combine(
        domain,
        tracker,
        rule_policy.predict_action_probabilities(tracker, domain),
        policy.predict_action_probabilities(tracker, domain),
    )
    assert predicted(winner, domain) == "order_form"


def test_action_listen_follows_the_handoff(
    policy: HandoffPolicy, rule_policy: RulePolicy, domain: Domain
) -> None:
    # with the recommended rule "listen after a handoff" (see tests/policies/helpers.py)
    tracker = conversation(domain, [angry(), "utter_complaint", angry(), ActiveLoop(None), HANDOFF])
    winner = combine(
        domain,
        tracker,
        rule_policy.predict_action_probabilities(tracker, domain),
        policy.predict_action_probabilities(tracker, domain),
    )
    assert predicted(winner, domain) == ACTION_LISTEN_NAME


# --------------------------------------------------------------------- persistence, fingerprints


def test_train_persist_and_load(tmp_path: Path, domain: Domain) -> None:
    storage = LocalModelStorage(tmp_path)
    resource = Resource("handoff_policy")
    config = {**HandoffPolicy.get_default_config(), "anger_threshold": 0.7}
    trained = HandoffPolicy.create(config, storage, resource, execution_context())
    assert trained.train([], domain) == resource
    with storage.read_from(resource) as directory:
        assert (Path(directory) / PERSISTED_FILE).is_file()

    loaded = HandoffPolicy.load(config, storage, resource, execution_context())
    assert loaded.config["anger_threshold"] == 0.7
    tracker = conversation(domain, [angry(), "utter_complaint", angry(confidence=0.75)])
    assert loaded.predict_action_probabilities(tracker, domain) == trained.predict_action_probabilities(
        tracker, domain
    )


def test_load_without_persisted_resource(tmp_path: Path, domain: Domain) -> None:
    loaded = HandoffPolicy.load(
        HandoffPolicy.get_default_config(),
        LocalModelStorage(tmp_path),
        Resource("never_trained"),
        execution_context(),
    )
    assert reason(loaded, conversation(domain, [user("request_human")])) == EXPLICIT_REQUEST


def test_fingerprint_follows_the_config() -> None:
    config = HandoffPolicy.get_default_config()
    key = calculate_fingerprint_key(HandoffPolicy, config, {})
    assert key == calculate_fingerprint_key(HandoffPolicy, dict(config), {})
    assert key != calculate_fingerprint_key(HandoffPolicy, {**config, "anger_threshold": 0.7}, {})


def test_a_shopper_who_says_they_need_no_person_is_not_handed_over(policy: HandoffPolicy, domain: Domain):
    declined = "no thanks, I do not need a human, that answers it"
    assert reason(policy, conversation(domain, [user("request_human", 0.8, text=declined)])) is None
    asked = "I don't want the bot, get me a human"  # the negation is about the bot, not a person
    assert reason(policy, conversation(domain, [user("request_human", 0.8, text=asked)])) == EXPLICIT_REQUEST


def test_the_sensitive_head_vetoes_a_keyword_in_a_harmless_message(tmp_path: Path, domain: Domain) -> None:
    text = "read a novel about a shopping scam last week, gripping"

    def said(confidence: float):
        return conversation(
            domain, [user("out_of_scope", text=text, sensitive="none", sensitive_confidence=confidence)]
        )

    sure_none, unsure = said(0.99), said(0.7)
    no_head = conversation(domain, [user("out_of_scope", text=text)])
    policy = make_policy(tmp_path)
    assert reason(policy, sure_none) is None
    assert reason(policy, unsure) == SENSITIVE_TOPIC
    assert reason(policy, no_head) == SENSITIVE_TOPIC
    assert reason(make_policy(tmp_path, sensitive_pattern_veto=None), sure_none) == SENSITIVE_TOPIC


def _restated(first_text: str, second_text: str, third_text: str, **third: Any):
    return [
        user("account_help", 0.9, text=first_text), "utter_knowledge_answer",
        user("discount_code", 0.8, text=second_text), "utter_knowledge_answer",
        user(third.pop("intent", "nlu_fallback"), third.pop("confidence", 0.4), text=third_text, **third),
    ]


def test_a_request_restated_in_other_words_and_then_not_understood_hands_over(
    policy: HandoffPolicy, domain: Domain
) -> None:
    """Three wordings of one request, labelled differently by the NLU, the last one not understood."""
    steps = _restated(
        "joined your mailing list last week but the welcome voucher never came",
        "still waiting for that mailing list voucher, where is it?",
        "for the third time: no welcome voucher after joining the mailing list",
    )
    tracker = conversation(domain, steps)
    assert reason(policy, tracker) == REPEATED_REQUEST
    details = policy.decide(tracker).details[REPEATED_REQUEST]
    assert {"mailing", "list", "voucher"} <= set(details["restated_in_words"])


@pytest.mark.parametrize(
    "third, kwargs",
    [
        # understood this time: the bot can answer
        ("for the third time: no welcome voucher after joining the mailing list",
         {"intent": "discount_code", "confidence": 0.9}),
        # not understood, but about something else
        ("do you sell gloves", {}),
        # one shared word is no restatement
        ("the voucher thing is confusing", {}),
    ],
)
def test_no_restatement_without_failure_or_shared_words(policy: HandoffPolicy, domain: Domain, third, kwargs):
    steps = _restated(
        "joined your mailing list last week but the welcome voucher never came",
        "still waiting for that mailing list voucher, where is it?",
        third, **kwargs,
    )
    assert reason(policy, conversation(domain, steps)) is None


def test_a_completed_task_in_between_is_no_restatement(policy: HandoffPolicy, domain: Domain) -> None:
    steps = [
        user("search_product", 0.9, text="red rain jackets with a hood"), "utter_complaint",
        SlotSet("task_completed", True),
        user("search_product", 0.9, text="red rain jackets with a hood under 80"), "utter_complaint",
        SlotSet("task_completed", True),
        user("nlu_fallback", 0.4, text="red rain jackets with a hood and pockets??"),
    ]
    assert reason(policy, conversation(domain, steps)) is None


def test_restatements_in_words_can_be_switched_off(tmp_path: Path, domain: Domain) -> None:
    steps = _restated(
        "joined your mailing list last week but the welcome voucher never came",
        "still waiting for that mailing list voucher, where is it?",
        "for the third time: no welcome voucher after joining the mailing list",
    )
    policy = make_policy(tmp_path, repeat_restated_min_shared_words=0)
    assert reason(policy, conversation(domain, steps)) is None
