"""The handoff webhook: a loopback stand-in receives each new ticket; a dead or slow one never breaks the
reply."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Dict, List, Tuple

import pytest
from aiohttp import web
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionHandoff
from tests.actions.conftest import responses
from tests.actions.test_handoff import ANGRY_TURNS, MONDAY_NOON, VERIFIED, handoff_tracker


@asynccontextmanager
async def webhook_stand_in(delay: float = 0.0, status: int = 200) -> AsyncIterator[Tuple[str, List[Dict]]]:
    received: List[Dict[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        received.append({"body": body, "headers": dict(request.headers)})
        if delay:
            await asyncio.sleep(delay)
        return web.json_response({"ok": True}, status=status)

    app = web.Application()
    app.router.add_post("/hooks/handoff", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}/hooks/handoff", received
    finally:
        await runner.cleanup()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _handoff(domain: Dict[str, Any], sender: str = "shopper-1") -> Tuple[List[Dict], List[Dict]]:
    dispatcher = CollectingDispatcher()
    tracker = handoff_tracker(ANGRY_TURNS, VERIFIED, sender_id=sender)
    events = await ActionHandoff().run(dispatcher, tracker, domain)
    return dispatcher.messages, events


@pytest.fixture(autouse=True)
def _in_hours(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HANDOFF_BUSINESS_HOURS", "HANDOFF_WEBHOOK_SECRET", "HANDOFF_WEBHOOK_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(ActionHandoff, "clock", staticmethod(lambda: MONDAY_NOON))


def test_webhook_receives_the_new_ticket_signed_and_without_full_emails(fresh_db, domain, monkeypatch):
    monkeypatch.setenv("HANDOFF_WEBHOOK_SECRET", "hook-secret")

    async def scenario() -> Tuple[List[Dict], List[Dict]]:
        async with webhook_stand_in() as (url, received):
            monkeypatch.setenv("HANDOFF_WEBHOOK_URL", url)
            messages, _ = await _handoff(domain)
            await _handoff(domain)  # the same open ticket: no second notification
            return messages, received

    messages, received = asyncio.run(scenario())
    assert responses(messages) == ["utter_handoff"]
    assert len(received) == 1
    body = received[0]["body"]
    expected = "sha256=" + hmac.new(b"hook-secret", body, hashlib.sha256).hexdigest()
    assert received[0]["headers"]["X-ShopAssist-Signature"] == expected
    payload = json.loads(body)
    assert payload["event"] == "handoff.ticket_created"
    ticket = payload["ticket"]
    assert ticket["id"] == 1 and ticket["sender_id"] == "shopper-1" and ticket["status"] == "waiting"
    assert ticket["order_id"] == "SA-100002" and "customer_name" not in ticket
    assert "Alex" not in body.decode()
    assert ticket["customer_email"] == "a***@example.com"
    assert "alex.morgan@example.com" not in body.decode()
    assert [h["emotion"] for h in ticket["history"]] == ["neutral", "anger", "anger"]


def test_dead_webhook_does_not_break_the_reply(fresh_db, domain, monkeypatch, caplog):
    monkeypatch.setenv("HANDOFF_WEBHOOK_URL", f"http://127.0.0.1:{_closed_port()}/hook")
    messages, events = asyncio.run(_handoff(domain))
    assert responses(messages) == ["utter_handoff"]
    assert events[-1]["event"] == "pause"
    assert "handoff webhook failed" in caplog.text


def test_slow_or_failing_webhook_is_cut_off(fresh_db, domain, monkeypatch, caplog):
    monkeypatch.setenv("HANDOFF_WEBHOOK_TIMEOUT", "0.2")

    async def scenario() -> Tuple[List[str], List[Dict], List[Dict]]:
        async with webhook_stand_in(delay=1.0) as (url, slow_received):
            monkeypatch.setenv("HANDOFF_WEBHOOK_URL", url)
            messages, _ = await _handoff(domain, "slow")
            # the stand-in answers 200 after 1 s; the action gave up at 0.2 s, before that answer existed
            slow_log = [r.getMessage() for r in caplog.records]
        assert len(slow_received) == 1
        async with webhook_stand_in(status=500) as (url, received):
            monkeypatch.setenv("HANDOFF_WEBHOOK_URL", url)
            failing, _ = await _handoff(domain, "failing")
        return slow_log, messages + failing, received

    slow_log, messages, received = asyncio.run(scenario())
    assert any("handoff webhook failed" in line and "TimeoutError" in line for line in slow_log), slow_log
    assert responses(messages) == ["utter_handoff", "utter_handoff"]
    assert len(received) == 1 and "HTTP 500" in caplog.text
