"""Fixtures and helpers for the action tests.

The shop database is seeded once per session into a template SQLite file; each test module gets a copy
(read-only tests share it) and tests that write get their own copy. Actions find the database through
``$SHOP_DB_URL``, exactly as in production; ``actions.common.reset_shop`` drops cached services between
databases.
"""
from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import common
from shop.db import dispose_engine

REPO_ROOT = Path(__file__).resolve().parents[2]
ALEX = "alex.morgan@example.com"
SAM = "sam.lee@example.com"


@pytest.fixture(scope="session")
def domain() -> Dict[str, Any]:
    with open(REPO_ROOT / "domain.yml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _use_database(url: Optional[str]) -> None:
    if url is None:
        os.environ.pop(common.DB_URL_ENV, None)
    else:
        os.environ[common.DB_URL_ENV] = url
    common.reset_shop()


def _copy(template: Path, folder: Path) -> str:
    target = folder / "shop.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


@pytest.fixture(scope="module")
def shop_db(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A seeded database shared by the read-only tests of one module."""
    previous = os.environ.get(common.DB_URL_ENV)
    url = _copy(template_db, tmp_path_factory.mktemp("module-shop"))
    _use_database(url)
    yield url
    dispose_engine(url)
    _use_database(previous)


@pytest.fixture
def fresh_db(template_db: Path, tmp_path: Path) -> Iterator[str]:
    """A seeded database of its own, for tests that write."""
    previous = os.environ.get(common.DB_URL_ENV)
    url = _copy(template_db, tmp_path)
    _use_database(url)
    yield url
    dispose_engine(url)
    _use_database(previous)


@pytest.fixture
def dead_db() -> Iterator[str]:
    """A database URL nothing listens on."""
    previous = os.environ.get(common.DB_URL_ENV)
    url = "postgresql://postgres@127.0.0.1:1/nope"
    _use_database(url)
    yield url
    _use_database(previous)


def make_tracker(
    slots: Optional[Dict[str, Any]] = None,
    text: str = "",
    intent: str = "inform",
    confidence: float = 0.95,
    entities: Optional[List[Dict[str, Any]]] = None,
    new_slots: Optional[Dict[str, Any]] = None,
    requested_slot: Optional[str] = None,
    active_loop: Optional[str] = None,
    sender_id: str = "test-shopper",
) -> Tracker:
    """A tracker as an action sees it after the shopper's latest message.

    ``new_slots`` are slot values extracted from that message: they are appended as trailing ``slot``
    events, which is how Rasa hands a form validator its candidates (``Tracker.slots_to_validate``).
    """
    values = dict(slots or {})
    values.update(new_slots or {})
    if requested_slot is not None:
        values["requested_slot"] = requested_slot
    events: List[Dict[str, Any]] = [
        {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}},
    ]
    events += [{"event": "slot", "name": k, "value": v} for k, v in (new_slots or {}).items()]
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": entities or [],
    }
    return Tracker(
        sender_id,
        values,
        latest,
        events,
        False,
        None,
        {"name": active_loop} if active_loop else {},
        "action_listen",
    )


def run_action(
    action: Action, tracker: Tracker, domain: Dict[str, Any]
) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Run an action; return (messages sent, events returned)."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, domain))
    return dispatcher.messages, events


def responses(messages: List[Dict[str, Any]]) -> List[str]:
    return [m.get("response") for m in messages]


def slot_events(events: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The last value each slot was set to by ``events``."""
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
