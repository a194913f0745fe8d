"""Product actions: search (with its form validator), product details, stock checks and recommendations."""
from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import MAX_SHORT_LENGTH, clean_text, get_shop, money, shop_guarded
from shop.vocabulary import BRANDS, normalize_category, normalize_color, normalize_size

logger = logging.getLogger(__name__)

#: How many products a search or recommendation lists.
RESULT_LIMIT = 5
#: Slots that filter a search; they are cleared after each search so the next one starts afresh.
FILTER_SLOTS = ("category", "color", "size", "brand", "max_price")
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


def format_products(products: List[Any]) -> str:
    """One line per product: ``- Trailpeak rain jacket (Trailpeak), $89.90``."""
    return "\n".join(f"- {p.name} ({p.brand}), {money(p.price)}" for p in products)


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
        return events


class ActionSearchProducts(Action):
    """Searches with the filters collected by product_search_form."""

    def name(self) -> str:
        return "action_search_products"

    def events_when_unavailable(self, tracker: Tracker) -> List[Dict[str, Any]]:
        return [SlotSet(slot, None) for slot in FILTER_SLOTS]

    @shop_guarded
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        filters = {
            "category": canonical_category(tracker.get_slot("category")),
            "color": canonical_color(tracker.get_slot("color")),
            "size": canonical_size(tracker.get_slot("size")),
            "brand": canonical_brand(tracker.get_slot("brand")),
            "max_price": canonical_price(tracker.get_slot("max_price")),
        }
        result = get_shop().search_products(limit=RESULT_LIMIT, **filters)
        what = describe_search(**filters)
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
        return self.events_when_unavailable(tracker)


class ActionProductInfo(Action):
    """Details of the product the shopper named."""

    def name(self) -> str:
        return "action_product_info"

    @shop_guarded
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        product_name = clean_text(tracker.get_slot("product"), MAX_SHORT_LENGTH)
        if product_name is None:
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
        # Keep the canonical name so "is it in stock in M?" refers to the same product.
        return [SlotSet("product", details.name)]


class ActionCheckAvailability(Action):
    """Stock of a product, optionally in one colour and/or size."""

    def name(self) -> str:
        return "action_check_availability"

    def events_when_unavailable(self, tracker: Tracker) -> List[Dict[str, Any]]:
        return [SlotSet("color", None), SlotSet("size", None)]

    @shop_guarded
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        product_name = clean_text(tracker.get_slot("product"), MAX_SHORT_LENGTH)
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
        return [SlotSet("product", availability.product)] + self.events_when_unavailable(tracker)


class ActionRecommendProducts(Action):
    """Popular products, within the category the shopper named if any."""

    def name(self) -> str:
        return "action_recommend_products"

    def events_when_unavailable(self, tracker: Tracker) -> List[Dict[str, Any]]:
        return [SlotSet("category", None)]

    @shop_guarded
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        category = canonical_category(tracker.get_slot("category"))
        products = get_shop().popular_products(category=category, limit=RESULT_LIMIT)
        if not products:
            dispatcher.utter_message(response="utter_no_results", what=category or "products")
        else:
            dispatcher.utter_message(
                response="utter_recommendations",
                what=category or "products",
                results=format_products(products),
            )
        return self.events_when_unavailable(tracker)


__all__ = [
    "ActionCheckAvailability",
    "ActionProductInfo",
    "ActionRecommendProducts",
    "ActionSearchProducts",
    "ValidateProductSearchForm",
]
