"""Policy questions (delivery, payments, returns, invoices, ...) answered from the knowledge base when it
knows more than the intent's fixed reply.

The NLU maps questions it has no intent for onto the nearest policy intent: "who pays customs to Norway?"
becomes `delivery_options`, "warranty on headphones" becomes `invoice`, "how do gift cards work?" becomes
`payment_methods`. The fixed `utter_<intent>` reply then answers a question nobody asked. This action asks
the knowledge base (data/knowledge/, the same one `action_answer_from_knowledge` uses) first and answers with
a passage and its source when

* the best passage scores at least the policy threshold (higher than the fallback action's, because here
  the NLU already gave a plausible answer; `$SHOP_POLICY_KNOWLEDGE_THRESHOLD` overrides it), and
* the passage is *not* one the fixed reply already covers. Which passages a reply covers is measured, not
  listed: the reply's own text is searched in the knowledge base, and the passages scoring within
  :data:`COVERED_MARGIN` of its best hit are "covered". So "how long does delivery take?" keeps the short
  curated reply (its best passage is the one utter_delivery_time summarises), while "do you ship to Norway
  and who pays customs?" gets the customs passage. If one of the question's near-best passages is covered,
  the fixed reply wins too (the question is about the intent's own topic).

Everything else (no passage, a weak one, a broken knowledge base, no encoder) gets the fixed reply, so this
action can never answer worse than the rule it replaces.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Dict, Iterable, List, Optional, Sequence

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import MAX_TEXT_LENGTH, clean_text, latest_intent

logger = logging.getLogger(__name__)

#: Intents whose fixed reply may be replaced by a knowledge passage (each has an `utter_<intent>`).
POLICY_INTENTS = (
    "delivery_options",
    "delivery_time",
    "return_policy",
    "payment_methods",
    "payment_issue",
    "invoice",
    "discount_code",
    "account_help",
)
#: Environment variable overriding :data:`DEFAULT_POLICY_THRESHOLD`.
THRESHOLD_ENV = "SHOP_POLICY_KNOWLEDGE_THRESHOLD"
#: Hybrid score a passage needs to replace a fixed reply (the fallback action uses 0.35). Chosen on the
#: questions in tests/actions/test_policy_answers.py: off-topic questions' passages score 0.42-0.76.
DEFAULT_POLICY_THRESHOLD = 0.4
#: Passages within this much of the best hit for the reply's own text count as covered by the reply.
COVERED_MARGIN = 0.12
#: How far below the question's best passage a covered passage still means "on the intent's topic".
TOPIC_MARGIN = 0.03
#: Passages searched per question.
CANDIDATES = 3

_covered_cache: Dict[str, frozenset] = {}


def policy_threshold() -> float:
    """The configured threshold; a malformed environment value is ignored (with a warning)."""
    default = DEFAULT_POLICY_THRESHOLD
    raw = os.environ.get(THRESHOLD_ENV)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        logger.warning("%s=%r is not a number; using %.2f", THRESHOLD_ENV, raw, default)
        return default
    return value if 0.0 <= value <= 1.0 else default


def fixed_reply_text(domain: DomainDict, response: str) -> str:
    """All variants of a domain response, joined (what the fixed reply can say)."""
    variants = (domain or {}).get("responses", {}).get(response) or []
    return " ".join(str(v.get("text") or "") for v in variants if isinstance(v, dict)).strip()


def covered_keys(passages: Sequence[Any], margin: float = COVERED_MARGIN) -> frozenset:
    """Keys of the passages a reply covers, given the reply text's ranked search hits."""
    if not passages:
        return frozenset()
    best = passages[0].score
    return frozenset(p.key for p in passages if p.score >= best - margin)


def choose_passage(
    hits: Sequence[Any], covered: Iterable[str], threshold: float, topic_margin: float = TOPIC_MARGIN
) -> Optional[Any]:
    """The passage to answer with instead of the fixed reply, or None to keep the fixed reply.

    ``hits`` are the question's passages, best first. None when the best is below ``threshold``, or when
    any hit within ``topic_margin`` of the best is a passage the fixed reply covers.
    """
    if not hits or hits[0].score < threshold:
        return None
    covered = set(covered)
    near_best = [p for p in hits if p.score >= hits[0].score - topic_margin]
    if any(p.key in covered for p in near_best):
        return None
    return hits[0]


def _knowledge_base() -> Any:
    from shop.knowledge import default_knowledge_base

    return default_knowledge_base()


def _covered_by(kb: Any, response: str, text: str) -> frozenset:
    key = f"{response}\n{text}"
    if key not in _covered_cache:
        _covered_cache[key] = covered_keys(kb.search(text, k=CANDIDATES + 2)) if text else frozenset()
    return _covered_cache[key]


def passage_for(question: str, response: str, domain: DomainDict) -> Optional[Any]:
    """The knowledge passage that answers ``question`` better than ``response``, or None."""
    try:
        kb = _knowledge_base()
        if kb.keyword_only:
            # Without the encoder, keyword scores do not tell a question on the intent's own topic from
            # another one ("how long does delivery take?" would lose its curated reply): keep it.
            return None
        hits = kb.search(question, k=CANDIDATES)
        covered = _covered_by(kb, response, fixed_reply_text(domain, response))
        passage = choose_passage(hits, covered, policy_threshold())
    except Exception:  # a broken knowledge base must not cost the shopper the fixed reply
        logger.exception("policy question: the knowledge base failed; using %s", response)
        return None
    if hits:
        logger.info("policy question (%s): best %s %.3f -> %s", response, hits[0].key, hits[0].score,
                    "passage" if passage is not None else "fixed reply")
    return passage


class ActionAnswerPolicyQuestion(Action):
    """`utter_<intent>` for a policy intent, or a better-fitting knowledge passage with its source."""

    def name(self) -> str:
        return "action_answer_policy_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        intent = latest_intent(tracker)
        if intent not in POLICY_INTENTS:
            dispatcher.utter_message(response="utter_default")
            return []
        response = f"utter_{intent}"
        question = clean_text((tracker.latest_message or {}).get("text"), MAX_TEXT_LENGTH)
        passage = passage_for(question, response, domain) if question else None
        if passage is None:
            dispatcher.utter_message(response=response)
            return []
        dispatcher.utter_message(
            response="utter_knowledge_answer",
            answer=passage.text.strip(),
            source=f"{passage.doc_title}, {passage.section}",
        )
        return []


__all__ = ["ActionAnswerPolicyQuestion", "POLICY_INTENTS", "choose_passage", "covered_keys"]
