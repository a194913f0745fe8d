"""Why an item comes back: a small fixed set of reasons, and the mapping from a shopper's words onto it.

Shoppers answer "why are you returning it?" in their own words, often with chatter around the reason ("i
already told you, too small"). The warehouse and any report need one of a few reasons they can count, so
the shop stores the reason code in ``returns.reason`` and keeps the shopper's words beside it in
``returns.reason_note`` (personal data: :mod:`shop.erasure` empties it). The mapping is a keyword reading,
deliberately conservative: whatever it cannot place is ``other``, never a guess.
"""

from __future__ import annotations

import re

#: Reason codes, in the order they are checked (see :func:`normalize_return_reason`); ``other`` is last.
RETURN_REASONS: tuple[str, ...] = ("damaged", "wrong_item", "too_big", "too_small", "changed_mind", "other")
OTHER = "other"
#: How a reason reads in a sentence to the shopper ("... with the same reason as before: too small").
RETURN_REASON_LABELS: dict[str, str] = {
    "damaged": "damaged or faulty",
    "wrong_item": "not the item you ordered",
    "too_big": "too big",
    "too_small": "too small",
    "changed_mind": "you changed your mind",
    "other": "other",
}

# Checked in RETURN_REASONS order: a faulty item that is also too small is "damaged" (it matters more to the
# warehouse), and "a size smaller" must be read as too big before "small" is read as too small.
_PATTERNS: dict[str, re.Pattern[str]] = {
    "damaged": re.compile(
        r"\b(damaged?|broken|broke|torn|tore|ripped|rip|holes?|stain(s|ed)?|faulty|defect(s|ive)?|scratched|"
        r"dented|came\s+(loose|apart|off)|coming\s+(loose|apart|off)|fell\s+apart|falling\s+apart|"
        r"(does\s*n[o']?t|did\s*n[o']?t|not|stopped)\s+work(ing)?|missing\s+(a\s+)?(button|part|piece|strap)s?)\b"
    ),
    "wrong_item": re.compile(
        r"\b(wrong\s+(item|product|colou?r|one|thing|model|article|shoes?|pair)|not\s+what\s+i\s+ordered|"
        r"(sent|received|got|delivered)\s+(me\s+)?(the\s+|a\s+)?wrong|different\s+(item|product|one)\s+than)\b"
    ),
    "too_big": re.compile(
        r"\b(too\s+(big|large|loose|long|wide|baggy)|runs?\s+(big|large)|(a\s+)?size\s+(smaller|down)|"
        r"smaller\s+size)\b"
    ),
    "too_small": re.compile(
        r"\b(too\s+(small|tight|short|narrow)|runs?\s+small|(a\s+)?size\s+(bigger|larger|up)|"
        r"(bigger|larger)\s+size)\b"
    ),
    "changed_mind": re.compile(
        r"\b(change[ds]?\s+my\s+mind|(do\s*n[o']?t|did\s*n[o']?t|do\s+not|no\s+longer)\s+(need|want|like)|"
        r"not\s+needed|found\s+(it\s+)?cheaper|bought\s+(it\s+|one\s+)?elsewhere|ordered\s+(two|2|both|several))\b"
    ),
}


def _plain(text: str) -> str:
    return " ".join(text.lower().replace("\u2019", "'").split())


def normalize_return_reason(text: object) -> str:
    """The reason code for a shopper's words ("it is too small" -> ``too_small``, "arrived with a hole" ->
    ``damaged``); a code itself maps to itself; anything unplaced (or no text) is ``other``."""
    if not isinstance(text, str):
        return OTHER
    plain = _plain(text)
    if plain.replace(" ", "_") in RETURN_REASONS:
        return plain.replace(" ", "_")
    for code, pattern in _PATTERNS.items():
        if pattern.search(plain):
            return code
    return OTHER


def states_a_reason(text: object) -> bool:
    """Whether ``text`` names one of the reasons (not ``other``): a shopper who says why in the same message
    as the item ("the shoes too, they're too big") has said otherwise than an earlier reason."""
    return normalize_return_reason(text) != OTHER


__all__ = ["OTHER", "RETURN_REASONS", "RETURN_REASON_LABELS", "normalize_return_reason", "states_a_reason"]
