"""The web chat channel over HTTP on loopback: the page and its assets, the message endpoint (Rasa's REST
format, input checks), and the polling endpoint through which an agent's replies reach the page."""

from __future__ import annotations

import asyncio
from typing import Any, Optional, Tuple

import aiohttp
import pytest
from rasa.shared.core.events import BotUttered, UserUttered

import channels.webchat as webchat
from channels.webchat import WebChatInput, agent_messages
from tests.channels.webchat_stub import BUTTONS, ScriptedAgent, webchat_app
from tests.loopback import serve_sanic

SENDER = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"


class Served:
    def __init__(self, url: str, http: aiohttp.ClientSession, channel: WebChatInput, agent: ScriptedAgent):
        self.url, self.http, self.channel, self.agent = url, http, channel, agent

    async def post(self, body: Any, **kwargs: Any) -> Tuple[int, Any]:
        kwargs.setdefault("json", body)
        async with self.http.post(f"{self.url}/webhooks/webchat/webhook", **kwargs) as resp:
            return resp.status, await resp.json(content_type=None)

    async def poll(self, sender: str, after: Optional[str] = None) -> Tuple[int, Any]:
        params = {"sender": sender} if after is None else {"sender": sender, "after": after}
        async with self.http.get(f"{self.url}/webhooks/webchat/messages", params=params) as resp:
            assert resp.headers.get("Cache-Control") == "no-store" or resp.status != 200
            return resp.status, await resp.json(content_type=None)


def with_webchat(scenario: Any, channel: WebChatInput | None = None) -> None:
    async def run() -> None:
        chat = channel or WebChatInput()
        agent = ScriptedAgent()
        async with serve_sanic(webchat_app(chat, agent)) as url:
            async with aiohttp.ClientSession() as http:
                await scenario(Served(url, http, chat, agent))

    asyncio.run(run())


def test_page_and_assets_are_served_with_a_strict_policy():
    channel = WebChatInput(title="Shop <Assist>", frame_ancestors="'self' https://shop.example")

    async def scenario(chat: Served) -> None:
        async with chat.http.get(f"{chat.url}/webhooks/webchat/") as resp:
            page = await resp.text()
            assert resp.status == 200 and resp.content_type == "text/html"
            policy = resp.headers["Content-Security-Policy"]
        assert "<title>Shop &lt;Assist&gt;</title>" in page and "<Assist>" not in page
        assert 'src="webchat.js"' in page and "$title" not in page
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert directives["script-src"] == "'self'" and directives["default-src"] == "'none'"
        assert directives["frame-ancestors"] == "'self' https://shop.example"
        for asset, mime in (("webchat.js", "text/javascript"), ("webchat.css", "text/css")):
            async with chat.http.get(f"{chat.url}/webhooks/webchat/{asset}") as resp:
                assert resp.status == 200 and resp.content_type == mime
                assert len(await resp.read()) > 500
        async with chat.http.get(f"{chat.url}/webhooks/webchat", allow_redirects=False) as resp:
            assert resp.status in (301, 302) and resp.headers["Location"] == "/webhooks/webchat/"
        async with chat.http.get(f"{chat.url}/webhooks/webchat/../app.py") as resp:
            assert resp.status == 404

    with_webchat(scenario, channel)


def test_a_message_reaches_the_bot_and_its_answers_come_back():
    async def scenario(chat: Served) -> None:
        status, answers = await chat.post({"sender": SENDER, "message": "  where is my order?  "})
        assert status == 200
        (message,) = chat.agent.messages
        assert (message.text, message.sender_id, message.input_channel) == (
            "where is my order?",
            SENDER,
            "webchat",
        )
        assert answers[0] == {
            "recipient_id": SENDER,
            "text": "You said: where is my order?",
            "buttons": BUTTONS,
        }
        # Rasa's output channel sends a response's text, image and attachment as separate messages.
        assert {"recipient_id": SENDER, "image": "https://shop.example/img/returns.png"} in answers
        assert len(answers) == 6
        # The channel's name is recorded even when the client claims another one.
        await chat.post({"sender": SENDER, "message": "hi", "input_channel": "telegram"})
        assert chat.agent.messages[-1].input_channel == "webchat"

    with_webchat(scenario)


@pytest.mark.parametrize(
    "body, complaint",
    [
        ({"message": "hi"}, "'sender'"),
        ({"sender": "short", "message": "hi"}, "'sender'"),
        ({"sender": SENDER + "<script>", "message": "hi"}, "'sender'"),
        ({"sender": SENDER}, "'message' must be a string"),
        ({"sender": SENDER, "message": 42}, "'message' must be a string"),
        ({"sender": SENDER, "message": " \u0000\u200b\t "}, "'message' is empty"),
        ({"sender": SENDER, "message": "x" * 41}, "longer than 40"),
        (["not", "an", "object"], "JSON object"),
    ],
)
def test_malformed_messages_get_400_and_never_reach_the_bot(body, complaint):
    async def scenario(chat: Served) -> None:
        status, data = await chat.post(body)
        assert status == 400 and data["error"] == "bad_request"
        assert complaint in data["message"]
        assert chat.agent.messages == []

    with_webchat(scenario, WebChatInput(max_message_length=40))


def test_a_body_that_is_not_json_gets_400():
    async def scenario(chat: Served) -> None:
        status, data = await chat.post(None, data=b"{oops", headers={"Content-Type": "application/json"})
        assert status == 400 and "not valid JSON" in data["message"]
        assert chat.agent.messages == []

    with_webchat(scenario)


def test_a_failing_bot_answers_503_with_an_apology_for_the_page_to_show():
    async def scenario(chat: Served) -> None:
        status, data = await chat.post({"sender": SENDER, "message": "boom"})
        assert (status, data) == (503, {"error": "unavailable", "message": webchat.NOT_RECEIVED})
        status, data = await chat.post({"sender": SENDER, "message": "boom after an apology"})
        assert status == 503 and data["message"] == "Sorry, I could not take that in. Please try again."

    with_webchat(scenario)


def test_agent_replies_reach_the_page_by_polling_and_bot_answers_do_not_repeat():
    async def scenario(chat: Served) -> None:
        assert (await chat.post({"sender": SENDER, "message": "I want a human"}))[0] == 200
        # First poll: no cursor yet; nothing from the console since the shopper's message.
        status, first = await chat.poll(SENDER)
        assert status == 200 and first["messages"] == []
        assert isinstance(first["cursor"], float) and first["cursor"] > 0

        yes = [{"title": "Yes", "payload": "/affirm"}]
        await chat.agent.console_reply(SENDER, "Hi, Alice from the shop here.")
        await chat.agent.console_reply(SENDER, "Did that help?", buttons=yes)
        status, second = await chat.poll(SENDER, str(first["cursor"]))
        # alice's login is never shown: without a display name her replies read "Support agent"
        assert second["messages"] == [
            {"text": "Hi, Alice from the shop here.", "agent": "Support agent"},
            {"text": "Did that help?", "buttons": yes, "agent": "Support agent"},
        ]
        assert second["cursor"] > first["cursor"]
        assert (await chat.poll(SENDER, str(second["cursor"])))[1]["messages"] == []
        # The bot's own answers (already in the webhook's answer) never come again, whatever the cursor.
        everything = (await chat.poll(SENDER, "0"))[1]["messages"]
        assert [m["text"] for m in everything] == ["Hi, Alice from the shop here.", "Did that help?"]
        # Another conversation sees nothing of this one.
        assert await chat.poll(OTHER) == (200, {"messages": [], "cursor": 0.0})

    with_webchat(scenario)


def test_a_first_poll_finds_a_reply_sent_before_it():
    async def scenario(chat: Served) -> None:
        await chat.post({"sender": SENDER, "message": "I want a human"})
        await chat.agent.console_reply(SENDER, "Alice here, already on it.")
        status, data = await chat.poll(SENDER)
        assert status == 200
        assert data["messages"] == [{"text": "Alice here, already on it.", "agent": "Support agent"}]

    with_webchat(scenario)


@pytest.mark.parametrize(
    "sender, after, complaint",
    [
        ("../etc/passwd", None, "'sender'"),
        (SENDER, "yesterday", "'after'"),
        (SENDER, "nan", "'after'"),
        (SENDER, "inf", "'after'"),
    ],
)
def test_bad_polls_get_400(sender, after, complaint):
    async def scenario(chat: Served) -> None:
        status, data = await chat.poll(sender, after)
        assert status == 400 and complaint in data["message"]

    with_webchat(scenario)


def test_a_tracker_store_outage_answers_503_to_a_poll(monkeypatch: pytest.MonkeyPatch):
    async def scenario(chat: Served) -> None:
        async def down(_sender: str) -> None:
            raise ConnectionError("database down")

        monkeypatch.setattr(chat.agent.tracker_store, "retrieve", down)
        status, data = await chat.poll(SENDER, "0")
        assert status == 503 and data["error"] == "unavailable"

    with_webchat(scenario)


def test_stored_bot_messages_are_sent_as_the_rest_channel_sends_them():
    image = "https://shop.example/parcel.png"
    events = [
        UserUttered("where is it?", timestamp=10.0),
        BotUttered(
            "Here:",
            {"image": image, "attachment": image},
            metadata={"console": "reply", "agent": "alice"},
            timestamp=11.0,
        ),
        BotUttered("from the bot", {"buttons": []}, metadata={"utter_action": "utter_x"}, timestamp=12.0),
    ]
    here = {"text": "Here:", "image": image, "agent": "Support agent"}
    assert agent_messages(events, 0.0) == {"messages": [here], "cursor": 12.0}
    assert agent_messages(events, 11.0) == {"messages": [], "cursor": 12.0}
    assert agent_messages(events, None)["messages"] == [here]


def test_an_agents_reply_says_who_wrote_it_and_the_bots_hand_back_does_not():
    """The page tells a person's reply from the bot's by ``agent``: the agent's display name, else "Support
    agent", never the login name; nothing else of the metadata leaves."""
    events = [
        UserUttered("I want a human", timestamp=10.0),
        BotUttered(
            "Sam here, let me look.",
            metadata={
                "console": "reply",
                "agent": " sam ",
                "agent_display_name": " Sam from support ",
                "handoff_ticket": 7,
            },
            timestamp=11.0,
        ),
        BotUttered(
            "One moment.",
            metadata={"console": "reply", "agent": "sam.k@shop", "handoff_ticket": 7},
            timestamp=11.5,
        ),
        BotUttered(
            "I'm back! How can I help?",
            metadata={"console": "handback", "handoff_ticket": 7, "handed_back_by": "sam"},
            timestamp=12.0,
        ),
        BotUttered("odd", metadata={"console": "reply", "agent": ["not", "a", "name"]}, timestamp=13.0),
    ]
    messages = agent_messages(events, 0.0)["messages"]
    assert messages == [
        {"text": "Sam here, let me look.", "agent": "Sam from support"},
        {"text": "One moment.", "agent": "Support agent"},  # no display name: the neutral one
        {"text": "I'm back! How can I help?"},
        {"text": "odd"},
    ]
    long_name = BotUttered(
        "hi", metadata={"console": "reply", "agent": "x", "agent_display_name": "y" * 100}, timestamp=1.0
    )
    assert webchat.bot_message(long_name)["agent"] == "y" * webchat.MAX_AGENT_NAME


def test_credentials_options_and_their_checks():
    default = WebChatInput.from_credentials(None)
    assert (default.title, default.frame_ancestors, default.max_message_length) == (
        "ShopAssist",
        "'self'",
        1000,
    )
    custom = WebChatInput.from_credentials(
        {"title": "Help", "frame_ancestors": "https://shop.example", "max_message_length": 300}
    )
    assert (custom.title, custom.frame_ancestors, custom.max_message_length) == (
        "Help",
        "https://shop.example",
        300,
    )
    with pytest.raises(ValueError, match="frame_ancestors"):
        WebChatInput(frame_ancestors="'self'; script-src *")
    with pytest.raises(ValueError, match="max_message_length"):
        WebChatInput(max_message_length=0)
