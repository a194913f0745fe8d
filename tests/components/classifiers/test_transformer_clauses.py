"""TransformerIntentEmotionClassifier's `classify_clauses`: a message that asks two things gets its clauses,
each classified by the same model, and single-request messages cost no extra encoder pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest
from rasa.shared.nlu.training_data.message import Message

from components.classifiers.transformer_intent_emotion import TransformerIntentEmotionClassifier
from tests.components.classifiers.test_transformer_intent_emotion import (
    load_component,
    tiny_config,
    train_component,
)

TWO_REQUESTS = "where is my parcel and why is this service so terrible?"
ONE_REQUEST = ["where is my parcel", "hello there, good morning", "this is terrible and awful",
               "where is my order? it has been two weeks."]


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path):
    config = tiny_config(tiny_model_dir)
    _, storage, resource = train_component(tmp_path_factory.mktemp("clauses"), config)
    return storage, resource, config


@pytest.fixture(scope="module")
def with_clauses(stored) -> TransformerIntentEmotionClassifier:
    storage, resource, config = stored
    return load_component(storage, resource, {**config, "classify_clauses": True})


@pytest.fixture(scope="module")
def without_clauses(stored) -> TransformerIntentEmotionClassifier:
    storage, resource, config = stored
    return load_component(storage, resource, config)


def parse(component: TransformerIntentEmotionClassifier, texts: List[str]) -> List[Dict[str, Any]]:
    messages = component.process([Message(data={"text": text}) for text in texts])
    return [message.as_dict(only_output_properties=True) for message in messages]


def count_encoder_passes(component: TransformerIntentEmotionClassifier, monkeypatch) -> List[int]:
    """Counts the texts of every `predict_all` call (one call = one encoder pass per batch)."""
    calls: List[int] = []
    original = component.predict_all

    def counting(texts):
        calls.append(len(texts))
        return original(texts)

    monkeypatch.setattr(component, "predict_all", counting)
    return calls


def test_off_by_default() -> None:
    assert TransformerIntentEmotionClassifier.get_default_config()["classify_clauses"] is False


def test_a_message_with_two_requests_gets_each_clause_classified(with_clauses, without_clauses) -> None:
    [output] = parse(with_clauses, [TWO_REQUESTS])
    clauses = output["clauses"]
    assert [clause["text"] for clause in clauses] == [
        "where is my parcel", "why is this service so terrible?"
    ]
    for clause in clauses:
        assert TWO_REQUESTS[clause["start"]:clause["end"]] == clause["text"]
        intents, _ = with_clauses.predict_probabilities([clause["text"]])
        best = int(np.argmax(intents[0]))
        assert clause["intent"]["name"] == with_clauses.intent_labels[best]
        assert isinstance(clause["intent"]["confidence"], float)
        assert clause["intent"]["confidence"] == pytest.approx(float(intents[0][best]), abs=1e-5)
    # The message's own prediction is what it was without the option.
    [plain] = parse(without_clauses, [TWO_REQUESTS])
    assert "clauses" not in plain
    assert output["intent"] == plain["intent"] and output["emotion"] == plain["emotion"]


def test_single_request_messages_cost_one_pass_and_get_no_clauses(with_clauses, monkeypatch) -> None:
    calls = count_encoder_passes(with_clauses, monkeypatch)
    outputs = parse(with_clauses, ONE_REQUEST)
    assert calls == [len(ONE_REQUEST)]
    assert all("clauses" not in output for output in outputs)


def test_only_the_split_messages_pay_one_extra_batch(with_clauses, monkeypatch) -> None:
    calls = count_encoder_passes(with_clauses, monkeypatch)
    outputs = parse(with_clauses, [*ONE_REQUEST, TWO_REQUESTS, "/greet", ""])
    assert calls == [len(ONE_REQUEST) + 2, 2]  # the messages (payload included), then both clauses at once
    assert ["clauses" in output for output in outputs] == [False] * len(ONE_REQUEST) + [True, False, False]
