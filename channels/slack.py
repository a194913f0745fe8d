"""Slack connector: Rasa's, plus a configurable Web API URL, 401 for unsigned requests, no double replies.

Configured in ``credentials.yml`` under the module path ``channels.slack.ShopSlackInput``::

    channels.slack.ShopSlackInput:
      slack_token: ${SLACK_BOT_TOKEN}                   # xoxb-..., "Bot User OAuth Token"
      slack_signing_secret: ${SLACK_SIGNING_SECRET}     # "Basic Information" > "Signing Secret"
      api_base_url: https://slack.com/api/              # optional: Web API base URL
      retry_dedup_ttl_seconds: 900                      # optional: how long an event_id is remembered
      retry_dedup_max_entries: 10000                    # optional: at most this many event_ids

plus every setting of Rasa's connector (``slack_channel``, ``use_threads``, ``conversation_granularity``,
``errors_ignore_retry``, ...).

Differences from ``rasa.core.channels.slack.SlackInput`` (everything else is Rasa's code):

* ``api_base_url`` -- the Web API the output channel's ``slack_sdk`` ``AsyncWebClient`` calls.
* Every request to the connector's routes except the health check must carry a valid
  ``X-Slack-Signature`` (HMAC-SHA256 of ``v0:{X-Slack-Request-Timestamp}:{body}`` with the signing
  secret, timestamp within 5 minutes -- Rasa's own check); otherwise it is refused with 401 (Rasa
  answers 400).
* A signed ``url_verification`` request is answered with ``{"challenge": ...}``, the JSON form Slack
  documents (Rasa answers with the bare challenge as a JSON string).
* Slack redelivers an event it thinks failed (``X-Slack-Retry-Num``), with the same ``event_id``. Rasa
  only drops retries whose ``X-Slack-Retry-Reason`` is in ``errors_ignore_retry``; this connector also
  remembers the ``event_id`` of every event it handed to the bot for ``retry_dedup_ttl_seconds`` (Slack
  retries after about 0 s, 1 min and 5 min) and answers 200 with ``X-Slack-No-Retry: 1`` to any repeat,
  whatever the reason. The memory is per process (see :class:`channels.dedup.RecentKeys`): with several
  Rasa replicas behind a load balancer a retry that lands on another replica is answered again.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.slack import SlackBot, SlackInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_sdk.web.async_client import AsyncWebClient

from channels.dedup import RecentKeys

logger = logging.getLogger(__name__)

#: The Slack Web API; ``api_base_url`` replaces it.
SLACK_API_BASE_URL = "https://slack.com/api/"
#: Slack retries a failed delivery up to 3 times within about 5 minutes; remember event ids longer.
DEFAULT_RETRY_DEDUP_TTL_SECONDS = 900.0
#: Upper bound on remembered event ids, so a flood of events cannot grow memory without limit.
DEFAULT_RETRY_DEDUP_MAX_ENTRIES = 10_000
#: Routes of the connector that stay open without a Slack signature.
UNGUARDED_HANDLERS = frozenset({"health"})


class ShopSlackBot(SlackBot):
    """Rasa's Slack output channel, calling the Web API at ``api_base_url``."""

    def __init__(
        self,
        token: str,
        slack_channel: Optional[str] = None,
        thread_id: Optional[str] = None,
        proxy: Optional[str] = None,
        api_base_url: str = SLACK_API_BASE_URL,
    ) -> None:
        super().__init__(token, slack_channel, thread_id, proxy)
        self.client = AsyncWebClient(token, proxy=proxy, base_url=api_base_url)


class ShopSlackInput(SlackInput):
    """Rasa's Slack input channel with ``api_base_url``, 401 on bad signatures and retry de-duplication.

    The channel keeps Rasa's name ``slack``: events go to ``/webhooks/slack/webhook``, trackers
    record ``input_channel: slack``, ``channel: slack`` response variants apply, and Rasa's HTTP API
    finds this connector for ``output_channel=latest``.
    """

    @classmethod
    def name(cls) -> str:
        return "slack"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        if not credentials:
            cls.raise_missing_credentials_exception()
        return cls(
            credentials.get("slack_token"),
            credentials.get("slack_channel"),
            credentials.get("proxy"),
            credentials.get("slack_retry_reason_header", "x-slack-retry-reason"),
            credentials.get("slack_retry_number_header", "x-slack-retry-num"),
            credentials.get("errors_ignore_retry", None),
            credentials.get("use_threads", False),
            credentials.get("slack_signing_secret", ""),
            credentials.get("conversation_granularity", "sender"),
            api_base_url=credentials.get("api_base_url") or SLACK_API_BASE_URL,
            retry_dedup_ttl_seconds=float(
                credentials.get("retry_dedup_ttl_seconds", DEFAULT_RETRY_DEDUP_TTL_SECONDS)
            ),
            retry_dedup_max_entries=int(
                credentials.get("retry_dedup_max_entries", DEFAULT_RETRY_DEDUP_MAX_ENTRIES)
            ),
        )

    def __init__(
        self,
        slack_token: str,
        slack_channel: Optional[str] = None,
        proxy: Optional[str] = None,
        slack_retry_reason_header: Optional[str] = None,
        slack_retry_number_header: Optional[str] = None,
        errors_ignore_retry: Optional[List[str]] = None,
        use_threads: Optional[bool] = False,
        slack_signing_secret: str = "",
        conversation_granularity: Optional[str] = "sender",
        *,
        api_base_url: str = SLACK_API_BASE_URL,
        retry_dedup_ttl_seconds: float = DEFAULT_RETRY_DEDUP_TTL_SECONDS,
        retry_dedup_max_entries: int = DEFAULT_RETRY_DEDUP_MAX_ENTRIES,
    ) -> None:
        super().__init__(
            slack_token,
            slack_channel,
            proxy,
            slack_retry_reason_header or "x-slack-retry-reason",
            slack_retry_number_header or "x-slack-retry-num",
            errors_ignore_retry,
            use_threads,
            slack_signing_secret,
            conversation_granularity,
        )
        self.api_base_url = api_base_url
        self.handled_events = RecentKeys(retry_dedup_ttl_seconds, retry_dedup_max_entries)

    def get_output_channel(
        self, channel: Optional[str] = None, thread_id: Optional[str] = None
    ) -> OutputChannel:
        channel = channel or self.slack_channel
        return ShopSlackBot(self.slack_token, channel, thread_id, self.proxy, api_base_url=self.api_base_url)

    @staticmethod
    def _event_id(request: Request) -> Optional[str]:
        if request.headers.get("content-type") != "application/json":
            return None  # interactive (form-encoded) payloads carry no event_id and are not retried
        body = request.json
        event_id = body.get("event_id") if isinstance(body, dict) else None
        return str(event_id) if event_id else None

    async def process_message(
        self,
        request: Request,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        text: str,
        sender_id: Optional[str],
        metadata: Optional[Dict],
    ) -> Any:
        """Hands the message to the bot unless this ``event_id`` was already handed over recently."""
        event_id = self._event_id(request)
        if event_id is not None and not self.handled_events.add(event_id):
            logger.info(
                "Slack event %s was already handled (retry #%s, reason %s); not answering it again.",
                event_id,
                request.headers.get(self.retry_num_header),
                request.headers.get(self.retry_reason_header),
            )
            return response.text("", status=200, headers={"X-Slack-No-Retry": "1"})
        return await super().process_message(request, on_new_message, text, sender_id, metadata)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        slack_webhook = super().blueprint(on_new_message)

        @slack_webhook.middleware("request")
        async def authenticate(request: Request) -> Optional[HTTPResponse]:
            route = request.route
            handler_name = route.name.rsplit(".", 1)[-1] if route is not None else ""
            if handler_name in UNGUARDED_HANDLERS:
                return None
            if not self.is_request_from_slack_authentic(request):
                logger.warning("Refused a Slack request without a valid X-Slack-Signature.")
                return response.text("invalid or missing X-Slack-Signature", status=401)
            return self._url_verification_answer(request)

        return slack_webhook

    @staticmethod
    def _url_verification_answer(request: Request) -> Optional[HTTPResponse]:
        """Answers Slack's ``url_verification`` with ``{"challenge": ...}``, the documented JSON form.

        (Rasa answers with the bare challenge as a JSON string literal.)
        """
        if request.headers.get("content-type") != "application/json":
            return None
        body = request.json
        if isinstance(body, dict) and body.get("type") == "url_verification":
            return response.json({"challenge": body.get("challenge", "")})
        return None
