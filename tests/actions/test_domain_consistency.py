"""The actions and domain.yml agree: every response an action sends exists, every custom action exists."""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

from rasa_sdk import Action

import actions
from tests.actions.conftest import REPO_ROOT

RESPONSE_NAME = re.compile(r"[\"'](utter_[a-z0-9_]*[a-z0-9])[\"']")  # "utter_ask_" is a prefix, no name
#: Strings that look like response names but are not: Rasa's bot-event metadata key naming the response sent.
NOT_RESPONSES = {"utter_action"}


def _action_sources():
    return sorted((REPO_ROOT / "actions").glob("*.py"))


def test_every_response_used_by_actions_is_in_the_domain(domain):
    used = set()
    for path in _action_sources():
        used |= set(RESPONSE_NAME.findall(path.read_text(encoding="utf-8")))
    assert used, "the actions send domain responses"
    missing = sorted(used - set(domain["responses"]) - NOT_RESPONSES)
    assert missing == []


def test_every_custom_action_in_the_domain_is_implemented(domain):
    for info in pkgutil.iter_modules(actions.__path__):
        importlib.import_module(f"actions.{info.name}")
    implemented = set()
    stack = list(Action.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if inspect.isabstract(cls) or not cls.__module__.startswith("actions."):
            continue
        implemented.add(cls().name())
    declared = {a for a in domain["actions"] if a.startswith(("action_", "validate_"))}
    assert declared - implemented == set()
    assert implemented - declared == set()


def test_every_form_slot_question_exists(domain):
    asked = {"category", "order_id", "email", "new_address", "return_item", "return_reason"}
    assert {f"utter_ask_{slot}" for slot in asked} <= set(domain["responses"])
