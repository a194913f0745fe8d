"""Web chat: a small chat page for the shop's website, served by the Rasa server itself, and its channel.

Configured in ``credentials.yml`` (all keys optional)::

    channels.webchat.WebChatInput:
      title: ShopAssist                 # heading of the chat page
      frame_ancestors: "'self'"         # CSP frame-ancestors: the sites that may embed the page in an iframe
      max_message_length: 1000          # longer shopper messages are refused with 400

Routes (Rasa mounts them under ``/webhooks/webchat/``; the page uses relative URLs, so same origin and
no CORS)::

    GET  /webhooks/webchat/             the chat page (webchat.js and webchat.css next to it)
    POST /webhooks/webchat/webhook      {"sender", "message"} -> the bot's answers, as Rasa's REST channel
    GET  /webhooks/webchat/messages?sender=<id>&after=<cursor>
                                        {"messages", "cursor"}: agent replies stored since ``cursor``

Why not Rasa's REST channel as is: it answers only the request that carried the shopper's message, so an
agent's reply from the console (appended through Rasa's HTTP API) never reaches a REST shopper. The page
therefore polls ``/messages``, which reads the conversation from the tracker store -- shared by all Rasa
replicas, so it works behind the load balancer, unlike a mailbox in one process's memory -- and returns
the bot messages the console added (``metadata.console`` set: agent replies and the hand-back message)
after the cursor; an agent's reply carries the name shoppers see for that agent (``agent``: the display
name configured for the console, else "Support agent", never the agent's login name) so that the page
shows that a person wrote it, in its own style, rather than as one more bot bubble. The channel also
refuses malformed requests with 400 instead of crashing, answers 503 with an apology when handling fails
(the page keeps the text to send again), and always records ``webchat`` as the input channel (Rasa's REST
channel lets the client pick any).

The page shows a product list once: a list line of the text that names one of the message's buttons
("- Cloudline Pullover Hoodie (Northwind), $54.00" and the button "Cloudline Pullover Hoodie") becomes that
button, in its place, instead of appearing as text and again as a button underneath.

The sender id is a random value the page keeps in ``localStorage``; knowing it is what lets a browser
continue (and read) a conversation, so it must be long and random (16-64 of ``A-Za-z0-9_-``).
"""

from __future__ import annotations

import html
import logging
import math
import re
from pathlib import Path
from string import Template
from typing import Any, Awaitable, Callable, Dict, Iterable, Optional

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.core.events import BotUttered, Event, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from console.settings import AGENT_DISPLAY_KEY, AGENT_KEY, DEFAULT_DISPLAY_NAME, MAX_DISPLAY_NAME

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
SENDER_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
DEFAULT_TITLE = "ShopAssist"
DEFAULT_FRAME_ANCESTORS = "'self'"
DEFAULT_MAX_MESSAGE_LENGTH = 1000
#: What a frame-ancestors value may contain (sources like https://shop.example, 'self', 'none', *).
FRAME_ANCESTORS = re.compile(r"^[A-Za-z0-9 .:/*'_-]{1,500}$")
#: Bot events with this metadata key were added by the agent console (console/app.py), not by the bot.
CONSOLE_MARKER = "console"
#: Agent messages returned per poll at most (the newest).
MAX_PUSHED_MESSAGES = 50
#: Keys of a bot message the page understands (Rasa's REST format).
MESSAGE_KEYS = ("text", "buttons", "image", "attachment", "custom")
#: AGENT_KEY (console.settings) is also the page's key for the name it shows for an agent's reply.
#: Longest agent name shown to the shopper.
MAX_AGENT_NAME = MAX_DISPLAY_NAME
NOT_RECEIVED = "Sorry, your message did not get through. Please send it again in a moment."
ASSETS = {
    "webchat.js": "text/javascript; charset=utf-8",
    "webchat.css": "text/css; charset=utf-8",
}


def page_csp(frame_ancestors: str) -> str:
    """The page runs only its own script and style, talks only to its origin, shows https images."""
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' https: data:; form-action 'self'; base-uri 'none'; "
        f"frame-ancestors {frame_ancestors}"
    )


def agent_messages(events: Iterable[Event], after: Optional[float]) -> Dict[str, Any]:
    """The console's bot messages after the cursor ``after`` and the cursor for the next poll.

    Without a cursor (a page's first poll) they count from the shopper's latest message: the page has
    shown everything up to it, and an agent may already have answered it."""
    events = list(events)
    latest = max((event.timestamp for event in events), default=0.0)
    if after is None:
        after = max((e.timestamp for e in events if isinstance(e, UserUttered)), default=0.0)
    cursor = max(latest, after)
    messages = [
        bot_message(event)
        for event in events
        if isinstance(event, BotUttered)
        and event.timestamp > after
        and CONSOLE_MARKER in (event.metadata or {})
    ]
    return {"messages": messages[-MAX_PUSHED_MESSAGES:], "cursor": cursor}


def _shown_name(metadata: Dict[str, Any]) -> Optional[str]:
    """The name the shopper sees for the person who wrote a console message, None for the bot's own: the
    agent's display name, else "Support agent" (replies stored before display names existed carry only the
    login, which is never shown)."""
    agent = metadata.get(AGENT_KEY)
    if not isinstance(agent, str) or not agent.strip():
        return None
    shown = metadata.get(AGENT_DISPLAY_KEY)
    if isinstance(shown, str) and shown.strip():
        return shown.strip()[:MAX_AGENT_NAME]
    return DEFAULT_DISPLAY_NAME


def bot_message(event: BotUttered) -> Dict[str, Any]:
    """A stored bot event as the REST channel would have sent it, plus ``agent`` (the name shown for the
    agent, never their login) when a person wrote it; the rest of the metadata (login, ticket number, ...)
    stays on the server."""
    data = {"text": event.text, **(event.data or {})}
    if data.get("attachment") == data.get("image"):  # Rasa stores an image as the attachment too
        data.pop("attachment", None)
    message = {key: data[key] for key in MESSAGE_KEYS if data.get(key) is not None}
    shown = _shown_name(event.metadata or {})
    if shown:
        message[AGENT_KEY] = shown
    return message


class BadRequest(ValueError):
    """A request the channel refuses; the message is shown to the page."""


class WebChatInput(RestInput):
    """Rasa's REST channel plus the chat page, agent replies by polling and input checks (see the module
    docstring)."""

    @classmethod
    def name(cls) -> str:
        return "webchat"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        credentials = credentials or {}
        return cls(
            title=str(credentials.get("title") or DEFAULT_TITLE),
            frame_ancestors=str(credentials.get("frame_ancestors") or DEFAULT_FRAME_ANCESTORS),
            max_message_length=int(credentials.get("max_message_length") or DEFAULT_MAX_MESSAGE_LENGTH),
        )

    def __init__(
        self,
        title: str = DEFAULT_TITLE,
        frame_ancestors: str = DEFAULT_FRAME_ANCESTORS,
        max_message_length: int = DEFAULT_MAX_MESSAGE_LENGTH,
    ) -> None:
        if not FRAME_ANCESTORS.match(frame_ancestors):
            raise ValueError(f"webchat: frame_ancestors {frame_ancestors[:80]!r} is not a CSP source list")
        if max_message_length < 1:
            raise ValueError("webchat: max_message_length must be positive")
        self.title = title.strip()[:80] or DEFAULT_TITLE
        self.frame_ancestors = frame_ancestors
        self.max_message_length = max_message_length

    # ------------------------------------------------------------------ request checks
    @staticmethod
    def _json_object(request: Request) -> Dict[str, Any]:
        try:
            data = request.json
        except Exception:  # Sanic raises its InvalidUsage for malformed JSON
            raise BadRequest("The body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise BadRequest("Send a JSON object with 'sender' and 'message'.")
        return data

    @staticmethod
    def _sender(value: Any) -> str:
        if not isinstance(value, str) or not SENDER_ID.match(value):
            raise BadRequest("'sender' must be 16-64 characters of A-Z, a-z, 0-9, _ and -.")
        return value

    def _text(self, value: Any) -> str:
        if not isinstance(value, str):
            raise BadRequest("'message' must be a string.")
        text = "".join(ch for ch in value if ch.isprintable() or ch in "\n\t").strip()
        if not text:
            raise BadRequest("'message' is empty.")
        if len(text) > self.max_message_length:
            raise BadRequest(f"'message' is longer than {self.max_message_length} characters.")
        return text

    @staticmethod
    def _cursor(value: Any) -> Optional[float]:
        if value is None or value == "":
            return None
        try:
            cursor = float(value)
        except ValueError:
            raise BadRequest("'after' must be a number (the cursor of the previous answer).") from None
        if not math.isfinite(cursor):
            raise BadRequest("'after' must be a number (the cursor of the previous answer).")
        return cursor

    # ------------------------------------------------------------------ routes
    def _page(self) -> str:
        template = Template((STATIC_DIR / "webchat.html").read_text(encoding="utf-8"))
        return template.safe_substitute(
            title=html.escape(self.title), max_message_length=str(self.max_message_length)
        )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webchat = Blueprint(f"webchat_webhook_{type(self).__name__}", __name__)
        page = self._page()
        security = {
            "Content-Security-Policy": page_csp(self.frame_ancestors),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }

        def refuse(message: str) -> HTTPResponse:
            return response.json({"error": "bad_request", "message": message}, status=400)

        @webchat.route("/", methods=["GET"])
        async def chat_page(request: Request) -> HTTPResponse:
            if not request.path.endswith("/"):  # the page's relative URLs need the trailing slash
                return response.redirect(request.path + "/")
            return response.html(page, headers=security)

        def asset_handler(asset: str, mime_type: str) -> Callable[[Request], Awaitable[HTTPResponse]]:
            async def chat_asset(_request: Request) -> HTTPResponse:
                return await response.file(STATIC_DIR / asset, mime_type=mime_type, headers=security)

            return chat_asset

        for asset, mime_type in ASSETS.items():
            webchat.add_route(
                asset_handler(asset, mime_type),
                f"/{asset}",
                methods=["GET"],
                name=f"chat_asset_{asset.replace('.', '_')}",
            )

        @webchat.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                data = self._json_object(request)
                sender, text = self._sender(data.get("sender")), self._text(data.get("message"))
            except BadRequest as exc:
                return refuse(str(exc))
            collector = CollectingOutputChannel()
            try:
                await on_new_message(UserMessage(text, collector, sender, input_channel=self.name()))
            except Exception:
                # Not stored: the page shows the apology (channels.outage_guard sends one) as an error and
                # keeps the text in the box for the shopper to send again.
                logger.exception("webchat: handling a message failed")
                apology = next((m["text"] for m in collector.messages if m.get("text")), NOT_RECEIVED)
                return response.json({"error": "unavailable", "message": apology}, status=503)
            return response.json(collector.messages)

        @webchat.route("/messages", methods=["GET"])
        async def pushed(request: Request) -> HTTPResponse:
            try:
                sender = self._sender(request.args.get("sender"))
                after = self._cursor(request.args.get("after"))
            except BadRequest as exc:
                return refuse(str(exc))
            agent = getattr(request.app.ctx, "agent", None)
            store = getattr(agent, "tracker_store", None)
            try:
                tracker = await store.retrieve(sender) if store is not None else None
            except Exception:
                logger.exception("webchat: reading the conversation failed")
                return response.json({"error": "unavailable", "message": NOT_RECEIVED}, status=503)
            return response.json(
                agent_messages(tracker.events if tracker else [], after),
                headers={"Cache-Control": "no-store"},
            )

        return webchat
