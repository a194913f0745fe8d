"""The handoff benchmark's snippets are well-formed and its replay works (small domain, a few seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bench.handoff import run
from components.policies.handoff_policy import ALL_TRIGGERS, HandoffPolicy
from tests.policies.helpers import make_policy, small_domain

SNIPPETS = Path(run.__file__).with_name("snippets.yml")


@pytest.fixture(scope="module")
def snippets() -> list:
    return yaml.safe_load(SNIPPETS.read_text(encoding="utf-8"))["snippets"]


def test_snippets_are_well_formed(snippets: list) -> None:
    assert len(snippets) >= 60
    assert len({snippet["id"] for snippet in snippets}) == len(snippets)
    for snippet in snippets:
        assert snippet["label"] in (run.HANDOFF, run.NO_HANDOFF), snippet["id"]
        assert snippet["trigger"] in (*ALL_TRIGGERS, run.NONE), snippet["id"]
        assert (snippet["trigger"] == run.NONE) == (snippet["label"] == run.NO_HANDOFF), snippet["id"]
        for turn in snippet["turns"]:
            assert turn["intent"] and 0.0 <= turn["confidence"] <= 1.0, snippet["id"]
    covered = {snippet["category"] for snippet in snippets}
    assert {
        "explicit_request",
        "anger_sustained",
        "anger_rising",
        "outburst",
        "repeated_fallback",
        "repeated_request",
        "sensitive_topic",
        "shopping",
        "form",
    } <= covered


def test_replay_meets_the_targets_with_default_config(tmp_path: Path, snippets: list) -> None:
    domain = small_domain()
    decide = run.policy_decider(make_policy(tmp_path), domain)
    outcomes = [run.replay(snippet, decide, domain) for snippet in snippets]
    binary = run.binary_metrics(outcomes)
    triggers = run.per_trigger(outcomes)
    assert binary["precision"] >= run.TARGETS["precision_overall"]
    assert triggers["explicit_request"]["recall"] >= run.TARGETS["recall_explicit_request"]
    # sustained anger holds one deliberately near-threshold snippet (anger 0.57 and 0.59): caught since the
    # default anger_threshold went from 0.6 to 0.55 (precision unchanged on this bench)
    assert triggers["anger_sustained"]["recall"] >= run.TARGETS["recall_anger_sustained"]


def test_the_generic_answer_is_neither_a_noop_nor_a_fallback() -> None:
    """A turn without `bot:` stands for a normal answer: it must not count as failed."""
    config = HandoffPolicy.get_default_config()
    assert run.GENERIC_ANSWER not in config["noop_responses"]
    assert run.GENERIC_ANSWER not in config["fallback_actions"]
