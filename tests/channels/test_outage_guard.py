"""The outage guard: an unreachable action server, a failing tracker store or any other error while
handling a message reaches the shopper as an apology instead of silence or a forgetful fallback."""
from __future__ import annotations

import asyncio
import uuid
from typing import Any, List, Optional

import pytest
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from sanic import Sanic, response

from channels.outage_guard import (
    FALLBACK_TEXTS,
    OutageGuard,
    TrackerStoreUnavailable,
    guard_message_handling,
    make_action_endpoint_tolerant,
    refuse_in_memory_fallback,
)
from tests.loopback import serve_sanic
from tests.servers import REPO, free_port

APOLOGY = "utter_action_unavailable"
NOT_RECEIVED = "utter_message_not_received"
DOMAIN = Domain.from_dict({
    "slots": {"color": {"type": "text", "mappings": [{"type": "custom"}]}},
    "responses": {
        APOLOGY: [{"text": "Our side failed, sorry."}],
        NOT_RECEIVED: [{"text": "Please send that again."}],
    },
    "actions": ["action_search_products"],
})


def _tolerant(url: str, domain: Domain = DOMAIN) -> EndpointConfig:
    endpoint = EndpointConfig(url=url)
    make_action_endpoint_tolerant(endpoint, APOLOGY, domain.responses, timeout_s=2)
    return endpoint


def _action_server(status: int, body: Any) -> Sanic:
    app = Sanic(f"fake_actions_{uuid.uuid4().hex[:8]}")

    @app.post("/webhook")
    async def webhook(_request: Any) -> Any:
        await asyncio.sleep(0)
        return response.json(body, status=status)

    return app


async def _run_search(endpoint: EndpointConfig) -> tuple[List[Any], CollectingOutputChannel]:
    output = CollectingOutputChannel()
    tracker = DialogueStateTracker("shopper", DOMAIN.slots)
    nlg = TemplatedNaturalLanguageGenerator(DOMAIN.responses)
    events = await RemoteAction("action_search_products", endpoint).run(output, nlg, tracker, DOMAIN)
    return events, output


def test_unreachable_action_server_makes_the_action_utter_the_apology() -> None:
    events, _ = asyncio.run(_run_search(_tolerant(f"http://127.0.0.1:{free_port()}/webhook")))

    # The processor sends BotUttered events to the shopper's channel and records them in the tracker.
    assert [type(event) for event in events] == [BotUttered]
    assert events[0].text == "Our side failed, sorry."


def test_without_the_response_in_the_domain_the_built_in_text_is_sent() -> None:
    bare = Domain.from_dict({"actions": ["action_search_products"]})
    endpoint = _tolerant(f"http://127.0.0.1:{free_port()}/webhook", bare)

    events, _ = asyncio.run(_run_search(endpoint))

    assert [event.text for event in events] == [FALLBACK_TEXTS[APOLOGY]]


@pytest.mark.parametrize("status", [500, 502, 404])
def test_action_server_errors_become_the_apology(status: int) -> None:
    async def scenario() -> List[Any]:
        async with serve_sanic(_action_server(status, {"error": "boom"})) as url:
            events, _ = await _run_search(_tolerant(f"{url}/webhook"))
        return events

    assert [event.text for event in asyncio.run(scenario())] == ["Our side failed, sorry."]


def test_rejections_and_answers_of_the_action_server_pass_through_unchanged() -> None:
    async def scenario() -> List[Any]:
        rejection = {"action_name": "action_search_products", "error": "not now"}
        async with serve_sanic(_action_server(400, rejection)) as url:
            with pytest.raises(ActionExecutionRejection):
                await _run_search(_tolerant(f"{url}/webhook"))
        answer = {"events": [{"event": "slot", "name": "color", "value": "blue"}], "responses": []}
        async with serve_sanic(_action_server(200, answer)) as url:
            events, _ = await _run_search(_tolerant(f"{url}/webhook"))
        return events

    assert asyncio.run(scenario()) == [SlotSet("color", "blue")]


class BrokenStore(InMemoryTrackerStore):
    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        raise ConnectionError("database is down")

    async def save(self, tracker: DialogueStateTracker) -> None:
        raise ConnectionError("database is down")


def test_a_failing_tracker_store_raises_instead_of_starting_a_forgetful_conversation() -> None:
    store = FailSafeTrackerStore(BrokenStore(DOMAIN))
    refuse_in_memory_fallback(store)

    with pytest.raises(TrackerStoreUnavailable):
        asyncio.run(store.retrieve("shopper"))
    with pytest.raises(TrackerStoreUnavailable):
        asyncio.run(store.save(DialogueStateTracker("shopper", [])))


class FailingAgent:
    """Stands in for Rasa's Agent: replies, then fails as if the tracker could not be saved."""

    def __init__(self) -> None:
        self.domain = DOMAIN
        self.nlg = TemplatedNaturalLanguageGenerator(DOMAIN.responses)

    async def handle_message(self, message: UserMessage) -> None:
        await message.output_channel.send_text_message(message.sender_id, "a reply that was never stored")
        raise TrackerStoreUnavailable("could not save")


def test_a_failed_message_is_answered_with_the_apology_only_and_the_error_still_raised() -> None:
    agent = FailingAgent()
    guard_message_handling(agent, NOT_RECEIVED)
    output = CollectingOutputChannel()

    with pytest.raises(TrackerStoreUnavailable):
        asyncio.run(agent.handle_message(UserMessage("in blue", output, "shopper")))

    assert [message["text"] for message in output.messages] == ["Please send that again."]


def test_the_guard_is_configured_like_a_channel() -> None:
    guard = OutageGuard.from_credentials({"action_timeout_s": 7, "action_unavailable_response": "utter_x"})

    assert (guard.action_timeout_s, guard.action_unavailable_response) == (7.0, "utter_x")
    assert OutageGuard.from_credentials(None).message_not_received_response == NOT_RECEIVED


@pytest.mark.parametrize("credentials", ["credentials.yml", "credentials.production.yml"])
def test_both_credentials_files_install_the_guard(credentials: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.core.run import create_http_input_channels

    for name in ("TELEGRAM_ACCESS_TOKEN", "TELEGRAM_BOT_USERNAME", "TELEGRAM_WEBHOOK_URL",
                 "TELEGRAM_SECRET_TOKEN", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.setenv(name, "x")
    channels = create_http_input_channels(None, str(REPO / credentials))

    guards = [channel for channel in channels if isinstance(channel, OutageGuard)]
    assert len(guards) == 1 and guards[0].action_timeout_s == 30


class LoadedAgent(FailingAgent):
    """What the guard needs of Rasa's Agent once `rasa run` has loaded it."""

    def __init__(self) -> None:
        super().__init__()
        self.action_endpoint = EndpointConfig(url="http://127.0.0.1:1/webhook")
        self.tracker_store = FailSafeTrackerStore(BrokenStore(DOMAIN))


def test_the_guard_installs_itself_on_the_agent_when_the_server_has_started() -> None:
    from rasa.core.channels.channel import register

    from channels.outage_guard import OutageTolerantActionEndpoint

    app = Sanic(f"rasa_like_{uuid.uuid4().hex[:8]}")
    agent = LoadedAgent()
    app.ctx.agent = agent
    register([OutageGuard(action_timeout_s=5)], app, route="/webhooks/")

    async def scenario() -> None:
        async with serve_sanic(app):
            pass

    asyncio.run(scenario())

    assert isinstance(agent.action_endpoint, OutageTolerantActionEndpoint)
    assert agent.action_endpoint.timeout_s == 5 and agent.action_endpoint.domain_has_apology
    with pytest.raises(TrackerStoreUnavailable):
        asyncio.run(agent.tracker_store.retrieve("shopper"))
    output = CollectingOutputChannel()
    with pytest.raises(TrackerStoreUnavailable):
        asyncio.run(agent.handle_message(UserMessage("hi", output, "shopper")))
    assert [message["text"] for message in output.messages] == ["Please send that again."]
