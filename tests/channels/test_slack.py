"""The Slack connector against a loopback stand-in for the Web API, served like ``rasa run`` serves it."""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Dict, List, Tuple

import aiohttp
import pytest

from channels.slack import ShopSlackBot, ShopSlackInput
from tests.channels.stand_ins import (
    SLACK_BOT_TOKEN,
    SLACK_SIGNING_SECRET,
    EchoAgent,
    StandInApis,
    rasa_server,
    slack_headers,
    slack_message_event,
)

Reply = Tuple[int, str, Dict[str, str]]


class SlackSession:
    """A running stand-in + Rasa server with the Slack connector, and a client posting to its webhook."""

    def __init__(self, apis: StandInApis, agent: EchoAgent, url: str, http: aiohttp.ClientSession) -> None:
        self.apis, self.agent, self.url, self.http = apis, agent, url, http

    async def post(self, body: bytes, headers: Dict[str, str]) -> Reply:
        async with self.http.post(f"{self.url}/webhook", data=body, headers=headers) as resp:
            return resp.status, await resp.text(), dict(resp.headers)


@asynccontextmanager
async def slack_session() -> AsyncIterator[SlackSession]:
    agent = EchoAgent()
    async with StandInApis().running() as apis:
        channel = ShopSlackInput.from_credentials(
            {
                "slack_token": SLACK_BOT_TOKEN,
                "slack_signing_secret": SLACK_SIGNING_SECRET,
                "api_base_url": apis.slack_base_url,
            }
        )
        async with rasa_server(channel, agent) as url:
            async with aiohttp.ClientSession() as http:
                yield SlackSession(apis, agent, url, http)


def post_messages(
    events: List[Tuple[bytes, Dict[str, str]]], wait_for_replies: int
) -> Tuple[List[Reply], SlackSession]:
    """Posts ``events`` in order, waits for ``wait_for_replies`` postMessage calls, returns the replies."""

    async def scenario() -> Tuple[List[Reply], SlackSession]:
        async with slack_session() as slack:
            replies = [await slack.post(body, headers) for body, headers in events]
            if wait_for_replies:
                await slack.apis.wait_for("chat.postMessage", wait_for_replies)
            return replies, slack

    return asyncio.run(scenario())


def test_signed_message_event_is_answered_with_chat_post_message() -> None:
    body = slack_message_event("Ev01", "hello shop")
    (reply,), slack = post_messages([(body, slack_headers(body))], wait_for_replies=1)

    assert reply[0] == 200
    (post,) = slack.apis.called("chat.postMessage")
    assert post.params["channel"] == "D0SHOPDM"
    assert post.params["text"] == "echo: hello shop"
    assert post.headers["Authorization"] == f"Bearer {SLACK_BOT_TOKEN}"
    assert [(m.sender_id, m.input_channel) for m in slack.agent.messages] == [("U0SHOPPER", "slack")]


def unsigned(body: bytes) -> Dict[str, str]:
    return {"Content-Type": "application/json"}


def wrong_secret(body: bytes) -> Dict[str, str]:
    return slack_headers(body, secret="not-the-signing-secret")


def stale(body: bytes) -> Dict[str, str]:
    return slack_headers(body, timestamp=int(time.time()) - 10 * 60)


def tampered(body: bytes) -> Dict[str, str]:
    return slack_headers(body.replace(b"hello", b"HELLO"))


@pytest.mark.parametrize("make_headers", [unsigned, wrong_secret, stale, tampered])
def test_event_without_a_valid_signature_is_refused(make_headers: Any) -> None:
    body = slack_message_event("Ev02", "hello shop")
    # A valid event afterwards proves the server was up and answering when the bad one was refused.
    good = slack_message_event("Ev03", "second")
    (bad_reply, good_reply), slack = post_messages(
        [(body, make_headers(body)), (good, slack_headers(good))], wait_for_replies=1
    )

    assert bad_reply[0] == 401
    assert good_reply[0] == 200
    assert [c.params["text"] for c in slack.apis.called("chat.postMessage")] == ["echo: second"]
    assert [m.text for m in slack.agent.messages] == ["second"]


@pytest.mark.parametrize("reason", ["http_error", "http_timeout", "unknown_error"])
def test_a_retried_event_is_answered_once(reason: str) -> None:
    first = slack_message_event("Ev04", "where is my parcel")
    retry_headers = {**slack_headers(first), "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": reason}
    # Had the retry been handed to the bot, its task would have started before the later event's:
    # once the later event is answered, the agent's log is complete.
    later = slack_message_event("Ev05", "thanks")
    replies, slack = post_messages(
        [(first, slack_headers(first)), (first, retry_headers), (later, slack_headers(later))],
        wait_for_replies=2,
    )

    assert [r[0] for r in replies] == [200, 200, 200]
    assert replies[1][2].get("X-Slack-No-Retry") == "1"
    assert [c.params["text"] for c in slack.apis.called("chat.postMessage")] == [
        "echo: where is my parcel",
        "echo: thanks",
    ]
    assert [m.text for m in slack.agent.messages] == ["where is my parcel", "thanks"]


def test_first_delivery_arriving_as_a_retry_is_answered() -> None:
    """Slack retries when it got no answer; if the first attempt never reached us, the retry must count."""
    body = slack_message_event("Ev06", "anyone there?")
    headers = {**slack_headers(body), "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"}
    (reply,), slack = post_messages([(body, headers)], wait_for_replies=1)

    assert reply[0] == 200
    assert [c.params["text"] for c in slack.apis.called("chat.postMessage")] == ["echo: anyone there?"]


def test_url_verification_challenge_is_answered() -> None:
    body = json.dumps({"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdx", "type": "url_verification"}).encode()
    (reply,), slack = post_messages([(body, slack_headers(body))], wait_for_replies=0)

    status, text, headers = reply
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(text) == {"challenge": "3eZbrw1aBm2rZgRNFdx"}
    assert slack.agent.messages == []


def test_unsigned_url_verification_is_refused() -> None:
    body = json.dumps({"token": "t", "challenge": "abc", "type": "url_verification"}).encode()
    (reply,), _ = post_messages([(body, unsigned(body))], wait_for_replies=0)

    assert reply[0] == 401
    assert "abc" not in reply[1]


def test_output_channel_uses_the_configured_api_base_url() -> None:
    channel = ShopSlackInput(SLACK_BOT_TOKEN, slack_signing_secret="s", api_base_url="http://127.0.0.1:9/api")
    output = channel.get_output_channel("C1")
    assert isinstance(output, ShopSlackBot)
    assert output.client.base_url == "http://127.0.0.1:9/api/"
    default = ShopSlackInput(SLACK_BOT_TOKEN, slack_signing_secret="s").get_output_channel("C1")
    assert default.client.base_url == "https://slack.com/api/"
