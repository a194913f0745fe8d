"""Hands the conversation to a person.

``action_handoff`` opens one handoff ticket per open handoff (a retried or repeated handoff returns the
conversation's open ticket instead of a second one) with what a colleague needs to pick it up:

* the reason: the ``handoff_reason`` slot when the HandoffPolicy set it for this message (it puts the
  ``SlotSet`` right after the shopper's message, before this action runs), else ``requested`` (a rule
  or story predicted the handoff, e.g. after the shopper accepted ``utter_offer_human``);
* the customer and order, only when the shopper verified the order (``order_verified``);
* the intent and emotion of every user turn of the session, and the last few messages with e-mail
  addresses and long numbers masked.

During business hours (``HANDOFF_BUSINESS_HOURS``, see :mod:`shop.handoff`) the shopper is told the
expected wait, ``handoff_active`` is set and the conversation is paused (``ConversationPaused``): Rasa
keeps logging the shopper's messages but the bot stays silent until the agent console hands it back.
Outside business hours the ticket records an e-mail follow-up instead, and the bot is *not* paused
(nobody would answer); the shopper can keep using it. A configured webhook receives each new ticket; its
failure is logged and never changes the reply. When the shop database is down the shopper gets
``utter_service_unavailable`` and ``utter_handoff_unavailable`` (the support e-mail) and nothing is paused.

When the HandoffPolicy fired ``open_handoff_carried_over`` (the shopper wrote after Rasa started a new
session while a person still held the conversation: the new session un-paused the bot), the action never
opens a ticket: it tells the shopper they are still with the team (``utter_handoff_still_open``, the open
ticket's number) and pauses again. If the ticket is no longer open (closed outside the agent console,
which would have resumed the conversation itself), nobody holds the conversation: the shopper is told so
(``utter_handoff_ended``) and the bot answers again, rather than re-opening a handoff an agent closed.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import RESPONSE_SERVICE_UNAVAILABLE, clean_text, get_shop, shop_guarded
from shop import HandoffDesk, HandoffSettings, TicketInfo, TicketRequest
from shop.handoff import MAX_HISTORY_TURNS, MAX_SUMMARY_MESSAGES, describe_opening, post_webhook
from shop.privacy import mask_personal_data as mask

logger = logging.getLogger(__name__)

#: Slots shared with the HandoffPolicy (config.yml ``handoff_reason_slot`` / ``handoff_active_slot``).
REASON_SLOT = "handoff_reason"
ACTIVE_SLOT = "handoff_active"
DEFAULT_REASON = "requested"
#: Reason when the shopper accepted the bot's offer of a person (``utter_offer_human``, see data/rules.yml).
OFFER_ACCEPTED = "offer_accepted"
OFFER_RESPONSE = "utter_offer_human"
#: The HandoffPolicy's trigger for a handoff still open from an earlier session
#: (components.policies.handoff_policy.OPEN_HANDOFF_CARRIED_OVER; not imported: the action server runs
#: without Rasa's policy code).
CARRIED_OVER = "open_handoff_carried_over"

RESPONSE_HANDOFF = "utter_handoff"
RESPONSE_AFTER_HOURS = "utter_handoff_after_hours"
RESPONSE_AFTER_HOURS_NO_EMAIL = "utter_handoff_after_hours_no_email"
RESPONSE_TICKET_EXISTS = "utter_handoff_ticket_exists"
RESPONSE_UNAVAILABLE = "utter_handoff_unavailable"
RESPONSE_STILL_OPEN = "utter_handoff_still_open"
RESPONSE_ENDED = "utter_handoff_ended"


def _session_events(tracker: Tracker) -> List[Dict[str, Any]]:
    """The events of the current session (after the latest session start or restart)."""
    events = list(tracker.events or [])
    start = 0
    for index, event in enumerate(events):
        if event.get("event") in ("session_started", "restart"):
            start = index + 1
    return events[start:]


def _name(value: Any) -> Optional[str]:
    if isinstance(value, dict):
        value = value.get("name")
    return clean_text(value, 60) if value else None


def handoff_reason(tracker: Tracker) -> str:
    """The reason recorded for *this* handoff: a ``handoff_reason`` slot event after the shopper's latest
    message (where the HandoffPolicy puts it); else ``offer_accepted`` when the bot had offered a person
    (``utter_offer_human``) just before; else ``requested``. An older value of the slot is ignored, so a
    previous handoff's reason is never reported again."""
    events = list(tracker.events or [])
    latest_user = None
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if event.get("event") == "user":
            latest_user = index
            break
        if event.get("event") == "slot" and event.get("name") == REASON_SLOT and event.get("value"):
            return clean_text(event.get("value"), 40) or DEFAULT_REASON
    if latest_user is not None:
        for event in reversed(events[:latest_user]):
            if event.get("event") == "action" and event.get("name") != "action_listen":
                return OFFER_ACCEPTED if event.get("name") == OFFER_RESPONSE else DEFAULT_REASON
    return DEFAULT_REASON


def turn_history(events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """``{"intent", "emotion", "at"}`` for each user turn in ``events`` (the newest last)."""
    history = []
    for event in events:
        if event.get("event") != "user":
            continue
        parse = event.get("parse_data") or {}
        timestamp = event.get("timestamp")
        at = (
            datetime.fromtimestamp(timestamp, timezone.utc).isoformat()
            if isinstance(timestamp, (int, float))
            else None
        )
        intent, emotion = _name(parse.get("intent")), _name(parse.get("emotion"))
        history.append({"intent": intent, "emotion": emotion, "at": at})
    return history[-MAX_HISTORY_TURNS:]


def summary(events: List[Dict[str, Any]]) -> List[str]:
    """The shopper's last few typed messages (button payloads skipped), personal data masked."""
    texts = []
    for event in events:
        if event.get("event") != "user":
            continue
        text = clean_text(event.get("text"))
        if text and not text.startswith("/"):
            texts.append(mask(text))
    return texts[-MAX_SUMMARY_MESSAGES:]


def ticket_request(tracker: Tracker, after_hours: bool) -> TicketRequest:
    """Everything the ticket records, read from the tracker."""
    events = _session_events(tracker)
    history = turn_history(events)
    verified = tracker.get_slot("order_verified") is True
    return TicketRequest(
        sender_id=tracker.sender_id,
        reason=handoff_reason(tracker),
        history=history,
        summary=summary(events),
        emotion=history[-1]["emotion"] if history else None,
        channel=tracker.get_latest_input_channel(),
        customer_email=clean_text(tracker.get_slot("email"), 254) if verified else None,
        order_id=clean_text(tracker.get_slot("order_id"), 100) if verified else None,
        after_hours=after_hours,
    )


def pause_events(ticket: TicketInfo) -> List[Dict[str, Any]]:
    """Pause the bot while a person holds the conversation (not for after-hours e-mail follow-ups)."""
    if not ticket.holds_conversation:
        return []
    return [SlotSet(ACTIVE_SLOT, True), ConversationPaused()]


class ActionHandoff(Action):
    """Opens a handoff ticket, tells the shopper what happens next and pauses the bot."""

    #: Current time (tests replace it to be inside or outside business hours).
    clock = staticmethod(lambda: datetime.now(timezone.utc))

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        settings = HandoffSettings.from_env()
        already_sent = len(dispatcher.messages)
        events = await self._hand_over(dispatcher, tracker, domain)
        if any(m.get("response") == RESPONSE_SERVICE_UNAVAILABLE for m in dispatcher.messages[already_sent:]):
            # shop_guarded answered the outage; say how to reach a person anyway.
            dispatcher.utter_message(response=RESPONSE_UNAVAILABLE, support_email=settings.support_email)
        return events

    @shop_guarded
    async def _hand_over(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Dict[str, Any]]:
        settings = HandoffSettings.from_env()
        now = self.clock()
        after_hours = not settings.hours.is_open(now)
        desk = HandoffDesk(get_shop().db_url, clock=self.clock)
        if handoff_reason(tracker) == CARRIED_OVER:
            return self._continue_open_handoff(dispatcher, desk, tracker.sender_id)
        opened = desk.open_ticket(ticket_request(tracker, after_hours))
        ticket = opened.ticket
        if not opened.created:
            logger.info("handoff: conversation already has open ticket %s", ticket.id)
            dispatcher.utter_message(response=RESPONSE_TICKET_EXISTS, ticket=ticket.id)
            return pause_events(ticket)

        await post_webhook(settings, ticket)
        if ticket.after_hours:
            back = describe_opening(settings.hours.next_opening(now))
            hours = settings.hours.describe()
            if ticket.follow_up_email:
                dispatcher.utter_message(
                    response=RESPONSE_AFTER_HOURS, hours=hours, back=back, email=ticket.follow_up_email,
                    ticket=ticket.id,
                )
            else:
                dispatcher.utter_message(
                    response=RESPONSE_AFTER_HOURS_NO_EMAIL, hours=hours, back=back,
                    support_email=settings.support_email, ticket=ticket.id,
                )
        else:
            dispatcher.utter_message(
                response=RESPONSE_HANDOFF, wait=settings.expected_wait(opened.waiting_ahead), ticket=ticket.id
            )
        return pause_events(ticket)

    @staticmethod
    def _continue_open_handoff(
        dispatcher: CollectingDispatcher, desk: HandoffDesk, sender_id: str
    ) -> List[Dict[str, Any]]:
        """A new Rasa session started while a person held the conversation: pause again for the open
        ticket. Never opens one: without an open ticket an agent has ended the handoff."""
        ticket = desk.open_ticket_for(sender_id)
        if ticket is None:
            logger.info("handoff: the earlier session's ticket is no longer open; the bot answers again")
            dispatcher.utter_message(response=RESPONSE_ENDED)
            return [SlotSet(ACTIVE_SLOT, False)]
        logger.info("handoff: new session while ticket %s is open; pausing again", ticket.id)
        response = RESPONSE_STILL_OPEN if ticket.holds_conversation else RESPONSE_TICKET_EXISTS
        dispatcher.utter_message(response=response, ticket=ticket.id)
        return pause_events(ticket)
