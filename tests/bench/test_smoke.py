"""A --quick-style run of the MiniLM + LR baseline on toy data, and the Rasa data/config writers.

No Rasa training here: the Rasa systems are exercised by ``python -m bench.nlu.run --quick``.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from bench.nlu import run
from bench.nlu.data import Split, load_clinc150
from bench.nlu.metrics import Target
from bench.nlu.systems import (
    TRANSFORMER,
    diet_pipeline,
    shipped_settings,
    top_intent,
    transformer_pipeline,
    write_config_yaml,
    write_nlu_yaml,
)


def test_lr_baseline_smoke_run_and_report(toy_data_dir: Path, tmp_path: Path) -> None:
    data = load_clinc150(toy_data_dir)
    row = run.lr_intent_baseline(data, seed=42, threshold=0.0, ambiguity=0.0, show_progress=False)
    assert row["system"] == "minilm_lr"
    assert row["accuracy"] >= 0.8  # frozen MiniLM separates three toy intents easily
    assert row["oos_recall"] == 0.0  # threshold 0: nothing falls back
    assert row["lr_C"] == 10.0  # a label with fewer than 3 examples per CV fold -> default C

    result = {"suite": "toy", "data": data.name, "notes": data.notes, "rows": [row], "seconds": 1.0,
              "targets": [Target("toy accuracy >= 0.5", row["accuracy"], 0.5)],
              "columns": ["system", "accuracy", "macro_f1", "oos_recall"], "chart": ["accuracy", "macro_f1"]}
    run.report(result, tmp_path, quick=True)
    saved = json.loads((tmp_path / "nlu_toy_quick.json").read_text())
    assert saved["targets"][0]["result"] == "PASS" and saved["quick"] is True
    assert (tmp_path / "nlu_toy_quick.png").stat().st_size > 0


def test_nlu_yaml_round_trips_through_rasa(tmp_path: Path) -> None:
    from rasa.shared.nlu.training_data.loading import load_data

    split = Split(["where is [my] (parcel)", "see [this](link) now", "hello"], ["track", "track", "greet"])
    write_nlu_yaml(tmp_path / "plain.yml", split)
    loaded = load_data(str(tmp_path / "plain.yml"))
    assert sorted((m.get("text"), m.get("intent")) for m in loaded.intent_examples) == [
        ("hello", "greet"), ("see [this] (link) now", "track"), ("where is [my] (parcel)", "track")]
    assert not loaded.entity_examples

    write_nlu_yaml(tmp_path / "emotion.yml", split, emotions=["anger", "joy", "neutral"])
    loaded = load_data(str(tmp_path / "emotion.yml"))
    emotions = {m.get("text"): m.get("metadata")["example"]["emotion"] for m in loaded.intent_examples}
    assert emotions["hello"] == "neutral"


def test_pipelines_and_config(tmp_path: Path) -> None:
    settings = shipped_settings()
    assert settings["fallback"]["threshold"] > 0 and settings["diet"]["epochs"] >= 1
    diet = diet_pipeline({"epochs": 3}, {"threshold": 0.4})
    assert [c["name"] for c in diet] == ["WhitespaceTokenizer", "CountVectorsFeaturizer",
                                         "CountVectorsFeaturizer", "DIETClassifier", "FallbackClassifier"]
    assert diet[2]["analyzer"] == "char_wb" and diet[2]["max_ngram"] == 4
    ours = transformer_pipeline({}, {"threshold": 0.4})
    assert ours[1] == {"name": TRANSFORMER}
    write_config_yaml(tmp_path / "config.yml", ours)
    assert yaml.safe_load((tmp_path / "config.yml").read_text())["pipeline"][2]["threshold"] == 0.4


def test_top_intent_skips_the_fallback_entry() -> None:
    parsed = {"intent": {"name": "nlu_fallback", "confidence": 0.4},
              "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.4},
                                 {"name": "greet", "confidence": 0.3}]}
    assert top_intent(parsed) == ("nlu_fallback", "greet")
    plain = {"intent": {"name": "greet"}, "intent_ranking": [{"name": "greet"}]}
    assert top_intent(plain) == ("greet", "greet")


def test_arguments_parse_suites_and_overrides() -> None:
    args = run.parse_args(["--suite", "clinc10,latency", "--quick", "--transformer-set", "epochs=20"])
    assert args.suites == ["clinc10", "latency"] and args.quick
    assert args.overrides == {"epochs": 20}
    assert run.parse_args([]).suites == list(run.SUITES)


def test_a_trained_model_is_reused_only_for_the_same_pipeline(tmp_path: Path) -> None:
    from dataclasses import asdict

    from bench.nlu.systems import TRAINED_FILE, TrainedModel, reuse_trained

    pipeline = [{"name": "WhitespaceTokenizer"}, {"name": "FallbackClassifier", "threshold": 0.4}]
    archive = tmp_path / "clinc10_diet" / "models" / "clinc10_diet.tar.gz"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"model")
    record = TrainedModel("clinc10_diet", str(archive), 12.5, pipeline)
    (tmp_path / "clinc10_diet" / TRAINED_FILE).write_text(json.dumps(asdict(record)))

    assert reuse_trained("clinc10_diet", tmp_path, pipeline) == record
    assert reuse_trained("clinc10_diet", tmp_path, [*pipeline[:1], {**pipeline[1], "threshold": 0.3}]) is None
    assert reuse_trained("clinc10_transformer", tmp_path, pipeline) is None
    archive.unlink()
    assert reuse_trained("clinc10_diet", tmp_path, pipeline) is None
