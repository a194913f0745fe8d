"""A stand-in for Rasa's agent behind the web chat channel: the channel's routes mounted the way
``rasa run`` mounts them (``rasa.core.channels.channel.register``), with a scripted bot instead of a model
(loading the real one takes 30-60 s)."""

from __future__ import annotations

import json
import uuid
from typing import Any, Dict, List

from rasa.core.channels.channel import UserMessage, register
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Sanic

from channels.webchat import WebChatInput

BUTTONS = [
    {"title": "Track my order", "payload": "/order_status"},
    {"title": "Talk to a person", "payload": "/request_human"},
]
#: A product search answer as actions/products.py sends it: the list in the text and a button per product
#: (one name starts with another: each line must become its own product's button).
PRODUCTS = [
    ("Trail Jacket", "Northwind", "$89.90"),
    ("Trail Jacket Pro", "Northwind", "$129.00"),
    ("Harbor Hoodie", "Saltmarsh", "$39.90"),
]
PRODUCT_LIST = {
    "text": "I found 3 matching jackets. Here are the top ones:\n"
    + "\n".join(f"- {name} ({brand}), {price}" for name, brand, price in PRODUCTS),
    "buttons": [
        {"title": name, "payload": "/product_info" + json.dumps({"product": name})} for name, _, _ in PRODUCTS
    ],
}


class ScriptedAgent:
    """Answers like Rasa's agent would, through the message's output channel, and stores the conversation
    in an in-memory tracker store as Rasa does; records what it got."""

    def __init__(self) -> None:
        self.messages: List[UserMessage] = []
        self.tracker_store = InMemoryTrackerStore(Domain.empty())

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        tracker = await self.tracker_store.get_or_create_tracker(message.sender_id)
        tracker.update(UserUttered(message.text, input_channel=message.input_channel))
        await self.tracker_store.save(tracker)
        await self._answer(message)
        tracker = await self.tracker_store.get_or_create_tracker(message.sender_id)
        for sent in getattr(message.output_channel, "messages", []):
            tracker.update(BotUttered(sent.get("text"), {k: v for k, v in sent.items() if k != "text"}))
        await self.tracker_store.save(tracker)

    async def console_reply(self, sender: str, text: str, display_name: str = "", **data: Any) -> None:
        """What Rasa's HTTP API stores when the agent console appends a reply (console/app.py): from the
        agent with login alice, shown to the shopper as ``display_name`` when one is configured."""
        tracker = await self.tracker_store.get_or_create_tracker(sender)
        metadata = {"agent": "alice", "handoff_ticket": 1, "console": "reply"}
        if display_name:
            metadata["agent_display_name"] = display_name
        tracker.update(BotUttered(text, data, metadata=metadata))
        await self.tracker_store.save(tracker)

    async def _answer(self, message: UserMessage) -> None:
        out, sender, text = message.output_channel, message.sender_id, message.text or ""
        if text == "boom":
            raise RuntimeError("the scripted bot fails on purpose")
        if text == "boom after an apology":  # what channels.outage_guard does on an outage
            await out.send_response(sender, {"text": "Sorry, I could not take that in. Please try again."})
            raise RuntimeError("the scripted bot fails on purpose")
        if text == "show me jackets":
            await out.send_response(sender, dict(PRODUCT_LIST))
            return
        if text == "/request_human":
            await out.send_response(sender, {"text": "Connecting you to a person from our team."})
            return
        reply: Dict[str, Any] = {"text": f"You said: {text}", "buttons": BUTTONS}
        await out.send_response(sender, reply)
        returns = "Returns policy: https://shop.example/returns - any questions?"
        await out.send_response(sender, {"text": returns, "image": "https://shop.example/img/returns.png"})
        await out.send_response(
            sender,
            {
                "text": "Unsafe media is dropped.",
                "image": "javascript:alert(1)",
                "attachment": "javascript:alert(2)",
            },
        )


def webchat_app(channel: WebChatInput, agent: ScriptedAgent) -> Sanic:
    app = Sanic(f"webchat_test_{uuid.uuid4().hex[:8]}", configure_logging=False)
    app.ctx.agent = agent
    register([channel], app, route="/webhooks/")
    return app
