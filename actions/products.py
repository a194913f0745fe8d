"""Product actions: search (with its form validator), product details, stock checks and recommendations."""
from __future__ import annotations

import json
import logging
import re
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import MAX_SHORT_LENGTH, clean_text, get_shop, latest_intent, money, shop_guarded
from actions.policy_answers import answer_general_question
from shop.vocabulary import BRANDS, normalize_category, normalize_color, normalize_size

logger = logging.getLogger(__name__)

#: How many products a search or recommendation lists.
RESULT_LIMIT = 5
#: Slots that filter a search. They stay set after a search so that the next message can refine it
#: ("in red", "under 80"); a new search with another category, or one that names no category ("start
#: over"), drops the filters the shopper did not name again.
FILTER_SLOTS = ("category", "color", "size", "brand", "max_price")
#: Which filter slot an entity fills (a price fills `max_price` unless its role is `min`).
ENTITY_FILTER_SLOTS = {"category": "category", "color": "color", "size": "size", "brand": "brand",
                       "price": "max_price"}
#: Slot holding the names of the products the latest search listed, in the order shown.
LISTED_SLOT = "listed_products"
SEARCH_ACTION = "action_search_products"
#: Set when the shopper found what they asked about (results listed, details or stock shown): the
#: end-of-chat survey (actions/feedback.py) is only offered after a completed task.
TASK_COMPLETED = "task_completed"
#: How many "customers also bought" and "similar products" a suggestion shows (each).
SUGGESTION_LIMIT = 3
SEARCH_FORM = "product_search_form"

#: "cheaper ones", "anything less expensive?": refine the search below the cheapest listed price.
_CHEAPER_RE = re.compile(
    r"\b(cheaper|less\s+expensive|lower\s+price[sd]?|more\s+affordable)\b", re.IGNORECASE
)
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
FILTER_LABELS = {"max_price": "price", "color": "colour", "size": "size", "brand": "brand"}

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


def describe_search(category: Optional[str], color: Optional[str], size: Optional[str],
                    brand: Optional[str], max_price: Optional[str]) -> str:
    """Words for what was searched, e.g. ``red Trailpeak jackets in size M under $100``."""
    words = [w for w in (color, brand, category or "products") if w]
    text = " ".join(words)
    if size:
        text += f" in size {size}"
    if max_price:
        text += f" under {money(max_price)}"
    return text


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
                if slot and not (slot == "max_price" and entity.get("role") == "min"):
                    named.add(slot)
    if waiting_for_user:
        category = current_category
    return searched, canonical_category(category), named


def format_products(products: List[Any]) -> str:
    """One line per product: ``- Trailpeak rain jacket (Trailpeak), $89.90``."""
    return "\n".join(f"- {p.name} ({p.brand}), {money(p.price)}" for p in products)


def product_buttons(products: List[Any]) -> List[Dict[str, str]]:
    """One button per product; the payload asks for its details without going through the NLU."""
    return [{"title": p.name, "payload": "/product_info" + json.dumps({"product": p.name})} for p in products]


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


def send_suggestions(dispatcher: CollectingDispatcher, product_name: str) -> bool:
    """"Customers also bought" and "similar products" for ``product_name`` with buttons; False when there
    is nothing to suggest."""
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
        buttons=product_buttons(also + similar),
    )
    return True


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
        so the form asks for the category again."""
        if latest_intent(tracker) != "search_product":
            return []
        named = {ENTITY_FILTER_SLOTS.get(e.get("entity")) for e in _message_entities(tracker)}
        if "category" in named:
            return []
        return [SlotSet(slot, None) for slot in FILTER_SLOTS
                if slot not in named and tracker.get_slot(slot) is not None]


class ActionSearchProducts(Action):
    """Searches with the filters collected by product_search_form, or refines the latest search.

    The filters stay set afterwards; `listed_products` holds the names shown, in order. Run right after
    a search on an `inform` (data/rules.yml), it refines that search: the filters the message names
    replace the old ones, "cheaper" lowers the price limit below the cheapest listed product, and a
    message with nothing to refine gets `utter_default`. A different category drops the filters the
    shopper did not name since the previous search.
    """

    def name(self) -> str:
        return SEARCH_ACTION

    @shop_guarded
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        searched_before, previous_category, named = search_history(tracker)
        filters = {
            "category": canonical_category(tracker.get_slot("category")),
            "color": canonical_color(tracker.get_slot("color")),
            "size": canonical_size(tracker.get_slot("size")),
            "brand": canonical_brand(tracker.get_slot("brand")),
            "max_price": canonical_price(tracker.get_slot("max_price")),
        }
        text = (tracker.latest_message or {}).get("text")
        refining = (
            searched_before
            and latest_intent(tracker) == "inform"
            and tracker.latest_action_name != SEARCH_FORM
        )
        cheaper = bool(refining and "max_price" not in named and _CHEAPER_RE.search(str(text or "")))
        if refining and not named and not cheaper:
            dispatcher.utter_message(response="utter_default")
            return []
        if cheaper:
            filters["max_price"] = self._below_cheapest_listed(tracker) or filters["max_price"]
        if searched_before and filters["category"] != previous_category:
            # a new search: keep only what the shopper said since the previous one
            for slot in FILTER_SLOTS:
                if slot != "category" and slot not in named:
                    filters[slot] = None

        result = get_shop().search_products(limit=RESULT_LIMIT, **filters)
        what = describe_search(**filters)
        names = [p.name for p in result.products]
        if result.products:
            dispatcher.utter_message(
                response="utter_search_results",
                total=result.total,
                what=what,
                results=format_products(result.products),
            )
        elif result.relax_hint:
            dispatcher.utter_message(
                response="utter_no_results_relax",
                what=what,
                relax_filter=FILTER_LABELS.get(result.relax_hint, result.relax_hint),
            )
        else:
            dispatcher.utter_message(response="utter_no_results", what=what)
        events = [SlotSet(slot, value) for slot, value in filters.items() if tracker.get_slot(slot) != value]
        if names:
            # a search that found nothing leaves the earlier list (and "it") as the shopper last saw them
            events.append(SlotSet(LISTED_SLOT, names))
            events.append(SlotSet(TASK_COMPLETED, True))
            # "it" now means the single product found, or nothing until the shopper picks one
            events.append(SlotSet("product", names[0] if len(names) == 1 else None))
        return events

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


class ActionProductInfo(Action):
    """Details of the product the shopper named."""

    def name(self) -> str:
        return "action_product_info"

    @shop_guarded
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
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
            return [SlotSet("product", None)]
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
        send_suggestions(dispatcher, details.name)
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
        product_name, _ = resolve_product(tracker)
        if product_name is None:
            dispatcher.utter_message(response="utter_ask_which_product")
            return self.events_when_unavailable(tracker)
        color = canonical_color(tracker.get_slot("color"))
        size = canonical_size(tracker.get_slot("size"))
        availability = get_shop().check_availability(product_name, color=color, size=size)
        if availability is None:
            dispatcher.utter_message(response="utter_product_not_found", product=product_name)
            return [SlotSet("product", None)] + self.events_when_unavailable(tracker)
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
        named_category = any(e.get("entity") == "category" for e in _message_entities(tracker))
        product_name, _ = resolve_product(tracker)
        if product_name and not named_category:
            details = get_shop().get_product(product_name)
            if details is not None and send_suggestions(dispatcher, details.name):
                return [SlotSet("product", details.name)] + self.events_when_unavailable(tracker)
        category = canonical_category(tracker.get_slot("category"))
        products = get_shop().popular_products(category=category, limit=RESULT_LIMIT)
        if not products:
            dispatcher.utter_message(response="utter_no_results", what=category or "products")
        else:
            dispatcher.utter_message(
                response="utter_recommendations",
                what=category or "products",
                results=format_products(products),
                buttons=product_buttons(products),
            )
        return self.events_when_unavailable(tracker)


__all__ = [
    "ActionCheckAvailability",
    "ActionProductInfo",
    "ActionRecommendProducts",
    "ActionSearchProducts",
    "ValidateProductSearchForm",
]
