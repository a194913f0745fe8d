"""Loaders for the third-party benchmark data (CLINC150, GoEmotions-Ekman).

The data is read at run time from ``../shared/bench-data/`` next to the repository (or from
``$SHOPASSIST_BENCH_DATA`` / an explicit folder) and never copied into the repository. A missing folder or
file raises `BenchDataMissing`, which the runner turns into a clean "skipped" line.
"""

from __future__ import annotations

import csv
import json
import os
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Union

REPO = Path(__file__).resolve().parents[2]
DATA_DIR_ENV = "SHOPASSIST_BENCH_DATA"
CLINC_FILE = Path("clinc150") / "data_full.json"
GOEMOTIONS_DIR = Path("goemotions_ekman")


class BenchDataMissing(FileNotFoundError):
    """The benchmark data (or one of its files) is not on this machine."""


@dataclass
class Split:
    """Parallel lists of texts and their labels."""

    texts: List[str] = field(default_factory=list)
    labels: List[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    def add(self, text: str, label: str) -> None:
        self.texts.append(text)
        self.labels.append(label)


@dataclass
class IntentData:
    """An intent data set: in-scope train/test splits plus out-of-scope test queries."""

    name: str
    train: Split
    test: Split
    oos_test: List[str]
    notes: List[str] = field(default_factory=list)

    @property
    def intents(self) -> List[str]:
        return sorted(set(self.train.labels))


@dataclass
class EmotionData:
    """A single-label emotion data set."""

    name: str
    labels: List[str]
    train: Split
    test: Split
    notes: List[str] = field(default_factory=list)


def default_data_dir() -> Path:
    """``$SHOPASSIST_BENCH_DATA`` when set, else ``<repo>/../shared/bench-data``."""
    return Path(os.environ.get(DATA_DIR_ENV) or REPO.parent / "shared" / "bench-data")


def _require(path: Path) -> Path:
    if not path.exists():
        raise BenchDataMissing(f"benchmark data not found: {path}")
    return path


def load_clinc150(
    data_dir: Union[str, Path, None] = None,
    shots: Optional[int] = None,
    max_intents: Optional[int] = None,
    max_test_per_intent: Optional[int] = None,
    max_oos: Optional[int] = None,
    seed: int = 42,
) -> IntentData:
    """CLINC150 (``data_full.json``): ``train`` → train, ``test`` → test, ``oos_test`` → out of scope.

    ``shots`` keeps the first N training rows of each intent in file order (the few-shot variant of the
    data README); ``max_intents`` keeps a seeded sample of intents (quick runs); ``max_test_per_intent``
    and ``max_oos`` cap the test sets (first rows in file order).
    """
    path = _require(Path(data_dir or default_data_dir()) / CLINC_FILE)
    raw = json.loads(path.read_text(encoding="utf-8"))
    intents = sorted({label for _, label in raw["train"]})
    if max_intents is not None and max_intents < len(intents):
        intents = sorted(random.Random(seed).sample(intents, max_intents))
    keep = set(intents)

    def take(rows: List[List[str]], cap: Optional[int]) -> Split:
        split, seen = Split(), Counter()
        for text, label in rows:
            if label in keep and (cap is None or seen[label] < cap):
                seen[label] += 1
                split.add(text, label)
        return split

    oos = [text for text, _ in raw["oos_test"]][:max_oos]
    name = f"CLINC150 {shots}-shot" if shots else "CLINC150 full"
    data = IntentData(name, take(raw["train"], shots), take(raw["test"], max_test_per_intent), oos)
    data.notes.append(
        f"{len(intents)} intents, {len(data.train)} train, {len(data.test)} in-scope test, "
        f"{len(oos)} out-of-scope test"
    )
    return data


def _read_goemotions_split(path: Path, id_to_label: Dict[int, str]) -> tuple[Split, int]:
    """Rows ``text<TAB>ids<TAB>id``; keeps rows with exactly one label id, returns (split, dropped)."""
    split, dropped = Split(), 0
    with _require(path).open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) < 2 or not row[0].strip():
                continue
            ids = [part for part in row[1].split(",") if part.strip()]
            if len(ids) != 1:
                dropped += 1
                continue
            split.add(row[0].strip(), id_to_label[int(ids[0])])
    return split, dropped


def _sample(split: Split, limit: Optional[int], seed: int) -> Split:
    if limit is None or limit >= len(split):
        return split
    by_label: Dict[str, List[int]] = defaultdict(list)
    for index, label in enumerate(split.labels):
        by_label[label].append(index)
    # stratified: every label keeps its share (at least one row)
    rng, chosen = random.Random(seed), []
    for label in sorted(by_label):
        rows = by_label[label]
        chosen.extend(rng.sample(rows, max(1, round(limit * len(rows) / len(split)))))
    chosen.sort()
    return Split([split.texts[i] for i in chosen], [split.labels[i] for i in chosen])


def load_goemotions_ekman(
    data_dir: Union[str, Path, None] = None,
    max_train: Optional[int] = None,
    max_test: Optional[int] = None,
    seed: int = 42,
) -> EmotionData:
    """GoEmotions grouped into Ekman's emotions (+ neutral), single-label rows only.

    GoEmotions is multi-label; rows with two or more label ids (~9 % of each split) are dropped so that
    every kept row has one gold emotion and macro-F1 is the usual single-label figure. ``max_train`` /
    ``max_test`` take a seeded, label-stratified sample (quick runs).
    """
    folder = _require(Path(data_dir or default_data_dir()) / GOEMOTIONS_DIR)
    lines = _require(folder / "labels.txt").read_text(encoding="utf-8").splitlines()
    labels = [line.strip() for line in lines if line.strip()]
    id_to_label = dict(enumerate(labels))
    train, dropped_train = _read_goemotions_split(folder / "train.tsv", id_to_label)
    test, dropped_test = _read_goemotions_split(folder / "test.tsv", id_to_label)
    train, test = _sample(train, max_train, seed), _sample(test, max_test, seed)
    data = EmotionData("GoEmotions-Ekman", labels, train, test)
    data.notes.append(
        f"single-label rows only: dropped {dropped_train} multi-label train rows and {dropped_test} test "
        f"rows; using {len(data.train)} train / {len(data.test)} test"
    )
    return data
