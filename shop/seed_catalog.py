"""Deterministic generator of the demo catalog (products and their variants).

The catalog is invented for ShopAssist: product lines, model names, descriptions and prices are composed
from the small word lists below with a seeded ``random.Random``, so every run (and every machine) gets
the same catalog and tests, NLU examples and the README can name real products. The first product of
each category is hand-written ("signature" products) because the demo orders refer to them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from shop.vocabulary import BRANDS, CATEGORIES, CATEGORY_SIZES, COLORS

#: Products generated per category (10 categories -> 320 products).
PRODUCTS_PER_CATEGORY = 32
CATALOG_SEED = 20240611

SKU_PREFIX = {
    "shoes": "SHO",
    "jackets": "JKT",
    "hoodies": "HOD",
    "t-shirts": "TSH",
    "jeans": "JNS",
    "dresses": "DRS",
    "sweaters": "SWT",
    "bags": "BAG",
    "hats": "HAT",
    "socks": "SOC",
}


@dataclass(frozen=True)
class CategoryStyle:
    """What products of one category are called, made of and cost."""

    kinds: tuple[str, ...]
    materials: tuple[str, ...]
    features: tuple[str, ...]
    uses: tuple[str, ...]
    price_range: tuple[int, int]
    palette: tuple[str, ...] = field(default=COLORS)


STYLES: dict[str, CategoryStyle] = {
    "shoes": CategoryStyle(
        kinds=(
            "Sneakers",
            "Running Shoes",
            "Trail Shoes",
            "Chelsea Boots",
            "Loafers",
            "Hiking Boots",
            "Slip-On Shoes",
            "Court Shoes",
        ),
        materials=(
            "mesh and recycled rubber",
            "full-grain leather",
            "suede",
            "canvas",
            "knit upper with EVA sole",
            "waxed nubuck",
        ),
        features=(
            "A cushioned midsole keeps long days comfortable.",
            "The grippy outsole holds on wet pavement.",
            "A padded collar stops rubbing at the heel.",
            "Removable insoles make room for orthotics.",
            "Reinforced toe caps shrug off scuffs.",
        ),
        uses=("city walks", "weekend trails", "the office", "daily runs", "travel days"),
        price_range=(45, 170),
        palette=("black", "white", "grey", "navy", "brown", "beige", "blue", "red", "green"),
    ),
    "jackets": CategoryStyle(
        kinds=(
            "Rain Jacket",
            "Puffer Jacket",
            "Bomber Jacket",
            "Denim Jacket",
            "Softshell Jacket",
            "Field Jacket",
            "Windbreaker",
            "Quilted Jacket",
        ),
        materials=(
            "recycled nylon",
            "waterproof polyester",
            "cotton canvas",
            "organic denim",
            "stretch softshell",
            "ripstop nylon with down fill",
        ),
        features=(
            "Storm cuffs keep wind out of the sleeves.",
            "Two-way zips make sitting down easy.",
            "Zipped hand pockets keep small things safe.",
            "It packs into its own chest pocket.",
            "A brushed lining adds warmth without bulk.",
        ),
        uses=("commutes", "autumn hikes", "festival weekends", "cold mornings", "travel"),
        price_range=(60, 260),
        palette=("black", "navy", "green", "grey", "beige", "red", "blue", "yellow", "orange", "brown"),
    ),
    "hoodies": CategoryStyle(
        kinds=("Pullover Hoodie", "Zip Hoodie", "Fleece Hoodie", "Oversized Hoodie", "Lightweight Hoodie"),
        materials=(
            "brushed cotton fleece",
            "organic cotton French terry",
            "cotton and recycled polyester",
            "heavyweight loopback cotton",
        ),
        features=(
            "A kangaroo pocket keeps hands warm.",
            "Ribbed cuffs hold their shape wash after wash.",
            "The lined hood has flat drawcords.",
            "Dropped shoulders give a relaxed fit.",
        ),
        uses=("lazy Sundays", "the gym", "campus days", "evenings outdoors"),
        price_range=(35, 95),
        palette=("black", "grey", "navy", "white", "green", "beige", "pink", "purple", "red", "brown"),
    ),
    "t-shirts": CategoryStyle(
        kinds=(
            "Crew Neck T-Shirt",
            "V-Neck T-Shirt",
            "Pocket T-Shirt",
            "Graphic T-Shirt",
            "Long Sleeve T-Shirt",
            "Performance T-Shirt",
        ),
        materials=(
            "organic cotton jersey",
            "slub cotton",
            "cotton and modal blend",
            "recycled polyester mesh",
        ),
        features=(
            "A taped neckline stays flat.",
            "Side-seamless knitting avoids twisting.",
            "The fabric is pre-shrunk, so the fit stays true.",
            "It dries quickly after a workout.",
        ),
        uses=("everyday wear", "layering", "summer days", "training sessions"),
        price_range=(15, 45),
        palette=COLORS,
    ),
    "jeans": CategoryStyle(
        kinds=(
            "Slim Jeans",
            "Straight Jeans",
            "Relaxed Jeans",
            "Tapered Jeans",
            "Bootcut Jeans",
            "Skinny Jeans",
        ),
        materials=("rigid selvedge denim", "stretch denim", "organic cotton denim", "recycled cotton denim"),
        features=(
            "A mid rise sits comfortably at the waist.",
            "Rivets reinforce the pockets.",
            "The denim softens with every wear.",
            "A hint of stretch keeps its shape all day.",
        ),
        uses=("everyday wear", "weekends", "smart-casual offices"),
        price_range=(45, 140),
        palette=("blue", "navy", "black", "grey", "white", "beige"),
    ),
    "dresses": CategoryStyle(
        kinds=("Wrap Dress", "Midi Dress", "Shirt Dress", "Slip Dress", "Maxi Dress", "Knit Dress"),
        materials=(
            "viscose crepe",
            "linen and cotton",
            "recycled satin",
            "fine merino knit",
            "cotton poplin",
        ),
        features=(
            "Hidden side pockets are deep enough for a phone.",
            "A tie waist adjusts the fit.",
            "The fabric drapes without clinging.",
            "A fully lined skirt is never see-through.",
        ),
        uses=("summer evenings", "the office", "weddings", "weekend brunches"),
        price_range=(40, 180),
        palette=("black", "navy", "red", "green", "beige", "pink", "white", "yellow", "purple", "blue"),
    ),
    "sweaters": CategoryStyle(
        kinds=("Crew Neck Sweater", "Cable Knit Sweater", "Roll Neck Sweater", "Cardigan", "V-Neck Sweater"),
        materials=(
            "lambswool",
            "merino wool",
            "cotton and cashmere",
            "recycled wool blend",
            "chunky alpaca blend",
        ),
        features=(
            "Fully fashioned shoulders keep the shape.",
            "It is soft enough to wear next to skin.",
            "Ribbed trims stop cuffs from stretching out.",
            "The yarn resists pilling.",
        ),
        uses=("cold days", "layering over shirts", "cosy evenings", "winter travel"),
        price_range=(45, 160),
        palette=("grey", "navy", "beige", "black", "green", "brown", "red", "white", "blue"),
    ),
    "bags": CategoryStyle(
        kinds=("Backpack", "Tote Bag", "Crossbody Bag", "Duffel Bag", "Messenger Bag", "Belt Bag"),
        materials=("waxed canvas", "recycled polyester", "vegetable-tanned leather", "water-repellent nylon"),
        features=(
            "A padded sleeve fits a 15-inch laptop.",
            "The zip pocket on the back hides a passport.",
            "Adjustable straps spread the load.",
            "A wipe-clean lining makes spills easy.",
        ),
        uses=("commuting", "weekend trips", "the gym", "grocery runs"),
        price_range=(30, 190),
        palette=("black", "brown", "navy", "grey", "beige", "green", "red"),
    ),
    "hats": CategoryStyle(
        kinds=("Beanie", "Baseball Cap", "Bucket Hat", "Wool Fedora", "Trucker Cap", "Sun Hat"),
        materials=("ribbed merino", "cotton twill", "recycled polyester", "felted wool", "straw weave"),
        features=(
            "It keeps its shape after a day squashed in a pocket.",
            "A soft inner band stops itching.",
            "It is light enough to forget you are wearing it.",
            "A breathable band wicks sweat.",
        ),
        uses=("winter walks", "sunny afternoons", "festivals", "morning runs"),
        price_range=(15, 70),
        palette=("black", "navy", "grey", "beige", "green", "red", "brown", "white", "orange"),
    ),
    "socks": CategoryStyle(
        kinds=("Crew Socks", "Ankle Socks", "Hiking Socks", "Wool Socks", "Running Socks", "Dress Socks"),
        materials=("combed cotton", "merino wool blend", "bamboo viscose", "recycled nylon"),
        features=(
            "A cushioned sole softens every step.",
            "Arch support keeps them from slipping.",
            "Flat toe seams prevent rubbing.",
            "Reinforced heels last longer.",
        ),
        uses=("everyday wear", "long hikes", "running", "the office"),
        price_range=(8, 28),
        palette=COLORS,
    ),
}

MODEL_NAMES: tuple[str, ...] = (
    "Ridgeline",
    "Harbor",
    "Cascade",
    "Summit",
    "Meadow",
    "Drift",
    "Ember",
    "Aspen",
    "Breeze",
    "Canyon",
    "Juniper",
    "Tidal",
    "Orbit",
    "Fjord",
    "Granite",
    "Willow",
    "Coastal",
    "Prairie",
    "Nimbus",
    "Alder",
    "Birch",
    "Cobalt",
    "Dune",
    "Glacier",
    "Hollow",
    "Ivy",
    "Lagoon",
    "Maple",
    "Nova",
    "Onyx",
    "Pebble",
    "Quarry",
    "Sierra",
    "Timber",
    "Vale",
    "Wren",
    "Zephyr",
    "Falcon",
    "Harrow",
    "Larkspur",
)
ADJECTIVES: tuple[str, ...] = (
    "Classic",
    "Everyday",
    "Lightweight",
    "Heritage",
    "Essential",
    "Weekend",
    "Urban",
    "Trail",
    "Studio",
    "Coastline",
    "Alpine",
)
_DESCRIPTION_OPENERS = (
    "{kind_lower} in {material}, made for {use}.",
    "{adjective_article} {adjective} take on {the_kind}, cut from {material} for {use}.",
    "Our {kind_lower} in {material} {verb} built for {use}.",
)

#: Hand-written first product of each category: (name, material, price, colours). Demo orders use them.
SIGNATURE_PRODUCTS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "shoes": ("Stride Runner Sneakers", "mesh and recycled rubber", "89.99", ("white", "black", "grey")),
    "jackets": ("Ridgeline Rain Jacket", "waterproof polyester", "129.00", ("navy", "black", "yellow")),
    "hoodies": ("Cloudline Pullover Hoodie", "brushed cotton fleece", "59.99", ("grey", "black", "navy")),
    "t-shirts": ("Essential Crew Neck T-Shirt", "organic cotton jersey", "19.99", ("white", "black", "blue")),
    "jeans": ("Harbor Slim Jeans", "stretch denim", "79.00", ("blue", "black")),
    "dresses": ("Meadow Wrap Dress", "viscose crepe", "89.00", ("green", "navy", "red")),
    "sweaters": ("Aspen Cable Knit Sweater", "lambswool", "99.00", ("beige", "grey", "navy")),
    "bags": ("Commuter Canvas Backpack", "waxed canvas", "84.50", ("brown", "black", "green")),
    "hats": ("Summit Merino Beanie", "ribbed merino", "24.99", ("black", "grey", "red")),
    "socks": ("Trailhead Hiking Socks", "merino wool blend", "14.99", ("grey", "green", "navy")),
}


@dataclass(frozen=True)
class CatalogProduct:
    """A product of the seed catalog with its variants as ``(color, size, stock)``."""

    sku: str
    name: str
    category: str
    brand: str
    description: str
    material: str
    price: str
    variants: tuple[tuple[str, str, int], ...]


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _is_plural(kind: str) -> bool:
    """Shoes, jeans and socks are sold in pairs and read as plurals ("Running Shoes are ...")."""
    return kind.endswith("s") and not kind.endswith("ss")


def _stock(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.15:
        return 0
    if roll < 0.30:
        return rng.randint(1, 3)
    return rng.randint(4, 40)


def _sizes(rng: random.Random, category: str, full: bool) -> tuple[str, ...]:
    sizes = CATEGORY_SIZES[category]
    if full or len(sizes) == 1:
        return sizes
    start = rng.randint(0, min(2, len(sizes) - 4))
    end = len(sizes) - rng.randint(0, 1)
    return sizes[start:end]


def _description(rng: random.Random, style: CategoryStyle, kind: str, material: str) -> str:
    adjective = rng.choice(ADJECTIVES).lower()
    plural = _is_plural(kind)
    opener = rng.choice(_DESCRIPTION_OPENERS).format(
        kind_lower=kind.lower(),
        the_kind=kind.lower() if plural else f"the {kind.lower()}",
        adjective_article=_article(adjective).capitalize(),
        adjective=adjective,
        verb="are" if plural else "is",
        material=material,
        use=rng.choice(style.uses),
    )
    features = rng.sample(style.features, 2)
    return " ".join([opener[0].upper() + opener[1:], *features])


def build_catalog(seed: int = CATALOG_SEED) -> list[CatalogProduct]:
    """Build the full catalog; the same ``seed`` always yields exactly the same products and stock."""
    rng = random.Random(seed)
    products: list[CatalogProduct] = []
    used_names: set[str] = set()
    for category in CATEGORIES:
        style = STYLES[category]
        brands = rng.sample(BRANDS, 6)
        for index in range(1, PRODUCTS_PER_CATEGORY + 1):
            signature = index == 1
            if signature:
                name, material, price, colors = SIGNATURE_PRODUCTS[category]
                kind = style.kinds[0]
            else:
                while True:
                    kind = rng.choice(style.kinds)
                    prefix = rng.choice(MODEL_NAMES)
                    name = (
                        f"{prefix} {kind}"
                        if rng.random() < 0.6
                        else f"{prefix} {rng.choice(ADJECTIVES)} {kind}"
                    )
                    if name not in used_names:
                        break
                material = rng.choice(style.materials)
                low, high = style.price_range
                price = f"{rng.randint(low, high)}.{rng.choice(('99', '00', '50', '95'))}"
                colors = tuple(rng.sample(style.palette, rng.randint(1, 4)))
            used_names.add(name)
            sizes = _sizes(rng, category, full=signature)
            sold_out = not signature and rng.random() < 0.04  # a few products are sold out entirely
            variants = tuple(
                (color, size, 0 if sold_out else (rng.randint(5, 30) if signature else _stock(rng)))
                for color in colors
                for size in sizes
            )
            products.append(
                CatalogProduct(
                    sku=f"{SKU_PREFIX[category]}-{index:04d}",
                    name=name,
                    category=category,
                    brand=brands[0] if signature else rng.choice(brands),
                    description=_description(rng, style, kind, material),
                    material=material,
                    price=price,
                    variants=variants,
                )
            )
    return products
