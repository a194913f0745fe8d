"""The filters of a product search as the shopper sees them: what a message does to them, and how to say
them back.

Kept free of trackers, Rasa and the database so that every rule is a plain function with unit tests
(tests/actions/test_search_filters.py); :mod:`actions.products` feeds it canonical values and reads the
tracker.

What a message after a search means (:func:`classify_turn`):

* **new search** - it names another category, or asks for a category again in a sentence ("show me
  Northwind jackets" after black jackets under $100): only what this request names applies.
* **refinement** - it only gives filter values ("in blue", "under 60", "Northwind"), asks for cheaper
  ones, or lets go of a filter in words ("any colour", "forget the colour", "price doesn't matter"):
  the other filters of the previous search are kept.
* **nothing** - a message the NLU did not understand (nlu_fallback) that is not plainly one of the above
  is never read for filter values: a value in it is not applied, now or later.

A brand or colour the shopper rules out ("any brand except Marlow", "not black") comes from the NLU as an
entity with the role ``excluded`` (components/extractors/patterns.py ``mark_excluded``). It becomes the
filter ``exclude_brand`` / ``exclude_color``: the search leaves it out (the data layer owns the query) and
the answer says it ("12 matching jackets (not Marlow, any colour, any price)"). Naming a wanted value of
the same filter replaces the exclusion and the other way round; "any brand" drops both.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass, fields, replace
from typing import Any, Collection, Dict, Iterable, Mapping, Optional

from shop.vocabulary import MATERIALS, normalize_material

#: Filter names, in the order they are described.
FILTER_NAMES = (
    "category", "color", "material", "brand", "size", "max_price", "exclude_brand", "exclude_color",
)
#: The filters a shopper can rule a value out of, and the filter that holds the ruled-out value.
EXCLUSIONS = {"brand": "exclude_brand", "color": "exclude_color"}
#: The entity role of a ruled-out value (see components/extractors/patterns.py).
EXCLUDED_ROLE = "excluded"
#: Which filter an NLU entity gives (a price with role `min` is no price limit; see entity_filter).
ENTITY_FILTERS = {
    "category": "category",
    "color": "color",
    "size": "size",
    "brand": "brand",
    "material": "material",
    "price": "max_price",
}
#: The intent FallbackClassifier gives a message it did not understand.
FALLBACK_INTENT = "nlu_fallback"
SEARCH_INTENT = "search_product"


class Turn(str, enum.Enum):
    """What a message does to the current search."""

    NEW = "new"
    REFINE = "refine"
    NOTHING = "nothing"


@dataclass(frozen=True)
class SearchFilters:
    """The filters in force, canonical values (None: any)."""

    category: Optional[str] = None
    color: Optional[str] = None
    material: Optional[str] = None
    brand: Optional[str] = None
    size: Optional[str] = None
    max_price: Optional[str] = None
    #: A brand / colour ruled out ("any brand except Marlow", "not black").
    exclude_brand: Optional[str] = None
    exclude_color: Optional[str] = None

    def as_slot(self) -> Dict[str, Optional[str]]:
        """A plain dict for the `search_filters` slot (and the keyword arguments of the shop's search);
        an exclusion only when there is one, so that searches without one keep their earlier shape."""
        excluded = set(EXCLUSIONS.values())
        return {name: getattr(self, name) for name in FILTER_NAMES
                if name not in excluded or getattr(self, name) is not None}

    @classmethod
    def from_slot(cls, value: Any) -> Optional[SearchFilters]:
        """Filters stored by :meth:`as_slot`; None when the slot holds nothing usable."""
        if not isinstance(value, Mapping):
            return None
        return cls(**{f.name: _text_or_none(value.get(f.name)) for f in fields(cls)})

    def updated(self, values: Mapping[str, Optional[str]], dropped: Collection[str] = ()) -> SearchFilters:
        """These filters with ``dropped`` ones cleared, then ``values`` set (a value named in the same
        message wins over "any": "any brand, Northwind if possible"). Dropping a filter lets go of its
        exclusion too ("any brand"); a wanted value replaces an earlier exclusion of that filter ("not
        Marlow", then "Northwind") and an exclusion an earlier wanted value ("Marlow bags", then "not
        Marlow")."""
        changes: Dict[str, Optional[str]] = {name: None for name in dropped if name in FILTER_NAMES}
        changes.update({EXCLUSIONS[name]: None for name in dropped if name in EXCLUSIONS})
        for wanted, excluded in EXCLUSIONS.items():
            if values.get(wanted) is not None and values.get(excluded) is None:
                changes[excluded] = None
            elif values.get(excluded) is not None and values.get(wanted) is None:
                changes[wanted] = None
        changes.update({k: v for k, v in values.items() if k in FILTER_NAMES and v is not None})
        return replace(self, **changes)


def _text_or_none(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value.strip() else None


# ---------------------------------------------------------------------------------------------- wording in
#: How shoppers name each filter when they let go of it.
_FILTER_WORDS = {
    "color": r"colou?rs?",
    "size": r"sizes?",
    "brand": r"brands?|makers?|labels?",
    "material": r"materials?|fabrics?",
    "max_price": r"prices?(?:\s+(?:limit|range|cap))?|budget|cost|money",
}
_WORD = "|".join(f"(?:{words})" for words in _FILTER_WORDS.values())
#: One filter word or a list of them: "colour", "colour and size", "the colour, size or brand".
_LIST = rf"(?P<list>(?:{_WORD})(?:\s*(?:,|&|/|\band\b|\bor\b|\bnor\b)\s*(?:the\s+)?(?:{_WORD}))*)\b"
_NOT = r"(?:do\s*n[o']?t|does\s*n[o']?t|doesnt|dont|does\s+not|do\s+not|is\s*n[o']?t|isnt|is\s+not)"
_DROP_PATTERNS = [
    # "any colour", "whatever size", "all brands", "any colour or size", "any other brand"
    rf"\b(?:any|whatever|all|every)\s+(?:other\s+)?{_LIST}",
    # "forget the colour", "drop the price limit", "never mind the brand", "get rid of the size filter"
    rf"\b(?:forget|drop|remove|ignore|clear|skip|lose|scrap|reset|undo|never\s*mind|nvm|get\s+rid\s+of)"
    rf"\s+(?:about\s+)?(?:the\s+|my\s+|a\s+|that\s+|this\s+)?{_LIST}",
    # "without the colour filter", "no size preference", "no price limit"
    rf"\bwithout\s+(?:the\s+|a\s+|any\s+)?{_LIST}",
    rf"\bno\s+(?:particular\s+)?{_LIST}\s*(?:limit|filter|preference|restriction|requirement)?",
    # "colour doesn't matter", "price is not important", "price is no object", "brand isn't an issue"
    rf"\b{_LIST}\s+(?:really\s+)?(?:{_NOT}\s+(?:really\s+)?(?:matter|important|an?\s+(?:issue|problem|concern))"
    rf"|(?:is|are|'s)\s+(?:irrelevant|unimportant|no\s+object|not\s+a\s+thing))",
    # "I don't care about the colour", "don't mind which brand", "not fussed about size"
    rf"\b(?:{_NOT}\s+(?:really\s+)?(?:care|mind)|not\s+(?:fussed|bothered|picky|particular))"
    rf"\s+(?:about\s+|what\s+|which\s+|on\s+)?(?:the\s+)?{_LIST}",
    # "no matter the price", "regardless of colour", "doesn't matter which brand"
    rf"\b(?:no\s+matter|regardless\s+of|{_NOT}\s+matter)\s+(?:what\s+|which\s+|the\s+)?{_LIST}",
]
_DROP_RES = [re.compile(p, re.IGNORECASE) for p in _DROP_PATTERNS]
_FILTER_WORD_RES = {
    name: re.compile(rf"\b(?:{words})\b", re.IGNORECASE) for name, words in _FILTER_WORDS.items()
}
#: Price-only ways of letting go of the limit: "no budget", "money is no object", "don't care how much".
_NO_PRICE_LIMIT_RE = re.compile(
    r"\b(?:no\s+(?:budget|limit|max(?:imum)?|cap)\b|money\s+is\s+no\s+object"
    rf"|{_NOT}\s+(?:really\s+)?(?:care|mind)\s+(?:about\s+)?how\s+much|whatever\s+it\s+costs"
    r"|more\s+expensive\s+is\s+(?:fine|ok|okay))",
    re.IGNORECASE,
)
#: "cheaper ones", "anything less expensive?": below the cheapest product listed.
_CHEAPER_RE = re.compile(
    r"\b(cheaper|less\s+expensive|lower\s+price[sd]?|more\s+affordable)\b", re.IGNORECASE
)
_MATERIAL_TEXT_RE = re.compile(r"[a-z]+")
#: Words that may stand beside filter values in a refinement ("only in blue please", "what about M?").
_FILLER_WORDS = frozenset(
    """a an the in on of by from with and or only just ones one please pls ok okay what about how maybe
    perhaps then instead also too any size sz colour color brand under below less than max maximum up to
    at most no more over above dollars dollar bucks euros eur usd made those them some something anything
    got have do they come would be nice i guess think like prefer rather want need""".split()
)
_TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def _normal(text: Any) -> str:
    return str(text or "").replace("\u2019", "'").lower()


def dropped_filters(text: Any) -> frozenset[str]:
    """Filters the message lets go of: ``"any colour is fine and price doesn't matter"`` ->
    ``{"color", "max_price"}``; ``"forget the colour"`` -> ``{"color"}``; nothing for "in blue"."""
    message = _normal(text)
    dropped: set[str] = set()
    for pattern in _DROP_RES:
        for match in pattern.finditer(message):
            listed = match.group("list")
            dropped.update(name for name, word in _FILTER_WORD_RES.items() if word.search(listed))
    if _NO_PRICE_LIMIT_RE.search(message):
        dropped.add("max_price")
    return frozenset(dropped)


def asks_cheaper(text: Any) -> bool:
    """"cheaper ones", "anything less expensive?"."""
    return bool(_CHEAPER_RE.search(_normal(text)))


def material_in_text(text: Any) -> Optional[str]:
    """The first catalog material word of the message ("wool socks" -> "wool"): the entity extractor
    reads "wool socks" as one category phrase, so the material has to be found in the words."""
    for word in _MATERIAL_TEXT_RE.findall(_normal(text)):
        material = normalize_material(word)
        if material in MATERIALS:
            return material
    return None


def only_filter_values(text: Any, entities: Iterable[Mapping[str, Any]]) -> bool:
    """True when the message holds filter values and little else ("in blue", "northwind jackets under 80
    please"): what is left once the entities' words and filler words are gone is empty."""
    message = _normal(text)
    spans = sorted(
        (int(e["start"]), int(e["end"]))
        for e in entities
        if isinstance(e.get("start"), int) and isinstance(e.get("end"), int)
    )
    for start, end in reversed(spans):
        message = message[:start] + " " + message[end:]
    for entity in entities:  # entities without offsets (button payloads, tests): remove their words
        if not isinstance(entity.get("start"), int):
            message = message.replace(_normal(entity.get("value")), " ")
    words = [w for w in _TOKEN_RE.findall(message) if w not in _FILLER_WORDS and not w.isdigit()]
    return not any(normalize_material(w) is None for w in words)


def classify_turn(
    intent: Optional[str],
    text: Any,
    named: Mapping[str, str],
    previous: Optional[SearchFilters],
    entities: Iterable[Mapping[str, Any]] = (),
) -> Turn:
    """What the message does to the search ``previous`` (None: there was no search in this session).

    ``named``: the canonical filter values the message itself names (filter name -> value). A message
    the NLU did not understand is no search of its own: without an earlier search it is NOTHING.
    """
    if previous is None:
        return Turn.NOTHING if intent == FALLBACK_INTENT else Turn.NEW
    entities = list(entities)
    category = named.get("category")
    rules_out = any(named.get(name) for name in EXCLUSIONS.values())  # "not Marlow": about this search
    cues = bool(dropped_filters(text) or asks_cheaper(text) or rules_out)
    plain_values = bool(named) and only_filter_values(text, entities)
    if intent == FALLBACK_INTENT:
        # not understood: only a message that is plainly filter values (or a cue) is read at all
        if plain_values:
            return Turn.NEW if category and category != previous.category else Turn.REFINE
        return Turn.REFINE if cues and category in (None, previous.category) else Turn.NOTHING
    if category and category != previous.category:
        return Turn.NEW
    if intent == SEARCH_INTENT:
        if category:  # the same category asked for again: a new search unless it is only values
            return Turn.REFINE if cues or plain_values else Turn.NEW
        return Turn.REFINE if cues or named else Turn.NEW
    return Turn.REFINE if cues or named else Turn.NOTHING


# ---------------------------------------------------------------------------------------------- wording out
_SINGULAR = {
    "shoes": "pair of {adjectives}shoes",
    "jeans": "pair of {adjectives}jeans",
    "socks": "pair of {adjectives}socks",
    "dresses": "{adjectives}dress",
    "products": "{adjectives}product",
}
_ANY = {
    "color": "any colour",
    "size": "any size",
    "brand": "any brand",
    "material": "any material",
    "max_price": "any price",
}


def _adjectives(filters: SearchFilters) -> str:
    words = [w for w in (filters.color, filters.material) if w]
    return "".join(f"{w} " for w in words)


def noun_phrase(filters: SearchFilters, count: int) -> str:
    """The products searched for with the right number: "black jacket", "black jackets", "pair of
    leather shoes", "products"."""
    category = filters.category or "products"
    adjectives = _adjectives(filters)
    if count == 1:
        template = _SINGULAR.get(category)
        if template:
            return template.format(adjectives=adjectives)
        return f"{adjectives}{category[:-1] if category.endswith('s') else category}"
    return f"{adjectives}{category}"


def filter_summary(filters: SearchFilters, money: Any, dropped: Collection[str] = ()) -> str:
    """The filters not in :func:`noun_phrase`, in words: "by Northwind, any colour, any price".

    Colour and price are always said ("any colour" when there is none, "not black" when one is ruled
    out); brand, material and size only when set, ruled out ("not Marlow") or just dropped. ``money``
    formats a price ("$80.00").
    """
    parts = []
    if filters.brand:
        parts.append(f"by {filters.brand}")
    elif filters.exclude_brand:
        parts.append(f"not {filters.exclude_brand}")
    elif "brand" in dropped:
        parts.append(_ANY["brand"])
    if not filters.color:
        parts.append(f"not {filters.exclude_color}" if filters.exclude_color else _ANY["color"])
    if not filters.material and "material" in dropped:
        parts.append(_ANY["material"])
    if filters.size:
        parts.append(f"size {filters.size}")
    elif "size" in dropped:
        parts.append(_ANY["size"])
    parts.append(f"under {money(filters.max_price)}" if filters.max_price else _ANY["max_price"])
    return ", ".join(parts)


def found_phrase(
    filters: SearchFilters, total: int, shown: int, money: Any, dropped: Collection[str] = ()
) -> str:
    """``1 matching black jacket (size M, under $100.00)`` / ``12 matching jackets (by Northwind, any
    colour, any price), here are the top 5``."""
    text = f"{total} matching {noun_phrase(filters, total)} ({filter_summary(filters, money, dropped)})"
    if total > shown:
        text += f", here are the top {shown}"
    return text


def describe_filters(filters: SearchFilters, money: Any) -> str:
    """The search in one phrase for sentences such as "I couldn't find any ...":
    ``black leather bags by Marlow in size M under $100.00``, ``bags not by Marlow``."""
    text = noun_phrase(filters, 2)
    if filters.brand:
        text += f" by {filters.brand}"
    elif filters.exclude_brand:
        text += f" not by {filters.exclude_brand}"
    if filters.exclude_color and not filters.color:
        text += f" not in {filters.exclude_color}"
    if filters.size:
        text += f" in size {filters.size}"
    if filters.max_price:
        text += f" under {money(filters.max_price)}"
    return text


__all__ = [
    "ENTITY_FILTERS",
    "EXCLUDED_ROLE",
    "EXCLUSIONS",
    "FALLBACK_INTENT",
    "FILTER_NAMES",
    "SearchFilters",
    "Turn",
    "asks_cheaper",
    "classify_turn",
    "describe_filters",
    "dropped_filters",
    "filter_summary",
    "found_phrase",
    "material_in_text",
    "noun_phrase",
    "only_filter_values",
]
