"""REST channel: Rasa's, with the request checked before anything reaches the assistant.

Configured in ``credentials.yml`` instead of ``rest:`` (same URL, ``/webhooks/rest/webhook``, same
answers for good requests)::

    channels.rest.ShopRestInput:
      max_body_bytes: 1048576    # optional; larger bodies get 413 (default 1 MiB)

What Rasa 3.6's ``RestInput`` does with bad requests, and what this channel answers instead (all as JSON
``{"status": "failure", "code", "reason", "message"}``, nothing passed on to the assistant, nothing stored):

==================================  ==========================================  =====================
request                             Rasa's RestInput                            ShopRestInput
==================================  ==========================================  =====================
empty body, JSON array / number     500 (``'NoneType' has no attribute 'get'``)  400 ``NotAnObject``
no ``sender``                       message filed under the shared              400 ``InvalidSender``
                                    conversation ``default``
no ``message`` / not a string       ``None`` handled as a message / 200 ``[]``  400 ``InvalidMessage``
                                    and an error logged
``Content-Type`` not JSON           parsed anyway                               415 ``UnsupportedMediaType``
invalid UTF-8, malformed JSON       400 (plain Sanic error)                     400 ``InvalidJSON``
5 MB body                           handled (the NLU reads 5 MB of text)         413 ``PayloadTooLarge``
``input_channel`` in the body       taken as the channel's name                 ignored: always ``rest``
==================================  ==========================================  =====================

Sender ids are 1-255 characters (the width of the tracker store's ``sender_id`` column: longer ids made
PostgreSQL fail the insert) without control characters. ``SANIC_REQUEST_MAX_SIZE`` (bytes, read by
Sanic from the environment) still caps every request of the server, the HTTP API's model upload
included; the reverse proxy (deploy/nginx.conf) caps ``/webhooks/`` before any of this.
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any, Awaitable, Callable, Dict, Optional

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
#: The tracker store's ``events.sender_id`` is ``VARCHAR(255)``.
MAX_SENDER_LENGTH = 255
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


class RejectedRequest(Exception):
    """A request the channel refuses, with the HTTP status, a machine-readable reason and a human message."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message

    def as_response(self) -> HTTPResponse:
        body = {"status": "failure", "code": self.status, "reason": self.reason, "message": self.message}
        return response.json(body, status=self.status)


def parse_message_request(request: Request, max_body_bytes: int) -> Dict[str, Any]:
    """The validated JSON object of a ``POST /webhook``; raises :class:`RejectedRequest` otherwise."""
    content_type = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if content_type != "application/json":
        raise RejectedRequest(
            415, "UnsupportedMediaType",
            "send the message as JSON with 'Content-Type: application/json' "
            f"(got {content_type or 'none'!r}).",
        )
    body = request.body or b""
    if len(body) > max_body_bytes:
        raise RejectedRequest(
            413, "PayloadTooLarge",
            f"the request body is {len(body)} bytes; at most {max_body_bytes} are accepted.",
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        message = f"the body is not valid UTF-8 (byte {error.start})."
        raise RejectedRequest(400, "InvalidJSON", message) from None
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        message = f"the body is not valid JSON: {error.msg} ({where})."
        raise RejectedRequest(400, "InvalidJSON", message) from None
    if not isinstance(payload, dict):
        raise RejectedRequest(
            400, "NotAnObject", 'expected a JSON object such as {"sender": "<id>", "message": "<text>"}.'
        )
    sender = payload.get("sender")
    if not isinstance(sender, str) or not sender.strip():
        raise RejectedRequest(
            400, "InvalidSender", '"sender" is required: a non-empty string naming the conversation.'
        )
    if len(sender) > MAX_SENDER_LENGTH or _CONTROL_CHARACTERS.search(sender):
        raise RejectedRequest(
            400, "InvalidSender",
            f'"sender" must be at most {MAX_SENDER_LENGTH} characters without control characters.',
        )
    if not isinstance(payload.get("message"), str):
        raise RejectedRequest(
            400, "InvalidMessage", '"message" is required: the shopper\'s text, as a string.'
        )
    metadata = payload.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise RejectedRequest(400, "InvalidMetadata", '"metadata", when given, must be a JSON object.')
    return payload


class ShopRestInput(RestInput):
    """Rasa's REST channel behind a request check (see the module docstring). Keeps the name ``rest``."""

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        credentials = credentials or {}
        return cls(max_body_bytes=int(credentials.get("max_body_bytes") or DEFAULT_MAX_BODY_BYTES))

    def __init__(self, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.max_body_bytes = max_body_bytes

    @classmethod
    def name(cls) -> str:
        return "rest"

    async def _extract_sender(self, req: Request) -> Optional[str]:
        return req.ctx.shop_payload["sender"]

    def _extract_message(self, req: Request) -> Optional[str]:
        return req.ctx.shop_payload["message"]

    def _extract_input_channel(self, req: Request) -> str:
        return self.name()

    def get_metadata(self, request: Request) -> Optional[Dict[str, Any]]:
        return request.ctx.shop_payload.get("metadata")

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        webhook = super().blueprint(on_new_message)

        @webhook.middleware("request")
        async def check_message_request(request: Request) -> Optional[HTTPResponse]:
            if request.method != "POST":
                return None
            try:
                request.ctx.shop_payload = parse_message_request(request, self.max_body_bytes)
            except RejectedRequest as rejected:
                logger.info("REST request refused with %s: %s", rejected.status, rejected.reason)
                return rejected.as_response()
            return None

        return webhook
