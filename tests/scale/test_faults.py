"""Faults of the collaborators: the shopper hears about them promptly and nothing acknowledged is lost.

Runs on the shared scale stack (tests/scale/conftest.py) with `channels.outage_guard.OutageGuard`
configured; each test restarts what it broke before it returns. The invariant checked after every
outage: the tracker store holds exactly the exchanges whose replies were not the outage apology
(acknowledged ones), in order, and none of the refused messages.
"""
from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Dict, List, Set

import pytest
import requests
import yaml

from channels.outage_guard import (
    DEFAULT_ACTION_UNAVAILABLE_RESPONSE,
    DEFAULT_MESSAGE_NOT_RECEIVED_RESPONSE,
    FALLBACK_TEXTS,
)
from tests.scale.services import ScaleStack, rest_send
from tests.scale.transcripts import Line, exchange, stored_transcripts
from tests.servers import REPO

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

# A shopper must hear back well within this, also when a collaborator is down (the guard's action
# timeout in the test credentials is 10 s; connection refusals are immediate).
PROMPT_S = 15.0
SEARCH = "show me red hoodies under 60"


def _texts_of(response: str) -> Set[str]:
    """Every wording the shopper may see for an outage response: the domain's and the built-in one."""
    domain = yaml.safe_load((REPO / "domain.yml").read_text())
    variants = (domain.get("responses") or {}).get(response) or []
    return {variant["text"] for variant in variants if "text" in variant} | {FALLBACK_TEXTS[response]}


ACTION_APOLOGIES = _texts_of(DEFAULT_ACTION_UNAVAILABLE_RESPONSE)
NOT_RECEIVED = _texts_of(DEFAULT_MESSAGE_NOT_RECEIVED_RESPONSE)


class Shopper:
    """One conversation: sends messages, remembers what was acknowledged."""

    def __init__(self, stack: ScaleStack, name: str) -> None:
        self.stack = stack
        self.sender = f"fault-{name}-{uuid.uuid4().hex[:8]}"
        self.acknowledged: List[Line] = []

    def say(self, text: str, replica: int = 0) -> List[Dict]:
        """Posts one message and returns the replies; fails when the answer takes longer than PROMPT_S."""
        started = time.monotonic()
        response = rest_send(self.stack.replicas[replica].url, self.sender, text, timeout=PROMPT_S * 4)
        elapsed = time.monotonic() - started
        assert elapsed < PROMPT_S, f"{text!r} took {elapsed:.1f} s"
        assert response.status_code == 200, response.text
        replies = response.json()
        if not _is_refusal(replies):
            self.acknowledged += exchange(text, replies)
        return replies

    def stored(self) -> List[Line]:
        return stored_transcripts(self.stack.tracker_db_url(), [self.sender]).get(self.sender, [])

    def tracker(self, replica: int = 0) -> Dict:
        url = f"{self.stack.replicas[replica].url}/conversations/{self.sender}/tracker"
        return requests.get(url, timeout=30).json()


def _texts(replies: List[Dict]) -> List[str]:
    return [reply.get("text") or "" for reply in replies]


def _is_refusal(replies: List[Dict]) -> bool:
    texts = set(_texts(replies))
    return bool(texts) and texts <= NOT_RECEIVED


def _is_normal_answer(replies: List[Dict]) -> bool:
    texts = set(_texts(replies))
    return bool(texts) and not texts & (ACTION_APOLOGIES | NOT_RECEIVED)


def _until_answered(shopper: Shopper, text: str, attempts: int = 3, replica: int = 0) -> int:
    """Sends `text` until it is answered normally (a shopper retrying); returns the attempts used."""
    for attempt in range(1, attempts + 1):
        if _is_normal_answer(shopper.say(text, replica)):
            return attempt
        time.sleep(1)
    raise AssertionError(f"{text!r} not answered after {attempts} attempts")


def test_action_server_crash_gets_an_apology_and_the_next_turn_works(scale_stack: ScaleStack) -> None:
    shopper = Shopper(scale_stack, "actions")
    assert _is_normal_answer(shopper.say(SEARCH))

    scale_stack.kill_actions()
    try:
        replies = shopper.say("in blue")
        assert set(_texts(replies)) & ACTION_APOLOGIES, replies
    finally:
        scale_stack.start_actions()

    assert _is_normal_answer(shopper.say(SEARCH, replica=1))
    # The apology is part of the conversation's record, like any reply.
    assert shopper.stored() == shopper.acknowledged


def test_paused_conversation_gets_no_apology_while_the_action_server_is_down(scale_stack: ScaleStack) -> None:
    shopper = Shopper(scale_stack, "paused")
    shopper.say("I want to talk to a person")
    assert shopper.tracker()["paused"], "the handoff did not pause the conversation"

    scale_stack.kill_actions()
    try:
        replies = shopper.say("hello? is anyone there?", replica=1)
    finally:
        scale_stack.start_actions()
    assert replies == []  # the agent sees it in the console; the bot stays quiet
    assert shopper.stored() == shopper.acknowledged


def test_postgres_outage_refuses_messages_and_keeps_everything_acknowledged(scale_stack: ScaleStack) -> None:
    shoppers = [Shopper(scale_stack, f"postgres-{n}") for n in range(2)]
    for number, shopper in enumerate(shoppers):
        assert _is_normal_answer(shopper.say(SEARCH, replica=number))

    scale_stack.postgres.stop()
    try:
        for number, shopper in enumerate(shoppers):
            replies = shopper.say("in blue", replica=number)
            assert _is_refusal(replies), replies
    finally:
        scale_stack.postgres.start()

    attempts = [_until_answered(shopper, "in blue", replica=n) for n, shopper in enumerate(shoppers)]
    print(f"\nattempts needed after PostgreSQL came back: {attempts}")
    for shopper in shoppers:
        assert shopper.stored() == shopper.acknowledged
        # Context survived: the refinement still knows the search it refines.
        assert shopper.tracker()["slots"].get("category")


def test_redis_outage_refuses_messages_without_touching_the_tracker(scale_stack: ScaleStack) -> None:
    shopper = Shopper(scale_stack, "redis")
    assert _is_normal_answer(shopper.say(SEARCH))
    events_before = len(shopper.tracker()["events"])

    scale_stack.redis.stop()
    try:
        assert _is_refusal(shopper.say("in blue", replica=1))
        assert _is_refusal(shopper.say("in blue", replica=0))
    finally:
        scale_stack.redis.start()
    assert len(shopper.tracker()["events"]) == events_before

    _until_answered(shopper, "in blue", replica=1)
    assert shopper.stored() == shopper.acknowledged


def test_restarted_replica_continues_conversations_from_the_tracker_store(
    scale_stack: ScaleStack, tmp_path: Path
) -> None:
    shopper = Shopper(scale_stack, "restart")
    assert _is_normal_answer(shopper.say(SEARCH, replica=0))

    replica = scale_stack.replicas[0]
    replica.stop()
    try:
        # The other replica carries on meanwhile ...
        assert _is_normal_answer(shopper.say("in blue", replica=1))
    finally:
        replica.start()
        replica.wait()

    # ... and the restarted one knows everything that happened, before and during its restart.
    assert _is_normal_answer(shopper.say("under 50", replica=0))
    slots = shopper.tracker(replica=0)["slots"]
    assert slots.get("category") and slots.get("color"), slots
    assert shopper.stored() == shopper.acknowledged
