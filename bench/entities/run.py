"""Entity benchmark: DIET versus the catalog extractor on the team set and on the held-out set.

    .venv/bin/python bench/entities/run.py [--set both|team|heldout] [--nlu data/nlu] [--work-dir DIR]
                                           [--reuse-diet] [--json results/bench/entities_heldout.json]

``--set heldout`` (bench/entities/heldout.py, bench/entities/heldout.yml) is the honest figure: a set
written independently of the extractor, scoring the shipped pipeline's entities against DIET's. ``--set
team`` is the original comparison below on bench/entities/test_set.yml, written alongside the extractor
(optimistic). ``both`` (the default) runs both and shares one DIET training through the Rasa cache.

One readable path: seed a throw-away shop database (so the catalog is the seed catalog, whatever the
local database holds) -> train (a) Rasa's DIET pipeline of config.yml on data/nlu and (b) the same
pipeline with CatalogEntityExtractor added, on the same data -> parse every test message -> print
precision/recall/F1 per entity type and micro-F1 for each, plus the catalog extractor on its own.

Scoring: an entity counts when type, character span and value (case-insensitive) all equal the
annotation ("strict"); the "span" columns ignore the value. Only the contract's entity types are scored,
and a prediction repeated by two extractors at the same span counts once. Both trainings share one
Rasa cache folder, so the DIET of (b) is the cached DIET of (a): the run takes about one DIET training.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

CONTRACT_ENTITIES = ("product", "category", "brand", "color", "size", "price", "order_id", "email")
EXTRACTOR = "components.extractors.catalog_entity_extractor.CatalogEntityExtractor"


@dataclass
class Arguments:
    nlu: str = str(REPO / "data" / "nlu")
    test_set: str = str(REPO / "bench" / "entities" / "test_set.yml")
    config: str = str(REPO / "config.yml")
    work_dir: Optional[str] = None  # default: a temporary folder
    epochs: Optional[int] = None  # default: DIETClassifier epochs of config.yml (else 60)
    seed: int = 42
    set: str = "both"  # team, heldout or both
    heldout: str = str(REPO / "bench" / "entities" / "heldout.yml")
    json: str = str(REPO / "results" / "bench" / "entities_heldout.json")
    reuse_diet: bool = False  # heldout only: load <work-dir>/models/diet.tar.gz instead of training DIET


def parse_args() -> Arguments:
    defaults = Arguments()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, value in vars(defaults).items():
        flag = f"--{name.replace('_', '-')}"
        if isinstance(value, bool):
            parser.add_argument(flag, action="store_true")
        elif name == "set":
            parser.add_argument(flag, choices=("both", "team", "heldout"), default=value)
        else:
            parser.add_argument(flag, type=int if name in ("epochs", "seed") else str, default=value)
    return Arguments(**vars(parser.parse_args()))


def diet_epochs(config_path: str) -> int:
    config = yaml.safe_load(Path(config_path).read_text())
    for component in config.get("pipeline") or []:
        if component.get("name") == "DIETClassifier" and component.get("epochs"):
            return int(component["epochs"])
    return 60


def pipeline(epochs: int, seed: int, catalog: Optional[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Rasa's default-like DIET pipeline (as config.yml had it), optionally with our extractor added."""
    steps: List[Dict[str, Any]] = [
        {"name": "WhitespaceTokenizer"},
        {"name": "RegexFeaturizer"},
        {"name": "LexicalSyntacticFeaturizer"},
        {"name": "CountVectorsFeaturizer"},
        {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
        {"name": "DIETClassifier", "epochs": epochs, "constrain_similarities": True, "random_seed": seed},
        {"name": "RegexEntityExtractor", "use_lookup_tables": True, "use_regexes": True},
    ]
    if catalog is not None:
        steps.append({"name": EXTRACTOR, **catalog})
    steps.append({"name": "EntitySynonymMapper"})
    return steps


def train(name: str, steps: List[Dict[str, Any]], nlu: str, work: Path) -> str:
    from rasa.model_training import train_nlu

    config_path = work / f"config_{name}.yml"
    config = {"recipe": "default.v1", "language": "en", "assistant_id": f"bench_{name}", "pipeline": steps}
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    started = time.perf_counter()
    model = train_nlu(str(config_path), nlu, str(work / "models"), fixed_model_name=name)
    print(f"trained {name} in {time.perf_counter() - started:.0f} s", flush=True)
    if not model:
        raise RuntimeError(f"training {name} failed")
    return model


Entity = Tuple[str, int, int, str]


def gold_entities(test_set: str) -> List[Tuple[str, List[Entity]]]:
    from rasa.shared.nlu.training_data.loading import load_data

    examples = []
    for message in load_data(test_set).training_examples:
        entities = [
            (e["entity"], e["start"], e["end"], str(e["value"]).lower())
            for e in message.get("entities") or []
            if e["entity"] in CONTRACT_ENTITIES
        ]
        examples.append((message.get("text"), entities))
    return examples


def _dedupe(entities: List[Dict[str, Any]]) -> List[Entity]:
    seen: Dict[Tuple[str, int, int], Entity] = {}
    for e in entities:
        if e.get("entity") in CONTRACT_ENTITIES and isinstance(e.get("start"), int):
            key = (e["entity"], e["start"], e["end"])
            seen.setdefault(key, (*key, str(e.get("value")).lower()))
    return list(seen.values())


def predict_with_model(model: str, texts: List[str]) -> List[List[Entity]]:
    from rasa.core.agent import Agent

    agent = Agent.load(model)

    async def parse_all() -> List[List[Entity]]:
        return [_dedupe((await agent.parse_message(text))["entities"]) for text in texts]

    return asyncio.run(parse_all())


def predict_with_matcher(db_url: str, texts: List[str]) -> List[List[Entity]]:
    from components.extractors.catalog_matcher import CatalogMatcher, compile_vocabulary
    from shop.catalog_terms import catalog_terms

    matcher = CatalogMatcher(compile_vocabulary(catalog_terms(db_url)))
    return [_dedupe(matcher.extract(text)) for text in texts]


def score(gold: List[List[Entity]], predicted: List[List[Entity]], strict: bool) -> Dict[str, Tuple]:
    counts: Dict[str, List[int]] = defaultdict(lambda: [0, 0, 0])  # tp, fp, fn
    for gold_list, pred_list in zip(gold, predicted, strict=True):
        keyed_gold = {g if strict else g[:3] for g in gold_list}
        keyed_pred = {p if strict else p[:3] for p in pred_list}
        for item in keyed_pred:
            counts[item[0]][0 if item in keyed_gold else 1] += 1
        for item in keyed_gold - keyed_pred:
            counts[item[0]][2] += 1
    totals = [sum(c[i] for c in counts.values()) for i in range(3)]
    result = {name: _prf(*counts[name]) for name in CONTRACT_ENTITIES}
    result["micro"] = _prf(*totals)
    return result


def _prf(tp: int, fp: int, fn: int) -> Tuple[float, float, float, int]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, tp + fn


def _cell(values: Tuple) -> str:
    return "{:.2f}  {:.2f}  {:.2f}".format(*values[:3])


def print_table(results: Dict[str, Dict[str, Tuple]], title: str) -> None:
    names = list(results)
    print(f"\n{title}")
    header = f"{'entity':<10} {'n':>4} " + " ".join(f"{n[:24]:>24}" for n in names)
    print(header)
    print(" " * 16 + " ".join(f"{'P     R     F1':>24}" for _ in names))
    for entity in (*CONTRACT_ENTITIES, "micro"):
        support = results[names[0]][entity][3]
        cells = " ".join(f"{_cell(results[n][entity]):>24}" for n in names)
        print(f"{entity:<10} {support:>4} {cells}")


def quiet_structlog() -> None:
    """Rasa's structlog events (a debug line per parsed message) would bury the tables; keep warnings."""
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def main() -> int:
    args = parse_args()
    logging.basicConfig(level=logging.WARNING)
    quiet_structlog()
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="bench_entities_"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["RASA_CACHE_DIRECTORY"] = str(work / "cache")  # (b) reuses the DIET trained for (a)

    from shop.db import dispose_engine
    from shop.seed import seed_database

    db_url = f"sqlite:///{work / 'shop.db'}"
    seed_database(db_url)
    epochs = args.epochs or diet_epochs(args.config)
    diet_model = None
    if args.set in ("team", "both"):
        diet_model = run_team_set(args, work, db_url, epochs)
    if args.set in ("heldout", "both"):
        from bench.entities.heldout import run_heldout

        run_heldout(args.heldout, args.nlu, args.config, work, db_url, epochs, args.seed,
                    diet_model or (args.reuse_diet and str(work / "models" / "diet.tar.gz")) or None,
                    Path(args.json) if args.json else None)
    dispose_engine(db_url)
    print(f"work folder: {work}")
    return 0


def run_team_set(args: Arguments, work: Path, db_url: str, epochs: int) -> str:
    """The original comparison on the team-written set: DIET, DIET + catalog (two merge modes), catalog.
    Returns the path of the DIET model (a), which the held-out comparison reuses."""
    examples = gold_entities(args.test_set)
    texts = [text for text, _ in examples]
    gold = [entities for _, entities in examples]
    print(f"test set: {len(texts)} messages, {sum(map(len, gold))} entities; DIET epochs: {epochs}")

    variants = {
        "(a) DIET": None,
        "(b) DIET+catalog": {"db_url": db_url},
        "(c) DIET+catalog,prefer": {"db_url": db_url, "on_overlap": "prefer_catalog"},
    }
    predictions: Dict[str, List[List[Entity]]] = {}
    models: Dict[str, str] = {}
    for label, catalog in variants.items():
        name = label.split()[0].strip("()")
        model = models[name] = train(name, pipeline(epochs, args.seed, catalog), args.nlu, work)
        started = time.perf_counter()
        predictions[label] = predict_with_model(model, texts)
        elapsed = time.perf_counter() - started
        print(f"parsed {len(texts)} messages with {label} in {elapsed:.1f} s", flush=True)
    predictions["catalog alone"] = predict_with_matcher(db_url, texts)

    strict = {label: score(gold, predicted, strict=True) for label, predicted in predictions.items()}
    spans = {label: score(gold, predicted, strict=False) for label, predicted in predictions.items()}
    print_table(strict, "STRICT (type + span + canonical value)")
    print_table(spans, "SPAN (type + span)")
    print("\nmicro-F1 strict: " + ", ".join(f"{k} {v['micro'][2]:.3f}" for k, v in strict.items()))
    return models["a"]


if __name__ == "__main__":
    raise SystemExit(main())
