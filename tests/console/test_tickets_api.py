"""Console ticket API: queue, claim, transcript, reply, hand-back and close against a stand-in Rasa HTTP
API."""

from __future__ import annotations

from typing import Any, Dict

from shop.handoff import HandoffDesk, TicketRequest
from tests.console.conftest import RASA_TOKEN, console_running, run

SHOPPER = "shopper-7"
HOSTILE = "<img src=x onerror=alert(1)> where is my order?"


def open_ticket(desk: HandoffDesk, sender: str = SHOPPER, **kwargs: Any) -> int:
    values: Dict[str, Any] = dict(
        reason="anger_sustained",
        emotion="anger",
        summary=["I want a human"],
        history=[{"intent": "request_human", "emotion": "anger", "at": None}],
    )
    values.update(kwargs)
    return desk.open_ticket(TicketRequest(sender, **values)).ticket.id


def seed_tracker(console: Any, sender: str = SHOPPER) -> None:
    console.rasa.tracker(sender).update(
        {
            "paused": True,
            "latest_input_channel": "socketio",
            "events": [
                {"event": "session_started", "timestamp": 1700000000.0},
                {
                    "event": "user",
                    "timestamp": 1700000001.0,
                    "text": HOSTILE,
                    "input_channel": "socketio",
                    "parse_data": {
                        "intent": {"name": "order_status", "confidence": 0.9},
                        "emotion": {"name": "anger", "confidence": 0.8},
                    },
                },
                {"event": "bot", "timestamp": 1700000002.0, "text": "Sorry to hear that!", "metadata": {}},
                {"event": "action", "timestamp": 1700000003.0, "name": "action_handoff"},
                {"event": "pause", "timestamp": 1700000004.0},
            ],
        }
    )


def test_queue_lists_waiting_and_active_tickets(db_url, desk):
    first = open_ticket(desk, "s1", customer_email="alex.morgan@example.com", order_id="SA-100002")
    second = open_ticket(desk, "s2", reason="requested", emotion="neutral")
    closed = open_ticket(desk, "s3")
    desk.close(closed, "bob", "duplicate")

    async def scenario() -> None:
        async with console_running(db_url, desk=desk) as console:
            await console.login()
            assert (await console.call("POST", f"/api/tickets/{second}/claim"))[0] == 200
            status, data = await console.call("GET", "/api/tickets")
            assert status == 200
            listed = {t["id"]: t for t in data["tickets"]}
            assert list(listed) == [first, second]
            assert listed[first]["status"] == "waiting" and listed[first]["reason"] == "anger_sustained"
            assert listed[first]["emotion"] == "anger" and listed[first]["waiting_seconds"] >= 0
            assert listed[first]["customer_name"] == "Alex Morgan"
            assert listed[first]["order_id"] == "SA-100002"
            assert listed[first]["summary"] == ["I want a human"]
            assert listed[second]["status"] == "active" and listed[second]["agent"] == "alice"

            status, data = await console.call("GET", f"/api/tickets/{closed}")
            assert status == 200 and data["ticket"]["resolution"] == "duplicate"
            assert (await console.call("GET", "/api/tickets/999"))[0] == 404

    run(scenario())


def test_claim_is_exclusive(db_url, desk):
    ticket = open_ticket(desk)

    async def scenario() -> None:
        async with console_running(db_url, desk=desk) as alice:
            await alice.login("alice")
            status, data = await alice.call("POST", f"/api/tickets/{ticket}/claim")
            assert status == 200
            assert data["ticket"]["agent"] == "alice" and data["ticket"]["status"] == "active"
            assert (await alice.call("POST", f"/api/tickets/{ticket}/claim"))[0] == 200  # again: no-op
        async with console_running(db_url, desk=desk) as bob:
            await bob.login("bob")
            status, data = await bob.call("POST", f"/api/tickets/{ticket}/claim")
            assert status == 409 and "held by alice" in data["message"]
            assert data["ticket"]["agent"] == "alice"
            status, data = await bob.call("POST", f"/api/tickets/{ticket}/reply", {"text": "hi"})
            assert status == 409 and "held by alice" in data["message"]
            assert bob.rasa.calls == []

    run(scenario())


def test_transcript_reply_handback_and_close(db_url, desk):
    ticket = open_ticket(desk)

    async def scenario() -> None:
        async with console_running(db_url, desk=desk) as console:
            seed_tracker(console)
            await console.login()

            status, data = await console.call("GET", f"/api/tickets/{ticket}/transcript")
            assert status == 200 and data["paused"] is True and data["sender_id"] == SHOPPER
            kinds = [e["type"] for e in data["events"]]
            assert kinds == ["user", "bot", "handoff", "paused"]
            user = data["events"][0]
            assert user["text"] == HOSTILE  # a JSON string, exactly as typed; the page renders it as text
            assert user["intent"] == "order_status" and user["emotion"] == "anger"
            call = console.rasa.calls[-1]
            assert call.method == "GET" and call.path == f"/conversations/{SHOPPER}/tracker"
            assert call.query["token"] == RASA_TOKEN

            status, data = await console.call("POST", f"/api/tickets/{ticket}/reply", {"text": "Hello!"})
            assert status == 409 and "claim it first" in data["message"]
            await console.call("POST", f"/api/tickets/{ticket}/claim")
            reply = "Hi, I'm Alice. Let me check your order.\nOne moment."
            status, data = await console.call("POST", f"/api/tickets/{ticket}/reply", {"text": reply})
            assert status == 200 and data["sent"] is True
            call = console.rasa.calls[-1]
            assert call.method == "POST" and call.path == f"/conversations/{SHOPPER}/tracker/events"
            assert call.query == {
                "output_channel": "latest",
                "execute_side_effects": "true",
                "token": RASA_TOKEN,
            }
            [event] = call.body
            assert event["event"] == "bot" and event["text"] == reply
            assert event["metadata"]["agent"] == "alice" and event["metadata"]["handoff_ticket"] == ticket
            # the shopper's channel shows the neutral name: alice has no display name configured
            assert event["metadata"]["agent_display_name"] == "Support agent"

            status, data = await console.call("GET", f"/api/tickets/{ticket}/transcript")
            assert data["events"][-1] == {
                "type": "agent",
                "text": reply,
                "agent": "alice",
                "at": data["events"][-1]["at"],
            }

            assert (await console.call("POST", f"/api/tickets/{ticket}/reply", {"text": "  "}))[0] == 400
            too_long = {"text": "x" * 2001}
            assert (await console.call("POST", f"/api/tickets/{ticket}/reply", too_long))[0] == 400

            status, data = await console.call("POST", f"/api/tickets/{ticket}/handback")
            assert status == 200 and data["ticket"]["status"] == "handed_back"
            events = console.rasa.calls[-1].body
            assert [e["event"] for e in events] == ["resume", "slot", "slot", "bot", "action"]
            assert events[1] == {
                "event": "slot",
                "name": "handoff_active",
                "value": False,
                "timestamp": events[1]["timestamp"],
            }
            assert events[2]["name"] == "handoff_reason" and events[2]["value"] is None
            assert "back with ShopAssist" in events[3]["text"]
            assert events[4]["name"] == "action_listen"  # the bot's turn ends: it listens again
            assert console.rasa.tracker(SHOPPER)["paused"] is False
            assert (await console.call("POST", f"/api/tickets/{ticket}/reply", {"text": "hi"}))[0] == 409

            rasa_calls = len(console.rasa.calls)
            status, data = await console.call(
                "POST", f"/api/tickets/{ticket}/close", {"resolution": "Parcel re-sent; tracking shared."}
            )
            assert status == 200 and data["resumed"] is False
            assert data["ticket"]["status"] == "closed"
            assert data["ticket"]["resolution"] == "Parcel re-sent; tracking shared."
            assert len(console.rasa.calls) == rasa_calls  # already handed back: Rasa is not called
            assert (await console.call("POST", f"/api/tickets/{ticket}/close", {"resolution": "x"}))[0] == 409
            assert (await console.call("GET", "/api/tickets"))[1]["tickets"] == []

    run(scenario())


def test_closing_a_held_conversation_resumes_the_bot(db_url, desk):
    paused = open_ticket(desk, "held")
    after_hours = open_ticket(desk, "evening", after_hours=True)

    async def scenario() -> None:
        async with console_running(db_url, desk=desk) as console:
            await console.login()
            assert (await console.call("POST", f"/api/tickets/{paused}/close", {}))[0] == 400
            solved = {"resolution": "Solved."}
            status, data = await console.call("POST", f"/api/tickets/{paused}/close", solved)
            assert status == 200 and data["resumed"] is True
            posted = [e["event"] for e in console.rasa.posted_events("held")]
            assert posted == ["resume", "slot", "slot", "bot", "action"]
            # An after-hours ticket never paused the bot: closing it leaves the conversation alone.
            status, data = await console.call(
                "POST", f"/api/tickets/{after_hours}/close", {"resolution": "Answered by e-mail."}
            )
            assert status == 200 and data["resumed"] is False
            assert console.rasa.posted_events("evening") == []

    run(scenario())


def test_rasa_down_gives_502_and_the_console_recovers_after_a_restart(db_url, desk):
    ticket = open_ticket(desk)

    async def scenario() -> None:
        async with console_running(db_url, desk=desk, rasa_up=False) as console:
            await console.login()
            await console.call("POST", f"/api/tickets/{ticket}/claim")
            status, data = await console.call("GET", f"/api/tickets/{ticket}/transcript")
            assert status == 502 and data["error"] == "rasa_unavailable"
            assert "not reachable" in data["message"] and console.rasa.url in data["message"]
            status, data = await console.call("POST", f"/api/tickets/{ticket}/reply", {"text": "hello?"})
            assert status == 502
            status, data = await console.call("POST", f"/api/tickets/{ticket}/handback")
            assert status == 502
            assert (await console.call("GET", f"/api/tickets/{ticket}"))[1]["ticket"]["status"] == "active"
            assert (await console.call("GET", "/api/tickets"))[0] == 200  # the queue needs no Rasa

            await console.rasa.start()  # Rasa is back: the next poll works
            seed_tracker(console)
            status, data = await console.call("GET", f"/api/tickets/{ticket}/transcript")
            assert status == 200 and data["events"][0]["text"] == HOSTILE
            await console.rasa.stop()
            await console.rasa.start()  # restarted again, same port
            assert (await console.call("POST", f"/api/tickets/{ticket}/reply", {"text": "Back."}))[0] == 200

    run(scenario())


def test_wrong_rasa_token_is_explained(db_url, desk):
    ticket = open_ticket(desk)

    async def scenario() -> None:
        async with console_running(db_url, desk=desk, rasa_token="wrong") as console:
            await console.login()
            status, data = await console.call("GET", f"/api/tickets/{ticket}/transcript")
            assert status == 502 and "RASA_TOKEN" in data["message"]

    run(scenario())


def test_database_down_gives_503(db_url):
    dead = HandoffDesk("postgresql://postgres@127.0.0.1:1/nope")

    async def scenario() -> None:
        async with console_running(db_url, desk=dead) as console:
            await console.login()
            status, data = await console.call("GET", "/api/tickets")
            assert status == 503 and data["error"] == "database_unavailable"

    run(scenario())


def test_a_reply_carries_the_agents_configured_display_name(db_url, desk):
    """The team configured "Dana from support" for alice: that is what the shopper's channel gets with the
    reply; the login stays in the metadata for the team's transcript only."""
    ticket = open_ticket(desk)

    async def scenario() -> None:
        async with console_running(
            db_url, desk=desk, display_names={"alice": "Dana from support"}
        ) as console:
            seed_tracker(console)
            await console.login()
            await console.call("POST", f"/api/tickets/{ticket}/claim")
            status, _ = await console.call("POST", f"/api/tickets/{ticket}/reply", {"text": "Hi, Dana here."})
            assert status == 200
            [event] = console.rasa.calls[-1].body
            assert event["metadata"]["agent_display_name"] == "Dana from support"
            assert event["metadata"]["agent"] == "alice"
            status, session = await console.call("GET", "/api/session")
            assert session["display_name"] == "Dana from support"

    run(scenario())
