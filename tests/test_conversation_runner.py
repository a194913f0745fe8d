"""The conversation-test runner reads files strictly and reports every failed check."""
from __future__ import annotations

from pathlib import Path

import pytest

from shopassist.conversation_tests import (
    ConversationFileError,
    RasaClient,
    load_conversations,
    run_conversation,
)

REPO = Path(__file__).resolve().parents[1]


class FakeRasa(RasaClient):
    """Answers from a script instead of a server, so the checks can be tested on their own."""

    def __init__(self, replies, tracker=None) -> None:
        super().__init__("http://unused")
        self._replies = list(replies)
        self._tracker = tracker or {}

    def send(self, sender, text):
        return self._replies.pop(0)

    def tracker(self, sender):
        return self._tracker


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yml"
    path.write_text(text)
    return path


def test_the_shipped_conversations_load() -> None:
    conversations = load_conversations([REPO / "tests" / "conversations"])
    assert len(conversations) >= 20
    assert len({c.name for c in conversations}) == len(conversations)


def test_an_unknown_check_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "conversations:\n  - name: x\n    steps:\n      - user: hi\n"
                            "        expect: {text_contain: [hello]}\n")
    with pytest.raises(ConversationFileError, match="text_contain"):
        load_conversations([path])


def test_an_unquoted_yes_is_explained(tmp_path: Path) -> None:
    path = _write(tmp_path, "conversations:\n  - name: x\n    steps:\n      - user: hi\n"
                            "        expect: {buttons: [Yes]}\n")
    with pytest.raises(ConversationFileError, match="quote it"):
        load_conversations([path])


def test_a_file_without_conversations_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConversationFileError, match="conversations"):
        load_conversations([_write(tmp_path, "steps: []\n")])


def test_every_failed_check_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, """
conversations:
  - name: status
    steps:
      - user: where is my order
        expect:
          text_contains: [e-mail, tracking]
          text_not_contains: [sorry]
          buttons: ['Yes']
          slots: {order_verified: true}
          paused: false
""")
    conversation = load_conversations([path])[0]
    fake = FakeRasa([[{"text": "Sorry, what is your E-MAIL?"}]], tracker={"slots": {"order_verified": None}})
    result = run_conversation(fake, conversation)
    assert not result.passed
    failures = result.steps[0].failures
    assert any("'tracking'" in failure for failure in failures)
    assert any("NOT to contain 'sorry'" in failure for failure in failures)
    assert any("button 'Yes'" in failure for failure in failures)
    assert any("order_verified" in failure for failure in failures)
    assert not any("'e-mail'" in failure for failure in failures), "text checks are case-insensitive"
    assert "where is my order" in result.describe_failures()


def test_a_conversation_that_meets_its_checks_passes(tmp_path: Path) -> None:
    path = _write(tmp_path, """
conversations:
  - name: handoff
    steps:
      - user: a person please
        expect: {text_contains_any: [colleague, team], buttons: [OK], paused: true, replies: some}
""")
    conversation = load_conversations([path])[0]
    reply = {"text": "A colleague will help.", "buttons": [{"title": "ok"}]}
    fake = FakeRasa([[reply]], tracker={"paused": True})
    assert run_conversation(fake, conversation).passed
