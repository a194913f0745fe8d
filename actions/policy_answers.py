"""Policy questions (delivery, payments, returns, invoices, ...) answered from the help pages by default.

The shop's help pages (data/knowledge/, the same ones `action_answer_from_knowledge` uses) hold the full
answer to a policy question; the intent's fixed `utter_<intent>` reply is a short summary. Shoppers ask
about one detail ("do you ship to Norway and who pays customs?", "can I return sale items?"), which the
summary rarely covers, and a reply that cites its page lets them read on. So the best passage answers,
with its source, whenever it scores at least the policy threshold (`$SHOP_POLICY_KNOWLEDGE_THRESHOLD`
overrides it); the fixed reply is kept only when no passage fits (a weak best passage, a broken knowledge
base, no encoder). Before 2026-12 the fixed reply won whenever it "covered" the question's passage: on
independently written help-page questions that answered 24 of 90 from the right page.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Dict, List, Optional, Sequence

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import MAX_TEXT_LENGTH, clean_text, latest_intent
from actions.knowledge import utter_passage
from actions.orders import LIST_ORDERS_TASK
from actions.questions import asks_how_things_work, asks_what_is_allowed, is_general_question
from shop import normalize_order_id
from shop.knowledge import DEFAULT_THRESHOLD as KNOWLEDGE_THRESHOLD

logger = logging.getLogger(__name__)

#: Intents whose fixed reply may be replaced by a knowledge passage (each has an `utter_<intent>`).
POLICY_INTENTS = (
    "delivery_options",
    "delivery_time",
    "return_policy",
    "payment_methods",
    "payment_issue",
    "invoice",
    "discount_code",
    "account_help",
    "change_order",
    # "can I check out as a guest?", "is there a minimum order?": the account and payment pages answer
    "place_order",
)
#: Intents that start the order form (a general question among them is answered from the help pages).
ORDER_TASK_INTENTS = (
    "order_status",
    "cancel_order",
    "change_shipping_address",
    "return_item",
    "request_refund",
    "refund_status",
)
#: Environment variable overriding :data:`DEFAULT_POLICY_THRESHOLD`.
THRESHOLD_ENV = "SHOP_POLICY_KNOWLEDGE_THRESHOLD"
#: Hybrid score a passage needs to answer instead of the fixed reply, lower than the knowledge fallback's
#: (shop.knowledge.DEFAULT_THRESHOLD, 0.59): below it the shopper still gets the intent's fixed summary, not
#: an "I don't know". Chosen by bench/knowledge/policy_path.py on the questions of bench/knowledge's tuning
#: sets (questions.yml + chatty.yml) that the NLU puts under a policy intent: best right-passage F1 at 0.52
#: (2026-12-06, shipped model: 74/93 right, 14/44 negatives given a page, F1 0.791; at 0.59 64/93, 7/44, F1
#: 0.766). The held-out set, written in the tuning set's first voice, prefers 0.59 (F1 0.933 vs 0.862: the
#: same 28/30 right, 2/17 negatives given a page against 5/17); the chat-widget voice of chatty.yml is the
#: one real shoppers write in.
#: Until 2026-12-05 a separate 0.4 on a scale without the sections' questions; then the fallback's 0.59.
DEFAULT_POLICY_THRESHOLD = 0.52
#: A help page answers a general question under recommend_product ("between S and M for a slim shirt, which
#: one?") only when it fits this well: none of the team's own general-question examples of the product intents
#: (recommend_product, check_availability, search_product) reaches 0.65 (max 0.64), while 78 % of
#: bench/knowledge's answerable questions do. Only recommend_product uses it so far.
STRONG_PAGE_THRESHOLD = 0.65
#: Passages searched per question.
CANDIDATES = 3


def policy_threshold() -> float:
    """The configured threshold; a malformed environment value is ignored (with a warning)."""
    default = DEFAULT_POLICY_THRESHOLD
    raw = os.environ.get(THRESHOLD_ENV)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        logger.warning("%s=%r is not a number; using %.2f", THRESHOLD_ENV, raw, default)
        return default
    return value if 0.0 <= value <= 1.0 else default


def choose_passage(hits: Sequence[Any], threshold: float) -> Optional[Any]:
    """The passage to answer with (the best hit, ``hits`` sorted best first), or None to keep the fixed
    reply when even the best one scores below ``threshold``."""
    if not hits or hits[0].score < threshold:
        return None
    return hits[0]


def _knowledge_base() -> Any:
    from shop.knowledge import default_knowledge_base

    return default_knowledge_base()


def passage_for(question: str, response: str, threshold: Optional[float] = None) -> Optional[Any]:
    """The help-page passage that answers ``question`` (scoring at least ``threshold``, default
    :func:`policy_threshold`), or None to send ``response`` instead."""
    try:
        kb = _knowledge_base()
        if kb.keyword_only:
            # Keyword scores alone do not tell a fitting passage from one that shares a few words.
            return None
        hits = kb.search(question, k=CANDIDATES)
        passage = choose_passage(hits, policy_threshold() if threshold is None else threshold)
    except Exception:  # a broken knowledge base must not cost the shopper the fixed reply
        logger.exception("policy question: the knowledge base failed; using %s", response)
        return None
    if hits:
        logger.info("policy question (%s): best %s %.3f -> %s", response, hits[0].key, hits[0].score,
                    "passage" if passage is not None else "fixed reply")
    return passage


class ActionAnswerPolicyQuestion(Action):
    """`utter_<intent>` for a policy intent, or a better-fitting knowledge passage with its source."""

    def name(self) -> str:
        return "action_answer_policy_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        intent = latest_intent(tracker)
        if intent not in POLICY_INTENTS:
            dispatcher.utter_message(response="utter_default")
            return []
        response = f"utter_{intent}"
        question = clean_text((tracker.latest_message or {}).get("text"), MAX_TEXT_LENGTH)
        # a button ("/place_order") carries no question: the intent's own reply, with its offer
        passage = passage_for(question, response) if question and not question.startswith("/") else None
        if passage is None:
            dispatcher.utter_message(response=response)
            return []
        utter_passage(dispatcher, passage)
        return []


def answer_general_question(
    dispatcher: CollectingDispatcher, tracker: Tracker, with_order: bool = False,
    threshold: Optional[float] = None,
) -> bool:
    """Answers the latest message from the help pages when it is a general question (see
    actions/questions.py) and a passage fits; False (nothing sent) otherwise. ``with_order``: also a
    question with a policy cue about the shopper's own order ("is it too late to cancel SA-100021?"),
    for the order form, which goes on with the request after the answer. ``threshold``: the score the
    passage needs (default: the knowledge fallback's :data:`shop.knowledge.DEFAULT_THRESHOLD`;
    :data:`STRONG_PAGE_THRESHOLD` under intents whose own flow is not about the shop's rules)."""
    if threshold is None:
        # Not the policy path's lower threshold: here the alternative to a page is a question back ("which
        # product?", "what's your order number?"), not a fixed summary, so a page needs the knowledge
        # fallback's evidence.
        threshold = KNOWLEDGE_THRESHOLD
    message = tracker.latest_message or {}
    question = clean_text(message.get("text"), MAX_TEXT_LENGTH)
    if not question:
        return False
    is_question = asks_how_things_work if with_order else is_general_question
    if is_question(question, message.get("entities") or []):
        passage = passage_for(question, "the intent's own reply", threshold)
    elif with_order and asks_what_is_allowed(question):
        # "can I change the address on SA-100033?" is a request too: the flow goes on after the page, and
        # only a strongly fitting page is worth the shopper's time.
        passage = passage_for(question, "the intent's own reply", max(threshold, STRONG_PAGE_THRESHOLD))
    else:
        return False
    if passage is None:
        return False
    utter_passage(dispatcher, passage)
    return True


def answer_other_question(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """A question the message that started the order form asked besides its order request ("where is
    SA-100006 and can I still change what's in it?"), answered before the form's question: while the form
    asks, nothing else answers it (actions/other_clause.py)."""
    if latest_intent(tracker) not in (*ORDER_TASK_INTENTS, "delivery_problem"):
        return
    from actions.other_clause import answer_open_question_clause  # it imports this module

    answer_open_question_clause(dispatcher, tracker)


class ActionAskOrderId(Action):
    """The order form's question for the order number. When the message that started the form asks how
    things work ("can I swap for a bigger size?", "how long until my refund arrives?"), the help page
    answers it first and the form then only offers to do it for one of the shopper's orders. A second
    question in that message is answered before the form asks (`answer_other_question`). A shopper who
    asked for their orders ("can you look up my orders with my email?") hears that one order number with
    its e-mail is the way to see them all: orders are never listed for an e-mail alone."""

    def name(self) -> str:
        return "action_ask_order_id"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        if tracker.get_slot("order_task") == LIST_ORDERS_TASK:
            dispatcher.utter_message(response="utter_ask_order_id_to_list_orders")
            return []
        answered = latest_intent(tracker) in ORDER_TASK_INTENTS and answer_general_question(
            dispatcher, tracker, with_order=True
        )
        answer_other_question(dispatcher, tracker)
        dispatcher.utter_message(
            response="utter_ask_order_id_after_answer" if answered else "utter_ask_order_id"
        )
        return []


class ActionAskEmail(Action):
    """The order form's question for the e-mail address. A message that named its order and asks how
    things work ("how do I cancel SA-100021?") gets the help page's answer before the identity check, and so
    does a second question in that message (`answer_other_question`)."""

    def name(self) -> str:
        return "action_ask_email"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        if latest_intent(tracker) in ORDER_TASK_INTENTS:
            answer_general_question(dispatcher, tracker, with_order=True)
        answer_other_question(dispatcher, tracker)
        dispatcher.utter_message(response="utter_ask_email")
        return []


def slot_before_latest_message(tracker: Tracker, slot: str) -> Any:
    """The value ``slot`` had before the shopper's latest message (slot mappings may have changed it)."""
    events = list(tracker.events or [])
    latest_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=len(events))
    for event in reversed(events[:latest_user]):
        if event.get("event") == "slot" and event.get("name") == slot:
            return event.get("value")
    return None


class ActionOrderFormInterjection(Action):
    """An order intent while the order form waits for an answer. A general question ("if I cancel, how long
    until I get my money back?") is answered from the help pages and does not change the task the form is
    doing (the `order_task` slot mapping set it from the question's intent, so it is put back); a repeated or
    changed request gets a short "I'm on it". The form then asks its question again (rule)."""

    def name(self) -> str:
        return "action_order_form_interjection"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        if answer_general_question(dispatcher, tracker):
            task = slot_before_latest_message(tracker, "order_task")
            return [SlotSet("order_task", task)] if task and task != tracker.get_slot("order_task") else []
        dispatcher.utter_message(response="utter_order_form_still_asking")
        return []


def known_order_id(tracker: Tracker) -> Optional[str]:
    """The order number the shopper has given: in the latest message, else earlier in this conversation (the
    `order_id` slot, filled from every message that names one, whatever its intent)."""
    for entity in (tracker.latest_message or {}).get("entities") or []:
        if entity.get("entity") == "order_id" and normalize_order_id(clean_text(entity.get("value"))):
            return normalize_order_id(clean_text(entity.get("value")))
    return normalize_order_id(clean_text(tracker.get_slot("order_id")))


class ActionAnswerDeliveryProblem(Action):
    """A general question about delivery trouble ("what if my parcel arrives damaged?") from the help
    pages. A report of a problem ("my parcel never arrived") looks the order up: when the shopper already
    gave its number, in this message or an earlier one (an angry first message often does: "SA-100001 is a
    week late!!", then "so where is it?"), the order form starts for its status and asks only for the e-mail;
    asking for the number again told them nobody had listened. Without a number, `utter_delivery_problem`
    asks for it."""

    def name(self) -> str:
        return "action_answer_delivery_problem"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        if answer_general_question(dispatcher, tracker):
            return []
        order_id = known_order_id(tracker)
        if order_id is None:
            dispatcher.utter_message(response="utter_delivery_problem")
            return []
        dispatcher.utter_message(response="utter_delivery_problem_known_order", order_id=order_id)
        return [SlotSet("order_id", order_id), SlotSet("order_task", "status"), FollowupAction("order_form")]


__all__ = [
    "ActionAnswerDeliveryProblem",
    "ActionAnswerPolicyQuestion",
    "ActionAskEmail",
    "ActionAskOrderId",
    "ActionOrderFormInterjection",
    "POLICY_INTENTS",
    "STRONG_PAGE_THRESHOLD",
    "answer_general_question",
    "choose_passage",
    "passage_for",
]
