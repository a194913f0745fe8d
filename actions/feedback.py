"""Stores what the shopper says about the shop or the assistant."""
from __future__ import annotations

import logging
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import clean_text, get_shop, shop_guarded

logger = logging.getLogger(__name__)

#: Longest feedback text stored; longer messages are cut.
MAX_FEEDBACK_LENGTH = 2000


class ActionRecordFeedback(Action):
    """Saves the text of the feedback message and thanks the shopper."""

    def name(self) -> str:
        return "action_record_feedback"

    @shop_guarded
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        text = clean_text((tracker.latest_message or {}).get("text"), MAX_FEEDBACK_LENGTH)
        if text:
            feedback_id = get_shop().record_feedback(tracker.sender_id, text)
            logger.info("feedback %s stored (%d characters)", feedback_id, len(text))
        dispatcher.utter_message(response="utter_feedback_thanks")
        return []
