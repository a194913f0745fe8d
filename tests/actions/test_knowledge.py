"""Questions no intent covers are answered from data/knowledge/, or the shopper is asked to rephrase."""
from __future__ import annotations

import string
from pathlib import Path
from typing import Any, Dict

import pytest

import shop.knowledge
from actions.knowledge import ActionAnswerFromKnowledge, looks_like_question
from actions.orders import PENDING_HANDOFF
from shop.knowledge import KnowledgeBase
from tests.actions.conftest import make_tracker, responses, run_action, slot_events
from tests.ci import encoder_missing


@pytest.fixture(scope="module")
def knowledge_base(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """The shipped documents with the shipped encoder, its vectors cached in a temp folder."""
    kb = KnowledgeBase.load(cache_dir=tmp_path_factory.mktemp("knowledge-cache"))
    if kb.keyword_only:
        encoder_missing("the knowledge answers")
    return kb


@pytest.fixture
def use_knowledge_base(knowledge_base: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> KnowledgeBase:
    monkeypatch.setattr(shop.knowledge, "default_knowledge_base", lambda *args, **kwargs: knowledge_base)
    return knowledge_base


def _answer(text: str, domain: Dict[str, Any]):
    return run_action(ActionAnswerFromKnowledge(), make_tracker(text=text), domain)


def test_a_policy_question_gets_the_matching_passage_and_its_source(use_knowledge_base, domain) -> None:
    question = "can I wash my merino wool jumper in the machine?"
    expected = use_knowledge_base.answer(question)
    assert expected is not None and expected.doc_title.lower().startswith("care")
    messages, _ = _answer(question, domain)
    assert responses(messages) == ["utter_knowledge_answer"]
    assert messages[0]["source"] == f"{expected.doc_title}, {expected.section}"
    assert messages[0]["answer"] == expected.text.strip()


@pytest.mark.parametrize("text", ["asdf qwerty zzz", "", "   ", "hmm ok", "🙂🙂🙂"])
def test_no_passage_and_no_question_asks_to_rephrase(use_knowledge_base, domain, text: str) -> None:
    messages, events = _answer(text, domain)
    assert responses(messages) == ["utter_default"]
    assert events == []


@pytest.mark.parametrize(
    "text",
    ["who won the football last night?", "do you sell fishing licences",
     "Is the bridge near your warehouse open"],
)
def test_a_question_no_page_answers_gets_i_dont_know_and_a_colleague(use_knowledge_base, domain, text):
    """An honest "I don't know" with the offer of a person, not the nearest page and not "rephrase"."""
    messages, events = _answer(text, domain)
    assert responses(messages) == ["utter_knowledge_unknown"]
    assert slot_events(events) == {"pending_confirmation": PENDING_HANDOFF}


@pytest.mark.parametrize(
    "text, expected",
    [("how do I do this?", True), ("what about socks", True), ("my order?", False), ("asdf qwer zxcv", False),
     ("I like turtles a lot", False), ("Could you check something for me", True), ("", False)],
)
def test_looks_like_question(text, expected) -> None:
    assert looks_like_question(text) is expected


def test_a_broken_knowledge_base_still_gets_the_shopper_a_reply(monkeypatch, domain) -> None:
    def broken(*args, **kwargs):
        raise OSError("data/knowledge is missing")

    monkeypatch.setattr(shop.knowledge, "default_knowledge_base", broken)
    messages, _ = _answer("what does shipping to Norway cost?", domain)
    assert responses(messages) == ["utter_knowledge_unknown"]


def test_every_placeholder_of_the_response_is_filled(use_knowledge_base, domain) -> None:
    messages, _ = _answer("how long is the warranty on headphones?", domain)
    assert responses(messages) == ["utter_knowledge_answer"]  # the Warranty page answers it
    for variant in domain["responses"]["utter_knowledge_answer"]:
        fields = {name for _, name, _, _ in string.Formatter().parse(variant["text"]) if name}
        assert fields, variant
        assert all(messages[0].get(name) for name in fields), (fields, messages[0])
    assert Path(shop.knowledge.DEFAULT_PATH).is_dir()
