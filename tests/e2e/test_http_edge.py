"""Bad requests at the HTTP edge of the real Rasa server: a clear 4xx, the server stays up, nothing stored.

The session's assistant serves the REST channel of credentials.yml (``channels.rest.ShopRestInput``) and
keeps conversations in a SQLite tracker store (``serving.stores.EnvTrackerStore``), which the tests read
directly to prove that a refused request left no trace.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Dict, List

import pytest
import requests

pytestmark = pytest.mark.e2e

JSON = {"Content-Type": "application/json"}


def stored_events(assistant, sender: str) -> List[str]:
    """Event types the tracker store holds for ``sender`` (the events table may not exist yet)."""
    database = Path(assistant.rasa_log).parent / "tracker.db"
    if not database.exists():
        return []
    with sqlite3.connect(database) as connection:
        try:
            rows = connection.execute(
                "SELECT type_name FROM events WHERE sender_id = ? ORDER BY id", (sender,)
            ).fetchall()
        except sqlite3.OperationalError:
            return []
    return [row[0] for row in rows]


def post(assistant, **kwargs) -> requests.Response:
    return requests.post(f"{assistant.url}/webhooks/rest/webhook", timeout=60, **kwargs)


def bad_requests(sender: str) -> Dict[str, dict]:
    """Name -> requests.post arguments of a request the channel must refuse; ``sender`` is in each body."""
    return {
        "malformed JSON": {"data": f'{{"sender": "{sender}", "message": "hi"'.encode(), "headers": JSON},
        "not JSON content type": {
            "data": f'{{"sender": "{sender}", "message": "hi"}}'.encode(),
            "headers": {"Content-Type": "text/plain"},
        },
        "form body": {"data": {"sender": sender, "message": "hi"}},
        "invalid UTF-8": {
            "data": f'{{"sender": "{sender}", "message": "'.encode() + b'\xff\xfe"}', "headers": JSON,
        },
        "5 MB body": {"json": {"sender": sender, "message": "where is my parcel " * 270_000}},
        "missing message": {"json": {"sender": sender}},
        "message not a string": {"json": {"sender": sender, "message": ["hi"]}},
        "metadata not an object": {"json": {"sender": sender, "message": "hi", "metadata": "vip"}},
    }


REFUSED = {
    "malformed JSON": (400, "InvalidJSON"),
    "not JSON content type": (415, "UnsupportedMediaType"),
    "form body": (415, "UnsupportedMediaType"),
    "invalid UTF-8": (400, "InvalidJSON"),
    "5 MB body": (413, "PayloadTooLarge"),
    "missing message": (400, "InvalidMessage"),
    "message not a string": (400, "InvalidMessage"),
    "metadata not an object": (400, "InvalidMetadata"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_bad_request_is_refused_clearly_and_leaves_no_trace(assistant, case: str) -> None:
    sender = assistant.new_sender()
    answer = post(assistant, **bad_requests(sender)[case])
    status, reason = REFUSED[case]
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["reason"] == reason and body["status"] == "failure"
    assert len(body["message"]) > 20, "the message should say what to fix"
    assert "Traceback" not in answer.text
    assert assistant.is_alive()
    assert stored_events(assistant, sender) == []
    # The same shopper can then talk normally, and only that is stored.
    assert assistant.reply_text(sender, "hello").strip()
    assert stored_events(assistant, sender).count("user") == 1


@pytest.mark.parametrize(
    "body, reason",
    [
        ({"message": "hi"}, "InvalidSender"),
        ({"sender": "", "message": "hi"}, "InvalidSender"),
        ({"sender": 42, "message": "hi"}, "InvalidSender"),
        ({"sender": "x" * 256, "message": "hi"}, "InvalidSender"),
        ({"sender": "line\nbreak", "message": "hi"}, "InvalidSender"),
        (["sender", "message"], "NotAnObject"),
        (None, "NotAnObject"),
    ],
    ids=["missing", "empty", "number", "too long", "control character", "array", "null"],
)
def test_bad_sender_or_body_shape_is_refused(assistant, body, reason: str) -> None:
    default_before = stored_events(assistant, "default")
    answer = post(assistant, data=json.dumps(body).encode(), headers=JSON)
    assert answer.status_code == 400, answer.text
    assert answer.json()["reason"] == reason
    # Rasa would have filed a message without sender under the shared conversation "default".
    assert stored_events(assistant, "default") == default_before
    assert assistant.is_alive()


def test_empty_body_is_refused(assistant) -> None:
    answer = post(assistant, data=b"", headers=JSON)
    assert answer.status_code == 400 and answer.json()["reason"] == "InvalidJSON"


def test_the_client_cannot_choose_another_input_channel(assistant) -> None:
    sender = assistant.new_sender()
    answer = post(assistant, json={"sender": sender, "message": "hello", "input_channel": "telegram"})
    assert answer.status_code == 200 and answer.json()
    assert assistant.tracker(sender)["latest_input_channel"] == "rest"


def test_unknown_conversation_on_the_tracker_api_is_empty_and_not_stored(assistant) -> None:
    sender = assistant.new_sender()
    tracker = assistant.tracker(sender)
    # Rasa's documented contract (a new conversation's tracker) is kept; no message is invented ...
    assert [event for event in tracker["events"] if event["event"] in ("user", "bot")] == []
    # ... and reading it does not create a conversation in the tracker store.
    assert stored_events(assistant, sender) == []


def test_tracker_api_needs_the_token(assistant) -> None:
    sender = assistant.new_sender()
    answer = requests.get(f"{assistant.url}/conversations/{sender}/tracker", timeout=30)
    assert answer.status_code == 401
    wrong = requests.get(
        f"{assistant.url}/conversations/{sender}/tracker", params={"token": "wrong"}, timeout=30
    )
    assert wrong.status_code == 401
    assert stored_events(assistant, sender) == []
