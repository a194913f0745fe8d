"""Stores what the shopper says about the shop or the assistant, and runs the end-of-chat survey (CSAT).

Survey flow (data/rules.yml):

* On `thank` or `goodbye`, ``action_offer_csat`` asks for a 1-5 rating (buttons with payloads
  ``/rate{"csat_score": N}``; the text says "reply 1-5" for channels without buttons), but only once a
  task was completed in this conversation (`task_completed`, set by the order and product actions) and
  only once per conversation (`csat_asked`). Otherwise it answers as before (`utter_welcome` /
  `utter_goodbye`). A shopper who ignores the question simply goes on; `csat_asked` stays true, so the
  question never comes back in that conversation.
* "No" to "Anything else I can help you with?" ends the chat the same way (:func:`close_conversation`,
  through ``action_handle_confirmation``), and so do thanks in answer to it ("no thanks"): "You're
  welcome! Anything else I can do?" would ask the question the shopper just answered again.
* ``action_record_csat`` (intent `rate`) stores the rating with the sender id and a timestamp in the shop's
  ``feedback`` table (where ``shopassist report`` reads CSAT) and asks for an optional comment.
* The message right after that, when it reads like a comment (`give_feedback`, `complaint`, a message the
  NLU did not understand), is added to the same record by ``action_record_csat_comment``; "no thanks",
  "bye" or "thanks" close the survey without a comment. Anything else is handled as usual.
* A bare "yes" ("sure", "ok": `affirm`) to "Is there anything we could do better?" is no comment: the bot
  asks the shopper to type it (``utter_ask_csat_comment_text``) and the next message is the comment, or a
  no. A yes that already says something ("yes, the sizes run small") is the comment. Before this, "yes"
  got "Okay! Let me know what you'd like to do next." (``action_handle_confirmation``, nothing pending) and
  the comment typed next was stored apart from the rating.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import clean_text, get_shop, latest_intent, shop_guarded
from actions.offers import PENDING_ANYTHING_ELSE, latest_bot_turn, pending_offer

logger = logging.getLogger(__name__)

#: Longest feedback text stored; longer messages are cut.
MAX_FEEDBACK_LENGTH = 2000

#: Slot: a task was completed in this conversation (an order answered, a return or cancellation done, a
#: product found); set by the order and product actions.
TASK_COMPLETED_SLOT = "task_completed"
#: Slot: the survey was asked (or answered) in this conversation; it is never asked twice.
CSAT_ASKED_SLOT = "csat_asked"
#: Slot: id of the stored rating, so that the comment lands on the same record.
CSAT_FEEDBACK_SLOT = "csat_feedback_id"
#: Entity carried by the rating buttons' payloads.
CSAT_SCORE_ENTITY = "csat_score"
#: Intents after the comment question that close the survey without a comment.
CLOSING_INTENTS = frozenset({"deny", "goodbye", "thank"})
#: The action that stores the comment; when it ran before the shopper's message, the message is the comment
#: only if that run asked for it (:data:`ASK_COMMENT_TEXT`).
COMMENT_ACTION = "action_record_csat_comment"
#: What the bot says after a bare yes to the comment question: "please type your comment".
ASK_COMMENT_TEXT = "utter_ask_csat_comment_text"
#: A yes and nothing more ("yes", "sure!", "ok please", "yes I do"): no comment yet, it is still to come.
_BARE_YES = re.compile(
    r"^\W*(?:(?:yes|yeah|yea|yep|yup|ya|y|sure|ok|okay|k|of\s+course|absolutely|definitely|certainly|"
    r"please|i\s+do|there\s+is|i\s+have|one\s+thing|actually|well|oh|right|alright|go\s+ahead)\b\W*)+$",
    re.IGNORECASE,
)
#: What the message after the comment question gets when there is no rating to comment on: the action
#: the rules would have chosen for it without the survey.
USUAL_ACTIONS = {
    "give_feedback": "action_record_feedback",
    "complaint": "utter_complaint",
    "delivery_problem": "utter_delivery_problem",
    "nlu_fallback": "action_answer_from_knowledge",
    "deny": "action_handle_confirmation",
    "affirm": "action_handle_confirmation",
    "goodbye": "action_offer_csat",
    "thank": "action_offer_csat",
    "order_status": "order_form",
}

#: Requests that may come as the comment ("the tracking page could link to the carrier" read as an unsure
#: order_status); real requests (`_a_real_request`) go to their `USUAL_ACTIONS` entry.
REQUEST_INTENTS = frozenset({"order_status"})
#: Below this intent confidence a request-like message after the comment question is the comment.
REQUEST_CONFIDENCE = 0.6


def _a_real_request(tracker: Tracker) -> bool:
    """The latest message names an order number or the NLU is sure of its intent."""
    message = tracker.latest_message or {}
    if any(entity.get("entity") == "order_id" for entity in message.get("entities") or []):
        return True
    return float((message.get("intent") or {}).get("confidence") or 0.0) >= REQUEST_CONFIDENCE


_WORD_SCORES = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
#: A rating in text: "4", "4/5", "4 stars", "I'd say four", "5 out of 5". A number above 5 is no rating.
_SCORE_RE = re.compile(r"(?<![\d.,])(\d{1,2})(?![\d.,]*\d)|\b(one|two|three|four|five)\b", re.IGNORECASE)
_OUT_OF_FIVE_RE = re.compile(r"(?:\bof|/)\s*(?:5|five)\b", re.IGNORECASE)


def parse_score(value: Any) -> Optional[int]:
    """A 1-5 rating from an entity value or the shopper's text, or None ("10", "4.5", "great" are not)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value) if float(value) == int(value) and 1 <= int(value) <= 5 else None
    text = clean_text(value, 200)
    if not text:
        return None
    scores = set()
    for match in _SCORE_RE.finditer(text):
        number, word = match.groups()
        scores.add(int(number) if number else _WORD_SCORES[word.lower()])
    if len(scores) == 2 and 5 in scores and _OUT_OF_FIVE_RE.search(text):
        scores.discard(5)  # "4 out of 5", "4/5": the 5 is the scale
    if len(scores) != 1:
        return None  # none, or ambiguous ("3 or 4")
    score = scores.pop()
    return score if 1 <= score <= 5 else None


def score_from_message(tracker: Tracker) -> tuple[Optional[int], bool]:
    """(rating in the latest message, whether it came from a button entity rather than typed text)."""
    latest = tracker.latest_message or {}
    for entity in latest.get("entities") or []:
        if isinstance(entity, dict) and entity.get("entity") == CSAT_SCORE_ENTITY:
            return parse_score(entity.get("value")), True
    return parse_score(latest.get("text")), False


class ActionRecordFeedback(Action):
    """Saves the text of the feedback message and thanks the shopper. Right after the survey question,
    feedback with a number ("5 stars, great shop") is also the rating the survey asked for."""

    def name(self) -> str:
        return "action_record_feedback"

    @shop_guarded
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        text = clean_text((tracker.latest_message or {}).get("text"), MAX_FEEDBACK_LENGTH)
        survey_open = tracker.get_slot(CSAT_ASKED_SLOT) is True and not tracker.get_slot(CSAT_FEEDBACK_SLOT)
        rating = parse_score(text) if survey_open else None
        events: List[Dict[str, Any]] = []
        if text:
            feedback_id = get_shop().record_feedback(tracker.sender_id, text, rating=rating)
            logger.info("feedback %s stored (%d characters, rating %s)", feedback_id, len(text), rating)
            if rating is not None:
                events.append(SlotSet(CSAT_FEEDBACK_SLOT, str(feedback_id)))
        dispatcher.utter_message(response="utter_feedback_thanks")
        return events


def csat_due(tracker: Tracker) -> bool:
    """Whether the rating question is due: a task was completed, it was not asked in this conversation,
    and no person has the conversation."""
    return (
        tracker.get_slot(TASK_COMPLETED_SLOT) is True
        and tracker.get_slot(CSAT_ASKED_SLOT) is not True
        and tracker.get_slot("handoff_active") is not True
    )


def close_conversation(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict[str, Any]]:
    """The shopper has nothing more to ask ("no" to "Anything else?"): the rating question when it is due
    (the designed end of a chat that solved something), else a goodbye. Returns the events to apply."""
    if csat_due(tracker):
        dispatcher.utter_message(response="utter_ask_csat")
        return [SlotSet(CSAT_ASKED_SLOT, True)]
    dispatcher.utter_message(response="utter_goodbye")
    return []


#: Farewell words: "thanks, bye" is read as thanks (the first words weigh most) but ends the chat.
_GOODBYE = re.compile(
    r"\b(bye+|goodbye|good\s*bye|see\s+(you|ya)|cya|have\s+a\s+(good|nice)\s+(day|one|evening|weekend))\b",
    re.IGNORECASE,
)


def says_goodbye(text: str) -> bool:
    """True when a thank-you message also takes leave ("thanks, bye", "cheers, have a nice day")."""
    return bool(_GOODBYE.search(text or ""))


class ActionOfferCsat(Action):
    """On thanks or goodbye: the rating question once a task is done (once per conversation), else the
    usual reply. Thanks in answer to "Anything else?" ("no thanks") end the chat like a goodbye."""

    def name(self) -> str:
        return "action_offer_csat"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        text = str((tracker.latest_message or {}).get("text") or "")
        if (
            latest_intent(tracker) == "goodbye"
            or pending_offer(tracker) == PENDING_ANYTHING_ELSE
            or says_goodbye(text)
        ):
            return close_conversation(dispatcher, tracker)
        if csat_due(tracker):
            dispatcher.utter_message(response="utter_ask_csat")
            return [SlotSet(CSAT_ASKED_SLOT, True)]
        dispatcher.utter_message(response="utter_welcome")
        return []


class ActionRecordCsat(Action):
    """Stores a 1-5 rating (a second rating in the same conversation replaces the first) and asks for
    an optional comment."""

    def name(self) -> str:
        return "action_record_csat"

    @shop_guarded
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        score, from_button = score_from_message(tracker)
        asked = tracker.get_slot(CSAT_ASKED_SLOT) is True
        if score is None:
            # "rate" without a usable number: explain the scale if we asked, otherwise it was not a rating
            dispatcher.utter_message(response="utter_ask_csat_again" if asked else "utter_default")
            return []
        if not asked and not from_button:
            dispatcher.utter_message(response="utter_default")  # a bare number out of the blue
            return []
        shop = get_shop()
        previous = tracker.get_slot(CSAT_FEEDBACK_SLOT)
        if previous and shop.amend_feedback(previous, tracker.sender_id, rating=score):
            feedback_id = previous
        else:
            feedback_id = str(shop.record_feedback(tracker.sender_id, "", rating=score))
        logger.info("CSAT %d stored as feedback %s", score, feedback_id)
        dispatcher.utter_message(response="utter_ask_csat_comment")
        return [SlotSet(CSAT_ASKED_SLOT, True), SlotSet(CSAT_FEEDBACK_SLOT, feedback_id)]


def _previous_turn(tracker: Tracker) -> tuple[Optional[str], List[str]]:
    """(the last action before the shopper's latest message, the response names the bot sent in that
    turn); (None, []) for a tracker without that history."""
    events = list(tracker.events or [])
    if not any(event.get("event") == "user" for event in events):
        return None, []
    bot_turn, _ = latest_bot_turn(events)
    action: Optional[str] = None
    responses: List[str] = []
    for event in bot_turn:
        if event.get("event") == "action" and event.get("name") not in (None, "action_listen"):
            action = str(event["name"])
        elif event.get("event") == "bot":
            responses.append(str((event.get("metadata") or {}).get("utter_action") or ""))
    return action, responses


def comment_expected(tracker: Tracker) -> bool:
    """Whether the shopper's latest message answers a request for the comment: the rating's comment
    question, or "please type your comment" after a yes to it. After a stored comment or a closed survey
    (``action_record_csat_comment`` ran without asking) it does not."""
    action, responses = _previous_turn(tracker)
    return action != COMMENT_ACTION or ASK_COMMENT_TEXT in responses


class ActionRecordCsatComment(Action):
    """Adds the message after the comment question to the rating, asks for the comment after a bare yes,
    or closes the survey."""

    def name(self) -> str:
        return "action_record_csat_comment"

    @shop_guarded
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        intent = latest_intent(tracker)
        feedback_id = tracker.get_slot(CSAT_FEEDBACK_SLOT)
        if not feedback_id or not comment_expected(tracker):
            # no rating was stored (the question was not answered with a number), or the survey is over
            # (the comment was stored, or it was closed): handle as usual
            return [FollowupAction(USUAL_ACTIONS.get(intent or "", "utter_default"))]
        text = str((tracker.latest_message or {}).get("text") or "")
        if intent in REQUEST_INTENTS and _a_real_request(tracker):
            return [FollowupAction(USUAL_ACTIONS[intent])]
        if intent == "affirm" and _BARE_YES.match(text):
            dispatcher.utter_message(response=ASK_COMMENT_TEXT)  # "yes" is no comment: ask for it
            return []
        if intent in CLOSING_INTENTS:
            dispatcher.utter_message(response="utter_csat_closed")
            return []
        comment = clean_text(text, MAX_FEEDBACK_LENGTH)
        if comment and get_shop().amend_feedback(feedback_id, tracker.sender_id, comment=comment):
            logger.info("CSAT comment added to feedback %s (%d characters)", feedback_id, len(comment))
        dispatcher.utter_message(response="utter_csat_thanks")
        return []
