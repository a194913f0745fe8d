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
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import INTENT_NAME_KEY, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

from shop.clauses import request_key

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
