"""Decides when a ShopAssist conversation should go to a person.

``HandoffPolicy`` predicts the handoff action (``action_handoff`` by default) when one of its triggers
fires on the shopper's latest message. It learns nothing: every trigger is a rule over the tracker's
events (all but the first over the user turns of the current session), and every threshold lives in
``config.yml`` (see ``get_default_config``).

Triggers, in the order they are checked (the first that fires is recorded as the reason):

``open_handoff_carried_over``
    A person still holds the conversation, but Rasa started a new session under it: an earlier session
    was paused by the handoff action (``ConversationPaused`` after it), nothing resumed it since (no
    ``ConversationResumed``: the agent console appends one on hand-back and on closing a ticket that
    holds the conversation, even when the session has expired meanwhile), a ``SessionStarted`` followed
    the pause, and the handoff action has not run in the new session yet. Rasa starts a new session
    when the shopper writes more than ``session_expiration_time`` after their previous message, and
    ``SessionStarted`` un-pauses the tracker and resets its slots, so without this trigger the bot
    would answer again while the ticket is open. Firing makes the handoff action return the open
    ticket and pause again. It costs nothing for ordinary conversations (no action-server call: it
    reads the events the tracker already holds). Rasa's tracker stores load only the latest session,
    so the earlier session is visible only while the message that started the new session is being
    handled; the trigger fires on that first message (its intent not one of ``ignored_intents``).
    A restart (``Restarted``, e.g. ``/restart``) after the pause clears it on purpose: the shopper
    asked to start over, which Rasa also treats as un-pausing; the ticket stays open in the console.
    The trigger ignores ``handoff_active_slot`` (a session that carries slots over would carry the
    flag that otherwise blocks every trigger) and ``triggers_in_active_loop`` (a person holds the
    conversation, whatever a form was doing; no form can be active at a new session's first message
    anyway).
``explicit_request``
    The shopper asks for a person: the intent is one of ``explicit_request_intents`` with at least
    ``explicit_request_threshold`` confidence, or the text matches ``explicit_request_patterns``.
``sensitive_topic``
    Payment disputes, suspected fraud and the like: the intent is one of ``sensitive_intents`` (with
    ``sensitive_intent_threshold``), or the text matches ``sensitive_patterns``.
``anger_sustained``
    The emotion classifier scored ``anger_labels`` at or above ``anger_threshold`` in at least
    ``anger_min_turns`` of the last ``anger_window`` user turns (the latest one included when
    ``anger_require_latest``). A turn with an intent of ``escalation_intents`` (a complaint) counts as
    angry too when it follows an angry turn of the window: "worst quality ever, I'm so done with this
    shop" after an angry message reads as sadness to the emotion head, but it is the same grievance
    getting worse. A message in which the shopper says they are angry (``anger_patterns``: "I am really
    angry now", "this makes me furious") is an angry turn whatever the emotion head read.
``anger_rising``
    The anger score rose by at least ``anger_rising_min_step`` at every one of the last
    ``anger_rising_turns`` user turns and ended at or above ``anger_rising_final_threshold``.
``repeated_fallback``
    ``fallback_turns`` of the last ``fallback_window`` user turns failed, the latest included: an intent of
    ``fallback_intents`` (NLU fallback, out of scope), intent confidence below ``low_confidence_threshold``,
    the bot answered with a fallback action, or (earlier turns only) with a no-op reply.

    A no-op reply: everything the bot said in answer to the turn was among ``noop_responses`` (``utter_ok``,
    "Okay! Let me know what you'd like to do next.", which ``action_handle_confirmation`` sends for a yes/no
    when no question is open): no other response, no other bot message. A vague message the NLU reads
    confidently as ``deny`` or ``inform`` ("it won't do the thing", deny 0.6) gets exactly that, so it was
    not understood whatever its confidence. Not counted: intents of ``noop_exempt_intents`` ("ok", "thanks",
    "bye", "hi" answered "Okay!" is fine), intents of ``noop_short_exempt_intents`` (``deny``) in messages of
    at most ``noop_short_max_words`` words (3: "no", "no thanks", "I'd rather not" refuse nothing in
    particular; a longer deny says what is wrong, "no, that's not what I meant", and "Okay!" does not answer
    it), and buttons (``/intent`` payloads, which the NLU cannot misread). The latest turn is judged by its
    own NLU only: the policy decides before the bot answers it. A greeting (``fallback_greeting_intents``)
    right after ``fallback_turns`` failed turns in a row counts as the latest failed turn: "hello??" after
    three misunderstandings asks whether anyone is there, it is no sign that the bot understood.
``repeated_request``
    The bot gave the same answer to the two previous messages and the shopper asks again
    (``repeat_same_answer``), or the same request (same intent, or intents grouped in
    ``repeat_equivalent_intents``, and no conflicting entity values) ``repeat_min_count`` times in a row
    within the last ``repeat_window`` user turns; intents in ``repeat_ignored_intents`` (affirm, deny,
    inform, greet ...) are skipped, they neither count nor break the row.

    Or (``repeat_restated_min_shared_words``) the latest message was not understood and it shares content
    words with each of the messages before it (``repeat_min_count`` in all, none of which completed a task,
    at least one of which got an answer): the same request in new words, which the NLU labelled differently
    each time, and the answers did not help.

    Or (``repeat_count_failed_turns``) the request was restated after misunderstandings: "change the size
    on my order" (change_order, generic answer), "no, the SIZE" (nlu_fallback), "can you change my order"
    (order_status 0.68) is one request asked three times. Walking back from the latest message (itself a
    request) over the last ``repeat_window`` turns, an earlier turn counts when it is the same request, or
    a related one: same group of ``repeat_related_intents`` (order intents; payment intents; delivery
    questions) and no conflicting entity values, while the latest message is below
    ``repeat_related_max_confidence`` (a clearly understood new intent is a new request). Failed turns
    (as for ``repeated_fallback``; inside a form, low confidence alone does not count, since the form takes
    its value whatever the intent's confidence) count as restatements when an earlier ask of the request
    comes before them; other ignored intents are skipped; any other request, and a turn whose answer
    completed a task (the bot set ``task_completed_slot``), end the walk. It fires at ``repeat_min_count``
    counted turns of which at least one failed (a restatement, or an ask that failed itself).

When to predict, and when not:

* Only at the first prediction after a user message ("once per user turn"). After the handoff action
  (or any other action) in that turn it predicts nothing, so the other policies let ``action_listen``
  follow.
* Never while a handoff is active (except ``open_handoff_carried_over``, see above): the
  conversation is paused, the ``handoff_active_slot`` is
  truthy, or the bot's last action before the shopper's message was the handoff action (and no agent
  has handed the conversation back since). Evidence is counted only from the user turns after the
  latest handoff and the latest hand-back (``ConversationResumed``; and after the latest restart /
  session start), so a trigger needs fresh evidence to fire again, and what the shopper told the
  agent while the bot was paused never counts.
* While a form is collecting a value (an active loop) only the triggers in
  ``triggers_in_active_loop`` fire (by default only ``explicit_request``; plus
  ``open_handoff_carried_over`` whenever it is enabled); the form is then
  deactivated (``deactivate_active_loop``) so it does not ask its question again after the handoff.
* Never on Rasa's default intents (``/restart``, ``/back``, ``/session_start``): RulePolicy runs their
  default actions.

``/restart`` after a pause (``restart_after_pause``): Rasa handles a ``/restart`` even while the
conversation is paused, but logs no ``action_listen`` after the handoff action paused it, and RulePolicy's
default "restart -> action_restart" needs ``action_listen`` right before the message. The rule "listen
after a handoff" matched instead, so the first ``/restart`` after a handoff only got ``action_listen``
(the bot stayed silent, the ticket holding it) and only a second one restarted. The policy therefore
predicts ``action_restart`` itself for a ``/restart`` that does not follow ``action_listen``, with the
same confidence and priority as a handoff; a ``/restart`` after ``action_listen`` is left to RulePolicy.

How it wins in Rasa 3.6's ``DefaultPolicyPredictionEnsemble``: the ensemble picks the prediction with
the highest ``(max_confidence, policy_priority)`` tuple, after two filters: "no user" predictions (the
RulePolicy's active-loop happy path) beat everything, and end-to-end predictions beat intent-based
ones. A firing ``HandoffPolicy`` predicts with ``prediction_confidence`` (1.0, the same as a rule) and
``priority`` ``RULE_POLICY_PRIORITY + 1`` = 5 (Memoization 3, RulePolicy 4, TED 1), so it wins the tie
against every rule, memoized story and ML prediction. Inside an active loop it marks its prediction as
``is_no_user_prediction`` so that it competes with (and, thanks to its priority, beats) RulePolicy's
loop happy-path prediction instead of being filtered out. It does not beat end-to-end predictions
(rules or stories written with user *text*); ShopAssist has none. When it does not fire, it predicts
all zeros and never wins.

What fired is recorded on the winning prediction: ``SlotSet(<handoff_reason_slot>, "<trigger>")`` in
``optional_events`` (only applied when this policy wins; the slot must exist in the domain) and
``{"handoff_reason": "<trigger>", "handoff_triggers": [...], "handoff_details": {...}}`` in
``action_metadata``, which Rasa stores on the handoff's ``ActionExecuted`` event.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from rasa.core.constants import POLICY_PRIORITY, RULE_POLICY_PRIORITY
from rasa.core.policies.policy import PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME, INTENT_MESSAGE_PREFIX
from rasa.shared.core.constants import (
    ACTION_DEFAULT_FALLBACK_NAME,
    ACTION_LISTEN_NAME,
    ACTION_RESTART_NAME,
    ACTION_TWO_STAGE_FALLBACK_NAME,
    REQUESTED_SLOT,
    USER_INTENT_BACK,
    USER_INTENT_RESTART,
    USER_INTENT_SESSION_START,
)
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_ROLE,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    INTENT,
    INTENT_NAME_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)

from components.policies.config_only import ConfigOnlyPolicy
from shop.clauses import request_key
from shop.matching import keywords

logger = logging.getLogger(__name__)

#: Key of the emotion prediction in the parse data (set by TransformerIntentEmotionClassifier).
EMOTION = "emotion"
EMOTION_RANKING = "ranking"
#: Key of the sensitive-topic prediction in the parse data (same shape as ``emotion``).
SENSITIVE_KEY = "sensitive"

# Trigger names: the values of the reason slot and of ``action_metadata["handoff_reason"]``.
EXPLICIT_REQUEST = "explicit_request"
SENSITIVE_TOPIC = "sensitive_topic"
ANGER_SUSTAINED = "anger_sustained"
ANGER_RISING = "anger_rising"
REPEATED_FALLBACK = "repeated_fallback"
REPEATED_REQUEST = "repeated_request"
OPEN_HANDOFF_CARRIED_OVER = "open_handoff_carried_over"
#: The triggers that judge the shopper's messages (the handoff bench scores these).
MESSAGE_TRIGGERS = (
    EXPLICIT_REQUEST,
    SENSITIVE_TOPIC,
    ANGER_SUSTAINED,
    ANGER_RISING,
    REPEATED_FALLBACK,
    REPEATED_REQUEST,
)
#: Every trigger, in the default precedence: a handoff still open from an earlier session comes first,
#: since it is the reason a person holds the conversation whatever the new message says.
ALL_TRIGGERS = (OPEN_HANDOFF_CARRIED_OVER, *MESSAGE_TRIGGERS)

# Keys of ``action_metadata`` on a handoff prediction.
METADATA_REASON = "handoff_reason"
METADATA_TRIGGERS = "handoff_triggers"
METADATA_DETAILS = "handoff_details"

#: Rasa names response actions ``utter_<name>``: such an action says that response.
RESPONSE_PREFIX = "utter_"
#: Words of a message, for ``noop_short_max_words`` ("I'm" and "don't" are one word each).
WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")

PERSISTED_FILE = "handoff_policy.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class UserTurn:
    """What the policy needs from one user message and the bot's answer to it."""

    intent: Optional[str]
    confidence: float
    entities: Tuple[Tuple[str, Optional[str], str], ...]  # (type, role, value)
    text: str
    emotion: Optional[str]
    emotion_confidence: float
    anger: float
    bot_actions: Tuple[str, ...] = ()
    # What the bot said in answer to this message (texts of its BotUttered events).
    bot_texts: Tuple[str, ...] = ()
    # The responses the bot gave in answer to this message: those its messages name (a BotUttered's
    # ``utter_action`` metadata, also when a custom action sent it) and the response actions (``utter_*``)
    # it ran; and how many of its messages name no response (free text, a product list, a custom payload).
    bot_responses: Tuple[str, ...] = ()
    bot_unnamed_messages: int = 0
    # The bot's answer to this message completed a task (set ``task_completed_slot`` to a true value).
    completed_task: bool = False
    active_loop: Optional[str] = None
    # The NLU's sensitive-topic prediction (``parse_data["sensitive"]``, set by the transformer
    # classifier when it was trained with sensitive labels): label and confidence, None without one.
    sensitive: Optional[str] = None
    sensitive_confidence: float = 0.0
    # The head's whole ranking, (label, confidence) pairs: "is it sensitive at all?" sums the topics.
    sensitive_ranking: Tuple[Tuple[str, float], ...] = ()

    @property
    def is_intent_payload(self) -> bool:
        """``/intent{...}`` messages (buttons, tests) carry no real text and no emotion."""
        return self.text.startswith(INTENT_MESSAGE_PREFIX)


@dataclass
class HandoffDecision:
    """The outcome of checking all triggers on the latest user turn."""

    trigger: str
    fired: List[str]
    details: Dict[str, Any] = field(default_factory=dict)


#: Words that say nothing about what a message asks, on top of shop.matching's stop words.
_FUNCTION_WORDS = frozenset(
    "again already also and but can could did didn do does don done dont got had has have haven how just "
    "know not now still than that the then there they this what when where which who why will with would "
    "yet you your yours okay hello hey thanks thank sorry".split()
)


def content_words(text: str) -> List[str]:
    """Stemmed content words of a message (3+ letters, no stop or function words), for telling whether two
    messages ask the same thing in other words."""
    return [word for word in keywords(text) if len(word) >= 3 and word not in _FUNCTION_WORDS]


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _anger_score(emotion: Dict[str, Any], labels: Set[str]) -> float:
    """Highest confidence the emotion classifier gave any anger label (0.0 without emotion data)."""
    scores = [
        _as_float(entry.get(PREDICTED_CONFIDENCE_KEY))
        for entry in (emotion.get(EMOTION_RANKING) or [])
        if isinstance(entry, dict) and entry.get(INTENT_NAME_KEY) in labels
    ]
    if emotion.get(INTENT_NAME_KEY) in labels:
        scores.append(_as_float(emotion.get(PREDICTED_CONFIDENCE_KEY)))
    return max(scores, default=0.0)


def _turn_from_event(event: UserUttered, anger_labels: Set[str], active_loop: Optional[str]) -> UserTurn:
    parse_data = event.parse_data or {}
    intent = parse_data.get(INTENT) or event.intent or {}
    emotion = parse_data.get(EMOTION) or {}
    sensitive = parse_data.get(SENSITIVE_KEY) or {}
    if not isinstance(sensitive, dict):
        sensitive = {}
    entities = tuple(
        (
            str(entity.get(ENTITY_ATTRIBUTE_TYPE)),
            entity.get(ENTITY_ATTRIBUTE_ROLE),
            str(entity.get(ENTITY_ATTRIBUTE_VALUE)).strip().lower(),
        )
        for entity in (parse_data.get(ENTITIES) or event.entities or [])
        if isinstance(entity, dict) and entity.get(ENTITY_ATTRIBUTE_TYPE)
    )
    return UserTurn(
        intent=intent.get(INTENT_NAME_KEY),
        confidence=_as_float(intent.get(PREDICTED_CONFIDENCE_KEY)),
        entities=entities,
        text=str(parse_data.get(TEXT) or event.text or ""),
        emotion=emotion.get(INTENT_NAME_KEY),
        emotion_confidence=_as_float(emotion.get(PREDICTED_CONFIDENCE_KEY)),
        anger=_anger_score(emotion, anger_labels),
        active_loop=active_loop,
        sensitive=sensitive.get(INTENT_NAME_KEY),
        sensitive_confidence=_as_float(sensitive.get(PREDICTED_CONFIDENCE_KEY)),
        sensitive_ranking=tuple(
            (str(entry.get(INTENT_NAME_KEY)), _as_float(entry.get(PREDICTED_CONFIDENCE_KEY)))
            for entry in (sensitive.get(EMOTION_RANKING) or [])
            if isinstance(entry, dict) and entry.get(INTENT_NAME_KEY)
        ),
    )


def user_turns_since_last_handoff(
    events: Sequence[Event],
    handoff_action: str,
    anger_labels: Sequence[str] = ("anger",),
    task_completed_slot: Optional[str] = None,
) -> List[UserTurn]:
    """The user turns of the current session that came after the latest handoff and hand-back.

    Reads the raw events rather than ``tracker.applied_events()`` on purpose: the default fallback
    action reverts the user message (``UserUtteranceReverted``), and those turns must still count for
    the fallback trigger. A restart or a new session starts the history afresh; so does the handoff
    action, so that a trigger needs fresh evidence to fire again, and so does the hand-back
    (``ConversationResumed``, appended by the agent console): what the shopper wrote while a person held
    the conversation was that person's to answer, so an angry message sent to the agent does not count
    towards handing over again once the bot is back.

    Each turn also records the bot's answer to it (``bot_actions``, ``bot_texts``, ``bot_responses``,
    ``bot_unnamed_messages``) and whether that answer completed a task: ``task_completed_slot`` (when
    given) set to a true value after the message.
    """
    labels = set(anger_labels)
    turns: List[UserTurn] = []
    bot_actions: List[str] = []
    bot_texts: List[str] = []
    bot_responses: List[str] = []
    unnamed = 0
    completed = False
    active_loop: Optional[str] = None

    def reset_answer() -> None:
        nonlocal unnamed, completed
        bot_actions.clear()
        bot_texts.clear()
        bot_responses.clear()
        unnamed, completed = 0, False

    def close_turn() -> None:
        if turns and (bot_actions or bot_texts or bot_responses or unnamed or completed):
            last = turns[-1]
            turns[-1] = replace(
                last,
                bot_actions=last.bot_actions + tuple(bot_actions),
                bot_texts=last.bot_texts + tuple(bot_texts),
                bot_responses=last.bot_responses + tuple(bot_responses),
                bot_unnamed_messages=last.bot_unnamed_messages + unnamed,
                completed_task=last.completed_task or completed,
            )
        reset_answer()

    for event in events:
        if isinstance(event, (Restarted, SessionStarted)):
            turns, active_loop = [], None
            reset_answer()
        elif isinstance(event, ConversationResumed):
            turns = []
            reset_answer()
        elif isinstance(event, ActiveLoop):
            active_loop = event.name
        elif isinstance(event, UserUttered):
            close_turn()
            turns.append(_turn_from_event(event, labels, active_loop))
        elif isinstance(event, BotUttered):
            if event.text:
                bot_texts.append(event.text)
            # a response a custom action sent (action_answer_from_knowledge's utter_default) counts like
            # the same response run as an action: Rasa names it in the message's metadata
            response = (event.metadata or {}).get("utter_action")
            if isinstance(response, str) and response:
                bot_actions.append(response)
                bot_responses.append(response)
            else:
                unnamed += 1
        elif isinstance(event, SlotSet):
            if task_completed_slot and event.key == task_completed_slot and event.value and turns:
                completed = True
        elif isinstance(event, ActionExecuted):
            name = event.action_name
            if name == handoff_action:
                turns = []
                reset_answer()
            elif name and name != ACTION_LISTEN_NAME:
                bot_actions.append(name)
                if name.startswith(RESPONSE_PREFIX):
                    bot_responses.append(name)
    close_turn()
    return turns


def is_start_of_user_turn(events: Sequence[Event]) -> bool:
    """True when no action has run since the latest user message (the turn's first prediction).

    Slot, loop and rejection events in between are transparent: a rejected form in the same turn is
    still the same decision point.
    """
    for event in reversed(events):
        if isinstance(event, UserUttered):
            return True
        if isinstance(event, ActionExecuted):
            return False
    return False


def last_bot_action_before_latest_message(events: Sequence[Event]) -> Optional[str]:
    """Name of the last action other than ``action_listen`` before the latest user message.

    None when there is none in the current session, or when the conversation was resumed
    (``ConversationResumed``: an agent handed it back) after that action: the bot is then answering
    afresh, whatever it did before the person took over.
    """
    seen_user = False
    for event in reversed(events):
        if isinstance(event, UserUttered):
            seen_user = True
        elif seen_user and isinstance(event, ActionExecuted):
            if event.action_name and event.action_name != ACTION_LISTEN_NAME:
                return event.action_name
        elif isinstance(event, (Restarted, SessionStarted)):
            return None
        elif seen_user and isinstance(event, ConversationResumed):
            return None
    return None


def carried_over_handoff(events: Sequence[Event], handoff_action: str) -> Optional[Dict[str, Any]]:
    """Evidence that a handoff from an earlier session is still open in the current one, else None.

    Replays the events once: a ``ConversationPaused`` whose latest preceding action is the handoff action
    opens a handoff; ``ConversationResumed`` (hand-back or close in the agent console) and ``Restarted``
    end it; a ``SessionStarted`` after an open handoff carries it into the new session, until the handoff
    action runs there (which pauses again, or tried to). Returns the timestamps of the pause and of the
    new session's start (JSON-serialisable, for the action metadata).
    """
    pause: Optional[ConversationPaused] = None
    carried_into: Optional[SessionStarted] = None
    handoff_ran_in_session = False
    last_action: Optional[str] = None
    for event in events:
        if isinstance(event, ActionExecuted):
            last_action = event.action_name
            handoff_ran_in_session = handoff_ran_in_session or last_action == handoff_action
        elif isinstance(event, ConversationPaused):
            if last_action == handoff_action:
                pause, carried_into = event, None
        elif isinstance(event, (ConversationResumed, Restarted)):
            pause, carried_into = None, None
        elif isinstance(event, SessionStarted):
            handoff_ran_in_session = False
            if pause is not None:
                carried_into = event
    if pause is None or carried_into is None or handoff_ran_in_session:
        return None
    return {"paused_at": pause.timestamp, "session_started_at": carried_into.timestamp}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class HandoffPolicy(ConfigOnlyPolicy):
    """Predicts the handoff action when the conversation should go to a person (see module doc)."""

    persisted_file = PERSISTED_FILE
    format_version = FORMAT_VERSION

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """Every parameter of the policy, with its default."""
        return {
            # Ensemble priority. RulePolicy has 4 (Memoization 3, TED 1); with one more, a firing
            # handoff wins the tie against a rule predicted with the same confidence (1.0).
            POLICY_PRIORITY: RULE_POLICY_PRIORITY + 1,
            # Confidence of a handoff prediction. 1.0 ties with rules, so `priority` decides.
            "prediction_confidence": 1.0,
            # The action predicted when a trigger fires (must be in the domain).
            "handoff_action": "action_handoff",
            # Slot that receives the name of the trigger that fired (text slot, should not influence
            # the conversation). null: set nothing. Only set when the slot exists in the domain.
            "handoff_reason_slot": "handoff_reason",
            # Slot that marks a handoff as active (set by the handoff action / agent console); while it
            # is truthy the policy never fires. null: only "last action was the handoff" is checked.
            "handoff_active_slot": "handoff_active",
            # Enabled triggers; their order is the precedence when several fire at once. Leaving out
            # `open_handoff_carried_over` lets the bot answer again when a new Rasa session starts while
            # a person still holds the conversation.
            "triggers": list(ALL_TRIGGERS),
            # Triggers that may fire while a form (active loop) is collecting a value
            # (`open_handoff_carried_over` always may, when enabled).
            "triggers_in_active_loop": [EXPLICIT_REQUEST],
            # When firing inside an active loop, also deactivate it (ActiveLoop(None) and
            # requested_slot=None), so the form does not ask its question again after the handoff.
            "deactivate_active_loop": True,
            # Intents on which the policy never fires (Rasa's default intents run default actions).
            "ignored_intents": [USER_INTENT_RESTART, USER_INTENT_BACK, USER_INTENT_SESSION_START],
            # Predict `action_restart` for a `/restart` that follows the paused handoff (no action_listen in
            # between, so RulePolicy's default restart rule does not apply): /restart always starts over.
            "restart_after_pause": True,
            # --- explicit_request ---
            "explicit_request_intents": ["request_human"],
            "explicit_request_threshold": 0.5,
            # Regular expressions (case-insensitive) on the message text that count as a request too,
            # for when the intent classifier misses it. [] disables.
            "explicit_request_patterns": [
                r"\b(talk|speak|chat)\s+(to|with)\s+(a|an|some|your|real)?\s*"
                r"(real\s+|live\s+)?(human|person|agent|representative|operator)\b",
                r"\b(human|live|real)\s+(agent|operator|representative)\b",
                # "could you get someone from customer service to look at this", "put me through to your team"
                r"\b(get|put\s+me\s+through\s+to|connect\s+me\s+(to|with)|transfer\s+me\s+to|pass\s+me\s+to)\s+"
                r"(someone|somebody|a\s+person|a\s+human|an?\s+agent|a\s+colleague|your\s+team|"
                r"customer\s+(service|support|care))\b",
                r"\b(someone|somebody|a\s+person|a\s+human)\s+(from|in|at)\s+(your\s+|the\s+)?"
                r"(customer\s+(service|support|care)|support|team|staff)\b",
            ],
            # Texts that say the shopper does NOT want a person ("no thanks, don't need a human"): the
            # explicit trigger ignores messages that match one of these (case-insensitive).
            "explicit_request_negations": [
                r"\b(don'?t|do\s+not|no\s+need\s+(for|to)|not)\s+(need|want|looking\s+for)?\s*"
                r"(a|an|to\s+(talk|speak)\s+(to|with)\s+a)?\s*(human|person|agent|real\s+person|someone)\b",
            ],
            # --- sensitive_topic ---
            # Intents that always go to a person (e.g. a future `report_fraud`). [] : text patterns only.
            "sensitive_intents": [],
            "sensitive_intent_threshold": 0.5,
            # The NLU's sensitive-topic head (``parse_data["sensitive"]``): a label other than these
            # "nothing sensitive" labels with at least this confidence fires. It generalises beyond the
            # patterns below (calmly described fraud, injuries, allergic reactions, legal threats,
            # harassment, data leaks, a deceased account holder). null disables it.
            "sensitive_model_threshold": 0.5,
            "sensitive_none_labels": ["none"],
            # What is compared with `sensitive_model_threshold`: "top_label" (the head's top label, when
            # it is a topic) or "any_topic" (the sum of all topics' confidences, i.e. 1 - P(nothing
            # sensitive), with the likeliest topic as the reason). The question is whether a person is
            # needed, not which topic: "a purchase on my profile that I did not make" read as fraud 0.48, none
            # 0.49, bereavement 0.01 is more likely sensitive than not. Without a ranking in the parse
            # data both read the top label.
            "sensitive_model_score": "any_topic",
            # A pattern match below is ignored when the sensitive head is at least this sure the message
            # is about nothing sensitive ("read a novel about a shopping scam last week"). null:
            # patterns always fire. 0.9 since the head trains with sqrt_balanced class weights (2026-12-06),
            # which moved probability from "none" to the topics: that very example read none 0.94.
            "sensitive_pattern_veto": 0.9,
            # Regular expressions (case-insensitive) on the message text.
            "sensitive_patterns": [
                r"\bfraud\w*",
                r"\bcharge[\s-]?backs?\b",
                r"\bstolen\s+(credit\s+|debit\s+|bank\s+)?cards?\b",
                r"\b(card|account|identity)\s+(was\s+|has\s+been\s+|got\s+)?(stolen|hacked|compromised)\b",
                r"\bunauthori[sz]ed\s+(charges?|payments?|transactions?|purchases?|orders?|debits?)\b",
                r"\bidentity\s+theft\b",
                r"\bdisput(e|ed|ing)\s+(a|the|this|that|my)?\s*(charge|payment|transaction)s?\b",
                r"\b(didn'?t|did\s+not|never)\s+(make|place|authori[sz]e)\s+"
                r"(this|that|these|those|the|any)\s+(purchase|order|payment|charge)s?\b",
                r"\bscam(med|mer)?\b",
            ],
            # --- anger_sustained / anger_rising (emotion classifier) ---
            # Emotion labels that count as anger.
            "anger_labels": ["anger"],
            # Anger confidence at or above which a user turn counts as angry.
            "anger_threshold": 0.55,
            # k of the last n user turns: `anger_min_turns` of the last `anger_window`.
            "anger_window": 3,
            "anger_min_turns": 2,
            # The latest user turn must itself be angry (a shopper who calmed down is left alone).
            "anger_require_latest": True,
            # Regular expressions (case-insensitive) for a shopper saying they are angry: a matching turn
            # counts as angry whatever the emotion head scored ("very bad quality, i am really angry now"
            # read as sadness). A negation between the pronoun and the word ("I'm not angry") does not
            # match. [] disables.
            "anger_patterns": [
                r"\b(i\s*(am|'m|m)|i\s+feel|i\s*'?ve\s+(got|become)|(it|this|that|you)\s+(makes?|made|making)\s+me|"
                r"(getting|got|am\s+getting|'m\s+getting))\s+(so\s+|really\s+|very\s+|extremely\s+|absolutely\s+|"
                r"completely\s+|bloody\s+|fucking\s+|beyond\s+|more\s+than\s+)?"
                r"(angry|furious|livid|pissed(\s+off)?|fuming|outraged|enraged|irate|raging|mad(?!\s+about))\b",
            ],
            # Intents that count as an angry turn (with at least `escalation_intent_threshold`) when they
            # follow a turn of the window that is angry by the emotion score: a complaint after an angry
            # message is an escalating grievance, whatever emotion its wording reads as.
            "escalation_intents": ["complaint"],
            "escalation_intent_threshold": 0.5,
            # Rising anger: over the last `anger_rising_turns` user turns the anger score rises by at
            # least `anger_rising_min_step` at every turn and ends at or above the final threshold.
            "anger_rising_turns": 3,
            "anger_rising_min_step": 0.1,
            "anger_rising_final_threshold": 0.5,
            # --- repeated_fallback ---
            # Failed user turns needed (the latest must be one of them) ...
            "fallback_turns": 3,
            # ... among this many latest user turns (equal to `fallback_turns`: consecutive failures
            # only). 4: one understood turn in between (a "hello?" after three misunderstandings)
            # does not reset the count.
            "fallback_window": 4,
            # A message with one of these intents right after `fallback_turns` failed turns in a row counts
            # as the latest failed turn ("??? hello" after three misunderstandings: is anyone there?). A
            # greeting is small talk, not a sign the bot understood. [] : greetings never count.
            "fallback_greeting_intents": ["greet"],
            # Intents that mean "not understood": FallbackClassifier's intent, out_of_scope (where the
            # shop's NLU data puts keyboard mash) and other_language (a language the bot does not speak).
            "fallback_intents": [DEFAULT_NLU_FALLBACK_INTENT_NAME, "out_of_scope", "other_language"],
            # Bot actions that mean "not understood" (answers to earlier turns).
            "fallback_actions": [
                ACTION_DEFAULT_FALLBACK_NAME,
                ACTION_TWO_STAGE_FALLBACK_NAME,
                "utter_default",
            ],
            # A turn whose intent confidence is below this counts as failed too. 0.0 disables.
            "low_confidence_threshold": 0.5,
            # No-op replies: responses that say nothing about the message ("Okay! Let me know what you'd
            # like to do next.", which action_handle_confirmation sends for a yes/no when no question is
            # open). An earlier turn whose answer consisted only of these (no other response, no other bot
            # message) counts as failed: "it won't do the thing" read as `deny` (0.6) and answered "Okay!"
            # was not understood, however sure the NLU was. [] disables. The latest turn is still judged by
            # its own NLU (the bot has not answered it yet).
            "noop_responses": ["utter_ok"],
            # ... unless the turn's intent is one of these: "ok" / "thanks" / "bye" / "hi" answered with
            # "Okay!" is fine.
            "noop_exempt_intents": ["affirm", "thank", "goodbye", "greet"],
            # ... or one of these and the message has at most `noop_short_max_words` words: a plain "no",
            # "nope", "no thanks", "I'd rather not" with nothing to refuse is no misunderstanding. A longer
            # deny says what is wrong ("no, that's not what I meant", "it won't do the thing"), and "Okay!"
            # does not answer it. 3 splits the deny examples of data/nlu/chitchat.yml that way: the 1-3
            # word ones are plain refusals, most of 4+ words say the bot got it wrong. Buttons (`/deny`
            # payloads) are never counted: the NLU cannot misread them.
            "noop_short_exempt_intents": ["deny"],
            "noop_short_max_words": 3,
            # --- repeated_request ---
            # The same request this many times in a row (ignored intents skipped) ...
            "repeat_min_count": 3,
            # ... within this many latest user turns.
            "repeat_window": 4,
            # Also a repeated request: the bot gave the same answer (same text) to the two previous messages
            # and the shopper asks again (any intent but the ignored ones): the answer did not help, and
            # however the NLU labels the third try, the bot would only say it once more.
            "repeat_same_answer": True,
            # Also a repeated request: the latest message failed (as for repeated_fallback) and it and each
            # of the `repeat_min_count` - 1 messages before it share at least this many content words, none
            # of those turns completed a task and none was a button. "never got the welcome code from the
            # newsletter" answered with a page, "still no code from the newsletter" answered with another,
            # then "I did NOT receive my welcome code" not understood: the shopper restated one request
            # in new words and the NLU labelled it differently each time. 0 disables.
            "repeat_restated_min_shared_words": 2,
            # Groups of intents that count as the same request ("where is my parcel?" and "has it been
            # lost?" are one unanswered request whichever of the two the NLU picks each time).
            "repeat_equivalent_intents": [
                ["order_status", "delivery_problem"],
                ["request_refund", "refund_status"],
            ],
            # A request restated after a misunderstanding is a repeated request too ("change the size on my
            # order" -> generic answer; "no, the SIZE" -> nlu_fallback; "can you change my order" ->
            # order_status 0.68: asked three times). Walking back from the latest message (a request:
            # not one of `repeat_ignored_intents`) over the last `repeat_window` turns:
            #   * an earlier request counts when it is the same request (as above), or a related one (same
            #     group of `repeat_related_intents`, no conflicting entity values) while the latest message
            #     is below `repeat_related_max_confidence` (the NLU was unsure of the new wording);
            #   * failed turns (see repeated_fallback: a fallback intent, low confidence, a fallback or
            #     no-op answer) between two counted requests count as restatements; low confidence alone
            #     does not, inside a form (the form takes a value whatever the intent's confidence);
            #   * other ignored intents are skipped; any other request, or a turn whose answer completed a
            #     task (`task_completed_slot`), ends the walk.
            # It fires at `repeat_min_count` counted turns when at least one of them failed (a run
            # without a misunderstanding is the plain rule's business). false: the plain rule only.
            "repeat_count_failed_turns": True,
            # Groups of intents that the NLU mixes up when a shopper rewords one request about an order or
            # a payment. Product intents are left out on purpose: a search followed by a question about a
            # product it listed is progress, not a restated request.
            "repeat_related_intents": [
                [
                    "order_status",
                    "delivery_problem",
                    "change_order",
                    "change_shipping_address",
                    "cancel_order",
                    "return_item",
                    "request_refund",
                    "refund_status",
                ],
                ["payment_issue", "payment_methods"],
                ["delivery_options", "delivery_time"],
            ],
            # A latest message at or above this confidence is understood: a different intent, even of the
            # same group, is then a new request ("cancel it" done, then "where is my other order?").
            "repeat_related_max_confidence": 0.8,
            # Slot the shop's actions set to true when they completed a task (an order answered, a return or
            # cancellation done, a product found). A turn answered that way ends the search for a
            # restated request: the shopper got something done and asks the next thing. null: not used.
            "task_completed_slot": "task_completed",
            # Intents that are answers or small talk, not requests: skipped when looking for repeats.
            "repeat_ignored_intents": [
                "affirm",
                "deny",
                "inform",
                "greet",
                "goodbye",
                "thank",
                "bot_challenge",
                "out_of_scope",
                "other_language",
                "request_human",
                DEFAULT_NLU_FALLBACK_INTENT_NAME,
            ],
        }

    def __init__(
        self,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer: Any = None,
    ) -> None:
        """Validates the config and compiles the text patterns."""
        config = {**self.get_default_config(), **config}
        super().__init__(config, model_storage, resource, execution_context, featurizer=featurizer)
        self._validate_config(self.config)
        self._explicit_patterns = self._compile(self.config["explicit_request_patterns"])
        self._explicit_negations = self._compile(self.config["explicit_request_negations"])
        self._sensitive_patterns = self._compile(self.config["sensitive_patterns"])
        self._anger_patterns = self._compile(self.config["anger_patterns"])
        self._warned: Set[str] = set()

    # ------------------------------------------------------------------ config & persistence

    @staticmethod
    def _compile(patterns: Sequence[str]) -> List[re.Pattern]:
        return [re.compile(pattern, re.IGNORECASE) for pattern in patterns]

    @classmethod
    def _validate_config(cls, config: Dict[str, Any]) -> None:
        def fail(message: str) -> None:
            raise InvalidConfigException(f"{cls.__name__}: {message}")

        if not config.get("handoff_action"):
            fail("`handoff_action` must name an action of the domain.")
        for key in ("triggers", "triggers_in_active_loop"):
            unknown = set(config[key]) - set(ALL_TRIGGERS)
            if unknown:
                fail(f"unknown trigger(s) in `{key}`: {sorted(unknown)}; known: {list(ALL_TRIGGERS)}.")
        for key in (
            "prediction_confidence",
            "explicit_request_threshold",
            "sensitive_intent_threshold",
            "anger_threshold",
            "anger_rising_min_step",
            "escalation_intent_threshold",
            "anger_rising_final_threshold",
            "low_confidence_threshold",
            "repeat_related_max_confidence",
        ):
            value = config[key]
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                fail(f"`{key}` must be a number between 0 and 1, got {value!r}.")
        for key, minimum in (
            ("anger_window", 1),
            ("anger_min_turns", 1),
            ("anger_rising_turns", 2),
            ("fallback_turns", 1),
            ("fallback_window", 1),
            ("repeat_min_count", 2),
            ("repeat_window", 2),
            ("noop_short_max_words", 0),
            ("repeat_restated_min_shared_words", 0),
        ):
            value = config[key]
            if not isinstance(value, int) or value < minimum:
                fail(f"`{key}` must be an integer >= {minimum}, got {value!r}.")
        for key in ("sensitive_model_threshold", "sensitive_pattern_veto"):
            value = config[key]
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            if value is not None and not (numeric and 0.0 <= value <= 1.0):
                fail(f"`{key}` must be null or a number between 0 and 1, got {value!r}.")
        score_kind = config["sensitive_model_score"]
        if score_kind not in ("top_label", "any_topic"):
            fail(f"`sensitive_model_score` must be top_label or any_topic, got {score_kind!r}.")
        if config["anger_min_turns"] > config["anger_window"]:
            fail("`anger_min_turns` cannot exceed `anger_window`.")
        if config["fallback_turns"] > config["fallback_window"]:
            fail("`fallback_turns` cannot exceed `fallback_window`.")
        if config["repeat_min_count"] > config["repeat_window"]:
            fail("`repeat_min_count` cannot exceed `repeat_window`.")
        for key in ("explicit_request_patterns", "explicit_request_negations", "sensitive_patterns",
                    "anger_patterns"):
            for pattern in config[key]:
                try:
                    re.compile(pattern)
                except (re.error, TypeError) as error:
                    fail(f"invalid regular expression in `{key}`: {pattern!r} ({error}).")

    def train(
        self,
        training_trackers: List[TrackerWithCachedStates],
        domain: Domain,
        **kwargs: Any,
    ) -> Resource:
        """Nothing to learn: checks the handoff action exists and stores the config."""
        if self.config["handoff_action"] not in domain.action_names_or_texts:
            logger.warning(
                f"{self.__class__.__name__}: the handoff action '{self.config['handoff_action']}' is "
                f"not in the domain; the policy will never predict it."
            )
        self.persist()
        return self._resource

    # ------------------------------------------------------------------ prediction

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """Predicts the handoff action when a trigger fires, otherwise all zeros."""
        probabilities = self._default_predictions(domain)
        handoff_action = self.config["handoff_action"]
        if handoff_action not in domain.action_names_or_texts:
            self._warn_once(
                "missing_action",
                f"{self.__class__.__name__}: '{handoff_action}' is not in the domain; not predicting.",
            )
            return self._prediction(probabilities)

        if self.config["restart_after_pause"] and self.restart_without_listen(tracker):
            probabilities[domain.index_for_action(ACTION_RESTART_NAME)] = float(
                self.config["prediction_confidence"]
            )
            return self._prediction(probabilities, is_no_user_prediction=tracker.active_loop_name is not None)

        decision = self.decide(tracker)
        if decision is None:
            return self._prediction(probabilities)

        probabilities[domain.index_for_action(handoff_action)] = float(self.config["prediction_confidence"])
        in_loop = tracker.active_loop_name is not None
        optional_events: List[Event] = []
        if in_loop and self.config["deactivate_active_loop"]:
            optional_events += [ActiveLoop(None), SlotSet(REQUESTED_SLOT, None)]
        reason_slot = self.config["handoff_reason_slot"]
        if reason_slot:
            if any(slot.name == reason_slot for slot in domain.slots):
                optional_events.append(SlotSet(reason_slot, decision.trigger))
            else:
                self._warn_once(
                    "missing_slot",
                    f"{self.__class__.__name__}: slot '{reason_slot}' is not in the domain; the "
                    f"handoff reason is only recorded in the action metadata.",
                )
        logger.debug(f"{self.__class__.__name__}: handoff ({decision.trigger}); fired {decision.fired}.")
        return self._prediction(
            probabilities,
            optional_events=optional_events,
            # Inside a loop RulePolicy's happy-path prediction is a "no user" prediction, which the
            # ensemble prefers over all others; competing in that class lets priority decide.
            is_no_user_prediction=in_loop,
            diagnostic_data={METADATA_REASON: decision.trigger, METADATA_DETAILS: decision.details},
            action_metadata={
                METADATA_REASON: decision.trigger,
                METADATA_TRIGGERS: list(decision.fired),
                METADATA_DETAILS: decision.details,
            },
        )

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message)

    @staticmethod
    def restart_without_listen(tracker: DialogueStateTracker) -> bool:
        """True for a ``/restart`` that RulePolicy's default rule cannot see: the first prediction after it,
        and the bot's latest action was not ``action_listen`` (the handoff action paused the bot)."""
        latest = tracker.latest_message
        return (
            latest is not None
            and latest.intent.get(INTENT_NAME_KEY) == USER_INTENT_RESTART
            and is_start_of_user_turn(list(tracker.events))
            and tracker.latest_action_name not in (None, ACTION_LISTEN_NAME)
        )

    def decide(self, tracker: DialogueStateTracker) -> Optional[HandoffDecision]:
        """Checks the triggers on the latest user message; None when the policy should not fire."""
        events = list(tracker.events)
        if not is_start_of_user_turn(events) or tracker.is_paused():
            return None
        turns = user_turns_since_last_handoff(
            events,
            self.config["handoff_action"],
            self.config["anger_labels"],
            self.config["task_completed_slot"],
        )
        if not turns or turns[-1].intent in set(self.config["ignored_intents"]):
            return None

        allowed = self._allowed_triggers(tracker)
        carried_over = (
            carried_over_handoff(events, self.config["handoff_action"])
            if OPEN_HANDOFF_CARRIED_OVER in allowed
            else None
        )
        # A carried-over handoff is active by definition; the other triggers wait until it is over.
        if carried_over is None and self._handoff_active(tracker, events):
            return None

        fired: List[str] = []
        details: Dict[str, Any] = {}
        for trigger in allowed:
            if trigger == OPEN_HANDOFF_CARRIED_OVER:
                evidence = carried_over
            else:
                evidence = self._check(trigger, turns)
            if evidence is not None:
                fired.append(trigger)
                details[trigger] = evidence
        if not fired:
            return None
        return HandoffDecision(trigger=fired[0], fired=fired, details=details)

    def _allowed_triggers(self, tracker: DialogueStateTracker) -> List[str]:
        """The enabled triggers, in precedence order; inside an active loop only those allowed there
        (a carried-over handoff always is: a person holds the conversation, whatever the form asked)."""
        allowed = list(self.config["triggers"])
        if tracker.active_loop_name is None:
            return allowed
        in_loop = set(self.config["triggers_in_active_loop"]) | {OPEN_HANDOFF_CARRIED_OVER}
        return [trigger for trigger in allowed if trigger in in_loop]

    def _handoff_active(self, tracker: DialogueStateTracker, events: Sequence[Event]) -> bool:
        if tracker.is_paused():
            return True
        slot = self.config["handoff_active_slot"]
        if slot and slot in tracker.slots and tracker.slots[slot].value:
            return True
        return last_bot_action_before_latest_message(events) == self.config["handoff_action"]

    def _check(self, trigger: str, turns: List[UserTurn]) -> Optional[Dict[str, Any]]:
        checks = {
            EXPLICIT_REQUEST: self._explicit_request,
            SENSITIVE_TOPIC: self._sensitive_topic,
            ANGER_SUSTAINED: self._anger_sustained,
            ANGER_RISING: self._anger_rising,
            REPEATED_FALLBACK: self._repeated_fallback,
            REPEATED_REQUEST: self._repeated_request,
        }
        return checks[trigger](turns)

    # ------------------------------------------------------------------ triggers
    # Each returns JSON-serialisable evidence when it fires, None otherwise.

    @staticmethod
    def _matching_pattern(patterns: Sequence[re.Pattern], turn: UserTurn) -> Optional[str]:
        if turn.is_intent_payload or not turn.text:
            return None
        for pattern in patterns:
            if pattern.search(turn.text):
                return pattern.pattern
        return None

    def _explicit_request(self, turns: List[UserTurn]) -> Optional[Dict[str, Any]]:
        latest = turns[-1]
        if self._matching_pattern(self._explicit_negations, latest) is not None:
            return None
        if (
            latest.intent in self.config["explicit_request_intents"]
            and latest.confidence >= self.config["explicit_request_threshold"]
        ):
            return {"intent": latest.intent, "confidence": latest.confidence}
        pattern = self._matching_pattern(self._explicit_patterns, latest)
        if pattern is not None:
            return {"pattern": pattern}
        return None

    def _sensitive_topic(self, turns: List[UserTurn]) -> Optional[Dict[str, Any]]:
        latest = turns[-1]
        if (
            latest.intent in self.config["sensitive_intents"]
            and latest.confidence >= self.config["sensitive_intent_threshold"]
        ):
            return {"intent": latest.intent, "confidence": latest.confidence}
        threshold = self.config["sensitive_model_threshold"]
        topic, score = self._sensitive_score(latest)
        if threshold is not None and topic and not latest.is_intent_payload and score >= float(threshold):
            return {"topic": topic, "confidence": round(score, 3)}
        veto = self.config["sensitive_pattern_veto"]
        if (
            veto is not None
            and latest.sensitive in set(self.config["sensitive_none_labels"])
            and latest.sensitive_confidence >= float(veto)
        ):
            return None
        pattern = self._matching_pattern(self._sensitive_patterns, latest)
        if pattern is not None:
            return {"pattern": pattern}
        return None

    def _sensitive_score(self, turn: UserTurn) -> Tuple[Optional[str], float]:
        """(topic, score) of the sensitive head for ``turn`` by `sensitive_model_score`; topic None when
        the head saw nothing sensitive or gave no output."""
        none_labels = set(self.config["sensitive_none_labels"])
        topics = [(label, conf) for label, conf in turn.sensitive_ranking if label not in none_labels]
        if self.config["sensitive_model_score"] == "any_topic" and topics:
            best = max(topics, key=lambda item: item[1])[0]
            return best, sum(conf for _, conf in topics)
        if turn.sensitive and turn.sensitive not in none_labels:
            return turn.sensitive, turn.sensitive_confidence
        return None, 0.0

    def _anger_sustained(self, turns: List[UserTurn]) -> Optional[Dict[str, Any]]:
        threshold = self.config["anger_threshold"]
        window_turns = turns[-self.config["anger_window"] :]
        window = [turn.anger for turn in window_turns]
        angry_flags = [self._angry(turn, threshold) for turn in window_turns]
        angry = sum(angry_flags)
        escalation = set(self.config["escalation_intents"])
        first_angry = next((i for i, flag in enumerate(angry_flags) if flag), len(window))

        def counts(index: int) -> bool:
            turn = window_turns[index]
            if angry_flags[index]:
                return True
            # a complaint counts only after an angry turn: the grievance goes on, it is not the opening
            return (
                index > first_angry
                and turn.intent in escalation
                and turn.confidence >= self.config["escalation_intent_threshold"]
            )

        if self.config["anger_require_latest"] and not counts(len(window_turns) - 1):
            return None
        counted = sum(counts(i) for i in range(len(window_turns)))
        if counted >= self.config["anger_min_turns"]:
            details: Dict[str, Any] = {
                "angry_turns": angry,
                "window": len(window),
                "scores": [round(s, 3) for s in window],
            }
            if counted > angry:
                details["escalating_complaints"] = counted - angry
            said = sum(flag and score < threshold for flag, score in zip(angry_flags, window, strict=True))
            if said:
                details["said_angry"] = said
            return details
        return None

    def _angry(self, turn: UserTurn, threshold: float) -> bool:
        """The emotion head scored anger at or above ``threshold``, or the shopper said so
        (`anger_patterns`; never for button payloads)."""
        if turn.anger >= threshold:
            return True
        return not turn.is_intent_payload and self._matching_pattern(self._anger_patterns, turn) is not None

    def _anger_rising(self, turns: List[UserTurn]) -> Optional[Dict[str, Any]]:
        length = self.config["anger_rising_turns"]
        if len(turns) < length:
            return None
        scores = [turn.anger for turn in turns[-length:]]
        step = self.config["anger_rising_min_step"]
        rising = all(later - earlier >= step for earlier, later in zip(scores, scores[1:], strict=False))
        if rising and scores[-1] >= self.config["anger_rising_final_threshold"]:
            return {"scores": [round(s, 3) for s in scores]}
        return None

    def _turn_failed(self, turn: UserTurn, in_form_low_confidence: bool = True) -> bool:
        """The turn was not understood: a fallback intent, low confidence (unless
        ``in_form_low_confidence`` is false and a form was active), a fallback answer or a no-op reply."""
        low = turn.confidence < self.config["low_confidence_threshold"]
        if low and not in_form_low_confidence and turn.active_loop is not None:
            low = False
        return (
            turn.intent is None
            or turn.intent in self.config["fallback_intents"]
            or low
            or any(action in self.config["fallback_actions"] for action in turn.bot_actions)
            or self._noop_reply(turn)
        )

    def _noop_reply(self, turn: UserTurn) -> bool:
        """The bot answered the turn only with `noop_responses` and the turn is not exempt (see config)."""
        noop = set(self.config["noop_responses"])
        if not noop or not turn.bot_responses or turn.bot_unnamed_messages:
            return False
        if not set(turn.bot_responses) <= noop:
            return False
        if turn.is_intent_payload or turn.intent in set(self.config["noop_exempt_intents"]):
            return False
        short = len(WORD.findall(turn.text)) <= self.config["noop_short_max_words"]
        return not (short and turn.intent in set(self.config["noop_short_exempt_intents"]))

    def _repeated_fallback(self, turns: List[UserTurn]) -> Optional[Dict[str, Any]]:
        window = turns[-self.config["fallback_window"] :]
        if not window:
            return None
        greeting_after_failures = self._greeting_after_failures(turns)
        if not greeting_after_failures and not self._turn_failed(window[-1]):
            return None
        failed = [turn for turn in window if greeting_after_failures and turn is window[-1]
                  or self._turn_failed(turn)]
        if len(failed) >= self.config["fallback_turns"]:
            intents = [turn.intent for turn in window]
            details: Dict[str, Any] = {"failed_turns": len(failed), "window": len(window), "intents": intents}
            noop = sum(self._noop_reply(turn) for turn in window)
            if noop:
                details["noop_replies"] = noop
            if greeting_after_failures:
                details["greeting_after_failures"] = True
            return details
        return None

    def _greeting_after_failures(self, turns: List[UserTurn]) -> bool:
        """The latest turn is a greeting (`fallback_greeting_intents`, not a button) that follows
        `fallback_turns` failed turns in a row."""
        needed = self.config["fallback_turns"]
        latest = turns[-1]
        if latest.is_intent_payload or latest.intent not in set(self.config["fallback_greeting_intents"]):
            return False
        earlier = turns[-needed - 1 : -1]
        return len(earlier) == needed and all(self._turn_failed(turn) for turn in earlier)

    def _related(self, earlier: UserTurn, latest: UserTurn) -> bool:
        """Same `repeat_related_intents` group, the latest message below `repeat_related_max_confidence`,
        and no conflicting entity values."""
        if latest.confidence >= self.config["repeat_related_max_confidence"]:
            return False
        if not any(
            earlier.intent in group and latest.intent in group
            for group in self.config["repeat_related_intents"]
        ):
            return False
        return self._entities_agree(earlier, latest)

    def _same_request(self, first: UserTurn, second: UserTurn) -> bool:
        """Same (or equivalent) intent and no entity type (and role) given two different values."""
        equivalent = self.config["repeat_equivalent_intents"]
        if request_key(first.intent, equivalent) != request_key(second.intent, equivalent):
            return False
        return self._entities_agree(first, second)

    @staticmethod
    def _entities_agree(first: UserTurn, second: UserTurn) -> bool:
        """No entity type (and role) given two different values in the two turns."""
        values_a: Dict[Tuple[str, Any], Set[str]] = {}
        values_b: Dict[Tuple[str, Any], Set[str]] = {}
        for values, turn in ((values_a, first), (values_b, second)):
            for entity_type, role, value in turn.entities:
                values.setdefault((entity_type, role), set()).add(value)
        return all(values_a[key] == values_b[key] for key in values_a.keys() & values_b.keys())

    def _repeated_request(self, turns: List[UserTurn]) -> Optional[Dict[str, Any]]:
        restated = self._restated_in_words(turns)
        if restated is not None:
            return restated
        ignored = set(self.config["repeat_ignored_intents"])
        latest = turns[-1]
        if latest.intent is None or latest.intent in ignored:
            return None
        count = 0
        for turn in reversed(turns[-self.config["repeat_window"] :]):
            if turn.intent is None or turn.intent in ignored:
                continue
            if not self._same_request(turn, latest):
                break
            count += 1
        if count >= self.config["repeat_min_count"]:
            return {"intent": latest.intent, "times": count}
        if self.config["repeat_count_failed_turns"]:
            restated = self._restated_request(turns)
            if restated is not None:
                return restated
        if self.config["repeat_same_answer"] and len(turns) >= 3:
            before, previous = turns[-3].bot_texts, turns[-2].bot_texts
            if before and before == previous:
                return {"intent": latest.intent, "same_answer_twice": True}
        return None

    def _restated_in_words(self, turns: List[UserTurn]) -> Optional[Dict[str, Any]]:
        """The latest message failed and restates the previous ones in words
        (`repeat_restated_min_shared_words`, see the config)."""
        needed_words = self.config["repeat_restated_min_shared_words"]
        run = turns[-self.config["repeat_min_count"] :]
        if not needed_words or len(run) < self.config["repeat_min_count"]:
            return None
        latest = run[-1]
        if latest.is_intent_payload or not self._turn_failed(latest):
            return None
        if any(turn.completed_task or turn.is_intent_payload for turn in run[:-1]):
            return None
        if all(self._turn_failed(turn) for turn in run[:-1]):
            return None  # nothing but misunderstandings: repeated_fallback's business (`fallback_turns`)
        latest_words = set(content_words(latest.text))
        shared = [latest_words & set(content_words(turn.text)) for turn in run[:-1]]
        if all(len(words) >= needed_words for words in shared):
            return {
                "intent": latest.intent,
                "times": len(run),
                "restated_in_words": sorted(set.intersection(*shared) if shared else set()),
                "intents": [turn.intent for turn in run],
            }
        return None

    def _restated_request(self, turns: List[UserTurn]) -> Optional[Dict[str, Any]]:
        """A request asked again after failed turns (`repeat_count_failed_turns`, see the config)."""
        ignored = set(self.config["repeat_ignored_intents"])
        window = turns[-self.config["repeat_window"] :]
        latest = window[-1]
        count, pending = 1, 0
        start = len(window) - 1  # the earliest turn of the run counted so far
        for index in range(len(window) - 2, -1, -1):
            turn = window[index]
            if turn.completed_task:
                break
            if self._same_request(turn, latest) or (
                turn.intent not in ignored and self._related(turn, latest)
            ):
                count += 1 + pending
                pending, start = 0, index
            elif self._turn_failed(turn, in_form_low_confidence=False):
                pending += 1  # counts once an earlier ask of the request closes the bracket
            elif turn.intent is None or turn.intent in ignored:
                continue  # skipped: neither counts nor breaks the run
            else:
                break
        # the misunderstandings of the run: the restatements, and asks of the request that failed themselves
        run = window[start:]
        failed = sum(self._turn_failed(turn, in_form_low_confidence=False) for turn in run)
        if failed and count >= self.config["repeat_min_count"]:
            return {
                "intent": latest.intent,
                "times": count,
                "failed_turns": failed,
                "intents": [turn.intent for turn in run],
            }
        return None
