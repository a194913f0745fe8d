"""The Telegram connector against a loopback stand-in for the Bot API, served like ``rasa run`` serves it."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, Optional, Tuple

import aiohttp
import pytest
from rasa.shared.exceptions import InvalidConfigException

from channels.telegram import SECRET_TOKEN_HEADER, ShopTelegramInput, ShopTelegramOutput
from tests.channels.stand_ins import BOT_TOKEN, BOT_USERNAME, EchoAgent, StandInApis, rasa_server

SECRET = "shop-secret_42"
WEBHOOK_URL = "https://shop.example/webhooks/telegram/webhook"
CHAT_ID = 424242
UPDATE = {
    "update_id": 1001,
    "message": {
        "message_id": 7,
        "date": 1700000000,
        "chat": {"id": CHAT_ID, "type": "private", "first_name": "Sam"},
        "from": {"id": CHAT_ID, "is_bot": False, "first_name": "Sam"},
        "text": "where is my order?",
    },
}


def make_channel(apis: StandInApis, secret_token: Optional[str] = SECRET) -> ShopTelegramInput:
    credentials: Dict[str, Any] = {
        "access_token": BOT_TOKEN,
        "verify": BOT_USERNAME,
        "webhook_url": WEBHOOK_URL,
        "api_base_url": apis.telegram_base_url,
    }
    if secret_token is not None:
        credentials["secret_token"] = secret_token
    channel = ShopTelegramInput.from_credentials(credentials)
    assert isinstance(channel, ShopTelegramInput)
    return channel


class FailingAgent(EchoAgent):
    async def handle_message(self, message: Any) -> None:
        self.messages.append(message)
        raise RuntimeError("the bot fell over")


def post_update(
    headers: Dict[str, str], secret_token: Optional[str] = SECRET, agent: Optional[EchoAgent] = None
) -> Tuple[int, str, StandInApis, EchoAgent]:
    """Starts the stand-in and the server, posts ``UPDATE`` to the webhook, returns what happened."""
    agent = agent or EchoAgent()

    async def scenario() -> Tuple[int, str, StandInApis, EchoAgent]:
        async with StandInApis().running() as apis:
            async with rasa_server(make_channel(apis, secret_token), agent) as url:
                async with aiohttp.ClientSession() as http:
                    async with http.post(f"{url}/webhook", json=UPDATE, headers=headers) as resp:
                        return resp.status, await resp.text(), apis, agent

    return asyncio.run(scenario())


def test_update_is_answered_with_send_message_to_the_chat() -> None:
    status, body, apis, agent = post_update({SECRET_TOKEN_HEADER: SECRET})

    assert (status, body) == (200, "success")
    assert [m.text for m in agent.messages] == ["where is my order?"]
    assert agent.messages[0].sender_id == str(CHAT_ID)
    assert agent.messages[0].input_channel == "telegram"
    sends = apis.called("sendMessage")
    assert [(c.params["chat_id"], c.params["text"]) for c in sends] == [
        (str(CHAT_ID), "echo: where is my order?")
    ]


def test_webhook_is_registered_at_start_with_the_secret_token() -> None:
    _, _, apis, _ = post_update({SECRET_TOKEN_HEADER: SECRET})

    registrations = apis.called("setWebhook")
    assert [c.params for c in registrations] == [{"url": WEBHOOK_URL, "secret_token": SECRET}]
    assert apis.calls[0].method == "setWebhook"  # before any update was handled


@pytest.mark.parametrize(
    "headers", [{}, {SECRET_TOKEN_HEADER: "wrong-secret"}, {SECRET_TOKEN_HEADER: SECRET + "x"}]
)
def test_update_without_the_right_secret_token_is_refused(headers: Dict[str, str]) -> None:
    status, _, apis, agent = post_update(headers)

    assert status == 403
    assert agent.messages == []
    assert apis.called("sendMessage") == [] and apis.called("getMe") == []


def test_without_a_configured_secret_token_updates_are_accepted_as_rasa_does() -> None:
    status, _, apis, agent = post_update({}, secret_token=None)

    assert status == 200
    assert len(agent.messages) == 1
    assert [c.params for c in apis.called("setWebhook")] == [{"url": WEBHOOK_URL}]


def test_a_failing_bot_still_acknowledges_the_update_so_telegram_does_not_redeliver_it() -> None:
    status, body, apis, agent = post_update({SECRET_TOKEN_HEADER: SECRET}, agent=FailingAgent())

    assert (status, body) == (200, "success")
    assert len(agent.messages) == 1
    assert apis.called("sendMessage") == []


def test_health_route_needs_no_secret() -> None:
    async def scenario() -> int:
        async with StandInApis().running() as apis:
            async with rasa_server(make_channel(apis), EchoAgent()) as url:
                async with aiohttp.ClientSession() as http:
                    async with http.get(f"{url}/") as resp:
                        return resp.status

    assert asyncio.run(scenario()) == 200


def test_output_channel_can_be_made_inside_a_running_loop_without_network() -> None:
    """Rasa's HTTP API builds it in the server loop for ``output_channel=latest``."""
    channel = ShopTelegramInput(BOT_TOKEN, BOT_USERNAME, WEBHOOK_URL, api_base_url="http://127.0.0.1:9/tg/")

    async def build() -> ShopTelegramOutput:
        return channel.get_output_channel()

    output = asyncio.run(build())
    assert output is channel.get_output_channel()  # one Bot, one HTTP session, however often asked
    assert output.name() == "telegram"
    assert output.server.api_url(BOT_TOKEN, "sendMessage") == (
        f"http://127.0.0.1:9/tg/bot{BOT_TOKEN}/sendMessage"
    )


def test_default_api_is_the_official_one() -> None:
    channel = ShopTelegramInput.from_credentials({"access_token": BOT_TOKEN, "verify": BOT_USERNAME})
    output = channel.get_output_channel()
    assert output.server.api_url(BOT_TOKEN, "getMe") == f"https://api.telegram.org/bot{BOT_TOKEN}/getMe"


@pytest.mark.parametrize("secret", ["", "has space", "x" * 257, "naïve"])
def test_invalid_secret_token_is_a_configuration_error(secret: str) -> None:
    with pytest.raises(InvalidConfigException):
        ShopTelegramInput(BOT_TOKEN, BOT_USERNAME, WEBHOOK_URL, secret_token=secret)
