"""Telegram connector: Rasa's, plus a configurable Bot API server and the webhook secret-token check.

Configured in ``credentials.yml`` under the module path ``channels.telegram.ShopTelegramInput``::

    channels.telegram.ShopTelegramInput:
      access_token: ${TELEGRAM_ACCESS_TOKEN}   # from @BotFather
      verify: ${TELEGRAM_BOT_USERNAME}         # the bot's username, checked against getMe (Rasa's check)
      webhook_url: ${TELEGRAM_WEBHOOK_URL}     # https://<public host>/webhooks/telegram/webhook
      secret_token: ${TELEGRAM_SECRET_TOKEN}   # optional: 1-256 of A-Z a-z 0-9 _ -
      api_base_url: https://api.telegram.org   # optional: a self-hosted Bot API server

Differences from ``rasa.core.channels.telegram.TelegramInput`` (everything else is Rasa's code):

* ``api_base_url`` -- the Bot API server the output channel (an aiogram 2.15 ``Bot``) talks to, through
  ``aiogram.bot.api.TelegramAPIServer.from_base``.
* ``secret_token`` -- sent to Telegram with ``setWebhook``; every request to the connector's routes
  (except the health check) must then carry it in ``X-Telegram-Bot-Api-Secret-Token``, or gets 403.
* The webhook is registered once, when the server starts, in the server's own event loop, and only
  when ``webhook_url`` is set. Rasa's ``get_output_channel`` calls ``asyncio.run(set_webhook(...))``
  on every call, which fails inside a running loop -- e.g. when Rasa's HTTP API resolves
  ``output_channel=latest`` for a Telegram conversation (the agent console's replies).
* One output channel per connector, handed out again on every ``get_output_channel`` call (one aiohttp
  session, closed when the server stops); ``getMe`` (Rasa's ``verify`` check runs it for every
  update) is asked once.
* ``debug_mode`` (default ``false``): Rasa re-raises errors from the message handler by default, which
  answers 500 and makes Telegram deliver the same update again and again.
"""

from __future__ import annotations

import hmac
import logging
import re
from typing import Any, Awaitable, Callable, Dict, Optional

from aiogram import types
from aiogram.bot import api
from aiogram.bot.api import TelegramAPIServer
from aiogram.utils.exceptions import TelegramAPIError
from aiogram.utils.payload import generate_payload, prepare_arg, prepare_file
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.telegram import TelegramInput, TelegramOutput
from rasa.shared.exceptions import InvalidConfigException, RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

#: The official Bot API server; ``api_base_url`` replaces it.
TELEGRAM_API_BASE_URL = "https://api.telegram.org"
#: Header in which Telegram echoes the ``secret_token`` given to ``setWebhook``.
SECRET_TOKEN_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: What Telegram accepts as a secret token (Bot API ``setWebhook``).
SECRET_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
#: Routes of the connector that stay open without the secret token.
UNGUARDED_HANDLERS = frozenset({"health"})


class ShopTelegramOutput(TelegramOutput):
    """Rasa's Telegram output channel, talking to ``api_base_url`` and registering ``secret_token``."""

    def __init__(
        self,
        access_token: Optional[str],
        api_base_url: str = TELEGRAM_API_BASE_URL,
        secret_token: Optional[str] = None,
    ) -> None:
        super().__init__(access_token)
        self.server = TelegramAPIServer.from_base(api_base_url)
        self.api_base_url = api_base_url
        self.secret_token = secret_token
        self._cached_me: Optional[types.User] = None

    async def get_me(self) -> types.User:
        """``getMe``, asked once per output channel (Rasa asks it for every incoming update)."""
        if self._cached_me is None:
            self._cached_me = await super().get_me()
        return self._cached_me

    async def set_webhook(
        self,
        url: str,
        certificate: Optional[types.InputFile] = None,
        ip_address: Optional[str] = None,
        max_connections: Optional[int] = None,
        allowed_updates: Optional[list] = None,
        drop_pending_updates: Optional[bool] = None,
    ) -> bool:
        """aiogram 2.15's ``set_webhook`` plus ``secret_token`` (Bot API 6.1, newer than aiogram 2.15)."""
        allowed_updates = prepare_arg(allowed_updates)
        payload = generate_payload(
            url=url,
            ip_address=ip_address,
            max_connections=max_connections,
            allowed_updates=allowed_updates,
            drop_pending_updates=drop_pending_updates,
            secret_token=self.secret_token,
        )
        files: Dict[str, Any] = {}
        prepare_file(payload, files, "certificate", certificate)
        return await self.request(api.Methods.SET_WEBHOOK, payload, files)


class ShopTelegramInput(TelegramInput):
    """Rasa's Telegram input channel with ``api_base_url``, ``secret_token`` and ``debug_mode`` settings.

    The channel keeps Rasa's name ``telegram``: the webhook lives at ``/webhooks/telegram/webhook``,
    trackers record ``input_channel: telegram``, ``channel: telegram`` response variants apply, and
    Rasa's HTTP API finds this connector for ``output_channel=latest``.
    """

    @classmethod
    def name(cls) -> str:
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        if not credentials:
            cls.raise_missing_credentials_exception()
        return cls(
            credentials.get("access_token"),
            credentials.get("verify"),
            credentials.get("webhook_url"),
            debug_mode=bool(credentials.get("debug_mode", False)),
            api_base_url=credentials.get("api_base_url") or TELEGRAM_API_BASE_URL,
            secret_token=credentials.get("secret_token") or None,
        )

    def __init__(
        self,
        access_token: Optional[str],
        verify: Optional[str],
        webhook_url: Optional[str],
        debug_mode: bool = False,
        api_base_url: str = TELEGRAM_API_BASE_URL,
        secret_token: Optional[str] = None,
    ) -> None:
        super().__init__(access_token, verify, webhook_url, debug_mode=debug_mode)
        if secret_token is not None and not SECRET_TOKEN_PATTERN.match(secret_token):
            raise InvalidConfigException(
                "The Telegram `secret_token` must be 1-256 characters from A-Z, a-z, 0-9, '_' and '-'."
            )
        if secret_token is None:
            logger.warning(
                "Telegram connector without `secret_token`: anyone who knows the webhook URL can post "
                "updates to it. Set `secret_token` in credentials.yml."
            )
        self.api_base_url = api_base_url
        self.secret_token = secret_token
        self._output_channel: Optional[ShopTelegramOutput] = None

    def get_output_channel(self) -> ShopTelegramOutput:
        """The connector's one output channel: no network here (the webhook is set at server start).

        Rasa's HTTP API asks for an output channel on every ``output_channel=latest`` request; handing
        out one shared ``Bot`` keeps that to one HTTP session instead of leaking one per request.
        """
        if self._output_channel is None:
            self._output_channel = ShopTelegramOutput(
                self.access_token, api_base_url=self.api_base_url, secret_token=self.secret_token
            )
        return self._output_channel

    async def close_output_channel(self) -> None:
        """Closes the output channel's HTTP session; aiogram opens a new one when it is used again."""
        session = self._output_channel._session if self._output_channel is not None else None
        if session is not None and not session.closed:
            await session.close()

    def _has_valid_secret(self, request: Request) -> bool:
        if self.secret_token is None:
            return True
        received = request.headers.get(SECRET_TOKEN_HEADER, "")
        return hmac.compare_digest(received.encode("utf-8"), self.secret_token.encode("utf-8"))

    async def register_webhook(self) -> None:
        """Tells Telegram where to post updates (with the secret token); no-op without ``webhook_url``.

        Closes the HTTP session afterwards, so it can be awaited from any event loop.
        """
        if not self.webhook_url:
            logger.info("Telegram `webhook_url` not set: not registering a webhook.")
            return
        channel = self.get_output_channel()
        try:
            await channel.set_webhook(url=self.webhook_url)
        except TelegramAPIError as error:
            raise RasaException(f"Failed to set channel webhook: {error}") from error
        finally:
            await self.close_output_channel()
        logger.info("Telegram webhook registered.")

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        telegram_webhook = super().blueprint(on_new_message)

        @telegram_webhook.middleware("request")
        async def check_secret_token(request: Request) -> Optional[HTTPResponse]:
            route = request.route
            handler_name = route.name.rsplit(".", 1)[-1] if route is not None else ""
            if handler_name in UNGUARDED_HANDLERS or self._has_valid_secret(request):
                return None
            logger.warning("Refused a Telegram webhook request without the right secret token.")
            return response.text("forbidden", status=403)

        @telegram_webhook.listener("before_server_start")
        async def set_webhook_on_start(*_: Any) -> None:
            await self.register_webhook()

        @telegram_webhook.listener("after_server_stop")
        async def close_session_on_stop(*_: Any) -> None:
            await self.close_output_channel()

        return telegram_webhook
