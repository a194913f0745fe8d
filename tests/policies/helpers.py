"""Builders for HandoffPolicy tests: a small domain, user turns with emotion, trackers, policies."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.core.training_data.structures import StoryGraph

from components.policies.handoff_policy import HandoffPolicy

EMOTIONS = ("neutral", "joy", "anger", "sadness", "fear", "confusion")

DOMAIN_YAML = """
version: "3.1"
intents: [greet, affirm, deny, inform, request_human, order_status, search_product, payment_issue,
          complaint, thank, nlu_fallback]
entities: [order_id, category]
slots:
  order_id: {type: text, influence_conversation: false, mappings: [{type: from_entity, entity: order_id}]}
  category: {type: text, influence_conversation: false, mappings: [{type: from_entity, entity: category}]}
  handoff_reason: {type: text, influence_conversation: false, mappings: [{type: custom}]}
  handoff_active: {type: bool, influence_conversation: false, mappings: [{type: custom}]}
  task_completed: {type: bool, influence_conversation: false, mappings: [{type: custom}]}
forms:
  order_form:
    required_slots: [order_id]
actions: [action_handoff, action_handle_order_request]
responses:
  utter_greet: [{text: "Hi!"}]
  utter_default: [{text: "Sorry?"}]
  utter_payment_issue: [{text: "Payments..."}]
  utter_ask_order_id: [{text: "Order number?"}]
  utter_complaint: [{text: "Sorry to hear."}]
"""

RULES_YAML = """
version: "3.1"
rules:
  - rule: greet
    steps:
      - intent: greet
      - action: utter_greet
  - rule: hand over to a person on request
    steps:
      - intent: request_human
      - action: action_handoff
  - rule: payment issue
    steps:
      - intent: payment_issue
      - action: utter_payment_issue
  - rule: complaint
    steps:
      - intent: complaint
      - action: utter_complaint
  - rule: order status starts the order form
    steps:
      - intent: order_status
      - action: order_form
      - active_loop: order_form
    wait_for_user_input: false
  # the rule the lead is asked to add: after any handoff, wait for the shopper
  - rule: listen after a handoff
    steps:
      - action: action_handoff
"""


def small_domain() -> Domain:
    return Domain.from_yaml(DOMAIN_YAML)


def execution_context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "handoff-test")


def make_policy(tmp_path: Path, resource_name: str = "handoff", **config: Any) -> HandoffPolicy:
    return HandoffPolicy.create(
        {**HandoffPolicy.get_default_config(), **config},
        LocalModelStorage(tmp_path),
        Resource(resource_name),
        execution_context(),
    )


def trained_rule_policy(tmp_path: Path, domain: Domain) -> RulePolicy:
    steps = YAMLStoryReader(domain).read_from_string(RULES_YAML)
    trackers = TrainingDataGenerator(
        StoryGraph(steps), domain, remove_duplicates=True, augmentation_factor=0
    ).generate()
    policy = RulePolicy.create(
        {**RulePolicy.get_default_config(), "core_fallback_threshold": 0.3},
        LocalModelStorage(tmp_path),
        Resource("rules"),
        execution_context(),
    )
    policy.train(trackers, domain)
    return policy


def emotion(name: str, confidence: float) -> Dict[str, Any]:
    """An `emotion` dict as TransformerIntentEmotionClassifier writes it."""
    rest = (1.0 - confidence) / (len(EMOTIONS) - 1)
    ranking = [{"name": name, "confidence": confidence}] + [
        {"name": other, "confidence": rest} for other in EMOTIONS if other != name
    ]
    return {"name": name, "confidence": confidence, "ranking": ranking}


def user(
    intent: str,
    confidence: float = 0.9,
    feeling: Optional[str] = "neutral",
    feeling_confidence: float = 0.9,
    text: Optional[str] = None,
    entities: Optional[List[Dict[str, Any]]] = None,
    sensitive: Optional[str] = None,
    sensitive_confidence: float = 0.9,
    sensitive_ranking: Optional[Dict[str, float]] = None,
) -> UserUttered:
    """A user message; `feeling=None` builds it like an `/intent` payload (no emotion). `sensitive` adds
    the classifier's sensitive-topic prediction (same shape as the emotion); `sensitive_ranking` its whole
    ranking ({label: confidence}; default: the top label alone)."""
    text = text if text is not None else (f"/{intent}" if feeling is None else f"some {intent} message")
    parse_data: Dict[str, Any] = {
        "intent": {"name": intent, "confidence": confidence},
        "entities": entities or [],
        "text": text,
    }
    if feeling is not None:
        parse_data["emotion"] = emotion(feeling, feeling_confidence)
    if sensitive is not None:
        parse_data["sensitive"] = {
            "name": sensitive,
            "confidence": sensitive_confidence,
            "ranking": [
                {"name": label, "confidence": conf}
                for label, conf in (sensitive_ranking or {sensitive: sensitive_confidence}).items()
            ],
        }
    return UserUttered(text, parse_data["intent"], parse_data["entities"], parse_data)


Step = Union[UserUttered, str, Event]


def conversation(
    domain: Domain, steps: Iterable[Step], slots: Optional[Dict[str, Any]] = None
) -> DialogueStateTracker:
    """A tracker from steps: a UserUttered is preceded by action_listen; a str is a bot action."""
    events: List[Event] = [ActionExecuted(ACTION_SESSION_START_NAME), SessionStarted()]
    events += [SlotSet(name, value) for name, value in (slots or {}).items()]
    for step in steps:
        if isinstance(step, UserUttered):
            events += [ActionExecuted(ACTION_LISTEN_NAME), step]
        elif isinstance(step, str):
            events.append(ActionExecuted(step))
        else:
            events.append(step)
    return DialogueStateTracker.from_events("test", events, slots=domain.slots)


def in_form(form: str = "order_form", requested: str = "order_id") -> Sequence[Event]:
    """The events a form leaves behind when it starts and asks its first question."""
    return [ActionExecuted(form), ActiveLoop(form), SlotSet("requested_slot", requested)]
