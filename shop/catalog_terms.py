"""Read-only view of the catalog vocabulary for NLU components (entity extraction at training time).

NLU components must not know the schema: they ask this module for the words shoppers may use for
brands, categories, products, colours, sizes and materials, each with the canonical value the shop
layer understands, and for a stable hash of that vocabulary (a catalog change must retrain them).

``load_catalog_terms`` reads the database and raises :class:`shop.ShopUnavailableError` when it cannot;
``catalog_terms`` falls back to the canonical vocabulary of :mod:`shop.vocabulary` (plus the product
kinds and materials of the seed catalog), so training never depends on a running database.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from shop.config import database_url
from shop.db import get_engine
from shop.errors import ShopUnavailableError, describe_url, translate_db_errors
from shop.models import Brand, Category, Product, ProductVariant
from shop.seed_catalog import STYLES
from shop.vocabulary import (
    _CATEGORY_ALIASES,
    _COLOR_ALIASES,
    BRANDS,
    CATEGORIES,
    CLOTHING_SIZES,
    COLORS,
    JEANS_SIZES,
    MATERIALS,
    ONE_SIZE,
    SHOE_SIZES,
    normalize_category,
    normalize_color,
)

logger = logging.getLogger(__name__)

#: Bump when the shape of :meth:`CatalogTerms.as_dict` changes (it is part of the snapshot hash).
TERMS_VERSION = 1

#: Shopper words for categories beyond the aliases of shop.vocabulary (target: canonical category).
EXTRA_CATEGORY_SYNONYMS: dict[str, str] = {
    "shoe": "shoes",
    "trainer": "shoes",
    "trainers": "shoes",
    "runners": "shoes",
    "jacket": "jackets",
    "hoodie": "hoodies",
    "hoody": "hoodies",
    "hooded sweatshirt": "hoodies",
    "t-shirt": "t-shirts",
    "shirt": "t-shirts",
    "shirts": "t-shirts",
    "sweater": "sweaters",
    "pullover": "sweaters",
    "pullovers": "sweaters",
    "knitwear": "sweaters",
    "dress": "dresses",
    "bag": "bags",
    "backpacks": "bags",
    "tote": "bags",
    "totes": "bags",
    "handbag": "bags",
    "handbags": "bags",
    "hat": "hats",
    "sock": "socks",
}
#: Shopper words for colours beyond the aliases of shop.vocabulary (target: canonical colour).
EXTRA_COLOR_SYNONYMS: dict[str, str] = {
    "dark blue": "navy",
    "light grey": "grey",
    "light gray": "grey",
    "dark grey": "grey",
    "dark gray": "grey",
    "charcoal": "grey",
    "cream": "beige",
    "off white": "white",
    "off-white": "white",
    "khaki": "beige",
    "olive": "green",
    "burgundy": "red",
    "maroon": "red",
    "lilac": "purple",
    "mustard": "yellow",
}
#: Spelling variants of brand names (target: brand as stored).
BRAND_VARIANTS: dict[str, str] = {
    "trail peak": "Trailpeak",
    "urban thread": "Urbanthread",
    "north wind": "Northwind",
    "copper line": "Copperline",
    "blue fin": "Bluefin",
    "red wood": "Redwood",
    "atlas supply co": "Atlas Supply",
    "atlas": "Atlas Supply",
}
#: Sizes in words (target: canonical size).
SIZE_WORDS: dict[str, str] = {
    "extra small": "XS",
    "x-small": "XS",
    "xsmall": "XS",
    "small": "S",
    "medium": "M",
    "large": "L",
    "extra large": "XL",
    "x-large": "XL",
    "xlarge": "XL",
    "xx-large": "XXL",
    "xxlarge": "XXL",
    "2xl": "XXL",
    "one size": ONE_SIZE,
    "one-size": ONE_SIZE,
}
#: Material nouns shoppers use; each is kept when it occurs in a catalog material.
MATERIAL_WORDS: tuple[str, ...] = MATERIALS


@dataclass(frozen=True)
class ProductTerm:
    """A product as NLU sees it: the name shoppers quote and what it is."""

    name: str
    category: str
    brand: str


@dataclass(frozen=True)
class CatalogTerms:
    """The catalog vocabulary; every mapping goes from lower-case shopper wording to a canonical value."""

    source: str  # "database" or "vocabulary" (the canonical fallback)
    brands: tuple[str, ...]
    categories: tuple[str, ...]
    products: tuple[ProductTerm, ...]
    colors: tuple[str, ...]
    sizes: tuple[str, ...]
    materials: tuple[str, ...]
    category_synonyms: dict[str, str] = field(default_factory=dict)
    color_synonyms: dict[str, str] = field(default_factory=dict)
    brand_synonyms: dict[str, str] = field(default_factory=dict)
    size_synonyms: dict[str, str] = field(default_factory=dict)
    #: Plain English words of the catalog (descriptions): never typo-corrected into a catalog term.
    common_words: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (sorted, so equal vocabularies serialise identically)."""
        return {
            "version": TERMS_VERSION,
            "brands": sorted(self.brands),
            "categories": sorted(self.categories),
            "products": sorted([p.name, p.category, p.brand] for p in self.products),
            "colors": sorted(self.colors),
            "sizes": sorted(self.sizes),
            "materials": sorted(self.materials),
            "category_synonyms": dict(sorted(self.category_synonyms.items())),
            "color_synonyms": dict(sorted(self.color_synonyms.items())),
            "brand_synonyms": dict(sorted(self.brand_synonyms.items())),
            "size_synonyms": dict(sorted(self.size_synonyms.items())),
            "common_words": sorted(self.common_words),
        }

    def snapshot_hash(self) -> str:
        """Stable SHA-256 of the vocabulary (independent of row order, ids, stock and prices)."""
        payload = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _category_synonyms(categories: tuple[str, ...]) -> dict[str, str]:
    synonyms: dict[str, str] = {}
    for source in (_CATEGORY_ALIASES, EXTRA_CATEGORY_SYNONYMS):
        synonyms.update({k: v for k, v in source.items() if v in categories})
    # product kinds of the seed catalog ("rain jacket", "chelsea boots", "tote bag") name a category too
    for category, style in STYLES.items():
        if category in categories:
            for kind in style.kinds:
                synonyms.setdefault(kind.lower(), category)
    return {k: v for k, v in synonyms.items() if k not in categories}


def _color_synonyms(colors: tuple[str, ...]) -> dict[str, str]:
    synonyms = {**_COLOR_ALIASES, **EXTRA_COLOR_SYNONYMS}
    return {k: v for k, v in synonyms.items() if v in colors and k not in colors}


def _materials_of(material_strings: list[str]) -> tuple[str, ...]:
    words = {w for text in material_strings for w in text.lower().replace("-", " ").split()}
    return tuple(m for m in MATERIAL_WORDS if m in words)


def _common_words(texts: list[str]) -> tuple[str, ...]:
    words: set[str] = set()
    for text in texts:
        for raw in text.lower().split():
            word = raw.strip(".,;:!?()\"'")
            if word.isalpha() and len(word) >= 3:
                words.add(word)
    return tuple(sorted(words))


def _build(
    source: str,
    brands: list[str],
    categories: list[str],
    products: list[ProductTerm],
    colors: list[str],
    sizes: list[str],
    material_strings: list[str],
    descriptions: list[str],
) -> CatalogTerms:
    cats = tuple(sorted({c for c in categories if c}))
    cols = tuple(sorted({normalize_color(c) or c.lower() for c in colors if c}))
    brand_tuple = tuple(sorted({b for b in brands if b}))
    vocabulary_words = {w for b in brand_tuple for w in b.lower().split()} | set(cats)
    common = tuple(w for w in _common_words(descriptions) if w not in vocabulary_words)
    return CatalogTerms(
        source=source,
        brands=brand_tuple,
        categories=cats,
        products=tuple(sorted(products, key=lambda p: p.name.lower())),
        colors=cols,
        sizes=tuple(sorted({s for s in sizes if s})),
        materials=_materials_of(material_strings),
        category_synonyms=_category_synonyms(cats),
        color_synonyms=_color_synonyms(cols),
        brand_synonyms={k: v for k, v in BRAND_VARIANTS.items() if v in brand_tuple},
        size_synonyms=dict(SIZE_WORDS),
        common_words=common,
    )


def fallback_terms() -> CatalogTerms:
    """The canonical vocabulary of docs/contract.md (no product names): used when the database is away."""
    materials = [m for style in STYLES.values() for m in style.materials]
    descriptions = [f for style in STYLES.values() for f in (*style.features, *style.uses)]
    return _build(
        "vocabulary",
        list(BRANDS),
        list(CATEGORIES),
        [],
        list(COLORS),
        [*CLOTHING_SIZES, *SHOE_SIZES, *JEANS_SIZES, ONE_SIZE],
        materials,
        descriptions,
    )


def _sqlite_file_missing(url: str) -> bool:
    """True for a SQLite URL whose file does not exist (connecting would create an empty database)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return False
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return False
    return not Path(parsed.database).exists()


def load_catalog_terms(db_url: str | None = None) -> CatalogTerms:
    """Read the vocabulary from the shop database (one short read-only transaction).

    Raises :class:`ShopUnavailableError` when the database cannot be reached, has no shop tables, or its
    catalog is empty.
    """
    url = database_url(db_url)
    where = describe_url(url)
    if _sqlite_file_missing(url):
        raise ShopUnavailableError(f"The shop database ({where}) does not exist.")
    try:
        with translate_db_errors(url):
            engine = get_engine(url)
            with engine.connect() as conn:
                brands = list(conn.execute(select(Brand.name)).scalars())
                categories = list(conn.execute(select(Category.name)).scalars())
                rows = conn.execute(
                    select(Product.name, Category.name, Brand.name, Product.material, Product.description)
                    .join(Category, Product.category_id == Category.id)
                    .join(Brand, Product.brand_id == Brand.id)
                ).all()
                colors = list(conn.execute(select(distinct(ProductVariant.color))).scalars())
                sizes = list(conn.execute(select(distinct(ProductVariant.size))).scalars())
                count = conn.execute(select(func.count()).select_from(Product.__table__)).scalar_one()
    except SQLAlchemyError as exc:  # e.g. a URL for a driver that is not installed
        raise ShopUnavailableError(
            f"The shop database ({where}) cannot be read: {type(exc).__name__}"
        ) from None
    if not count:
        raise ShopUnavailableError(f"The shop database ({where}) has an empty catalog.")
    products = [ProductTerm(name=r[0], category=r[1], brand=r[2]) for r in rows]
    return _build(
        "database",
        brands,
        [normalize_category(c) or c for c in categories],
        products,
        [*COLORS, *colors],
        sizes,
        [r[3] or "" for r in rows],
        [r[4] or "" for r in rows],
    )


def catalog_terms(db_url: str | None = None) -> CatalogTerms:
    """The database vocabulary, or :func:`fallback_terms` with a logged warning when it is unavailable."""
    try:
        return load_catalog_terms(db_url)
    except (ShopUnavailableError, ImportError) as exc:
        logger.warning("catalog vocabulary unavailable (%s): using the canonical vocabulary instead", exc)
        return fallback_terms()


def catalog_snapshot_hash(db_url: str | None = None) -> str:
    """Hash of :func:`catalog_terms` (the fallback vocabulary's hash when the database is away)."""
    return catalog_terms(db_url).snapshot_hash()
