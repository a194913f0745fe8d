"""Product actions: search (with its form validator), product details, stock checks and recommendations."""
from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from typing import Any, Dict, List, Mapping, Optional, Tuple

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import MAX_SHORT_LENGTH, clean_text, get_shop, latest_intent, money, shop_guarded
from actions.knowledge import ActionAnswerFromKnowledge
from actions.offers import PENDING_RELAX, PENDING_SEARCH, offer
from actions.policy_answers import STRONG_PAGE_THRESHOLD, answer_general_question
from actions.search_filters import (
    ENTITY_FILTERS,
    EXCLUDED_ROLE,
    EXCLUSIONS,
    FALLBACK_INTENT,
    SearchFilters,
    Turn,
    asks_cheaper,
    classify_turn,
    describe_filters,
    dropped_filters,
    found_phrase,
    material_in_text,
)
from shop.vocabulary import BRANDS, normalize_category, normalize_color, normalize_material, normalize_size

logger = logging.getLogger(__name__)

#: How many products a search or recommendation lists.
RESULT_LIMIT = 5
#: Slots that filter a search (filled from the NLU's entities). action_search_products sets them to the
#: filters it applied; what it applied is also kept whole in `search_filters`, the only record it trusts
#: (entities of later messages fill these slots whatever those messages were about).
FILTER_SLOTS = ("category", "color", "size", "brand", "max_price", "material")
#: Which filter slot an entity fills (a price fills `max_price` unless its role is `min`).
ENTITY_FILTER_SLOTS = ENTITY_FILTERS
#: The filters of the latest search in this session (a dict, see actions.search_filters.SearchFilters).
SEARCH_FILTERS_SLOT = "search_filters"
#: Slot holding the names of the products the latest search listed, in the order shown.
LISTED_SLOT = "listed_products"
SEARCH_ACTION = "action_search_products"
#: Set when the shopper found what they asked about (results listed, details or stock shown): the
#: end-of-chat survey (actions/feedback.py) is only offered after a completed task.
TASK_COMPLETED = "task_completed"
#: How many "customers also bought" and "similar products" a suggestion shows (each).
SUGGESTION_LIMIT = 3
SEARCH_FORM = "product_search_form"
#: Input channels that get a product list as text only, without a button per product. Rasa's own `rasa
#: shell` ("cmdline") shows a reply's buttons as an arrow-key menu under its text, so every listed product
#: appeared twice (and typed letters moved the menu's cursor). The shopper picks a product there by naming
#: it. `make demo`'s console (channels/console.py) numbers the list in place and names itself
#: "terminal", so it keeps the buttons, as do REST, the web chat, Telegram and Slack.
TEXT_ONLY_LIST_CHANNELS = frozenset({"cmdline"})

_ORDINALS = {
    "first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
    "fifth": 4, "5th": 4, "last": -1,
}
#: "the second one", "the 2nd", "the last product", "number 2" (the listed order, 1-based for shoppers).
_ORDINAL_RE = re.compile(
    r"\b(?:the\s+(?P<a>first|second|third|fourth|fifth|last|1st|2nd|3rd|4th|5th)\b"
    r"|(?P<b>first|second|third|fourth|fifth|last|1st|2nd|3rd|4th|5th)\s+(?:one|product|item|pair)s?\b"
    r"|(?:number|no\.?|#|option)\s*(?P<n>[1-9])\b)",
    re.IGNORECASE,
)
#: "that one", "this one": the product talked about last (or the only one listed).
_DEICTIC_RE = re.compile(r"\b(?:that|this)\s+(?:one|product|item|pair)\b", re.IGNORECASE)
#: What the relax hint of the shop layer calls each filter, in the shopper's words.
FILTER_LABELS = {
    "max_price": "price", "color": "colour", "size": "size", "brand": "brand", "material": "material",
}

_PRICE_RE = re.compile(r"\d+(?:[.,]\d{1,2})?")


def canonical_category(value: Any) -> Optional[str]:
    """``"Jacket"``/``"jackets"``/``"tshirt"`` -> the catalog's plural category, or None."""
    return normalize_category(clean_text(value, MAX_SHORT_LENGTH))


def canonical_color(value: Any) -> Optional[str]:
    """Canonical colour; an unknown colour is kept (lower case) so the search can say it found none."""
    text = clean_text(value, MAX_SHORT_LENGTH)
    if text is None:
        return None
    return normalize_color(text) or text.lower()


def canonical_size(value: Any) -> Optional[str]:
    """Canonical size ("xl" -> "XL", "EU 42" -> "42"); an unknown size is kept as typed."""
    text = clean_text(value, MAX_SHORT_LENGTH)
    if text is None:
        return None
    return normalize_size(text) or text


def canonical_brand(value: Any) -> Optional[str]:
    """The catalog's spelling of a brand ("atlas supply" -> "Atlas Supply"); unknown brands kept as typed."""
    text = clean_text(value, MAX_SHORT_LENGTH)
    if text is None:
        return None
    for brand in BRANDS:
        if brand.lower() == text.lower():
            return brand
    return text


def canonical_price(value: Any) -> Optional[str]:
    """A price limit as a plain number string: ``"$80"``, ``"80 dollars"``, ``80`` -> ``"80"``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        amount = float(value)
    else:
        text = clean_text(value, MAX_SHORT_LENGTH) or ""
        if re.search(r"\d,\d{3}", text):  # thousands separator: "1,200"
            text = text.replace(",", "")
        match = _PRICE_RE.search(text)
        if not match:
            return None
        amount = float(match.group(0).replace(",", "."))
    if amount <= 0:
        return None
    return f"{amount:g}" if amount == int(amount) else f"{amount:.2f}"


def canonical_material(value: Any) -> Optional[str]:
    """The catalog's material word ("Leather" -> "leather", "woollen" -> "wool"), or None."""
    return normalize_material(clean_text(value, MAX_SHORT_LENGTH))


def describe_search(category: Optional[str], color: Optional[str], size: Optional[str],
                    brand: Optional[str], max_price: Optional[str], material: Optional[str] = None,
                    exclude_brand: Optional[str] = None, exclude_color: Optional[str] = None) -> str:
    """Words for what was searched, e.g. ``red leather bags by Marlow in size M under $100.00``."""
    filters = SearchFilters(category=category, color=color, size=size, brand=brand, max_price=max_price,
                            material=material, exclude_brand=exclude_brand, exclude_color=exclude_color)
    return describe_filters(filters, money)


def ordinal_reference(text: Any) -> Optional[int]:
    """Index into the listed products that ``text`` points at ("the second one" -> 1, "the last" -> -1)."""
    text = clean_text(text, MAX_SHORT_LENGTH * 2)
    if not text:
        return None
    match = _ORDINAL_RE.search(text)
    if not match:
        return None
    if match.group("n"):
        return int(match.group("n")) - 1
    return _ORDINALS[(match.group("a") or match.group("b")).lower()]


def listed_products(tracker: Tracker) -> List[str]:
    """Names the latest search listed (an empty list when there was none)."""
    value = tracker.get_slot(LISTED_SLOT)
    if not isinstance(value, list):
        return []
    return [name for name in (clean_text(v, MAX_SHORT_LENGTH) for v in value) if name]


def _message_entities(tracker: Tracker) -> List[Dict[str, Any]]:
    entities = (tracker.latest_message or {}).get("entities") or []
    return [e for e in entities if isinstance(e, dict)]


def resolve_product(tracker: Tracker) -> tuple[Optional[str], bool]:
    """The product the shopper means, and whether they pointed at a listed one that does not exist.

    A product named in the message wins; then an ordinal ("the second one") into `listed_products`; then
    "that one" (the product talked about last, else the only listed one); then the `product` slot.
    """
    latest = tracker.latest_message or {}
    named = any(e.get("entity") == "product" for e in _message_entities(tracker))
    current = clean_text(tracker.get_slot("product"), MAX_SHORT_LENGTH)
    if named:
        return current, False
    listed = listed_products(tracker)
    index = ordinal_reference(latest.get("text"))
    if index is not None:
        if listed and -len(listed) <= index < len(listed):
            return listed[index], False
        return None, True
    if _DEICTIC_RE.search(str(latest.get("text") or "")) and current is None:
        return (listed[0], False) if len(listed) == 1 else (None, bool(listed))
    return current, False


def search_history(tracker: Tracker) -> tuple[bool, Optional[str], set[str]]:
    """(was there a search in this session, its category, filter slots the shopper named since then).

    Reads the tracker's events: the category is the slot's value when the shopper next spoke after the
    latest `action_search_products`; the named filters are the entities of the user messages since then
    (a price with role `min` is not a max price).
    """
    searched, category, named = False, None, set()
    current_category: Optional[str] = None
    waiting_for_user = False
    for event in tracker.events or []:
        kind = event.get("event")
        if kind in ("restart", "session_started"):
            searched, category, named, current_category, waiting_for_user = False, None, set(), None, False
        elif kind == "slot" and event.get("name") == "category":
            current_category = event.get("value")
        elif kind == "action" and event.get("name") == SEARCH_ACTION:
            searched, named, waiting_for_user = True, set(), True
        elif kind == "user":
            if waiting_for_user:
                category, waiting_for_user = current_category, False
            for entity in (event.get("parse_data") or {}).get("entities") or []:
                if not isinstance(entity, dict):
                    continue
                slot = ENTITY_FILTER_SLOTS.get(entity.get("entity"))
                if slot and entity.get("role") not in ("min", EXCLUDED_ROLE):
                    named.add(slot)
    if waiting_for_user:
        category = current_category
    return searched, canonical_category(category), named


#: Canonicalises a filter value (None: not a value this filter can take).
_CANONICAL = {
    "category": canonical_category,
    "color": canonical_color,
    "size": canonical_size,
    "brand": canonical_brand,
    "max_price": canonical_price,
    "material": canonical_material,
}


def message_filters(message: Mapping[str, Any]) -> Dict[str, str]:
    """Canonical filter values one message names (its entities; a material also from its words, since
    "wool socks" reaches the NLU as one category phrase). A price with role `min` is no price limit; a
    brand or colour with role `excluded` ("any brand except Marlow") is ruled out: ``exclude_brand``."""
    values: Dict[str, str] = {}
    for entity in message.get("entities") or []:
        if not isinstance(entity, dict):
            continue
        name = ENTITY_FILTERS.get(entity.get("entity"))
        if name is None or (name == "max_price" and entity.get("role") == "min"):
            continue
        if entity.get("role") == EXCLUDED_ROLE:
            if name not in EXCLUSIONS:
                continue
            value = _CANONICAL[name](entity.get("value"))
            if value is not None:
                values[EXCLUSIONS[name]] = value
            continue
        value = _CANONICAL[name](entity.get("value"))
        if value is not None:
            values[name] = value
    if "material" not in values:
        material = material_in_text(message.get("text"))
        if material:
            values["material"] = material
    return values


def previous_filters(tracker: Tracker) -> SearchFilters:
    """The filters of the latest search: the `search_filters` slot, or for a search recorded before that
    slot existed, the filter slots."""
    stored = SearchFilters.from_slot(tracker.get_slot(SEARCH_FILTERS_SLOT))
    if stored is not None:
        return stored
    return SearchFilters(**{name: _CANONICAL[name](tracker.get_slot(name)) for name in FILTER_SLOTS})


def search_request(tracker: Tracker) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """(the message that asked for this search, every message of the request) as parse data with text.

    After product_search_form the request is the message that started the form and the answers to its
    questions, e.g. "I want to search for a product" and "jackets"; otherwise the latest message alone.
    """
    latest: Dict[str, Any] = dict(tracker.latest_message or {})
    if tracker.latest_action_name != SEARCH_FORM:
        return latest, [latest]
    users: List[Dict[str, Any]] = []
    start: Optional[int] = None
    for event in tracker.events or []:
        kind = event.get("event")
        if kind in ("restart", "session_started"):
            users, start = [], None
        elif kind == "user":
            users.append({**(event.get("parse_data") or {}), "text": event.get("text")})
        elif kind == "active_loop" and event.get("name") == SEARCH_FORM:  # logged when the form starts
            start = max(len(users) - 1, 0)
        elif kind == "action" and event.get("name") == SEARCH_ACTION:
            start = None
    if start is None or not users:
        return latest, [latest]
    request = users[start:-1] + [latest]
    return request[0], request


def just_searched(tracker: Tracker) -> bool:
    """Whether the bot's answer right before the shopper's latest message was a search."""
    seen_user = False
    for event in reversed(tracker.events or []):
        kind = event.get("event")
        if kind == "user":
            if seen_user:
                return False
            seen_user = True
        elif kind == "action" and seen_user and event.get("name") != "action_listen":
            return event.get("name") == SEARCH_ACTION
    return False


def _intent_of(message: Mapping[str, Any]) -> Optional[str]:
    return (message.get("intent") or {}).get("name")


def format_products(products: List[Any]) -> str:
    """One line per product: ``- Trailpeak rain jacket (Trailpeak), $89.90``."""
    return "\n".join(f"- {p.name} ({p.brand}), {money(p.price)}" for p in products)


def product_buttons(products: List[Any]) -> List[Dict[str, str]]:
    """One button per product; the payload asks for its details without going through the NLU."""
    return [{"title": p.name, "payload": "/product_info" + json.dumps({"product": p.name})} for p in products]


def list_buttons(tracker: Tracker, products: List[Any]) -> List[Dict[str, str]]:
    """The buttons to send beside a product list in the text: none where the shopper's channel would show
    the list a second time (:data:`TEXT_ONLY_LIST_CHANNELS`), else :func:`product_buttons`."""
    if tracker.get_latest_input_channel() in TEXT_ONLY_LIST_CHANNELS:
        return []
    return product_buttons(products)


def suggestions_for(product_name: str, limit: int = SUGGESTION_LIMIT) -> tuple[List[Any], List[Any]]:
    """("customers also bought", "similar products") for ``product_name``: in stock, never the product
    itself, and no product in both lists (co-purchases first, as they are the stronger signal)."""
    shop = get_shop()
    viewed = product_name.strip().lower()

    def fit(products: List[Any], taken: set[str]) -> List[Any]:
        return [p for p in products if p.in_stock and p.name.lower() != viewed and p.sku not in taken]

    also = fit(shop.also_bought(product_name, limit=limit), set())[:limit]
    similar = fit(shop.similar_products(product_name, limit=limit + len(also)), {p.sku for p in also})
    return also, similar[:limit]


def send_suggestions(dispatcher: CollectingDispatcher, tracker: Tracker, product_name: str) -> bool:
    """"Customers also bought" and "similar products" for ``product_name`` with buttons (where the channel
    shows them apart from the list, :func:`list_buttons`); False when there is nothing to suggest."""
    also, similar = suggestions_for(product_name)
    if not also and not similar:
        return False
    parts = []
    if also:
        parts.append("Customers who bought it also bought:\n" + format_products(also))
    if similar:
        parts.append("Similar products:\n" + format_products(similar))
    dispatcher.utter_message(
        response="utter_product_suggestions",
        product=product_name,
        suggestions="\n".join(parts),
        buttons=list_buttons(tracker, also + similar),
    )
    return True


async def search_instead(
    dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
) -> Optional[List[Dict[str, Any]]]:
    """Right after a search, a message that lets go of a filter ("any colour", "forget the size") or rules
    a value out ("not Marlow", often read as `deny`) is about that search whatever intent the NLU gave it
    (a product or size question, a no): the search runs again without the filter, or without that value.
    None when the message is something else, or names a product."""
    text = (tracker.latest_message or {}).get("text")
    rules_out = any(e.get("role") == EXCLUDED_ROLE for e in _message_entities(tracker))
    if not just_searched(tracker) or not (dropped_filters(text) or rules_out):
        return None
    names_product = any(e.get("entity") == "product" for e in _message_entities(tracker))
    if names_product or ordinal_reference(text) is not None:
        return None
    return await ActionSearchProducts().run(dispatcher, tracker, domain)


class ValidateProductSearchForm(FormValidationAction):
    """Canonicalises the search filters; the category is the only one the form asks for."""

    def name(self) -> str:
        return "validate_product_search_form"

    async def extract_category(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """A bare category word typed as the answer ("jacket") when the NLU found no entity."""
        if tracker.get_slot("requested_slot") != "category" or tracker.get_slot("category"):
            return {}
        category = canonical_category((tracker.latest_message or {}).get("text"))
        return {"category": category} if category else {}

    def validate_category(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        category = canonical_category(value)
        if category is None:
            dispatcher.utter_message(
                response="utter_unknown_category", category=clean_text(value, 40) or "that"
            )
        return {"category": category}

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        events = await super().run(dispatcher, tracker, domain)
        # The optional filters are not required slots, so the SDK does not validate them: do it here.
        canonicalisers = {
            "color": canonical_color,
            "size": canonical_size,
            "brand": canonical_brand,
            "max_price": canonical_price,
            "material": canonical_material,
        }
        for slot, canonical in canonicalisers.items():
            value = tracker.get_slot(slot)
            if value is None:
                continue
            fixed = canonical(value)
            if fixed != value:
                events.insert(0, SlotSet(slot, fixed))
        events += self.start_over_events(tracker)
        return events

    @staticmethod
    def start_over_events(tracker: Tracker) -> List[Dict[str, Any]]:
        """A search request that names no category ("help me find clothes", "let's start over") starts
        afresh: the filters kept from the previous search are dropped (except those in this message),
        so the form asks for the category again. One that refines the previous search ("show me blue
        ones", "any colour") keeps its category, so the form is done at once."""
        if latest_intent(tracker) != "search_product":
            return []
        latest = tracker.latest_message or {}
        named = message_filters(latest)
        searched, _, _ = search_history(tracker)
        previous = previous_filters(tracker) if searched else None
        entities = _message_entities(tracker)
        turn = classify_turn("search_product", latest.get("text"), named, previous, entities)
        if "category" in named or turn is Turn.REFINE:
            return []
        return [SlotSet(slot, None) for slot in FILTER_SLOTS
                if slot not in named and tracker.get_slot(slot) is not None]


def answer_search_question(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """A `search_product` message that is a general question a help page fits very well (a sizing or care
    question naming a category) gets that page; False (nothing sent) otherwise."""
    return latest_intent(tracker) == "search_product" and answer_general_question(
        dispatcher, tracker, threshold=STRONG_PAGE_THRESHOLD
    )


class ActionSearchProducts(Action):
    """Searches with the filters of the shopper's request, or refines the latest search.

    What a message does is decided by actions.search_filters.classify_turn: a new search applies only what
    its request names (the message that started product_search_form and the answers to it); a refinement
    ("in blue", "under 60", "cheaper", "any colour", "forget the brand") keeps the other filters of the
    latest search, stored in `search_filters`; a message with nothing to refine gets `utter_default`, and a
    message the NLU did not understand (nlu_fallback, routed here right after a search by data/rules.yml)
    is answered from the help pages instead, its filter values ignored. Every answer says the filters in
    force; `listed_products` holds the names shown, in order.
    """

    def name(self) -> str:
        return SEARCH_ACTION

    @shop_guarded
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        # "chest 102 cm, is that an L or an XL in hoodies?": the size guide answers; the hoodies follow
        answered_first = answer_search_question(dispatcher, tracker)
        planned, dropped = self._plan(tracker)
        if planned is None:
            if answered_first:
                return []
            if latest_intent(tracker) == FALLBACK_INTENT:
                return await ActionAnswerFromKnowledge().run(dispatcher, tracker, domain)
            dispatcher.utter_message(response="utter_default")
            return []
        filters = planned.as_slot()

        result = get_shop().search_products(limit=RESULT_LIMIT, **filters)
        what = describe_search(**filters)
        names = [p.name for p in result.products]
        offered = []  # "want to try again without it?" / "try another category?": yes acts on it
        if result.products:
            dispatcher.utter_message(
                response="utter_search_results",
                total=result.total,
                what=what,
                found=found_phrase(planned, result.total, len(result.products), money, dropped),
                results=format_products(result.products),
            )
        elif result.relax_hint:
            dispatcher.utter_message(
                response="utter_no_results_relax",
                what=what,
                relax_filter=FILTER_LABELS.get(result.relax_hint, result.relax_hint),
            )
            offered.append(offer(PENDING_RELAX, result.relax_hint))
        else:
            dispatcher.utter_message(response="utter_no_results", what=what)
            offered.append(offer(PENDING_SEARCH))
        # exclusions have no slot of their own: they live in `search_filters` only
        events = [SlotSet(slot, value) for slot, value in filters.items()
                  if slot in FILTER_SLOTS and tracker.get_slot(slot) != value]
        events.append(SlotSet(SEARCH_FILTERS_SLOT, filters))
        events += offered
        if names:
            # a search that found nothing leaves the earlier list (and "it") as the shopper last saw them
            events.append(SlotSet(LISTED_SLOT, names))
            events.append(SlotSet(TASK_COMPLETED, True))
            # "it" now means the single product found, or nothing until the shopper picks one
            events.append(SlotSet("product", names[0] if len(names) == 1 else None))
        return events

    def _plan(self, tracker: Tracker) -> Tuple[Optional[SearchFilters], frozenset[str]]:
        """(the filters of this search, None when the message is not about it; the filters the shopper
        just let go of, said back as "any colour")."""
        searched_before, _, _ = search_history(tracker)
        previous = previous_filters(tracker) if searched_before else None
        if previous is not None and tracker.latest_action_name not in (None, "action_listen", SEARCH_FORM):
            # run by another action, e.g. on "yes" to "want to try again without the brand filter?": the
            # latest search again, without the filters that action cleared
            cleared = frozenset(
                name for name in FILTER_SLOTS if getattr(previous, name) and tracker.get_slot(name) is None
            )
            return previous.updated({}, cleared), cleared
        trigger, request = search_request(tracker)
        text = trigger.get("text")
        named = message_filters(trigger)
        dropped = dropped_filters(text)
        after_form = tracker.latest_action_name == SEARCH_FORM
        turn = classify_turn(_intent_of(trigger), text, named, previous, trigger.get("entities") or [])
        if turn is Turn.NOTHING and after_form:
            turn = Turn.NEW  # the form asked for it ("yes" to "shall I search?", then the category)
        if turn is Turn.NOTHING:
            return None, dropped
        if turn is Turn.REFINE and previous is not None:
            filters = previous.updated(named, dropped)
            if asks_cheaper(text) and "max_price" not in named:
                cheaper = self._below_cheapest_listed(tracker) or filters.max_price
                filters = replace(filters, max_price=cheaper)
            return filters, dropped
        values: Dict[str, str] = {}
        for message in request:  # a message the NLU did not understand adds nothing to the request
            if message is trigger or _intent_of(message) != FALLBACK_INTENT:
                values.update(message_filters(message))
        # the category the form validated (an answer such as "jacket" is no entity), else the one named
        slot_category = canonical_category(tracker.get_slot("category"))
        if after_form or "category" not in values:
            values["category"] = slot_category or values.get("category")
        return SearchFilters().updated(values), dropped

    @staticmethod
    def _below_cheapest_listed(tracker: Tracker) -> Optional[str]:
        prices = []
        for name in listed_products(tracker):
            details = get_shop().get_product(name)
            if details is not None:
                prices.append(details.price)
        if not prices or min(prices) <= 0.01:
            return None
        return canonical_price(round(min(prices) - 0.01, 2))


class ActionAskCategory(Action):
    """The product search form's question for the category. When the message that started the form asks
    something a help page answers very well ("what is a UK 8 in your shoe sizes?"), that answer
    comes first and the question only offers products (``utter_ask_category_after_answer``); otherwise it
    is the plain ``utter_ask_category``."""

    def name(self) -> str:
        return "action_ask_category"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        answered = answer_search_question(dispatcher, tracker)
        dispatcher.utter_message(
            response="utter_ask_category_after_answer" if answered else "utter_ask_category"
        )
        return []


class ActionProductInfo(Action):
    """Details of the product the shopper named."""

    def name(self) -> str:
        return "action_product_info"

    @shop_guarded
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        redirected = await search_instead(dispatcher, tracker, domain)
        if redirected is not None:
            return redirected
        product_name, _ = resolve_product(tracker)
        if product_name is None:
            # "How do I clean leather boots?", "what size should I take in trainers?": a question about a
            # kind of product, not one product, which the care and size pages answer.
            if not answer_general_question(dispatcher, tracker):
                dispatcher.utter_message(response="utter_ask_which_product")
            return []
        details = get_shop().get_product(product_name)
        if details is None:
            dispatcher.utter_message(response="utter_product_not_found", product=product_name)
            # "... or tell me the category so I can search?": yes starts the search form
            return [SlotSet("product", None), offer(PENDING_SEARCH)]
        dispatcher.utter_message(
            response="utter_product_details",
            name=details.name,
            brand=details.brand,
            price=f"{details.price:.2f}",
            description=details.description or "",
            material=details.material or "-",
            colors=", ".join(details.colors) or "-",
            sizes=", ".join(details.sizes) or "-",
        )
        send_suggestions(dispatcher, tracker, details.name)
        # Keep the canonical name so "is it in stock in M?" refers to the same product.
        return [SlotSet("product", details.name), SlotSet(TASK_COMPLETED, True)]


class ActionCheckAvailability(Action):
    """Stock of a product, optionally in one colour and/or size."""

    def name(self) -> str:
        return "action_check_availability"

    def events_when_unavailable(self, tracker: Tracker) -> List[Dict[str, Any]]:
        """Colour and size asked about are used once; those that filter the latest search are kept."""
        searched_before, _, named = search_history(tracker)
        return [SlotSet(slot, None) for slot in ("color", "size")
                if not searched_before or slot in named]

    @shop_guarded
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        redirected = await search_instead(dispatcher, tracker, domain)
        if redirected is not None:
            return redirected
        product_name, _ = resolve_product(tracker)
        if product_name is None:
            dispatcher.utter_message(response="utter_ask_which_product")
            return self.events_when_unavailable(tracker)
        color = canonical_color(tracker.get_slot("color"))
        size = canonical_size(tracker.get_slot("size"))
        availability = get_shop().check_availability(product_name, color=color, size=size)
        if availability is None:
            dispatcher.utter_message(response="utter_product_not_found", product=product_name)
            return [SlotSet("product", None), offer(PENDING_SEARCH)] + self.events_when_unavailable(tracker)
        variant = " ".join(part for part in (
            f"in {availability.color}" if availability.color else "",
            f"in size {availability.size}" if availability.size else "",
        ) if part)
        variant = f" {variant}" if variant else ""
        if availability.in_stock:
            dispatcher.utter_message(response="utter_in_stock", product=availability.product, variant=variant)
        else:
            others = [f"{v.color} {v.size}" for v in availability.available_variants[:4]]
            alternatives = f" It is available in: {', '.join(others)}." if others else ""
            dispatcher.utter_message(
                response="utter_out_of_stock",
                product=availability.product,
                variant=variant,
                alternatives=alternatives,
            )
        return [SlotSet("product", availability.product), SlotSet(TASK_COMPLETED, True)] + \
            self.events_when_unavailable(tracker)


class ActionRecommendProducts(Action):
    """Suggestions for the product in focus ("what goes with this?", "similar ones?"): customers also
    bought and similar products; otherwise popular products, within the category named if any. A category
    in the message ("recommend me some jackets") always asks for popular ones."""

    def name(self) -> str:
        return "action_recommend_products"

    def events_when_unavailable(self, tracker: Tracker) -> List[Dict[str, Any]]:
        return [SlotSet("category", None)]

    @shop_guarded
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        # "between S and M for a slim shirt, which one?", "what size for a wedding dress if my hips are
        # bigger?": advice the size guide gives, not a product list. Only a page that fits very well answers.
        if answer_general_question(dispatcher, tracker, threshold=STRONG_PAGE_THRESHOLD):
            return []
        named_category = any(e.get("entity") == "category" for e in _message_entities(tracker))
        product_name, _ = resolve_product(tracker)
        if product_name and not named_category:
            details = get_shop().get_product(product_name)
            if details is not None and send_suggestions(dispatcher, tracker, details.name):
                return [SlotSet("product", details.name)] + self.events_when_unavailable(tracker)
        category = canonical_category(tracker.get_slot("category"))
        products = get_shop().popular_products(category=category, limit=RESULT_LIMIT)
        if not products:
            dispatcher.utter_message(response="utter_no_results", what=category or "products")
            return self.events_when_unavailable(tracker) + [offer(PENDING_SEARCH)]
        else:
            dispatcher.utter_message(
                response="utter_recommendations",
                what=category or "products",
                results=format_products(products),
                buttons=list_buttons(tracker, products),
            )
        return self.events_when_unavailable(tracker)


__all__ = [
    "ActionAskCategory",
    "ActionCheckAvailability",
    "ActionProductInfo",
    "ActionRecommendProducts",
    "ActionSearchProducts",
    "ValidateProductSearchForm",
]
