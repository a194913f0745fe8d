"""Figures of the hold-out evaluation tool (no training)."""

from __future__ import annotations

import pytest

from components.classifiers.holdout_eval import calibration, macro_f1
from components.classifiers.latency_eval import parse_variant, percentiles


def test_calibration_of_a_perfectly_calibrated_and_an_overconfident_model() -> None:
    gold = ["a", "a", "b", "b"]
    calibrated = calibration(gold, ["a", "b", "b", "a"], [0.5, 0.5, 0.5, 0.5])
    assert calibrated["ece"] == pytest.approx(0.0)
    assert calibrated["fallback_rate_at_0.4"] == 0.0
    overconfident = calibration(gold, ["a", "b", "b", "a"], [1.0, 1.0, 0.3, 0.3])
    assert overconfident["ece"] == pytest.approx(0.5 * 0.5 + 0.5 * 0.2)
    assert overconfident["fallback_rate_at_0.4"] == 0.5
    assert overconfident["accuracy_above_0.4"] == 0.5


def test_macro_f1_and_latency_helpers() -> None:
    assert macro_f1(["a", "b"], ["a", "b"]) == 1.0
    assert parse_variant("dynamic_int8@2") == ("dynamic_int8", 2)
    assert parse_variant("none") == ("none", None)
    figures = percentiles([float(v) for v in range(1, 101)])
    assert figures["p50_ms"] in (50.0, 51.0) and figures["p95_ms"] in (95.0, 96.0) and figures["n"] == 100
