"""NLU benchmark: ShopAssist's transformer classifier against DIET and a MiniLM + LR baseline.

    python -m bench.nlu.run [--suite clinc10|clinc_full|goemotions|latency|all] [--quick]
                            [--out results/bench]

One path per suite: load the third-party data from ``../shared/bench-data/`` (skip with a message when
absent) → train every system in this run (DIET and the transformer through ``rasa train nlu``'s API, the
baseline with scikit-learn) → evaluate (``Agent.parse_message`` one message at a time for the Rasa
systems) → print one table with the issue's targets as PASS/FAIL → save JSON + a PNG bar chart in --out.

Systems: ``diet`` (WhitespaceTokenizer, CountVectorsFeaturizer word + char_wb 1-4, DIETClassifier with the
settings of config.yml, FallbackClassifier with config.yml's thresholds), ``minilm_lr`` (frozen mean-pooled
MiniLM embeddings of the shipped checkpoint + LogisticRegression, the same fallback rule applied to its
probabilities) and ``transformer`` (WhitespaceTokenizer, TransformerIntentEmotionClassifier with its
shipped defaults, the same FallbackClassifier). ``--quick`` subsamples (20 intents, capped test sets, one
training epoch) for a smoke test of a few minutes. Several suites: ``--suite clinc10,latency``; the
latency suite reuses the 10-shot models when it runs after clinc10.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")

import numpy as np  # noqa: E402
import yaml  # noqa: E402
from tqdm import tqdm  # noqa: E402

from bench.nlu.data import (  # noqa: E402
    BenchDataMissing,
    EmotionData,
    IntentData,
    default_data_dir,
    load_clinc150,
    load_goemotions_ekman,
)
from bench.nlu.metrics import Target, accuracy, format_table, intent_metrics, macro_f1  # noqa: E402
from bench.nlu.systems import (  # noqa: E402
    LogRegBaseline,
    RasaParser,
    TrainedModel,
    diet_pipeline,
    encode_minilm,
    quiet_rasa,
    reuse_trained,
    shipped_settings,
    top_intent,
    train_rasa,
    transformer_pipeline,
)

SUITES = ("clinc10", "clinc_full", "goemotions", "latency")
SYSTEMS = ("diet", "minilm_lr", "transformer")
logger = logging.getLogger("bench.nlu")

# Rough costs on the shared 2-core dev machine under load (measured in the 10-shot run), for the
# up-front estimate; an idle machine is faster.
COST = {"diet_s_per_example_epoch": 0.009, "transformer_s_per_example_epoch": 0.05,
        "embed_s_per_text": 0.005, "parse_s": {"diet": 0.02, "transformer": 0.035}, "overhead_s": 40}


@dataclass
class Arguments:
    suite: str = "all"  # clinc10, clinc_full, goemotions, latency, all, or a comma-separated list
    quick: bool = False  # subsample + one epoch: a smoke test of a few minutes
    out: str = "results/bench"  # JSON + PNG go here
    data_dir: Optional[str] = None  # default: ../shared/bench-data next to the repository
    work_dir: Optional[str] = None  # trained models + Rasa cache; default: a temporary folder
    reuse: bool = False  # score models an earlier run trained in --work-dir (same pipeline) again
    seed: int = 42
    transformer_set: List[str] = field(default_factory=list)  # KEY=VALUE overrides (YAML values)
    latency_messages: int = 300  # messages timed per model in the latency suite
    systems: str = "all"  # diet, minilm_lr, transformer, all, or a comma-separated list

    @property
    def system_list(self) -> List[str]:
        wanted = list(SYSTEMS) if self.systems == "all" else [s.strip() for s in self.systems.split(",") if s]
        unknown = [s for s in wanted if s not in SYSTEMS]
        if unknown or not wanted:
            raise SystemExit(f"unknown system(s) {unknown}; choose from {SYSTEMS} or all")
        return wanted

    @property
    def suites(self) -> List[str]:
        wanted = list(SUITES) if self.suite == "all" else [s.strip() for s in self.suite.split(",") if s]
        unknown = [s for s in wanted if s not in SUITES]
        if unknown:
            raise SystemExit(f"unknown suite(s) {unknown}; choose from {SUITES} or all")
        return wanted

    @property
    def overrides(self) -> Dict[str, Any]:
        pairs = (item.partition("=") for item in self.transformer_set)
        return {key.strip(): yaml.safe_load(value) for key, _, value in pairs}


def parse_args(argv: Optional[List[str]] = None) -> Arguments:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for item in fields(Arguments):
        flag = f"--{item.name.replace('_', '-')}"
        if item.type in ("bool", bool):
            parser.add_argument(flag, action="store_true")
        elif item.name == "transformer_set":
            parser.add_argument(flag, action="append", default=[], metavar="KEY=VALUE",
                                help="override a TransformerIntentEmotionClassifier setting (repeatable)")
        else:
            kind = int if item.type in ("int", int) else str
            parser.add_argument(flag, type=kind, default=item.default)
    return Arguments(**vars(parser.parse_args(argv)))


def set_seeds(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover - torch is a hard dependency of the component
        pass


class Bench:
    """Shared state of one run: settings from config.yml, the work folder, models trained so far."""

    def __init__(self, args: Arguments, work_dir: Path) -> None:
        self.args = args
        self.work_dir = work_dir
        self.settings = shipped_settings()
        self.diet = dict(self.settings["diet"])
        self.fallback = dict(self.settings["fallback"])
        self.transformer = dict(args.overrides)
        if args.quick:
            self.diet["epochs"] = 1
            self.transformer["epochs"] = 1
        self.models: Dict[str, TrainedModel] = {}

    def train(self, key: str, system: str, data: IntentData, emotions: Optional[List[str]] = None,
              extra: Optional[Dict[str, Any]] = None) -> TrainedModel:
        name = f"{key}_{system}"
        if name not in self.models:
            if system == "diet":
                pipeline = diet_pipeline(self.diet, self.fallback)
            else:
                pipeline = transformer_pipeline({**self.transformer, **(extra or {})}, self.fallback)
            reused = reuse_trained(name, self.work_dir, pipeline) if self.args.reuse else None
            if reused:
                print(f"  {system}: reusing {reused.path} (trained in {reused.train_seconds:.0f} s)")
                self.models[name] = reused
                return reused
            print(f"  training {system} on {len(data.train)} examples ...", flush=True)
            self.models[name] = train_rasa(name, pipeline, data.train, self.work_dir, emotions)
            print(f"  {system}: trained in {self.models[name].train_seconds:.0f} s", flush=True)
        return self.models[name]

    # ----------------------------------------------------------------------------------------- data
    def clinc(self, shots: Optional[int]) -> IntentData:
        quick = self.args.quick
        return load_clinc150(
            self.args.data_dir,
            shots=shots if shots or not quick else 20,
            max_intents=20 if quick else None,
            max_test_per_intent=5 if quick else None,
            max_oos=50 if quick else None,
            seed=self.args.seed,
        )

    def estimate(self, n_train: int, n_eval: int) -> float:
        """Rough minutes-to-seconds guess for the systems this run trains (see COST)."""
        systems = self.args.system_list
        seconds = COST["overhead_s"] * sum(s in systems for s in ("diet", "transformer"))
        if "diet" in systems:
            seconds += n_train * int(self.diet.get("epochs", 100)) * COST["diet_s_per_example_epoch"]
            seconds += n_eval * COST["parse_s"]["diet"]
        if "transformer" in systems:
            seconds += (n_train * int(self.transformer.get("epochs", 8))
                        * COST["transformer_s_per_example_epoch"])
            seconds += n_eval * COST["parse_s"]["transformer"]
        if "minilm_lr" in systems:
            seconds += (n_train + n_eval) * COST["embed_s_per_text"]
        return seconds


def parse_all(model: TrainedModel, texts: List[str], desc: str) -> List[Dict[str, Any]]:
    parser = RasaParser(model.path)
    try:
        return [parser.parse(text) for text in tqdm(texts, desc=desc, unit="msg", mininterval=2)]
    finally:
        parser.close()


# --------------------------------------------------------------------------------------------- suites
def intent_suite(bench: Bench, key: str, shots: Optional[int]) -> Dict[str, Any]:
    data = bench.clinc(shots)
    print(f"{data.name}: {'; '.join(data.notes)}")
    print(f"  estimate: ~{bench.estimate(len(data.train), len(data.test) + len(data.oos_test)) / 60:.0f} min")
    gold, rows = data.test.labels, []
    eval_texts = data.test.texts + data.oos_test
    threshold = float(bench.fallback["threshold"])
    ambiguity = float(bench.fallback.get("ambiguity_threshold", 0.1))

    systems = bench.args.system_list
    for system in [s for s in ("diet", "transformer") if s in systems]:
        model = bench.train(key, system, data)
        started = time.perf_counter()
        parsed = parse_all(model, eval_texts, f"parse {system}")
        seconds = time.perf_counter() - started
        finals, tops = zip(*(top_intent(p) for p in parsed), strict=True)
        n = len(gold)
        rows.append({"system": system, **intent_metrics(gold, tops[:n], finals[:n], finals[n:]),
                     "train_s": model.train_seconds, "eval_ms_per_msg": 1000 * seconds / len(eval_texts)})

    if "minilm_lr" in systems:
        baseline = lr_intent_baseline(data, bench.args.seed, threshold, ambiguity)
        rows.insert(1 if "diet" in systems else 0, baseline)

    by = {row["system"]: row for row in rows}
    ours, diet, lr = by.get("transformer"), by.get("diet"), by.get("minilm_lr")
    targets = []
    if ours and key == "clinc10":
        if diet:
            targets.append(Target("10-shot accuracy >= DIET + 15 pts", ours["accuracy"],
                                  diet["accuracy"] + 0.15))
        targets.append(Target("10-shot accuracy >= 0.90", ours["accuracy"], 0.90))
    elif ours:
        targets.append(Target("full accuracy >= 0.95", ours["accuracy"], 0.95))
    if ours and lr:
        targets.append(Target("accuracy beats MiniLM+LR", ours["accuracy"], lr["accuracy"]))
    return {"suite": key, "data": data.name, "notes": data.notes, "rows": rows, "targets": targets,
            "columns": ["system", "accuracy", "macro_f1", "user_accuracy", "oos_recall",
                        "in_scope_fallback_rate", "train_s", "eval_ms_per_msg"],
            "chart": ["accuracy", "macro_f1", "user_accuracy", "oos_recall"]}


def lr_intent_baseline(data: IntentData, seed: int, threshold: float, ambiguity: float,
                       show_progress: bool = True) -> Dict[str, Any]:
    """MiniLM + LR on an intent data set, scored like the Rasa systems (same fallback rule)."""
    started = time.perf_counter()
    eval_texts = data.test.texts + data.oos_test
    features = encode_minilm(data.train.texts + eval_texts, show_progress=show_progress)
    baseline = LogRegBaseline(seed).fit(features[: len(data.train)], data.train.labels)
    train_seconds = time.perf_counter() - started
    finals, tops = baseline.predict(features[len(data.train):], threshold, ambiguity)
    n, gold = len(data.test), data.test.labels
    return {"system": "minilm_lr", **intent_metrics(gold, tops[:n], finals[:n], finals[n:]),
            "train_s": round(train_seconds, 1), "lr_C": baseline.chosen_c}


def goemotions_suite(bench: Bench) -> Dict[str, Any]:
    quick = bench.args.quick
    data: EmotionData = load_goemotions_ekman(bench.args.data_dir, max_train=400 if quick else None,
                                              max_test=150 if quick else None, seed=bench.args.seed)
    print(f"{data.name}: {'; '.join(data.notes)}")
    print(f"  estimate: ~{bench.estimate(len(data.train), len(data.test)) / 60:.0f} min")
    gold, rows = data.test.labels, []
    # DIET has no emotion head: the emotions are its intents. The transformer learns them with its
    # emotion head (example metadata, emotion_labels = the Ekman labels) and one constant intent.
    as_intents = IntentData(data.name, data.train, data.test, [])
    single_intent = IntentData(data.name, type(data.train)(data.train.texts, ["chitchat"] * len(data.train)),
                               data.test, [])
    systems = bench.args.system_list
    for system in [s for s in ("diet", "transformer") if s in systems]:
        if system == "diet":
            model = bench.train("goemotions", system, as_intents)
        else:
            model = bench.train("goemotions", system, single_intent, emotions=data.train.labels,
                                extra={"emotion_labels": data.labels, "default_emotion": "neutral"})
        parsed = parse_all(model, data.test.texts, f"parse {system}")
        if system == "diet":
            predicted = [top_intent(p)[1] for p in parsed]
        else:
            # Rasa reads a text starting with "/" as an intent payload and drops the emotion (see
            # docs/NOTES.md); actions then see no emotion, which ShopAssist treats as neutral.
            names = [(p.get("emotion") or {}).get("name") for p in parsed]
            predicted = [name or "neutral" for name in names]
            missing = sum(1 for name in names if not name)
            if missing:
                data.notes.append(f"{missing} test message(s) parsed without an emotion (counted as neutral)")
        rows.append({"system": system, "macro_f1": round(macro_f1(gold, predicted), 4),
                     "accuracy": round(accuracy(gold, predicted), 4), "train_s": model.train_seconds})
    if "minilm_lr" in systems:
        started = time.perf_counter()
        features = encode_minilm(data.train.texts + data.test.texts)
        baseline = LogRegBaseline(bench.args.seed).fit(features[: len(data.train)], data.train.labels)
        _, predicted = baseline.predict(features[len(data.train):], 0.0, 0.0)
        rows.insert(1 if "diet" in systems else 0,
                    {"system": "minilm_lr", "macro_f1": round(macro_f1(gold, predicted), 4),
                     "accuracy": round(accuracy(gold, predicted), 4),
                     "train_s": round(time.perf_counter() - started, 1), "lr_C": baseline.chosen_c})
    by = {row["system"]: row for row in rows}
    ours, lr = by.get("transformer"), by.get("minilm_lr")
    targets = []
    if ours:
        targets.append(Target("emotion macro-F1 >= 0.60", ours["macro_f1"], 0.60))
        if lr:
            targets.append(Target("macro-F1 beats MiniLM+LR", ours["macro_f1"], lr["macro_f1"]))
    return {"suite": "goemotions", "data": data.name, "notes": data.notes, "rows": rows, "targets": targets,
            "columns": ["system", "macro_f1", "accuracy", "train_s"], "chart": ["macro_f1", "accuracy"]}


def latency_suite(bench: Bench) -> Dict[str, Any]:
    data = bench.clinc(10)
    wanted = 100 if bench.args.quick else bench.args.latency_messages
    pool = data.test.texts + data.oos_test
    texts = pool[:: max(1, len(pool) // wanted)][:wanted]  # spread over the intents and OOS
    print(f"latency: models trained on {data.name} ({len(data.train)} examples), {len(texts)} messages")
    texts_file = bench.work_dir / "latency_texts.json"
    texts_file.write_text(json.dumps(texts), encoding="utf-8")
    rows = []
    for system in [s for s in ("diet", "transformer") if s in bench.args.system_list]:
        model = bench.train("clinc10", system, data)
        result_file = bench.work_dir / f"latency_{system}.json"
        # a fresh process per model: its memory figures are that model's alone
        command = [sys.executable, "-m", "bench.nlu.probe", model.path, str(texts_file), str(result_file)]
        import subprocess

        print(f"  timing {system} in a fresh process ...", flush=True)
        subprocess.run(command, check=True, cwd=str(Path(__file__).resolve().parents[2]),
                       stdout=subprocess.DEVNULL)
        rows.append({"system": system, "train_s": model.train_seconds,
                     **json.loads(result_file.read_text(encoding="utf-8"))})
    by = {row["system"]: row for row in rows}
    targets = []
    if "transformer" in by and "diet" in by:
        targets.append(Target("p50 parse latency <= DIET's (ms)", by["transformer"]["p50_ms"],
                              by["diet"]["p50_ms"], higher_is_better=False))
    return {"suite": "latency", "data": data.name, "notes": data.notes, "rows": rows, "targets": targets,
            "columns": ["system", "p50_ms", "p95_ms", "mean_ms", "train_s", "load_seconds",
                        "model_rss_mib", "peak_rss_mib"],
            "chart": ["p50_ms", "p95_ms"]}


# --------------------------------------------------------------------------------------------- output
def report(result: Dict[str, Any], out: Path, quick: bool) -> None:
    targets = [t.as_dict() for t in result["targets"]]
    print(f"\n=== {result['suite']}: {result['data']}{' (QUICK: smoke test, not a result)' if quick else ''}")
    print(format_table(result["rows"], result["columns"]))
    if targets:
        print(format_table(targets, ["target", "value", "goal", "result"]))
    print(f"suite time: {result['seconds'] / 60:.1f} min\n", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"nlu_{result['suite']}{'_quick' if quick else ''}"
    payload = {**{k: v for k, v in result.items() if k not in ("targets", "columns", "chart")},
               "targets": targets, "quick": quick}
    (out / f"{stem}.json").write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    bar_chart(result, out / f"{stem}.png")


def bar_chart(result: Dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics, rows = result["chart"], result["rows"]
    width = 0.8 / len(rows)
    figure, axes = plt.subplots(figsize=(2.2 + 1.8 * len(metrics), 3.6))
    for index, row in enumerate(rows):
        xs = [m + index * width for m in range(len(metrics))]
        bars = axes.bar(xs, [row.get(m) or 0.0 for m in metrics], width, label=row["system"])
        axes.bar_label(bars, fmt="%.3g", fontsize=7)
    axes.set_xticks([m + width * (len(rows) - 1) / 2 for m in range(len(metrics))], metrics)
    axes.set_title(f"{result['suite']}: {result['data']}", fontsize=9)
    top = max((row.get(m) or 0.0) for row in rows for m in metrics)
    axes.set_ylim(0, top * 1.15 if top > 0 else 1.0)
    axes.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=len(rows), frameon=False)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    data_dir = Path(args.data_dir or default_data_dir())
    if not data_dir.is_dir():
        print(f"SKIPPED: benchmark data folder {data_dir} is absent (see /work/shared/bench-data/README.md)")
        return 0
    quiet_rasa()
    set_seeds(args.seed)
    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="bench-nlu-"))
    os.environ["RASA_CACHE_DIRECTORY"] = str(work / "rasa-cache")  # no cache hits from earlier runs
    bench = Bench(args, work)
    runners: Dict[str, Callable[[], Dict[str, Any]]] = {
        "clinc10": lambda: intent_suite(bench, "clinc10", 10),
        "clinc_full": lambda: intent_suite(bench, "clinc_full", None),
        "goemotions": lambda: goemotions_suite(bench),
        "latency": lambda: latency_suite(bench),
    }
    print(f"settings: DIET {bench.diet}, fallback {bench.fallback}, transformer overrides "
          f"{bench.transformer or 'none (shipped defaults)'}; work dir {work}")
    summary = []
    for suite in args.suites:
        started = time.perf_counter()
        try:
            result = runners[suite]()
        except BenchDataMissing as missing:
            print(f"SKIPPED {suite}: {missing}")
            continue
        result["seconds"] = round(time.perf_counter() - started, 1)
        result["settings"] = {"diet": bench.diet, "fallback": bench.fallback,
                              "transformer": bench.transformer}
        report(result, Path(args.out), args.quick)
        summary.extend({"suite": suite, **t.as_dict()} for t in result["targets"])
    if summary:
        print(format_table(summary, ["suite", "target", "value", "goal", "result"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
