"""Rasa's FallbackClassifier, except that two near-equal intents the assistant handles alike are no ambiguity.

``FallbackClassifier`` predicts ``nlu_fallback`` when the top two intents are closer than
``ambiguity_threshold``: the model cannot tell which of two requests the shopper made. Some pairs are one
request for the shopper, though: "my parcel SA-100020 should be here by now, where is it?" read as
delivery_problem 0.45 / order_status 0.44 is a question about that order either way, and both intents look
the order up. A fallback there asks the shopper to rephrase a message that was understood.

``equivalent_intents`` lists such groups (the same groups as the HandoffPolicy's
``repeat_equivalent_intents``). When the top two intents belong to one group the ambiguity check is skipped;
the confidence threshold still applies to the top intent, and every other pair is treated exactly as by
Rasa's classifier.

A message that asks two or three things ("where is SA-100006 and can I still change what's in it?") splits
its confidence between them by nature, so it may fall under the threshold or look ambiguous although each of
its clauses (``clauses``, set by the transformer classifier with ``classify_clauses``) is understood. Then the
first clause's intent, at that clause's confidence, is the message's intent (the request asked first is
answered first; OtherClausePolicy follows up the rest), provided every clause reaches the threshold and that
intent is among the message's own top three.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
)
from rasa.shared.nlu.training_data.message import Message

from shop.clauses import CLAUSES_KEY, request_key

EQUIVALENT_INTENTS = "equivalent_intents"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class GroupedFallbackClassifier(FallbackClassifier):
    """``FallbackClassifier`` whose ambiguity check ignores a tie inside a group of equivalent intents."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """Rasa's defaults plus ``equivalent_intents``: lists of intents the assistant handles alike."""
        return {**FallbackClassifier.get_default_config(), EQUIVALENT_INTENTS: []}

    def __init__(self, config: Dict[str, Any]) -> None:
        super().__init__(config)
        self._equivalent = self._checked_groups(config.get(EQUIVALENT_INTENTS) or [])

    @staticmethod
    def _checked_groups(groups: Sequence[Any]) -> List[Sequence[str]]:
        """The groups; a malformed setting is a clear error at load time."""
        seen: set = set()
        for group in groups:
            if not isinstance(group, (list, tuple)) or len(group) < 2:
                raise InvalidConfigException(
                    f"{EQUIVALENT_INTENTS}: each group must be a list of two or more intents, got {group!r}."
                )
            for intent in group:
                if str(intent) in seen:
                    raise InvalidConfigException(f"{EQUIVALENT_INTENTS}: '{intent}' is in two groups.")
                seen.add(str(intent))
        return [[str(intent) for intent in group] for group in groups]

    def same_group(self, first: Optional[str], second: Optional[str]) -> bool:
        """True when two different intents belong to one group of ``equivalent_intents``."""
        if first is None or second is None or first == second:
            return False
        return request_key(first, self._equivalent) == request_key(second, self._equivalent)

    def process(self, messages: List[Message]) -> List[Message]:
        """Rasa's fallback rule, except for messages whose clauses are each understood (module docstring)."""
        for message in messages:
            # only multi-request messages carry clauses: the rest go straight to Rasa's rule (checked once)
            if message.data.get(CLAUSES_KEY) and self._should_fallback(message):
                understood = self._first_understood_clause(message)
                if understood is not None:
                    message.data[INTENT] = understood
                    continue
            super().process([message])
        return messages

    def _first_understood_clause(self, message: Message) -> Optional[Dict[str, Any]]:
        clauses = message.data.get(CLAUSES_KEY) or []
        threshold = float(self.component_config["threshold"])
        intents = [clause.get(INTENT) or {} for clause in clauses if isinstance(clause, dict)]
        if len(intents) < 2 or any(
            float(intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0) < threshold for intent in intents
        ):
            return None
        ranking: List[Dict[str, Any]] = message.data.get(INTENT_RANKING_KEY, [])
        top_three = {entry.get(INTENT_NAME_KEY) for entry in ranking[:3]}
        first = intents[0]
        if first.get(INTENT_NAME_KEY) not in top_three:
            return None
        return {
            INTENT_NAME_KEY: first[INTENT_NAME_KEY],
            PREDICTED_CONFIDENCE_KEY: first[PREDICTED_CONFIDENCE_KEY],
        }

    def _nlu_prediction_ambiguous(self, message: Message) -> Tuple[bool, Optional[float]]:
        ambiguous, difference = super()._nlu_prediction_ambiguous(message)
        if not ambiguous:
            return ambiguous, difference
        ranking: List[Dict[str, Any]] = message.data.get(INTENT_RANKING_KEY, [])
        top, runner_up = (entry.get(INTENT_NAME_KEY) for entry in ranking[:2])
        if self.same_group(top, runner_up):
            return False, difference
        return ambiguous, difference


__all__ = ["EQUIVALENT_INTENTS", "GroupedFallbackClassifier"]
