"""Held-out entity benchmark: the shipped pipeline's entities versus DIET's, on bench/entities/heldout.yml.

    .venv/bin/python bench/entities/run.py --set heldout [--work-dir DIR] [--reuse-diet]

The held-out set was written independently of the catalog extractor (see its header for the annotation
rules), so its figure is the honest one; bench/entities/test_set.yml was written alongside the extractor.

Systems, all trained on the same data/nlu in this run against a freshly seeded shop database:
- ``shipped``: the entity part of config.yml's pipeline (tokenizer, CatalogEntityExtractor with its
  config, EntitySynonymMapper); intent classifiers are left out because no entity depends on them.
- ``DIET``: Rasa's DIET pipeline (as config.yml had it before the catalog extractor), entities from
  DIETClassifier only (after EntitySynonymMapper).
- ``DIET+regex``: the same model including its RegexEntityExtractor (lookup tables and regexes).

What counts (per message, each gold and each predicted entity at most once):
- ``span`` level: entity type and exact character span (start, end) equal the annotation.
- ``value`` level: span level, plus the canonical value equal (strings case- and whitespace-insensitive,
  prices as numbers, so "80" == "80.0"), plus for prices the role (``min``/``max``/none) equal.
Two predictions of one type at the same span count once (the first one returned by the pipeline).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

import yaml

CONTRACT_ENTITIES = ("product", "category", "brand", "color", "size", "price", "order_id", "email")
LEVELS = ("value", "span")
DIET_EXTRACTORS = ("DIETClassifier",)
DIET_REGEX_EXTRACTORS = ("DIETClassifier", "RegexEntityExtractor")
#: Component kinds of config.yml kept for the shipped entity pipeline (classifiers produce no entities).
_KEPT_KINDS = ("MESSAGE_TOKENIZER", "MESSAGE_FEATURIZER", "ENTITY_EXTRACTOR")
_CATALOG_EXTRACTOR = "CatalogEntityExtractor"


class Entity(NamedTuple):
    """One entity as the bench compares it; ``value`` is already canonical (see :func:`canonical`)."""

    entity: str
    start: int
    end: int
    value: str
    role: Optional[str]


@dataclass(frozen=True)
class Example:
    """A held-out message and its gold entities."""

    text: str
    entities: Tuple[Entity, ...]


def canonical(entity_type: str, value: Any) -> str:
    """The comparable form of a value: prices as plain numbers, everything else lower case, one space."""
    text = " ".join(str(value).strip().lower().split())
    if entity_type == "price":
        try:
            return f"{float(text.replace(',', '.')):g}"
        except ValueError:
            return text
    return text


def to_entity(raw: Dict[str, Any]) -> Optional[Entity]:
    """A Rasa entity dict as an :class:`Entity`; None for types outside the contract or without offsets."""
    if raw.get("entity") not in CONTRACT_ENTITIES:
        return None
    start, end = raw.get("start"), raw.get("end")
    if not isinstance(start, int) or not isinstance(end, int):
        return None
    role = raw.get("role") if raw.get("entity") == "price" else None
    return Entity(raw["entity"], start, end, canonical(raw["entity"], raw.get("value")), role or None)


def load_examples(path: str | Path) -> List[Example]:
    """Parse the Rasa-markup test file; offsets come from Rasa's own markup reader."""
    from rasa.shared.nlu.training_data.loading import load_data

    examples = []
    for message in load_data(str(path)).training_examples:
        found = (to_entity(e) for e in message.get("entities") or [])
        examples.append(Example(message.get("text"), tuple(e for e in found if e is not None)))
    return examples


def select(
    raw_entities: Iterable[Dict[str, Any]], extractors: Optional[Sequence[str]] = None
) -> List[Entity]:
    """The contract entities of the given extractors (None: all), one per (type, span)."""
    kept: Dict[Tuple[str, int, int], Entity] = {}
    for raw in raw_entities:
        if extractors is not None and raw.get("extractor") not in extractors:
            continue
        entity = to_entity(raw)
        if entity is not None:
            kept.setdefault((entity.entity, entity.start, entity.end), entity)
    return list(kept.values())


def _key(entity: Entity, level: str) -> tuple:
    return tuple(entity[:3]) if level == "span" else tuple(entity)


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> Dict[str, Any]:
        return {**asdict(self), "support": self.tp + self.fn, "precision": round(self.precision, 4),
                "recall": round(self.recall, 4), "f1": round(self.f1, 4)}


def score(
    gold: Sequence[Sequence[Entity]], predicted: Sequence[Sequence[Entity]], level: str
) -> Dict[str, Counts]:
    """Per entity type and ``micro`` true/false positives and false negatives at ``level``."""
    counts: Dict[str, Counts] = {name: Counts() for name in CONTRACT_ENTITIES}
    for gold_list, pred_list in zip(gold, predicted, strict=True):
        gold_keys = {_key(g, level) for g in gold_list}
        pred_keys = {_key(p, level) for p in pred_list}
        for key in pred_keys:
            if key in gold_keys:
                counts[key[0]].tp += 1
            else:
                counts[key[0]].fp += 1
        for key in gold_keys - pred_keys:
            counts[key[0]].fn += 1
    counts["micro"] = Counts(*(sum(getattr(c, f) for c in counts.values()) for f in ("tp", "fp", "fn")))
    return counts


def errors(examples: Sequence[Example], predicted: Sequence[Sequence[Entity]]) -> List[Dict[str, Any]]:
    """Value-level misses and false alarms per message, for reading what a system gets wrong."""
    found = []
    for example, pred_list in zip(examples, predicted, strict=True):
        gold_keys = set(example.entities)
        missed = [e for e in example.entities if e not in set(pred_list)]
        extra = [p for p in pred_list if p not in gold_keys]
        if missed or extra:
            found.append({
                "text": example.text,
                "missed": [_describe(example.text, e) for e in missed],
                "extra": [_describe(example.text, e) for e in extra],
            })
    return found


def _describe(text: str, entity: Entity) -> str:
    role = f"/{entity.role}" if entity.role else ""
    return f"{entity.entity}{role} '{text[entity.start:entity.end]}'={entity.value}"


def shipped_entity_pipeline(config_path: str | Path, db_url: str) -> List[Dict[str, Any]]:
    """The components of config.yml that produce entities (and what they need), pointed at ``db_url``."""
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe

    kept_kinds = {getattr(DefaultV1Recipe.ComponentType, kind) for kind in _KEPT_KINDS}
    steps = []
    for component in yaml.safe_load(Path(config_path).read_text())["pipeline"]:
        registered = DefaultV1Recipe._from_registry(component["name"])
        if not kept_kinds & set(registered.types):
            continue
        step = dict(component)
        if component["name"].split(".")[-1] == _CATALOG_EXTRACTOR:
            step["db_url"] = db_url
        steps.append(step)
    return steps


def train_model(name: str, steps: List[Dict[str, Any]], nlu: str, work: Path) -> Tuple[str, float]:
    """Train an NLU-only model into ``work/models/<name>.tar.gz``; returns its path and the seconds taken."""
    from rasa.model_training import train_nlu

    config_path = work / f"config_{name}.yml"
    config = {"recipe": "default.v1", "language": "en", "assistant_id": f"bench_{name}", "pipeline": steps}
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    started = time.perf_counter()
    model = train_nlu(str(config_path), nlu, str(work / "models"), fixed_model_name=name)
    if not model:
        raise RuntimeError(f"training {name} failed")
    return model, time.perf_counter() - started


def parse_texts(model: str, texts: Sequence[str]) -> Tuple[List[List[Dict[str, Any]]], float]:
    """Every text's raw entity dicts from the loaded model, and the seconds parsing took."""
    from rasa.core.agent import Agent

    agent = Agent.load(model)

    async def parse_all() -> List[List[Dict[str, Any]]]:
        return [(await agent.parse_message(text))["entities"] for text in texts]

    started = time.perf_counter()
    parsed = asyncio.run(parse_all())
    return parsed, time.perf_counter() - started


def format_table(results: Dict[str, Dict[str, Counts]], title: str) -> str:
    """A fixed-width table: one row per entity type plus micro, P/R/F1 per system."""
    names = list(results)
    lines = [title, f"{'entity':<10} {'n':>4} " + " ".join(f"{n[:20]:>20}" for n in names),
             " " * 16 + " ".join(f"{'P     R    F1':>20}" for _ in names)]
    for entity in (*CONTRACT_ENTITIES, "micro"):
        support = results[names[0]][entity].tp + results[names[0]][entity].fn
        cells = " ".join(
            f"{results[n][entity].precision:>6.2f}{results[n][entity].recall:>6.2f}{results[n][entity].f1:>6.2f}"
            .rjust(20) for n in names
        )
        lines.append(f"{entity:<10} {support:>4} {cells}")
    return "\n".join(lines)


def evaluate(examples: Sequence[Example], systems: Dict[str, List[List[Entity]]]) -> Dict[str, Any]:
    """Scores of every system at both levels, as the JSON report stores them."""
    gold = [list(e.entities) for e in examples]
    return {
        level: {name: score(gold, predicted, level) for name, predicted in systems.items()}
        for level in LEVELS
    }


def run_heldout(test_set: str, nlu: str, config: str, work: Path, db_url: str, epochs: int, seed: int,
                diet_model: Optional[str], json_out: Optional[Path]) -> Dict[str, Any]:
    """Train both models (DIET only when ``diet_model`` names no existing model), parse the held-out set,
    print the tables, write the JSON report."""
    from bench.entities.run import pipeline as diet_pipeline

    examples = load_examples(test_set)
    texts = [e.text for e in examples]
    print(f"held-out set: {len(examples)} messages, {sum(len(e.entities) for e in examples)} entities "
          f"({test_set})", flush=True)
    timings: Dict[str, float] = {}

    shipped_model, timings["train_shipped_s"] = train_model(
        "shipped", shipped_entity_pipeline(config, db_url), nlu, work)
    reused = bool(diet_model and Path(diet_model).exists())
    if reused:
        timings["train_diet_s"] = 0.0
        print(f"reusing the DIET model {diet_model} (trained on data/nlu as it was then)")
    else:
        diet_model, timings["train_diet_s"] = train_model(
            "diet", diet_pipeline(epochs, seed, None), nlu, work)
    print(f"trained: shipped {timings['train_shipped_s']:.0f} s, DIET {timings['train_diet_s']:.0f} s "
          f"({epochs} epochs)", flush=True)

    shipped_raw, timings["parse_shipped_s"] = parse_texts(shipped_model, texts)
    diet_raw, timings["parse_diet_s"] = parse_texts(diet_model, texts)
    systems = {
        "shipped": [select(r) for r in shipped_raw],
        "DIET": [select(r, DIET_EXTRACTORS) for r in diet_raw],
        "DIET+regex": [select(r, DIET_REGEX_EXTRACTORS) for r in diet_raw],
    }
    results = evaluate(examples, systems)
    print()
    print(format_table(results["value"], "VALUE level (type + span + canonical value + price role)"))
    print()
    print(format_table(results["span"], "SPAN level (type + span)"))
    print("\nmicro-F1 " + "; ".join(
        f"{level}: " + ", ".join(f"{n} {c['micro'].f1:.3f}" for n, c in results[level].items())
        for level in LEVELS))
    print(f"parse: shipped {timings['parse_shipped_s']:.1f} s, DIET {timings['parse_diet_s']:.1f} s "
          f"for {len(texts)} messages")

    report = {
        "test_set": str(test_set),
        "messages": len(examples),
        "entities": sum(len(e.entities) for e in examples),
        "diet_epochs": epochs,
        "diet_model_reused": diet_model if reused else None,
        "timings": {k: round(v, 2) for k, v in timings.items()},
        "scores": {level: {n: {t: c.as_dict() for t, c in counts.items()} for n, counts in by_system.items()}
                   for level, by_system in results.items()},
        "errors": {name: errors(examples, predicted) for name, predicted in systems.items()},
    }
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {json_out}")
    return report

