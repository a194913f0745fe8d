"""Benchmark of the knowledge base (:mod:`shop.knowledge`): ranking quality and the answer threshold.

Two team-written sets, each question labelled with the document and section that answers it, plus
messages the documents cannot answer: ``unrelated`` (chit-chat, orders, other topics) and ``no_page``
(questions on the pages' own topics that no page answers, "how do I wash silk?" beside a care page without
silk: the hard negatives, added 2026-12-05). Both count as "must not be answered" below:

* ``questions.yml`` (82 questions, 22 unrelated, 45 no_page) is the TUNING set: the semantic weight and the
  answer thresholds shipped in :mod:`shop.knowledge` were chosen on it, and this script shows that choice
  again;
* ``heldout.yml`` (63 questions, 22 unrelated, 35 no_page) was written afterwards and is never used to
  choose anything: its figures are the honest ones.

Printed: (1) top-1 of the hybrid ranking per semantic weight on the tuning set; (2) per mode
(keyword-only, embedding-only, hybrid) top-1, MRR over the full ranking and p50/p95 latency of one
``search`` call (the question is encoded every time) on both sets; (3) the "answer or not" calibration of
the threshold, for the hybrid score and for the keyword-only fallback. The threshold decides whether a
message is answerable, so its precision is answerable questions answered / all messages answered (an
unrelated message answered is the error) and its recall answerable questions answered / answerable
questions; which passage is shown is the ranking's job (top-1). The end-to-end view is printed next to it:
right passages / answers given, and right passages / answerable questions. The best threshold on the
tuning set (answerability F1 smoothed over +-0.03, see :func:`best_threshold`) is what
:data:`shop.knowledge.DEFAULT_THRESHOLD` / :data:`KEYWORD_ONLY_THRESHOLD` should be; the script says so
when the shipped values differ. A plot goes to ``results/bench/knowledge_threshold.png`` when matplotlib
is installed.

Run: ``nice -n 10 .venv/bin/python bench/knowledge/run.py [--json OUT] [--plot OUT] [--verbose]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from shop.knowledge import (  # noqa: E402
    DEFAULT_THRESHOLD,
    KEYWORD_ONLY_THRESHOLD,
    SEMANTIC_WEIGHT,
    KnowledgeBase,
)

HERE = Path(__file__).resolve().parent
MODES = ("keyword", "semantic", "hybrid")
WEIGHTS = tuple(round(w, 2) for w in np.arange(0.4, 0.951, 0.05))
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.10, 0.701, 0.01))
#: Neighbours on each side (0.01 apart) over which F1 is averaged before its best threshold is taken.
SMOOTHING = 3
TABLE_THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.20, 0.601, 0.04))


@dataclass
class QuestionSet:
    """One YAML file: labelled questions and unrelated messages, with their scores over all passages."""

    name: str
    questions: list[dict]
    unrelated: list[str]
    targets: np.ndarray  # index of the right passage per question
    keyword: np.ndarray  # questions x passages
    semantic: np.ndarray
    unrelated_keyword: np.ndarray  # unrelated x passages
    unrelated_semantic: np.ndarray

    def hybrid(self, weight: float) -> tuple[np.ndarray, np.ndarray]:
        return (
            weight * self.semantic + (1 - weight) * self.keyword,
            weight * self.unrelated_semantic + (1 - weight) * self.unrelated_keyword,
        )


def load_set(kb: KnowledgeBase, path: Path) -> QuestionSet:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    questions = data["questions"]
    unrelated = data.get("unrelated", []) + data.get("no_page", [])
    keys = [p.key for p in kb.passages]
    targets = []
    for item in questions:
        target = f"{item['doc']}#{item['section']}"
        if target not in keys:
            raise SystemExit(f"{path.name}: unknown section {target!r} for question {item['q']!r}")
        targets.append(keys.index(target))

    def matrices(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        if not texts:
            empty = np.zeros((0, len(keys)), dtype=np.float32)
            return empty, empty
        return (
            np.array([kb.keyword_scores(t) for t in texts]),
            np.array([kb.semantic_scores(t) for t in texts]),
        )

    keyword, semantic = matrices([q["q"] for q in questions])
    unrelated_keyword, unrelated_semantic = matrices(unrelated)
    return QuestionSet(
        path.stem,
        questions,
        unrelated,
        np.array(targets),
        keyword,
        semantic,
        unrelated_keyword,
        unrelated_semantic,
    )


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def rank_quality(kb: KnowledgeBase, qset: QuestionSet, mode: str) -> dict:
    """Top-1, MRR and latency of ``kb.search`` in ``mode`` (timed end to end, encoding included)."""
    keys = [p.key for p in kb.passages]
    hits, reciprocal, latencies, misses = 0, [], [], []
    for item, target_index in zip(qset.questions, qset.targets, strict=True):
        target = keys[target_index]
        start = time.perf_counter()
        ranked = kb.search(item["q"], k=len(keys), mode=mode)
        latencies.append((time.perf_counter() - start) * 1000)
        order = [p.key for p in ranked]
        rank = order.index(target) + 1
        reciprocal.append(1.0 / rank)
        if rank == 1:
            hits += 1
        else:
            misses.append(f"{item['q']!r}: expected {target}, got {order[0]} (rank {rank})")
    return {
        "set": qset.name,
        "mode": mode,
        "top1": hits / len(qset.questions),
        "mrr": statistics.fmean(reciprocal),
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "misses": misses,
    }


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def calibration(scores: np.ndarray, unrelated_scores: np.ndarray, targets: np.ndarray) -> list[dict]:
    """For every t of THRESHOLDS, "answer when the best score reaches t": answerability precision,
    recall and F1, and the end-to-end share of right passages."""
    best = scores.max(axis=1)
    right = scores.argmax(axis=1) == targets
    unrelated_best = unrelated_scores.max(axis=1) if len(unrelated_scores) else np.zeros(0)
    rows = []
    for t in THRESHOLDS:
        answered = best >= t
        real = int(answered.sum())
        correct = int((answered & right).sum())
        off_topic = int((unrelated_best >= t).sum())
        given = real + off_topic
        precision = real / given if given else 1.0
        recall = real / len(targets)
        rows.append(
            {
                "threshold": t,
                "precision": precision,
                "recall": recall,
                "f1": _f1(precision, recall),
                "answered": real,
                "unrelated_answered": off_topic,
                "right_passage_precision": correct / given if given else 1.0,
                "right_passage_recall": correct / len(targets),
            }
        )
    return rows


def best_threshold(rows: list[dict], window: int = SMOOTHING) -> float:
    """The threshold with the best F1 averaged over ``window`` neighbours on each side: one question
    more or less moves F1 by about 0.01, so the raw maximum of a curve this flat is noise; among equal
    smoothed values the middle one is taken."""
    f1 = np.array([r["f1"] for r in rows])
    smoothed = np.array([f1[max(0, i - window) : i + window + 1].mean() for i in range(len(f1))])
    tied = [rows[i]["threshold"] for i in np.flatnonzero(smoothed >= smoothed.max() - 1e-9)]
    return tied[len(tied) // 2]


def row_at(rows: list[dict], threshold: float) -> dict:
    return min(rows, key=lambda r: abs(r["threshold"] - threshold))


def print_calibration(
    title: str, tune_rows: list[dict], held_rows: list[dict], marks: dict[float, str]
) -> None:
    print(f"\n{title}")
    head = f"{'P':>6} {'R':>6} {'F1':>6} {'unrel':>5} {'rightP':>6} {'rightR':>6}"
    print(f"{'':>6} | {'tuning':^38} | {'held-out':^38}")
    print(f"{'thresh':>6} | {head} | {head}")
    shown = sorted(set(TABLE_THRESHOLDS) | set(marks))
    for t in shown:
        cells = []
        for r in (row_at(tune_rows, t), row_at(held_rows, t)):
            cells.append(
                f"{r['precision']:>6.3f} {r['recall']:>6.3f} {r['f1']:>6.3f} {r['unrelated_answered']:>5} "
                f"{r['right_passage_precision']:>6.3f} {r['right_passage_recall']:>6.3f}"
            )
        print(f"{t:>6.2f} | {cells[0]} | {cells[1]}  {marks.get(t, '')}")


def plot(path: Path, curves: dict[str, list[dict]], shipped: dict[str, float]) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, score in zip(axes, ("hybrid", "keyword"), strict=True):
        for set_name, style in (("tuning", "-"), ("held-out", "--")):
            rows = curves[f"{score}/{set_name}"]
            ts = [r["threshold"] for r in rows]
            ax.plot(
                ts, [r["precision"] for r in rows], style, color="tab:blue", label=f"precision ({set_name})"
            )
            ax.plot(ts, [r["recall"] for r in rows], style, color="tab:orange", label=f"recall ({set_name})")
        ax.axvline(shipped[score], color="grey", linestyle=":", label=f"shipped {shipped[score]:.2f}")
        ax.set_title(f"{score} score: answer when best passage >= threshold")
        ax.set_xlabel("threshold")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("share")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=HERE / "questions.yml", help="tuning set")
    parser.add_argument("--heldout", type=Path, default=HERE / "heldout.yml", help="held-out set")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--plot", type=Path, default=ROOT / "results" / "bench" / "knowledge_threshold.png")
    parser.add_argument("--verbose", action="store_true", help="list the misses of every mode")
    parser.add_argument(
        "--no-questions", action="store_true",
        help="rank without data/knowledge/questions/*.yml (the sections' own text only), to compare",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    kb = KnowledgeBase.load(with_questions=not args.no_questions)
    indexed = 0 if kb.question_owner is None else len(kb.question_owner)
    print(f"section questions: {'off' if args.no_questions else indexed}")
    if kb.keyword_only:
        print("encoder not available: only keyword-only can be measured", file=sys.stderr)
        return 1
    kb.search("warm-up question", k=1)  # first forward pass allocates; not a shopper's latency
    tune, held = load_set(kb, args.questions), load_set(kb, args.heldout)
    print(
        f"{len(kb.passages)} passages; tuning set {len(tune.questions)} questions + {len(tune.unrelated)} "
        f"unrelated, held-out set {len(held.questions)} questions + {len(held.unrelated)} unrelated"
    )

    # (1) semantic weight, chosen on the tuning set only
    print("\nsemantic weight (hybrid top-1):")
    print(f"{'weight':>6} {'tuning':>7} {'held-out':>9}")
    weight_rows = []
    for w in WEIGHTS:
        t_top = float((tune.hybrid(w)[0].argmax(1) == tune.targets).mean())
        h_top = float((held.hybrid(w)[0].argmax(1) == held.targets).mean())
        weight_rows.append({"weight": w, "tuning_top1": t_top, "heldout_top1": h_top})
        mark = "  <- shipped" if abs(w - SEMANTIC_WEIGHT) < 1e-9 else ""
        print(f"{w:>6.2f} {t_top:>7.3f} {h_top:>9.3f}{mark}")
    best_w = max(weight_rows, key=lambda r: (r["tuning_top1"], -abs(r["weight"] - SEMANTIC_WEIGHT)))["weight"]
    if abs(best_w - SEMANTIC_WEIGHT) > 1e-9:
        print(f"NOTE: weight {best_w} is best on the tuning set, shipped {SEMANTIC_WEIGHT}")

    # (2) ranking quality per mode
    print(f"\n{'set':<10} {'mode':<10} {'top-1':>6} {'MRR':>6} {'p50 ms':>8} {'p95 ms':>8}")
    quality = []
    for qset in (tune, held):
        for mode in MODES:
            r = rank_quality(kb, qset, mode)
            quality.append(r)
            print(
                f"{qset.name:<10} {mode:<10} {r['top1']:>6.3f} {r['mrr']:>6.3f} "
                f"{r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f}"
            )

    # (3) answer threshold
    curves = {}
    for score in ("hybrid", "keyword"):
        for set_name, qset in (("tuning", tune), ("held-out", held)):
            scores, unrelated = (
                qset.hybrid(SEMANTIC_WEIGHT) if score == "hybrid" else (qset.keyword, qset.unrelated_keyword)
            )
            curves[f"{score}/{set_name}"] = calibration(scores, unrelated, qset.targets)
    calibrated = {}
    shipped = {"hybrid": DEFAULT_THRESHOLD, "keyword": KEYWORD_ONLY_THRESHOLD}
    for score in ("hybrid", "keyword"):
        calibrated[score] = best_threshold(curves[f"{score}/tuning"])
        marks = {shipped[score]: "<- shipped"}
        if calibrated[score] != shipped[score]:
            marks[calibrated[score]] = "<- best on tuning"
        print_calibration(
            f"answer threshold, {score} score (P, R, F1: answerable answered / all answered, answerable "
            "answered / answerable; unrel: unrelated messages answered; rightP, rightR: right passages / "
            "answered, right passages / answerable)",
            curves[f"{score}/tuning"],
            curves[f"{score}/held-out"],
            marks,
        )
        if abs(calibrated[score] - shipped[score]) > 1e-9:
            print(
                f"NOTE: the best {score} threshold on the tuning set is {calibrated[score]:.2f}, "
                f"shipped {shipped[score]:.2f}"
            )

    answered = sum(kb.answer(q["q"]) is not None for q in held.questions)
    refused = sum(kb.answer(q) is None for q in held.unrelated)
    no_page = yaml.safe_load(args.heldout.read_text(encoding="utf-8")).get("no_page", [])
    print(
        f"held-out no_page questions declined by the shipped answer(): "
        f"{sum(kb.answer(q) is None for q in no_page)}/{len(no_page)} (counted among the unrelated)"
    )
    print(
        f"\nheld-out with the shipped answer(): {answered}/{len(held.questions)} questions answered, "
        f"{refused}/{len(held.unrelated)} unrelated refused"
    )
    for r in quality:
        if args.verbose or (r["mode"] == "hybrid" and r["set"] == held.name):
            print(f"\n{r['set']} {r['mode']} misses ({len(r['misses'])}):")
            for line in r["misses"]:
                print("  " + line)
    if plot(args.plot, curves, shipped):
        print(f"\nplot: {args.plot}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "weights": weight_rows,
                    "quality": quality,
                    "calibration": curves,
                    "calibrated": calibrated,
                    "shipped": shipped,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
