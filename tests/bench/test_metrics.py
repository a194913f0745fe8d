"""Metric functions of the NLU benchmark on hand-made predictions."""

from __future__ import annotations

import math

import pytest

from bench.nlu.metrics import (
    FALLBACK,
    Target,
    accuracy,
    format_table,
    intent_metrics,
    macro_f1,
    oos_recall,
    percentiles_ms,
    should_fallback,
)


def test_accuracy() -> None:
    assert accuracy(["a", "b", "c", "d"], ["a", "b", "x", "d"]) == 0.75
    assert accuracy([], []) == 0.0
    with pytest.raises(ValueError):
        accuracy(["a"], [])


def test_macro_f1_averages_gold_labels_and_counts_fallback_as_miss() -> None:
    gold = ["a", "a", "b", "b"]
    # a: tp 1, fn 1, fp 0 -> 2/3 ; b: tp 2, fp 0, fn 0 -> 1.0
    assert macro_f1(gold, ["a", FALLBACK, "b", "b"]) == pytest.approx((2 / 3 + 1.0) / 2)
    # a: tp 1, fn 1 -> 2/3 ; b: tp 2, fp 1 -> 0.8
    assert macro_f1(gold, ["a", "b", "b", "b"]) == pytest.approx((2 / 3 + 0.8) / 2)
    assert macro_f1(gold, gold) == 1.0


def test_should_fallback_mirrors_rasa_fallback_classifier() -> None:
    assert should_fallback([0.39, 0.2], threshold=0.4, ambiguity_threshold=0.05)
    assert not should_fallback([0.6, 0.2], threshold=0.4, ambiguity_threshold=0.05)
    assert should_fallback([0.45, 0.42], threshold=0.4, ambiguity_threshold=0.05)  # ambiguous
    assert not should_fallback([0.2, 0.45], threshold=0.4, ambiguity_threshold=0.05)  # order-free
    assert not should_fallback([0.9], threshold=0.4, ambiguity_threshold=0.05)
    assert should_fallback([], threshold=0.4, ambiguity_threshold=0.05)


def test_oos_recall_and_intent_metrics() -> None:
    assert oos_recall([FALLBACK, "a", FALLBACK, FALLBACK]) == 0.75
    figures = intent_metrics(
        gold=["a", "b", "b", "c"],
        top1=["a", "b", "c", "c"],
        final=["a", FALLBACK, "c", "c"],
        oos_final=[FALLBACK, "b"],
    )
    assert figures["accuracy"] == 0.75
    assert figures["user_accuracy"] == 0.5
    assert figures["in_scope_fallback_rate"] == 0.25
    assert figures["oos_recall"] == 0.5
    assert 0 < figures["macro_f1"] < 1


def test_percentiles_ms() -> None:
    figures = percentiles_ms([0.001 * i for i in range(1, 101)])
    assert figures["p50_ms"] == pytest.approx(50.5)
    assert figures["p95_ms"] == pytest.approx(95.05)
    assert math.isnan(percentiles_ms([])["p50_ms"])


def test_targets_pass_fail_and_missing_values() -> None:
    assert Target("acc", 0.91, 0.90).as_dict()["result"] == "PASS"
    assert Target("acc", 0.89, 0.90).as_dict()["result"] == "FAIL"
    assert Target("latency", 12.0, 15.0, higher_is_better=False).passed is True
    assert Target("latency", 16.0, 15.0, higher_is_better=False).passed is False
    assert Target("missing", None, 1.0).as_dict()["result"] == "n/a"


def test_format_table_aligns_columns() -> None:
    table = format_table([{"system": "diet", "accuracy": 0.5}, {"system": "lr", "accuracy": None}],
                         ["system", "accuracy"])
    lines = table.splitlines()
    assert lines[0].split() == ["system", "accuracy"]
    assert "0.5000" in lines[2] and lines[3].split() == ["lr", "-"]
