"""Fixtures for the console tests: a seeded shop database per test, a loopback stand-in for Rasa's HTTP API,
and the console itself served on a free loopback port.

Sanic 21.12 allows several apps per process only in test mode (see tests/channels/conftest.py); it is set
here at collection time too, so either package may start the first app.
"""
from __future__ import annotations

import asyncio
import socket
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Dict, List, Optional

import aiohttp
import pytest
from aiohttp import web
from sanic import Sanic

from console.app import create_app
from console.passwords import hash_password
from console.settings import ConsoleSettings
from shop.handoff import HandoffDesk
from tests.loopback import serve_sanic as serve

Sanic.test_mode = True

RASA_TOKEN = "rasa-test-token"
PASSWORDS = {"alice": "correct horse battery", "bob": "staple-4-ever"}
# Cheap hashes (N = 2**4) keep the tests fast; the format and code path are the production ones.
AGENTS = {name: hash_password(password, log2_n=4) for name, password in PASSWORDS.items()}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def desk(db_url: str) -> HandoffDesk:
    return HandoffDesk(db_url)


@dataclass
class RasaCall:
    method: str
    path: str
    query: Dict[str, str]
    body: Any


@dataclass
class RasaStandIn:
    """Answers ``GET /conversations/<id>/tracker`` and ``POST /conversations/<id>/tracker/events`` the way
    Rasa 3.6 does (token auth, events appended, ``paused`` following pause/resume), recording every call.
    ``start``/``stop`` on a fixed port imitate a Rasa restart."""

    port: int = field(default_factory=free_port)
    calls: List[RasaCall] = field(default_factory=list)
    trackers: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    _runner: Optional[web.AppRunner] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tracker(self, sender: str) -> Dict[str, Any]:
        return self.trackers.setdefault(
            sender, {"sender_id": sender, "events": [], "paused": False, "latest_input_channel": None}
        )

    def posted_events(self, sender: Optional[str] = None) -> List[Dict[str, Any]]:
        return [
            event
            for call in self.calls
            if call.method == "POST" and (sender is None or f"/conversations/{sender}/" in call.path)
            for event in call.body
        ]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        self.calls.append(RasaCall(request.method, request.path, dict(request.query), body))
        if request.query.get("token") != RASA_TOKEN:
            refusal = {"status": "failure", "message": "User is not authenticated."}
            return web.json_response(refusal, status=401)
        tracker = self.tracker(request.match_info["sender"])
        if request.method == "POST":
            events = body if isinstance(body, list) else [body]
            for event in events:
                if event.get("event") == "pause":
                    tracker["paused"] = True
                elif event.get("event") == "resume":
                    tracker["paused"] = False
            tracker["events"].extend(events)
        return web.json_response(tracker)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/conversations/{sender}/tracker", self._handle)
        app.router.add_post("/conversations/{sender}/tracker/events", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class Console:
    url: str
    http: aiohttp.ClientSession
    rasa: RasaStandIn
    clock: Clock
    app: Sanic

    async def call(self, method: str, path: str, json: Any = None, **kwargs: Any) -> tuple[int, Any]:
        if method == "POST" and json is None and "data" not in kwargs:
            json = {}
        async with self.http.request(method, f"{self.url}{path}", json=json, **kwargs) as resp:
            return resp.status, await resp.json(content_type=None)

    async def login(self, agent: str = "alice") -> None:
        status, data = await self.call("POST", "/api/login", {"agent": agent, "password": PASSWORDS[agent]})
        assert status == 200, data


@asynccontextmanager
async def console_running(
    db_url: str, desk: Optional[HandoffDesk] = None, rasa_up: bool = True, **overrides: Any
) -> AsyncIterator[Console]:
    rasa = RasaStandIn()
    if rasa_up:
        await rasa.start()
    clock = Clock()
    options: Dict[str, Any] = dict(
        agents=AGENTS, rasa_url=rasa.url, rasa_token=RASA_TOKEN, rasa_timeout_s=2.0, db_url=db_url,
        session_ttl_s=600,
    )
    options.update(overrides)
    app = create_app(ConsoleSettings(**options), desk=desk, clock=clock)
    try:
        async with serve(app) as url:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                yield Console(url, http, rasa, clock, app)
    finally:
        await rasa.stop()


def run(coro: Any) -> Any:
    return asyncio.run(coro)
