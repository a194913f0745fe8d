"""The catalog vocabulary of docs/contract.md and the normalisers that map shopper wording onto it.

Seed data, search filters and the NLU/dialogue layers must agree on one spelling of every category,
colour and size; this module is that single source (order numbers: shop/shopper_text.py).
"""

from __future__ import annotations

import enum
import re

CATEGORIES: tuple[str, ...] = (
    "shoes",
    "jackets",
    "hoodies",
    "t-shirts",
    "jeans",
    "dresses",
    "sweaters",
    "bags",
    "hats",
    "socks",
)
BRANDS: tuple[str, ...] = (
    "Northwind",
    "Trailpeak",
    "Urbanthread",
    "Kestrel",
    "Bluefin",
    "Solstice",
    "Redwood",
    "Atlas Supply",
    "Marlow",
    "Fenwick",
    "Lumen",
    "Copperline",
)
COLORS: tuple[str, ...] = (
    "black",
    "white",
    "red",
    "blue",
    "green",
    "grey",
    "navy",
    "beige",
    "brown",
    "pink",
    "yellow",
    "purple",
    "orange",
)
#: Material words shoppers filter by ("leather bags", "wool socks"); a product matches when one of the
#: words of its material ("vegetable-tanned leather", "merino wool blend") is the word asked for.
MATERIALS: tuple[str, ...] = (
    "leather",
    "suede",
    "nubuck",
    "canvas",
    "mesh",
    "rubber",
    "nylon",
    "polyester",
    "denim",
    "cotton",
    "fleece",
    "merino",
    "wool",
    "lambswool",
    "cashmere",
    "linen",
    "viscose",
    "bamboo",
    "twill",
    "jersey",
    "crepe",
    "poplin",
    "softshell",
    "straw",
    "corduroy",
    "silk",
)
CLOTHING_SIZES: tuple[str, ...] = ("XS", "S", "M", "L", "XL", "XXL")
SHOE_SIZES: tuple[str, ...] = tuple(str(n) for n in range(36, 47))
JEANS_SIZES: tuple[str, ...] = tuple(str(n) for n in range(28, 39))
ONE_SIZE = "one size"

#: Sizes each category is sold in.
CATEGORY_SIZES: dict[str, tuple[str, ...]] = {
    "shoes": SHOE_SIZES,
    "jeans": JEANS_SIZES,
    "bags": (ONE_SIZE,),
    "hats": (ONE_SIZE,),
    **{c: CLOTHING_SIZES for c in ("jackets", "hoodies", "t-shirts", "dresses", "sweaters", "socks")},
}

ORDER_STATUSES: tuple[str, ...] = ("pending", "paid", "shipped", "delivered", "cancelled", "returned")
#: Orders in these states have not left the warehouse: they can still be cancelled or re-addressed.
OPEN_ORDER_STATUSES: tuple[str, ...] = ("pending", "paid")
RETURN_STATUSES: tuple[str, ...] = ("requested", "approved", "received", "refunded", "rejected")
REFUND_STATUSES: tuple[str, ...] = ("pending", "processing", "completed", "failed")


class Verification(str, enum.Enum):
    """Outcome of checking an order number against the e-mail address a shopper gave."""

    VERIFIED = "verified"
    NOT_FOUND = "not_found"
    EMAIL_MISMATCH = "email_mismatch"


_CATEGORY_ALIASES = {
    "tshirt": "t-shirts",
    "tshirts": "t-shirts",
    "t shirt": "t-shirts",
    "t shirts": "t-shirts",
    "tee": "t-shirts",
    "tees": "t-shirts",
    "tee shirt": "t-shirts",
    "tee shirts": "t-shirts",
    "sneaker": "shoes",
    "sneakers": "shoes",
    "boot": "shoes",
    "boots": "shoes",
    "sweatshirt": "hoodies",
    "sweatshirts": "hoodies",
    "jumper": "sweaters",
    "jumpers": "sweaters",
    "cap": "hats",
    "caps": "hats",
    "beanie": "hats",
    "beanies": "hats",
    "coat": "jackets",
    "coats": "jackets",
}
_COLOR_ALIASES = {"gray": "grey", "navy blue": "navy", "tan": "beige", "violet": "purple"}
_MATERIAL_ALIASES = {"woollen": "wool", "woolen": "wool", "woolly": "wool", "leathers": "leather"}
#: A material asked for that also covers narrower catalog words: merino and lambswool are wool.
_MATERIAL_FAMILIES = {"wool": ("wool", "lambswool", "merino")}
_MATERIAL_WORD_RE = re.compile(r"[a-z]+")


def _clean(value: object) -> str:
    return " ".join(str(value).strip().lower().split()) if isinstance(value, str) else ""


def normalize_category(value: object) -> str | None:
    """Map a category as a shopper says it ("Jacket", "tshirt", "dress") to its canonical plural."""
    text = _clean(value)
    if not text:
        return None
    if text in CATEGORIES:
        return text
    if text in _CATEGORY_ALIASES:
        return _CATEGORY_ALIASES[text]
    for plural in (text + "s", text + "es"):
        if plural in CATEGORIES:
            return plural
    return None


def normalize_color(value: object) -> str | None:
    """Map a colour to its canonical lower-case name ("Gray" -> "grey"); unknown colours give None."""
    text = _clean(value)
    text = _COLOR_ALIASES.get(text, text)
    return text if text in COLORS else None


def normalize_size(value: object) -> str | None:
    """Map a size to its canonical spelling ("xl" -> "XL", "one-size" -> "one size", "eu 42" -> "42")."""
    text = _clean(value).replace("-", " ")
    if not text:
        return None
    if text in ("one size", "onesize", "os"):
        return ONE_SIZE
    if text.startswith("eu "):
        text = text[3:].strip()
    if text.upper() in CLOTHING_SIZES:
        return text.upper()
    if text.isdigit() and (text in SHOE_SIZES or text in JEANS_SIZES):
        return text
    return None


def normalize_material(value: object) -> str | None:
    """Map a material as a shopper says it ("Leather", "woollen") to its canonical word; None if unknown."""
    text = _clean(value)
    text = _MATERIAL_ALIASES.get(text, text)
    return text if text in MATERIALS else None


def material_matches(asked: object, material: object) -> bool:
    """Whether a product made of ``material`` (the catalog's text, e.g. "merino wool blend") is made of the
    material ``asked`` for. Whole words only: "wool" finds "felted wool" and "lambswool" but "mesh" does
    not find "meshed"; an unknown material matches nothing (as an unknown colour does)."""
    canonical = normalize_material(asked)
    if canonical is None or not isinstance(material, str):
        return False
    words = set(_MATERIAL_WORD_RE.findall(material.lower()))
    return any(word in words for word in _MATERIAL_FAMILIES.get(canonical, (canonical,)))


def normalize_email(value: object) -> str | None:
    """Trim and lower-case an e-mail address; None when it cannot be one."""
    text = value.strip().lower() if isinstance(value, str) else ""
    if not text or "@" not in text or any(ch.isspace() for ch in text) or len(text) > 254:
        return None
    return text


def rma_number(order_number: str, item_position: int) -> str:
    """RMA number of the return of the ``item_position``-th line (1-based) of an order: ``RMA-100002-1``.

    Derived, not random: a retried return request computes the same number, so the unique constraints
    on ``returns`` settle any race instead of producing two RMAs.
    """
    digits = order_number[3:] if order_number.startswith("SA-") else order_number
    return f"RMA-{digits}-{item_position}"
