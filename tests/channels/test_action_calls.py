"""The cached check of action-server responses accepts and refuses exactly what Rasa's own check does."""
from __future__ import annotations

import asyncio
import uuid
from typing import Any, Dict, List

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from sanic import Sanic, response

from channels import action_calls
from tests.loopback import serve_sanic

RESPONSES: List[Dict[str, Any]] = [
    {"events": [], "responses": []},
    {},
    {"events": [{"event": "slot", "name": "color", "value": "blue"}],
     "responses": [{"text": "Here you go", "buttons": [{"title": "More", "payload": "/more"}]}]},
    {"events": [{"event": "action", "name": "action_listen", "policy": None, "confidence": None}]},
    {"events": [{"event": "pause"}, {"event": "followup", "name": "action_search_products"}]},
    # invalid
    {"events": "not a list"},
    {"events": [{"name": "color", "value": "blue"}]},
    {"events": [{"event": "no_such_event"}]},
    {"responses": "text"},
    {"events": [{"event": "slot", "name": 7}]},
]


def rasa_verdict(result: Dict[str, Any]) -> str:
    """What Rasa 3.6's own check (``jsonschema.validate`` on every call) says."""
    try:
        jsonschema.validate(result, RemoteAction.action_response_format_spec())
    except jsonschema.ValidationError as error:
        return f"refused: {error.message}"
    return "accepted"


def cached_verdict(result: Dict[str, Any]) -> str:
    try:
        assert action_calls.validate_action_result(None, result) is True  # type: ignore[arg-type]
    except jsonschema.ValidationError as error:
        assert error.message.endswith(action_calls.RASA_HINT)
        return f"refused: {error.message[: -len(action_calls.RASA_HINT)]}"
    return "accepted"


@pytest.mark.parametrize("result", RESPONSES, ids=range(len(RESPONSES)))
def test_the_cached_check_agrees_with_rasa_on_every_response(result: Dict[str, Any]) -> None:
    assert cached_verdict(result) == rasa_verdict(result)


def test_the_examples_cover_both_verdicts() -> None:
    verdicts = [rasa_verdict(result).split(":")[0] for result in RESPONSES]
    assert verdicts.count("accepted") == 5 and verdicts.count("refused") == 5


def test_the_schema_is_checked_once_not_on_every_response(monkeypatch: pytest.MonkeyPatch) -> None:
    checks: List[Any] = []
    validator_class = jsonschema.validators.validator_for(RemoteAction.action_response_format_spec())
    original = validator_class.check_schema
    monkeypatch.setattr(validator_class, "check_schema",
                        classmethod(lambda cls, schema, *a, **k: checks.append(schema)
                                    or original.__func__(cls, schema, *a, **k)))
    action_calls.response_validator.cache_clear()
    try:
        for _ in range(20):
            action_calls.validate_action_result(None, RESPONSES[2])  # type: ignore[arg-type]
    finally:
        action_calls.response_validator.cache_clear()
    assert len(checks) == 1


def test_installed_remote_actions_still_refuse_an_invalid_response(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result)
    action_calls.install()
    assert RemoteAction._validate_action_result is action_calls.validate_action_result
    domain = Domain.from_dict({"slots": {"color": {"type": "text", "mappings": [{"type": "custom"}]}},
                               "actions": ["action_search_products"]})

    def server(body: Dict[str, Any]) -> Sanic:
        app = Sanic(f"actions_{uuid.uuid4().hex[:8]}")

        @app.post("/webhook")
        async def webhook(_request: Any) -> Any:
            return response.json(body)

        return app

    async def run(body: Dict[str, Any]) -> List[Any]:
        async with serve_sanic(server(body)) as url:
            tracker = DialogueStateTracker("shopper", domain.slots)
            return await RemoteAction("action_search_products", EndpointConfig(url=f"{url}/webhook")).run(
                CollectingOutputChannel(), TemplatedNaturalLanguageGenerator({}), tracker, domain)

    assert asyncio.run(run({"events": [{"event": "slot", "name": "color", "value": "red"}]})) == [
        SlotSet("color", "red")]
    with pytest.raises(jsonschema.ValidationError, match="Failed to validate Action server response"):
        asyncio.run(run({"events": [{"name": "color", "value": "red"}]}))
