"""Bounded typo matching of single words against the catalog words.

No fuzzy-matching library ships with the project's environment (``rapidfuzz`` is not installed), so this
module keeps its own two small pieces:

* :func:`bounded_distance`: optimal-string-alignment distance (Levenshtein plus adjacent transposition,
  so "hodie", "hoodei" and "hoddie" are all one edit from "hoodie") that gives up as soon as every cell
  of a row exceeds the budget;
* :class:`TypoIndex`: a symmetric-deletion index (every word is stored under the strings obtained by
  deleting up to ``max_edits`` characters), so a lookup touches only the handful of words that can be
  within the budget instead of scanning the whole vocabulary.
"""

from __future__ import annotations

from itertools import combinations
from typing import Iterable, Optional


def typo_budget(length: int) -> int:
    """Edits allowed for a word of ``length`` characters: 0 below 4, 1 for 4-7, 2 from 8 on."""
    if length < 4:
        return 0
    return 1 if length < 8 else 2


def bounded_distance(a: str, b: str, limit: int) -> int:
    """OSA edit distance of ``a`` and ``b``, or ``limit + 1`` as soon as it must exceed ``limit``."""
    if a == b:
        return 0
    la, lb = len(a), len(b)
    if abs(la - lb) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(lb + 1))
    for i in range(1, la + 1):
        current = [i] + [0] * lb
        row_min = current[0]
        ca = a[i - 1]
        for j in range(1, lb + 1):
            cost = 0 if ca == b[j - 1] else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == b[j - 1]:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
            row_min = min(row_min, value)
        if row_min > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[lb] if previous[lb] <= limit else limit + 1


def _deletes(word: str, edits: int) -> set[str]:
    variants = {word}
    for n in range(1, min(edits, len(word) - 1) + 1):
        for positions in combinations(range(len(word)), n):
            variants.add("".join(ch for k, ch in enumerate(word) if k not in positions))
    return variants


class TypoIndex:
    """Finds the one vocabulary word within the typo budget of a query word."""

    def __init__(self, words: Iterable[str], max_edits: int = 2) -> None:
        self.max_edits = max_edits
        self.words = frozenset(w for w in words if typo_budget(len(w)) > 0)
        self._index: dict[str, set[str]] = {}
        for word in self.words:
            for variant in _deletes(word, min(max_edits, typo_budget(len(word)))):
                self._index.setdefault(variant, set()).add(word)

    def lookup(self, query: str) -> Optional[tuple[str, int]]:
        """``(word, distance)`` of the closest vocabulary word, or None when none or several tie."""
        budget = min(self.max_edits, typo_budget(len(query)))
        if budget == 0:
            return None
        candidates: set[str] = set()
        for variant in _deletes(query, budget):
            candidates |= self._index.get(variant, set())
        best: list[tuple[int, str]] = []
        for word in candidates:
            limit = min(budget, typo_budget(len(word)))
            distance = bounded_distance(query, word, limit)
            if distance <= limit:
                best.append((distance, word))
        if not best:
            return None
        best.sort()
        if len(best) > 1 and best[0][0] == best[1][0]:
            return None  # ambiguous: "bage" could be "bag"+e or "beige"; guessing would be worse
        return best[0][1], best[0][0]
