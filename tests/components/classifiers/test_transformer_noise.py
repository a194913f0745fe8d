"""Training-time noise of TransformerIntentEmotionClassifier: `perturb_text` and `noise_probability`."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.exceptions import InvalidConfigException

from components.classifiers.transformer_intent_emotion import (
    QWERTY_NEIGHBOURS,
    TransformerIntentEmotionClassifier,
    perturb_text,
)
from tests.components.classifiers.test_transformer_intent_emotion import (
    TOY_TEXTS,
    context,
    tiny_config,
    train_component,
)

SEEDS = range(400)

# Each text with the tokens that must survive every perturbation verbatim.
PROTECTED: List[Tuple[str, List[str]]] = [
    ("Where is my order SA-100042? I ordered it on 12 March", ["SA-100042", "12"]),
    ("please email me at Jane.Doe+shop@Example.co.uk thanks!", ["Jane.Doe+shop@Example.co.uk"]),
    ("sa 100042 never arrived", ["sa 100042"]),
    ("order #100042 and #SA-100043 are both missing.", ["#100042", "#SA-100043"]),
    ("I paid 45.50 for 2 hoodies, receipt 2024-03-01", ["45.50", "2", "2024-03-01"]),
    ("JOHN@SHOP.COM asked about SA-123456", ["JOHN@SHOP.COM", "SA-123456"]),
]


def test_perturb_text_keeps_order_numbers_emails_and_digits_intact() -> None:
    for text, tokens in PROTECTED:
        for seed in SEEDS:
            noisy = perturb_text(text, random.Random(seed))
            for token in tokens:
                assert noisy.count(token) == text.count(token), (seed, text, noisy)
            assert re.findall(r"\d+", noisy) == re.findall(r"\d+", text), (seed, noisy)


def test_perturb_text_changes_text_in_small_shopper_like_ways() -> None:
    text = "Where is my parcel?"
    outputs = [perturb_text(text, random.Random(seed)) for seed in SEEDS]
    assert sum(output != text for output in outputs) / len(outputs) >= 0.95
    assert len(set(outputs)) > 30  # many different perturbations, not one fixed rewrite
    # every kind shows up: lower case, upper case, final "?" dropped or doubled, a one-letter typo
    kinds = {"where is my parcel?", "WHERE IS MY PARCEL?", "Where is my parcel", "Where is my parcel??"}
    assert kinds <= set(outputs)
    typos = [output for output in outputs if output.lower().rstrip("?") != "where is my parcel"]
    assert len(typos) > len(outputs) / 5
    for output in outputs:
        words = output.lower().rstrip("?").split()
        assert words[1:3] == ["is", "my"]  # typos only hit words of 4+ letters
        assert abs(len(output) - len(text)) <= 2  # at most a typo and a punctuation change
    assert perturb_text("ok", random.Random(0)) == "OK"  # short words: only the case can change
    assert perturb_text("123 456", random.Random(0)) == "123 456"  # nothing to perturb


def test_perturb_text_is_deterministic_for_a_seed() -> None:
    texts = TOY_TEXTS + [text for text, _ in PROTECTED]
    first = [perturb_text(text, random.Random(7)) for text in texts]
    assert first == [perturb_text(text, random.Random(7)) for text in texts]
    assert first != [perturb_text(text, random.Random(8)) for text in texts]


def test_qwerty_neighbours_are_adjacent_keys() -> None:
    assert set(QWERTY_NEIGHBOURS) == set("abcdefghijklmnopqrstuvwxyz")
    assert set(QWERTY_NEIGHBOURS["g"]) == set("fhtyvb")
    assert set(QWERTY_NEIGHBOURS["q"]) == set("wa")
    for key, near in QWERTY_NEIGHBOURS.items():
        assert key not in near
        assert all(key in QWERTY_NEIGHBOURS[other] for other in near), key  # adjacency is symmetric


def test_noise_is_off_by_default() -> None:
    assert TransformerIntentEmotionClassifier.get_default_config()["noise_probability"] == 0.0


@pytest.mark.parametrize("value", [-0.1, 1.5, "0.2", True, None, float("nan")])
def test_invalid_noise_probability_is_rejected(tiny_model_dir: Path, value: Any) -> None:
    with pytest.raises(InvalidConfigException, match="noise_probability"):
        TransformerIntentEmotionClassifier.create(
            tiny_config(tiny_model_dir, noise_probability=value), LocalModelStorage(Path("/nonexistent")),
            Resource("x"), context()
        )


@pytest.mark.parametrize("value", [0, 0.25, 1])
def test_valid_noise_probability_is_accepted(tiny_model_dir: Path, value: Any) -> None:
    TransformerIntentEmotionClassifier.create(
        tiny_config(tiny_model_dir, noise_probability=value), LocalModelStorage(Path("/nonexistent")),
        Resource("x"), context()
    )


def encoded_texts(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch,
                  **overrides: Any) -> Dict[str, List[List[str]]]:
    """Trains 2 epochs with a validation split and records every text the tokenizer gets: the training
    batches per epoch, the validation batches and a prediction after training."""
    seen: List[Tuple[bool, List[str]]] = []
    original = TransformerIntentEmotionClassifier._encode

    def spy(self: TransformerIntentEmotionClassifier, texts: List[str]) -> Dict[str, Any]:
        seen.append((self.model is not None and self.model.training, list(texts)))
        return original(self, texts)

    monkeypatch.setattr(TransformerIntentEmotionClassifier, "_encode", spy)
    config = tiny_config(tiny_model_dir, epochs=2, validation_split=0.25, early_stopping_patience=0,
                         **overrides)
    component = train_component(tmp_path, config)[0]
    component.predict_probabilities(TOY_TEXTS)
    epochs: List[List[str]] = [[]]
    evaluated: List[str] = []
    for training, texts in seen:
        if training:
            epochs[-1].extend(texts)
        else:
            evaluated.extend(texts)
            if epochs[-1]:
                epochs.append([])
    return {"epochs": [texts for texts in epochs if texts], "evaluated": [evaluated]}


def test_without_noise_training_batches_are_the_original_texts(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = encoded_texts(tmp_path, tiny_model_dir, monkeypatch, noise_probability=0.0)
    assert len(recorded["epochs"]) == 2
    train_texts = sorted(recorded["epochs"][0])
    assert len(train_texts) == 18 and set(train_texts) <= set(TOY_TEXTS)  # 2 of 8 per intent held out
    assert sorted(recorded["epochs"][1]) == train_texts
    assert set(recorded["evaluated"][0]) == set(TOY_TEXTS)


def test_with_noise_training_batches_differ_each_epoch_and_deterministically(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = encoded_texts(tmp_path / "a", tiny_model_dir, monkeypatch, noise_probability=1.0)
    first, second = recorded["epochs"]
    assert len(first) == len(second) == 18
    # every toy text is lower case without final punctuation, so each one can be and is perturbed
    assert not set(first) & set(TOY_TEXTS) and not set(second) & set(TOY_TEXTS)
    assert sorted(first) != sorted(second)  # fresh noise every epoch
    # validation and prediction see the real texts
    assert set(recorded["evaluated"][0]) == set(TOY_TEXTS)
    again = encoded_texts(tmp_path / "b", tiny_model_dir, monkeypatch, noise_probability=1.0)
    assert again == recorded  # same seed, same noise
