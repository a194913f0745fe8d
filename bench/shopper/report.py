"""Pure part of the shopper suite: the runners' JSON → one flat dict of metrics → the table and the targets.

Nothing here starts a process, trains or reads ``../shared``: these functions take what
``score_messages.py --json`` and ``converse.py --json`` wrote (already parsed) and are unit-tested on
hand-made payloads (``tests/bench/test_shopper_suite.py``).

Metric keys (one flat dict per system; a missing key means "not measured in this run"):

* ``<set>.intent_acc``, ``<set>.intent_macro_f1``, ``<set>.fallback_share``, ``<set>.emotion_macro_f1``,
  ``<set>.p50_ms`` for ``<set>`` in ``shopper`` / ``abcd``: score_messages' figures, in percent (ms);
* ``handoff.recall`` / ``handoff.precision`` (fractions), ``handoff.false`` (count) and
  ``handoff.by_trigger`` (``{trigger: {"handed_off", "total", "recall"}}``) from conversations.jsonl;
* ``tasks.solved`` / ``tasks.checked`` / ``tasks.share`` (percent): task conversations whose last reply
  held an expected substring (converse.py's ``reply_ok`` / ``reply_checked``);
* ``knowledge.right`` / ``knowledge.answerable`` / ``knowledge.right_share`` and ``knowledge.declined`` /
  ``knowledge.unanswerable`` / ``knowledge.declined_share``: knowledge_questions.jsonl split by its
  ``answerable`` flag (converse.py only reports the two together);
* ``empty_replies``: user turns without any bot message, both converse runs together; ``errors``:
  scenarios with an HTTP error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

#: score_messages.py names each result after its file; the suite's short names for the two sets.
MESSAGE_SETS = {"shopper_messages.jsonl": "shopper", "first_turns_dev.jsonl": "abcd"}
MESSAGE_FIGURES = ("intent_acc", "intent_macro_f1", "fallback_share", "emotion_acc", "emotion_macro_f1",
                   "p50_ms", "n")

#: Column titles of the systems, in table order.
SYSTEM_TITLES = {"shipped": "ShopAssist (shipped)", "diet": "DIET baseline", "lr": "MiniLM + LR baseline"}


@dataclass(frozen=True)
class Goal:
    """A target of issue 14: the metric ``>= goal`` (``at_least``) or ``<= goal``; ``also`` names another
    metric that must reach its minimum as well (handoff recall counts only at precision >= 0.90)."""

    goal: float
    at_least: bool = True
    also: Optional[Tuple[str, float]] = None

    def check(self, metrics: Mapping[str, Any], key: str) -> Optional[bool]:
        """True / False, or None when a metric it needs was not measured."""
        value = metrics.get(key)
        if value is None:
            return None
        passed = value >= self.goal if self.at_least else value <= self.goal
        if passed and self.also is not None:
            other = metrics.get(self.also[0])
            if other is None:
                return None
            passed = other >= self.also[1]
        return passed

    def describe(self, kind: str) -> str:
        text = f"{'>=' if self.at_least else '<='} {_number(self.goal, kind)}"
        if self.at_least is False and self.goal == 0:
            text = "= 0"
        if self.also is not None:
            text += f" at {self.also[0].split('.')[-1]} >= {self.also[1]:g}"
        return text


@dataclass(frozen=True)
class Row:
    """One line of the table: ``kind`` is pct (percent), frac (0-1), ms or int; ``count`` = (done, of)."""

    label: str
    key: str
    kind: str
    goal: Optional[Goal] = None
    count: Optional[Tuple[str, str]] = None
    shipped_only: bool = False  # conversations need the whole assistant: baselines are NLU only


ROWS: Tuple[Row, ...] = (
    Row("intent accuracy, shopper set", "shopper.intent_acc", "pct", Goal(95.0)),
    Row("intent macro-F1, shopper set", "shopper.intent_macro_f1", "pct"),
    Row("fallback share, shopper set", "shopper.fallback_share", "pct"),
    Row("emotion macro-F1, shopper set", "shopper.emotion_macro_f1", "pct", Goal(75.0)),
    Row("p50 parse latency, shopper set", "shopper.p50_ms", "ms"),
    Row("intent accuracy, ABCD first turns", "abcd.intent_acc", "pct", Goal(80.0)),
    Row("intent macro-F1, ABCD", "abcd.intent_macro_f1", "pct"),
    Row("fallback share, ABCD", "abcd.fallback_share", "pct"),
    Row("handoff recall", "handoff.recall", "frac", Goal(0.95, also=("handoff.precision", 0.90)),
        shipped_only=True),
    Row("handoff precision", "handoff.precision", "frac", Goal(0.90), shipped_only=True),
    Row("tasks solved", "tasks.share", "pct", Goal(90.0), ("tasks.solved", "tasks.checked"), True),
    Row("knowledge answered right", "knowledge.right_share", "pct", Goal(90.0),
        ("knowledge.right", "knowledge.answerable"), True),
    Row("unanswerable declined", "knowledge.declined_share", "pct", Goal(90.0),
        ("knowledge.declined", "knowledge.unanswerable"), True),
    Row("empty replies", "empty_replies", "int", Goal(0.0, at_least=False), shipped_only=True),
)
#: The per-trigger recall lines go right after this row.
TRIGGERS_AFTER = "handoff.precision"


# --------------------------------------------------------------------------------------------- parsing
def message_metrics(score_json: Mapping[str, Any]) -> Dict[str, Any]:
    """score_messages.py ``--json`` output (``{file name: summary}``) → ``{"<set>.<figure>": value}``.
    A file other than the two known sets keeps its stem as set name."""
    metrics: Dict[str, Any] = {}
    for file_name, summary in score_json.items():
        name = MESSAGE_SETS.get(file_name, file_name.rsplit(".", 1)[0])
        for figure in MESSAGE_FIGURES:
            if figure in summary:
                metrics[f"{name}.{figure}"] = summary[figure]
    return metrics


def _ratio(text: Any) -> Tuple[int, int]:
    """converse.py writes per-trigger recall as "handed_off/total"."""
    done, _, total = str(text).partition("/")
    return int(done), int(total)


def _share(done: int, total: int) -> Optional[float]:
    return round(100.0 * done / total, 2) if total else None


def conversation_metrics(converse_json: Mapping[str, Any]) -> Dict[str, Any]:
    """converse.py ``--json`` output for conversations.jsonl → handoff, task and empty-reply metrics."""
    summary = converse_json.get("summary") or {}
    by_trigger = {}
    for trigger, text in sorted((summary.get("recall_by_trigger") or {}).items()):
        done, total = _ratio(text)
        by_trigger[trigger] = {"handed_off": done, "total": total,
                               "recall": round(done / total, 3) if total else None}
    solved, checked = int(summary.get("reply_ok") or 0), int(summary.get("reply_checked") or 0)
    return {
        "handoff.recall": summary.get("handoff_recall"),
        "handoff.precision": summary.get("handoff_precision"),
        "handoff.false": summary.get("false_handoffs"),
        "handoff.by_trigger": by_trigger,
        "tasks.solved": solved,
        "tasks.checked": checked,
        "tasks.share": _share(solved, checked),
        "conversations.empty_replies": summary.get("empty_replies"),
        "conversations.errors": summary.get("errors"),
        "conversations.p50_ms": summary.get("p50_ms"),
    }


def knowledge_metrics(converse_json: Mapping[str, Any], answerable: Mapping[str, bool]) -> Dict[str, Any]:
    """converse.py ``--json`` output for knowledge_questions.jsonl, split by each question's
    ``answerable`` flag (``answerable`` maps question id → flag; ids it lacks are not counted)."""
    summary = converse_json.get("summary") or {}
    right = declined = n_answerable = n_unanswerable = 0
    for result in converse_json.get("results") or []:
        flag = answerable.get(result.get("id"))
        if flag is None:
            continue
        ok = bool(result.get("ok_knowledge"))
        if flag:
            n_answerable += 1
            right += ok
        else:
            n_unanswerable += 1
            declined += ok
    return {
        "knowledge.right": right,
        "knowledge.answerable": n_answerable,
        "knowledge.right_share": _share(right, n_answerable),
        "knowledge.declined": declined,
        "knowledge.unanswerable": n_unanswerable,
        "knowledge.declined_share": _share(declined, n_unanswerable),
        "knowledge.empty_replies": summary.get("empty_replies"),
        "knowledge.errors": summary.get("errors"),
    }


def combine_conversations(metrics: Dict[str, Any]) -> Dict[str, Any]:
    """Adds ``empty_replies`` / ``errors`` summed over the converse runs that ran (absent when none ran)."""
    for name in ("empty_replies", "errors"):
        parts = [metrics.get(f"{run}.{name}") for run in ("conversations", "knowledge")]
        parts = [part for part in parts if part is not None]
        if parts:
            metrics[name] = int(sum(parts))
    return metrics


# --------------------------------------------------------------------------------------------- targets
def check_targets(metrics: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """Every target of issue 14 for one system: ``{"target", "value", "goal", "passed", "result"}`` with
    ``passed`` True / False / None (not measured) and ``result`` PASS / FAIL / n/a."""
    checks = []
    for row in ROWS:
        if row.goal is None:
            continue
        passed = row.goal.check(metrics, row.key)
        checks.append({"target": row.label, "key": row.key, "value": metrics.get(row.key),
                       "goal": row.goal.describe(row.kind), "passed": passed, "result": verdict(passed)})
    return checks


def verdict(passed: Optional[bool]) -> str:
    return {True: "PASS", False: "FAIL", None: "n/a"}[passed]


# --------------------------------------------------------------------------------------------- table
def _number(value: float, kind: str) -> str:
    if kind == "pct":
        return f"{value:.1f} %"
    if kind == "frac":
        return f"{value:.3f}"
    if kind == "ms":
        return f"{value:.1f} ms"
    return f"{value:g}"


def cell(metrics: Mapping[str, Any], row: Row) -> str:
    value = metrics.get(row.key)
    if value is None:
        return "-"
    text = _number(value, row.kind)
    if row.count is not None:
        done, of = (metrics.get(key) for key in row.count)
        text = f"{done}/{of} = {text}"
    return text


def build_table(systems: Mapping[str, Mapping[str, Any]]) -> List[Dict[str, str]]:
    """One dict per line: ``metric``, one column per system (its SYSTEM_TITLES title), ``target`` and
    ``result`` (the shipped system's verdict; n/a without it)."""
    shipped = systems.get("shipped") or {}
    lines = []
    for row in ROWS:
        line = {"metric": row.label}
        for name, metrics in systems.items():
            line[SYSTEM_TITLES.get(name, name)] = "-" if row.shipped_only and name != "shipped" else cell(
                metrics, row)
        line["target"] = row.goal.describe(row.kind) if row.goal else ""
        line["result"] = verdict(row.goal.check(shipped, row.key)) if row.goal else ""
        lines.append(line)
        if row.key == TRIGGERS_AFTER:
            for trigger, counts in (shipped.get("handoff.by_trigger") or {}).items():
                line = {"metric": f"  recall, trigger {trigger}"}
                for name in systems:
                    line[SYSTEM_TITLES.get(name, name)] = (
                        f"{counts['handed_off']}/{counts['total']}" if name == "shipped" else "-")
                line["target"], line["result"] = "", ""
                lines.append(line)
    return lines


def table_columns(systems: Iterable[str]) -> List[str]:
    return ["metric", *(SYSTEM_TITLES.get(name, name) for name in systems), "target", "result"]


def summary_line(checks: Sequence[Mapping[str, Any]]) -> str:
    passed = sum(check["passed"] is True for check in checks)
    failed = [check["target"] for check in checks if check["passed"] is False]
    missing = sum(check["passed"] is None for check in checks)
    text = f"issue 14 targets: {passed}/{len(checks)} met"
    if failed:
        text += f"; missed: {', '.join(failed)}"
    if missing:
        text += f"; {missing} not measured in this run"
    return text
