"""The real domain, rules and stories with RulePolicy, HandoffPolicy and OtherClausePolicy (no TED: it needs
the trained model): a message that asks two things gets both answers, in order, and the bot then listens."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import pytest
from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
from rasa.core.policies.policy import Policy
from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActiveLoop, Event, SlotSet, UserUttered
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.importers.importer import TrainingDataImporter

from components.policies.handoff_policy import HandoffPolicy
from components.policies.other_clause_policy import OtherClausePolicy
from tests.policies.helpers import conversation, execution_context

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    importer = TrainingDataImporter.load_from_config(
        str(REPO / "config.yml"), str(REPO / "domain.yml"), [str(REPO / "data")]
    )
    domain = importer.get_domain()
    trackers = TrainingDataGenerator(
        importer.get_stories(), domain, remove_duplicates=True, augmentation_factor=0
    ).generate()
    storage = LocalModelStorage(tmp_path_factory.mktemp("dialogue"))
    rules = RulePolicy.create(
        {
            **RulePolicy.get_default_config(),
            "core_fallback_threshold": 0.3,
            "core_fallback_action_name": "action_default_fallback",
            "enable_fallback_prediction": True,
        },
        storage,
        Resource("rules"),
        execution_context(),
    )
    rules.train(trackers, domain)  # raises on contradicting rules
    policies: List[Policy] = [
        rules,
        HandoffPolicy.create(
            HandoffPolicy.get_default_config(), storage, Resource("handoff"), execution_context()
        ),
        OtherClausePolicy.create(
            OtherClausePolicy.get_default_config(), storage, Resource("clause"), execution_context()
        ),
    ]
    return domain, policies


def message(
    text: str, intent: str, clauses: Sequence[Dict[str, Any]] = (), entities: Optional[list] = None
) -> UserUttered:
    parse_data: Dict[str, Any] = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.95},
        "entities": entities or [],
    }
    if clauses:
        parse_data["clauses"] = list(clauses)
    return UserUttered(text, parse_data["intent"], parse_data["entities"], parse_data)


def clause(text: str, intent: str, start: int = 0) -> Dict[str, Any]:
    return {
        "text": text,
        "start": start,
        "end": start + len(text),
        "intent": {"name": intent, "confidence": 0.9},
    }


def next_actions(domain: Domain, policies: List[Policy], steps: List[Any], limit: int = 4) -> List[str]:
    """The actions the ensemble picks after ``steps`` until it listens (each pick's events applied)."""
    events: List[Any] = list(steps)
    picked: List[str] = []
    for _ in range(limit):
        tracker = conversation(domain, events)
        predictions = [policy.predict_action_probabilities(tracker, domain) for policy in policies]
        best = DefaultPolicyPredictionEnsemble().combine_predictions(predictions, tracker, domain)
        action = domain.action_names_or_texts[best.max_confidence_index]
        picked.append(action)
        if action == ACTION_LISTEN_NAME:
            break
        events += [e for e in best.events if isinstance(e, Event)] + [action]
    return picked


SHIPPING = message(
    "how long does shipping take and is it free?",
    "delivery_time",
    [clause("how long does shipping take", "delivery_time"), clause("is it free?", "delivery_options", 32)],
)
ORDER = message(
    "where is SA-100006 and can I still change what's in it?",
    "change_order",
    [
        clause("where is SA-100006", "order_status"),
        clause("can I still change what's in it?", "change_order", 23),
    ],
    [{"entity": "order_id", "value": "SA-100006", "start": 9, "end": 18}],
)


def test_both_questions_are_answered_then_the_bot_listens(real) -> None:
    domain, policies = real
    assert next_actions(domain, policies, [SHIPPING]) == [
        "action_answer_policy_question",
        "action_answer_other_clause",
        ACTION_LISTEN_NAME,
    ]


def test_a_single_question_is_answered_once(real) -> None:
    domain, policies = real
    single = message("how long does shipping take?", "delivery_time")
    assert next_actions(domain, policies, [single]) == ["action_answer_policy_question", ACTION_LISTEN_NAME]


def test_the_offer_of_the_other_request_takes_the_shoppers_yes(real) -> None:
    domain, policies = real
    assert next_actions(domain, policies, [ORDER]) == [
        "action_answer_policy_question",
        "action_answer_other_clause",
        ACTION_LISTEN_NAME,
    ]
    offered = [ORDER, "action_answer_policy_question", "action_answer_other_clause"]
    yes = message("yes please", "affirm")
    assert next_actions(domain, policies, [*offered, yes], limit=1) == ["action_answer_other_clause"]


def test_an_order_request_that_starts_the_form_is_not_interrupted(real) -> None:
    domain, policies = real
    as_status = message(ORDER.text, "order_status", ORDER.parse_data["clauses"], ORDER.entities)
    form_asks = [as_status, "order_form", ActiveLoop("order_form"), SlotSet("requested_slot", "email")]
    assert next_actions(domain, policies, form_asks) == [ACTION_LISTEN_NAME]


def test_a_message_that_asked_three_things_gets_one_follow_up_with_both_clauses(real) -> None:
    domain, policies = real
    three = message(
        "How long does shipping take? Is it free? Can I pay with paypal?",
        "delivery_time",
        [
            clause("How long does shipping take?", "delivery_time"),
            clause("Is it free?", "delivery_options", 29),
            clause("Can I pay with paypal?", "payment_methods", 41),
        ],
    )
    assert next_actions(domain, policies, [three]) == [
        "action_answer_policy_question",
        "action_answer_other_clause",
        ACTION_LISTEN_NAME,
    ]
    tracker = conversation(domain, [three, "action_answer_policy_question"])
    handed = policies[-1].open_clause(tracker, domain)
    assert [handed["text"]] + [c["text"] for c in handed["further"]] == [
        "Is it free?",
        "Can I pay with paypal?",
    ]
