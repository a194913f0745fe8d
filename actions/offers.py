"""The bot's own yes/no questions, and what the shopper's yes or no to them does.

Every question the bot asks with an implied action ("Shall I search for something?", "want to try again
without the brand filter?", "Shall I get a colleague?") is answered by ``action_handle_confirmation``
(actions/orders.py) on `affirm`/`deny` (data/rules.yml). It has to know which question is open:

* An action that asks records the offer in the ``pending_confirmation`` slot, as ``kind`` or
  ``kind:detail``: ``cancel:<order>`` (actions/orders.py), ``handoff`` (actions/knowledge.py), ``search``
  and ``relax:<filter slot>`` (actions/products.py, through :func:`offer`).
* A question a rule utters straight from the domain (``utter_place_order``, ``utter_complaint``, ...) has no
  action to set a slot; its offer is read from the name of the response the bot sent last
  (:data:`OFFERS_BY_RESPONSE`; Rasa stores it as ``utter_action`` in the bot event's metadata, for
  responses sent by custom actions too).
* "Anything else I can help you with?" (``utter_ask_anything_else``, ``utter_welcome``) is such a question
  as well: no to it ends the chat (a goodbye, or the rating question once a task was done:
  :func:`actions.feedback.close_conversation`) instead of "Okay! Let me know what you'd like to do next.",
  and yes asks what else.

An offer is answered by the shopper's next message only. A slot value recorded before the shopper's
previous message is stale (they talked about something else in between), so a much later "yes" to another
question cannot cancel an order, re-run an old search or call a colleague.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

PENDING_SLOT = "pending_confirmation"
#: Hand over to a colleague (``action_handoff``).
PENDING_HANDOFF = "handoff"
#: Start a new product search: the search form asks for the category (with buttons).
PENDING_SEARCH = "search"
#: Run the latest search again without one filter: ``relax:<filter slot>``, e.g. ``relax:brand``.
PENDING_RELAX = "relax"
#: "Is there anything else I can help you with?": no closes the conversation, yes asks what else.
PENDING_ANYTHING_ELSE = "anything_else"

#: Questions uttered by rules straight from the domain, and the offer each one makes.
OFFERS_BY_RESPONSE: Dict[str, str] = {
    "utter_place_order": PENDING_SEARCH,  # "... Shall I search for something?"
    "utter_complaint": PENDING_HANDOFF,  # "... I can also put you through to a colleague."
    "utter_other_language": PENDING_HANDOFF,  # "... or I can get a colleague for you."
    "utter_bot_challenge": PENDING_HANDOFF,  # "If you'd rather talk to someone from our team, just say so."
    "utter_ask_anything_else": PENDING_ANYTHING_ELSE,  # "No problem. Is there anything else I can ...?"
    "utter_welcome": PENDING_ANYTHING_ELSE,  # "You're welcome! Anything else I can do?"
}


def offer(kind: str, detail: Optional[str] = None) -> Dict[str, Any]:
    """The event that records an offer the bot has just made (``kind`` or ``kind:detail``)."""
    return SlotSet(PENDING_SLOT, f"{kind}:{detail}" if detail else kind)


def latest_bot_turn(events: Sequence[Dict[str, Any]]) -> tuple[List[Dict[str, Any]], Optional[int]]:
    """(the events between the shopper's previous message and the latest one, index of that previous
    message or None when the latest message is the first)."""
    users = [index for index, event in enumerate(events) if event.get("event") == "user"]
    if not users:
        return list(events), None
    previous = users[-2] if len(users) > 1 else None
    start = previous + 1 if previous is not None else 0
    return list(events[start:users[-1]]), previous


def _slot_offer(tracker: Tracker, previous_user: Optional[int]) -> Optional[str]:
    """The recorded offer, unless it was recorded before the shopper's previous message (stale). A tracker
    without the slot's event (built from slot values only) is taken at its word."""
    value = tracker.get_slot(PENDING_SLOT)
    if not value:
        return None
    events = tracker.events or []
    recorded = [i for i, e in enumerate(events) if e.get("event") == "slot" and e.get("name") == PENDING_SLOT]
    if recorded and previous_user is not None and recorded[-1] < previous_user:
        return None
    return str(value)


def _response_offer(bot_turn: Sequence[Dict[str, Any]]) -> Optional[str]:
    """The offer made by the last message of the bot's latest turn, when a rule sent it from the domain."""
    for event in reversed(bot_turn):
        if event.get("event") == "bot":
            return OFFERS_BY_RESPONSE.get(str((event.get("metadata") or {}).get("utter_action")))
    return None


def pending_offer(tracker: Tracker) -> Optional[str]:
    """The offer the shopper's latest message answers (``kind`` or ``kind:detail``), or None."""
    bot_turn, previous_user = latest_bot_turn(tracker.events or [])
    return _slot_offer(tracker, previous_user) or _response_offer(bot_turn)


def answer_search_offer(
    pending: Optional[str], affirmed: bool, dispatcher: CollectingDispatcher, tracker: Tracker
) -> Optional[List[Dict[str, Any]]]:
    """The events that answer a search offer (``search`` or ``relax:<slot>``); None for other offers.

    Yes to ``search`` starts a new search: the filters of the old one are dropped and the search form
    asks for the category. Yes to ``relax:<slot>`` runs the latest search again without that filter. No
    to either: "anything else?".
    """
    # Imported here: actions.products records these offers, so it imports this module.
    from actions.products import FILTER_SLOTS, SEARCH_ACTION, SEARCH_FORM

    kind, _, detail = str(pending or "").partition(":")
    if kind not in (PENDING_SEARCH, PENDING_RELAX):
        return None
    done = SlotSet(PENDING_SLOT, None)
    if not affirmed:
        dispatcher.utter_message(response="utter_ask_anything_else")
        return [done]
    if kind == PENDING_RELAX:
        if detail not in FILTER_SLOTS:
            return None
        return [done, SlotSet(detail, None), FollowupAction(SEARCH_ACTION)]
    cleared = [SlotSet(slot, None) for slot in FILTER_SLOTS if tracker.get_slot(slot) is not None]
    return [done, *cleared, FollowupAction(SEARCH_FORM)]
