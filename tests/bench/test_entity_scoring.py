"""Scoring rules of the held-out entity bench (bench/entities/heldout.py)."""

from __future__ import annotations

from pathlib import Path

from bench.entities.heldout import Entity, canonical, score, select, shipped_entity_pipeline

REPO = Path(__file__).resolve().parents[2]


def test_canonical_compares_prices_as_numbers_and_text_case_insensitively() -> None:
    assert canonical("price", "80") == canonical("price", 80.0) == "80"
    assert canonical("price", "45.50") == "45.5"
    assert canonical("brand", "  Atlas   Supply ") == "atlas supply"
    assert canonical("size", "XL") == "xl"


def test_select_keeps_contract_entities_of_the_named_extractors_once_per_span() -> None:
    raw = [
        {"entity": "color", "start": 0, "end": 3, "value": "Red", "extractor": "DIETClassifier"},
        {"entity": "color", "start": 0, "end": 3, "value": "red", "extractor": "RegexEntityExtractor"},
        {"entity": "material", "start": 4, "end": 9, "value": "suede", "extractor": "DIETClassifier"},
        {"entity": "price", "start": 10, "end": 12, "value": "80", "role": "max",
         "extractor": "RegexEntityExtractor"},
    ]
    assert select(raw, ("DIETClassifier",)) == [Entity("color", 0, 3, "red", None)]
    both = select(raw)
    assert both == [Entity("color", 0, 3, "red", None), Entity("price", 10, 12, "80", "max")]


def test_value_level_needs_value_and_price_role_span_level_does_not() -> None:
    gold = [[Entity("price", 6, 8, "80", "max"), Entity("color", 0, 3, "red", None)]]
    predicted = [[Entity("price", 6, 8, "80", None), Entity("color", 0, 3, "blue", None),
                  Entity("size", 9, 11, "xl", None)]]
    value = score(gold, predicted, "value")
    span = score(gold, predicted, "span")
    assert (value["micro"].tp, value["micro"].fp, value["micro"].fn) == (0, 3, 2)
    assert (span["micro"].tp, span["micro"].fp, span["micro"].fn) == (2, 1, 0)
    assert span["size"].precision == 0.0 and span["price"].f1 == 1.0
    assert round(span["micro"].f1, 3) == 0.8


def test_shipped_pipeline_keeps_the_entity_components_of_config_yml() -> None:
    steps = shipped_entity_pipeline(REPO / "config.yml", "sqlite:///x.db")
    names = [step["name"].split(".")[-1] for step in steps]
    assert "CatalogEntityExtractor" in names and "EntitySynonymMapper" in names
    assert not any("Intent" in n or n == "FallbackClassifier" for n in names)
    catalog = next(s for s in steps if s["name"].endswith("CatalogEntityExtractor"))
    assert catalog["db_url"] == "sqlite:///x.db" and "entity_types" in catalog
