"""Shopper suite: ShopAssist on development sets the team did not write, beside baselines trained in this run.

    python -m bench.shopper.run [--model PATH] [--systems shipped,diet,lr] [--skip-baselines]
                                [--no-conversations] [--eval-dir DIR] [--out results/bench/shopper]

One path: find the independent sets in ``../shared/eval`` (exit 0 with ``SKIPPED`` when absent) → score the
shipped model on the two message sets with ``score_messages.py --json`` (a subprocess) → play
conversations.jsonl and knowledge_questions.jsonl with ``converse.py --json`` → train the baselines on
``data/nlu`` (Rasa's loader, subfolders and example metadata included) and score them on the same message
sets by the same rule → print one table beside the targets of issue 14 → write everything to
``--out``/shopper.json.

Systems (``--systems``, default all three):

* ``shipped``: the trained assistant, ``--model`` or the newest ``models/*.tar.gz`` (what the runners pick);
* ``diet``: Rasa's default-like pipeline (``bench.nlu.systems.diet_pipeline``: whitespace tokens, word +
  char_wb 1-4 counts, DIETClassifier, then the FallbackClassifier with config.yml's threshold 0.4 and
  ambiguity threshold), trained with ``rasa train nlu``'s API and scored by ``score_messages.py --model``
  itself. DIET has no emotion head: its emotion figures are left out;
* ``lr``: frozen MiniLM sentence embeddings + logistic regression (``bench.nlu.systems.encode_minilm`` /
  ``LogRegBaseline``), one model for intents and one for emotions (labels from each example's
  ``metadata: {emotion: ...}``, else the component's ``default_emotion``). Its top intent becomes
  ``nlu_fallback`` by the FallbackClassifier rule with config.yml's thresholds, and its predictions go
  through score_messages' own ``score`` function, so every system is scored by the same code (a fallback
  counts as wrong). Its messages are encoded in one batch, so it has no per-message latency.

Never train on the sets in ``../shared/eval`` or copy their sentences: they are read here only to measure.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")

from bench.nlu.data import REPO, Split, default_data_dir  # noqa: E402
from bench.nlu.metrics import format_table  # noqa: E402
from bench.shopper import report  # noqa: E402

SYSTEMS = ("shipped", "diet", "lr")
EVAL_DIR_ENV = "SHOPASSIST_EVAL_DIR"
SCORE_RUNNER = "score_messages.py"
CONVERSE_RUNNER = "converse.py"
SHOPPER_SET = "shopper_messages.jsonl"
ABCD_SET = Path("abcd") / "first_turns_dev.jsonl"  # under the bench-data folder
CONVERSATIONS = "conversations.jsonl"
KNOWLEDGE = "knowledge_questions.jsonl"
#: The component's default for examples without emotion metadata (its get_default_config), used when
#: config.yml does not set ``default_emotion``.
DEFAULT_EMOTION = "neutral"
RESULT_FILE = "shopper.json"


@dataclass
class Arguments:
    model: Optional[str] = None  # default: the newest models/*.tar.gz (the runners' own rule)
    systems: str = ",".join(SYSTEMS)  # comma-separated: shipped, diet, lr
    skip_baselines: bool = False  # quick run: the shipped model only
    no_conversations: bool = False  # leave out converse.py (conversations + knowledge questions)
    eval_dir: Optional[str] = None  # default: $SHOPASSIST_EVAL_DIR or ../shared/eval next to the repo
    abcd: Optional[str] = None  # default: <bench-data>/abcd/first_turns_dev.jsonl
    nlu_data: str = "data/nlu"  # training data of the baselines (Rasa's loader, recursive)
    out: str = "results/bench/shopper"
    work_dir: Optional[str] = None  # DIET model + Rasa cache; default: a temporary folder
    seed: int = 42
    server_timeout: int = 600  # seconds converse.py waits for Rasa and the action server to start

    @property
    def system_list(self) -> List[str]:
        wanted = [s.strip() for s in self.systems.split(",") if s.strip()]
        unknown = [s for s in wanted if s not in SYSTEMS]
        if unknown or not wanted:
            raise SystemExit(f"unknown system(s) {unknown}; choose from {', '.join(SYSTEMS)}")
        if self.skip_baselines:
            wanted = [s for s in wanted if s == "shipped"]
        return [s for s in SYSTEMS if s in wanted]


def parse_args(argv: Optional[Sequence[str]] = None) -> Arguments:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for item in fields(Arguments):
        flag = f"--{item.name.replace('_', '-')}"
        if item.type in ("bool", bool):
            parser.add_argument(flag, action="store_true")
        else:
            kind = int if item.type in ("int", int) else str
            parser.add_argument(flag, type=kind, default=item.default)
    return Arguments(**vars(parser.parse_args(argv)))


def default_eval_dir() -> Path:
    return Path(os.environ.get(EVAL_DIR_ENV) or REPO.parent / "shared" / "eval")


def latest_model(models_dir: Path = REPO / "models") -> Optional[Path]:
    """The newest ``*.tar.gz`` by modification time: what score_messages.py and converse.py pick."""
    models = sorted(models_dir.glob("*.tar.gz"), key=os.path.getmtime)
    return models[-1] if models else None


class Progress:
    """One line per stage, with the time since the run started."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.started = total, 0, time.perf_counter()

    def stage(self, text: str) -> None:
        self.done += 1
        minutes = (time.perf_counter() - self.started) / 60
        print(f"[{self.done}/{self.total} +{minutes:.1f} min] {text}", flush=True)

    @staticmethod
    def note(text: str) -> None:
        print(f"    {text}", flush=True)


# --------------------------------------------------------------------------------------------- runners
def run_score_messages(eval_dir: Path, model: Path, sets: Sequence[Path], out_json: Path, log: Path) -> Dict:
    """``score_messages.py FILES --model M --json OUT --errors 0`` from the repo root → its JSON."""
    command = [sys.executable, str(eval_dir / SCORE_RUNNER), *map(str, sets), "--model", str(model),
               "--json", str(out_json), "--errors", "0"]
    with log.open("w", encoding="utf-8") as handle:
        finished = subprocess.run(command, cwd=str(REPO), stdout=handle, stderr=subprocess.STDOUT)
    if finished.returncode != 0 or not out_json.is_file():
        raise RuntimeError(f"{SCORE_RUNNER} failed (exit {finished.returncode}); see {log}")
    return json.loads(out_json.read_text(encoding="utf-8"))


def run_converse(eval_dir: Path, scenarios: Path, out_json: Path, log: Path, server_timeout: int,
                 progress: Callable[[str], None] = Progress.note) -> Dict:
    """``converse.py SCENARIOS --json OUT`` from the repo root, its lines to ``log`` and a progress line
    every tenth scenario → its JSON (``summary`` + ``results``)."""
    total = sum(1 for line in scenarios.read_text(encoding="utf-8").splitlines() if line.strip())
    command = [sys.executable, str(eval_dir / CONVERSE_RUNNER), str(scenarios), "--json", str(out_json),
               "--timeout", str(server_timeout)]
    played = 0
    with log.open("w", encoding="utf-8") as handle:
        process = subprocess.Popen(command, cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True)
        assert process.stdout is not None
        for line in process.stdout:
            handle.write(line)
            if line.startswith('{"id"'):
                played += 1
                if played % 10 == 0 or played == total:
                    progress(f"{scenarios.name}: {played}/{total} played")
        code = process.wait()
    if code != 0 or not out_json.is_file():
        raise RuntimeError(f"{CONVERSE_RUNNER} {scenarios.name} failed (exit {code}); see {log}")
    return json.loads(out_json.read_text(encoding="utf-8"))


def answerable_flags(path: Path) -> Dict[str, bool]:
    """Question id → ``answerable`` (only the labels: converse.py reports both kinds together)."""
    flags = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            flags[str(row["id"])] = bool(row.get("answerable"))
    return flags


def load_harness(eval_dir: Path) -> ModuleType:
    """score_messages.py as a module: its ``read_rows`` and ``score`` score the LR baseline."""
    spec = importlib.util.spec_from_file_location("shopassist_eval_score_messages", eval_dir / SCORE_RUNNER)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot import {eval_dir / SCORE_RUNNER}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in ("read_rows", "score"):
        if not callable(getattr(module, name, None)):
            raise RuntimeError(f"{SCORE_RUNNER} has no {name}(): the LR baseline cannot be scored by it")
    return module


# --------------------------------------------------------------------------------------------- baselines
def emotion_of(metadata: Any, default: str = DEFAULT_EMOTION) -> str:
    """The component's rule: ``metadata: {emotion: ...}`` of the example, else of the intent, else
    ``default``."""
    if isinstance(metadata, dict):
        for scope in ("example", "intent"):
            scoped = metadata.get(scope)
            if isinstance(scoped, dict) and scoped.get("emotion"):
                return str(scoped["emotion"]).strip().lower()
    return default


def load_training_data(nlu_dir: Path, default_emotion: str = DEFAULT_EMOTION) -> Tuple[Split, List[str]]:
    """Intent examples of ``nlu_dir`` read by Rasa's own loader (every file, subfolders included; entity
    markup removed) → (texts + intents, emotions)."""
    from rasa.shared.nlu.training_data.loading import load_data

    split, emotions = Split(), []
    for message in load_data(str(nlu_dir)).intent_examples:
        split.add(message.get("text"), message.get("intent"))
        emotions.append(emotion_of(message.get("metadata"), default_emotion))
    return split, emotions


def shipped_default_emotion(config_path: Path = REPO / "config.yml") -> str:
    import yaml

    pipeline = (yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}).get("pipeline") or []
    for component in pipeline:
        if "TransformerIntentEmotionClassifier" in str(component.get("name")) and component.get(
                "default_emotion"):
            return str(component["default_emotion"])
    return DEFAULT_EMOTION


class PrecomputedParser:
    """Stands in for a Rasa agent in score_messages' ``score``: answers ``parse_message`` with the
    predictions made for every text in one batch."""

    def __init__(self, parses: Dict[str, Dict[str, Any]]) -> None:
        self.parses = parses

    async def parse_message(self, text: str) -> Dict[str, Any]:
        return self.parses[text]


def lr_parses(texts: Sequence[str], intents: Sequence[str], emotions: Sequence[str]) -> Dict[str, Dict]:
    """Parse-data dicts (the fields score_messages reads) from the LR baseline's predictions."""
    return {text: {"text": text, "intent": {"name": intent}, "emotion": {"name": emotion}}
            for text, intent, emotion in zip(texts, intents, emotions, strict=True)}


def lr_baseline(train: Split, emotions: Sequence[str], harness: ModuleType, sets: Sequence[Path],
                fallback: Dict[str, Any], seed: int) -> Dict[str, Any]:
    """MiniLM + LR trained on ``train``, scored on ``sets`` by the harness → score_messages-like JSON."""
    from bench.nlu.systems import LogRegBaseline, encode_minilm

    started = time.perf_counter()
    rows = {path: harness.read_rows(str(path)) for path in sets}
    eval_texts = sorted({text for set_rows in rows.values() for text, _, _ in set_rows})
    features = encode_minilm(list(train.texts) + eval_texts)
    train_x, eval_x = features[: len(train)], features[len(train):]
    intent_model = LogRegBaseline(seed).fit(train_x, train.labels)
    emotion_model = LogRegBaseline(seed).fit(train_x, list(emotions))
    threshold, ambiguity = float(fallback["threshold"]), float(fallback.get("ambiguity_threshold", 0.1))
    final, _ = intent_model.predict(eval_x, threshold, ambiguity)
    _, emotion_top = emotion_model.predict(eval_x, 0.0, 0.0)
    seconds = round(time.perf_counter() - started, 1)
    parser = PrecomputedParser(lr_parses(eval_texts, final, emotion_top))
    out = {}
    for path, set_rows in rows.items():
        summary, _ = asyncio.run(harness.score(parser, set_rows, 0))
        summary["p50_ms"] = None  # batch-encoded: the harness timed a dictionary lookup
        summary.update(train_s=seconds, lr_C_intent=intent_model.chosen_c,
                       lr_C_emotion=emotion_model.chosen_c)
        out[path.name] = summary
    return out


def train_diet(train: Split, work_dir: Path, settings: Dict[str, Any]) -> Tuple[Path, float]:
    from bench.nlu.systems import diet_pipeline, quiet_rasa, train_rasa

    quiet_rasa()
    os.environ["RASA_CACHE_DIRECTORY"] = str(work_dir / "rasa-cache")  # no cache hits from earlier runs
    trained = train_rasa("shopper_diet", diet_pipeline(settings["diet"], settings["fallback"]), train,
                         work_dir)
    return Path(trained.path), trained.train_seconds


def without_emotion(score_json: Dict[str, Any]) -> Dict[str, Any]:
    """DIET sets no ``emotion``: the harness would score the string "None" against the gold labels."""
    for summary in score_json.values():
        for key in ("emotion_acc", "emotion_macro_f1"):
            if key in summary:
                summary[key] = None
    return score_json


# --------------------------------------------------------------------------------------------- main
def collect_metrics(systems: Sequence[str], scores: Dict[str, Any], conversations: Dict[str, Any],
                    answerable: Dict[str, bool]) -> Dict[str, Dict[str, Any]]:
    """The runners' JSON of every system → one flat metrics dict per system (see bench.shopper.report);
    conversations only exist for the shipped system."""
    metrics = {name: report.message_metrics(scores.get(name) or {}) for name in systems}
    if "shipped" in metrics:
        if conversations.get(CONVERSATIONS):
            metrics["shipped"].update(report.conversation_metrics(conversations[CONVERSATIONS]))
        if conversations.get(KNOWLEDGE):
            metrics["shipped"].update(report.knowledge_metrics(conversations[KNOWLEDGE], answerable))
        report.combine_conversations(metrics["shipped"])
    return metrics


def print_report(result: Dict[str, Any]) -> None:
    systems = result["metrics"]
    print("\n=== Shopper suite: development sets the team did not write (../shared/eval)")
    print(format_table(report.build_table(systems), report.table_columns(systems)))
    for note in result["notes"]:
        print(f"note: {note}")
    print(report.summary_line(result["targets"]), flush=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    systems = args.system_list
    eval_dir = Path(args.eval_dir) if args.eval_dir else default_eval_dir()
    if not (eval_dir / SCORE_RUNNER).is_file() or not (eval_dir / SHOPPER_SET).is_file():
        print(f"SKIPPED: the development sets folder {eval_dir} is absent (or lacks {SCORE_RUNNER} / "
              f"{SHOPPER_SET}); it is kept outside the repository (set ${EVAL_DIR_ENV} or --eval-dir)")
        return 0
    out = Path(args.out)
    abcd = Path(args.abcd) if args.abcd else default_data_dir() / ABCD_SET
    sets = [eval_dir / SHOPPER_SET] + ([abcd] if abcd.is_file() else [])
    notes: List[str] = [] if abcd.is_file() else [f"ABCD set {abcd} absent: scored the shopper set only"]
    converse = "shipped" in systems and not args.no_conversations
    missing = [name for name in (CONVERSE_RUNNER, CONVERSATIONS, KNOWLEDGE)
               if not (eval_dir / name).is_file()]
    if converse and missing:
        notes.append(f"{', '.join(missing)} absent from {eval_dir}: conversations skipped")
        converse = False

    model = Path(args.model) if args.model else latest_model()
    if "shipped" in systems and (model is None or not model.is_file()):
        notes.append(f"no trained model ({model or 'models/*.tar.gz'}): shipped system and conversations "
                     "skipped (run make train)")
        systems, converse = [s for s in systems if s != "shipped"], False
        if not systems:
            print(f"SKIPPED: {notes[-1]}")
            return 0
    elif converse and args.model and latest_model() != model.resolve():
        notes.append(f"converse.py always plays the newest models/*.tar.gz ({latest_model()}), not --model")

    out.mkdir(parents=True, exist_ok=True)
    baselines = [s for s in systems if s != "shipped"]
    progress = Progress(("shipped" in systems) + 2 * converse + len(baselines) + bool(baselines))
    scores: Dict[str, Any] = {}
    conversations: Dict[str, Any] = {}
    failed: List[str] = []

    def attempt(name: str, stage: Callable[[], Any]) -> Any:
        try:
            return stage()
        except Exception as error:  # one failing stage must not lose the others' figures
            failed.append(name)
            notes.append(f"{name} failed: {error}")
            Progress.note(f"FAILED: {error}")
            return None

    if "shipped" in systems:
        assert model is not None
        progress.stage(f"shipped model {model}: scoring {', '.join(p.name for p in sets)} ...")
        scores["shipped"] = attempt("shipped scoring", lambda: run_score_messages(
            eval_dir, model, sets, out / "messages_shipped.json", out / "messages_shipped.log"))
    if converse:
        for scenarios in (CONVERSATIONS, KNOWLEDGE):
            stem = Path(scenarios).stem
            progress.stage(f"converse.py {scenarios} (starts Rasa + the action server) ...")
            conversations[scenarios] = attempt(f"converse {scenarios}", lambda s=scenarios, t=stem: (
                run_converse(eval_dir, eval_dir / s, out / f"converse_{t}.json", out / f"converse_{t}.log",
                             args.server_timeout)))

    settings: Dict[str, Any] = {}
    if baselines:
        from bench.nlu.systems import shipped_settings

        settings = shipped_settings()
        progress.stage(f"loading {args.nlu_data} with Rasa's loader for the baselines ...")
        loaded = attempt("loading the training data", lambda: load_training_data(
            REPO / args.nlu_data, shipped_default_emotion()))
        train, emotions = loaded or (Split(), [])
        if loaded:
            Progress.note(f"{len(train)} examples, {len(set(train.labels))} intents; "
                          f"fallback {settings['fallback']}")
        if "lr" in systems and loaded:
            progress.stage("MiniLM + LR: embedding, fitting, scoring ...")
            scores["lr"] = attempt("lr baseline", lambda: lr_baseline(
                train, emotions, load_harness(eval_dir), sets, settings["fallback"], args.seed))
            notes.append("MiniLM + LR is encoded in one batch: no per-message latency")
        if "diet" in systems and loaded:
            progress.stage(f"DIET: training ({settings['diet'].get('epochs')} epochs) and scoring ...")
            work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="bench-shopper-"))

            def diet() -> Dict[str, Any]:
                path, seconds = train_diet(train, work, settings)
                Progress.note(f"DIET trained in {seconds:.0f} s: {path}")
                scored = without_emotion(run_score_messages(eval_dir, path, sets, out / "messages_diet.json",
                                                            out / "messages_diet.log"))
                for summary in scored.values():
                    summary["train_s"] = seconds
                return scored

            scores["diet"] = attempt("diet baseline", diet)
            notes.append("DIET has no emotion head: no emotion figures")

    answerable = answerable_flags(eval_dir / KNOWLEDGE) if conversations.get(KNOWLEDGE) else {}
    metrics = collect_metrics(systems, scores, conversations, answerable)
    result = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "arguments": asdict(args),
        "model": str(model) if "shipped" in systems else None,
        "sets": [str(path) for path in sets],
        "settings": settings,
        "messages": scores,
        "conversations": {name: (payload or {}).get("summary") for name, payload in conversations.items()},
        "metrics": metrics,
        "targets": report.check_targets(metrics.get("shipped") or {}),
        "notes": notes,
        "failed": failed,
    }
    print_report(result)
    (out / RESULT_FILE).write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"written: {out / RESULT_FILE}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
