"""GroupedFallbackClassifier: Rasa's fallback rule, minus ambiguity inside a group of equivalent intents."""

from __future__ import annotations

import pytest
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.training_data.message import Message

from components.classifiers.grouped_fallback import GroupedFallbackClassifier


def _message(*ranking):
    intents = [{"name": name, "confidence": conf} for name, conf in ranking]
    return Message(data={"text": "x", "intent": intents[0], "intent_ranking": intents})


@pytest.fixture
def classifier():
    config = {
        **GroupedFallbackClassifier.get_default_config(),
        "threshold": 0.4,
        "ambiguity_threshold": 0.05,
        "equivalent_intents": [["order_status", "delivery_problem"]],
    }
    return GroupedFallbackClassifier(config)


def _intent(classifier, message):
    return classifier.process([message])[0].data["intent"]["name"]


def test_a_tie_between_equivalent_intents_keeps_the_top_one(classifier):
    assert (
        _intent(classifier, _message(("delivery_problem", 0.45), ("order_status", 0.44)))
        == "delivery_problem"
    )


def test_a_tie_between_other_intents_still_falls_back(classifier):
    assert _intent(classifier, _message(("place_order", 0.45), ("payment_issue", 0.44))) == "nlu_fallback"
    assert _intent(classifier, _message(("order_status", 0.45), ("cancel_order", 0.44))) == "nlu_fallback"


def test_the_confidence_threshold_still_applies(classifier):
    assert _intent(classifier, _message(("order_status", 0.35), ("delivery_problem", 0.34))) == "nlu_fallback"


def test_without_groups_it_is_rasas_classifier():
    plain = GroupedFallbackClassifier(GroupedFallbackClassifier.get_default_config())
    default = plain.component_config["ambiguity_threshold"]
    tie = _message(("delivery_problem", 0.45), ("order_status", 0.45 - default / 2))
    assert _intent(plain, tie) == "nlu_fallback"


@pytest.mark.parametrize("groups", [[["order_status"]], ["order_status"], [["a", "b"], ["b", "c"]]])
def test_malformed_groups_are_a_clear_error(groups):
    with pytest.raises(InvalidConfigException):
        GroupedFallbackClassifier(
            {**GroupedFallbackClassifier.get_default_config(), "equivalent_intents": groups}
        )


def _with_clauses(message, *clauses):
    message.set("clauses", [{"text": f"part {i}", "start": 0, "end": 1,
                             "intent": {"name": name, "confidence": conf}}
                            for i, (name, conf) in enumerate(clauses)])
    return message


def test_a_message_whose_clauses_are_each_understood_takes_the_first_clauses_intent(classifier):
    """"where is SA-100006 and can I still change what's in it?": change_order 0.34, order_status 0.31 as a
    whole, each clause 0.9: the order question asked first is the message's intent."""
    message = _with_clauses(_message(("change_order", 0.34), ("order_status", 0.31), ("inform", 0.1)),
                            ("order_status", 0.92), ("change_order", 0.92))
    result = classifier.process([message])[0].data["intent"]
    assert result == {"name": "order_status", "confidence": 0.92}


@pytest.mark.parametrize(
    "clauses",
    [
        [("order_status", 0.92), ("change_order", 0.3)],  # one clause not understood either
        [("search_product", 0.92), ("change_order", 0.92)],  # first clause not among the message's top three
        [("order_status", 0.92)],  # one clause is no multi-request message
    ],
)
def test_otherwise_the_fallback_stands(classifier, clauses):
    whole = _message(("change_order", 0.34), ("order_status", 0.31), ("inform", 0.1))
    assert _intent(classifier, _with_clauses(whole, *clauses)) == "nlu_fallback"
