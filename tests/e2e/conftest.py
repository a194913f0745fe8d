"""Real servers for end-to-end tests: `rasa run` with the trained model and `rasa run actions`.

Both run as subprocesses on free loopback ports against a freshly seeded SQLite shop database, so a
test talks to the assistant exactly as a web shop would: over the REST channel.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MODEL_ENV = "SHOPASSIST_MODEL"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s:\n{log.read_text()[-4000:]}")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Assistant:
    """A running assistant and the shop database behind it."""

    url: str
    shop_db_url: str
    rasa_log: Path
    actions_log: Path

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

    def is_alive(self) -> bool:
        return requests.get(self.url, timeout=5).ok

    @staticmethod
    def new_sender() -> str:
        return f"e2e-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def trained_model() -> Path:
    model = Path(os.environ.get(MODEL_ENV, REPO / "models" / "shopassist.tar.gz"))
    if not model.is_file():
        reason = f"no trained model at {model}: run `make train` first (make test does)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return model


@pytest.fixture(scope="session")
def assistant(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    from shop.seed import seed_database

    work = tmp_path_factory.mktemp("assistant")
    shop_db_url = f"sqlite:///{work / 'shop.db'}"
    seed_database(shop_db_url)

    actions_port, rasa_port = _free_port(), _free_port()
    endpoints = work / "endpoints.yml"
    endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{actions_port}/webhook"\n')
    credentials = work / "credentials.yml"
    credentials.write_text("rest:\n")

    env = dict(os.environ, SHOP_DB_URL=shop_db_url, TF_CPP_MIN_LOG_LEVEL="2")
    actions_log, rasa_log = work / "actions.log", work / "rasa.log"
    with actions_log.open("w") as actions_out, rasa_log.open("w") as rasa_out:
        actions = subprocess.Popen(
            [str(BIN / "rasa"), "run", "actions", "--actions", "actions", "--port", str(actions_port)],
            cwd=REPO, env=env, stdout=actions_out, stderr=subprocess.STDOUT,
        )
        rasa = subprocess.Popen(
            [str(BIN / "rasa"), "run", "--model", str(trained_model), "--endpoints", str(endpoints),
             "--credentials", str(credentials), "--port", str(rasa_port), "--interface", "127.0.0.1",
             "--enable-api"],
            cwd=REPO, env=env, stdout=rasa_out, stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_up(f"http://127.0.0.1:{actions_port}/health", actions, actions_log)
            _wait_until_up(f"http://127.0.0.1:{rasa_port}/", rasa, rasa_log)
            yield Assistant(f"http://127.0.0.1:{rasa_port}", shop_db_url, rasa_log, actions_log)
        finally:
            _stop(rasa)
            _stop(actions)
