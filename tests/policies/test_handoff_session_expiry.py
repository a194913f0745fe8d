"""HandoffPolicy when Rasa starts a new session while a person still holds the conversation.

A shopper who writes more than ``session_expiration_time`` after their previous message gets a new Rasa
session: ``action_session_start`` appends ``SessionStarted``, which un-pauses the tracker and resets its
slots. These trackers are built as Rasa leaves them at that moment: the earlier session (as the tracker
store loads it: only the latest session), then ``action_session_start``, ``SessionStarted``,
``action_listen`` and the shopper's new message. Hand-back and close append
:func:`console.app.handback_events` through Rasa's tracker events endpoint, which starts no session when
the conversation already has events.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import List, Sequence

import pytest
from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
from rasa.core.policies.rule_policy import RulePolicy
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME, REQUESTED_SLOT
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    ConversationPaused,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from actions.handoff import CARRIED_OVER
from components.policies.handoff_policy import (
    ALL_TRIGGERS,
    EXPLICIT_REQUEST,
    MESSAGE_TRIGGERS,
    OPEN_HANDOFF_CARRIED_OVER,
    HandoffPolicy,
    carried_over_handoff,
)
from console.app import handback_events
from tests.policies.helpers import in_form, make_policy, user

HANDOFF = "action_handoff"
T0 = 1_700_000_000.0
HOUR = 3600.0


@pytest.fixture()
def policy(tmp_path: Path) -> HandoffPolicy:
    return make_policy(tmp_path)


def session_start(at: float) -> List[Event]:
    """What ``action_session_start`` leaves in the tracker (no slots carried over)."""
    return [
        ActionExecuted(ACTION_SESSION_START_NAME, timestamp=at),
        SessionStarted(timestamp=at),
        ActionExecuted(ACTION_LISTEN_NAME, timestamp=at),
    ]


def handed_over(paused: bool = True) -> List[Event]:
    """A session in which the shopper asked for a person; action_handoff paused it (in business hours)
    or not (after hours: e-mail follow-up); the shopper and the agent then talked while it was paused."""
    events: List[Event] = [
        *session_start(T0),
        user("order_status", text="where is my order"),
        ActionExecuted("utter_greet", timestamp=T0 + 10),
        ActionExecuted(ACTION_LISTEN_NAME, timestamp=T0 + 10),
        user("request_human", text="I want to talk to a person"),
        SlotSet("handoff_reason", EXPLICIT_REQUEST),
        ActionExecuted(HANDOFF, timestamp=T0 + 20),
    ]
    if paused:
        events += [SlotSet("handoff_active", True), ConversationPaused(timestamp=T0 + 20)]
        events += [
            user("complaint", text="it's been two weeks"),  # no action_listen: the bot is paused
            BotUttered("Let me check that for you.", metadata={"agent": "alice", "handoff_ticket": 1}),
        ]
    else:
        events.append(ActionExecuted(ACTION_LISTEN_NAME, timestamp=T0 + 20))
    return events


def console_resume() -> List[Event]:
    """Hand-back or close in the agent console, parsed as Rasa's tracker events endpoint parses it."""
    raw = handback_events("I'm back!", ticket_id=1, agent="alice", now=T0 + 30 * 60)
    return [Event.from_parameters(event) for event in raw]


def next_session(message: UserUttered | None = None, at: float = T0 + 2 * HOUR) -> List[Event]:
    """The shopper writes again after the session expired."""
    return [*session_start(at), message or user("greet", text="hello?")]


def tracker(domain: Domain, events: Sequence[Event]) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("shopper", list(events), slots=domain.slots)


def reason(policy: HandoffPolicy, conversation: DialogueStateTracker) -> str | None:
    decision = policy.decide(conversation)
    return decision.trigger if decision else None


def test_trigger_is_enabled_by_default_and_matches_the_action() -> None:
    config = HandoffPolicy.get_default_config()
    assert config["triggers"][0] == OPEN_HANDOFF_CARRIED_OVER
    assert OPEN_HANDOFF_CARRIED_OVER in ALL_TRIGGERS and OPEN_HANDOFF_CARRIED_OVER not in MESSAGE_TRIGGERS
    assert CARRIED_OVER == OPEN_HANDOFF_CARRIED_OVER  # action_handoff reads the reason by this name


def test_new_session_under_an_open_handoff_hands_over_again(policy: HandoffPolicy, domain: Domain) -> None:
    conversation = tracker(domain, handed_over() + next_session())
    assert not conversation.is_paused()  # what SessionStarted does: the gap this trigger closes
    assert conversation.get_slot("handoff_active") is None

    prediction = policy.predict_action_probabilities(conversation, domain)
    assert domain.action_names_or_texts[prediction.max_confidence_index] == HANDOFF
    assert prediction.max_confidence == 1.0
    assert prediction.optional_events == [SlotSet("handoff_reason", OPEN_HANDOFF_CARRIED_OVER)]
    assert prediction.action_metadata["handoff_reason"] == OPEN_HANDOFF_CARRIED_OVER
    assert prediction.action_metadata["handoff_details"][OPEN_HANDOFF_CARRIED_OVER] == {
        "paused_at": T0 + 20,
        "session_started_at": T0 + 2 * HOUR,
    }


def test_it_beats_the_rule_answer_to_the_new_message(
    policy: HandoffPolicy, rule_policy: RulePolicy, domain: Domain
) -> None:
    conversation = tracker(domain, handed_over() + next_session(user("greet", text="hi, anyone there?")))
    rule = rule_policy.predict_action_probabilities(conversation, domain)
    assert domain.action_names_or_texts[rule.max_confidence_index] == "utter_greet"
    winner = DefaultPolicyPredictionEnsemble().combine_predictions_from_kwargs(
        conversation, domain, rule=rule, handoff=policy.predict_action_probabilities(conversation, domain)
    )
    assert domain.action_names_or_texts[winner.max_confidence_index] == HANDOFF
    assert SlotSet("handoff_reason", OPEN_HANDOFF_CARRIED_OVER) in winner.events


def test_takes_precedence_over_the_message_triggers(policy: HandoffPolicy, domain: Domain) -> None:
    message = user("request_human", text="I still want to talk to a person")
    decision = policy.decide(tracker(domain, handed_over() + next_session(message)))
    assert decision.trigger == OPEN_HANDOFF_CARRIED_OVER
    assert decision.fired == [OPEN_HANDOFF_CARRIED_OVER, EXPLICIT_REQUEST]


def test_handed_back_before_the_session_expired_does_not_fire(policy: HandoffPolicy, domain: Domain) -> None:
    assert reason(policy, tracker(domain, handed_over() + console_resume() + next_session())) is None


def test_ticket_closed_after_the_session_expired_does_not_fire(policy: HandoffPolicy, domain: Domain) -> None:
    # The close came while the shopper was away: the session had expired but no message had started a
    # new one, so the console's resume events landed in the old session (the ticket still held the
    # conversation, which is what close checks, not whether the tracker is paused).
    events = handed_over() + [BotUttered("Anything else?", metadata={"agent": "alice"})] + console_resume()
    assert reason(policy, tracker(domain, events + next_session(at=T0 + 5 * HOUR))) is None


def test_ticket_closed_after_the_handoff_resumed_in_a_new_session(
    policy: HandoffPolicy, domain: Domain
) -> None:
    # Session 2: the trigger fired, action_handoff paused again; then the agent closed the ticket.
    second = [
        *next_session(),
        SlotSet("handoff_reason", OPEN_HANDOFF_CARRIED_OVER),
        ActionExecuted(HANDOFF),
        SlotSet("handoff_active", True),
        ConversationPaused(),
        *console_resume(),
    ]
    # Rasa's tracker store loads only the latest session: session 2 is what the policy sees.
    assert reason(policy, tracker(domain, second + next_session(at=T0 + 6 * HOUR))) is None


def test_never_handed_over_does_not_fire(policy: HandoffPolicy, domain: Domain) -> None:
    plain = [*session_start(T0), user("greet"), ActionExecuted("utter_greet")]
    plain.append(ActionExecuted(ACTION_LISTEN_NAME))
    assert reason(policy, tracker(domain, plain + next_session())) is None
    # An after-hours handoff never paused the bot: nothing to carry over either.
    assert reason(policy, tracker(domain, handed_over(paused=False) + next_session())) is None
    # Neither does a pause that some other tool appended (not the handoff action's).
    other_pause = plain + [ConversationPaused()]
    assert reason(policy, tracker(domain, other_pause + next_session())) is None


def test_fires_once_the_handoff_action_ran_in_the_new_session(policy: HandoffPolicy, domain: Domain) -> None:
    fired = handed_over() + next_session() + [
        SlotSet("handoff_reason", OPEN_HANDOFF_CARRIED_OVER),
        ActionExecuted(HANDOFF),
    ]
    assert policy.decide(tracker(domain, fired)) is None  # the same turn: action_listen follows

    # action_handoff paused again: the shopper's next messages go to the agent.
    paused_again = fired + [SlotSet("handoff_active", True), ConversationPaused(), user("greet")]
    assert policy.decide(tracker(domain, paused_again)) is None

    # action_handoff could not pause (shop database down): no second try in this session.
    failed = fired + [ActionExecuted(ACTION_LISTEN_NAME), user("greet", text="hello??")]
    assert carried_over_handoff(tracker(domain, failed).events, HANDOFF) is None
    assert reason(policy, tracker(domain, failed)) is None
    later = failed + [ActionExecuted("utter_greet"), ActionExecuted(ACTION_LISTEN_NAME), user("greet")]
    assert reason(policy, tracker(domain, later)) is None


def test_every_new_session_while_the_handoff_is_open_fires(policy: HandoffPolicy, domain: Domain) -> None:
    # Session 2 paused again for the same ticket; the shopper is away for another hour and writes again.
    second = [
        *next_session(),
        SlotSet("handoff_reason", OPEN_HANDOFF_CARRIED_OVER),
        ActionExecuted(HANDOFF),
        SlotSet("handoff_active", True),
        ConversationPaused(),
        user("complaint", text="still nothing?"),
    ]
    third = next_session(at=T0 + 5 * HOUR)
    assert reason(policy, tracker(domain, second + third)) == OPEN_HANDOFF_CARRIED_OVER


def test_restart_clears_the_carried_over_handoff(policy: HandoffPolicy, domain: Domain) -> None:
    # /restart is Rasa's deliberate reset (it runs even while paused); the next message starts a session.
    restarted = handed_over() + [
        user("restart", 1.0, feeling=None),
        ActionExecuted("action_restart"),
        Restarted(),
    ]
    assert reason(policy, tracker(domain, restarted + next_session(at=T0 + 25 * 60))) is None


def test_not_on_rasa_default_intents(policy: HandoffPolicy, domain: Domain) -> None:
    conversation = tracker(domain, handed_over() + next_session(user("restart", 1.0, feeling=None)))
    assert policy.decide(conversation) is None


def test_can_be_switched_off(tmp_path: Path, domain: Domain) -> None:
    policy = make_policy(tmp_path, triggers=list(MESSAGE_TRIGGERS))
    conversation = tracker(domain, handed_over() + next_session())
    assert policy.decide(conversation) is None
    prediction = policy.predict_action_probabilities(conversation, domain)
    assert prediction.max_confidence == 0.0


def test_carried_over_slots_do_not_block_it(policy: HandoffPolicy, domain: Domain) -> None:
    # With carry_over_slots_to_new_session: true the new session would start with handoff_active true,
    # which blocks every other trigger.
    events = handed_over() + session_start(T0 + 2 * HOUR)
    events.insert(-1, SlotSet("handoff_active", True))
    conversation = tracker(domain, events + [user("greet")])
    assert conversation.get_slot("handoff_active") is True
    assert reason(policy, conversation) == OPEN_HANDOFF_CARRIED_OVER


def test_fires_inside_a_form_and_ends_it(policy: HandoffPolicy, domain: Domain) -> None:
    # Not reachable with the default policies (it fires on the new session's first message, before a
    # form can start), but if a form ran first, a person still holds the conversation.
    events = handed_over() + next_session(user("order_status")) + list(in_form())
    events += [ActionExecuted(ACTION_LISTEN_NAME), user("inform", text="SA-100002")]
    prediction = policy.predict_action_probabilities(tracker(domain, events), domain)
    assert domain.action_names_or_texts[prediction.max_confidence_index] == HANDOFF
    assert prediction.is_no_user_prediction is True
    assert prediction.optional_events[:2] == [ActiveLoop(None), SlotSet(REQUESTED_SLOT, None)]


def stamped(events: Sequence[Event], start: float) -> List[Event]:
    """The events one second apart from ``start`` (the SQL tracker store selects sessions by time)."""
    for offset, event in enumerate(events):
        event.timestamp = start + offset
    return list(events)


def test_works_on_the_tracker_as_the_sql_tracker_store_loads_it(
    tmp_path: Path, policy: HandoffPolicy, domain: Domain
) -> None:
    store = SQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "trackers.db"))
    asyncio.run(store.save(tracker(domain, stamped(handed_over(), T0))))

    # The message that starts the new session: Rasa loads the latest stored session (the paused one),
    # runs action_session_start on it in memory, then logs the message and predicts.
    loaded = asyncio.run(store.retrieve("shopper"))
    assert loaded.is_paused()
    for event in stamped(next_session(), T0 + 2 * HOUR):
        loaded.update(event, domain)
    assert reason(policy, loaded) == OPEN_HANDOFF_CARRIED_OVER

    # Had the first message not handed over, later messages would no longer see the earlier session:
    # the store loads only the latest one. Hence the trigger fires on the new session's first message.
    asyncio.run(store.save(loaded))
    later = asyncio.run(store.retrieve("shopper"))
    assert not any(isinstance(event, ConversationPaused) for event in later.events)
