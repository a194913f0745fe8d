"""Figures of the classifier's hold-out and latency tools (bench/nlu/holdout_eval.py, latency_eval.py; no
training)."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bench.nlu.holdout_eval import calibration, stratified_holdout
from bench.nlu.latency_eval import parse_variant, percentiles


def test_calibration_of_a_perfectly_calibrated_and_an_overconfident_model() -> None:
    gold = ["a", "a", "b", "b"]
    calibrated = calibration(gold, ["a", "b", "b", "a"], [0.5, 0.5, 0.5, 0.5])
    assert calibrated["ece"] == pytest.approx(0.0)
    assert calibrated["fallback_rate_at_0.4"] == 0.0
    overconfident = calibration(gold, ["a", "b", "b", "a"], [1.0, 1.0, 0.3, 0.3])
    assert overconfident["ece"] == pytest.approx(0.5 * 0.5 + 0.5 * 0.2)
    assert overconfident["fallback_rate_at_0.4"] == 0.5
    assert overconfident["accuracy_above_0.4"] == 0.5


def test_holdout_takes_a_fraction_of_every_intent_and_at_least_one() -> None:
    examples = [Message(data={"text": f"{intent} {i}", "intent": intent})
                for intent, count in (("big", 10), ("small", 2), ("single", 1)) for i in range(count)]
    train, test = stratified_holdout(examples, 0.2, seed=42)
    held = [m.get("intent") for m in test]
    assert sorted(held) == ["big", "big", "small"]  # 20 % of 10; one of 2 (rounds to 0); never a lone one
    assert len(train) + len(test) == len(examples)
    again = stratified_holdout(examples, 0.2, seed=42)[1]
    assert [m.get("text") for m in again] == [m.get("text") for m in test]


def test_latency_helpers() -> None:
    assert parse_variant("dynamic_int8@2") == ("dynamic_int8", 2)
    assert parse_variant("none") == ("none", None)
    # 1 ... 100 ms given in seconds; numpy's linear interpolation, as every NLU benchmark figure
    figures = percentiles([v / 1000 for v in range(1, 101)])
    assert figures == {"p50_ms": 50.5, "p95_ms": 95.05, "mean_ms": 50.5, "n": 100}
    assert percentiles([]) == {}
