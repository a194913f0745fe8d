"""Rasa input channels for ShopAssist.

Thin subclasses of Rasa 3.6's own connectors, loaded by module path from ``credentials.yml``:

* :class:`channels.telegram.ShopTelegramInput` -- Rasa's Telegram connector plus a configurable Bot API
  base URL (self-hosted Bot API servers, local stand-ins in tests) and the
  ``X-Telegram-Bot-Api-Secret-Token`` webhook check.
* :class:`channels.slack.ShopSlackInput` -- Rasa's Slack connector plus a configurable Web API base URL,
  401 for requests without a valid ``X-Slack-Signature`` and de-duplication of Slack's retries.

Both keep Rasa's channel names (``telegram``, ``slack``), so trackers, channel-specific responses in
``domain.yml`` and ``output_channel=latest`` on Rasa's HTTP API behave exactly as with the built-in
connectors. Configure one or the other, not both, for the same platform: they share a URL prefix.
"""
