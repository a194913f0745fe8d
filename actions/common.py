"""What every ShopAssist action shares: the shop service, outage handling and input hygiene.

* :func:`get_shop` returns one :class:`shop.ShopService` per database URL and process (the URL comes from
  ``$SHOP_DB_URL``; tests point that variable at a seeded SQLite file, or call :func:`set_shop`).
* :func:`shop_guarded` wraps an action's ``run``: when the shop database is unreachable the shopper gets
  ``utter_service_unavailable`` and the action returns the events of its ``events_when_unavailable``
  method, never an exception or a stack trace.
* :func:`clean_text` caps and tidies free text typed by the shopper before it goes anywhere.
"""
from __future__ import annotations

import functools
import logging
import os
import random
import re
import threading
from typing import Any, Awaitable, Callable, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from shop import ShopService, ShopUnavailableError

logger = logging.getLogger(__name__)

#: Environment variable naming the shop database (the shop layer reads the same one).
DB_URL_ENV = "SHOP_DB_URL"
#: Longest free text (addresses, reasons, feedback, product names) an action passes on.
MAX_TEXT_LENGTH = 500
#: Longest value of a short slot (category, colour, size, brand, price, order number, e-mail).
MAX_SHORT_LENGTH = 100

RESPONSE_SERVICE_UNAVAILABLE = "utter_service_unavailable"

_services: Dict[Optional[str], ShopService] = {}
_override: Optional[ShopService] = None
_lock = threading.Lock()


def get_shop() -> ShopService:
    """The process-wide :class:`ShopService` for the current ``$SHOP_DB_URL``.

    Created on first use (so importing the actions never touches the database); raises
    :class:`ShopUnavailableError` when the database cannot be reached.
    """
    if _override is not None:
        return _override
    url = os.environ.get(DB_URL_ENV) or None
    with _lock:
        service = _services.get(url)
        if service is None:
            service = ShopService(url)
            _services[url] = service
        return service


def set_shop(service: Optional[ShopService]) -> None:
    """Use ``service`` for all actions (tests, embedding); ``None`` goes back to ``$SHOP_DB_URL``."""
    global _override
    _override = service


def reset_shop() -> None:
    """Forget every cached service (after ``$SHOP_DB_URL`` changed in tests)."""
    global _override
    with _lock:
        _services.clear()
        _override = None


RunMethod = Callable[[Any, CollectingDispatcher, Tracker, Dict[str, Any]], Awaitable[List[Dict[str, Any]]]]


def shop_guarded(run: RunMethod) -> RunMethod:
    """Decorate an action's ``run`` so that a shop outage becomes ``utter_service_unavailable``.

    The action may define ``events_when_unavailable(tracker)`` to return events that leave the
    conversation in a sensible state (e.g. end a form); the default returns no events.
    """

    @functools.wraps(run)
    async def guarded(
        self: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[Dict[str, Any]]:
        try:
            return await run(self, dispatcher, tracker, domain)
        except ShopUnavailableError as exc:
            logger.warning("%s: shop unavailable (%s)", self.name(), exc)
            dispatcher.utter_message(response=RESPONSE_SERVICE_UNAVAILABLE)
            handler = getattr(self, "events_when_unavailable", None)
            return list(handler(tracker)) if handler is not None else []

    return guarded


def clean_text(value: Any, max_length: int = MAX_TEXT_LENGTH) -> Optional[str]:
    """``value`` as one line of at most ``max_length`` characters, or None when there is nothing left.

    Control characters are dropped and whitespace collapsed; the text is otherwise kept as typed (the
    shop layer uses bound parameters, and responses are plain text, so SQL- or HTML-looking input is
    harmless data here).
    """
    if value is None or isinstance(value, (dict, list, tuple, set)):
        return None
    text = str(value)[: max_length * 4]
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = " ".join(text.split())[:max_length].strip()
    return text or None


def latest_intent(tracker: Tracker) -> Optional[str]:
    """Name of the intent of the shopper's latest message."""
    return (tracker.latest_message or {}).get("intent", {}).get("name")


def latest_intent_confidence(tracker: Tracker) -> float:
    """Confidence of that intent (0.0 when unknown)."""
    try:
        return float((tracker.latest_message or {}).get("intent", {}).get("confidence") or 0.0)
    except (TypeError, ValueError):
        return 0.0


def money(value: Any) -> str:
    """A price as shoppers read it: ``$89.90``."""
    try:
        return f"${float(value):,.2f}"
    except (TypeError, ValueError):
        return "-"


# ---------------------------------------------------------------------- conversation and rephrasing
#: Parts of a response that a rephrased plain text could not carry: such responses are sent as they are.
_RICH_KEYS = frozenset(
    {"buttons", "image", "custom", "attachment", "elements", "quick_replies", "json_message"}
)
_PLACEHOLDER_RE = re.compile(r"{([^\n{}]+?)}")


def recent_turns(tracker: Tracker, limit: int = 6) -> List[Any]:
    """The last ``limit`` shopper and assistant messages before the shopper's latest one, as
    :class:`shop.llm.Turn` (the latest message is the question itself and travels separately)."""
    from shop.llm import Turn

    events = list(tracker.events or [])
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=len(events))
    turns = []
    for event in events[:last_user]:
        text = event.get("text")
        if event.get("event") in ("user", "bot") and isinstance(text, str) and text.strip():
            turns.append(Turn("shopper" if event["event"] == "user" else "assistant", text))
    return turns[-limit:] if limit > 0 else []


def _plain_text_of(domain: Dict[str, Any], response: str, values: Dict[str, Any]) -> Optional[str]:
    """One variation of ``response`` filled in as Rasa would, or None when it is more than plain text
    (buttons, conditions, channels) or a placeholder has no value: those are always sent as templates."""
    variations = (domain.get("responses") or {}).get(response) or []
    if not variations or any(not isinstance(v, dict) or set(v) != {"text"} for v in variations):
        return None
    template = str(random.choice(variations)["text"])
    names = _PLACEHOLDER_RE.findall(template)
    if any(values.get(name) is None for name in names):
        return None
    return _PLACEHOLDER_RE.sub(lambda m: str(values[m.group(1)]), template)


async def utter_response(
    dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any], response: str, **kwargs: Any
) -> None:
    """``dispatcher.utter_message(response=response, **kwargs)``, except that when a language model is
    configured with ``rephrase: true`` the filled-in text is rephrased to fit the conversation, and the
    rephrasing is sent only if it keeps every number, price, date, order number and filled-in value
    verbatim (:func:`shop.llm.rephrase`); any failure sends the template. Slot values and ``kwargs``
    fill the placeholders, as in Rasa's templated NLG."""
    from shop.llm import rephrase
    from shop.llm_config import configured_llm

    config = configured_llm()
    if config is not None and config.rephrase and not (_RICH_KEYS & set(kwargs)):
        try:
            values = {**tracker.current_slot_values(), **kwargs}
            text = _plain_text_of(domain, response, values)
            if text is not None:
                keep = [str(v) for v in kwargs.values() if isinstance(v, (str, int, float))]
                rephrased = await rephrase(config, text, keep=keep, turns=recent_turns(tracker))
                if rephrased:
                    dispatcher.utter_message(text=rephrased)
                    return
        except Exception:  # rephrasing is a nicety: the template always goes out
            logger.exception("Rephrasing %s failed; sending the template", response)
    dispatcher.utter_message(response=response, **kwargs)
