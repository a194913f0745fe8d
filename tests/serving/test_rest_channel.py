"""channels.rest.ShopRestInput on a bare Sanic app (no model): what reaches the assistant and what does not.

tests/e2e/test_http_edge.py checks the same channel inside the real Rasa server.
"""
from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any, Dict, List, Tuple

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from channels.rest import DEFAULT_MAX_BODY_BYTES, ShopRestInput
from tests.loopback import serve_sanic

JSON = {"Content-Type": "application/json"}


def exchange(channel: ShopRestInput, **request: Any) -> Tuple[int, Any, List[UserMessage]]:
    """POSTs one request to the channel's webhook; returns status, JSON answer and the messages handled."""
    handled: List[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        handled.append(message)
        await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")

    async def scenario() -> Tuple[int, Any]:
        app = Sanic(f"rest_test_{uuid.uuid4().hex[:8]}")
        app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/rest")
        async with serve_sanic(app) as url, aiohttp.ClientSession() as session:
            async with session.post(f"{url}/webhooks/rest/webhook", **request) as answer:
                return answer.status, json.loads(await answer.text())

    status, body = asyncio.run(scenario())
    return status, body, handled


def test_a_good_message_is_handled_as_by_rasa() -> None:
    body = {"sender": "shopper-1", "message": "hello", "metadata": {"page": "/checkout"}}
    status, answer, handled = exchange(ShopRestInput(), json=body)
    assert status == 200
    assert answer == [{"recipient_id": "shopper-1", "text": "echo: hello"}]
    (message,) = handled
    assert (message.sender_id, message.text) == ("shopper-1", "hello")
    assert message.metadata == {"page": "/checkout"}
    assert message.input_channel == "rest"


def test_json_content_type_with_charset_and_empty_text_are_accepted() -> None:
    data = json.dumps({"sender": "shopper-2", "message": ""}).encode()
    headers = {"Content-Type": "application/json; charset=utf-8"}
    status, _, handled = exchange(ShopRestInput(), data=data, headers=headers)
    assert status == 200 and len(handled) == 1


def test_the_client_cannot_name_another_input_channel() -> None:
    _, _, handled = exchange(ShopRestInput(), json={"sender": "s", "message": "hi", "input_channel": "slack"})
    assert handled[0].input_channel == "rest"


CASES: Dict[str, Tuple[Dict[str, Any], int, str]] = {
    "empty body": ({"data": b"", "headers": JSON}, 400, "InvalidJSON"),
    "malformed": ({"data": b'{"sender": "s", "message": ', "headers": JSON}, 400, "InvalidJSON"),
    "invalid utf-8": ({"data": b'{"sender": "s", "message": "\xff"}', "headers": JSON}, 400, "InvalidJSON"),
    "text/plain": ({"data": b'{"sender": "s", "message": "hi"}', "headers": {"Content-Type": "text/plain"}},
                   415, "UnsupportedMediaType"),
    "no content type": ({"data": b'{"sender": "s", "message": "hi"}', "headers": {"Content-Type": ""}},
                        415, "UnsupportedMediaType"),
    "array": ({"json": ["s", "hi"]}, 400, "NotAnObject"),
    "no sender": ({"json": {"message": "hi"}}, 400, "InvalidSender"),
    "blank sender": ({"json": {"sender": "  ", "message": "hi"}}, 400, "InvalidSender"),
    "long sender": ({"json": {"sender": "s" * 256, "message": "hi"}}, 400, "InvalidSender"),
    "sender with NUL": ({"json": {"sender": "a\x00b", "message": "hi"}}, 400, "InvalidSender"),
    "no message": ({"json": {"sender": "s"}}, 400, "InvalidMessage"),
    "numeric message": ({"json": {"sender": "s", "message": 5}}, 400, "InvalidMessage"),
    "list metadata": ({"json": {"sender": "s", "message": "hi", "metadata": [1]}}, 400, "InvalidMetadata"),
    "too large": ({"json": {"sender": "s", "message": "x" * (DEFAULT_MAX_BODY_BYTES + 1)}},
                  413, "PayloadTooLarge"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_requests_are_refused_before_the_assistant(case: str) -> None:
    request, expected_status, reason = CASES[case]
    status, answer, handled = exchange(ShopRestInput(), **request)
    assert (status, answer["reason"]) == (expected_status, reason)
    assert answer["status"] == "failure" and answer["code"] == expected_status and answer["message"]
    assert handled == []


def test_body_limit_comes_from_credentials() -> None:
    channel = ShopRestInput.from_credentials({"max_body_bytes": 100})
    status, answer, handled = exchange(channel, json={"sender": "s", "message": "x" * 200})
    assert status == 413 and "at most 100" in answer["message"] and handled == []
    assert ShopRestInput.from_credentials(None).max_body_bytes == DEFAULT_MAX_BODY_BYTES


def test_health_route_is_untouched() -> None:
    async def scenario() -> Tuple[int, Any]:
        app = Sanic("rest_test_health")

        async def ignore(_message: UserMessage) -> None:
            return None

        app.blueprint(ShopRestInput().blueprint(ignore), url_prefix="/webhooks/rest")
        async with serve_sanic(app) as url, aiohttp.ClientSession() as session:
            async with session.get(f"{url}/webhooks/rest/") as answer:
                return answer.status, await answer.json()

    assert asyncio.run(scenario()) == (200, {"status": "ok"})


def test_the_check_applies_to_this_channel_only() -> None:
    """Sanic blueprint middleware is scoped: other channels and Rasa's HTTP API see their requests as sent."""
    from sanic import Blueprint
    from sanic import response as sanic_response

    async def scenario() -> Dict[str, int]:
        app = Sanic(f"rest_test_scope_{uuid.uuid4().hex[:8]}")

        async def ignore(_message: UserMessage) -> None:
            return None

        app.blueprint(ShopRestInput().blueprint(ignore), url_prefix="/webhooks/rest")
        other = Blueprint(f"other_{uuid.uuid4().hex[:8]}")
        other.add_route(lambda request: sanic_response.text("ok"), "/webhook", methods=["POST"])
        app.blueprint(other, url_prefix="/webhooks/other")
        statuses = {}
        async with serve_sanic(app) as url, aiohttp.ClientSession() as session:
            for path in ("/webhooks/other/webhook", "/webhooks/rest/webhook"):
                plain = {"data": b"plain", "headers": {"Content-Type": "text/plain"}}
                async with session.post(url + path, **plain) as answer:
                    statuses[path] = answer.status
        return statuses

    assert asyncio.run(scenario()) == {"/webhooks/other/webhook": 200, "/webhooks/rest/webhook": 415}
