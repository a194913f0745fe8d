"""`frozen_intent_blend`: the intent probabilities pool the fine-tuned head with logistic regression on the
frozen base encoder's embeddings; stored with the model, off by default, validated, tolerant of old models."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from rasa.shared.exceptions import InvalidConfigException
from transformers import AutoModel

from components.classifiers.frozen_blend import FROZEN_DIR, FrozenIntentModel, blend, choose_c
from components.classifiers.transformer_intent_emotion import TransformerIntentEmotionClassifier
from tests.components.classifiers.test_transformer_intent_emotion import (
    TOY_INTENTS,
    TOY_TEXTS,
    context,
    load_component,
    predictions,
    tiny_config,
    train_component,
)

PROBE = ["hello there", "my parcel is late, where is it", "this is the worst", "good evening friend"]


@pytest.fixture(scope="module")
def blended(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path):
    config = tiny_config(tiny_model_dir, frozen_intent_blend=0.5, frozen_intent_skip_above=None)
    component, storage, resource = train_component(tmp_path_factory.mktemp("blend"), config)
    return component, storage, resource, config


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path):
    config = tiny_config(tiny_model_dir)
    component, storage, resource = train_component(tmp_path_factory.mktemp("plain"), config)
    return component, storage, resource, config


def intent_probabilities(component: TransformerIntentEmotionClassifier) -> np.ndarray:
    return component.predict_probabilities(PROBE)[0]


def test_off_by_default_and_nothing_stored(plain) -> None:
    component, storage, resource, _ = plain
    assert TransformerIntentEmotionClassifier.get_default_config()["frozen_intent_blend"] == 0.0
    assert component.frozen is None
    with storage.read_from(resource) as directory:
        assert not (Path(directory) / FROZEN_DIR).exists()


def test_blend_is_stored_and_pools_the_two_distributions(blended) -> None:
    component, storage, resource, config = blended
    with storage.read_from(resource) as directory:
        assert (Path(directory) / FROZEN_DIR).is_dir()
    loaded = load_component(storage, resource, config)
    fine_tuned_only = load_component(storage, resource, {**config, "frozen_intent_blend": 0.0})
    assert loaded.frozen is not None and fine_tuned_only.frozen is None
    inputs = loaded._encode(PROBE)  # one batch, in input order
    frozen = loaded.frozen.probabilities(inputs)
    # predict_all sorts by length, so compare row by row against the same texts one at a time
    expected = np.stack([
        blend(fine_tuned_only.predict_probabilities([text])[0][0],
              loaded.frozen.probabilities(loaded._encode([text]))[0], 0.5)
        for text in PROBE
    ])
    np.testing.assert_allclose(intent_probabilities(loaded), expected, atol=1e-6)
    np.testing.assert_allclose(frozen.sum(axis=1), 1.0, atol=1e-9)
    # the blend really moves the probabilities (a no-op pool would pass the check above too)
    assert not np.allclose(intent_probabilities(loaded), intent_probabilities(fine_tuned_only), atol=1e-3)
    # the stored model predicts what the freshly trained one did: the regression was fitted on the
    # fp16-rounded encoder the archive keeps
    np.testing.assert_allclose(intent_probabilities(loaded), intent_probabilities(component), atol=1e-6)


def test_geometric_and_linear_pools() -> None:
    sure = np.array([[0.7, 0.2, 0.1]])
    other = np.array([[0.1, 0.8, 0.1]])
    linear = blend(sure, other, 0.5, "linear")
    geometric = blend(sure, other, 0.5, "geometric")
    np.testing.assert_allclose(linear, [[0.4, 0.5, 0.1]])
    expected = np.sqrt(sure * other) / np.sqrt(sure * other).sum()
    np.testing.assert_allclose(geometric, expected)
    np.testing.assert_allclose(blend(sure, other, 0.0), sure)
    np.testing.assert_allclose(blend(sure, other, 1.0), other)
    # a zero in one model lowers a label without dividing by zero
    assert np.isfinite(blend(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]), 0.5)).all()
    with pytest.raises(ValueError):
        blend(sure, other, 0.5, "median")


def test_confident_messages_skip_the_frozen_pass(blended, monkeypatch) -> None:
    _, storage, resource, config = blended
    fine_tuned_only = load_component(storage, resource, {**config, "frozen_intent_blend": 0.0})
    texts = TOY_TEXTS + PROBE
    alone = fine_tuned_only.predict_probabilities(texts)[0]
    # the toy model is sure of most texts: skip above its median confidence, so both kinds occur
    skip = float(np.median(alone.max(axis=1)))
    component = load_component(storage, resource, {**config, "frozen_intent_skip_above": skip})
    calls = []
    original = component.frozen.probabilities
    monkeypatch.setattr(component.frozen, "probabilities", lambda inputs: calls.append(
        inputs["input_ids"].shape[0]) or original(inputs))
    pooled = component.predict_probabilities(texts)[0]
    sure = alone.max(axis=1) >= skip
    assert sure.any() and (~sure).any(), "the toy model should be sure of some texts and not of others"
    np.testing.assert_allclose(pooled[sure], alone[sure])
    assert not np.allclose(pooled[~sure], alone[~sure])
    assert sum(calls) == int((~sure).sum())


def test_the_frozen_encoder_is_the_untouched_base_checkpoint(blended, tiny_model_dir: Path) -> None:
    component = blended[0]
    base = AutoModel.from_pretrained(tiny_model_dir)
    name, weight = next(iter(base.state_dict().items()))
    frozen_weight = component.frozen.encoder.state_dict()[name]
    fine_tuned_weight = component.model.encoder.state_dict()[name]
    torch.testing.assert_close(frozen_weight, weight.half().float())  # rounded to fp16 as stored, no more
    assert not torch.equal(fine_tuned_weight, weight), "fine-tuning should have moved the encoder"


def test_with_quantization_the_regression_sees_int8_features_one_text_at_a_time(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    """Dynamic int8 scales activations per batch and a shopper's message is parsed alone: the regression is
    fitted on features made the same way, and the archive still gets the unquantized encoder."""
    from components.classifiers import frozen_blend

    sizes = []
    original = frozen_blend.mean_pooled
    monkeypatch.setattr(frozen_blend, "mean_pooled", lambda encoder, inputs: sizes.append(
        inputs["input_ids"].shape[0]) or original(encoder, inputs))
    config = tiny_config(tiny_model_dir, frozen_intent_blend=0.5, quantization="dynamic_int8_per_channel")
    component, storage, resource = train_component(tmp_path / "q", config)
    assert set(sizes) == {1} and len(sizes) == len(TOY_TEXTS)
    quantized = [type(module).__name__ for module in component.frozen.encoder.modules()]
    assert any("Quantized" in name or "quantized" in type(m).__module__
               for name, m in zip(quantized, component.frozen.encoder.modules(), strict=True))
    assert any(type(m) is torch.nn.Linear for m in component.frozen.stored.modules())
    loaded = load_component(storage, resource, config)
    assert loaded.frozen is not None
    assert predictions(loaded, ["hello there"])[0]["intent"]["name"]


def test_weight_one_predicts_with_the_frozen_model_alone(blended) -> None:
    _, storage, resource, config = blended
    only_frozen = load_component(storage, resource, {**config, "frozen_intent_blend": 1.0})
    outputs = predictions(only_frozen, TOY_TEXTS)
    learned = np.mean([out["intent"]["name"] == gold for out, gold in zip(outputs, TOY_INTENTS, strict=True)])
    assert learned > 0.5  # the regression fits its own training examples (chance: 1/3)


def test_a_model_trained_without_the_blend_loads_with_a_warning(plain, caplog) -> None:
    _, storage, resource, config = plain
    with caplog.at_level(logging.WARNING):
        loaded = load_component(storage, resource, {**config, "frozen_intent_blend": 0.5})
    assert loaded.frozen is None
    assert "trained without a frozen encoder" in caplog.text
    assert predictions(loaded, ["hello there"])[0]["intent"]["name"]


@pytest.mark.parametrize("value", [-0.1, 1.5, True, "half"])
def test_invalid_weights_are_refused(value, tiny_model_dir: Path, tmp_path: Path) -> None:
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    with pytest.raises(InvalidConfigException, match="frozen_intent_blend"):
        TransformerIntentEmotionClassifier.create(
            tiny_config(tiny_model_dir, frozen_intent_blend=value), LocalModelStorage(tmp_path),
            Resource("x"), context(),
        )


def test_two_intents_and_intents_order_follow_the_head(tiny_model_dir: Path) -> None:
    """sklearn's binary shape (one coefficient row) still yields one column per head label."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    encoder = AutoModel.from_pretrained(tiny_model_dir)
    texts = ["hello", "hi there", "hey", "where is my order", "track my parcel", "order status"]
    labels = ["greet"] * 3 + ["order_status"] * 3
    batches = [tokenizer(texts, padding=True, return_tensors="pt")]
    model = FrozenIntentModel.fit(encoder, batches, labels, ["order_status", "greet", "unused"], seed=1)
    probabilities = model.probabilities(tokenizer(texts, padding=True, return_tensors="pt"))
    assert probabilities.shape == (6, 3)
    assert np.all(probabilities[:, 2] < 1e-6)
    greet_column_higher = probabilities[:3, 1] > probabilities[:3, 0]
    order_column_higher = probabilities[3:, 0] > probabilities[3:, 1]
    assert greet_column_higher.mean() + order_column_higher.mean() > 1.0


def test_c_is_chosen_by_cross_validation_and_defaults_with_few_examples() -> None:
    rng = np.random.default_rng(0)
    features = np.concatenate([rng.normal(0, 1, (12, 4)) + 3, rng.normal(0, 1, (12, 4)) - 3])
    labels = ["a"] * 12 + ["b"] * 12
    assert choose_c(features, labels, seed=0) in (1.0, 10.0, 100.0)
    assert choose_c(features[:13], labels[:13], seed=0) == 10.0  # "b" has one example
