"""The held-out entity set is usable as a benchmark: it parses, is big enough, its offsets are right,
its values are canonical and none of its sentences is training data."""

from __future__ import annotations

import re
from pathlib import Path
from typing import List, Tuple

import pytest
import yaml

from bench.entities.heldout import CONTRACT_ENTITIES, Example, load_examples
from shop.seed_catalog import build_catalog
from shop.vocabulary import BRANDS, CATEGORIES, CATEGORY_SIZES, COLORS

REPO = Path(__file__).resolve().parents[2]
HELDOUT = REPO / "bench" / "entities" / "heldout.yml"
# "[text](type)" or "[text]{json}": the annotated text is group 1.
MARKUP = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


@pytest.fixture(scope="module")
def examples() -> List[Example]:
    return load_examples(HELDOUT)


def _raw_lines() -> List[str]:
    """The example lines exactly as written in the file (markup included)."""
    lines = []
    for block in yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))["nlu"]:
        lines += [line[2:].strip() for line in block["examples"].splitlines() if line.startswith("- ")]
    return lines


def _strip_markup(line: str) -> Tuple[str, List[Tuple[int, int, str]]]:
    """Plain text and (start, end, text) of every annotation, computed here independently of Rasa."""
    plain, spans, last = "", [], 0
    for match in MARKUP.finditer(line):
        plain += line[last:match.start()]
        spans.append((len(plain), len(plain) + len(match.group(1)), match.group(1)))
        plain += match.group(1)
        last = match.end()
    return plain + line[last:], spans


def _normalised(text: str) -> str:
    return " ".join(text.lower().split())


def test_heldout_set_parses_and_is_big_enough(examples: List[Example]) -> None:
    assert len(examples) >= 150
    assert sum(len(e.entities) for e in examples) >= 250
    assert all(e.text and "[" not in e.text and "](" not in e.text for e in examples)
    # both kinds of messages are present: with entities and negatives that must yield none
    assert sum(1 for e in examples if not e.entities) >= 20


def test_offsets_match_the_marked_text(examples: List[Example]) -> None:
    raw = _raw_lines()
    assert len(raw) == len(examples)
    for line, example in zip(raw, examples, strict=True):
        plain, spans = _strip_markup(line)
        assert plain == example.text
        got = sorted((e.start, e.end, example.text[e.start:e.end]) for e in example.entities)
        assert got == sorted(spans), line


def test_values_are_canonical(examples: List[Example]) -> None:
    products = {p.name.lower() for p in build_catalog()}
    sizes = {s.lower() for sizes in CATEGORY_SIZES.values() for s in sizes}
    allowed = {
        "category": set(CATEGORIES), "color": set(COLORS), "brand": {b.lower() for b in BRANDS},
        "size": sizes, "product": products,
    }
    for example in examples:
        for entity in example.entities:
            assert entity.entity in CONTRACT_ENTITIES
            if entity.entity in allowed:
                assert entity.value in allowed[entity.entity], (example.text, entity)
            elif entity.entity == "order_id":
                assert re.fullmatch(r"sa-\d{6}", entity.value), (example.text, entity)
            elif entity.entity == "price":
                assert float(entity.value) > 0 and entity.role in (None, "min", "max")


def test_no_heldout_sentence_is_in_the_training_data(examples: List[Example]) -> None:
    from rasa.shared.nlu.training_data.loading import load_data

    training = {_normalised(m.get("text")) for m in load_data(str(REPO / "data" / "nlu")).training_examples}
    leaked = [e.text for e in examples if _normalised(e.text) in training]
    assert not leaked, f"held-out sentences found in data/nlu: {leaked}"
