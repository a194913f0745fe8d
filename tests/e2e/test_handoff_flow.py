"""Human handoff end to end: real Rasa server, real action server, the real agent console, one shop DB.

A shopper on Rasa's ``callback`` channel gets angrier about a late parcel until the HandoffPolicy hands
the conversation over; ``action_handoff`` opens one ticket and pauses the bot; an agent signs in to the
console (``shopassist console``, a subprocess on loopback), claims the ticket, reads the transcript and
replies, and the reply is pushed to the shopper's channel; after the hand-back the bot says it is back
and answers an order question normally again; closing records the resolution. A second conversation
does the same over the REST channel (which cannot push: the agent's reply is stored in the tracker) and
is closed while still held, which resumes the bot too; asking for a person again right away opens a new
ticket. A console whose Rasa server is unreachable keeps its queue and answers Rasa calls with 502.
"""
from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest
import requests
from sqlalchemy import create_engine, text

from console.passwords import hash_password
from shop import ShopService
from tests.servers import BIN, REPO, free_port, server_env, stop_process

pytestmark = pytest.mark.e2e

AGENT, PASSWORD = "alice", "parcel-desk-2026"
DEMO_EMAIL = "alex.morgan@example.com"
HANDBACK_MESSAGE = "You're back with the ShopAssist bot now. Anything else I can do?"
#: A shopper getting angrier about a late parcel; none of it asks for a person or names fraud, so only
#: the anger triggers can hand over.
ANGRY_MESSAGES = [
    "My parcel is two weeks late and nobody has told me anything. This is ridiculous!",
    "I am absolutely furious, I've waited forever and your service is useless!",
    "This is completely unacceptable, I am sick and tired of being ignored!",
    "Unbelievable. Still nothing! I am so angry with this shop!",
]


@dataclass
class Console:
    """The running agent console and an HTTP session signed in as nobody yet."""

    url: str
    http: requests.Session
    log: Path

    def call(self, method: str, path: str, **kwargs: Any) -> Tuple[int, Dict[str, Any]]:
        response = self.http.request(method, f"{self.url}{path}", timeout=60, **kwargs)
        return response.status_code, response.json()


def start_console(
    work: Path, rasa_url: str, token: str, shop_db_url: str, name: str
) -> Tuple[subprocess.Popen, str, Path]:
    """``shopassist console`` on a free loopback port, signed-in agent ``alice``; waits until it answers."""
    port = free_port()
    log = work / f"{name}.log"
    env = server_env(shop_db_url, {
        "CONSOLE_AGENTS": f"{AGENT}:{hash_password(PASSWORD, log2_n=4)}",
        "RASA_URL": rasa_url, "RASA_TOKEN": token, "RASA_TIMEOUT": "60",
        "CONSOLE_HANDBACK_MESSAGE": HANDBACK_MESSAGE,
    })
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(BIN / "shopassist"), "console", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    # /api/session answers 401 before sign-in: that is "up"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{url}/api/session", timeout=2).status_code == 401:
                return process, url, log
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            raise RuntimeError(f"the console did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def console(assistant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    work = tmp_path_factory.mktemp("console")
    process, url, log = start_console(work, assistant.url, assistant.token, assistant.shop_db_url, "console")
    try:
        with requests.Session() as http:
            yield Console(url, http, log)
    finally:
        stop_process(process)


def tickets_of(shop_db_url: str, sender: str) -> List[Dict[str, Any]]:
    """Every ticket of a conversation, straight from the shop database."""
    engine = create_engine(shop_db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT id, status, reason, agent, resolution, channel FROM handoff_tickets "
                     "WHERE sender_id = :sender ORDER BY id"),
                {"sender": sender},
            ).mappings().all()
        return [dict(row) for row in rows]
    finally:
        engine.dispose()


def texts(messages: List[Dict[str, Any]]) -> str:
    return "\n".join(str(message.get("text") or "") for message in messages)


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def events_after(tracker: Dict[str, Any], count: int) -> List[Dict[str, Any]]:
    return list(tracker.get("events") or [])[count:]


def sign_in(console: Console) -> None:
    status, data = console.call("POST", "/api/login", json={"agent": AGENT, "password": PASSWORD})
    assert status == 200, data


def test_angry_shopper_on_a_push_channel_is_handed_over_and_back(assistant, console: Console) -> None:
    sender = assistant.new_sender()

    # 1. Sustained or rising anger about a late parcel: the HandoffPolicy hands over within a few turns.
    replies: List[Dict[str, Any]] = []
    sent: List[str] = []
    for message in ANGRY_MESSAGES:
        replies = assistant.send_callback(sender, message)
        sent.append(message)
        if tickets_of(assistant.shop_db_url, sender):
            break
    tickets = tickets_of(assistant.shop_db_url, sender)
    assert len(tickets) == 1, f"expected exactly one ticket after {len(sent)} angry messages: {tickets}"
    ticket = tickets[0]
    assert ticket["reason"] in ("anger_sustained", "anger_rising"), ticket
    assert ticket["status"] == "waiting" and ticket["channel"] == "callback"
    said = texts(replies)
    assert f"#{ticket['id']}" in said and "quiet" in said, f"the bot must say what happens next:\n{said}"

    tracker = assistant.tracker(sender)
    assert tracker["paused"] is True
    assert tracker["slots"]["handoff_active"] is True
    assert tracker["slots"]["handoff_reason"] == ticket["reason"]
    handoffs = [e for e in tracker["events"] if e["event"] == "action" and e["name"] == "action_handoff"]
    assert len(handoffs) == 1

    # 2. Paused: the bot stays silent, but the message is in the conversation for the agent.
    waiting_message = "hello?? is anyone actually going to help me with parcel SA-100001"
    assert assistant.send_callback(sender, waiting_message) == []
    tracker = assistant.tracker(sender)
    assert tracker["paused"] is True
    assert tracker["latest_message"]["text"] == waiting_message
    assert tickets_of(assistant.shop_db_url, sender) == tickets  # still exactly one, unchanged

    # 3. The console refuses anyone who has not signed in.
    for method, path in [("GET", "/api/tickets"), ("GET", f"/api/tickets/{ticket['id']}/transcript"),
                         ("POST", f"/api/tickets/{ticket['id']}/claim")]:
        status, data = console.call(method, path, json={} if method == "POST" else None)
        assert status == 401 and data["error"] == "unauthorized", (method, path)

    # 4. The agent signs in, finds the ticket in the queue, claims it and reads the transcript.
    sign_in(console)
    status, data = console.call("GET", "/api/tickets")
    assert status == 200
    queued = {entry["id"]: entry for entry in data["tickets"]}
    assert queued[ticket["id"]]["status"] == "waiting"
    assert queued[ticket["id"]]["reason"] == ticket["reason"]
    assert queued[ticket["id"]]["sender_id"] == sender
    status, data = console.call("POST", f"/api/tickets/{ticket['id']}/claim", json={})
    assert status == 200 and data["ticket"]["status"] == "active" and data["ticket"]["agent"] == AGENT

    status, data = console.call("GET", f"/api/tickets/{ticket['id']}/transcript")
    assert status == 200, data
    assert data["paused"] is True and data["latest_input_channel"] == "callback"
    shopper_lines = [entry["text"] for entry in data["events"] if entry["type"] == "user"]
    assert shopper_lines == [*sent, waiting_message]
    assert [entry["type"] for entry in data["events"]].count("handoff") == 1

    # 5. The agent's reply reaches the shopper on their channel and is stored in the conversation.
    before = len(assistant.callback.messages(sender))
    reply = f"Hi, this is {AGENT.title()} from customer service. I'm sorry about the wait; let me look."
    status, data = console.call("POST", f"/api/tickets/{ticket['id']}/reply", json={"text": reply})
    assert status == 200 and data["sent"] is True
    pushed = wait_for(lambda: assistant.callback.messages(sender)[before:], "the agent's reply")
    assert [message["text"] for message in pushed] == [reply]
    stored = [e for e in assistant.tracker(sender)["events"] if e["event"] == "bot" and e["text"] == reply]
    assert len(stored) == 1 and stored[0]["metadata"]["agent"] == AGENT

    # 6. Hand back: the bot says it is back, is no longer paused and no longer marks a handoff.
    before = len(assistant.callback.messages(sender))
    status, data = console.call("POST", f"/api/tickets/{ticket['id']}/handback", json={})
    assert status == 200 and data["ticket"]["status"] == "handed_back", data
    pushed = wait_for(lambda: assistant.callback.messages(sender)[before:], "the hand-back message")
    assert texts(pushed) == HANDBACK_MESSAGE
    tracker = assistant.tracker(sender)
    assert tracker["paused"] is False
    assert tracker["slots"]["handoff_active"] is False
    assert tracker["slots"]["handoff_reason"] is None
    resumed_at = len(tracker["events"])

    # 7. The next ordinary message gets an ordinary answer, with no second handoff: the order question
    #    asks for the e-mail on the order, then shows the carrier and tracking number from the database.
    order = ShopService(assistant.shop_db_url).get_order("SA-100001", DEMO_EMAIL)
    answer = texts(assistant.send_callback(sender, "where is my order SA-100001"))
    assert "mail" in answer.lower(), f"the bot should answer again after the hand-back:\n{answer!r}"
    answer = texts(assistant.send_callback(sender, DEMO_EMAIL))
    assert order.tracking_number in answer and order.carrier in answer, answer
    later = events_after(assistant.tracker(sender), resumed_at)
    assert not [e for e in later if e["event"] == "action" and e["name"] == "action_handoff"], later
    assert len(tickets_of(assistant.shop_db_url, sender)) == 1

    # 8. Closing records the resolution; the bot was already back, so it is left alone.
    resolution = "Parcel was delayed at the depot; re-sent with express delivery."
    status, data = console.call("POST", f"/api/tickets/{ticket['id']}/close", json={"resolution": resolution})
    assert status == 200 and data["resumed"] is False
    [closed] = tickets_of(assistant.shop_db_url, sender)
    assert closed["status"] == "closed" and closed["resolution"] == resolution and closed["agent"] == AGENT
    status, data = console.call("GET", "/api/tickets")
    assert ticket["id"] not in {entry["id"] for entry in data["tickets"]}


def test_rest_shopper_asks_for_a_person_and_the_agent_closes_while_holding(
    assistant, console: Console
) -> None:
    sender = assistant.new_sender()
    assistant.send(sender, "hi")
    replies = assistant.reply_text(sender, "I want to talk to a real person please")
    [ticket] = tickets_of(assistant.shop_db_url, sender)
    assert ticket["reason"] == "explicit_request" and ticket["channel"] == "rest"
    assert f"#{ticket['id']}" in replies
    assert assistant.send(sender, "ok, I'll wait") == []  # paused

    sign_in(console)
    assert console.call("POST", f"/api/tickets/{ticket['id']}/claim", json={})[0] == 200
    # REST cannot push a message the shopper did not ask for: the reply is stored in the conversation,
    # where a web shop polling the tracker (or the agent reading the transcript) sees it.
    reply = "Hello, a person here. How can I help?"
    assert console.call("POST", f"/api/tickets/{ticket['id']}/reply", json={"text": reply})[0] == 200
    status, data = console.call("GET", f"/api/tickets/{ticket['id']}/transcript")
    assert status == 200
    assert {"type": "agent", "text": reply, "agent": AGENT} in [
        {key: entry.get(key) for key in ("type", "text", "agent")} for entry in data["events"]
    ]

    # Closing a ticket the agent still holds resumes the bot (nobody would answer otherwise).
    status, data = console.call("POST", f"/api/tickets/{ticket['id']}/close",
                                json={"resolution": "Answered the question about delivery times."})
    assert status == 200 and data["resumed"] is True and data["ticket"]["status"] == "closed"
    tracker = assistant.tracker(sender)
    assert tracker["paused"] is False and tracker["slots"]["handoff_active"] is False

    # The bot is fully back: asking for a person again at once opens a new ticket (the handoff before the
    # resume neither blocks the policy nor counts as evidence).
    replies = assistant.reply_text(sender, "sorry, one more thing, can I talk to a person again")
    first, second = tickets_of(assistant.shop_db_url, sender)
    assert first["status"] == "closed" and second["status"] == "waiting"
    assert second["reason"] == "explicit_request" and f"#{second['id']}" in replies


def test_console_reports_an_unreachable_rasa_server_clearly(
    assistant, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The queue lives in the shop database and keeps working; only Rasa calls fail, with a 502."""
    work = tmp_path_factory.mktemp("console-no-rasa")
    dead_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    process, url, _log = start_console(work, dead_url, assistant.token, assistant.shop_db_url, "no-rasa")
    try:
        with requests.Session() as http:
            console = Console(url, http, work)
            sign_in(console)
            status, data = console.call("GET", "/api/tickets")
            assert status == 200
            sender = assistant.new_sender()
            assistant.send(sender, "I want to speak to a human agent")
            [ticket] = tickets_of(assistant.shop_db_url, sender)
            status, data = console.call("GET", f"/api/tickets/{ticket['id']}/transcript")
            assert status == 502 and data["error"] == "rasa_unavailable"
            assert "not reachable" in data["message"]
            assert console.call("POST", f"/api/tickets/{ticket['id']}/claim", json={})[0] == 200
            status, data = console.call("POST", f"/api/tickets/{ticket['id']}/handback", json={})
            assert status == 502
            # the failed hand-back changed nothing: the ticket is still held, the shopper still paused
            assert tickets_of(assistant.shop_db_url, sender)[0]["status"] == "active"
            assert assistant.tracker(sender)["paused"] is True
    finally:
        stop_process(process)
