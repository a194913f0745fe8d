"""HandoffPolicy around a hand-back: the tracker exactly as Rasa and the agent console leave it.

While a conversation is paused, Rasa logs the shopper's messages and runs no action (so there is no
``action_listen`` before them); the console then appends :func:`console.app.handback_events`. These tests
build that tracker and check that the bot acts normally again: it may hand over again on fresh evidence,
never on what the shopper told the agent, and a rule answers the first message after the hand-back.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Sequence

import pytest
from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ConversationPaused,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from components.policies.handoff_policy import (
    ANGER_SUSTAINED,
    EXPLICIT_REQUEST,
    HandoffPolicy,
    last_bot_action_before_latest_message,
    user_turns_since_last_handoff,
)
from console.app import handback_events
from tests.policies.helpers import make_policy, user

HANDOFF = "action_handoff"


@pytest.fixture()
def policy(tmp_path: Path) -> HandoffPolicy:
    return make_policy(tmp_path)


def angry(intent: str = "complaint") -> UserUttered:
    return user(intent, feeling="anger", feeling_confidence=0.9, text=f"this {intent} is a disgrace")


def listen_then(message: UserUttered) -> List[Event]:
    return [ActionExecuted(ACTION_LISTEN_NAME), message]


def handed_back(domain: Domain, with_listen: bool = True) -> List[Event]:
    """The console's hand-back events, parsed the way Rasa's tracker events endpoint parses them."""
    raw = handback_events("I'm back!", ticket_id=7, agent="alice", now=1700000000.0)
    if not with_listen:  # what the console appended before action_listen was added
        raw = [event for event in raw if event["event"] != "action"]
    return [Event.from_parameters(event) for event in raw]


def tracker(domain: Domain, events: Sequence[Event]) -> DialogueStateTracker:
    start: List[Event] = [ActionExecuted(ACTION_SESSION_START_NAME), SessionStarted()]
    return DialogueStateTracker.from_events("shopper", start + list(events), slots=domain.slots)


def handed_over(*paused_messages: UserUttered) -> List[Event]:
    """Two angry turns, the handoff (slot + pause, as action_handoff returns them), messages to the agent."""
    return [
        *listen_then(angry()),
        ActionExecuted("utter_complaint"),
        *listen_then(angry()),
        ActionExecuted(HANDOFF),
        SlotSet("handoff_active", True),
        ConversationPaused(),
        *paused_messages,  # no action_listen: the bot is paused
    ]


def reason(policy: HandoffPolicy, conversation: DialogueStateTracker) -> str | None:
    decision = policy.decide(conversation)
    return decision.trigger if decision else None


def test_never_fires_while_paused(policy: HandoffPolicy, domain: Domain) -> None:
    paused = tracker(domain, [ConversationPaused(), user("request_human", text="I want a human")])
    assert paused.is_paused()
    assert policy.decide(paused) is None


def test_handback_events_reset_the_slot_and_unpause(domain: Domain) -> None:
    conversation = tracker(domain, handed_over(angry()) + handed_back(domain))
    assert not conversation.is_paused()
    assert conversation.get_slot("handoff_active") is False
    assert conversation.latest_action_name == ACTION_LISTEN_NAME


@pytest.mark.parametrize("with_listen", [True, False], ids=["listen", "no-listen"])
def test_explicit_request_right_after_the_hand_back_hands_over_again(
    policy: HandoffPolicy, domain: Domain, with_listen: bool
) -> None:
    events = handed_over(angry()) + handed_back(domain, with_listen)
    events.append(user("request_human", text="can I have the agent back please"))
    conversation = tracker(domain, events)
    # the handoff is the bot's last action, but the agent handed back since: it is not "still active"
    assert last_bot_action_before_latest_message(conversation.events) is None
    assert reason(policy, conversation) == EXPLICIT_REQUEST


def test_what_the_shopper_told_the_agent_does_not_count(policy: HandoffPolicy, domain: Domain) -> None:
    events = handed_over(angry(), angry()) + handed_back(domain) + [angry()]
    conversation = tracker(domain, events)
    assert len(user_turns_since_last_handoff(conversation.events, HANDOFF)) == 1
    assert policy.decide(conversation) is None  # one angry turn since the hand-back is not sustained

    events += [ActionExecuted("utter_complaint"), *listen_then(angry())]
    assert reason(policy, tracker(domain, events)) == ANGER_SUSTAINED


def test_a_calm_message_after_the_hand_back_gets_the_rule_answer(
    policy: HandoffPolicy, rule_policy: RulePolicy, domain: Domain
) -> None:
    events = handed_over(angry()) + handed_back(domain) + [user("greet", text="hello again")]
    conversation = tracker(domain, events)
    predictions = [
        rule_policy.predict_action_probabilities(conversation, domain),
        policy.predict_action_probabilities(conversation, domain),
    ]
    assert predictions[1].max_confidence == 0.0  # the HandoffPolicy stays out of it
    winner = combine(domain, conversation, *predictions)
    assert domain.action_names_or_texts[winner.max_confidence_index] == "utter_greet"


def test_without_action_listen_the_rules_would_keep_the_bot_silent(
    rule_policy: RulePolicy, domain: Domain
) -> None:
    # Why the console appends action_listen: the shopper's message would otherwise follow action_handoff
    # and the "listen after a handoff" rule would answer it with silence.
    events = handed_over(angry()) + handed_back(domain, with_listen=False)
    events.append(user("greet", text="hello again"))
    prediction = rule_policy.predict_action_probabilities(tracker(domain, events), domain)
    assert domain.action_names_or_texts[prediction.max_confidence_index] == ACTION_LISTEN_NAME


def combine(
    domain: Domain, conversation: DialogueStateTracker, *predictions: PolicyPrediction
) -> PolicyPrediction:
    kwargs = {f"policy_{index}": prediction for index, prediction in enumerate(predictions)}
    return DefaultPolicyPredictionEnsemble().combine_predictions_from_kwargs(conversation, domain, **kwargs)
