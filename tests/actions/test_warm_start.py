"""The action server's warm start: what the first shopper would wait for is loaded in the background."""
from __future__ import annotations

import importlib
import logging
from typing import Any, List

import pytest

import actions
from actions import warm_start
from shop import knowledge


def test_warm_up_runs_a_search_and_loads_the_help_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    searches: List[Any] = []
    loaded: List[Any] = []

    class RecordingShop:
        def search_products(self, **kwargs: Any) -> None:
            searches.append(kwargs)

    class Index:
        def relevant(self, question: str) -> list:
            return []

    monkeypatch.setattr("actions.common.get_shop", lambda: RecordingShop())
    monkeypatch.setattr(knowledge, "_loaded", {})
    monkeypatch.setattr(knowledge.KnowledgeBase, "load", classmethod(lambda cls, path: loaded.append(path)
                                                                     or Index()))

    warm_start.warm_up()

    assert searches == [{"text": warm_start.SAMPLE_SEARCH, "limit": 1}]
    assert loaded == [knowledge.DEFAULT_PATH]
    assert str(knowledge.DEFAULT_PATH.resolve()) in knowledge._loaded  # reused by the first question


def test_a_failing_step_is_logged_and_the_next_still_runs(monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    def database_down() -> None:
        raise ConnectionError("database is down")

    looked_up: List[str] = []

    class Index:
        def relevant(self, question: str) -> list:
            looked_up.append(question)
            return []

    monkeypatch.setattr("actions.common.get_shop", database_down)
    monkeypatch.setattr("shop.knowledge.default_knowledge_base", lambda: Index())
    with caplog.at_level(logging.WARNING, logger="actions.warm_start"):
        warm_start.warm_up()
    assert "product search not preloaded (ConnectionError: database is down)" in caplog.text
    assert looked_up == [warm_start.SAMPLE_QUESTION]


@pytest.mark.parametrize("value, starts", [("1", True), ("true", True), ("0", False), ("", False)])
def test_importing_the_actions_starts_the_warm_up_only_when_asked(
    monkeypatch: pytest.MonkeyPatch, value: str, starts: bool
) -> None:
    started: List[bool] = []
    monkeypatch.setattr(warm_start, "start_in_background", lambda: started.append(True))
    monkeypatch.setenv(warm_start.WARM_START_ENV, value)
    importlib.reload(actions)
    assert started == ([True] if starts else [])
