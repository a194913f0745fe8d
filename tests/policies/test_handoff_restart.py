"""`/restart` after a handoff: the tracker exactly as Rasa leaves it when action_handoff paused the bot.

Rasa runs a `/restart` even while the conversation is paused, but after the pause it logged no
`action_listen`, so RulePolicy's default "restart -> action_restart" did not apply and the rule "listen after
a handoff" answered the first `/restart` with silence. HandoffPolicy predicts `action_restart` there.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Sequence

import pytest
from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_RESTART_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ConversationPaused,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from components.policies.handoff_policy import HandoffPolicy
from tests.policies.helpers import make_policy, user

HANDOFF = "action_handoff"


@pytest.fixture()
def policy(tmp_path: Path) -> HandoffPolicy:
    return make_policy(tmp_path)


def restart() -> UserUttered:
    return user("restart", 1.0, feeling=None)


def tracker(domain: Domain, events: Sequence[Event]) -> DialogueStateTracker:
    start: List[Event] = [ActionExecuted(ACTION_SESSION_START_NAME), SessionStarted()]
    return DialogueStateTracker.from_events("shopper", start + list(events), slots=domain.slots)


def handed_over(*paused_messages: UserUttered) -> List[Event]:
    """An explicit request, the handoff (slot + pause, as action_handoff returns them), then messages the
    shopper wrote while the bot was paused (Rasa logs them without any action)."""
    return [
        ActionExecuted(ACTION_LISTEN_NAME),
        user("request_human", text="I want to talk to a person"),
        ActionExecuted(HANDOFF),
        SlotSet("handoff_active", True),
        ConversationPaused(),
        *paused_messages,
    ]


def winner(
    domain: Domain, conversation: DialogueStateTracker, rule_policy: RulePolicy, policy: HandoffPolicy
) -> str:
    predictions: List[PolicyPrediction] = [
        rule_policy.predict_action_probabilities(conversation, domain),
        policy.predict_action_probabilities(conversation, domain),
    ]
    kwargs = {f"policy_{index}": prediction for index, prediction in enumerate(predictions)}
    best = DefaultPolicyPredictionEnsemble().combine_predictions_from_kwargs(conversation, domain, **kwargs)
    return domain.action_names_or_texts[best.max_confidence_index]


@pytest.mark.parametrize("paused_messages", [[], [user("greet", text="hello? anyone?")]],
                         ids=["right-away", "after-writing-to-the-agent"])
def test_the_first_restart_after_a_handoff_restarts(
    policy: HandoffPolicy, rule_policy: RulePolicy, domain: Domain, paused_messages: List[UserUttered]
) -> None:
    conversation = tracker(domain, handed_over(*paused_messages) + [restart()])
    assert conversation.is_paused()  # Rasa still handles /restart while paused (MessageProcessor)
    assert conversation.latest_action_name == HANDOFF
    # on its own, RulePolicy answers it with the "listen after a handoff" rule
    alone = rule_policy.predict_action_probabilities(conversation, domain)
    assert domain.action_names_or_texts[alone.max_confidence_index] == ACTION_LISTEN_NAME
    assert winner(domain, conversation, rule_policy, policy) == ACTION_RESTART_NAME


def test_a_restart_is_not_a_handoff(policy: HandoffPolicy, domain: Domain) -> None:
    prediction = policy.predict_action_probabilities(tracker(domain, handed_over() + [restart()]), domain)
    assert prediction.optional_events == []  # no handoff reason recorded
    assert prediction.action_metadata is None


def test_a_restart_after_listening_is_left_to_rasa_s_default_rule(
    policy: HandoffPolicy, rule_policy: RulePolicy, domain: Domain
) -> None:
    greeted = [ActionExecuted(ACTION_LISTEN_NAME), user("greet"), ActionExecuted("utter_greet")]
    conversation = tracker(domain, greeted + [ActionExecuted(ACTION_LISTEN_NAME), restart()])
    assert policy.predict_action_probabilities(conversation, domain).max_confidence == 0.0
    assert winner(domain, conversation, rule_policy, policy) == ACTION_RESTART_NAME


def test_once_restarted_the_bot_answers_the_next_message(
    policy: HandoffPolicy, rule_policy: RulePolicy, domain: Domain
) -> None:
    events = handed_over() + [restart(), ActionExecuted(ACTION_RESTART_NAME), Restarted()]
    conversation = tracker(domain, events)
    assert not conversation.is_paused()
    assert conversation.get_slot("handoff_active") is not True
    # nothing more in the /restart turn: the policy predicts nothing after action_restart
    assert policy.predict_action_probabilities(conversation, domain).max_confidence == 0.0

    # Rasa starts a session at the next message (no events since the restart), then it is answered
    events += [ActionExecuted(ACTION_SESSION_START_NAME), SessionStarted(),
               ActionExecuted(ACTION_LISTEN_NAME), user("greet", text="hi again")]
    assert winner(domain, tracker(domain, events), rule_policy, policy) == "utter_greet"


def test_can_be_switched_off(tmp_path: Path, rule_policy: RulePolicy, domain: Domain) -> None:
    off = make_policy(tmp_path, restart_after_pause=False)
    conversation = tracker(domain, handed_over() + [restart()])
    assert winner(domain, conversation, rule_policy, off) == ACTION_LISTEN_NAME
