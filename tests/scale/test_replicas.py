"""Two Rasa replicas behind one PostgreSQL tracker store and one Redis lock store stay consistent.

100 simulated shoppers hold 3-4 turn conversations whose messages alternate between the replicas, as
a load balancer without sticky sessions would send them; every fifth shopper then sends two messages
at the same moment, one to each replica, which only the Redis lock keeps from overwriting each other.
Afterwards the tracker store must hold every user message and every bot reply of every conversation
exactly once, in the order the shopper lived through it, and decode as Rasa events.
"""
from __future__ import annotations

import asyncio
import time
import uuid
from typing import Dict, List, Tuple

import aiohttp
import pytest
import requests

from tests.scale.services import ScaleStack
from tests.scale.transcripts import Line, exchange, stored_transcripts

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SHOPPERS = 100
CONCURRENT_SHOPPERS = 20
BURST_EVERY = 5
SCRIPTS = [
    ["hi", "show me red hoodies under 60", "in blue", "thanks"],
    ["hello", "what payment methods do you take?", "how long does delivery take?"],
    ["show me shoes", "under 80", "thank you", "bye"],
    ["where is my order SA-100001", "alex.morgan@example.com", "thanks"],
]
BURST = ("what payment methods do you take?", "how long does delivery take?")


async def _say(session: aiohttp.ClientSession, base_url: str, sender: str, text: str) -> List[Dict]:
    payload = {"sender": sender, "message": text}
    async with session.post(f"{base_url}/webhooks/rest/webhook", json=payload) as r:
        assert r.status == 200, f"{base_url} answered {r.status} to {text!r}"
        replies = await r.json()
    assert replies, f"{base_url} answered {text!r} of {sender} with silence"
    return replies


async def _shopper(
    session: aiohttp.ClientSession, urls: List[str], number: int, sender: str
) -> Tuple[List[Line], List[List[Line]]]:
    """Returns the sequential part of the transcript and the burst's two exchanges (any order)."""
    transcript: List[Line] = []
    for turn, text in enumerate(SCRIPTS[number % len(SCRIPTS)]):
        replies = await _say(session, urls[(number + turn) % len(urls)], sender, text)
        transcript += exchange(text, replies)
    burst: List[List[Line]] = []
    if number % BURST_EVERY == 0:
        pairs = zip(urls, BURST, strict=True)
        replies = await asyncio.gather(*(_say(session, url, sender, text) for url, text in pairs))
        burst = [exchange(text, r) for text, r in zip(BURST, replies, strict=True)]
    return transcript, burst


async def _run_shoppers(urls: List[str], senders: List[str]) -> List[Tuple[List[Line], List[List[Line]]]]:
    limit = asyncio.Semaphore(CONCURRENT_SHOPPERS)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def bounded(number: int, sender: str) -> Tuple[List[Line], List[List[Line]]]:
            async with limit:
                return await _shopper(session, urls, number, sender)

        return await asyncio.gather(*(bounded(n, s) for n, s in enumerate(senders)))


def test_replicas_store_every_message_and_reply_once_and_in_order(scale_stack: ScaleStack) -> None:
    urls = [replica.url for replica in scale_stack.replicas]
    senders = [f"replica-{number}-{uuid.uuid4().hex[:8]}" for number in range(SHOPPERS)]

    started = time.monotonic()
    lived = asyncio.run(_run_shoppers(urls, senders))
    elapsed = time.monotonic() - started
    messages = sum(sum(kind == "user" for kind, _ in t) + 2 * bool(b) for t, b in lived)
    print(f"\n{SHOPPERS} shoppers, {messages} messages over {len(urls)} replicas in {elapsed:.1f} s "
          f"({messages / elapsed:.1f} messages/s)")

    stored = stored_transcripts(scale_stack.tracker_db_url(), senders)
    for sender, (transcript, burst) in zip(senders, lived, strict=True):
        expected_orders = [transcript] if not burst else [transcript + burst[0] + burst[1],
                                                          transcript + burst[1] + burst[0]]
        assert stored.get(sender) in expected_orders, (
            f"{sender}: stored\n{stored.get(sender)}\nlived\n{expected_orders[0]}"
        )

    # Both replicas serve the same conversation state from the shared store.
    for sender in senders[::BURST_EVERY * 4]:
        views = [requests.get(f"{url}/conversations/{sender}/tracker", timeout=30).json()["events"]
                 for url in urls]
        assert views[0] == views[1]
