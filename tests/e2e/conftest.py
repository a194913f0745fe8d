"""Real servers for end-to-end tests: `rasa run` with the trained model and `rasa run actions`.

Both run as subprocesses on free loopback ports against a freshly seeded SQLite shop database, so a
test talks to the assistant exactly as a web shop would: over the REST channel, or over Rasa's
``callback`` channel, whose bot messages a loopback :class:`CallbackReceiver` collects. The HTTP API is
protected by a token (``Assistant.token``), as in production, and the handoff desk is always staffed
(``HANDOFF_BUSINESS_HOURS`` empty), so that a handoff pauses the bot whatever the time of day.
"""
from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import requests

from tests import servers
from tests.e2e.callback_receiver import CallbackReceiver
from tests.servers import (
    free_port,
    server_env,
    start_action_server,
    start_rasa_server,
    stop_process,
    wait_until_up,
)


@dataclass
class Assistant:
    """A running assistant and the shop database behind it."""

    url: str
    shop_db_url: str
    rasa_log: Path
    actions_log: Path
    token: str
    callback: CallbackReceiver

    def send(self, sender: str, text: str) -> List[Dict]:
        """Posts one shopper message over the REST channel and returns the bot's messages."""
        response = requests.post(
            f"{self.url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=120
        )
        response.raise_for_status()
        return response.json()

    def reply_text(self, sender: str, text: str) -> str:
        """The bot's replies to one message, joined into one string (buttons' titles included)."""
        parts = []
        for message in self.send(sender, text):
            parts.append(message.get("text", ""))
            parts.extend(button.get("title", "") for button in message.get("buttons", []))
        return "\n".join(parts)

    def send_callback(self, sender: str, text: str) -> List[Dict[str, Any]]:
        """Posts one shopper message over the ``callback`` channel and returns what the bot pushed to the
        receiver meanwhile (Rasa answers the POST only once it has handled the message)."""
        before = len(self.callback.messages(sender))
        response = requests.post(
            f"{self.url}/webhooks/callback/webhook", json={"sender": sender, "message": text}, timeout=120
        )
        response.raise_for_status()
        return self.callback.messages(sender)[before:]

    def tracker(self, sender: str) -> Dict[str, Any]:
        """The conversation's tracker, from the HTTP API (with the token)."""
        response = requests.get(
            f"{self.url}/conversations/{sender}/tracker", params={"token": self.token}, timeout=30
        )
        response.raise_for_status()
        return response.json()

    def is_alive(self) -> bool:
        return requests.get(self.url, timeout=5).ok

    @staticmethod
    def new_sender() -> str:
        return f"e2e-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def trained_model() -> Path:
    return servers.trained_model()


@pytest.fixture(scope="session")
def assistant(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    from shop.seed import seed_database

    work = tmp_path_factory.mktemp("assistant")
    shop_db_url = f"sqlite:///{work / 'shop.db'}"
    seed_database(shop_db_url)

    actions_port, rasa_port = free_port(), free_port()
    endpoints = work / "endpoints.yml"
    # The tracker store class of endpoints.yml (serving/stores.py) on a SQLite file of this session.
    endpoints.write_text(
        f'action_endpoint:\n  url: "http://127.0.0.1:{actions_port}/webhook"\n'
        "tracker_store:\n  type: serving.stores.EnvTrackerStore\n"
    )
    callback = CallbackReceiver()
    credentials = work / "credentials.yml"
    # The REST channel of credentials.yml (channels/rest.py), so every e2e test goes through its checks.
    credentials.write_text(f'channels.rest.ShopRestInput:\ncallback:\n  url: "{callback.url}"\n')
    token = secrets.token_urlsafe(16)

    env = server_env(shop_db_url, {
        "HANDOFF_BUSINESS_HOURS": "", "HANDOFF_WEBHOOK_URL": "",
        "SHOPASSIST_TRACKER_STORE_URL": f"sqlite:///{work / 'tracker.db'}",
    })
    actions_log, rasa_log = work / "actions.log", work / "rasa.log"
    actions = start_action_server(actions_port, env, actions_log)
    rasa = start_rasa_server(
        trained_model, endpoints, credentials, rasa_port, env, rasa_log, extra_args=["--auth-token", token]
    )
    try:
        wait_until_up(f"http://127.0.0.1:{actions_port}/health", actions, actions_log)
        wait_until_up(f"http://127.0.0.1:{rasa_port}/", rasa, rasa_log)
        yield Assistant(
            f"http://127.0.0.1:{rasa_port}", shop_db_url, rasa_log, actions_log, token, callback
        )
    finally:
        stop_process(rasa)
        stop_process(actions)
        callback.stop()
