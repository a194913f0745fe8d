"""Loose matching of what shoppers type against product names, kept free of database code.

Shoppers say "the hoodie", "cloudline hoodies" or "my shoes"; these helpers turn such phrases into
keywords and score names against them, so the service can resolve a product or an order line without
asking for the exact catalog name. Pure functions, easy to test.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Sequence

from shop.vocabulary import normalize_category

STOPWORDS = frozenset(
    "a an the my our your me i we want need some any for with and or in of on to pair pairs please show "
    "find looking look get buy is are it this that those these one".split()
)
_WORD_RE = re.compile(r"[a-z0-9]+")
_NUMBER_RE = re.compile(r"\d+(?:[.,]\d{1,2})?")


def stem(word: str) -> str:
    """Crude singular form ("hoodies" -> "hoodie", "shoes" -> "shoe") good enough for substring matching."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def keywords(phrase: object) -> list[str]:
    """Meaningful, stemmed, de-duplicated lower-case words of a phrase (stop words and 1-letter words go)."""
    if not isinstance(phrase, str):
        return []
    words: list[str] = []
    for word in _WORD_RE.findall(phrase.lower()):
        if word in STOPWORDS or len(word) < 2:
            continue
        stemmed = stem(word)
        if stemmed not in words:
            words.append(stemmed)
    return words


def like_pattern(word: str) -> str:
    """``%word%`` with LIKE wildcards in ``word`` escaped (use with ``escape='\\\\'``)."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def name_score(words: Sequence[str], name: str, category: str | None = None) -> float:
    """Share of ``words`` found in ``name`` (a word counts when a name word starts with it, or it names the
    category); 0.0 when nothing matches."""
    if not words:
        return 0.0
    name_words = [stem(w) for w in _WORD_RE.findall(name.lower())]
    hits = 0
    for word in words:
        if any(n == word or (len(word) >= 3 and n.startswith(word)) for n in name_words):
            hits += 1
        elif category is not None and normalize_category(word) == category:
            hits += 1
    return hits / len(words)


def best_matches(phrase: str, candidates: Sequence[tuple[str, str | None]]) -> list[int]:
    """Indexes of the candidates ``(name, category)`` that match ``phrase`` best.

    An exact name (case-insensitive) wins outright; otherwise the highest :func:`name_score` wins, and
    several indexes come back when they tie, so the caller can ask "which one?".
    """
    cleaned = " ".join(phrase.lower().split())
    exact = [i for i, (name, _) in enumerate(candidates) if name.lower() == cleaned]
    if exact:
        return exact
    words = keywords(phrase)
    scores = [name_score(words, name, category) for name, category in candidates]
    best = max(scores, default=0.0)
    if best < 0.5:
        return []
    return [i for i, score in enumerate(scores) if score == best]


def parse_price(value: object) -> Decimal | None:
    """Read a price from ``100``, ``99.5``, ``"$120"``, ``"80 dollars"`` or ``"1,200"``; None if none."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        amount = Decimal(str(value))
    else:
        text = str(value).replace(",", "") if re.search(r"\d,\d{3}\b", str(value)) else str(value)
        match = _NUMBER_RE.search(text)
        if not match:
            return None
        try:
            amount = Decimal(match.group(0).replace(",", "."))
        except InvalidOperation:  # pragma: no cover - the regex only lets numbers through
            return None
    return amount if amount >= 0 else None
