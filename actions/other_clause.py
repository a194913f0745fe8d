"""The other requests of a message that asked two things ("how long does shipping take and is it free?")
or three.

The NLU records such a message's clauses with their intents (:mod:`shop.clauses`); the bot first answers the
message's intent as usual. ``OtherClausePolicy`` (components/policies/other_clause_policy.py) then predicts
``action_answer_other_clause`` with the clause that answer left open in the ``other_clause`` slot:

* a question the help pages answer (a policy intent, a general question under an order or delivery intent)
  gets "As for your other question:" and the passage with its source, or the intent's fixed reply when no
  passage fits; when the answer already sent this turn is that very passage or reply, nothing more is said
  (one question, one answer);
* a request that needs a task flow (an order number and e-mail, a search, a product) gets "You also asked
  where your order SA-100006 is. Shall I look into that next?": the bot does one thing at a time and the
  shopper decides. The offer stays in ``other_clause`` (``offered``); the shopper's yes (rule: this action
  again) starts the flow (the order form with the task and the clause's order number, or the product
  action), no says "anything else?". A yes or no when this action offered nothing goes to
  ``action_handle_confirmation`` as usual.

A message that asked three things ("How long does shipping take? Is it free? Where is SA-100006?") may
leave two clauses open; the policy hands both over in one go (the second under ``further``).
Every question among them is answered, in order (the second after "And as for your next question:"); then
a request that needs a task flow is offered as above. Two such requests are both said back ("You also asked
... and ... Shall I look into the first of these next? Then just ask me about the other one."): the bot
still does one thing at a time, yes starts the first, and the shopper knows the second was not done.

When the message's intent starts the order form, the form asks for the order number or e-mail at once and
the policy stays quiet (it never interrupts a form); the form's questions (actions/policy_answers.py) then
answer every *question* left open with :func:`answer_open_question_clause` before asking (a second task
in such a message is not taken up).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Iterable, List, Mapping, Optional, Set, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import MAX_SHORT_LENGTH, clean_text, latest_intent
from actions.knowledge import utter_passage
from actions.policy_answers import POLICY_INTENTS, passage_for
from actions.questions import is_general_question
from shop.clauses import CLAUSES_KEY, FURTHER_KEY, contextual_query, entities_in, unanswered_clauses

logger = logging.getLogger(__name__)

ANSWER_ACTION = "action_answer_other_clause"
#: Slot holding the clause to answer (set by OtherClausePolicy) and, once offered, the offer.
OTHER_CLAUSE_SLOT = "other_clause"
#: Key in the slot's value marking a clause this action offered to look into.
OFFERED = "offered"
#: Handles a yes or no to any other question of the bot (actions/orders.py).
CONFIRMATION_ACTION = "action_handle_confirmation"

#: Order requests and the `order_task` of the order form that carries each out.
ORDER_TASKS: Dict[str, str] = {
    "order_status": "status",
    "delivery_problem": "status",
    "cancel_order": "cancel",
    "change_shipping_address": "change_address",
    "return_item": "return",
    "request_refund": "return",
    "refund_status": "refund_status",
    "list_orders": "list_orders",
}
#: Product requests and the action (or form) that answers each.
PRODUCT_ACTIONS: Dict[str, str] = {
    "search_product": "product_search_form",
    "product_info": "action_product_info",
    "check_availability": "action_check_availability",
    "recommend_product": "action_recommend_products",
}
#: Entities of a product request that its action reads from slots of the same name.
PRODUCT_SLOTS = ("product", "category", "brand", "color", "size", "material")
#: Intents answered by a fixed reply even without a help page.
FIXED_REPLIES: Dict[str, str] = {"place_order": "utter_place_order"}
#: What comes before the answer to a clause's question: the first one, and each one after it.
INTRO = "utter_other_clause_intro"
NEXT_INTRO = "utter_other_clause_intro_next"


def clause_intent(clause: Mapping[str, Any]) -> Optional[str]:
    """The intent name of a recorded clause."""
    intent = clause.get("intent")
    name = intent.get("name") if isinstance(intent, Mapping) else intent
    return str(name) if name else None


def clause_entity(clause: Mapping[str, Any], entity: str) -> Optional[str]:
    """The value of the first ``entity`` inside the clause; a value the shopper rules out ("not Marlow",
    role ``excluded``) is none, as for the domain's slot mappings."""
    for found in clause.get("entities") or []:
        if isinstance(found, Mapping) and found.get("entity") == entity and found.get("role") != "excluded":
            value = clean_text(found.get("value"), MAX_SHORT_LENGTH)
            if value:
                return value
    return None


def offer_topic(clause: Mapping[str, Any]) -> Optional[str]:
    """What the shopper also asked, as the bot says it back ("where your order SA-100006 is"); None for a
    clause no task flow answers."""
    intent = clause_intent(clause)
    order = clause_entity(clause, "order_id")
    your_order = f"order {order}" if order else "your order"
    product = clause_entity(clause, "product")
    category = clause_entity(clause, "category")
    topics = {
        "order_status": f"where {your_order} is",
        "delivery_problem": f"about the delivery of {your_order}",
        "cancel_order": f"about cancelling {your_order}",
        "change_shipping_address": f"about changing the delivery address of {your_order}",
        "return_item": f"about returning something from {your_order}",
        "request_refund": f"about a refund for {your_order}",
        "refund_status": f"about the refund for {your_order}",
        "list_orders": "for a list of your orders",
        "search_product": f"about finding {category or 'a product'}",
        "product_info": f"about {product or 'a product'}",
        "check_availability": f"whether {product or 'it'} is in stock",
        "recommend_product": f"for recommendations{f' for {category}' if category else ''}",
    }
    return topics.get(intent or "")


def _sent_this_turn(tracker: Tracker, dispatcher: CollectingDispatcher) -> Tuple[List[str], Set[str]]:
    """(texts, response names) the bot sent since the shopper's latest message, this action's so far too."""
    texts: List[str] = []
    names: Set[str] = set()
    for event in reversed(tracker.events or []):
        if event.get("event") == "user":
            break
        if event.get("event") == "bot":
            texts.append(str(event.get("text") or ""))
            names.add(str((event.get("metadata") or {}).get("utter_action") or ""))
    for message in dispatcher.messages:
        texts += [str(message.get(key) or "") for key in ("text", "answer")]
        names.add(str(message.get("response") or ""))
    return texts, names


def _other_texts(tracker: Tracker, clause: Mapping[str, Any]) -> List[str]:
    """The texts of the latest message's other clauses (the context of a clause that points back)."""
    clauses = (tracker.latest_message or {}).get(CLAUSES_KEY) or []
    return [
        str(c.get("text") or "")
        for c in clauses
        if isinstance(c, Mapping) and c.get("text") and c.get("text") != clause.get("text")
    ]


def _question_answer(tracker: Tracker, clause: Mapping[str, Any]) -> Optional[Tuple[str, Any]]:
    """("passage", passage) or ("response", name) that answers the clause as a question; None when it is a
    request for a task flow (or no answer fits)."""
    intent = clause_intent(clause)
    text = clean_text(clause.get("text")) or ""
    query = contextual_query(text, _other_texts(tracker, clause))
    if intent in POLICY_INTENTS:
        passage = passage_for(query, f"utter_{intent}")
        return ("passage", passage) if passage is not None else ("response", f"utter_{intent}")
    if intent in ORDER_TASKS and is_general_question(text, clause.get("entities") or []):
        passage = passage_for(query, "an offer to look into it")
        return ("passage", passage) if passage is not None else None
    if intent in FIXED_REPLIES:
        return "response", FIXED_REPLIES[intent]
    return None


def answer_question_clause(
    dispatcher: CollectingDispatcher, tracker: Tracker, clause: Mapping[str, Any], intro: str = INTRO
) -> bool:
    """Answers the clause when it is a question (see the module doc), after ``intro``: True when it is one,
    whether it was answered now or the answer sent this turn already covers it; False when it needs a task
    flow."""
    answer = _question_answer(tracker, clause)
    if answer is None:
        return False
    kind, value = answer
    texts, names = _sent_this_turn(tracker, dispatcher)
    if kind == "passage" and any(value.text.strip() in text for text in texts):
        logger.info("other clause (%s): the answer above is the same passage", clause_intent(clause))
        return True
    if kind == "response" and value in names:
        return True
    dispatcher.utter_message(response=intro)
    if kind == "passage":
        utter_passage(dispatcher, value)
    else:
        dispatcher.utter_message(response=value)
    return True


def answer_question_clauses(
    dispatcher: CollectingDispatcher, tracker: Tracker, clauses: Iterable[Mapping[str, Any]]
) -> List[Mapping[str, Any]]:
    """Answers each clause that is a question, in order (the first after "As for your other question:",
    the others after "And as for your next question:"); returns the clauses that need a task flow."""
    left: List[Mapping[str, Any]] = []
    intro = INTRO
    for clause in clauses:
        before = len(dispatcher.messages)
        if not answer_question_clause(dispatcher, tracker, clause, intro):
            left.append(clause)
        elif len(dispatcher.messages) > before:
            intro = NEXT_INTRO
    return left


def answer_open_question_clause(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """For the order form's questions: answers every question the latest message asked besides its order
    request ("where is SA-100006 and can I still change what's in it?"), never offering anything (the form
    is busy). False when there is no such question."""
    message = tracker.latest_message or {}
    open_clauses = unanswered_clauses(message.get(CLAUSES_KEY), latest_intent(tracker))
    for clause in open_clauses:
        clause["entities"] = entities_in(clause, message.get("entities") or [])
    return len(answer_question_clauses(dispatcher, tracker, open_clauses)) < len(open_clauses)


def _start_task(clause: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """The events that start the flow the clause asked for."""
    intent = clause_intent(clause) or ""
    if intent in ORDER_TASKS:
        events = [SlotSet("order_task", ORDER_TASKS[intent])]
        order_id = clause_entity(clause, "order_id")
        if order_id:
            events.append(SlotSet("order_id", order_id))
        return events + [FollowupAction("order_form")]
    if intent in PRODUCT_ACTIONS:
        events = [
            SlotSet(slot, clause_entity(clause, slot))
            for slot in PRODUCT_SLOTS
            if clause_entity(clause, slot)
        ]
        return events + [FollowupAction(PRODUCT_ACTIONS[intent])]
    return []


def _last_action_before_latest_message(events: Iterable[Dict[str, Any]]) -> Optional[str]:
    seen_user = False
    for event in reversed(list(events)):
        if event.get("event") == "user":
            if seen_user:
                return None
            seen_user = True
        elif seen_user and event.get("event") == "action" and event.get("name") != "action_listen":
            return event.get("name")
    return None


def _without_further(clause: Mapping[str, Any]) -> Dict[str, Any]:
    return {key: value for key, value in clause.items() if key != FURTHER_KEY}


def _clauses_in(value: Any) -> List[Mapping[str, Any]]:
    """The clauses the policy handed over in the slot: the first, then those under ``further``."""
    if not isinstance(value, Mapping) or not clean_text(value.get("text")):
        return []
    further = value.get(FURTHER_KEY)
    rest = (
        [c for c in further if isinstance(c, Mapping) and clean_text(c.get("text"))]
        if isinstance(further, list)
        else []
    )
    return [_without_further(value), *rest]


class ActionAnswerOtherClause(Action):
    """Answers, or offers to look into, the requests a message's first answer left open (one for a message
    that asked two things, up to two for three)."""

    def name(self) -> str:
        return ANSWER_ACTION

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        clause = tracker.get_slot(OTHER_CLAUSE_SLOT)
        intent = latest_intent(tracker)
        if intent in ("affirm", "deny"):
            return self._reply_to_offer(dispatcher, tracker, clause, intent == "affirm")
        clauses = _clauses_in(clause)
        if not clauses:
            return [SlotSet(OTHER_CLAUSE_SLOT, None)] if clause is not None else []
        tasks = [(c, offer_topic(c)) for c in answer_question_clauses(dispatcher, tracker, clauses)]
        tasks = [(c, topic) for c, topic in tasks if topic is not None]
        topics = list(dict.fromkeys(topic for _, topic in tasks))  # one offer per request said back
        if not topics:
            return [SlotSet(OTHER_CLAUSE_SLOT, None)]
        first = tasks[0][0]
        if len(topics) == 1:
            dispatcher.utter_message(response="utter_other_clause_offer", topic=topics[0])
        else:
            dispatcher.utter_message(
                response="utter_other_clause_offer_first",
                topics=" and ".join([", ".join(topics[:-1]), topics[-1]]),
            )
        return [SlotSet(OTHER_CLAUSE_SLOT, {**first, OFFERED: True})]

    @staticmethod
    def _reply_to_offer(
        dispatcher: CollectingDispatcher, tracker: Tracker, offer: Any, affirmed: bool
    ) -> List[Dict[str, Any]]:
        """A yes or no right after this action offered to look into the other request; any other yes or no
        is answered by ``action_handle_confirmation``."""
        fresh = _last_action_before_latest_message(tracker.events or []) == ANSWER_ACTION
        if not (fresh and isinstance(offer, Mapping) and offer.get(OFFERED)):
            return [FollowupAction(CONFIRMATION_ACTION)]
        done = SlotSet(OTHER_CLAUSE_SLOT, None)
        if not affirmed:
            dispatcher.utter_message(response="utter_ask_anything_else")
            return [done]
        return [done, *_start_task(offer)]


__all__ = [
    "ActionAnswerOtherClause",
    "answer_open_question_clause",
    "answer_question_clause",
    "answer_question_clauses",
    "offer_topic",
]
