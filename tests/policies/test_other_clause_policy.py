"""OtherClausePolicy: answers the request a two-request message's first answer left open, once, never inside
a form, after a handoff or over a question the bot is waiting for; and it wins against RulePolicy there."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActiveLoop, ConversationPaused, SlotSet, UserUttered
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.core.training_data.structures import StoryGraph
from rasa.shared.exceptions import InvalidConfigException

from components.policies.other_clause_policy import PERSISTED_FILE, OtherClausePolicy
from tests.policies.helpers import conversation, execution_context, in_form

ANSWER = "action_answer_other_clause"
POLICY_ANSWER = "action_answer_policy_question"

DOMAIN_YAML = """
version: "3.1"
intents: [greet, affirm, deny, delivery_time, delivery_options, order_status, change_order, complaint,
          nlu_fallback]
entities: [order_id]
slots:
  order_id: {type: text, influence_conversation: false, mappings: [{type: from_entity, entity: order_id}]}
  other_clause: {type: any, influence_conversation: false, mappings: [{type: custom}]}
  pending_confirmation: {type: text, influence_conversation: false, mappings: [{type: custom}]}
  handoff_active: {type: bool, influence_conversation: false, mappings: [{type: custom}]}
forms:
  order_form:
    required_slots: [order_id]
actions: [action_answer_other_clause, action_answer_policy_question, action_handle_order_request,
          action_handoff, action_handle_confirmation]
responses:
  utter_ask_order_id: [{text: "Order number?"}]
  utter_offer_human: [{text: "Shall I get a colleague?"}]
"""

RULES_YAML = """
version: "3.1"
rules:
  - rule: answer delivery time
    steps:
      - intent: delivery_time
      - action: action_answer_policy_question
  - rule: answer change order
    steps:
      - intent: change_order
      - action: action_answer_policy_question
  - rule: order status starts the order form
    steps:
      - intent: order_status
      - action: order_form
      - active_loop: order_form
    wait_for_user_input: false
  - rule: affirm answers a pending question
    steps:
      - intent: affirm
      - action: action_handle_confirmation
  - rule: listen after answering the other clause
    steps:
      - action: action_answer_other_clause
  - rule: the shopper accepts what the other clause's answer offered
    steps:
      - action: action_answer_other_clause
      - intent: affirm
      - action: action_answer_other_clause
"""

TEXT = "how long does shipping take and is it free?"
CLAUSES = [
    {
        "text": "how long does shipping take",
        "start": 0,
        "end": 27,
        "intent": {"name": "delivery_time", "confidence": 0.93},
    },
    {
        "text": "is it free?",
        "start": 32,
        "end": 43,
        "intent": {"name": "delivery_options", "confidence": 0.81},
    },
]
ORDER_TEXT = "where is SA-100006 and can I still change what's in it?"
ORDER_ENTITY = {"entity": "order_id", "value": "SA-100006", "start": 9, "end": 18}
ORDER_CLAUSES = [
    {
        "text": "where is SA-100006",
        "start": 0,
        "end": 18,
        "intent": {"name": "order_status", "confidence": 0.9},
    },
    {
        "text": "can I still change what's in it?",
        "start": 23,
        "end": 55,
        "intent": {"name": "change_order", "confidence": 0.88},
    },
]


def two_requests(
    intent: str = "delivery_time",
    clauses: Optional[List[Dict[str, Any]]] = None,
    text: str = TEXT,
    entities: Optional[List[Dict[str, Any]]] = None,
) -> UserUttered:
    parse_data = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "entities": entities or [],
        "clauses": CLAUSES if clauses is None else clauses,
    }
    return UserUttered(text, parse_data["intent"], parse_data["entities"], parse_data)


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.from_yaml(DOMAIN_YAML)


@pytest.fixture()
def policy(tmp_path: Path) -> OtherClausePolicy:
    return OtherClausePolicy.create(
        OtherClausePolicy.get_default_config(),
        LocalModelStorage(tmp_path),
        Resource("other_clause"),
        execution_context(),
    )


@pytest.fixture(scope="module")
def rule_policy(tmp_path_factory: pytest.TempPathFactory, domain: Domain) -> RulePolicy:
    steps = YAMLStoryReader(domain).read_from_string(RULES_YAML)
    trackers = TrainingDataGenerator(
        StoryGraph(steps), domain, remove_duplicates=True, augmentation_factor=0
    ).generate()
    storage = LocalModelStorage(tmp_path_factory.mktemp("r"))
    policy = RulePolicy.create(
        RulePolicy.get_default_config(), storage, Resource("rules"), execution_context()
    )
    policy.train(trackers, domain)
    return policy


def predicted(prediction: PolicyPrediction, domain: Domain) -> Optional[str]:
    if prediction.max_confidence <= 0.0:
        return None
    return domain.action_names_or_texts[prediction.max_confidence_index]


def slot_value(prediction: PolicyPrediction) -> Any:
    values = [
        e.value for e in prediction.optional_events if isinstance(e, SlotSet) and e.key == "other_clause"
    ]
    return values[-1] if values else None


def test_after_the_first_answer_the_open_clause_is_answered(policy, domain) -> None:
    tracker = conversation(domain, [two_requests(), POLICY_ANSWER])
    prediction = policy.predict_action_probabilities(tracker, domain)
    assert predicted(prediction, domain) == ANSWER
    assert prediction.max_confidence == 1.0
    assert slot_value(prediction) == {**CLAUSES[1], "entities": []}


def test_the_clause_carries_its_own_entities(policy, domain) -> None:
    message = two_requests("change_order", ORDER_CLAUSES, ORDER_TEXT, [ORDER_ENTITY])
    tracker = conversation(domain, [message, POLICY_ANSWER])
    prediction = policy.predict_action_probabilities(tracker, domain)
    assert predicted(prediction, domain) == ANSWER
    assert slot_value(prediction)["text"] == "where is SA-100006"
    assert slot_value(prediction)["entities"] == [ORDER_ENTITY]


THREE_TEXT = "How long does shipping take? Is it free? Where is SA-100006?"
THREE_ENTITY = {"entity": "order_id", "value": "SA-100006", "start": 50, "end": 59}
THREE_CLAUSES = [
    {
        "text": "How long does shipping take?",
        "start": 0,
        "end": 28,
        "intent": {"name": "delivery_time", "confidence": 0.93},
    },
    {
        "text": "Is it free?",
        "start": 29,
        "end": 40,
        "intent": {"name": "delivery_options", "confidence": 0.81},
    },
    {
        "text": "Where is SA-100006?",
        "start": 41,
        "end": 60,
        "intent": {"name": "order_status", "confidence": 0.9},
    },
]


def test_a_message_that_asked_three_things_hands_over_both_open_clauses(policy, domain) -> None:
    """Before, only the first open clause reached the action and the third request was dropped."""
    message = two_requests("delivery_time", THREE_CLAUSES, THREE_TEXT, [THREE_ENTITY])
    tracker = conversation(domain, [message, POLICY_ANSWER])
    prediction = policy.predict_action_probabilities(tracker, domain)
    assert predicted(prediction, domain) == ANSWER
    assert slot_value(prediction) == {
        **THREE_CLAUSES[1],
        "entities": [],
        "further": [{**THREE_CLAUSES[2], "entities": [THREE_ENTITY]}],
    }
    # still once per message: after the answer action nothing more
    done = conversation(domain, [message, POLICY_ANSWER, ANSWER])
    assert predicted(policy.predict_action_probabilities(done, domain), domain) is None


@pytest.mark.parametrize(
    "steps",
    [
        [two_requests()],  # nothing answered yet: the rules answer first
        [two_requests(), POLICY_ANSWER, ANSWER],  # answered once: never again (no loop)
        [two_requests(clauses=[])],
        [two_requests(clauses=CLAUSES[:1]), POLICY_ANSWER],  # one request
        [two_requests("nlu_fallback"), "action_answer_from_knowledge"],  # not understood as a whole
        [two_requests("order_status"), POLICY_ANSWER],  # unclear which half the answer covered
        [two_requests(), "action_handoff"],  # a person takes over
        [two_requests(), POLICY_ANSWER, "utter_offer_human"],  # a question a rule asked
        [two_requests(), POLICY_ANSWER, SlotSet("pending_confirmation", "handoff")],  # an open question
        [two_requests("order_status", ORDER_CLAUSES, ORDER_TEXT), *in_form()],  # the form is asking
        # the form is done, its request not yet carried out
        [two_requests("order_status", ORDER_CLAUSES, ORDER_TEXT), "order_form", ActiveLoop(None)],
        [two_requests(), POLICY_ANSWER, ConversationPaused()],
    ],
)
def test_it_stays_quiet(policy, domain, steps) -> None:
    tracker = conversation(domain, steps)
    assert predicted(policy.predict_action_probabilities(tracker, domain), domain) is None


def test_after_a_finished_form_the_request_is_carried_out_first(policy, domain) -> None:
    steps = [
        two_requests("order_status", ORDER_CLAUSES, ORDER_TEXT),
        "order_form",
        ActiveLoop(None),
        "action_handle_order_request",
    ]
    prediction = policy.predict_action_probabilities(conversation(domain, steps), domain)
    assert predicted(prediction, domain) == ANSWER
    assert slot_value(prediction)["text"] == "can I still change what's in it?"


def test_never_while_a_person_has_the_conversation(policy, domain) -> None:
    tracker = conversation(domain, [two_requests(), POLICY_ANSWER], slots={"handoff_active": True})
    assert predicted(policy.predict_action_probabilities(tracker, domain), domain) is None


def test_a_domain_without_the_action_or_slot_predicts_nothing(policy) -> None:
    bare = Domain.from_yaml('version: "3.1"\nintents: [delivery_time]\n')
    tracker = conversation(bare, [two_requests(), ACTION_LISTEN_NAME])
    assert predicted(policy.predict_action_probabilities(tracker, bare), bare) is None


def ensemble_choice(policies, tracker, domain) -> tuple:
    predictions = [p.predict_action_probabilities(tracker, domain) for p in policies]
    best = DefaultPolicyPredictionEnsemble().combine_predictions(predictions, tracker, domain)
    return domain.action_names_or_texts[best.max_confidence_index], best


def test_in_the_ensemble_it_beats_the_rules_listen_and_the_turn_ends_after_it(policy, rule_policy, domain):
    policies = [rule_policy, policy]
    start = conversation(domain, [two_requests()])
    assert ensemble_choice(policies, start, domain)[0] == POLICY_ANSWER  # the rule answers first
    after_first = conversation(domain, [two_requests(), POLICY_ANSWER])
    assert rule_policy.predict_action_probabilities(after_first, domain).max_confidence == 1.0  # listen
    action, best = ensemble_choice(policies, after_first, domain)
    assert action == ANSWER
    assert any(isinstance(e, SlotSet) and e.key == "other_clause" for e in best.events)
    after_second = conversation(
        domain, [two_requests(), POLICY_ANSWER, SlotSet("other_clause", CLAUSES[1]), ANSWER]
    )
    assert ensemble_choice(policies, after_second, domain)[0] == ACTION_LISTEN_NAME


def test_a_yes_to_its_offer_goes_back_to_the_answer_action(rule_policy, policy, domain) -> None:
    offered = conversation(
        domain,
        [two_requests(), POLICY_ANSWER, ANSWER, UserUttered("yes", {"name": "affirm", "confidence": 0.99})],
    )
    assert ensemble_choice([rule_policy, policy], offered, domain)[0] == ANSWER
    elsewhere = conversation(domain, [UserUttered("yes", {"name": "affirm", "confidence": 0.99})])
    assert ensemble_choice([rule_policy, policy], elsewhere, domain)[0] == "action_handle_confirmation"


def test_config_is_validated_and_persisted(tmp_path: Path, policy, domain) -> None:
    for bad in (
        {"min_clause_confidence": 2},
        {"answer_action": ""},
        {"equivalent_intents": ["a"]},
        {"ignored_clause_intents": "greet"},
    ):
        with pytest.raises(InvalidConfigException):
            OtherClausePolicy.create(
                {**OtherClausePolicy.get_default_config(), **bad},
                LocalModelStorage(tmp_path),
                Resource("bad"),
                execution_context(),
            )
    policy.train([], domain)
    with policy._model_storage.read_from(policy._resource) as directory:
        assert (Path(directory) / PERSISTED_FILE).is_file()
    loaded = OtherClausePolicy.load(
        policy.config, policy._model_storage, policy._resource, execution_context()
    )
    assert loaded.config == policy.config
    assert loaded.priority == 5
