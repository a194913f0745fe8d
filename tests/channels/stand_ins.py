"""Loopback stand-ins for the Telegram Bot API and the Slack Web API, and a Rasa server around a channel.

Nothing here reaches beyond 127.0.0.1. The stand-ins answer the few methods the connectors use, in the
shape the real APIs use (``{"ok": true, "result": ...}`` for Telegram, ``{"ok": true, ...}`` for
Slack), and record every call so tests can assert on what the connector sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Dict, List, Optional

from aiohttp import web
from rasa.core.channels.channel import InputChannel, UserMessage, register
from sanic import Sanic

from tests.loopback import serve_sanic

BOT_USERNAME = "shopassist_test_bot"
BOT_TOKEN = "123456:TEST-token_for-the_stand-in"
SLACK_BOT_TOKEN = "xoxb-test-token"
SLACK_SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@dataclass
class ApiCall:
    service: str  # "telegram" or "slack"
    method: str  # e.g. "sendMessage", "chat.postMessage"
    params: Dict[str, Any]
    headers: Dict[str, str]


@dataclass
class StandInApis:
    """One aiohttp app on a free loopback port serving both stand-ins."""

    calls: List[ApiCall] = field(default_factory=list)
    base_url: str = ""

    @property
    def telegram_base_url(self) -> str:
        return f"{self.base_url}/telegram"

    @property
    def slack_base_url(self) -> str:
        return f"{self.base_url}/slack/api/"

    def called(self, method: str) -> List[ApiCall]:
        return [call for call in self.calls if call.method == method]

    async def wait_for(self, method: str, count: int, timeout: float = 5.0) -> List[ApiCall]:
        """Waits until ``method`` was called ``count`` times (Slack replies from a background task)."""
        deadline = time.monotonic() + timeout
        while len(self.called(method)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{method} called {len(self.called(method))} times, wanted {count}")
            await asyncio.sleep(0.01)
        return self.called(method)

    async def _telegram(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = dict(await request.post())
        self.calls.append(ApiCall("telegram", method, params, dict(request.headers)))
        if request.match_info["token"] != BOT_TOKEN:
            unauthorized = {"ok": False, "error_code": 401, "description": "Unauthorized"}
            return web.json_response(unauthorized, status=401)
        result: Any = True
        if method == "getMe":
            result = {"id": 123456, "is_bot": True, "first_name": "ShopAssist", "username": BOT_USERNAME}
        elif method == "sendMessage":
            chat_id = int(params["chat_id"])
            result = {
                "message_id": len(self.calls),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "text": params.get("text", ""),
            }
        return web.json_response({"ok": True, "result": result})

    async def _slack(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.content_type == "application/json":
            params = await request.json()
        else:
            params = dict(await request.post())
        self.calls.append(ApiCall("slack", method, params, dict(request.headers)))
        if request.headers.get("Authorization") != f"Bearer {SLACK_BOT_TOKEN}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if method == "chat.postMessage":
            return web.json_response(
                {"ok": True, "channel": params.get("channel"), "ts": f"{time.time():.6f}", "message": params}
            )
        return web.json_response({"ok": True})

    @asynccontextmanager
    async def running(self) -> AsyncIterator[StandInApis]:
        app = web.Application()
        app.router.add_post("/telegram/bot{token}/{method}", self._telegram)
        app.router.add_post("/slack/api/{method}", self._slack)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        try:
            yield self
        finally:
            await runner.cleanup()


class EchoAgent:
    """Stands in for ``rasa.core.agent.Agent``: answers every message with ``echo: <text>``."""

    def __init__(self) -> None:
        self.messages: List[UserMessage] = []

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")


@asynccontextmanager
async def rasa_server(channel: InputChannel, agent: EchoAgent) -> AsyncIterator[str]:
    """Serves ``channel`` the way ``rasa run`` does (``register`` under ``/webhooks/``) on loopback."""
    app = Sanic(f"shop_channels_test_{uuid.uuid4().hex}", configure_logging=False)
    app.ctx.agent = agent
    register([channel], app, "/webhooks/")
    async with serve_sanic(app) as base_url:
        yield f"{base_url}/webhooks/{channel.url_prefix()}"


def slack_headers(
    body: bytes,
    secret: str = SLACK_SIGNING_SECRET,
    timestamp: Optional[int] = None,
    content_type: str = "application/json",
) -> Dict[str, str]:
    """Headers Slack sends: ``X-Slack-Signature`` = ``v0=`` HMAC-SHA256 of ``v0:{ts}:{body}``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    base = f"v0:{timestamp}:".encode() + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": signature,
    }


def slack_message_event(
    event_id: str, text: str, channel: str = "D0SHOPDM", user: str = "U0SHOPPER"
) -> bytes:
    """A direct message to the bot as the Events API delivers it (``event_callback``)."""
    return json.dumps(
        {
            "token": "unused-verification-token",
            "team_id": "T0SHOP",
            "api_app_id": "A0SHOP",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"user_id": "U0BOT", "is_bot": True}],
            "event": {
                "type": "message",
                "channel_type": "im",
                "channel": channel,
                "user": user,
                "text": text,
                "ts": "1700000000.000100",
                "event_ts": "1700000000.000100",
            },
        }
    ).encode()
