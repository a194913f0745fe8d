"""Loads what the first shopper would otherwise wait for, right after the action server starts.

The product search encoder and the help-page index load lazily on first use: the first search or help-page
question after a start took several seconds (the load bench saw a 4 s reply in its first minute). When
``SHOPASSIST_WARM_START`` is ``1`` (``shopassist serve`` and the Procfile set it), importing the actions
package starts :func:`warm_up` in a background thread, so the server answers health checks at once and the
loading happens before shoppers arrive. Tests and tools that import the actions leave it unset. A failure
(database down, no encoder) is logged and changes nothing: the first real request loads lazily as before.
"""
from __future__ import annotations

import logging
import os
import threading
import time

logger = logging.getLogger(__name__)

WARM_START_ENV = "SHOPASSIST_WARM_START"
SAMPLE_SEARCH = "warm jacket for winter"
SAMPLE_QUESTION = "how do returns work"


def warm_start_requested() -> bool:
    return os.environ.get(WARM_START_ENV, "").strip().lower() in ("1", "true", "yes")


def warm_up() -> None:
    """Runs one product search and one help-page lookup; each step on its own, errors logged."""
    from actions.common import get_shop
    from shop.knowledge import default_knowledge_base

    started = time.perf_counter()
    steps = {
        "product search": lambda: get_shop().search_products(text=SAMPLE_SEARCH, limit=1),
        "help pages": lambda: default_knowledge_base().relevant(SAMPLE_QUESTION),
    }
    for name, step in steps.items():
        try:
            step()
        except Exception as error:  # noqa: BLE001 - warming up must never stop the action server
            logger.warning("warm start: %s not preloaded (%s: %s)", name, type(error).__name__, error)
    logger.info("warm start done in %.1f s", time.perf_counter() - started)


def start_in_background() -> threading.Thread:
    thread = threading.Thread(target=warm_up, name="shopassist-warm-start", daemon=True)
    thread.start()
    return thread
