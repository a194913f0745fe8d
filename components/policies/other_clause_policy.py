"""Answers the other requests of a message that asked two (or three) things.

"How long does shipping take and is it free?" gets one intent from the NLU, and the rules answer that one
intent; the shopper's other question went unanswered. ``TransformerIntentEmotionClassifier`` (with
``classify_clauses``) records such a message's clauses, each with its own intent, in the parse data
(:mod:`shop.clauses`). Once the bot has answered the message, ``OtherClausePolicy`` predicts
``action_answer_other_clause`` (actions/other_clause.py) for the clause that answer left open, which
answers it from the help pages when it is a question, or says what else was asked and offers to look into it
when it needs a task flow (an order number, a search).

When it predicts, and when not (the shopper's view first: no second answer to one question, no loop, no
interruption of a question the bot is waiting for):

* Only after the bot's answer to the latest user message: some action other than ``action_listen`` has run
  since that message, and the latest one is not a form (a form that asks is still active; one that just
  finished is followed by the action that carries out the request, and the policy waits for that).
* At most once per user message: never when the answer action already ran since that message.
* Never while a form is active (it is waiting for its answer), after a handoff in this turn, while the
  conversation is paused or ``handoff_active_slot`` is truthy, after one of ``never_after_actions`` (a
  fallback, a question the bot asked through a rule such as ``utter_offer_human``), or when the answer just
  given recorded a yes/no question in ``pending_slot`` (a second question would bury it).
* Only for a clause of a different intent than the message's (or its ``equivalent_intents``), at least
  ``min_clause_confidence`` sure and not one of ``ignored_clause_intents``; and only when another clause has
  the message's intent, so it is clear which part the answer covered
  (:func:`shop.clauses.unanswered_clauses`).

The clause to answer reaches the action in the ``clause_slot`` slot (an optional event of the prediction,
applied only when this policy wins), with the message's entities that lie inside it. A message that asked
three things may leave two clauses open: the first is the slot's value as for two, and the ones after it
(each with its entities) are listed under its ``further`` key (:data:`shop.clauses.FURTHER_KEY`), so that
the one prediction of this message hands the action every clause left open. A firing prediction has
confidence 1.0 and priority ``RULE_POLICY_PRIORITY + 1`` (as HandoffPolicy, which only ever fires at the
first prediction of a turn, while this policy never does), so it wins over the rule's ``action_listen``
after the first answer. The rule "listen after answering the other clause" (data/rules.yml) ends the turn.
It learns nothing.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from rasa.core.constants import POLICY_PRIORITY, RULE_POLICY_PRIORITY
from rasa.core.policies.policy import PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import (
    ACTION_DEFAULT_FALLBACK_NAME,
    ACTION_LISTEN_NAME,
    ACTION_TWO_STAGE_FALLBACK_NAME,
)
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY

from components.policies.config_only import ConfigOnlyPolicy
from shop.clauses import (
    CLAUSES_KEY,
    DEFAULT_EQUIVALENT_INTENTS,
    DEFAULT_IGNORED_INTENTS,
    DEFAULT_IGNORED_MESSAGE_INTENTS,
    DEFAULT_MIN_CLAUSE_CONFIDENCE,
    FURTHER_KEY,
    entities_in,
    unanswered_clauses,
)

logger = logging.getLogger(__name__)

PERSISTED_FILE = "other_clause_policy.json"
FORMAT_VERSION = 1


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class OtherClausePolicy(ConfigOnlyPolicy):
    """Predicts the action that answers the requests a two- or three-request message's first answer left
    open."""

    persisted_file = PERSISTED_FILE
    format_version = FORMAT_VERSION
    # Its load never compared the persisted format version (only read the file).
    check_format_version = False

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """Every parameter of the policy, with its default."""
        return {
            # Ensemble priority: one above RulePolicy (4), so that a firing prediction (confidence 1.0) wins
            # the tie against the rule's action_listen after the first answer.
            POLICY_PRIORITY: RULE_POLICY_PRIORITY + 1,
            # The action that answers the open clause (must be in the domain).
            "answer_action": "action_answer_other_clause",
            # Slot (type any) that receives the clause to answer; it must be in the domain.
            "clause_slot": "other_clause",
            # A clause's own intent must be at least this sure.
            "min_clause_confidence": DEFAULT_MIN_CLAUSE_CONFIDENCE,
            # Clause intents never followed up (answers, small talk, requests for a person, complaints).
            "ignored_clause_intents": list(DEFAULT_IGNORED_INTENTS),
            # Message intents after whose answer nothing is followed up (yes/no, not understood, ...).
            "ignored_message_intents": list(DEFAULT_IGNORED_MESSAGE_INTENTS),
            # Groups of intents that count as one request ("where is it" / "it never arrived").
            "equivalent_intents": [list(group) for group in DEFAULT_EQUIVALENT_INTENTS],
            # Never after these actions in the same turn: a handoff, a fallback, a question a rule asked.
            "never_after_actions": [
                "action_handoff",
                ACTION_DEFAULT_FALLBACK_NAME,
                ACTION_TWO_STAGE_FALLBACK_NAME,
                "utter_offer_human",
            ],
            # Slot in which actions record a yes/no question they asked; set in this turn: no prediction.
            # null: not checked.
            "pending_slot": "pending_confirmation",
            # Slot that marks a handoff as active (set by the handoff action); truthy: no prediction.
            "handoff_active_slot": "handoff_active",
        }

    def __init__(
        self,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer: Any = None,
    ) -> None:
        """Validates the config."""
        config = {**self.get_default_config(), **config}
        super().__init__(config, model_storage, resource, execution_context, featurizer=featurizer)
        self._validate_config(self.config)
        self._warned: set[str] = set()

    @classmethod
    def _validate_config(cls, config: Dict[str, Any]) -> None:
        def fail(message: str) -> None:
            raise InvalidConfigException(f"{cls.__name__}: {message}")

        for key in ("answer_action", "clause_slot"):
            if not isinstance(config.get(key), str) or not config[key]:
                fail(f"`{key}` must name an action/slot of the domain, got {config.get(key)!r}.")
        value = config["min_clause_confidence"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            fail(f"`min_clause_confidence` must be a number between 0 and 1, got {value!r}.")
        for key in ("ignored_clause_intents", "ignored_message_intents", "never_after_actions"):
            if not isinstance(config[key], (list, tuple)) or not all(isinstance(v, str) for v in config[key]):
                fail(f"`{key}` must be a list of names, got {config[key]!r}.")
        groups = config["equivalent_intents"]
        if not isinstance(groups, (list, tuple)) or not all(isinstance(g, (list, tuple)) for g in groups):
            fail(f"`equivalent_intents` must be a list of lists of intents, got {groups!r}.")

    # ------------------------------------------------------------------ training & persistence

    def train(
        self,
        training_trackers: List[TrackerWithCachedStates],
        domain: Domain,
        **kwargs: Any,
    ) -> Resource:
        """Nothing to learn: checks the action and slot exist and stores the config."""
        if self.config["answer_action"] not in domain.action_names_or_texts:
            logger.warning(
                f"{self.__class__.__name__}: '{self.config['answer_action']}' is not in the "
                f"domain; the policy will never predict it."
            )
        self.persist()
        return self._resource

    # ------------------------------------------------------------------ prediction

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """Predicts the answer action for the open clause, otherwise all zeros."""
        probabilities = self._default_predictions(domain)
        action, slot = self.config["answer_action"], self.config["clause_slot"]
        if action not in domain.action_names_or_texts or not any(s.name == slot for s in domain.slots):
            self._warn_once(
                "domain",
                f"{self.__class__.__name__}: '{action}' or slot '{slot}' is not in the "
                f"domain; not predicting.",
            )
            return self._prediction(probabilities)
        clause = self.open_clause(tracker, domain)
        if clause is None:
            return self._prediction(probabilities)
        probabilities[domain.index_for_action(action)] = 1.0
        logger.debug(f"{self.__class__.__name__}: answering the other clause ({clause.get(INTENT)}).")
        return self._prediction(
            probabilities,
            optional_events=[SlotSet(slot, clause)],
            diagnostic_data={"other_clause": clause},
        )

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message)

    def open_clause(self, tracker: DialogueStateTracker, domain: Domain) -> Optional[Dict[str, Any]]:
        """The clause of the latest user message that its answer left open, with its entities and, when the
        message left more than one open, the others under ``further``; None when the policy should not
        predict (see the module docstring)."""
        events = list(tracker.events)
        latest = next((i for i in range(len(events) - 1, -1, -1) if isinstance(events[i], UserUttered)), None)
        if latest is None or tracker.active_loop_name or tracker.is_paused() or self._handoff_active(tracker):
            return None
        since = events[latest + 1 :]
        actions = [
            e.action_name
            for e in since
            if isinstance(e, ActionExecuted) and e.action_name and e.action_name != ACTION_LISTEN_NAME
        ]
        if not actions or actions[-1] in domain.form_names:
            return None
        never = {self.config["answer_action"], *self.config["never_after_actions"]}
        if never & set(actions):
            return None
        pending = self.config["pending_slot"]
        if pending and any(isinstance(e, SlotSet) and e.key == pending and e.value for e in since):
            return None
        parse_data = events[latest].parse_data or {}
        intent = (parse_data.get(INTENT) or {}).get(INTENT_NAME_KEY)
        open_clauses = unanswered_clauses(
            parse_data.get(CLAUSES_KEY),
            intent,
            ignored=self.config["ignored_clause_intents"],
            equivalent=self.config["equivalent_intents"],
            min_confidence=float(self.config["min_clause_confidence"]),
            ignored_message_intents=self.config["ignored_message_intents"],
        )
        if not open_clauses:
            return None
        for clause in open_clauses:
            clause["entities"] = entities_in(clause, parse_data.get(ENTITIES) or [])
        first, further = open_clauses[0], open_clauses[1:]
        if further:
            first[FURTHER_KEY] = further
        return first

    def _handoff_active(self, tracker: DialogueStateTracker) -> bool:
        slot = self.config["handoff_active_slot"]
        return bool(slot and slot in tracker.slots and tracker.slots[slot].value)
