"""The matching engine behind ``CatalogEntityExtractor``, free of Rasa so it can be tested on its own.

Two steps:

* :func:`compile_vocabulary` turns the catalog vocabulary of :mod:`shop.catalog_terms` (plus the plain
  words of the NLU training data) into a JSON-ready dict: ``entries`` ``[entity, canonical value,
  phrase]``, the sizes and size words, and the common words that typo tolerance must leave alone. This
  dict is what the component persists.
* :class:`CatalogMatcher` builds a spaCy blank-English tokenizer and a ``PhraseMatcher`` from that dict.
  Every token's ``NORM`` is set to a lemma-ish key (lower case, plural folded: "Hoodies" -> "hoodie",
  "dresses" -> "dress"), or to the key of the catalog word it is a typo of ("northwnd" -> "northwind"),
  so one pattern per phrase matches singular, plural, any casing and small typos. Order numbers, e-mails
  and prices come from :mod:`components.extractors.patterns`; sizes from the tokens and their context.

Overlaps are settled greedily: e-mails, order numbers and prices first, then the longest catalog span
("Ridgeline Rain Jacket" beats "jacket"), then entity priority (product, brand, category, colour, size,
material).
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from typing import Any, Iterable, Optional, Sequence

import spacy
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from components.extractors import patterns
from components.extractors.common_words import COMMON_WORDS
from components.extractors.fuzzy import TypoIndex
from components.extractors.shopper_words import EXTRA_CATEGORY_WORDS, NOT_ENTITY_PHRASES, T_SHIRT_SPELLINGS
from shop.catalog_terms import CatalogTerms
from shop.vocabulary import CATEGORY_SIZES

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
#: Bump when compile_vocabulary adds or changes entries: it is part of the component's fingerprint, so
#: ``rasa train`` recompiles a vocabulary persisted by an older compiler (2: shopper words, name prefixes).
COMPILER_VERSION = 2
ENTITY_TYPES: tuple[str, ...] = (
    "email",
    "order_id",
    "price",
    "product",
    "brand",
    "category",
    "color",
    "size",
    "material",
)
_PRIORITY = {name: rank for rank, name in enumerate(ENTITY_TYPES)}
_RULE_ENTITIES = frozenset({"email", "order_id", "price"})
#: Label of size words ("small", "extra large") that only count as sizes in a size context.
_SIZE_WORD = "size_word"
#: Label of fixed expressions that are no entity ("black friday"); they win by length, then are dropped.
_NOT_ENTITY = "not_entity"
#: Confidence lost per typo edit inside a matched span, and the floor.
TYPO_PENALTY = 0.1
MIN_CONFIDENCE = 0.5
#: Confidence of a size read from a weak context ("I'm usually a 38", "in 41").
WEAK_SIZE_CONFIDENCE = 0.8
#: Lexemes the shared spaCy vocabulary may hold before the matcher is rebuilt (spaCy adds every new
#: word it tokenises; a long-running server would otherwise grow without bound).
MAX_VOCAB_LEXEMES = 100_000

_STRONG_SIZE_BEFORE = frozenset({"size", "sizes", "sz", "eu", "waist", "w"})
_WEAK_SIZE_BEFORE = frozenset(
    {"in", "a", "an", "wear", "wears", "am", "'m", "im", "take", "usually", "normally", "need", "want", "get"}
)
_SIZE_FOLLOWERS = frozenset(
    {
        "please",
        "pls",
        "plz",
        "size",
        "one",
        "or",
        "and",
        "but",
        "instead",
        "thanks",
        "then",
        "for",
        "if",
        "too",
    }
)
_SIZE_CHAIN = frozenset({"or", "and", "/", "-", "to", ","})
#: A number right before one of these is a size ("32 waist").
_STRONG_SIZE_AFTER = frozenset({"waist"})
#: Confidence of a size read from its neighbour ("medium hoodie", "sneakers 42", "large please").
NEIGHBOUR_SIZE_CONFIDENCE = 0.9
#: A message of at most this many tokens that starts with a size word is a size reply ("large please").
SHORT_SIZE_REPLY_TOKENS = 3
_LETTER_SIZES = {"xs": "XS", "s": "S", "m": "M", "l": "L", "xl": "XL", "xxl": "XXL", "2xl": "XXL"}
_WAIST_TOKEN_RE = re.compile(r"^w(\d{2})$", re.IGNORECASE)


def lemma(word: str) -> str:
    """Lemma-ish key of a lower-case word: regular plurals folded ("hoodies" -> "hoodie", "shoes" ->
    "shoe", "dresses" -> "dress"). Applied alike to catalog phrases and to messages, so it only has to be
    consistent, not linguistically right."""
    if len(word) > 4 and word.endswith("sses"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def compile_vocabulary(terms: CatalogTerms, training_words: Iterable[str] = ()) -> dict[str, Any]:
    """The JSON-ready vocabulary the matcher is built from (see the module docstring)."""
    entries: set[tuple[str, str, str]] = set()

    def add(entity: str, value: str, phrase: str) -> None:
        phrase = " ".join(phrase.lower().split())
        if phrase:
            entries.add((entity, value, phrase))

    for brand in terms.brands:
        add("brand", brand, brand)
    for phrase, brand in terms.brand_synonyms.items():
        add("brand", brand, phrase)
    for category in terms.categories:
        add("category", category, category)
    for phrase, category in terms.category_synonyms.items():
        add("category", category, phrase)
    for phrase, category in EXTRA_CATEGORY_WORDS.items():
        if category in terms.categories and phrase not in terms.category_synonyms:
            add("category", category, phrase)
    for phrase in NOT_ENTITY_PHRASES:
        add(_NOT_ENTITY, "", phrase)
    for color in terms.colors:
        add("color", color, color)
    for phrase, color in terms.color_synonyms.items():
        add("color", color, phrase)
    for material in terms.materials:
        add("material", material, material)
    for phrase, size in terms.size_synonyms.items():
        needs_context = any(w in phrase for w in ("small", "medium", "large"))
        add(_SIZE_WORD if needs_context else "size", size, phrase)
    for product in terms.products:
        add("product", product.name, product.name)
    for alias, name in _product_aliases(terms).items():
        add("product", name, alias)
    common = {w.lower() for w in training_words if w.isalpha()} | {w.lower() for w in terms.common_words}
    return {
        "format": FORMAT_VERSION,
        "snapshot_hash": terms.snapshot_hash(),
        "source": terms.source,
        "entries": [list(e) for e in sorted(entries)],
        "sizes": sorted(terms.sizes),
        "common_words": sorted(common),
    }


def _product_aliases(terms: CatalogTerms) -> dict[str, str]:
    """Shorter ways to name one product, kept when only that product has them and they are no full name:

    * "<model> <kind noun>" ("Cloudline Hoodie" for "Cloudline Pullover Hoodie");
    * the first words of the name, at least two ("Aspen Cable Knit", "Stride Runner"): shoppers stop
      typing once the name is clear;
    * the name with "T-Shirt" written as shoppers write it ("Essential Crew Neck Tee").
    """
    full = {_phrase_key(p.name) for p in terms.products}
    owners: dict[str, set[str]] = defaultdict(set)
    for product in terms.products:
        words = product.name.split()
        if len(words) > 2:
            owners[f"{words[0]} {words[-1]}"].add(product.name)
            for length in range(2, len(words)):
                owners[" ".join(words[:length])].add(product.name)
        if words[-1].lower() == "t-shirt":
            for spelling in T_SHIRT_SPELLINGS:
                owners[" ".join([*words[:-1], spelling])].add(product.name)
    return {
        alias.lower(): next(iter(names))
        for alias, names in owners.items()
        if len(names) == 1 and _phrase_key(alias) not in full
    }


def _phrase_key(phrase: str) -> str:
    return " ".join(lemma(w) for w in phrase.lower().split())


class CatalogMatcher:
    """Extracts catalog entities, sizes, order numbers, e-mails and prices from text."""

    def __init__(
        self,
        vocabulary: dict[str, Any],
        max_chars: int = 2000,
        typo_tolerance: bool = True,
        entity_types: Optional[Sequence[str]] = None,
    ) -> None:
        if vocabulary.get("format") != FORMAT_VERSION:
            raise ValueError(f"unsupported vocabulary format {vocabulary.get('format')!r}")
        self.vocabulary = vocabulary
        self.max_chars = max_chars
        self.typo_tolerance = typo_tolerance
        self.entity_types = frozenset(entity_types or ENTITY_TYPES)
        self.sizes = frozenset(vocabulary.get("sizes", ()))
        self._common = COMMON_WORDS | frozenset(vocabulary.get("common_words", ()))
        self._build()

    @property
    def snapshot_hash(self) -> str:
        return str(self.vocabulary.get("snapshot_hash", ""))

    def _build(self) -> None:
        self._nlp = spacy.blank("en")
        strings = self._nlp.vocab.strings
        self._none = "\u0000no-catalog-term"
        self._matcher = PhraseMatcher(self._nlp.vocab, attr="NORM")
        self._labels: dict[int, tuple[str, str]] = {}
        self._keys: set[str] = set()
        grouped: dict[tuple[str, str], list[Doc]] = defaultdict(list)
        for entity, value, phrase in self.vocabulary["entries"]:
            doc = self._nlp.make_doc(phrase)
            for token in doc:
                key = lemma(token.lower_)
                self._keys.add(key)
                token.norm_ = key
            grouped[(entity, value)].append(doc)
        for (entity, value), docs in grouped.items():
            label = strings.add(f"{entity}\u001f{value}")
            self._labels[label] = (entity, value)
            self._matcher.add(f"{entity}\u001f{value}", docs)
        fuzzy_words = [k for k in self._keys if k.isalpha()]
        self._typos = TypoIndex(fuzzy_words) if self.typo_tolerance else None
        self._sized_category_first = self._sized_categories(first=True)
        self._sized_category_last = self._sized_categories(first=False)
        self._colour_keys = {
            lemma(word) for entity, _, phrase in self.vocabulary["entries"] if entity == "color"
            for word in phrase.split()
        }

    def _sized_categories(self, first: bool) -> dict[str, str]:
        """The category sold in sizes that a category phrase starting (``first``) or ending with a word
        names: "t" of "t-shirt" and "rain" of "rain jacket" start one, "sneakers" ends one. Words that
        start or end phrases of two categories ("running") are left out."""
        owners: dict[str, set[str]] = defaultdict(set)
        for entity, value, phrase in self.vocabulary["entries"]:
            if entity == "category" and len(CATEGORY_SIZES.get(value, ())) > 1:
                tokens = self._nlp.make_doc(phrase)
                owners[lemma(tokens[0 if first else -1].lower_)].add(value)
        return {key: next(iter(values)) for key, values in owners.items() if len(values) == 1}

    # ------------------------------------------------------------------ extraction
    def extract(self, text: str) -> list[dict[str, Any]]:
        """Entities of ``text`` (only its first ``max_chars`` characters are read), non-overlapping,
        sorted by start. Each is ``{"entity", "start", "end", "value", "confidence"}`` plus ``role`` and
        ``currency`` for prices, and ``role`` ``excluded`` for a brand or colour the shopper rules out
        ("not Marlow": :func:`patterns.mark_excluded`)."""
        if not isinstance(text, str) or not text.strip():
            return []
        text = text[: self.max_chars]
        doc = self._nlp.make_doc(text)
        edits = self._set_norms(doc)
        candidates: list[dict[str, Any]] = []
        candidates += patterns.extract_emails(text)
        candidates += patterns.extract_order_ids(text, len(doc))
        candidates += patterns.extract_prices(text)
        candidates += self._catalog_candidates(doc, edits)
        candidates += self._size_candidates(doc)
        chosen = patterns.mark_excluded(text, self._resolve(candidates))
        if len(self._nlp.vocab) > MAX_VOCAB_LEXEMES:
            self._build()
        return [c for c in chosen if c["entity"] in self.entity_types]

    def _set_norms(self, doc: Doc) -> list[int]:
        edits = [0] * len(doc)
        for i, token in enumerate(doc):
            lower = token.lower_
            key = lemma(lower)
            norm = key if key in self._keys else None
            if norm is None and self._typos is not None and self._typo_candidate(lower, key):
                found = self._typos.lookup(key)
                if found is not None:
                    norm, edits[i] = found
            # only catalog keys and one sentinel: the string store does not grow with every message
            token.norm_ = norm if norm is not None else self._none
        return edits

    def _typo_candidate(self, lower: str, key: str) -> bool:
        return len(lower) >= 4 and lower.isalpha() and lower not in self._common and key not in self._common

    def _catalog_candidates(self, doc: Doc, edits: list[int]) -> list[dict[str, Any]]:
        found = []
        for match_id, start, end in self._matcher(doc):
            entity, value = self._labels[match_id]
            ceiling = 1.0
            if entity == _SIZE_WORD:
                ceiling = self._size_context(doc, start, end, value)
                if ceiling == 0.0:
                    continue
                entity = "size"
            penalty = TYPO_PENALTY * sum(edits[start:end])
            found.append(
                {
                    "entity": entity,
                    "start": doc[start].idx,
                    "end": doc[end - 1].idx + len(doc[end - 1].text),
                    "value": value,
                    "confidence": min(ceiling, max(MIN_CONFIDENCE, 1.0 - penalty)),
                }
            )
        return found

    def _size_context(self, doc: Doc, start: int, end: int, value: str) -> float:
        """1.0 after "size"/"EU"/"waist", 0.8 after "in"/"a"/"usually" when nothing follows, 0.9 right
        before a sized category ("medium hoodie", "small black t-shirt") or as a short reply ("large
        please"), else 0."""
        before = doc[start - 1].lower_ if start > 0 else ""
        if before in _STRONG_SIZE_BEFORE or (end < len(doc) and doc[end].lower_ == "eu"):
            return 1.0
        follows_ok = end >= len(doc) or doc[end].is_punct or doc[end].lower_ in _SIZE_FOLLOWERS
        if before in _WEAK_SIZE_BEFORE and follows_ok:
            return WEAK_SIZE_CONFIDENCE
        if value in CATEGORY_SIZES.get(self._sized_category_after(doc, end) or "", ()):
            return NEIGHBOUR_SIZE_CONFIDENCE
        if start == 0 and follows_ok and len(doc) <= SHORT_SIZE_REPLY_TOKENS:
            return NEIGHBOUR_SIZE_CONFIDENCE
        return 0.0

    def _sized_category_after(self, doc: Doc, end: int) -> Optional[str]:
        """The sized category named right after ``end``, skipping colour words ("small black tee")."""
        for token in doc[end : end + 3]:
            key = token.norm_
            if key in self._sized_category_first:
                return self._sized_category_first[key]
            if key not in self._colour_keys:
                return None
        return None

    def _sized_category_before(self, doc: Doc, index: int) -> Optional[str]:
        """The sized category named by the token right before ``index`` ("sneakers 42", "jeans 30")."""
        return self._sized_category_last.get(doc[index - 1].norm_) if index > 0 else None

    def _size_candidates(self, doc: Doc) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        last_size_token = -10
        for i, token in enumerate(doc):
            text = token.text
            lower = token.lower_
            value: Optional[str] = None
            confidence = 1.0
            if lower in _LETTER_SIZES:
                value = _LETTER_SIZES[lower]
                if len(lower) == 1:
                    nxt = doc[i + 1].text if i + 1 < len(doc) else ""
                    if text.isupper() and nxt not in (".", "&", "'s", "'"):
                        confidence = 1.0 if self._size_context(doc, i, i + 1, value) == 1.0 else 0.9
                    else:
                        confidence = self._size_context(doc, i, i + 1, value)
            elif text.isdigit() and text in self.sizes:
                value = text
                chained = i - last_size_token == 2 and doc[i - 1].lower_ in _SIZE_CHAIN
                confidence = 1.0 if chained else self._size_context(doc, i, i + 1, value)
                if not confidence and i + 1 < len(doc) and doc[i + 1].lower_ in _STRONG_SIZE_AFTER:
                    confidence = 1.0
                category_before = self._sized_category_before(doc, i)
                if not confidence and text in CATEGORY_SIZES.get(category_before or "", ()):
                    confidence = NEIGHBOUR_SIZE_CONFIDENCE
                if confidence and i + 1 < len(doc) and patterns.UNIT_AFTER_RE.match(" " + doc[i + 1].lower_):
                    confidence = 1.0 if doc[i + 1].lower_ == "eu" else 0.0
            elif _WAIST_TOKEN_RE.match(text) and text[1:] in self.sizes:
                value = text[1:]
            if value is None or value not in self.sizes or confidence == 0.0:
                continue
            last_size_token = i
            found.append(
                {
                    "entity": "size",
                    "start": token.idx,
                    "end": token.idx + len(text),
                    "value": value,
                    "confidence": confidence,
                }
            )
        return found

    @staticmethod
    def _resolve(candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Keep non-overlapping candidates: rule entities first, then longest, then by priority."""
        ordered = sorted(
            candidates,
            key=lambda c: (
                c["entity"] not in _RULE_ENTITIES,
                -(c["end"] - c["start"]),
                _PRIORITY.get(c["entity"], len(_PRIORITY)),
                c["start"],
            ),
        )
        chosen: list[dict[str, Any]] = []
        for candidate in ordered:
            if all(candidate["end"] <= c["start"] or c["end"] <= candidate["start"] for c in chosen):
                chosen.append(candidate)
        return sorted(chosen, key=lambda c: c["start"])
