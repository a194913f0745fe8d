"""Yes and no to the bot's own offers (actions/offers.py): every question with an implied action acts on
the answer, and only the question asked last is answered."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk import Tracker

from actions.feedback import ActionOfferCsat
from actions.offers import OFFERS_BY_RESPONSE, PENDING_SEARCH, pending_offer
from actions.orders import ActionHandleConfirmation
from actions.products import ActionProductInfo, ActionSearchProducts
from tests.actions.conftest import make_tracker, responses, run_action, slot_events


def user(text: str, intent: str) -> Dict[str, Any]:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}, "entities": []}}


def bot(response: str, text: str = "...") -> Dict[str, Any]:
    """A bot message as Rasa stores it: the response's name is in the metadata."""
    return {"event": "bot", "text": text, "metadata": {"utter_action": response}}


def slot(name: str, value: Any) -> Dict[str, Any]:
    return {"event": "slot", "name": name, "value": value}


def action(name: str) -> Dict[str, Any]:
    return {"event": "action", "name": name}


def answer(history: List[Dict[str, Any]], intent: str, slots: Optional[Dict[str, Any]] = None) -> Tracker:
    """The tracker when the shopper answers ``intent`` ("yes"/"no") after ``history``."""
    text = "yes" if intent == "affirm" else "no"
    events = [*history, action("action_listen"), user(text, intent)]
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.99}, "entities": []}
    return Tracker("shopper", dict(slots or {}), latest, events, False, None, {}, "action_listen")


def confirm(tracker: Tracker, domain: Dict[str, Any]):
    return run_action(ActionHandleConfirmation(), tracker, domain)


def followups(events: List[Dict[str, Any]]) -> List[str]:
    return [e["name"] for e in events if e.get("event") == "followup"]


# -------------------------------------------------------------------- offers made by rules (responses)


def test_yes_to_shall_i_search_starts_the_search_form(domain):
    history = [user("how do I place an order?", "place_order"), action("utter_place_order"),
               bot("utter_place_order")]
    messages, events = confirm(answer(history, "affirm"), domain)
    assert messages == []  # the form asks "What are you looking for?" with the category buttons
    assert followups(events) == ["product_search_form"]


def test_yes_to_shall_i_search_drops_the_filters_of_an_earlier_search(domain):
    history = [action("action_search_products"), user("how do I order?", "place_order"),
               action("utter_place_order"), bot("utter_place_order")]
    tracker = answer(history, "affirm", slots={"category": "jackets", "color": "red", "size": None})
    _, events = confirm(tracker, domain)
    assert {"category": None, "color": None}.items() <= slot_events(events).items()
    assert "size" not in slot_events(events)
    assert followups(events) == ["product_search_form"]


def test_no_to_shall_i_search_moves_on(domain):
    history = [user("how do I place an order?", "place_order"), bot("utter_place_order")]
    messages, events = confirm(answer(history, "deny"), domain)
    assert responses(messages) == ["utter_ask_anything_else"]
    assert followups(events) == []


@pytest.mark.parametrize("response", ["utter_complaint", "utter_other_language", "utter_bot_challenge"])
def test_yes_to_an_offered_colleague_hands_over(domain, response):
    messages, events = confirm(answer([user("...", "complaint"), bot(response)], "affirm"), domain)
    assert messages == []
    assert followups(events) == ["action_handoff"]


def test_every_offer_by_response_is_a_domain_response_that_offers_something(domain):
    for name in OFFERS_BY_RESPONSE:
        texts = " ".join(variant["text"] for variant in domain["responses"][name])
        assert any(word in texts for word in ("?", "colleague", "someone")), name


def test_the_offer_is_the_last_message_of_the_bot_s_turn(domain):
    # "Shall I search for something?" came before the shopper's previous message: not answered now
    history = [bot("utter_place_order"), user("how long does delivery take?", "delivery_time"),
               bot("utter_delivery_time")]
    messages, events = confirm(answer(history, "affirm"), domain)
    assert responses(messages) == ["utter_ok"]
    assert followups(events) == []


# ----------------------------------------------------------------- offers recorded by actions (slot)


def test_yes_to_try_again_without_a_filter_searches_without_it(domain):
    history = [user("show me Lumen hats", "search_product"), action("action_search_products"),
               bot("utter_no_results_relax"), slot("pending_confirmation", "relax:brand")]
    tracker = answer(history, "affirm", slots={"pending_confirmation": "relax:brand", "category": "hats",
                                                "brand": "Lumen"})
    messages, events = confirm(tracker, domain)
    assert messages == []
    assert slot_events(events) == {"pending_confirmation": None, "brand": None}
    assert followups(events) == ["action_search_products"]


def test_no_to_try_again_without_a_filter_keeps_the_search(domain):
    history = [bot("utter_no_results_relax"), slot("pending_confirmation", "relax:brand")]
    messages, events = confirm(answer(history, "deny", {"pending_confirmation": "relax:brand"}), domain)
    assert responses(messages) == ["utter_ask_anything_else"]
    assert slot_events(events) == {"pending_confirmation": None}


def test_an_offer_recorded_before_the_previous_message_is_stale(domain):
    # "Shall I get a colleague?", then a new question, then "yes" to something else: nobody is called
    history = [bot("utter_knowledge_unknown"), slot("pending_confirmation", "handoff"),
               user("show me red hoodies", "search_product"), bot("utter_search_results")]
    messages, events = confirm(answer(history, "affirm", {"pending_confirmation": "handoff"}), domain)
    assert responses(messages) == ["utter_ok"]
    assert slot_events(events) == {"pending_confirmation": None}
    assert followups(events) == []


def test_a_recorded_offer_without_its_event_is_taken_at_its_word():
    tracker = make_tracker(slots={"pending_confirmation": "relax:color"}, intent="affirm")
    assert pending_offer(tracker) == "relax:color"


def test_an_unknown_product_offers_a_search(shop_db, domain):
    tracker = make_tracker(slots={"product": "flux capacitor 3000"}, intent="product_info")
    messages, events = run_action(ActionProductInfo(), tracker, domain)
    assert responses(messages) == ["utter_product_not_found"]
    assert slot_events(events)["pending_confirmation"] == PENDING_SEARCH


def test_a_search_without_results_offers_to_drop_the_filter_in_the_way(shop_db, domain):
    entities = [{"entity": "brand", "value": "Lumen"}, {"entity": "category", "value": "hats"}]
    tracker = make_tracker(slots={"category": "hats", "brand": "Lumen"}, text="show me Lumen hats",
                           intent="search_product", entities=entities)
    messages, events = run_action(ActionSearchProducts(), tracker, domain)
    assert responses(messages) == ["utter_no_results_relax"]
    assert slot_events(events)["pending_confirmation"] == "relax:brand"


def test_yes_to_try_again_without_the_brand_lists_products(shop_db, domain):
    # the whole exchange: "show me Lumen hats" -> none, "want to try again without it?" -> "yes" -> hats
    entities = [{"entity": "brand", "value": "Lumen"}, {"entity": "category", "value": "hats"}]
    search = make_tracker(slots={"category": "hats", "brand": "Lumen"}, text="show me Lumen hats",
                          intent="search_product", entities=entities)
    _, searched = run_action(ActionSearchProducts(), search, domain)
    slots = {"category": "hats", "brand": "Lumen", **slot_events(searched)}
    history = [*search.events, action("action_search_products"), *searched, bot("utter_no_results_relax")]
    _, confirmed = confirm(answer(history, "affirm", slots), domain)
    assert followups(confirmed) == ["action_search_products"]

    slots.update(slot_events(confirmed))
    events = [*history, action("action_listen"), user("yes", "affirm"),
              action("action_handle_confirmation"), *confirmed]
    latest = {"text": "yes", "intent": {"name": "affirm", "confidence": 0.99}, "entities": []}
    again = Tracker("shopper", slots, latest, events, False, None, {}, "action_handle_confirmation")
    messages, _ = run_action(ActionSearchProducts(), again, domain)
    assert responses(messages) == ["utter_search_results"]
    assert "Lumen" not in messages[0]["what"]


# ------------------------------------------------------------------------- "Anything else?" (issue 15)


def thanks(history: List[Dict[str, Any]], slots: Optional[Dict[str, Any]] = None) -> Tracker:
    """The tracker when the shopper answers "no thanks", read as `thank`, after ``history``."""
    events = [*history, action("action_listen"), user("no thanks", "thank")]
    latest = {"text": "no thanks", "intent": {"name": "thank", "confidence": 0.9}, "entities": []}
    return Tracker("shopper", dict(slots or {}), latest, events, False, None, {}, "action_listen")


@pytest.mark.parametrize("question", ["utter_ask_anything_else", "utter_welcome"])
def test_no_to_anything_else_says_goodbye(domain, question):
    # Issue 15: "no" after "Is there anything else I can help you with?" got "Okay! Let me know what you'd
    # like to do next."
    history = [user("how do I place an order?", "place_order"), bot("utter_place_order"),
               action("action_listen"), user("no", "deny"), bot(question)]
    messages, events = confirm(answer(history, "deny"), domain)
    assert responses(messages) == ["utter_goodbye"]
    assert followups(events) == []


def test_no_to_anything_else_after_a_finished_task_asks_for_the_rating(domain):
    history = [user("no", "deny"), bot("utter_ask_anything_else")]
    messages, events = confirm(answer(history, "deny", {"task_completed": True}), domain)
    assert responses(messages) == ["utter_ask_csat"]
    assert slot_events(events) == {"csat_asked": True}


def test_no_to_anything_else_once_rated_only_says_goodbye(domain):
    history = [user("no", "deny"), bot("utter_ask_anything_else")]
    slots = {"task_completed": True, "csat_asked": True}
    messages, _ = confirm(answer(history, "deny", slots), domain)
    assert responses(messages) == ["utter_goodbye"]


def test_yes_to_anything_else_asks_what_else(domain):
    history = [user("no", "deny"), bot("utter_ask_anything_else")]
    messages, events = confirm(answer(history, "affirm"), domain)
    assert responses(messages) == ["utter_what_else"]
    assert followups(events) == []


def test_no_thanks_to_anything_else_read_as_thanks_ends_the_chat(domain):
    # "You're welcome! Anything else I can do?" would ask the question the shopper just answered again
    history = [user("no", "deny"), bot("utter_ask_anything_else")]
    messages, _ = run_action(ActionOfferCsat(), thanks(history), domain)
    assert responses(messages) == ["utter_goodbye"]
    messages, events = run_action(ActionOfferCsat(), thanks(history, {"task_completed": True}), domain)
    assert responses(messages) == ["utter_ask_csat"]


def test_thanks_without_a_question_still_get_you_are_welcome(domain):
    history = [user("show me red hoodies", "search_product"), bot("utter_search_results")]
    messages, _ = run_action(ActionOfferCsat(), thanks(history), domain)
    assert responses(messages) == ["utter_welcome"]
