"""Calibration of the policy path's threshold: the help-page score a passage needs to answer a question the
NLU put under a policy intent (delivery, payments, returns rules, ...) instead of that intent's fixed reply.

The knowledge fallback (``action_answer_from_knowledge``) and the policy path weigh their errors differently:
below the threshold the fallback says "I don't know" while the policy path still gives the intent's fixed
summary, so the policy path can take a page on weaker evidence. This script shows where: it parses every
question of bench/knowledge's sets with the trained model (``models/``), keeps those the NLU puts under
:data:`actions.policy_answers.POLICY_INTENTS`, and prints, per threshold, the right passages and the
negatives (unrelated / no-page questions) that would get a page, for the tuning sets (questions.yml +
chatty.yml, where the threshold is chosen: best F1 of right passages, smoothed as in run.py) and for
heldout.yml (measured only).

Run after ``make train``: ``nice .venv/bin/python bench/knowledge/policy_path.py [--model PATH]``.
Exits 0 with a message when there is no trained model.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from actions.policy_answers import DEFAULT_POLICY_THRESHOLD, POLICY_INTENTS  # noqa: E402
from bench.knowledge.run import best_threshold as smoothed_best  # noqa: E402
from shop.knowledge import KnowledgeBase  # noqa: E402

HERE = Path(__file__).resolve().parent
TUNING = ("questions", "chatty")
HELD_OUT = "heldout"
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.40, 0.661, 0.01))


def load_rows(name: str) -> list[tuple[str, str | None]]:
    """(text, "doc#section" or None for a negative) of one bench set."""
    data = yaml.safe_load((HERE / f"{name}.yml").read_text(encoding="utf-8"))
    rows = [(q["q"], f"{q['doc']}#{q['section']}") for q in data["questions"]]
    rows += [(text, None) for text in data.get("unrelated", []) + data.get("no_page", [])]
    return rows


async def parse_all(model: Path, sets: list[str]) -> dict[str, list[dict]]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    kb = KnowledgeBase.load()
    out: dict[str, list[dict]] = {}
    for name in sets:
        rows = []
        for text, target in load_rows(name):
            parsed = await agent.parse_message(text)
            best = kb.search(text, k=1)[0]
            rows.append(
                {"target": target, "intent": parsed["intent"]["name"], "key": best.key, "score": best.score}
            )
        out[name] = rows
    return out


def at(rows: list[dict], threshold: float) -> dict:
    """Right passages, answers given to negatives and right-passage F1 when answering at ``threshold``."""
    positives = [r for r in rows if r["target"]]
    negatives = [r for r in rows if not r["target"]]
    right = sum(r["score"] >= threshold and r["key"] == r["target"] for r in positives)
    given = sum(r["score"] >= threshold for r in rows)
    precision = right / given if given else 1.0
    recall = right / len(positives) if positives else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    wrong_negatives = sum(r["score"] >= threshold for r in negatives)
    return {
        "right": right,
        "answerable": len(positives),
        "negatives_answered": wrong_negatives,
        "negatives": len(negatives),
        "f1": f1,
    }


def describe(figures: dict) -> str:
    return (
        f"{figures['right']}/{figures['answerable']}, "
        f"{figures['negatives_answered']}/{figures['negatives']}, F1 {figures['f1']:.3f}"
    )


def best_threshold(rows: list[dict]) -> float:
    """run.py's rule (F1 smoothed over SMOOTHING neighbours, middle of ties) on right-passage F1."""
    return smoothed_best([{"threshold": t, "f1": at(rows, t)["f1"]} for t in THRESHOLDS])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "shopassist.tar.gz")
    args = parser.parse_args(argv)
    if not args.model.exists():
        print(f"no trained model at {args.model}: run `make train` first")
        return 0
    logging.disable(logging.WARNING)
    parsed = asyncio.run(parse_all(args.model, [*TUNING, HELD_OUT]))
    policy = {name: [r for r in rows if r["intent"] in POLICY_INTENTS] for name, rows in parsed.items()}
    tune = [r for name in TUNING for r in policy[name]]
    chosen = best_threshold(tune)
    print(
        "questions under a policy intent: "
        + ", ".join(f"{n} {len(r)}/{len(parsed[n])}" for n, r in policy.items())
    )
    print(f"{'threshold':>9} | {'tuning: right / answerable, negatives answered, F1':<52} | held-out")
    for threshold in sorted({0.45, 0.48, 0.50, 0.52, 0.55, 0.59, chosen, DEFAULT_POLICY_THRESHOLD}):
        t, h = at(tune, threshold), at(policy[HELD_OUT], threshold)
        marks = (" <- best on tuning" if threshold == chosen else "") + (
            " <- shipped" if abs(threshold - DEFAULT_POLICY_THRESHOLD) < 1e-9 else ""
        )
        print(f"{threshold:9.2f} | {describe(t):<52} | {describe(h)}{marks}")
    if abs(chosen - DEFAULT_POLICY_THRESHOLD) > 0.015:
        print(
            f"note: the best on the tuning sets is {chosen:.2f}; shipped DEFAULT_POLICY_THRESHOLD is "
            f"{DEFAULT_POLICY_THRESHOLD:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
