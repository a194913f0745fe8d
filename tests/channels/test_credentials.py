"""credentials.yml loads the connectors by module path, with secrets from environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest
from rasa.core.channels.socketio import SocketIOInput
from rasa.core.run import create_http_input_channels
from rasa.shared.exceptions import RasaException

from channels.rest import ShopRestInput
from channels.slack import ShopSlackInput
from channels.telegram import ShopTelegramInput
from channels.webchat import WebChatInput

REPO = Path(__file__).resolve().parents[2]
SNIPPET = REPO / "credentials.production.yml"
DEFAULT_CREDENTIALS = REPO / "credentials.yml"
ENV: Dict[str, str] = {
    "TELEGRAM_ACCESS_TOKEN": "123456:from-the-environment",
    "TELEGRAM_BOT_USERNAME": "shopassist_bot",
    "TELEGRAM_WEBHOOK_URL": "https://shop.example/webhooks/telegram/webhook",
    "TELEGRAM_SECRET_TOKEN": "env-secret",
    "SLACK_BOT_TOKEN": "xoxb-from-the-environment",
    "SLACK_SIGNING_SECRET": "signing-from-the-environment",
}


def assert_loads_our_connectors(path: Path) -> None:
    channels = {type(c): c for c in create_http_input_channels(None, str(path))}

    assert {ShopRestInput, SocketIOInput, WebChatInput, ShopTelegramInput, ShopSlackInput} <= set(channels)
    telegram = channels[ShopTelegramInput]
    assert (telegram.access_token, telegram.verify, telegram.webhook_url, telegram.secret_token) == (
        ENV["TELEGRAM_ACCESS_TOKEN"],
        ENV["TELEGRAM_BOT_USERNAME"],
        ENV["TELEGRAM_WEBHOOK_URL"],
        ENV["TELEGRAM_SECRET_TOKEN"],
    )
    assert telegram.api_base_url == "https://api.telegram.org"
    slack = channels[ShopSlackInput]
    assert (slack.slack_token, slack.slack_signing_secret) == (
        ENV["SLACK_BOT_TOKEN"],
        ENV["SLACK_SIGNING_SECRET"],
    )
    assert slack.api_base_url == "https://slack.com/api/"
    assert {c.name() for c in channels.values()} >= {"telegram", "slack"}


def test_snippet_builds_all_channels_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    assert_loads_our_connectors(SNIPPET)


def test_a_missing_variable_stops_rasa_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    with pytest.raises(RasaException, match="SLACK_SIGNING_SECRET"):
        create_http_input_channels(None, str(SNIPPET))


def test_default_credentials_need_no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make demo` and `make serve` work on a laptop without any token: credentials.yml names none."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    channels = create_http_input_channels(None, str(DEFAULT_CREDENTIALS))
    assert sorted(channel.name() for channel in channels) == ["outage_guard", "rest", "socketio", "webchat"]
