"""Metric functions of the NLU benchmark (pure functions of gold labels and predictions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np
from sklearn.metrics import f1_score

#: Intent Rasa's FallbackClassifier predicts; an out-of-scope query counts as detected when it gets it.
FALLBACK = "nlu_fallback"


def accuracy(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Share of exact matches (0.0 for no examples)."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    return sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold) if gold else 0.0


def macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Unweighted mean F1 over the gold labels (a prediction outside them, e.g. a fallback, is a miss)."""
    if not gold:
        return 0.0
    return float(f1_score(list(gold), list(predicted), labels=sorted(set(gold)), average="macro",
                          zero_division=0))


def should_fallback(confidences: Sequence[float], threshold: float, ambiguity_threshold: float) -> bool:
    """Rasa's FallbackClassifier rule on a ranking: top confidence below ``threshold``, or the top two
    closer than ``ambiguity_threshold``."""
    ranked = sorted(confidences, reverse=True)
    if not ranked:
        return True
    if ranked[0] < threshold:
        return True
    return len(ranked) >= 2 and ranked[0] - ranked[1] < ambiguity_threshold


def oos_recall(predicted: Sequence[str], fallback: str = FALLBACK) -> float:
    """Share of out-of-scope queries that got the fallback intent."""
    return sum(p == fallback for p in predicted) / len(predicted) if predicted else 0.0


def percentiles_ms(seconds: Sequence[float]) -> Dict[str, float]:
    """p50 / p95 / mean of durations given in seconds, in milliseconds."""
    values = np.asarray(seconds, dtype=float) * 1000.0
    if values.size == 0:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "mean_ms": float("nan")}
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p95_ms": round(float(np.percentile(values, 95)), 2),
        "mean_ms": round(float(values.mean()), 2),
    }


def intent_metrics(
    gold: Sequence[str],
    top1: Sequence[str],
    final: Sequence[str],
    oos_final: Sequence[str],
) -> Dict[str, float]:
    """The CLINC150 figures.

    ``top1``: the classifier's best in-scope intent (fallback ignored), ``final``: what the pipeline
    returns (``nlu_fallback`` when FallbackClassifier fires), ``oos_final``: the same for the out-of-scope
    queries. ``accuracy``/``macro_f1`` are on ``top1`` (comparable with the published figures);
    ``user_accuracy`` counts an in-scope query answered with a fallback as a miss.
    """
    return {
        "accuracy": round(accuracy(gold, top1), 4),
        "macro_f1": round(macro_f1(gold, top1), 4),
        "user_accuracy": round(accuracy(gold, final), 4),
        "in_scope_fallback_rate": round(oos_recall(final), 4),
        "oos_recall": round(oos_recall(oos_final), 4),
    }


@dataclass
class Target:
    """One target of the issue: ``value`` compared with ``goal`` (``higher`` or ``lower`` is better)."""

    name: str
    value: Optional[float]
    goal: Optional[float]
    higher_is_better: bool = True

    @property
    def passed(self) -> Optional[bool]:
        if self.value is None or self.goal is None or np.isnan(self.value) or np.isnan(self.goal):
            return None
        return self.value >= self.goal if self.higher_is_better else self.value <= self.goal

    def as_dict(self) -> Dict[str, object]:
        verdict = {True: "PASS", False: "FAIL", None: "n/a"}[self.passed]
        return {"target": self.name, "value": self.value, "goal": self.goal, "result": verdict}


def format_table(rows: List[Dict[str, object]], columns: Sequence[str]) -> str:
    """A plain-text table; floats in [0, 1] print with four decimals."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:.4f}" if 0.0 <= value <= 1.0 else f"{value:,.1f}"
        return "-" if value is None else str(value)

    body = [[cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in body)) for i, column in enumerate(columns)]
    lines = ["  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * width for width in widths))
    for line in body:
        lines.append("  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)))
    return "\n".join(lines)
