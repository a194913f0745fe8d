"""Configuration of the agent console, from environment variables with documented defaults.

``CONSOLE_AGENTS``           ``alice:<hash>,bob:<hash>`` (hashes from ``python -m console.passwords``), each
                             optionally with the name shoppers see: ``alice:<hash>:Dana from support``
``CONSOLE_AGENTS_FILE``      alternatively a JSON file ``{"alice": "<hash>", ...}`` (both may be used); a
                             value may also be ``{"password_hash": "<hash>", "display_name": "Dana"}``
``CONSOLE_HOST``/``_PORT``   where the console listens (default ``127.0.0.1:5010``)
``CONSOLE_SESSION_TTL``      seconds a sign-in lasts (default 28800 = 8 hours)
``CONSOLE_COOKIE_SECURE``    ``true`` behind HTTPS (the session cookie then carries ``Secure``)
``CONSOLE_HANDBACK_MESSAGE`` what the bot says when an agent hands the conversation back
``RASA_URL``                 Rasa server with ``--enable-api`` (default ``http://localhost:5005``)
``RASA_TOKEN``               its ``--auth-token`` (sent as the ``token`` query parameter)
``RASA_TIMEOUT``             seconds per Rasa call (default 5)
``SHOP_DB_URL``              the shop database holding the tickets (see ``shop.config``)

Shoppers never see an agent's login name: an agent's reply carries the agent's display name, or
:data:`DEFAULT_DISPLAY_NAME` ("Support agent") when none is configured.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from console.passwords import is_valid_hash

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5010
DEFAULT_RASA_URL = "http://localhost:5005"
DEFAULT_RASA_TIMEOUT_S = 5.0
DEFAULT_SESSION_TTL_S = 8 * 3600
DEFAULT_HANDBACK_MESSAGE = (
    "Thanks for your patience! You're back with ShopAssist, the virtual assistant. Is there anything "
    "else I can help you with?"
)
#: Longest agent reply accepted.
MAX_REPLY_LENGTH = 2000
AGENT_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,60}$")
#: What shoppers see as the author of a reply from an agent without a configured display name.
DEFAULT_DISPLAY_NAME = "Support agent"
#: Longest display name (the web chat shows at most this many characters).
MAX_DISPLAY_NAME = 40
#: Metadata keys of an agent's reply, written by console/app.py and read by channels/webchat.py: the login
#: (for the team: transcript, audit; never shown to shoppers) and the name shown to the shopper.
AGENT_KEY = "agent"
AGENT_DISPLAY_KEY = "agent_display_name"


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def parse_agent_list(spec: str) -> tuple[dict[str, str], dict[str, str]]:
    """``alice:<hash>:Dana from support,bob:<hash>`` -> (``{"alice": "<hash>", "bob": "<hash>"}``,
    ``{"alice": "Dana from support"}``); the display name after a second ``:`` is optional. Raises
    ValueError naming the bad entry (never printing a hash)."""
    agents: dict[str, str] = {}
    display_names: dict[str, str] = {}
    for entry in (spec or "").split(","):
        if not entry.strip():
            continue
        name, sep, rest = entry.strip().partition(":")
        encoded, _, display = rest.partition(":")  # a hash contains no ":" (console.passwords)
        name, encoded = name.strip(), encoded.strip() if sep else ""
        _check_agent(name, encoded)
        agents[name] = encoded
        if display.strip():
            display_names[name] = _check_display_name(name, display)
    return agents, display_names


def parse_agents(spec: str) -> dict[str, str]:
    """``alice:<hash>,bob:<hash>`` -> ``{"alice": "<hash>", ...}`` (display names, if any, are left out: see
    :func:`parse_agent_list`); raises ValueError naming the bad entry (never printing a hash)."""
    return parse_agent_list(spec)[0]


def _check_agent(name: str, encoded: str) -> None:
    if not AGENT_NAME.match(name):
        raise ValueError(f"invalid console agent name {name[:60]!r} (letters, digits, _ . @ - only)")
    if not is_valid_hash(encoded):
        raise ValueError(f"the password of console agent {name!r} is not a hash from console.passwords")


def _check_display_name(agent: str, value: object) -> str:
    """The display name, trimmed; ValueError when it is no printable text of 1-40 characters."""
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > MAX_DISPLAY_NAME or not text.isprintable():
        raise ValueError(
            f"the display name of console agent {agent!r} must be printable text of 1-{MAX_DISPLAY_NAME} "
            f"characters"
        )
    return text


def load_agent_list_file(path: str | Path) -> tuple[dict[str, str], dict[str, str]]:
    """(hashes, display names) from a JSON object whose values are either a hash or
    ``{"password_hash": "<hash>", "display_name": "Dana from support"}`` (``display_name`` optional)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object of agent name -> password hash")
    agents: dict[str, str] = {}
    display_names: dict[str, str] = {}
    for name, value in data.items():
        name = str(name)
        display = None
        if isinstance(value, dict):
            display = value.get("display_name")
            value = value.get("password_hash", "")
        _check_agent(name, str(value))
        agents[name] = str(value)
        if display is not None:
            display_names[name] = _check_display_name(name, display)
    return agents, display_names


def load_agents_file(path: str | Path) -> dict[str, str]:
    """Agents from a JSON object ``{"name": "<hash>"}`` (see :func:`load_agent_list_file`)."""
    return load_agent_list_file(path)[0]


@dataclass(frozen=True)
class ConsoleSettings:
    """Everything the console needs; build with :meth:`from_env` or directly (tests)."""

    agents: Mapping[str, str] = field(default_factory=dict)
    #: What shoppers see as the author of each agent's replies (agents without one: "Support agent").
    display_names: Mapping[str, str] = field(default_factory=dict)
    rasa_url: str = DEFAULT_RASA_URL
    rasa_token: str | None = None
    rasa_timeout_s: float = DEFAULT_RASA_TIMEOUT_S
    db_url: str | None = None
    session_ttl_s: int = DEFAULT_SESSION_TTL_S
    cookie_secure: bool = False
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    handback_message: str = DEFAULT_HANDBACK_MESSAGE

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ConsoleSettings:
        """Read the environment; raises ValueError for an invalid agent list or number."""
        env = os.environ if env is None else env
        agents, display_names = parse_agent_list(env.get("CONSOLE_AGENTS", ""))
        agents_file = env.get("CONSOLE_AGENTS_FILE", "").strip()
        if agents_file:
            from_file, names_from_file = load_agent_list_file(agents_file)
            agents.update(from_file)
            for name in from_file:  # the file's entry replaces the variable's, display name included
                display_names.pop(name, None)
            display_names.update(names_from_file)
        return cls(
            agents=agents,
            display_names=display_names,
            rasa_url=(env.get("RASA_URL", "").strip() or DEFAULT_RASA_URL).rstrip("/"),
            rasa_token=env.get("RASA_TOKEN", "").strip() or None,
            rasa_timeout_s=float(env.get("RASA_TIMEOUT", "").strip() or DEFAULT_RASA_TIMEOUT_S),
            db_url=env.get("SHOP_DB_URL", "").strip() or None,
            session_ttl_s=int(env.get("CONSOLE_SESSION_TTL", "").strip() or DEFAULT_SESSION_TTL_S),
            cookie_secure=_flag(env.get("CONSOLE_COOKIE_SECURE")),
            host=env.get("CONSOLE_HOST", "").strip() or DEFAULT_HOST,
            port=int(env.get("CONSOLE_PORT", "").strip() or DEFAULT_PORT),
            handback_message=env.get("CONSOLE_HANDBACK_MESSAGE", "").strip() or DEFAULT_HANDBACK_MESSAGE,
        )

    def display_name(self, agent: str) -> str:
        """The name shoppers see for ``agent``'s replies: the configured display name, else
        :data:`DEFAULT_DISPLAY_NAME`; never the login name (unless the team chose it as display name)."""
        return self.display_names.get(agent) or DEFAULT_DISPLAY_NAME
