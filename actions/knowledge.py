"""Answers questions no intent covers from the shop's own policy documents (data/knowledge/).

Used for messages the NLU did not understand (`nlu_fallback`): when a passage of the knowledge base
matches well enough, the shopper gets that passage and where it comes from; otherwise the usual
"please rephrase". The knowledge base is loaded once per action-server process.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import MAX_TEXT_LENGTH, clean_text

logger = logging.getLogger(__name__)


def _best_passage(question: str) -> Optional[Any]:
    from shop.knowledge import default_knowledge_base

    try:
        return default_knowledge_base().answer(question)
    except Exception:  # a broken or missing knowledge base must not cost the shopper a reply
        logger.exception("The knowledge base could not answer; falling back to utter_default.")
        return None


class ActionAnswerFromKnowledge(Action):
    """A policy passage for a question the intents do not cover, or a request to rephrase."""

    def name(self) -> str:
        return "action_answer_from_knowledge"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        question = clean_text((tracker.latest_message or {}).get("text"), MAX_TEXT_LENGTH)
        passage = _best_passage(question) if question else None
        if passage is None:
            dispatcher.utter_message(response="utter_default")
            return []
        dispatcher.utter_message(
            response="utter_knowledge_answer",
            answer=passage.text.strip(),
            source=f"{passage.doc_title}, {passage.section}",
        )
        return []
