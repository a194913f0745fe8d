"""Hold-out evaluation of TransformerIntentEmotionClassifier on Rasa NLU data.

Trains the component through Rasa's graph APIs (create → train → persist → load) on a stratified split of
the NLU examples and prints training time, intent / emotion accuracy and macro F1 on the held-out part,
and single-message latency::

    python -m bench.nlu.holdout_eval --nlu data/nlu --holdout 0.2 --set epochs=8

``--set key=value`` overrides a config key of the component (values are parsed as YAML); ``--json`` writes
the figures to a file. ``--quantization none,dynamic_int8`` trains once and scores the same trained weights
loaded with each inference setting (figures per setting under ``variants``).

Emotion figures are given twice: over all held-out examples (unlabelled ones count
as the component's ``default_emotion``) and over the explicitly labelled ones only. Accuracy, macro-F1 and
the latency p50 are those of the NLU benchmark (:mod:`bench.nlu.metrics`); the split is the component's own
stratified split (the one its validation split uses), holding out at least one example of every intent
that has two or more.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, METADATA, METADATA_EXAMPLE, TEXT
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bench.nlu.metrics import accuracy, macro_f1, percentiles_ms
from components.classifiers.transformer_intent_emotion import (
    DEFAULT_EMOTION,
    EMOTION,
    TransformerIntentEmotionClassifier,
    stratified_split,
)


def stratified_holdout(
    examples: Sequence[Message], fraction: float, seed: int
) -> Tuple[List[Message], List[Message]]:
    """Holds out ``fraction`` of every intent's examples (at least one when an intent has two or more)."""
    return stratified_split(examples, fraction, random.Random(seed), lambda example: example.get(INTENT),
                            at_least_one=True)


def _gold_emotion(message: Message) -> Optional[str]:
    example = (message.get(METADATA) or {}).get(METADATA_EXAMPLE) or {}
    value = example.get(EMOTION) if isinstance(example, dict) else None
    return str(value).strip().lower() if value else None


def calibration(gold: Sequence[str], top: Sequence[str], confidences: Sequence[float],
                threshold: float = 0.4, bins: int = 10) -> Dict[str, float]:
    """Expected calibration error of the top intent (``bins`` equal-width bins) and what a
    FallbackClassifier at ``threshold`` would do: share of messages sent to fallback, and the accuracy of
    the ones it lets through."""
    total = max(len(gold), 1)
    ece = 0.0
    for low in range(bins):
        members = [i for i, c in enumerate(confidences)
                   if low / bins < c <= (low + 1) / bins or (low == 0 and c == 0.0)]
        if members:
            accuracy_bin = sum(1 for i in members if gold[i] == top[i]) / len(members)
            confidence_bin = sum(confidences[i] for i in members) / len(members)
            ece += len(members) / total * abs(accuracy_bin - confidence_bin)
    kept = [i for i, c in enumerate(confidences) if c >= threshold]
    return {
        "ece": round(ece, 4),
        "mean_confidence": round(statistics.fmean(confidences), 4) if confidences else 0.0,
        f"fallback_rate_at_{threshold}": round(1 - len(kept) / total, 4),
        f"accuracy_above_{threshold}": round(
            sum(1 for i in kept if gold[i] == top[i]) / max(len(kept), 1), 4),
    }


def evaluate(nlu_path: str, holdout: float, seed: int, overrides: Dict[str, Any],
             quantization: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Trains on the split, loads from storage and scores the held-out examples.

    With ``quantization`` (e.g. ``["none", "dynamic_int8"]``) the trained model is loaded once per
    setting and each is scored on the same split; the top-level figures are the first setting's."""
    data = load_data(nlu_path)
    examples = [example for example in data.intent_examples if (example.get(TEXT) or "").strip()]
    train, test = stratified_holdout(examples, holdout, seed)
    config = {**TransformerIntentEmotionClassifier.get_default_config(), **overrides}
    settings = list(quantization or [config["quantization"]])

    with tempfile.TemporaryDirectory() as storage_dir:
        storage = LocalModelStorage(Path(storage_dir))
        resource = Resource("transformer_intent_emotion")
        context = ExecutionContext(GraphSchema({}), node_name="transformer_intent_emotion")
        started = time.perf_counter()
        trainer = TransformerIntentEmotionClassifier.create(config, storage, resource, context)
        trainer.train(TrainingData(training_examples=train))
        train_seconds = time.perf_counter() - started
        del trainer
        components = {
            setting: TransformerIntentEmotionClassifier.load(
                {**config, "quantization": setting}, storage, resource, context)
            for setting in settings
        }

    variants = {setting: score(component, test, config) for setting, component in components.items()}
    first = variants[settings[0]]
    figures = {
        "nlu": nlu_path,
        "train_examples": len(train),
        "test_examples": len(test),
        "intents": len({example.get(INTENT) for example in examples}),
        "train_seconds": round(train_seconds, 1),
        "training_summary": components[settings[0]].training_summary,
        **first,
        "config_overrides": overrides,
    }
    if len(settings) > 1:
        figures["variants"] = variants
        predicted = {s: v.pop("_predicted_intents") for s, v in variants.items()}
        base = predicted[settings[0]]
        figures["agreement_with_first"] = {
            s: round(sum(1 for a, b in zip(base, p, strict=True) if a == b) / max(len(base), 1), 4)
            for s, p in predicted.items()
        }
    figures.pop("_predicted_intents", None)
    return figures


def score(component: TransformerIntentEmotionClassifier, test: Sequence[Message],
          config: Dict[str, Any]) -> Dict[str, Any]:
    """Intent / emotion figures, calibration and latency of one loaded component on the test split."""
    started = time.perf_counter()
    predicted = component.process([Message(data={TEXT: example.get(TEXT)}) for example in test])
    batch_seconds = time.perf_counter() - started
    latencies = []  # seconds
    for example in test[:100]:
        started = time.perf_counter()
        component.process([Message(data={TEXT: example.get(TEXT)})])
        latencies.append(time.perf_counter() - started)

    gold_intents = [example.get(INTENT) for example in test]
    predicted_intents = [message.get(INTENT)["name"] for message in predicted]
    default_emotion = config[DEFAULT_EMOTION]
    gold_emotions = [_gold_emotion(example) or default_emotion for example in test]
    predicted_emotions = [message.get(EMOTION)["name"] for message in predicted]
    labelled = [index for index, example in enumerate(test) if _gold_emotion(example)]
    confidences = [message.get(INTENT)["confidence"] for message in predicted]
    return {
        "quantized": component.quantized,
        "intent_accuracy": round(accuracy(gold_intents, predicted_intents), 4),
        "intent_macro_f1": round(macro_f1(gold_intents, predicted_intents), 4),
        "emotion_accuracy_all": round(accuracy(gold_emotions, predicted_emotions), 4),
        "emotion_macro_f1_all": round(macro_f1(gold_emotions, predicted_emotions), 4),
        "emotion_labelled_test_examples": len(labelled),
        "emotion_accuracy_labelled": round(
            accuracy([gold_emotions[i] for i in labelled], [predicted_emotions[i] for i in labelled]), 4
        ),
        "emotion_macro_f1_labelled": round(
            macro_f1([gold_emotions[i] for i in labelled], [predicted_emotions[i] for i in labelled]), 4
        ),
        "emotion_test_distribution": dict(Counter(gold_emotions)),
        "batch_ms_per_message": round(batch_seconds * 1000 / max(len(test), 1), 2),
        "single_message_latency_ms_p50": percentiles_ms(latencies)["p50_ms"] if latencies else None,
        "device": str(component.device),
        **calibration(gold_intents, predicted_intents, confidences),
        "_predicted_intents": predicted_intents,
    }


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nlu", default="data/nlu", help="NLU file or directory")
    parser.add_argument("--holdout", type=float, default=0.2, help="held-out fraction per intent")
    parser.add_argument("--seed", type=int, default=42, help="seed of the split")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="component config override (YAML value), repeatable")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--quantization", default=None, metavar="A,B",
                        help="comma-separated inference settings (none, dynamic_int8) to score from one "
                             "training, e.g. none,dynamic_int8")
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key.strip()] = yaml.safe_load(value)
    quantization = [s.strip() for s in (args.quantization or "").split(",") if s.strip()] or None
    figures = evaluate(args.nlu, args.holdout, args.seed, overrides, quantization)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
