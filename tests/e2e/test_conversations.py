"""The scripted conversations of tests/conversations/, played against the real servers."""
from __future__ import annotations

from pathlib import Path

import pytest

from shopassist.conversation_tests import RasaClient, load_conversations, run_conversation

pytestmark = pytest.mark.e2e

CONVERSATIONS = load_conversations([Path(__file__).resolve().parents[1] / "conversations"])


@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=[c.name for c in CONVERSATIONS])
def test_conversation(assistant, conversation) -> None:
    result = run_conversation(RasaClient(assistant.url, token=assistant.token), conversation)
    assert result.passed, result.describe_failures()
