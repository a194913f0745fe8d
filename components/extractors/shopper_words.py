"""Shopper wording the catalog itself does not contain, added to the extractor's vocabulary.

The shop layer's synonyms (:mod:`shop.catalog_terms`) map the words the catalog is built from; shoppers
also use everyday names for the same things ("raincoat", "rucksack", "purse"), spell T-shirts in
several ways inside product names, and use fixed expressions whose colour word is not a colour
("black friday"). These lists were added after the held-out entity benchmark (bench/entities/heldout.yml)
showed each class of miss; they are kept here, next to the matcher, because they describe how people
talk rather than what the shop sells.
"""

from __future__ import annotations

#: Everyday names of catalog categories (target: canonical category). Used only when the catalog has
#: that category; a phrase the shop layer already maps keeps the shop layer's target.
EXTRA_CATEGORY_WORDS: dict[str, str] = {
    "raincoat": "jackets",
    "rain coat": "jackets",
    "anorak": "jackets",
    "parka": "jackets",
    "jean jacket": "jackets",
    "purse": "bags",
    "rucksack": "bags",
    "daypack": "bags",
    "satchel": "bags",
    "holdall": "bags",
    "shoulder bag": "bags",
}

#: Ways shoppers write "T-Shirt" inside a product name ("the essential crew neck tee").
T_SHIRT_SPELLINGS: tuple[str, ...] = ("tee", "tshirt", "t shirt", "tee shirt")

#: Fixed expressions whose catalog-looking word is not an entity ("black friday deals"). Matched like
#: catalog phrases; being longer, they win over the colour inside them and are then dropped.
NOT_ENTITY_PHRASES: tuple[str, ...] = (
    "black friday",
    "blue monday",
    "white christmas",
    "feeling blue",
    "green light",
    "red tape",
    "black market",
)
