"""A general question or a request? Arbitration between the help pages and the order flows.

The NLU gives the *topic* of a message (returns, cancelling, an order's whereabouts); whether the shopper
asks how something works or wants it done is a second, independent reading. "Can I swap for a bigger
size?" and "I want to return the boots from SA-100002" are both `return_item`: the first wants the
exchange rules, the second a return. Starting the order form on the first asks for an order number
nobody offered. The order intents therefore answer a *general question* from the help pages (and still
offer the flow), and start the flow right away for a request.

A general question here: reads as a question (a question mark, a question word or modal opening the
message or one of its sentences or clauses, or an indirect question such as "I was wondering whether ..."),
names no order number, and carries no request marker ("I want", "please cancel", "my order", "where is"):
a shopper who points at their own order or item wants it handled, whatever the grammar.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Iterable, Optional

#: First words of a question ("how do I ...", "can you ...", "is there ...").
_QUESTION_START = re.compile(
    r"^\s*(hi|hello|hey)?[,!.\s]*(how|what|whats|what's|when|which|who|whom|whose|why|can|could|do|does|did|"
    r"is|are|was|were|will|would|should|shall|may|might|have|has|any|if|in\s+case)\b",
    re.IGNORECASE,
)
#: A question word or modal opening a later sentence or clause: shoppers tell the story first and ask
#: last, often without a question mark ("the jumper went bobbly after two washes, is that expected and how
#: can I avoid it"). Only clause openings count, so "I know what I want" is no question.
_LATER_QUESTION = re.compile(
    r"(?:[.!?;:)(]\s*|\n\s*|,\s*|\b(?:and|but|so|also)\s+)(?:"
    # a question word, then a modal or a pronoun: "which should i ...", "how do i ...", "what size ..."
    r"(?:how|what|whats|what's|when|which|why)\s+(?:should|would|do|does|did|can|could|is|are|will|i|we|you|"
    r"it|they|size|long|much|many|often|soon)"
    # or a modal, then a pronoun or determiner: "is that normal", "can you ...", "do they ..."
    r"|(?:can|could|is|are|will|would|should|do|does)\s+(?:i|we|you|it|they|this|that|these|those|there|the|"
    r"a|my|your)"
    r")\b",
    re.IGNORECASE,
)
#: Indirect questions: "I was wondering if ...", "I'd like to know whether ...", "not sure how ...".
_INDIRECT_QUESTION = re.compile(
    r"\b(wondering|wonder|curious|not\s+sure|unsure|(want|like|need)\s+to\s+know|(want|like|need)\s+to\s+ask|"
    r"tell\s+me|any\s+idea)\s+(if|whether|how|what|when|which|why|about)\b",
    re.IGNORECASE,
)
#: Words made of letters (keyboard mash and emoji-only messages have few of them).
_WORD = re.compile(r"[^\W\d_]{2,}")
#: The shopper wants something done, or points at their own order or item.
_REQUEST_MARKERS = re.compile(
    r"\b(i\s+want(?!\s+to\s+(know|ask))|i\s+wanna(?!\s+know)|i\s*'?d\s+like(?!\s+to\s+(know|ask))|"
    r"i\s+would\s+like(?!\s+to\s+(know|ask))|i\s+need\s+to(?!\s+(know|ask))|please\s+(cancel|return|refund|change|"
    r"send|start)|help\s+me\s+(cancel|return)|(my|our|this|that)\s+(order|parcel|package|delivery|refund|return|"
    r"purchase|money|payment|item|items|stuff|shipment)|where\s+is|where's|wheres|track(ing)?\b)",
    re.IGNORECASE,
)


def looks_like_question(text: Optional[str]) -> bool:
    """True for a message that reads as a question of at least three words: a question mark, a question
    word or modal opening the message or a later sentence or clause, or an indirect question."""
    if not text or len(_WORD.findall(text)) < 3:
        return False
    return (
        "?" in text
        or bool(_QUESTION_START.match(text))
        or bool(_LATER_QUESTION.search(text))
        or bool(_INDIRECT_QUESTION.search(text))
    )


#: "What if my parcel arrives damaged?": a hypothetical is a question about the rules, possessive or not.
_HYPOTHETICAL = re.compile(r"^\s*(what\s+if|what\s+happens\s+if|if|in\s+case|suppose)\b", re.IGNORECASE)


#: Questions about how things work even when they name the shopper's own order: "how long until my refund
#: arrives?", "is it too late to cancel?", "what happens now?". Order forms answer these from the help pages
#: before asking their question (the request still goes ahead).
_POLICY_CUE = re.compile(
    r"\b(how\s+(do|can|does|long|much|soon)|is\s+it\s+(too\s+late|possible|still)|can\s+i\s+still|"
    r"what\s+happens|what\s+now|what\s+do\s+i\s+do|why\s+(has|hasn't|hasnt|does|doesn't|do|is|isn't|did|didn't)|"
    r"any\s+way\s+to|do\s+i\s+(get|have|need|pay))\b",
    re.IGNORECASE,
)


def asks_how_things_work(text: Optional[str], entities: Iterable[Dict[str, Any]] = ()) -> bool:
    """A general question, or a question with a policy cue even about the shopper's own order ("how do I
    cancel SA-100021?"): the help pages have something to say before the flow goes on."""
    if is_general_question(text, entities):
        return True
    return looks_like_question(text) and bool(_POLICY_CUE.search(text or ""))


#: Questions about what is allowed or normal that shoppers ask about their own order: "can I change the
#: address on SA-100033?", "tracking shows nothing, did something go wrong?". Both a request and a question:
#: the order form answers them from the help pages only when a page fits strongly (actions/policy_answers.py).
_RULE_CUE = re.compile(
    r"\b((can|could|may)\s+i|(am|are)\s+(i|we)\s+(able|allowed)|is\s+it\s+ok(ay)?\s+to|"
    r"did\s+(something|anything)\s+go\s+wrong|is\s+(something|anything)\s+wrong|is\s+(this|that|it)\s+normal)\b",
    re.IGNORECASE,
)


def asks_what_is_allowed(text: Optional[str]) -> bool:
    """A question whether something is allowed or normal, even about the shopper's own order."""
    return looks_like_question(text) and bool(_RULE_CUE.search(text or ""))


def is_general_question(text: Optional[str], entities: Iterable[Dict[str, Any]] = ()) -> bool:
    """True for a question about how things work, not a request about the shopper's own order."""
    if not looks_like_question(text):
        return False
    if any(entity.get("entity") == "order_id" for entity in entities or ()):
        return False
    if _HYPOTHETICAL.match(text or ""):
        return True
    return not _REQUEST_MARKERS.search(text or "")


__all__ = ["asks_how_things_work", "asks_what_is_allowed", "is_general_question", "looks_like_question"]
