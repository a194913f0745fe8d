"""The optional third head of TransformerIntentEmotionClassifier: sensitive topics (tiny random BERT)."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import pytest
import torch
import yaml
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from safetensors.torch import load_file

from components.classifiers.transformer_intent_emotion import (
    HEADS_FILE,
    META_FILE,
    TransformerIntentEmotionClassifier,
    TransformerModelLoadError,
)
from tests.components.classifiers.test_transformer_intent_emotion import (
    TINY_PIPELINE_CONFIG,
    TOY,
    context,
    load_component,
    predictions,
    tiny_config,
    toy_training_data,
    train_component,
)
from tests.components.contracts import assert_emotion_output, assert_intent_output

SENSITIVE_LABELS = ["none", "fraud", "safety", "allergy", "legal", "harassment", "data_breach", "bereavement"]

# Calmly written sensitive messages spread over the toy intents: the topic is not the intent.
SENSITIVE: Dict[str, Tuple[str, str, List[str]]] = {
    "fraud": ("complain", "neutral", ["someone used my card without asking",
                                      "a stranger ordered with my card",
                                      "there are purchases on my card i never made",
                                      "my card was used by somebody else"]),
    "safety": ("order_status", "fear", ["the charger caught fire", "the heater started to smoke and burn",
                                        "the lamp caught fire last night", "the kettle burned my hand"]),
}
SENSITIVE_TEXTS = [text for _, (_, _, texts) in SENSITIVE.items() for text in texts]
SENSITIVE_GOLD = [label for label, (_, _, texts) in SENSITIVE.items() for _ in texts]
PLAIN_TEXTS = [text for _, (_, texts) in TOY.items() for text in texts]
ALL_TEXTS = PLAIN_TEXTS + SENSITIVE_TEXTS
ALL_GOLD = ["none"] * len(PLAIN_TEXTS) + SENSITIVE_GOLD


def sensitive_training_data() -> TrainingData:
    """The toy intents (unlabelled: "none") plus examples with `metadata: {emotion, sensitive}`."""
    messages = list(toy_training_data().training_examples)
    messages += [
        Message.build(text, intent, example_metadata={"emotion": emotion, "sensitive": label})
        for label, (intent, emotion, texts) in SENSITIVE.items()
        for text in texts
    ]
    return TrainingData(training_examples=messages)


def assert_sensitive_output(output: Dict[str, Any], labels: Optional[List[str]] = None) -> Dict[str, Any]:
    """`sensitive` has the shape of `emotion`: {name, confidence, ranking: [{name, confidence}]}."""
    return assert_emotion_output({"emotion": output["sensitive"]}, labels=set(labels or SENSITIVE_LABELS))


def assert_default_sensitive(output: Dict[str, Any], name: str = "none") -> None:
    assert output["sensitive"] == {"name": name, "confidence": 1.0,
                                   "ranking": [{"name": name, "confidence": 1.0}]}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path):
    config = tiny_config(tiny_model_dir)
    component, storage, resource = train_component(
        tmp_path_factory.mktemp("sensitive"), config, sensitive_training_data()
    )
    return component, storage, resource, config


@pytest.fixture(scope="module")
def loaded(trained) -> TransformerIntentEmotionClassifier:
    _, storage, resource, config = trained
    return load_component(storage, resource, config)


@pytest.fixture(scope="module")
def trained_without_sensitive(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path):
    config = tiny_config(tiny_model_dir, epochs=2)
    component, storage, resource = train_component(tmp_path_factory.mktemp("plain"), config)
    return component, storage, resource, config


def test_sensitive_config_keys_have_documented_defaults() -> None:
    defaults = TransformerIntentEmotionClassifier.get_default_config()
    assert defaults["sensitive_labels"] == SENSITIVE_LABELS
    assert defaults["sensitive_loss_weight"] == 1.0
    assert defaults["sensitive_class_weights"] is None


def test_the_head_learns_and_every_message_gets_a_well_formed_sensitive_dict(trained) -> None:
    component = trained[0]
    assert component.has_sensitive_head and component.sensitive_labels == SENSITIVE_LABELS
    outputs = predictions(component, ALL_TEXTS + ["my account was hacked", "where is my order"])
    for output in outputs:
        assert_intent_output(output)
        assert_emotion_output(output)
        assert_sensitive_output(output)
    names = [output["sensitive"]["name"] for output in outputs[: len(ALL_GOLD)]]
    accuracy = float(np.mean([name == gold for name, gold in zip(names, ALL_GOLD, strict=True)]))
    assert accuracy >= 0.9, list(zip(ALL_TEXTS, names, strict=True))
    assert component.training_summary["sensitive_examples"] == len(SENSITIVE_TEXTS)


@pytest.mark.parametrize("ranking_length, expected", [(2, 2), (0, len(SENSITIVE_LABELS))])
def test_ranking_length_applies_to_the_sensitive_ranking(trained, ranking_length: int, expected: int) -> None:
    _, storage, resource, config = trained
    component = load_component(storage, resource, {**config, "ranking_length": ranking_length})
    for output in predictions(component, ["hello", "someone used my card without asking"]):
        ranking = assert_sensitive_output(output)["ranking"]
        assert len(ranking) == expected
    if ranking_length == 0:
        assert sum(entry["confidence"] for entry in ranking) == pytest.approx(1.0, abs=1e-6)


def test_predict_all_adds_the_sensitive_probabilities_and_predict_probabilities_keeps_two(trained) -> None:
    component = trained[0]
    intents, emotions, sensitive = component.predict_all(ALL_TEXTS)
    assert sensitive is not None and sensitive.shape == (len(ALL_TEXTS), len(SENSITIVE_LABELS))
    np.testing.assert_allclose(sensitive.sum(axis=1), 1.0, atol=1e-6)
    pair = component.predict_probabilities(ALL_TEXTS)
    assert len(pair) == 2
    np.testing.assert_array_equal(pair[0], intents)
    np.testing.assert_array_equal(pair[1], emotions)


def test_empty_text_payloads_and_missing_text_get_the_first_label(loaded) -> None:
    messages = [Message(data={"text": text}) for text in ["", "   ", "/greet", '/complain{"x": "y"}']]
    messages.append(Message(data={}))
    for message in loaded.process(messages):
        output = message.as_dict(only_output_properties=True)
        assert_sensitive_output(output)
        assert_default_sensitive(output)


def test_round_trip_gives_the_same_sensitive_probabilities(trained, loaded) -> None:
    component, storage, resource, _ = trained
    texts = ALL_TEXTS + ["my account was hacked", "i am allergic to the soap"]
    np.testing.assert_allclose(component.predict_all(texts)[2], loaded.predict_all(texts)[2], atol=1e-6)
    assert predictions(component, texts) == predictions(loaded, texts)
    assert loaded.sensitive_labels == SENSITIVE_LABELS
    with storage.read_from(resource) as directory:
        meta = json.loads((Path(directory) / META_FILE).read_text(encoding="utf-8"))
        heads = load_file(str(Path(directory) / HEADS_FILE))
    assert meta["format_version"] == 2 and meta["sensitive_labels"] == SENSITIVE_LABELS
    assert tuple(heads["sensitive_head.weight"].shape) == (len(SENSITIVE_LABELS), 32)


def test_without_sensitive_examples_there_is_no_head_and_no_sensitive_key(trained_without_sensitive) -> None:
    component, storage, resource, config = trained_without_sensitive
    assert not component.has_sensitive_head and component.model.sensitive_head is None
    assert component.predict_all(PLAIN_TEXTS)[2] is None
    with storage.read_from(resource) as directory:
        meta = json.loads((Path(directory) / META_FILE).read_text(encoding="utf-8"))
        heads = load_file(str(Path(directory) / HEADS_FILE))
    assert meta["sensitive_labels"] == []
    assert not [key for key in heads if key.startswith("sensitive_head")]
    loaded = load_component(storage, resource, config)
    assert not loaded.has_sensitive_head
    for output in predictions(component, PLAIN_TEXTS[:3] + ["", "/greet"]) + predictions(loaded, ["hello"]):
        assert "sensitive" not in output
        assert_emotion_output(output)


def test_examples_labelled_only_with_the_first_label_create_no_head(tmp_path: Path,
                                                                    tiny_model_dir: Path) -> None:
    data = TrainingData(training_examples=[
        Message.build("hello", "greet", example_metadata={"sensitive": "none"}),
        Message.build("where is my order", "order_status", example_metadata={"sensitive": "None"}),
    ])
    component = train_component(tmp_path, tiny_config(tiny_model_dir, epochs=1), data)[0]
    assert not component.has_sensitive_head
    assert "sensitive" not in predictions(component, ["hello"])[0]


def test_unknown_sensitive_label_is_an_error_naming_label_and_example(tmp_path: Path,
                                                                     tiny_model_dir: Path) -> None:
    data = TrainingData(training_examples=[
        Message.build("hello", "greet"),
        Message.build("my card was stolen", "complain", example_metadata={"sensitive": "theft"}),
    ])
    with pytest.raises(InvalidConfigException, match=r"theft.*sensitive_labels.*my card was stolen"):
        train_component(tmp_path, tiny_config(tiny_model_dir), data)


def test_custom_labels_and_intent_level_metadata(tmp_path: Path, tiny_model_dir: Path) -> None:
    """The first configured label is the default; intent-level metadata labels all of its examples."""
    data = TrainingData(training_examples=[
        Message.build("hello", "greet"),
        Message.build("hi there", "greet"),
        Message.build("i want a lawyer", "threat", intent_metadata={"sensitive": "Legal"}),
        Message.build("see you in court", "threat", intent_metadata={"sensitive": "legal"}),
    ])
    config = tiny_config(tiny_model_dir, epochs=1, sensitive_labels=["ok", "legal"])
    component = train_component(tmp_path, config, data)[0]
    assert component.sensitive_labels == ["ok", "legal"]
    [plain, empty] = predictions(component, ["hello", ""])
    assert_sensitive_output(plain, ["ok", "legal"])
    assert_default_sensitive(empty, "ok")


def test_old_format_model_without_the_head_still_loads(trained_without_sensitive, tmp_path: Path) -> None:
    """A model persisted before the sensitive head existed (format 1, no `sensitive_labels`)."""
    component, storage, resource, config = trained_without_sensitive
    old_storage = LocalModelStorage(tmp_path)
    with storage.read_from(resource) as source, old_storage.write_to(resource) as target:
        shutil.copytree(source, target, dirs_exist_ok=True)
        meta_path = Path(target) / META_FILE
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        meta.pop("sensitive_labels")
        meta["format_version"] = 1
        meta_path.write_text(json.dumps(meta), encoding="utf-8")
    old = load_component(old_storage, resource, config)
    assert not old.has_sensitive_head
    np.testing.assert_allclose(old.predict_probabilities(PLAIN_TEXTS)[0],
                               component.predict_probabilities(PLAIN_TEXTS)[0], atol=1e-6)
    for output in predictions(old, ["hello", ""]):
        assert "sensitive" not in output


def test_a_model_with_the_head_and_old_meta_is_rejected_clearly(trained, tmp_path: Path) -> None:
    """Head weights the meta file does not declare are a corrupt model, not a silent drop."""
    _, storage, resource, config = trained
    copy = LocalModelStorage(tmp_path)
    with storage.read_from(resource) as source, copy.write_to(resource) as target:
        shutil.copytree(source, target, dirs_exist_ok=True)
        meta_path = Path(target) / META_FILE
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        meta["sensitive_labels"] = []
        meta_path.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(TransformerModelLoadError, match="sensitive_head"):
        load_component(copy, resource, config)


@pytest.mark.parametrize("setting", ["dynamic_int8", "dynamic_int8_per_channel"])
def test_int8_keeps_the_sensitive_head_close_to_fp32(trained, setting: str) -> None:
    _, storage, resource, config = trained
    fp32 = load_component(storage, resource, {**config, "quantization": "none"})
    int8 = load_component(storage, resource, {**config, "quantization": setting})
    assert int8.quantized and isinstance(int8.model.sensitive_head, torch.nn.Linear)
    expected, actual = fp32.predict_all(ALL_TEXTS)[2], int8.predict_all(ALL_TEXTS)[2]
    np.testing.assert_allclose(actual, expected, atol=0.05)
    assert np.mean(actual.argmax(-1) == expected.argmax(-1)) >= 0.9
    for output in predictions(int8, ALL_TEXTS[:3] + ["", "/greet"]):
        assert_sensitive_output(output)


def test_cosine_intent_head_with_validation_split(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = tiny_config(tiny_model_dir, intent_head="cosine", epochs=3, validation_split=0.25,
                         early_stopping_patience=0)
    component, storage, resource = train_component(tmp_path, config, sensitive_training_data())
    assert "val_sensitive_acc" in component.training_summary
    loaded = load_component(storage, resource, config)
    np.testing.assert_allclose(loaded.predict_all(ALL_TEXTS)[2], component.predict_all(ALL_TEXTS)[2],
                               atol=1e-6)
    for output in predictions(loaded, ALL_TEXTS[:4]):
        assert_sensitive_output(output)


def test_sensitive_class_weights_and_loss_weight_reach_the_loss(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import components.classifiers.transformer_intent_emotion as module

    calls: List[Tuple[int, Optional[torch.Tensor]]] = []
    original = module._masked_cross_entropy

    def spy(logits: torch.Tensor, labels: torch.Tensor,
            weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        calls.append((logits.shape[-1], weight))
        return original(logits, labels, weight)

    monkeypatch.setattr(module, "_masked_cross_entropy", spy)
    config = tiny_config(tiny_model_dir, epochs=1, sensitive_class_weights="balanced")
    train_component(tmp_path / "weighted", config, sensitive_training_data())
    sensitive_weights = [weight for classes, weight in calls if classes == len(SENSITIVE_LABELS)]
    assert sensitive_weights and all(weight is not None for weight in sensitive_weights)
    counts = np.bincount([0] * len(PLAIN_TEXTS) + [1] * 4 + [2] * 4, minlength=len(SENSITIVE_LABELS))
    expected = [counts.sum() / (3 * count) if count else 1.0 for count in counts]
    assert sensitive_weights[0].tolist() == pytest.approx(expected)

    # sensitive_loss_weight scales the head's loss: weight 0 leaves the head at its initialisation
    calls.clear()
    monkeypatch.setattr(module, "_masked_cross_entropy", original)
    zero = tiny_config(tiny_model_dir, epochs=2, sensitive_loss_weight=0.0, weight_decay=0.0)
    frozen = train_component(tmp_path / "zero", zero, sensitive_training_data())[0]
    torch.manual_seed(int(frozen.config["seed"]))  # the heads as `train` initialised them
    reference = module._JointModel(frozen.model.encoder, len(frozen.intent_labels),
                                   len(frozen.emotion_labels), 0.0, "mean",
                                   num_sensitive=len(SENSITIVE_LABELS))
    assert reference.sensitive_head is not None and frozen.model.sensitive_head is not None
    torch.testing.assert_close(frozen.model.sensitive_head.weight.cpu(), reference.sensitive_head.weight)


@pytest.mark.parametrize(
    "overrides", [{"sensitive_labels": []}, {"sensitive_labels": ["none", "fraud", "none"]},
                  {"sensitive_labels": "fraud"}, {"sensitive_labels": ["none", None]},
                  {"sensitive_class_weights": "inverse"}, {"sensitive_loss_weight": -1.0}]
)
def test_invalid_sensitive_config_is_rejected(tiny_model_dir: Path, overrides: Dict[str, Any]) -> None:
    with pytest.raises(InvalidConfigException):
        TransformerIntentEmotionClassifier.create(
            tiny_config(tiny_model_dir, **overrides), LocalModelStorage(Path("/nonexistent")),
            Resource("x"), context()
        )


NLU_YAML = """
version: "3.1"
nlu:
  - intent: greet
    examples: |
      - hello
      - hi there
      - good morning
  - intent: order_status
    examples:
      - text: where is my order
      - text: has my parcel shipped
      - text: there are charges on my card i never made
        metadata: {emotion: neutral, sensitive: fraud}
      - text: the parcel arrived and the battery inside caught fire
        metadata: {emotion: fear, sensitive: safety}
"""


def test_sensitive_reaches_the_parse_data_of_a_real_rasa_pipeline(tmp_path: Path,
                                                                   tiny_model_dir: Path) -> None:
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    config = yaml.safe_load(TINY_PIPELINE_CONFIG.read_text(encoding="utf-8"))
    # no entities in this data: drop the regex extractor (it only warns about missing lookup tables)
    config["pipeline"] = [c for c in config["pipeline"] if c["name"] != "RegexEntityExtractor"]
    for component in config["pipeline"]:
        if component["name"].endswith("TransformerIntentEmotionClassifier"):
            component.update({"model_name_or_path": str(tiny_model_dir), "epochs": 3, "num_threads": 1})
    (tmp_path / "config.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (tmp_path / "nlu.yml").write_text(NLU_YAML, encoding="utf-8")
    model_path = train_nlu(str(tmp_path / "config.yml"), str(tmp_path / "nlu.yml"), str(tmp_path / "models"))
    agent = Agent.load(model_path)

    async def parse(text: str) -> Dict[str, Any]:
        return await agent.parse_message(text)

    result = asyncio.run(parse("somebody charged my card"))
    ranking = assert_sensitive_output(result)["ranking"]
    assert len(ranking) == 5  # ranking_length of the tiny config
    event = UserUttered(result["text"], result["intent"], result["entities"], result)
    tracker = DialogueStateTracker.from_events("shopper", [event])
    assert tracker.current_state()["latest_message"]["sensitive"] == result["sensitive"]
    assert_default_sensitive(asyncio.run(parse("")))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["auto", "fp16"])
def test_cuda_training_and_inference_with_the_sensitive_head(tmp_path: Path, tiny_model_dir: Path,
                                                             precision: str) -> None:
    config = tiny_config(tiny_model_dir, device="auto", mixed_precision=precision)
    component, storage, resource = train_component(tmp_path, config, sensitive_training_data())
    assert component.device.type == "cuda"
    loaded = load_component(storage, resource, {**config, "quantization": "dynamic_int8"})
    assert loaded.device.type == "cuda" and not loaded.quantized
    outputs = predictions(loaded, ALL_TEXTS + ["", "/greet", "x" * 100_000])
    for output in outputs:
        assert_sensitive_output(output)
    names = [output["sensitive"]["name"] for output in outputs[: len(ALL_GOLD)]]
    assert np.mean([name == gold for name, gold in zip(names, ALL_GOLD, strict=True)]) >= 0.9
