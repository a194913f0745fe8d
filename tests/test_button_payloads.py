"""Buttons of domain responses reach every channel (web chat, REST, Slack, Telegram, the terminal demo) as
payloads that Rasa's `/intent{entities}` shortcut understands, and rendering them logs no error.

Rasa fills `{placeholders}` in a response's buttons as well as in its text (rasa/core/nlg/interpolator.py).
An entity payload written with single braces, `/inform{"category":"shoes"}`, looks like a placeholder
named `"category":"shoes"`: Rasa sent it unchanged but logged a KeyError traceback for every button, ten
for the category question and five for the rating question, straight into the `make demo` chat. Doubled
braces (`/inform{{"category":"shoes"}}`) are Rasa's escape and come out as single ones.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, List

import pytest
from rasa.core.nlg import interpolator
from rasa.shared.core.domain import Domain
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.nlu.training_data.message import Message

REPO_ROOT = Path(__file__).resolve().parents[1]
DOMAIN = Domain.load(REPO_ROOT / "domain.yml")
WITH_BUTTONS = sorted(
    name for name, variants in DOMAIN.responses.items() if any(v.get("buttons") for v in variants)
)


class _Recorder:
    """Stands in for the interpolator's structlog logger and keeps what it was asked to log."""

    def __init__(self) -> None:
        self.errors: List[Dict[str, Any]] = []

    def exception(self, event: str, **details: Any) -> None:
        self.errors.append({"event": event, **details})


def rendered(name: str) -> List[List[Dict[str, Any]]]:
    """The buttons of every variant of response ``name`` as Rasa sends them to a channel: filled with the
    value of every slot, as ``TemplatedNaturalLanguageGenerator`` fills them."""
    slots = {slot.name: slot.initial_value for slot in DOMAIN.slots}
    return [interpolator.interpolate(copy.deepcopy(v["buttons"]), slots) for v in DOMAIN.responses[name]]


def test_there_are_entity_payloads_to_check() -> None:
    assert {"utter_ask_category", "utter_ask_csat"} <= set(WITH_BUTTONS)


@pytest.mark.parametrize("name", WITH_BUTTONS)
def test_buttons_render_without_logging_an_error(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = _Recorder()
    monkeypatch.setattr(interpolator, "structlogger", recorder)
    rendered(name)
    assert recorder.errors == []


@pytest.mark.parametrize("name", WITH_BUTTONS)
def test_payloads_are_intents_and_entities_of_the_domain(name: str) -> None:
    for buttons in rendered(name):
        for button in buttons:
            payload = button["payload"]
            assert "{{" not in payload and "}}" not in payload
            parsed = YAMLStoryReader.unpack_regex_message(Message(data={"text": payload}), DOMAIN)
            assert parsed.get("intent", {}).get("name") in DOMAIN.intents, payload
            entities = {entity["entity"] for entity in parsed.get("entities") or []}
            assert entities <= set(DOMAIN.entities), payload
            if "{" in payload:
                assert entities, f"{payload}: its entities were not understood"


def test_the_category_buttons_fill_the_category() -> None:
    (buttons,) = rendered("utter_ask_category")
    shoes = buttons[0]["payload"]
    assert shoes == '/inform{"category":"shoes"}'
    parsed = YAMLStoryReader.unpack_regex_message(Message(data={"text": shoes}), DOMAIN)
    assert [(e["entity"], e["value"]) for e in parsed.get("entities")] == [("category", "shoes")]
