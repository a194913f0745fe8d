"""Benchmark of the knowledge base (:mod:`shop.knowledge`): keyword-only, embedding-only and hybrid.

Every question of ``questions.yml`` (team-written, each labelled with the document and section that
answers it) is ranked over all passages of ``data/knowledge``. Printed per mode: top-1 accuracy, MRR (over
the full ranking) and p50/p95 latency of one ``search`` call (the question is encoded every time; no query
cache). The ``unrelated`` questions show the best hybrid score of off-topic text next to the lowest score
of a correct answer, which is what :data:`shop.knowledge.DEFAULT_THRESHOLD` is chosen between.

Run: ``nice -n 10 .venv/bin/python bench/knowledge/run.py [--questions PATH] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from shop.knowledge import DEFAULT_THRESHOLD, KnowledgeBase  # noqa: E402

MODES = ("keyword", "semantic", "hybrid")


def load_questions(path: Path) -> tuple[list[dict], list[str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data["questions"], data.get("unrelated", [])


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def evaluate(kb: KnowledgeBase, questions: list[dict], mode: str) -> dict:
    keys = [p.key for p in kb.passages]
    hits, reciprocal, latencies, misses, right_scores = 0, [], [], [], []
    for item in questions:
        target = f"{item['doc']}#{item['section']}"
        if target not in keys:
            raise SystemExit(f"unknown section {target!r} for question {item['q']!r}")
        start = time.perf_counter()
        ranked = kb.search(item["q"], k=len(keys), mode=mode)
        latencies.append((time.perf_counter() - start) * 1000)
        order = [p.key for p in ranked]
        rank = order.index(target) + 1
        reciprocal.append(1.0 / rank)
        if rank == 1:
            hits += 1
            right_scores.append(ranked[0].score)
        else:
            misses.append(f"{item['q']!r}: expected {target}, got {order[0]} (rank {rank})")
    return {
        "mode": mode,
        "top1": hits / len(questions),
        "mrr": statistics.fmean(reciprocal),
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "misses": misses,
        "lowest_right_score": min(right_scores, default=float("nan")),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=Path(__file__).with_name("questions.yml"))
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--verbose", action="store_true", help="list the misses of every mode")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    questions, unrelated = load_questions(args.questions)
    kb = KnowledgeBase.load()
    if kb.keyword_only:
        print("encoder not available: only keyword-only can be measured", file=sys.stderr)
        return 1
    kb.search("warm-up question", k=1)  # first forward pass allocates; not a shopper's latency

    print(f"{len(questions)} questions, {len(kb.passages)} passages\n")
    print(f"{'mode':<10} {'top-1':>6} {'MRR':>6} {'p50 ms':>8} {'p95 ms':>8}")
    results = []
    for mode in MODES:
        result = evaluate(kb, questions, mode)
        results.append(result)
        print(
            f"{mode:<10} {result['top1']:>6.3f} {result['mrr']:>6.3f} "
            f"{result['p50_ms']:>8.1f} {result['p95_ms']:>8.1f}"
        )
    hybrid = results[-1]
    off_topic = [kb.search(q, k=1)[0].score for q in unrelated]
    print(
        f"\nthreshold {DEFAULT_THRESHOLD}: lowest correct hybrid top-1 score "
        f"{hybrid['lowest_right_score']:.3f}, highest unrelated score {max(off_topic, default=0.0):.3f}"
    )
    answered = sum(kb.answer(q["q"]) is not None for q in questions)
    refused = sum(kb.answer(q) is None for q in unrelated)
    print(
        f"answer(): {answered}/{len(questions)} questions answered, "
        f"{refused}/{len(unrelated)} unrelated refused"
    )
    for result in results:
        if args.verbose or result["mode"] == "hybrid":
            print(f"\n{result['mode']} misses ({len(result['misses'])}):")
            for line in result["misses"]:
                print("  " + line)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"results": results, "unrelated_scores": off_topic}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
