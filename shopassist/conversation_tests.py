"""Scripted conversations played against a running assistant, with checks on what it really did.

`rasa test` predicts actions but never runs them, so it cannot tell whether the order status a shopper
sees is the one in the database. These tests talk to a running Rasa server (REST channel) whose action
server is up, exactly as a shop's web page would, and check each reply: text fragments, buttons, slot
values and whether the conversation was handed to a person (paused). Slots and the paused state come
from Rasa's HTTP API, so the server must run with `--enable-api` (and `--auth-token`, if set, must be given).

A file in `tests/conversations/` looks like::

    conversations:
      - name: order status needs the e-mail on the order
        steps:
          - user: where is my order SA-100001
            expect:
              text_contains: [e-mail]
          - user: alex.morgan@example.com
            expect:
              text_contains: [SwiftShip Express, SSX4175609275]
              slots: {order_verified: true}

Checks (all optional, case-insensitive for text): `text_contains` (every fragment appears in the joined
replies), `text_contains_any` (at least one does), `text_not_contains`, `buttons` (titles present),
`slots` (exact values), `paused` (true once a person holds the conversation), `replies` (`some` or `none`).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

import requests
import yaml

KNOWN_CHECKS = {
    "text_contains",
    "text_contains_any",
    "text_not_contains",
    "buttons",
    "slots",
    "paused",
    "replies",
}


class ConversationFileError(ValueError):
    """A conversation file that cannot be read; the message names the file and the problem."""


@dataclass(frozen=True)
class Step:
    user: str
    expect: Dict[str, Any]


@dataclass(frozen=True)
class Conversation:
    name: str
    steps: List[Step]
    source: str


@dataclass
class StepResult:
    user: str
    replies: List[str]
    failures: List[str] = field(default_factory=list)


@dataclass
class ConversationResult:
    conversation: Conversation
    steps: List[StepResult]
    error: Optional[str] = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(not step.failures for step in self.steps)

    def describe_failures(self) -> str:
        """A readable account of what went wrong, for the terminal and for pytest."""
        lines = [f"{self.conversation.name} ({self.conversation.source})"]
        if self.error:
            lines.append(f"  error: {self.error}")
        for number, step in enumerate(self.steps, start=1):
            if step.failures:
                lines.append(f"  step {number}: shopper said {step.user!r}")
                lines.append(f"    bot replied: {' | '.join(step.replies) or '(nothing)'}")
                lines.extend(f"    - {failure}" for failure in step.failures)
        return "\n".join(lines)


def load_conversations(paths: Iterable[Path]) -> List[Conversation]:
    """Reads every `*.yml` under the given files or folders, in name order."""
    files: List[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.yml")) if path.is_dir() else [path])
    conversations: List[Conversation] = []
    for file in files:
        conversations.extend(_parse_file(file))
    return conversations


def _parse_file(file: Path) -> List[Conversation]:
    try:
        content = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConversationFileError(f"{file}: cannot read it: {error}") from None
    items = content.get("conversations") if isinstance(content, dict) else None
    if not isinstance(items, list):
        raise ConversationFileError(f"{file}: expected a top-level 'conversations:' list")
    conversations = []
    for index, item in enumerate(items, start=1):
        name = str(item.get("name") or f"conversation {index}")
        raw_steps = item.get("steps")
        if not isinstance(raw_steps, list) or not raw_steps:
            raise ConversationFileError(f"{file}: '{name}' has no steps")
        steps = []
        for raw in raw_steps:
            if not isinstance(raw, dict) or "user" not in raw:
                raise ConversationFileError(f"{file}: '{name}': every step needs a 'user:' message")
            expect = raw.get("expect") or {}
            unknown = set(expect) - KNOWN_CHECKS
            if unknown:
                raise ConversationFileError(
                    f"{file}: '{name}': unknown checks {sorted(unknown)}; known: {sorted(KNOWN_CHECKS)}"
                )
            for check in ("text_contains", "text_contains_any", "text_not_contains", "buttons"):
                if any(isinstance(value, bool) for value in _as_list(expect.get(check))):
                    raise ConversationFileError(
                        f"{file}: '{name}': {check} has a yes/no value that YAML read as true/false; "
                        "quote it, e.g. buttons: ['Yes']"
                    )
            steps.append(Step(user=str(raw["user"]), expect=expect))
        conversations.append(Conversation(name=name, steps=steps, source=file.name))
    return conversations


class RasaClient:
    """The two things a conversation test needs from a Rasa server: the REST channel and the tracker."""

    def __init__(self, url: str, token: Optional[str] = None, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def send(self, sender: str, text: str) -> List[Dict[str, Any]]:
        payload = {"sender": sender, "message": text}
        response = requests.post(f"{self.url}/webhooks/rest/webhook", json=payload, timeout=self.timeout)
        response.raise_for_status()
        return response.json()

    def tracker(self, sender: str) -> Dict[str, Any]:
        params = {"token": self.token} if self.token else {}
        response = requests.get(
            f"{self.url}/conversations/{sender}/tracker", params=params, timeout=self.timeout
        )
        if response.status_code in (401, 403):
            raise RuntimeError("the Rasa HTTP API refused the request: pass the server's --auth-token")
        if response.status_code == 404:
            raise RuntimeError("the Rasa HTTP API is off: start the server with --enable-api")
        response.raise_for_status()
        return response.json()


def run_conversation(client: RasaClient, conversation: Conversation) -> ConversationResult:
    """Plays one conversation under a fresh sender id and checks every step."""
    sender = f"convtest-{uuid.uuid4().hex[:12]}"
    result = ConversationResult(conversation=conversation, steps=[])
    try:
        for step in conversation.steps:
            messages = client.send(sender, step.user)
            texts = [message.get("text", "") for message in messages if message.get("text")]
            buttons = [
                button.get("title", "") for message in messages for button in message.get("buttons") or []
            ]
            step_result = StepResult(user=step.user, replies=texts)
            step_result.failures.extend(_check_replies(step.expect, messages, texts, buttons))
            if "slots" in step.expect or "paused" in step.expect:
                step_result.failures.extend(_check_tracker(step.expect, client.tracker(sender)))
            result.steps.append(step_result)
    except (requests.RequestException, RuntimeError) as error:
        result.error = str(error)
    return result


def _check_replies(
    expect: Dict[str, Any], messages: List[Dict[str, Any]], texts: List[str], buttons: List[str]
) -> List[str]:
    failures = []
    joined = "\n".join(texts).lower()
    for fragment in _as_list(expect.get("text_contains")):
        if str(fragment).lower() not in joined:
            failures.append(f"expected the reply to contain {fragment!r}")
    any_of = _as_list(expect.get("text_contains_any"))
    if any_of and not any(str(fragment).lower() in joined for fragment in any_of):
        failures.append(f"expected the reply to contain one of {any_of!r}")
    for fragment in _as_list(expect.get("text_not_contains")):
        if str(fragment).lower() in joined:
            failures.append(f"expected the reply NOT to contain {fragment!r}")
    titles = [title.lower() for title in buttons]
    for title in _as_list(expect.get("buttons")):
        if str(title).lower() not in titles:
            failures.append(f"expected a button {title!r}; buttons were {buttons!r}")
    replies = expect.get("replies")
    if replies == "none" and messages:
        failures.append("expected no reply")
    if replies == "some" and not messages:
        failures.append("expected a reply, got nothing")
    return failures


def _check_tracker(expect: Dict[str, Any], tracker: Dict[str, Any]) -> List[str]:
    failures = []
    slots = tracker.get("slots") or {}
    for name, wanted in (expect.get("slots") or {}).items():
        if slots.get(name) != wanted:
            failures.append(f"expected slot {name}={wanted!r}, found {slots.get(name)!r}")
    if "paused" in expect and bool(tracker.get("paused")) != bool(expect["paused"]):
        failures.append(f"expected paused={expect['paused']!r}, found {tracker.get('paused')!r}")
    return failures


def _as_list(value: Any) -> List[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
