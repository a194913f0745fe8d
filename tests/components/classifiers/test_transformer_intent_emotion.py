"""TransformerIntentEmotionClassifier through Rasa's graph APIs, on a tiny random BERT (fast, offline)."""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import pytest
import torch
import yaml
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.classifiers.transformer_intent_emotion import (
    HEADS_FILE,
    IGNORE_INDEX,
    META_FILE,
    TransformerIntentEmotionClassifier,
    TransformerModelLoadError,
    apply_quantization,
    class_weights,
    configure_threads,
    default_model_path,
    intent_name_as_text,
    read_emotion_file,
    resolve_device,
    resolve_precision,
)
from tests.components.contracts import assert_emotion_output, assert_intent_output
from tests.components.tiny_models import build_tiny_bert

REPO = Path(__file__).resolve().parents[3]
TINY_PIPELINE_CONFIG = REPO / "tests" / "configs" / "transformer_tiny.yml"

# Three trivially separable intents; greet examples are joyful, complaints angry, the rest unlabelled.
TOY: Dict[str, Tuple[Optional[str], List[str]]] = {
    "greet": ("joy", ["hello", "hi", "hey there", "good morning", "hello friend", "hi hi", "hey hello",
                      "good evening"]),
    "complain": ("anger", ["this is terrible", "i am furious", "awful service", "worst shop ever",
                           "i hate this", "so angry right now", "terrible terrible", "you ruined my day"]),
    "order_status": (None, ["where is my order", "track my package", "order status please",
                            "has my parcel shipped", "when will my order arrive", "tracking number",
                            "where is my parcel", "is my order on its way"]),
}
TOY_TEXTS = [text for _, (_, texts) in TOY.items() for text in texts]
TOY_INTENTS = [intent for intent, (_, texts) in TOY.items() for _ in texts]
TOY_EMOTIONS = [emotion or "neutral" for _, (emotion, texts) in TOY.items() for _ in texts]


def toy_training_data() -> TrainingData:
    messages = [
        Message.build(text, intent, example_metadata={"emotion": emotion} if emotion else None)
        for intent, (emotion, texts) in TOY.items()
        for text in texts
    ]
    return TrainingData(training_examples=messages)


def tiny_config(model_dir: Path, **overrides: Any) -> Dict[str, Any]:
    config = {
        "model_name_or_path": str(model_dir),
        "epochs": 30,
        "batch_size": 8,
        "learning_rate": 3e-3,
        "warmup_ratio": 0.0,
        "max_length": 16,
        "device": "cpu",
        "num_threads": 1,
        "show_progress": False,
        # exact round-trip checks compare with the fp32 training model; int8 has its own tests
        "quantization": "none",
    }
    config.update(overrides)
    return {**TransformerIntentEmotionClassifier.get_default_config(), **config}


def context(name: str = "transformer_classifier") -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), node_name=name)


def train_component(
    storage_dir: Path, config: Dict[str, Any], data: Optional[TrainingData] = None
) -> Tuple[TransformerIntentEmotionClassifier, LocalModelStorage, Resource]:
    storage_dir.mkdir(parents=True, exist_ok=True)
    storage = LocalModelStorage(storage_dir)
    resource = Resource("transformer_classifier")
    component = TransformerIntentEmotionClassifier.create(config, storage, resource, context())
    returned = component.train(data or toy_training_data())
    assert returned == resource
    return component, storage, resource


def load_component(
    storage: LocalModelStorage, resource: Resource, config: Dict[str, Any]
) -> TransformerIntentEmotionClassifier:
    return TransformerIntentEmotionClassifier.load(config, storage, resource, context())


def predictions(component: TransformerIntentEmotionClassifier, texts: List[str]) -> List[Dict[str, Any]]:
    messages = component.process([Message(data={"text": text}) for text in texts])
    return [message.as_dict(only_output_properties=True) for message in messages]


def accuracy(outputs: List[Dict[str, Any]], key: str, gold: List[str]) -> float:
    return float(np.mean([output[key]["name"] == label for output, label in zip(outputs, gold, strict=True)]))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path):
    config = tiny_config(tiny_model_dir)
    component, storage, resource = train_component(tmp_path_factory.mktemp("storage"), config)
    return component, storage, resource, config


@pytest.fixture(scope="module")
def loaded(trained) -> TransformerIntentEmotionClassifier:
    _, storage, resource, config = trained
    return load_component(storage, resource, config)


def test_every_default_config_key_is_documented() -> None:
    source = inspect.getsource(TransformerIntentEmotionClassifier.get_default_config)
    lines = source.splitlines()
    keys = TransformerIntentEmotionClassifier.get_default_config()
    assert {"model_name_or_path", "max_length", "epochs", "batch_size", "learning_rate", "warmup_ratio",
            "weight_decay", "seed", "device", "mixed_precision", "validation_split",
            "early_stopping_patience", "ranking_length", "emotion_loss_weight", "num_threads",
            "emotion_data_path", "default_emotion"} <= set(keys)
    for index, line in enumerate(lines):
        if re.match(r"\s+[A-Z_]+: ", line):  # a `KEY: default,` entry: the line above is its comment
            assert lines[index - 1].strip().startswith("#"), f"undocumented config entry: {line.strip()}"
    assert (default_model_path() / "config.json").is_file()


def test_learns_a_trivially_separable_toy_set(trained) -> None:
    component = trained[0]
    outputs = predictions(component, TOY_TEXTS)
    intent_accuracy = accuracy(outputs, "intent", TOY_INTENTS)
    emotion_accuracy = accuracy(outputs, "emotion", TOY_EMOTIONS)
    assert intent_accuracy >= 0.9, intent_accuracy  # chance is 1/3
    assert emotion_accuracy >= 0.9, emotion_accuracy
    assert component.training_summary["train_examples"] == len(TOY_TEXTS)


def test_round_trip_gives_the_same_predictions(trained, loaded) -> None:
    component = trained[0]
    texts = TOY_TEXTS + ["where is my order SA-100042?", "i am so happy today"]
    before, after = component.predict_probabilities(texts), loaded.predict_probabilities(texts)
    np.testing.assert_allclose(before[0], after[0], atol=1e-6)
    np.testing.assert_allclose(before[1], after[1], atol=1e-6)
    assert predictions(component, texts) == predictions(loaded, texts)
    assert loaded.intent_labels == ["complain", "greet", "order_status"]


def test_persisted_files_are_safetensors_and_json_only(trained) -> None:
    _, storage, resource, _ = trained
    with storage.read_from(resource) as directory:
        paths = [path for path in Path(directory).rglob("*") if path.is_file()]
        files = {path.relative_to(directory).as_posix() for path in paths}
    assert {META_FILE, HEADS_FILE, "encoder/model.safetensors", "encoder/config.json"} <= files
    assert not [name for name in files if name.endswith((".bin", ".pt", ".pkl", ".pickle"))]


@pytest.mark.parametrize("ranking_length, expected_intents, expected_emotions", [(2, 2, 2), (0, 3, 6)])
def test_ranking_length_and_plain_float_outputs(
    trained, ranking_length: int, expected_intents: int, expected_emotions: int
) -> None:
    _, storage, resource, config = trained
    component = load_component(storage, resource, {**config, "ranking_length": ranking_length})
    for output in predictions(component, ["hello", "where is my parcel", "terrible"]):
        assert_intent_output(output, ranking_length=expected_intents)
        assert_emotion_output(output)
        assert len(output["intent_ranking"]) == expected_intents
        assert len(output["emotion"]["ranking"]) == expected_emotions


def test_training_is_deterministic_for_a_fixed_seed(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = tiny_config(tiny_model_dir, epochs=3, seed=7)
    first = train_component(tmp_path / "a", config)[0].predict_probabilities(TOY_TEXTS)
    second = train_component(tmp_path / "b", config)[0].predict_probabilities(TOY_TEXTS)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    other_seed = train_component(tmp_path / "c", {**config, "seed": 8})[0].predict_probabilities(TOY_TEXTS)
    assert not np.array_equal(first[0], other_seed[0])


def test_every_message_gets_an_emotion_incl_payloads_and_empty_text(loaded) -> None:
    messages = [Message(data={"text": text}) for text in ["/greet", '/order_status{"order_id": "SA-1"}', "",
                                                          "   ", "hello"]]
    messages.append(Message(data={}))  # no text at all
    for message in loaded.process(messages):
        assert_intent_output(message)
        assert_emotion_output(message)
    payload, payload_entities, empty, blank, _, missing = messages
    for message in (payload, payload_entities, empty, blank, missing):
        assert message.get("emotion")["name"] == "neutral"
        assert message.get("emotion")["confidence"] == 1.0
    for message in (empty, blank, missing):  # FallbackClassifier turns these into nlu_fallback
        assert message.get("intent") == {"name": None, "confidence": 0.0}
    assert payload.get("intent")["name"] in loaded.intent_labels


def test_a_100_kb_message_is_truncated_before_the_tokenizer(loaded, monkeypatch) -> None:
    """Only the first ``max_chars`` characters reach the tokenizer, so a huge message costs no more than a
    long one (checked by what the tokenizer is given, not by a wall-clock limit on a shared machine)."""
    huge = "where is my order " * 6000  # ~108 KB
    assert len(huge.encode()) > 100_000
    tokenized: List[str] = []
    encode = loaded._encode

    def spy(texts):  # noqa: ANN001, ANN202 - the component's own signature
        tokenized.extend(texts)
        return encode(texts)

    monkeypatch.setattr(loaded, "_encode", spy)
    [output] = predictions(loaded, [huge])
    assert tokenized and max(len(text) for text in tokenized) <= loaded.max_chars < len(huge)
    assert_intent_output(output)
    assert_emotion_output(output)
    assert output["text"] == huge  # the message keeps its text; only the model input is cut
    cut = loaded.predict_probabilities([huge[: loaded.max_chars]])
    np.testing.assert_allclose(loaded.predict_probabilities([huge])[0], cut[0], atol=1e-6)


def test_non_english_and_emoji_input(loaded) -> None:
    texts = ["¿Dónde está mi pedido? 📦", "我的订单在哪里", "😡😡😡", "Привет!", "👍", "مرحبا", "\u200b\t\n"]
    for output in predictions(loaded, texts):
        assert_intent_output(output)
        assert_emotion_output(output)


def test_batched_process_matches_single_messages(loaded) -> None:
    texts = [f"{TOY_TEXTS[i % len(TOY_TEXTS)]} {'x' * (i % 7)}" for i in range(150)]  # > 2 batches
    batched = predictions(loaded, texts)
    singles = [predictions(loaded, [text])[0] for text in texts[:20]]
    for one, many in zip(singles, batched[:20], strict=True):
        assert one["intent"]["name"] == many["intent"]["name"]
        assert one["intent"]["confidence"] == pytest.approx(many["intent"]["confidence"], abs=1e-5)
    assert [o["text"] for o in batched] == texts  # order preserved


def test_missing_resource_gives_an_untrained_component(tmp_path: Path, tiny_model_dir: Path, caplog) -> None:
    storage = LocalModelStorage(tmp_path)
    with caplog.at_level(logging.WARNING):
        component = load_component(storage, Resource("never_trained"), tiny_config(tiny_model_dir))
    assert "no trained model" in caplog.text
    [output] = predictions(component, ["hello"])
    assert output["intent"] == {"name": None, "confidence": 0.0}
    assert output["intent_ranking"] == []
    assert output["emotion"]["name"] == "neutral"


def test_training_without_intent_examples_persists_nothing(tmp_path: Path, tiny_model_dir: Path) -> None:
    component, storage, resource = train_component(
        tmp_path, tiny_config(tiny_model_dir), TrainingData(training_examples=[Message.build("hi")])
    )
    assert component.model is None
    with pytest.raises(ValueError):
        with storage.read_from(resource):
            pass


def _corrupt_meta(directory: Path) -> None:
    (directory / META_FILE).write_text("{not json", encoding="utf-8")


def _drop_weights(directory: Path) -> None:
    (directory / "encoder" / "model.safetensors").unlink()


def _truncate_heads(directory: Path) -> None:
    heads = directory / HEADS_FILE
    heads.write_bytes(heads.read_bytes()[:50])


def _empty(directory: Path) -> None:
    shutil.rmtree(directory)
    directory.mkdir()


@pytest.mark.parametrize("damage", [_corrupt_meta, _drop_weights, _truncate_heads, _empty])
def test_corrupt_model_directory_raises_a_clear_error(trained, tmp_path: Path, damage) -> None:
    _, storage, resource, config = trained
    (tmp_path / "copy").mkdir()
    copy_storage = LocalModelStorage(tmp_path / "copy")
    with storage.read_from(resource) as source, copy_storage.write_to(resource) as target:
        shutil.copytree(source, target, dirs_exist_ok=True)
        damage(Path(target))
    with pytest.raises(TransformerModelLoadError, match="corrupt or incomplete"):
        load_component(copy_storage, resource, config)


def test_fingerprint_addon_follows_checkpoint_contents(tmp_path: Path, tiny_model_dir: Path) -> None:
    addon = TransformerIntentEmotionClassifier.fingerprint_addon
    original = addon(tiny_config(tiny_model_dir))
    assert original == addon(tiny_config(tiny_model_dir))
    same_contents = tmp_path / "same"
    shutil.copytree(tiny_model_dir, same_contents)
    assert addon(tiny_config(same_contents)) == original
    retrained = build_tiny_bert(tmp_path / "other", seed=1)  # same architecture, same file sizes
    assert addon(tiny_config(retrained)) != original
    with_corpus = tiny_config(tiny_model_dir, emotion_data_path=str(tmp_path / "emotions.csv"))
    (tmp_path / "emotions.csv").write_text("text,label\nyay,joy\n", encoding="utf-8")
    first = addon(with_corpus)
    (tmp_path / "emotions.csv").write_text("text,label\nyay,joy\nugh,anger\n", encoding="utf-8")
    assert addon(with_corpus) not in (first, original)
    assert addon({}) == addon({"model_name_or_path": None})  # the shipped checkpoint


def test_external_emotion_corpus_is_read_and_mapped(tmp_path: Path, tiny_model_dir: Path) -> None:
    corpus = tmp_path / "emotions.tsv"
    corpus.write_text(
        "id\ttext\temotion\n1\tso happy with this\tJoy\n2\twow did not expect that\tsurprise\n"
        "3\tgross\tdisgust\n4\ti am scared\tfear\n5\tmeh\tboredom\n6\t\tjoy\n",
        encoding="utf-8",
    )
    label_map = {"surprise": "confusion", "disgust": None}
    rows = read_emotion_file(str(corpus), "text", "emotion", label_map)
    assert rows == [("so happy with this", "joy"), ("wow did not expect that", "confusion"),
                    ("i am scared", "fear"), ("meh", "boredom")]
    config = tiny_config(tiny_model_dir, epochs=1, emotion_data_path=str(corpus),
                         emotion_data_label_column="emotion", emotion_label_map=label_map)
    component = train_component(tmp_path / "storage", config)[0]
    assert component.training_summary["train_examples"] == len(TOY_TEXTS) + 3  # "boredom" dropped
    with pytest.raises(InvalidConfigException, match="no column"):
        read_emotion_file(str(corpus), "sentence", "emotion")


def test_unknown_emotion_label_in_nlu_data_is_an_error(tmp_path: Path, tiny_model_dir: Path) -> None:
    example = Message.build("grr", "complain", example_metadata={"emotion": "angry"})
    data = TrainingData(training_examples=[example])
    with pytest.raises(InvalidConfigException, match="angry"):
        train_component(tmp_path, tiny_config(tiny_model_dir), data)


@pytest.mark.parametrize(
    "overrides", [{"default_emotion": "happy"}, {"pooling": "max"}, {"validation_split": 1.0},
                  {"mixed_precision": "fp8"}, {"max_length": 0}, {"quantization": "int4"},
                  {"intent_head": "mlp"}, {"head_learning_rate": 0},
                  {"intent_temperature": 0}, {"emotion_class_weights": "inverse"}]
)
def test_invalid_config_is_rejected(tiny_model_dir: Path, overrides: Dict[str, Any]) -> None:
    with pytest.raises(InvalidConfigException):
        TransformerIntentEmotionClassifier.create(
            tiny_config(tiny_model_dir, **overrides), LocalModelStorage(Path("/nonexistent")),
            Resource("x"), context()
        )


def test_validation_split_with_early_stopping(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = tiny_config(tiny_model_dir, epochs=6, validation_split=0.25, early_stopping_patience=1)
    summary = train_component(tmp_path, config)[0].training_summary
    assert summary["validation_examples"] == 6 and summary["train_examples"] == 18  # 2 of 8 per intent
    assert 1 <= summary["best_epoch"] <= summary["epochs_run"] <= 6
    assert {"val_loss", "val_intent_acc", "val_emotion_acc"} <= set(summary)


def test_device_and_precision_fall_back_to_cpu(monkeypatch, caplog) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with caplog.at_level(logging.INFO):
        assert resolve_device("cuda").type == "cpu"
        assert resolve_device("auto").type == "cpu"
    assert "falling back to the CPU" in caplog.text
    assert resolve_precision("bf16", torch.device("cpu")) is None
    assert resolve_precision("auto", torch.device("cpu")) is None


def test_num_threads_sets_torch_threads() -> None:
    before = torch.get_num_threads()
    try:
        assert configure_threads(1) == 1 and torch.get_num_threads() == 1
        assert configure_threads(0) >= 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["auto", "fp16", "no"])
def test_cuda_training_and_inference(tmp_path: Path, tiny_model_dir: Path, precision: str) -> None:
    config = tiny_config(tiny_model_dir, device="auto", mixed_precision=precision)
    component, storage, resource = train_component(tmp_path, config)
    assert component.device.type == "cuda"
    loaded = load_component(storage, resource, config)
    assert next(loaded.model.parameters()).device.type == "cuda"
    outputs = predictions(loaded, TOY_TEXTS + ["", "/greet", "x" * 100_000])
    for output in outputs:
        assert_intent_output(output)
        assert_emotion_output(output)
    assert accuracy(outputs[: len(TOY_INTENTS)], "intent", TOY_INTENTS) >= 0.9


NLU_YAML = """
version: "3.1"
nlu:
  - intent: greet
    examples: |
      - hello
      - hi there
      - good morning
      - hey
  - intent: order_status
    examples:
      - text: where is my [hoodie](product) order
      - text: track my [jacket](product) order
      - text: has my parcel shipped
      - text: why is my order STILL not here?!
        metadata: {emotion: anger}
  - lookup: product
    examples: |
      - hoodie
      - jacket
"""


def test_parse_through_a_real_rasa_pipeline(tmp_path: Path, tiny_model_dir: Path) -> None:
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    config = yaml.safe_load(TINY_PIPELINE_CONFIG.read_text(encoding="utf-8"))
    for component in config["pipeline"]:
        if component["name"].endswith("TransformerIntentEmotionClassifier"):
            component.update({"model_name_or_path": str(tiny_model_dir), "epochs": 5, "num_threads": 1})
    (tmp_path / "config.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (tmp_path / "nlu.yml").write_text(NLU_YAML, encoding="utf-8")

    model_path = train_nlu(str(tmp_path / "config.yml"), str(tmp_path / "nlu.yml"), str(tmp_path / "models"))
    assert model_path
    agent = Agent.load(model_path)

    async def parse(text: str) -> Dict[str, Any]:
        return await agent.parse_message(text)

    result = asyncio.run(parse("where is my hoodie"))
    assert_intent_output(result, ranking_length=5)
    assert_emotion_output(result)
    assert [entity["value"] for entity in result["entities"]] == ["hoodie"]  # extractor still works

    # parse data → tracker: what actions see as tracker.latest_message["emotion"]
    event = UserUttered(result["text"], result["intent"], result["entities"], result)
    tracker = DialogueStateTracker.from_events("shopper", [event])
    assert tracker.current_state()["latest_message"]["emotion"] == result["emotion"]

    empty = asyncio.run(parse(""))
    assert empty["intent"]["name"] == "nlu_fallback" and empty["emotion"]["name"] == "neutral"

    # `/intent` payloads: Rasa's RegexMessageHandler (always the last NLU node) replaces the message
    # with a new one holding only text/intent/intent_ranking/entities, so `emotion` does not reach the
    # parse data there. Consumers must treat a missing emotion as neutral.
    payload = asyncio.run(parse("/greet"))
    assert payload["intent"]["name"] == "greet"
    assert "emotion" not in payload


# ---------------------------------------------------------------------------------- int8 quantization
def _quantized_linear_count(module: torch.nn.Module) -> int:
    return sum(1 for child in module.modules() if ".quantized." in type(child).__module__)


def _resource_digests(storage: LocalModelStorage, resource: Resource) -> Dict[str, bytes]:
    with storage.read_from(resource) as directory:
        return {path.relative_to(directory).as_posix(): path.read_bytes()
                for path in sorted(Path(directory).rglob("*")) if path.is_file()}


def test_per_channel_dynamic_int8_is_the_default() -> None:
    default = TransformerIntentEmotionClassifier.get_default_config()["quantization"]
    assert default == "dynamic_int8_per_channel"


@pytest.mark.parametrize("setting", ["dynamic_int8", "dynamic_int8_per_channel"])
def test_dynamic_int8_predictions_stay_close_to_fp32(trained, setting: str) -> None:
    _, storage, resource, config = trained
    fp32 = load_component(storage, resource, {**config, "quantization": "none"})
    int8 = load_component(storage, resource, {**config, "quantization": setting})
    assert not fp32.quantized and _quantized_linear_count(fp32.model) == 0
    assert int8.quantized and _quantized_linear_count(int8.model.encoder) > 0
    assert isinstance(int8.model.intent_head, torch.nn.Linear)  # heads stay fp32
    texts = TOY_TEXTS + ["where is my order SA-100042?", "i am so happy today"]
    for expected, actual in zip(fp32.predict_probabilities(texts), int8.predict_probabilities(texts),
                                strict=True):
        np.testing.assert_allclose(actual, expected, atol=0.05)
        assert np.mean(actual.argmax(-1) == expected.argmax(-1)) >= 0.9
    for output in predictions(int8, texts + ["", "/greet"]):
        assert_intent_output(output)
        assert_emotion_output(output)


def test_dynamic_int8_leaves_the_persisted_model_unchanged(trained) -> None:
    _, storage, resource, config = trained
    before = _resource_digests(storage, resource)
    int8 = load_component(storage, resource, {**config, "quantization": "dynamic_int8"})
    assert int8.quantized
    assert _resource_digests(storage, resource) == before
    int8.persist()  # a loaded component has no storage write of its own: still fp32 on disk
    assert _resource_digests(storage, resource) == before
    fp32 = load_component(storage, resource, {**config, "quantization": "none"})
    assert all(param.dtype == torch.float32 for param in fp32.model.parameters())


def test_quantization_never_touches_a_cuda_model(trained, caplog) -> None:
    component = trained[0]
    model = component.model
    encoder = model.encoder
    with caplog.at_level(logging.INFO):
        assert apply_quantization(model, "dynamic_int8", torch.device("cuda")) is False
    assert model.encoder is encoder and _quantized_linear_count(model) == 0
    assert "CPU only" in caplog.text
    assert apply_quantization(model, "none", torch.device("cpu")) is False
    assert model.encoder is encoder


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_load_ignores_dynamic_int8(trained) -> None:
    _, storage, resource, config = trained
    loaded = load_component(storage, resource, {**config, "device": "cuda", "quantization": "dynamic_int8"})
    assert loaded.device.type == "cuda" and not loaded.quantized
    assert _quantized_linear_count(loaded.model) == 0


def test_a_single_message_is_not_padded(loaded) -> None:
    single = loaded._encode(["where is my order"])
    assert bool(single["attention_mask"].all())
    batch = loaded._encode(["hi", "where is my order please"])
    assert batch["input_ids"].shape[1] == single["input_ids"].shape[1] + 1  # padded to the longest only
    assert not bool(batch["attention_mask"][0].all())


# ---------------------------------------------------------------------------------- cosine intent head
def test_cosine_head_with_prototype_init_learns_and_round_trips(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = tiny_config(tiny_model_dir, intent_head="cosine", head_learning_rate=1e-2, epochs=10)
    component, storage, resource = train_component(tmp_path, config)
    head = component.model.intent_head
    assert type(head).__name__ == "_CosineHead" and head.log_scale.requires_grad
    outputs = predictions(component, TOY_TEXTS)
    assert accuracy(outputs, "intent", TOY_INTENTS) >= 0.9
    loaded = load_component(storage, resource, config)
    np.testing.assert_allclose(loaded.predict_probabilities(TOY_TEXTS)[0],
                               component.predict_probabilities(TOY_TEXTS)[0], atol=1e-6)
    with storage.read_from(resource) as directory:
        meta = yaml.safe_load((Path(directory) / META_FILE).read_text(encoding="utf-8"))
    assert meta["intent_head"] == "cosine"


def test_prototype_init_is_a_nearest_class_mean_classifier(tmp_path: Path, tiny_model_dir: Path) -> None:
    # zero epochs: the head is exactly the prototypes of the untouched encoder
    config = tiny_config(tiny_model_dir, intent_head="cosine", epochs=0)
    component = train_component(tmp_path, config)[0]
    weight = component.model.intent_head.weight.detach()
    np.testing.assert_allclose(weight.norm(dim=-1).numpy(), 1.0, atol=1e-5)
    accuracy_at_init = accuracy(predictions(component, TOY_TEXTS), "intent", TOY_INTENTS)
    assert accuracy_at_init > 1 / 3  # better than chance before any fine-tuning


def test_head_learning_rate_gives_the_heads_their_own_group(trained) -> None:
    component = trained[0]
    component.config = {**component.config, "learning_rate": 1e-4, "head_learning_rate": 5e-3}
    optimizer = component._optimizer(component.model)
    encoder_ids = {id(p) for p in component.model.encoder.parameters()}
    for group in optimizer.param_groups:
        is_encoder = {id(p) in encoder_ids for p in group["params"]}
        assert len(is_encoder) == 1
        assert group["lr"] == (1e-4 if is_encoder.pop() else 5e-3)
    total = sum(len(group["params"]) for group in optimizer.param_groups)
    assert total == sum(1 for p in component.model.parameters() if p.requires_grad)


def test_intent_temperature_softens_confidences_but_keeps_the_ranking(trained) -> None:
    """A temperature above 1 lowers the top confidence (so FallbackClassifier catches more unfamiliar
    messages) without changing which intent wins or the order of the ranking."""
    _, storage, resource, config = trained
    sharp = load_component(storage, resource, {**config, "intent_temperature": 1.0})
    soft = load_component(storage, resource, {**config, "intent_temperature": 3.0})
    texts = ["where is my parcel", "I love it", "hello there"]
    for before, after in zip(predictions(sharp, texts), predictions(soft, texts), strict=True):
        assert [e["name"] for e in before["intent_ranking"]] == [e["name"] for e in after["intent_ranking"]]
        assert after["intent"]["confidence"] < before["intent"]["confidence"]
        assert len(after["intent_ranking"]) == len(soft.intent_labels)  # this config ranks every intent
        assert abs(sum(e["confidence"] for e in after["intent_ranking"]) - 1.0) < 1e-6


@pytest.mark.parametrize("name, text", [
    ("track_order", "track order"), ("faq/returnPolicy", "faq return policy"),
    ("what_is_your_name", "what is your name"), ("book-flight", "book flight"), ("oos", "oos"),
])
def test_intent_names_read_as_words(name: str, text: str) -> None:
    assert intent_name_as_text(name) == text


def test_intent_name_examples_add_one_example_per_intent_without_emotion(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: Dict[str, Any] = {}
    original_fit = TransformerIntentEmotionClassifier._fit

    def capture(self: TransformerIntentEmotionClassifier, model: Any, dataset: List[Any]) -> Dict[str, Any]:
        seen["dataset"] = list(dataset)
        return original_fit(self, model, dataset)

    monkeypatch.setattr(TransformerIntentEmotionClassifier, "_fit", capture)
    data = toy_training_data()
    component = train_component(tmp_path / "names", tiny_config(tiny_model_dir, epochs=1,
                                                                 intent_name_examples=True), data)[0]
    plain = len(data.intent_examples)
    extra = seen["dataset"][plain:]
    assert [(e.text, component.intent_labels[e.intent]) for e in extra] == [
        (intent_name_as_text(label), label) for label in component.intent_labels]
    assert {e.emotion for e in extra} == {IGNORE_INDEX}

    train_component(tmp_path / "plain", tiny_config(tiny_model_dir, epochs=1), data)
    assert len(seen["dataset"]) == plain


def test_class_weights_balance_the_label_counts() -> None:
    labels = [0, 0, 0, 1, IGNORE_INDEX, IGNORE_INDEX]
    balanced = class_weights(labels, 3, "balanced")
    assert balanced is not None and balanced.tolist() == pytest.approx([4 / 6, 2.0, 1.0])
    root = class_weights(labels, 3, "sqrt_balanced")
    assert root is not None and root.tolist() == pytest.approx([(4 / 6) ** 0.5, 2.0 ** 0.5, 1.0])
    assert class_weights(labels, 3, None) is None
    assert class_weights([IGNORE_INDEX], 3, "balanced") is None


def test_emotion_class_weights_reach_the_emotion_loss(tmp_path: Path, tiny_model_dir: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import components.classifiers.transformer_intent_emotion as module

    weights_seen: List[Optional[torch.Tensor]] = []
    original = module._masked_cross_entropy

    def spy(logits: torch.Tensor, labels: torch.Tensor,
            weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        weights_seen.append(weight)
        return original(logits, labels, weight)

    monkeypatch.setattr(module, "_masked_cross_entropy", spy)
    component = train_component(tmp_path, tiny_config(tiny_model_dir, epochs=1,
                                                      emotion_class_weights="balanced"))[0]
    emotion_weights = [w for w in weights_seen if w is not None]
    assert emotion_weights and len(emotion_weights) == len(weights_seen) // 2  # intent loss unweighted
    labels = [component.emotion_labels.index(component._emotion_of(m))
              for m in toy_training_data().intent_examples]
    counts = np.bincount(labels, minlength=len(component.emotion_labels))
    expected = [counts.sum() / ((counts > 0).sum() * c) if c else 1.0 for c in counts]
    assert emotion_weights[0].tolist() == pytest.approx(expected)
