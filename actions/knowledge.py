"""Answers questions no intent covers from the shop's own policy documents (data/knowledge/).

Used for messages the NLU did not understand (`nlu_fallback`): when a passage of the knowledge base
matches well enough, the shopper gets that passage and where it comes from; otherwise the usual
"please rephrase". The knowledge base is loaded once per action-server process.

With a language model configured (``llm:`` in endpoints.yml, :mod:`shop.llm_config`) the answer is
composed by the model from the relevant passages and the last few turns (:func:`shop.llm.compose_answer`,
which masks personal data and checks the result); the source line is always added here, from the
passages, and any failure sends the extractive passage instead. Nothing relevant: the model is not asked.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import MAX_TEXT_LENGTH, clean_text, recent_turns
from actions.orders import PENDING_HANDOFF
from actions.questions import looks_like_question

logger = logging.getLogger(__name__)

#: Key under which a help-page answer carries its retrieval score. Rasa keeps an action message's extra keys
#: in the bot event's metadata, where `shopassist report` finds unsure answers to list as not understood.
SCORE_KEY = "knowledge_score"


def _relevant_passages(question: str) -> List[Any]:
    """The passages worth answering from, best first (empty when none, or the knowledge base is broken)."""
    from shop.knowledge import default_knowledge_base

    try:
        return default_knowledge_base().relevant(question)
    except Exception:  # a broken or missing knowledge base must not cost the shopper a reply
        logger.exception("The knowledge base could not answer; falling back to utter_default.")
        return []


def _best_passage(question: str) -> Optional[Any]:
    """The passage an extractive answer shows, or None (kept for callers of the earlier API)."""
    passages = _relevant_passages(question)
    return passages[0] if passages else None


def utter_passage(dispatcher: CollectingDispatcher, passage: Any) -> None:
    """Sends one help-page passage as it stands, with its page and section as the source."""
    dispatcher.utter_message(
        response="utter_knowledge_answer", answer=passage.text.strip(), source=_source_line([passage]),
        **{SCORE_KEY: round(float(passage.score), 4)},
    )


def _source_line(passages: List[Any]) -> str:
    seen: List[str] = []
    for passage in passages:
        label = f"{passage.doc_title}, {passage.section}"
        if label not in seen:
            seen.append(label)
    return "; ".join(seen)


async def _composed_answer(question: str, passages: List[Any], tracker: Tracker) -> Optional[str]:
    """The model's answer from ``passages``, or None without a model or when it gives no usable one."""
    from shop.llm import SourcePassage, compose_answer
    from shop.llm_config import configured_llm

    config = configured_llm()
    if config is None:
        return None
    try:
        sources = [SourcePassage(p.doc_title, p.section, p.text) for p in passages]
        return await compose_answer(config, question, sources, recent_turns(tracker))
    except Exception:  # compose_answer returns None on its own failures; this is the last safety net
        logger.exception("Composing a knowledge answer failed; sending the passage")
        return None


class ActionAnswerFromKnowledge(Action):
    """A policy passage (or a model's answer from it) for a question the intents do not cover, or a
    request to rephrase."""

    def name(self) -> str:
        return "action_answer_from_knowledge"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        question = clean_text((tracker.latest_message or {}).get("text"), MAX_TEXT_LENGTH)
        passages = _relevant_passages(question) if question else []
        if not passages:
            # No help page answers it (and the model is not asked at all). A real question gets an honest
            # "I don't know" and the offer of a colleague (affirm -> action_handoff via
            # action_handle_confirmation); anything else is asked to rephrase.
            if looks_like_question(question):
                dispatcher.utter_message(response="utter_knowledge_unknown")
                return [SlotSet("pending_confirmation", PENDING_HANDOFF)]
            dispatcher.utter_message(response="utter_default")
            return []
        composed = await _composed_answer(question, passages, tracker)
        if composed:
            dispatcher.utter_message(
                response="utter_knowledge_answer", answer=composed, source=_source_line(passages),
                **{SCORE_KEY: round(float(passages[0].score), 4)},
            )
        else:
            utter_passage(dispatcher, passages[0])
        return []
