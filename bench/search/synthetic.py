"""A large synthetic catalog for the latency benchmark, written into a SQLite file.

Products are composed from the category styles of :mod:`shop.seed_catalog` (kinds, materials, features,
uses, palettes, price ranges) with a fixed seed, so every run builds the same catalog and the vector
cache of :mod:`shop.embeddings` (keyed by the catalog's content) is reused from the second run on.
"""

from __future__ import annotations

import random
from decimal import Decimal

from sqlalchemy import func, select

from shop.db import create_schema, get_engine
from shop.models import Brand, Category, Product, ProductVariant
from shop.seed_catalog import ADJECTIVES, MODEL_NAMES, SKU_PREFIX, STYLES
from shop.vocabulary import BRANDS, CATEGORIES, CATEGORY_SIZES

SEED = 424242


def synthetic_rows(count: int, designs: int | None = None, seed: int = SEED) -> tuple[list[dict], list[dict]]:
    """``count`` product rows and their variant rows (ids assigned), spread evenly over the categories.

    With ``designs``, product ``i`` repeats design ``i % designs`` (same name, description, material and
    colours, like one design listed under several SKUs); only price and stock differ. That keeps the
    number of distinct texts to embed at ``designs`` while the index still holds ``count`` rows.
    """
    rng = random.Random(seed)
    products: list[dict] = []
    variants: list[dict] = []
    design_cache: dict[int, tuple] = {}
    for index in range(count):
        category = CATEGORIES[index % len(CATEGORIES)]
        style = STYLES[category]
        design = index % designs if designs else index
        if design not in design_cache:
            kind = rng.choice(style.kinds)
            material = rng.choice(style.materials)
            first, second = rng.sample(style.features, 2)
            name = (
                f"{rng.choice(MODEL_NAMES)} {rng.choice(ADJECTIVES)} {kind} {design // len(CATEGORIES) + 1}"
            )
            description = f"{kind} in {material}, made for {rng.choice(style.uses)}. {first} {second}"
            sizes = CATEGORY_SIZES[category]
            chosen_sizes = sizes if len(sizes) == 1 else tuple(rng.sample(sizes, 2))
            colors = tuple(rng.sample(style.palette, rng.randint(1, 3)))
            design_cache[design] = (name, description, material, chosen_sizes, colors)
        name, description, material, chosen_sizes, colors = design_cache[design]
        low, high = style.price_range
        product_id = index + 1
        products.append(
            {
                "id": product_id,
                "sku": f"X{SKU_PREFIX[category]}-{index // len(CATEGORIES) + 1:05d}",
                "name": name,
                "description": description,
                "material": material,
                "price": Decimal(f"{rng.randint(low, high)}.{rng.choice(('00', '50', '95', '99'))}"),
                "category_id": CATEGORIES.index(category) + 1,
                "brand_id": (design % len(BRANDS)) + 1,
            }
        )
        for color in colors:
            for size in chosen_sizes:
                stock = 0 if rng.random() < 0.15 else rng.randint(1, 40)
                variants.append(
                    {
                        "id": len(variants) + 1,
                        "product_id": product_id,
                        "color": color,
                        "size": size,
                        "stock": stock,
                    }
                )
    return products, variants


def write_synthetic_catalog(db_url: str, count: int, designs: int | None = None) -> int:
    """Create the shop schema in ``db_url`` and fill it with ``count`` synthetic products (once)."""
    engine = get_engine(db_url)
    create_schema(engine)
    with engine.connect() as conn:
        existing = conn.execute(select(func.count()).select_from(Product.__table__)).scalar_one()
    if existing:
        return existing
    products, variants = synthetic_rows(count, designs)
    with engine.begin() as conn:
        conn.execute(
            Category.__table__.insert(), [{"id": i + 1, "name": c} for i, c in enumerate(CATEGORIES)]
        )
        conn.execute(Brand.__table__.insert(), [{"id": i + 1, "name": b} for i, b in enumerate(BRANDS)])
        conn.execute(Product.__table__.insert(), products)
        conn.execute(ProductVariant.__table__.insert(), variants)
    return count
