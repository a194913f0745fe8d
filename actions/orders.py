"""Order actions: the order form's validator, the request it leads to, and yes/no confirmations.

Flow (see data/rules.yml): an order intent sets ``order_task`` and starts ``order_form``; the validator
checks the order number and e-mail (three wrong e-mails end the form) and, once the order is verified and
the task is still possible, asks what the task needs (new address; item and reason of a return).
``action_handle_order_request`` then does the task; cancelling is confirmed first through
``pending_confirmation`` and ``action_handle_confirmation``.

Privacy: an order is only described to the owner's e-mail. A wrong e-mail only ever hears "the e-mail does
not match"; e-mails are never logged in full. After the third wrong e-mail the order is locked for this
conversation for a cool-down (``ShopService.lock_verification``, ``$SHOP_VERIFICATION_LOCKOUT_MINUTES``,
default 15): any request about it, however worded, is refused until then. The wrong e-mails are counted
in the shop database too (``ShopService.record_failed_verification``, per conversation and order, within
an hour), not in a slot, so ``/restart`` does not start the count again; the `email_attempts` slot only
mirrors that count. Orders are never looked up by
e-mail alone (anyone can type an address): a shopper who offers an e-mail instead of the order number
hears where to find the number and is offered a colleague.

A shopper who has passed the identity check (one order number and its e-mail) may ask for their other
orders ("what else did I order?", intent `list_orders`, task ``list_orders``): the order form then finds
the order verified and ``action_handle_order_request`` lists that customer's most recent orders
(``ShopService.recent_orders``, keyed on the verified order, never on the e-mail). Before the check, the
form's question says that one order number and its e-mail are all it takes to see the others.
"""
from __future__ import annotations

import json
import logging
import math
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Tuple

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    MAX_SHORT_LENGTH,
    MAX_TEXT_LENGTH,
    clean_text,
    get_shop,
    latest_intent,
    latest_intent_confidence,
    money,
    shop_guarded,
    utter_response,
)
from actions.feedback import close_conversation
from actions.offers import PENDING_ANYTHING_ELSE, PENDING_HANDOFF, answer_search_offer, pending_offer
from shop import Verification, normalize_order_id
from shop.errors import OrderAccessError
from shop.privacy import mask_email
from shop.return_reasons import RETURN_REASON_LABELS, normalize_return_reason, states_a_reason
from shop.shopper_text import order_number_in
from shop.vocabulary import OPEN_ORDER_STATUSES, normalize_category, normalize_email

logger = logging.getLogger(__name__)

#: Wrong e-mails allowed per verification before the form gives up.
MAX_EMAIL_ATTEMPTS = 3
#: Longest shipping address accepted (the shop layer enforces the same limit).
MAX_ADDRESS_LENGTH = 300
MIN_ADDRESS_LENGTH = 5
#: Longest e-mail address (RFC 5321).
MAX_EMAIL_LENGTH = 254
#: Answers of these intents are never taken as free text for an order question: the shopper is stopping,
#: asking for a person or chatting.
STOP_INTENTS = frozenset({"deny", "goodbye", "greet", "thank", "bot_challenge", "request_human"})
#: Intents under which free text counts as an answer whatever the confidence.
ANSWER_INTENTS = frozenset({"inform", "nlu_fallback", "change_shipping_address", "return_item",
                            "request_refund", "complaint", "delivery_problem"})
#: Other intents interrupt the form only when the NLU is at least this sure (an address or a reason can
#: look like anything).
INTERRUPTION_CONFIDENCE = 0.7

#: Set when a task is done (status answered, return registered, order cancelled, ...): the end-of-chat
#: survey (actions/feedback.py) is only offered after that.
TASK_COMPLETED = "task_completed"
#: Entities that may name the item of a return in the shopper's words ("return the hoodie", "the red
#: ones", "my Trailpeak jacket"), matched against the order's lines.
ITEM_HINT_ENTITIES = ("product", "category", "brand", "color")
#: Intents that start a return; hints are read from that message onwards.
RETURN_INTENTS = frozenset({"return_item", "request_refund"})
#: Intents that start the order form with a task (data/rules.yml).
ORDER_REQUEST_INTENTS = frozenset({"order_status", "cancel_order", "change_shipping_address", "return_item",
                                   "request_refund", "refund_status", "list_orders"})
#: Order states whose money is already being refunded (cancellation or return): a refund request about
#: them gets the refund status.
REFUNDED_STATUSES = frozenset({"cancelled", "returned"})

PENDING_CANCEL = "cancel"
#: Forms whose questions a "yes" may answer, or gets a hint for (ActionHandleConfirmation._yes_in_form).
FORMS_YES_CAN_ANSWER = frozenset({"order_form", "product_search_form"})
#: Slots with a hint for a "yes" that does not answer their question (``utter_yes_in_form_<slot>``).
YES_HINT_SLOTS = frozenset({"order_id", "email", "new_address", "return_item", "return_reason", "category"})
#: The action that hands the conversation to a person (actions/handoff.py).
HANDOFF_ACTION = "action_handoff"
#: The task of `list_orders`: the verified shopper's recent orders.
LIST_ORDERS_TASK = "list_orders"
TASKS = ("status", "cancel", "change_address", "return", "refund_status", LIST_ORDERS_TASK)
#: How many orders a list shows (the most recent ones); the shopper hears how many older ones there are.
ORDER_LIST_LIMIT = 5
RETURN_REFUSALS = {
    "not_delivered": "it hasn't been delivered yet. You can return it once it arrives.",
    "window_expired": "it was delivered more than 30 days ago, outside our 30-day return window.",
    "not_returnable": "it has been cancelled or returned already.",
}
STATUS_DETAILS = {
    "pending": "We're waiting for the payment to clear; it ships as soon as it does.",
    "paid": "It's being packed and will leave our warehouse soon.",
    "cancelled": "Any payment is refunded to your original payment method.",
    "returned": "We've received your return; ask me about the refund status for details.",
}
#: Refusals of an address change: asked again right after one of them, the shopper gets
#: ``utter_cannot_change_address_again`` (the offer of a colleague) instead of the same sentence.
ADDRESS_REFUSALS = frozenset({"utter_cannot_change_address", "utter_cannot_change_address_shipped"})
#: Responses that only ask or remind (the form's questions): "the shopper's last answer" looks past them.
QUESTION_RESPONSES = frozenset({"utter_order_form_still_asking", "utter_ask_order_id_after_answer"})
#: The shopper offers or mentions an e-mail address ("can't you look it up with my email?").
_EMAIL_MENTION = re.compile(r"\b(e-?\s?mail|mail\s+address)|@", re.IGNORECASE)


def find_order_id(value: Any) -> Optional[str]:
    """The canonical order number in ``value``: the whole text ("sa100042") or a part ("it's SA 100042")."""
    text = clean_text(value, MAX_SHORT_LENGTH)
    return order_number_in(text) if text is not None else None


def is_interruption(tracker: Tracker) -> bool:
    """Whether the latest message is something other than an answer to the form's question."""
    intent = latest_intent(tracker)
    if intent in STOP_INTENTS:
        return True
    if intent is None or intent in ANSWER_INTENTS:
        return False
    return latest_intent_confidence(tracker) >= INTERRUPTION_CONFIDENCE


def _has_entity(tracker: Tracker, entity: str) -> bool:
    return any(e.get("entity") == entity for e in (tracker.latest_message or {}).get("entities") or [])


def mentions_email(tracker: Tracker) -> bool:
    """Whether the latest message gives or mentions an e-mail address and names no order number."""
    text = clean_text((tracker.latest_message or {}).get("text"), MAX_TEXT_LENGTH) or ""
    if _has_entity(tracker, "order_id") or find_order_id(text) is not None:
        return False
    return _has_entity(tracker, "email") or bool(_EMAIL_MENTION.search(text))


def _bot_turns(tracker: Tracker) -> List[List[str]]:
    """The names of the domain responses the bot sent before the shopper's latest message, one list per
    turn (the messages between two shopper messages), newest turn first. Rasa keeps the name as
    ``utter_action`` in a bot event's metadata."""
    turns: List[List[str]] = []
    for event in reversed(tracker.events or []):
        if event.get("event") == "user":
            turns.append([])
        elif event.get("event") == "bot" and turns:
            turns[-1].append(str((event.get("metadata") or {}).get("utter_action") or ""))
    return turns


def said_in_previous_turn(tracker: Tracker, response: str) -> bool:
    """Whether the bot's answer to the shopper's previous message included ``response``."""
    turns = _bot_turns(tracker)
    return bool(turns) and response in turns[0]


def last_answer(tracker: Tracker) -> Optional[str]:
    """The response the bot last answered with before the shopper's latest message, looking past the
    order form's questions ("What's your order number?") and reminders."""
    for turn in _bot_turns(tracker):
        for name in turn:
            if name and not name.startswith("utter_ask_") and name not in QUESTION_RESPONSES:
                return name
    return None


def _wait(until: datetime) -> str:
    """How long until ``until``, as the shopper reads it: "15 minutes", "1 minute"."""
    minutes = max(1, math.ceil((until - datetime.now(timezone.utc)).total_seconds() / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _free_text_answer(tracker: Tracker, slot: str, max_length: int) -> Dict[str, Any]:
    """The latest message as the value of ``slot`` if the form is asking for it and it is an answer."""
    if tracker.get_slot("requested_slot") != slot or is_interruption(tracker):
        return {}
    text = clean_text((tracker.latest_message or {}).get("text"), max_length)
    return {slot: text} if text else {}


def _date(value: Any) -> str:
    if value is None:
        return "soon"
    return value.strftime("%A, %d %B %Y") if hasattr(value, "strftime") else str(value)


def _order_lines(order: Any) -> str:
    return ", ".join(item.name for item in order.items) or "no items"


def _item_matches(item: str, order: Any) -> bool:
    """Loose check that ``item`` names one of the order's lines ("the hoodie", "shoes", a product name)."""
    words = [w.strip(".,!?\"'").lower() for w in item.split()]
    words = [w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words if len(w) >= 3]
    if not words:
        return False
    for line in order.items:
        haystack = f"{line.name} {line.category} {line.sku}".lower()
        if any(word in haystack for word in words):
            return True
    return False


def return_item_hints(tracker: Tracker) -> Dict[str, str]:
    """What the shopper said about the item since asking for the return: the product, category, brand
    and colour entities of the user messages from the latest return request on (later ones win)."""
    messages = []
    for event in reversed(tracker.events or []):
        if event.get("event") in ("restart", "session_started"):
            break
        if event.get("event") != "user":
            continue
        messages.append(event.get("parse_data") or {})
        if (messages[-1].get("intent") or {}).get("name") in RETURN_INTENTS:
            break
    if not messages:
        messages = [tracker.latest_message or {}]
    hints: Dict[str, str] = {}
    for parse in reversed(messages):
        for entity in parse.get("entities") or []:
            if (
                isinstance(entity, dict)
                and entity.get("entity") in ITEM_HINT_ENTITIES
                and entity.get("role") != "excluded"  # "not the black one" names no item
            ):
                value = clean_text(entity.get("value"), MAX_SHORT_LENGTH)
                if value:
                    hints[entity["entity"]] = value
    return hints


def matching_items(order: Any, hints: Dict[str, str], brands: Optional[Dict[str, str]] = None) -> List[Any]:
    """Lines of ``order`` that fit every hint: the product name (loosely, as ``_item_matches``), the
    category (singular or plural), the colour, the brand (``brands`` maps SKU to brand; a brand hint
    without it matches nothing). No hints: no lines."""
    if not hints:
        return []
    lines = list(order.items)
    if "product" in hints:
        lines = [line for line in lines if _item_matches(hints["product"], _OneLine(line))]
    if "category" in hints:
        wanted = normalize_category(hints["category"])
        lines = [line for line in lines if wanted is not None and line.category == wanted]
    if "color" in hints:
        lines = [line for line in lines if str(line.color).lower() == hints["color"].lower()]
    if "brand" in hints:
        lines = [line for line in lines if (brands or {}).get(line.sku, "").lower() == hints["brand"].lower()]
    return lines


class _OneLine:
    """An order with one line, for :func:`_item_matches`."""

    def __init__(self, line: Any) -> None:
        self.items = [line]


def item_buttons(lines: List[Any]) -> List[Dict[str, str]]:
    """One button per order line; the payload names the product, so the answer needs no NLU."""
    return [
        {"title": f"{line.name} ({line.color}, {line.size})",
         "payload": "/inform" + json.dumps({"product": line.name})}
        for line in lines
    ]


def reason_label(reason: Optional[str]) -> str:
    """A return reason as the shopper reads it back: the label of its code ("too small"), or the shopper's
    own words when no code fits."""
    code = normalize_return_reason(reason)
    if code == "other":
        return clean_text(reason, MAX_SHORT_LENGTH) or RETURN_REASON_LABELS[code]
    return RETURN_REASON_LABELS[code]


def _refund_name(refund: Any, order_id: Optional[str]) -> str:
    return refund.rma_number if refund.kind == "return" else f"cancellation of {order_id}"


def refund_line(refund: Any, order_id: Optional[str], today: date) -> str:
    """One refund as a line of ``utter_refund_status``: what, how much, its status and, while the money is
    on its way, the day it should arrive ("was expected by" once that day has passed)."""
    line = f"- {_refund_name(refund, order_id)}: {money(refund.amount)}, {refund.status}"
    if refund.expected_by is None:
        return line
    when = "was expected by" if refund.expected_by < today else "expected by"
    return f"{line}, {when} {_date(refund.expected_by)}"


def refund_problem(refund: Any, order_id: Optional[str], today: date) -> Optional[str]:
    """A sentence about a refund that needs a person (failed, or still open after its expected day)."""
    name = _refund_name(refund, order_id)
    if refund.status == "failed":
        return f"The refund {name} failed."
    if refund.expected_by is not None and refund.expected_by < today:
        return f"The refund {name} should have reached you by {_date(refund.expected_by)}."
    return None


def utter_cancelled(dispatcher: CollectingDispatcher, order_id: str, outcome: Any) -> None:
    """The order is cancelled, and what happens to the money: the refund the shop created with the
    cancellation (paid orders) and the day it should arrive, which refund status then shows too; or no
    charge at all (pending orders: the payment had not gone through)."""
    refund = outcome.refund
    if refund is None:
        dispatcher.utter_message(response="utter_order_cancelled_unpaid", order_id=order_id)
        return
    dispatcher.utter_message(
        response="utter_order_cancelled", order_id=order_id, total=money(refund.amount),
        expected_by=_date(refund.expected_by),
    )


def return_refusal(order: Any) -> Optional[str]:
    """Why ``order`` cannot be returned ("not_delivered", "window_expired", "not_returnable"), or None."""
    if order.status in ("pending", "paid", "shipped"):
        return "not_delivered"
    if order.status != "delivered":
        return "not_returnable"
    delivered = order.delivered_at
    if delivered is None:
        return "not_returnable"
    if delivered.tzinfo is None:
        delivered = delivered.replace(tzinfo=timezone.utc)
    if datetime.now(timezone.utc) - delivered > timedelta(days=get_shop().return_window_days):
        return "window_expired"
    return None


class ValidateOrderForm(FormValidationAction):
    """Checks order number and e-mail, counts wrong e-mails, and adds the slots the task needs."""

    def name(self) -> str:
        return "validate_order_form"

    def events_when_unavailable(self, tracker: Tracker) -> List[Dict[str, Any]]:
        # End the form unverified: the rules then offer a person.
        return [SlotSet("order_verified", False), SlotSet("requested_slot", None)]

    @shop_guarded
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        return await super().run(dispatcher, tracker, domain)

    # ------------------------------------------------------------------ which slots
    async def required_slots(
        self,
        domain_slots: List[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[str]:
        slots = list(domain_slots)
        task = tracker.get_slot("order_task")
        if task not in ("change_address", "return") or tracker.get_slot("order_verified") is not True:
            return slots
        order = self._verified_order(tracker)
        if order is None:
            return slots
        if task == "change_address" and order.status in OPEN_ORDER_STATUSES:
            slots.append("new_address")
        elif task == "return" and return_refusal(order) is None:
            slots.extend(["return_item", "return_reason"])
        return slots

    @staticmethod
    def _verified_order(tracker: Tracker) -> Optional[Any]:
        order_id, email = tracker.get_slot("order_id"), tracker.get_slot("email")
        if not order_id or not email:
            return None
        try:
            return get_shop().get_order(order_id, email)
        except OrderAccessError:
            return None

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        """The SDK's validation, plus the return item resolved from what the shopper already said ("return
        the hoodie from SA-100002"): one matching order line fills `return_item`, so the form goes on to
        the reason instead of asking which item."""
        events = await super().get_validation_events(dispatcher, tracker, domain)
        events += self._resolved_return_item(tracker, events)
        events += self._reused_return_reason(tracker, events)
        return events + self._email_instead_of_order_number(dispatcher, tracker, events)

    @staticmethod
    def _slots_after(tracker: Tracker, events: List[Dict[str, Any]]) -> Dict[str, Any]:
        slots = dict(tracker.slots)
        slots.update({e["name"]: e.get("value") for e in events if e.get("event") == "slot"})
        return slots

    def _reused_return_reason(self, tracker: Tracker, events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """A further item of the return this conversation registered for the same order: the reason given
        then (`previous_return_reason`) instead of asking again, unless the shopper names a reason now ("the
        shoes too, they're too big"), which then counts."""
        slots = self._slots_after(tracker, events)
        previous = slots.get("previous_return_reason")
        if (
            slots.get("order_task") != "return"
            or slots.get("order_verified") is not True
            or not slots.get("return_item")
            or slots.get("return_reason")
            or not isinstance(previous, dict)
            or previous.get("order_id") != normalize_order_id(slots.get("order_id"))
        ):
            return []
        said_now = clean_text((tracker.latest_message or {}).get("text"), MAX_TEXT_LENGTH)
        reason = said_now if states_a_reason(said_now) else clean_text(previous.get("reason"))
        return [SlotSet("return_reason", reason)] if reason else []

    def _email_instead_of_order_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, events: List[Dict[str, Any]]
    ) -> List[Dict[str, Any]]:
        """Asked for the order number, the shopper offers an e-mail ("can't you look it up with my
        email?"). Orders are shown only for order number and e-mail together, so a look-up by e-mail alone
        would show anyone's orders to whoever types the address: say where the number is and offer a
        colleague; said once already, end the identity check (the rules offer a colleague)."""
        slots = self._slots_after(tracker, events)
        if (
            slots.get("requested_slot") != "order_id"
            or slots.get("order_id")
            or latest_intent(tracker) in STOP_INTENTS
            or not mentions_email(tracker)
        ):
            return []
        if said_in_previous_turn(tracker, "utter_order_id_by_email"):
            return [SlotSet("order_verified", False), SlotSet("requested_slot", None)]
        dispatcher.utter_message(response="utter_order_id_by_email")
        return []

    @staticmethod
    def _lock_refusal(
        dispatcher: CollectingDispatcher, tracker: Tracker, order_id: str
    ) -> Optional[Dict[str, Any]]:
        """The slots that end the form when this conversation may not verify ``order_id`` yet (three wrong
        e-mails, see ``ShopService.lock_verification``), whatever the task; None when it may. Said once
        per message, though both the order number and the e-mail are checked."""
        until = get_shop().verification_locked_until(tracker.sender_id, order_id)
        if until is None:
            return None
        if not any(m.get("response") == "utter_order_locked" for m in dispatcher.messages):
            logger.info("order %s is locked for this conversation", order_id)
            dispatcher.utter_message(response="utter_order_locked", order_id=order_id, wait=_wait(until))
        return {"order_id": None, "email": None, "order_verified": False, "requested_slot": None}

    def _resolved_return_item(self, tracker: Tracker, events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        slots = dict(tracker.slots)
        slots.update({e["name"]: e.get("value") for e in events if e.get("event") == "slot"})
        if (
            slots.get("order_task") != "return"
            or slots.get("order_verified") is not True
            or slots.get("return_item")
        ):
            return []
        hints = return_item_hints(tracker)
        if not hints:
            return []
        order_id, email = slots.get("order_id"), slots.get("email")
        try:
            order = get_shop().get_order(order_id, email) if order_id and email else None
        except OrderAccessError:
            return []
        if order is None or return_refusal(order) is not None:
            return []
        lines = matching_items(order, hints, self._brands(order, hints))
        if len(lines) != 1:
            return []  # none or several: action_ask_return_item asks, with buttons
        logger.info("return item of %s resolved from %s", order.order_id, sorted(hints))
        return [SlotSet("return_item", lines[0].name)]

    @staticmethod
    def _brands(order: Any, hints: Dict[str, str]) -> Dict[str, str]:
        if "brand" not in hints:
            return {}
        brands = {}
        for line in order.items:
            details = get_shop().get_product(line.sku)
            if details is not None:
                brands[line.sku] = details.brand
        return brands

    # ------------------------------------------------------------------ extraction from free text
    async def extract_order_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """An order number typed without the NLU spotting it ("it's sa 100042", or garbage to reject). An
        e-mail offered instead is no order number (see ``_email_instead_of_order_number``)."""
        if _has_entity(tracker, "order_id") or mentions_email(tracker):
            return {}
        return _free_text_answer(tracker, "order_id", MAX_SHORT_LENGTH)

    async def extract_email(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        if _has_entity(tracker, "email"):
            return {}
        return _free_text_answer(tracker, "email", MAX_EMAIL_LENGTH)

    async def extract_new_address(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        if _has_entity(tracker, "order_id") or _has_entity(tracker, "email"):
            return {}  # an order number or e-mail is not an address
        return _free_text_answer(tracker, "new_address", MAX_ADDRESS_LENGTH + 1)

    async def extract_return_item(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        if tracker.get_slot("requested_slot") != "return_item" or is_interruption(tracker):
            return {}
        products = [e.get("value") for e in (tracker.latest_message or {}).get("entities") or []
                    if e.get("entity") == "product"]
        if products:
            return {"return_item": clean_text(products[0], MAX_SHORT_LENGTH)}
        return _free_text_answer(tracker, "return_item", MAX_SHORT_LENGTH)

    async def extract_return_reason(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        return _free_text_answer(tracker, "return_reason", MAX_TEXT_LENGTH)

    # ------------------------------------------------------------------ validation
    def validate_order_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        order_id = find_order_id(value)
        if order_id is None:
            dispatcher.utter_message(response="utter_invalid_order_id")
            return {"order_id": None, "order_verified": False}
        locked = self._lock_refusal(dispatcher, tracker, order_id)
        if locked is not None:
            return locked
        email = normalize_email(clean_text(tracker.get_slot("email"), MAX_EMAIL_LENGTH))
        verification = get_shop().verify_order(order_id, email or "")
        if verification is Verification.NOT_FOUND:
            dispatcher.utter_message(response="utter_order_not_found", order_id=order_id)
            return {"order_id": None, "order_verified": False}
        result: Dict[str, Any] = {
            "order_id": order_id,
            "order_verified": verification is Verification.VERIFIED,
        }
        if verification is Verification.VERIFIED:
            get_shop().clear_failed_verifications(tracker.sender_id, order_id)
            result["email_attempts"] = 0.0
        elif email and "email" not in tracker.slots_to_validate():
            # An address from an earlier order does not fit this one: ask again, without counting it.
            result["email"] = None
        return result

    def validate_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        if any(m.get("response") == "utter_order_locked" for m in dispatcher.messages):
            return {"email": None}  # the order of this message is locked: nothing of it is kept
        email = normalize_email(clean_text(value, MAX_EMAIL_LENGTH + 1))
        if email is None or len(email) > MAX_EMAIL_LENGTH:
            dispatcher.utter_message(response="utter_invalid_email")
            return {"email": None}
        order_id = normalize_order_id(clean_text(tracker.get_slot("order_id"), MAX_SHORT_LENGTH))
        if order_id is None:
            # The order number is still to come; validate_order_id verifies both then.
            return {"email": email}
        locked = self._lock_refusal(dispatcher, tracker, order_id)
        if locked is not None:
            return locked
        verification = get_shop().verify_order(order_id, email)
        if verification is Verification.VERIFIED:
            get_shop().clear_failed_verifications(tracker.sender_id, order_id)
            return {"email": email, "order_verified": True, "email_attempts": 0.0}
        if verification is Verification.NOT_FOUND:
            return {"email": email, "order_verified": False}
        # Counted in the shop database per conversation and order (the slot only mirrors the count):
        # /restart resets slots, and the count must hold as the lock does.
        failed = get_shop().record_failed_verification(tracker.sender_id, order_id, MAX_EMAIL_ATTEMPTS)
        attempts = failed.failures
        logger.info("e-mail %s does not match order %s (attempt %d)", mask_email(email), order_id, attempts)
        if failed.locked_until is not None:
            dispatcher.utter_message(
                response="utter_too_many_attempts", order_id=order_id, wait=_wait(failed.locked_until)
            )
            return {
                "order_id": None,
                "email": None,
                "order_verified": False,
                "email_attempts": 0.0,
                "requested_slot": None,
            }
        dispatcher.utter_message(response="utter_email_mismatch")
        return {"email": None, "order_verified": False, "email_attempts": float(attempts)}

    def validate_new_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        address = clean_text(value, MAX_ADDRESS_LENGTH + 1)
        if (
            address is None
            or not MIN_ADDRESS_LENGTH <= len(address) <= MAX_ADDRESS_LENGTH
            or not any(ch.isdigit() for ch in address)
        ):
            dispatcher.utter_message(response="utter_invalid_address", max_length=MAX_ADDRESS_LENGTH)
            return {"new_address": None}
        return {"new_address": address}

    def validate_return_item(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        item = clean_text(value, MAX_SHORT_LENGTH)
        order = self._verified_order(tracker)
        if item is None:
            return {"return_item": None}
        if order is not None and len(order.items) > 1 and not _item_matches(item, order):
            dispatcher.utter_message(
                response="utter_item_not_in_order", order_id=order.order_id, items=_order_lines(order)
            )
            return {"return_item": None}
        return {"return_item": item}

    def validate_return_reason(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        return {"return_reason": clean_text(value, MAX_TEXT_LENGTH)}


def cancel_confirmed(
    dispatcher: CollectingDispatcher, order_id: str, email: Optional[str]
) -> List[Dict[str, Any]]:
    """Cancel ``order_id`` now that the shopper confirmed it, and say what happens to the money."""
    outcome = get_shop().cancel_order(order_id, email or "")
    if outcome.ok:
        utter_cancelled(dispatcher, order_id, outcome)
        return [SlotSet("pending_confirmation", None), SlotSet(TASK_COMPLETED, True)]
    if outcome.order is not None:
        dispatcher.utter_message(
            response="utter_cannot_cancel", order_id=order_id, status=outcome.order.status
        )
    else:
        dispatcher.utter_message(response="utter_email_mismatch")
    return [SlotSet("pending_confirmation", None)]


def confirms_cancel(tracker: Tracker, order_id: str) -> bool:
    """Whether the latest message is a cancel request that answers "Do you really want to cancel order
    ``order_id``?", asked in the bot's previous turn."""
    asked = pending_offer(tracker) == f"{PENDING_CANCEL}:{order_id}"
    return asked and latest_intent(tracker) == "cancel_order"


def asked_for_money_back(tracker: Tracker) -> bool:
    """Whether the order request the form is carrying out was a refund request ("I want my money back for
    SA-100011"): the latest order intent since the conversation (re)started is `request_refund`. The
    `order_task` slot cannot tell, it maps refunds and returns alike to "return"."""
    for event in reversed(tracker.events or []):
        if event.get("event") in ("restart", "session_started"):
            break
        if event.get("event") == "user":
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            if intent in ORDER_REQUEST_INTENTS:
                return intent == "request_refund"
    return latest_intent(tracker) == "request_refund"


def only_return_candidate(tracker: Tracker) -> Optional[str]:
    """The item a return can only be about: the verified order's single line, or the single line that
    fits what the shopper said about the item (the lines ``action_ask_return_item`` offers as buttons);
    None when there are several or the order is not verified."""
    order = ValidateOrderForm._verified_order(tracker)
    if order is None or not order.items:
        return None
    hints = return_item_hints(tracker)
    lines = matching_items(order, hints, ValidateOrderForm._brands(order, hints))
    if len(lines) < 2:
        lines = list(order.items)
    return lines[0].name if len(lines) == 1 else None


class ActionHandleOrderRequest(Action):
    """Carries out ``order_task`` for the verified order (asks before cancelling)."""

    def name(self) -> str:
        return "action_handle_order_request"

    def events_when_unavailable(self, tracker: Tracker) -> List[Dict[str, Any]]:
        return self._done()

    @staticmethod
    def _done(*extra: Dict[str, Any]) -> List[Dict[str, Any]]:
        # Task-specific answers are used once; order number and e-mail stay for follow-up questions.
        return [SlotSet("new_address", None), SlotSet("return_item", None), SlotSet("return_reason", None),
                *extra]

    @shop_guarded
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        order_id, email = tracker.get_slot("order_id"), tracker.get_slot("email")
        task = tracker.get_slot("order_task")
        task = task if task in TASKS else "status"
        if not (order_id and email and tracker.get_slot("order_verified") is True):
            # Nothing about any order for an unverified shopper; a list request hears how to verify.
            unverified = "utter_ask_order_id_to_list_orders" if task == LIST_ORDERS_TASK else None
            dispatcher.utter_message(response=unverified or "utter_email_mismatch")
            return self._done()
        shop = get_shop()
        extra: List[Dict[str, Any]] = []
        try:
            if task == "cancel":
                return self._cancel(dispatcher, tracker, shop.get_order(order_id, email))
            if task == "change_address":
                completed, extra = self._change_address(dispatcher, tracker, order_id, email)
            elif task == "return":
                completed, extra = self._return(dispatcher, tracker, order_id, email)
            elif task == "refund_status":
                completed, extra = self._refund_status(dispatcher, order_id, email)
            elif task == LIST_ORDERS_TASK:
                completed, extra = self._list_orders(dispatcher, order_id, email)
            else:
                completed = await self._status(dispatcher, tracker, domain, shop.get_order(order_id, email))
        except OrderAccessError:
            dispatcher.utter_message(response="utter_email_mismatch")
            return self._done(SlotSet("order_verified", False))
        return self._done(*extra, *([SlotSet(TASK_COMPLETED, True)] if completed else []))

    @staticmethod
    async def _status(
        dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, order: Any
    ) -> bool:
        """The order's status. Sent through `utter_response`, so an operator who switched on LLM
        rephrasing gets it reworded when every order number, date and tracking number survives."""
        if order.status == "shipped":
            await utter_response(
                dispatcher, tracker, domain,
                response="utter_order_shipped",
                order_id=order.order_id,
                carrier=order.carrier or "our carrier",
                tracking_number=order.tracking_number or "not available yet",
                eta=_date(order.estimated_delivery),
            )
            return True
        if order.status == "delivered":
            detail = f"It was delivered on {_date(order.delivered_at)}."
        else:
            detail = STATUS_DETAILS.get(order.status, "")
        await utter_response(
            dispatcher, tracker, domain,
            response="utter_order_status", order_id=order.order_id, status=order.status, detail=detail,
        )
        return True

    def _cancel(self, dispatcher: CollectingDispatcher, tracker: Tracker, order: Any) -> List[Dict[str, Any]]:
        """Asks before cancelling. The cancel request repeated as the answer to that very question ("yes
        cancel it", read as `cancel_order`, which runs the order form again) is the shopper's yes: asking
        again would loop."""
        if order.status in OPEN_ORDER_STATUSES and confirms_cancel(tracker, order.order_id):
            return self._done(*cancel_confirmed(dispatcher, order.order_id, tracker.get_slot("email")))
        if order.status not in OPEN_ORDER_STATUSES:
            dispatcher.utter_message(
                response="utter_cannot_cancel", order_id=order.order_id, status=order.status
            )
            return self._done(SlotSet("pending_confirmation", None))
        dispatcher.utter_message(
            response="utter_confirm_cancel", order_id=order.order_id, total=money(order.total)
        )
        return self._done(SlotSet("pending_confirmation", f"{PENDING_CANCEL}:{order.order_id}"))

    @classmethod
    def _change_address(
        cls, dispatcher: CollectingDispatcher, tracker: Tracker, order_id: str, email: str
    ) -> Tuple[bool, List[Dict[str, Any]]]:
        address = tracker.get_slot("new_address")
        shop = get_shop()
        if not address:
            return False, cls._cannot_change_address(dispatcher, tracker, shop.get_order(order_id, email))
        outcome = shop.change_shipping_address(order_id, email, address)
        if outcome.ok:
            dispatcher.utter_message(
                response="utter_address_changed",
                order_id=outcome.order.order_id,
                address=outcome.order.shipping_address,
            )
            return True, []
        if outcome.reason == "invalid_address":
            dispatcher.utter_message(response="utter_invalid_address", max_length=MAX_ADDRESS_LENGTH)
        elif outcome.order is not None:
            return False, cls._cannot_change_address(dispatcher, tracker, outcome.order)
        else:
            dispatcher.utter_message(response="utter_email_mismatch")
        return False, []

    @staticmethod
    def _cannot_change_address(
        dispatcher: CollectingDispatcher, tracker: Tracker, order: Any
    ) -> List[Dict[str, Any]]:
        """Why the address of ``order`` cannot change, with what the shopper can do instead: for a shipped
        order the carrier and tracking number, refusing the parcel, or returning it. Asked again right
        after that answer, the same sentence would help nobody: the offer of a colleague instead (a yes
        hands over through ``action_handle_confirmation``)."""
        if last_answer(tracker) in ADDRESS_REFUSALS:
            dispatcher.utter_message(
                response="utter_cannot_change_address_again", order_id=order.order_id, status=order.status
            )
            return [SlotSet("pending_confirmation", PENDING_HANDOFF)]
        if order.status == "shipped":
            dispatcher.utter_message(
                response="utter_cannot_change_address_shipped",
                order_id=order.order_id,
                carrier=order.carrier or "the carrier",
                tracking_number=order.tracking_number or "from your shipping e-mail",
                return_days=get_shop().return_window_days,
            )
        else:
            dispatcher.utter_message(
                response="utter_cannot_change_address", order_id=order.order_id, status=order.status
            )
        return []

    @staticmethod
    def _return(
        dispatcher: CollectingDispatcher, tracker: Tracker, order_id: str, email: str
    ) -> Tuple[bool, List[Dict[str, Any]]]:
        """A return of one item. A refund asked for an order that is already cancelled or returned
        (`request_refund` maps to this task) is about the money of that cancellation or return: its
        refund, as refund status shows it, instead of "can't be returned"."""
        shop = get_shop()
        order = shop.get_order(order_id, email)
        if order.status in REFUNDED_STATUSES and asked_for_money_back(tracker):
            return ActionHandleOrderRequest._refund_status(dispatcher, order_id, email)
        refusal = return_refusal(order)
        if refusal is not None:
            # Said before asking the shop for a return, so "which item?" never comes after the form ended.
            dispatcher.utter_message(
                response="utter_return_not_possible",
                order_id=normalize_order_id(order_id),
                reason=RETURN_REFUSALS[refusal],
            )
            return False, []
        number = normalize_order_id(order_id)
        reason = tracker.get_slot("return_reason")
        outcome = shop.start_return(order_id, email, tracker.get_slot("return_item"), reason)
        if outcome.ok:
            previous = tracker.get_slot("previous_return_reason")
            reused = isinstance(previous, dict) and previous == {"order_id": number, "reason": reason}
            if outcome.created and reused:
                dispatcher.utter_message(
                    response="utter_return_started_same_reason", order_id=number, item=outcome.item_name,
                    rma=outcome.rma_number, reason=reason_label(reason),
                )
            else:
                dispatcher.utter_message(
                    response="utter_return_started" if outcome.created else "utter_return_already_open",
                    order_id=number,
                    item=outcome.item_name,
                    rma=outcome.rma_number,
                )
            remembered = {"order_id": number, "reason": reason} if reason else None
            return True, [SlotSet("previous_return_reason", remembered)] if remembered else []
        if outcome.reason in ("which_item", "item_not_found"):
            order = shop.get_order(order_id, email)
            dispatcher.utter_message(
                response="utter_item_not_in_order", order_id=order.order_id, items=_order_lines(order)
            )
        elif outcome.reason in RETURN_REFUSALS:
            dispatcher.utter_message(
                response="utter_return_not_possible",
                order_id=normalize_order_id(order_id),
                reason=RETURN_REFUSALS[outcome.reason],
            )
        else:
            dispatcher.utter_message(response="utter_email_mismatch")
        return False, []

    @staticmethod
    def _refund_status(
        dispatcher: CollectingDispatcher, order_id: str, email: str
    ) -> Tuple[bool, List[Dict[str, Any]]]:
        """Each refund of the order with its amount, status and the day it should arrive. A refund past
        that day, or one that failed, also gets the offer of a colleague who can trace it."""
        shop = get_shop()
        refunds = shop.refund_status(order_id, email)
        number = normalize_order_id(order_id)
        if not refunds:
            unpaid = shop.get_order(order_id, email).status == "cancelled"
            dispatcher.utter_message(
                response="utter_no_refund_unpaid" if unpaid else "utter_no_refund", order_id=number
            )
            return True, []
        today = datetime.now(timezone.utc).date()
        lines = "\n".join(refund_line(refund, number, today) for refund in refunds)
        dispatcher.utter_message(response="utter_refund_status", order_id=number, refunds=lines)
        problems = [problem for problem in (refund_problem(r, number, today) for r in refunds) if problem]
        if not problems:
            return True, []
        dispatcher.utter_message(response="utter_refund_overdue", problem=" ".join(problems))
        return True, [SlotSet("pending_confirmation", PENDING_HANDOFF)]

    @staticmethod
    def _list_orders(
        dispatcher: CollectingDispatcher, order_id: str, email: str
    ) -> Tuple[bool, List[Dict[str, Any]]]:
        """The verified customer's most recent orders, newest first: number, date, status and total. The
        shop looks them up by the verified order (raises OrderAccessError otherwise), not by the e-mail.
        The task becomes "status": the order number the shopper types next ("SA-100003") asks about that
        order, not for the list again."""
        found = get_shop().recent_orders(order_id, email, limit=ORDER_LIST_LIMIT)
        lines = [
            f"- {o.order_id}, ordered {o.placed_at.day} {o.placed_at:%B %Y}: {o.status}, {money(o.total)}"
            for o in found.orders
        ]
        older = found.total - len(found.orders)
        if older > 0:
            plural = "s" if older != 1 else ""
            lines.append(f"(and {older} older order{plural}; ask me about any order by its number)")
        dispatcher.utter_message(response="utter_order_list", orders="\n".join(lines))
        return True, [SlotSet("order_task", "status")]


class ActionHandleConfirmation(Action):
    """Answers affirm/deny: carries out or drops ``pending_confirmation``; ``utter_ok`` if nothing pends."""

    def name(self) -> str:
        return "action_handle_confirmation"

    def events_when_unavailable(self, tracker: Tracker) -> List[Dict[str, Any]]:
        # Do not keep a question open that the shopper may answer much later.
        return [SlotSet("pending_confirmation", None)]

    @shop_guarded
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        # "not Marlow" / "no, any colour" right after a search is about that search, not a no to a question.
        from actions.products import search_instead  # products -> knowledge -> this module: import here

        refined = await search_instead(dispatcher, tracker, domain)
        if refined is not None:
            return refined
        # The question the bot asked last (actions/offers.py); an older one is not answered any more.
        pending = pending_offer(tracker)
        kind, _, order_id = str(pending or "").partition(":")
        answered = answer_search_offer(pending, latest_intent(tracker) == "affirm", dispatcher, tracker)
        if answered is not None:
            return answered
        if kind == PENDING_ANYTHING_ELSE:
            return self._anything_else(dispatcher, tracker)
        if kind == PENDING_HANDOFF:
            if latest_intent(tracker) == "affirm":
                return [SlotSet("pending_confirmation", None), FollowupAction(HANDOFF_ACTION)]
            dispatcher.utter_message(response="utter_ask_anything_else")
            return [SlotSet("pending_confirmation", None)]
        if kind != PENDING_CANCEL or not order_id:
            if latest_intent(tracker) == "affirm" and tracker.active_loop_name in FORMS_YES_CAN_ANSWER:
                return self._yes_in_form(dispatcher, tracker)
            dispatcher.utter_message(response="utter_ok")
            return [SlotSet("pending_confirmation", None)] if tracker.get_slot("pending_confirmation") else []
        if latest_intent(tracker) != "affirm":
            dispatcher.utter_message(response="utter_cancel_kept", order_id=order_id)
            return [SlotSet("pending_confirmation", None)]
        return cancel_confirmed(dispatcher, order_id, tracker.get_slot("email"))

    @staticmethod
    def _yes_in_form(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict[str, Any]]:
        """"Yes" to a form's question ("Which item would you like to return?", "What's your order
        number?"). The form rejected it (no slot value in it), so without this the shopper got "Okay! Let
        me know what you'd like to do next." and the question again, as if the yes had been ignored.

        Where a yes answers the question it acts: a return of the order's only item (the question showed
        that one item as its only button) takes that item, and the form goes on to the reason. Otherwise a
        short hint says what the answer has to be (``utter_yes_in_form_<slot>``); the form then asks its
        question again (rules: the active form resumes after the interruption)."""
        requested = tracker.get_slot("requested_slot")
        if requested == "return_item":
            only = only_return_candidate(tracker)
            if only is not None:
                return [SlotSet("return_item", only)]
        if requested in YES_HINT_SLOTS:
            dispatcher.utter_message(response=f"utter_yes_in_form_{requested}")
        else:
            dispatcher.utter_message(response="utter_order_form_still_asking")
        return []

    @staticmethod
    def _anything_else(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict[str, Any]]:
        """Yes or no to "Is there anything else I can help you with?". No ends the chat politely (the
        rating question once a task was done, else a goodbye): "Okay! Let me know what you'd like to do
        next." would ask the shopper who just said they are done to go on. Yes asks what else."""
        cleared = [SlotSet("pending_confirmation", None)] if tracker.get_slot("pending_confirmation") else []
        if latest_intent(tracker) == "affirm":
            dispatcher.utter_message(response="utter_what_else")
            return cleared
        return cleared + close_conversation(dispatcher, tracker)


class ActionAskReturnItem(Action):
    """The order form's question for `return_item`: which item, with one button per candidate line (the
    lines matching what the shopper already said when several do, else every line of the order)."""

    def name(self) -> str:
        return "action_ask_return_item"

    @shop_guarded
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        order = ValidateOrderForm._verified_order(tracker)
        if order is None or not order.items:
            dispatcher.utter_message(response="utter_ask_return_item")
            return []
        hints = return_item_hints(tracker)
        lines = matching_items(order, hints, ValidateOrderForm._brands(order, hints))
        if len(lines) < 2:
            lines = list(order.items)
        dispatcher.utter_message(response="utter_ask_return_item", buttons=item_buttons(lines))
        return []
