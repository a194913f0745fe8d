"""Knowledge answers over the REST channel, without and with a language model.

Without a model the shared session servers answer with the help-page passage and its source. With one,
this module starts its own action server whose environment points at a loopback chat-completions
stand-in (``$SHOPASSIST_LLM_URL``: the action server reads no endpoints.yml of Rasa's), and its own Rasa
server in front of it; the stand-in writes its answer from the passages it is sent, so the test sees the
model's answer reach the shopper with the source line the action adds.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, Tuple

import pytest
import requests

from shop.llm_config import URL_ENV
from tests.knowledge.llm_stand_in import ChatStandIn, running_stand_in
from tests.servers import (
    free_port,
    server_env,
    start_action_server,
    start_rasa_server,
    stop_process,
    wait_until_up,
)

# Two questions the trained NLU sends to nlu_fallback (no intent covers them), with the help-page
# section that answers each. Whether a help-page question reaches nlu_fallback depends on the trained
# model ("I lost my gift card code" went to payment_issue / discount_code after a retrain), so the test
# checks that first and says so when it no longer holds. Gift-card questions sit among the payment_issue
# and discount_code examples and fell back right at the 0.40 threshold ("forgot gift card code"); no
# intent's examples speak of repairs or a workshop, so "repair workshop" is far from every intent.
QUESTIONS = [
    ("repair workshop", "Warranty and repairs, Repairs"),
    ("warranty and accidental damage", "Warranty and repairs, Warranty cover"),
]
COMPOSED_PREFIX = "In short:"


def _first_sentence_of_first_passage(body: Dict[str, Any]) -> str:
    """The stand-in's answer: the first sentence of passage [1] of the prompt, so it stays grounded."""
    prompt = body["messages"][-1]["content"]
    passage = re.search(r"\[1\] [^\n]*\n([^\n]+)", prompt)
    first = re.split(r"(?<=\.)\s", passage.group(1))[0] if passage else ""
    return f"{COMPOSED_PREFIX} {first}"


def test_knowledge_questions_get_the_passage_and_its_source(assistant) -> None:
    sender = assistant.new_sender()
    for question, source in QUESTIONS:
        reply = assistant.reply_text(sender, question)
        assert f"(From our help pages: {source}.)" in reply, reply
        assert COMPOSED_PREFIX not in reply


@dataclass
class ServedAssistant:
    """This module's own Rasa server (plain REST channel) in front of an action server with a model."""

    url: str

    def reply_text(self, sender: str, text: str) -> str:
        response = requests.post(
            f"{self.url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=120
        )
        response.raise_for_status()
        return "\n".join(message.get("text", "") for message in response.json())


@pytest.fixture(scope="module")
def assistant_with_model(
    trained_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Tuple[ServedAssistant, ChatStandIn]]:
    from shop.seed import seed_database

    work = tmp_path_factory.mktemp("assistant-llm")
    shop_db_url = f"sqlite:///{work / 'shop.db'}"
    seed_database(shop_db_url)
    actions_port, rasa_port = free_port(), free_port()
    endpoints = work / "endpoints.yml"
    endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{actions_port}/webhook"\n')
    credentials = work / "credentials.yml"
    credentials.write_text("rest:\n")
    actions_log, rasa_log = work / "actions.log", work / "rasa.log"

    with running_stand_in(reply=_first_sentence_of_first_passage) as stand_in:
        # only the action server talks to the model; the Rasa server never sees this variable's value
        env = server_env(shop_db_url, {URL_ENV: stand_in.url})
        actions = start_action_server(actions_port, env, actions_log)
        rasa = start_rasa_server(trained_model, endpoints, credentials, rasa_port, env, rasa_log)
        try:
            wait_until_up(f"http://127.0.0.1:{actions_port}/health", actions, actions_log)
            wait_until_up(f"http://127.0.0.1:{rasa_port}/", rasa, rasa_log)
            yield ServedAssistant(f"http://127.0.0.1:{rasa_port}"), stand_in
        finally:
            stop_process(rasa)
            stop_process(actions)


def test_with_a_model_the_answer_is_composed_from_the_passages(assistant_with_model) -> None:
    assistant, stand_in = assistant_with_model
    sender = f"e2e-llm-{uuid.uuid4().hex[:12]}"
    for question, _ in QUESTIONS:
        parsed = requests.post(f"{assistant.url}/model/parse", json={"text": question}, timeout=60).json()
        assert parsed["intent"]["name"] == "nlu_fallback", (
            f"premise broken: the trained NLU now maps {question!r} to {parsed['intent']}; pick a question "
            "that no intent covers")
    for question, source in QUESTIONS:
        reply = assistant.reply_text(sender, question)
        assert reply.startswith(COMPOSED_PREFIX), reply
        assert f"(From our help pages: {source}" in reply, reply
    prompts = [r.prompt for r in stand_in.received]
    assert len(prompts) == len(QUESTIONS)
    for (question, source), prompt in zip(QUESTIONS, prompts, strict=True):
        assert question in prompt
        assert source.split(", ")[1] in prompt  # the section it answers from was sent
    assert QUESTIONS[0][0] in prompts[1]  # the second request carries the earlier turns
