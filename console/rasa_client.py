"""The two calls of Rasa 3.6's HTTP API (``rasa run --enable-api``) the console makes.

* ``GET /conversations/<sender>/tracker`` reads a conversation (the transcript).
* ``POST /conversations/<sender>/tracker/events?output_channel=latest&execute_side_effects=true``
  appends events. With ``execute_side_effects`` Rasa sends every appended ``bot`` event through
  ``output_channel``; ``latest`` picks the channel of the shopper's latest message (socket.io, Telegram,
  Slack ... whatever has a push output channel). This is how an agent's reply reaches the shopper and is
  stored in the tracker at the same time, and how hand-back appends ``resume`` + slot events plus the
  bot's "I'm back" message in one locked update. (``/execute`` is deprecated and needs an action per
  message; ``/trigger_intent`` would fake a shopper intent.) Channels without a push output (the
  synchronous REST channel) cannot receive a message the shopper did not ask for: Rasa then collects it,
  and it shows in the tracker only.

Authentication is Rasa's token auth (``--auth-token``), sent as the ``token`` query parameter. Every
failure (connection refused, timeout, HTTP error) raises :class:`RasaError`; nothing is retried here, the
console's next poll simply calls again, so a Rasa restart costs the agent one error message.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import aiohttp


class RasaError(RuntimeError):
    """Rasa could not be reached or refused the call; the message is safe to show to an agent."""


class RasaClient:
    """A small asynchronous client; create inside a running event loop, :meth:`close` when done."""

    def __init__(self, base_url: str, token: str | None = None, timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._http: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=self.timeout)
        return self._http

    async def close(self) -> None:
        if self._http is not None and not self._http.closed:
            await self._http.close()

    def _url(self, sender_id: str, tail: str) -> str:
        return f"{self.base_url}/conversations/{quote(str(sender_id), safe='')}/{tail}"

    def _params(self, **extra: str) -> dict[str, str]:
        params = dict(extra)
        if self.token:
            params["token"] = self.token
        return params

    async def _call(self, method: str, url: str, params: dict[str, str], body: Any = None) -> Any:
        try:
            async with self._session().request(method, url, params=params, json=body) as response:
                if response.status in (401, 403):
                    raise RasaError(
                        f"The Rasa server refused the console (HTTP {response.status}); check RASA_TOKEN."
                    )
                if response.status >= 400:
                    detail = ""
                    try:
                        detail = str((await response.json()).get("message", ""))[:200]
                    except (aiohttp.ContentTypeError, ValueError, AttributeError):
                        pass
                    raise RasaError(f"The Rasa server answered HTTP {response.status}. {detail}".strip())
                return await response.json(content_type=None)
        except RasaError:
            raise
        except asyncio.TimeoutError:
            raise RasaError(f"The Rasa server at {self.base_url} did not answer in time.") from None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise RasaError(
                f"The Rasa server at {self.base_url} is not reachable ({type(exc).__name__})."
            ) from None

    async def tracker(self, sender_id: str) -> dict[str, Any]:
        """The conversation's tracker state (events after the latest restart)."""
        state = await self._call("GET", self._url(sender_id, "tracker"), self._params())
        if not isinstance(state, dict):
            raise RasaError("The Rasa server sent an unexpected tracker.")
        return state

    async def append_events(self, sender_id: str, events: list[dict[str, Any]]) -> dict[str, Any]:
        """Append ``events``; ``bot`` events among them are sent to the shopper's latest channel."""
        params = self._params(output_channel="latest", execute_side_effects="true")
        state = await self._call("POST", self._url(sender_id, "tracker/events"), params, events)
        return state if isinstance(state, dict) else {}
