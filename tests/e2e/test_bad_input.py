"""What a shopper sees when the input is odd, hostile or points at someone else's data.

Each message goes through the real REST channel. The assistant must answer something sensible, keep
running, change nothing it should not, and never show another customer's order.
"""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, select

from shop import ShopService
from shop.models import Order

pytestmark = pytest.mark.e2e

ODD_MESSAGES = {
    "empty": "",
    "whitespace": "   \n\t  ",
    "emoji only": "😡😡📦❓",
    "spanish": "¿Dónde está mi pedido? Lo compré hace dos semanas.",
    "chinese": "我的订单在哪里",
    "sql": "'; DROP TABLE orders; --",
    "html": "<script>alert('hi')</script><b>bold</b>",
    "100 KB": "where is my parcel " * 5300,
}


@pytest.mark.parametrize("name", list(ODD_MESSAGES))
def test_odd_input_gets_a_reply_and_the_server_keeps_running(assistant, name: str) -> None:
    sender = assistant.new_sender()
    replies = assistant.send(sender, ODD_MESSAGES[name])
    assert replies, f"no reply to the {name} message"
    for reply in replies:
        assert "<script>" not in reply.get("text", "")
        assert "Traceback" not in reply.get("text", "")
    assert assistant.is_alive()
    # The conversation goes on normally afterwards.
    assert assistant.reply_text(sender, "hello").strip()


def test_sql_looking_text_changes_nothing(assistant) -> None:
    engine = create_engine(assistant.shop_db_url)
    count = select(func.count()).select_from(Order)
    with engine.connect() as connection:
        before = connection.execute(count).scalar_one()
    sender = assistant.new_sender()
    assistant.send(sender, "show me jackets'; DELETE FROM orders; --")
    assistant.send(sender, "where is my order SA-100001' OR '1'='1")
    with engine.connect() as connection:
        assert connection.execute(count).scalar_one() == before


def test_someone_elses_order_is_not_revealed(assistant) -> None:
    sam_order = ShopService(assistant.shop_db_url).get_order("SA-100006", "sam.lee@example.com")
    sender = assistant.new_sender()
    assistant.send(sender, "what's the status of order SA-100006")
    reply = assistant.reply_text(sender, "alex.morgan@example.com")
    assert "match" in reply.lower(), reply
    assert sam_order.shipping_address not in reply
    assert "Sam" not in reply


def test_unknown_order_number_is_explained(assistant) -> None:
    sender = assistant.new_sender()
    reply = assistant.reply_text(sender, "where is my order SA-999999")
    if "mail" in reply.lower() and "find" not in reply.lower():
        reply = assistant.reply_text(sender, "alex.morgan@example.com")
    assert "SA-999999" in reply or "find" in reply.lower(), reply


def test_logs_never_hold_a_full_email_address(assistant) -> None:
    sender = assistant.new_sender()
    assistant.send(sender, "where is my order SA-100001")
    assistant.send(sender, "alex.morgan@example.com")
    for log in (assistant.rasa_log, assistant.actions_log):
        assert "alex.morgan@example.com" not in log.read_text(), f"{log.name} holds a full e-mail address"
