"""One real multi-turn conversation over the REST channel, checked against the shop database.

The assistant is the trained model served by `rasa run`, its custom actions run in `rasa run actions`,
and every fact the test expects in a reply (names, prices, carrier, tracking number, RMA) is read from
the seeded database rather than written into the test.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import create_engine, text

from shop import ShopService

pytestmark = pytest.mark.e2e

DEMO_EMAIL = "alex.morgan@example.com"


def _price_forms(price: float) -> list[str]:
    return [f"{price:.2f}", f"{price:,.2f}"]


def test_search_details_order_status_and_return(assistant) -> None:
    shop = ShopService(assistant.shop_db_url)
    sender = assistant.new_sender()

    greeting = assistant.reply_text(sender, "hi there")
    assert greeting.strip(), "the assistant should greet back"

    # 1. Search: the reply lists real hoodies from the catalog.
    hoodies = shop.search_products(category="hoodies", limit=50).products
    reply = assistant.reply_text(sender, "show me some hoodies please")
    listed = [product for product in hoodies if product.name in reply]
    assert listed, f"no catalog hoodie named in the search reply:\n{reply}"

    # 2. Details of a product named in that reply: its price comes from the database.
    product = listed[0]
    reply = assistant.reply_text(sender, f"tell me more about the {product.name}")
    assert any(form in reply for form in _price_forms(product.price)), reply

    # 3. Order status, with the identity check: order number first, then the e-mail on the order.
    reply = assistant.reply_text(sender, "where is my order SA-100001?")
    assert "mail" in reply.lower(), f"the e-mail must be asked for before anything is shown:\n{reply}"
    order = shop.get_order("SA-100001", DEMO_EMAIL)
    assert order.tracking_number not in reply
    reply = assistant.reply_text(sender, DEMO_EMAIL)
    assert order.tracking_number in reply, reply
    assert order.carrier in reply, reply

    # 4. A return on the delivered order: the RMA in the reply is the one stored in the database.
    reply = assistant.reply_text(sender, "I want to return something from order SA-100002")
    if "mail" in reply.lower():
        reply = assistant.reply_text(sender, DEMO_EMAIL)
    assert "which" in reply.lower() or "item" in reply.lower(), reply
    reply = assistant.reply_text(sender, "the hoodie")
    if "why" in reply.lower() or "reason" in reply.lower():
        reply = assistant.reply_text(sender, "it is too small")
    rma_numbers = re.findall(r"RMA-[\w-]*\w", reply)
    assert rma_numbers, f"no RMA number in the reply:\n{reply}"
    engine = create_engine(assistant.shop_db_url)
    with engine.connect() as connection:
        stored = connection.execute(
            text("SELECT rma_number FROM returns WHERE rma_number = :rma"), {"rma": rma_numbers[0]}
        ).fetchall()
    assert len(stored) == 1
