"""Multi-turn search refinement over the REST channel, checked against the shop database.

"show me running shoes" -> "in red" -> "under 80" -> "the second one, is it in size 44?": the filters are
kept and updated from turn to turn, and "the second one" is the second product the bot listed.
"""
from __future__ import annotations

from typing import List

import pytest

from shop import ShopService

pytestmark = pytest.mark.e2e


def _listed_in_order(reply: str, names: List[str]) -> List[str]:
    """The catalog names that appear in ``reply``, in the order the reply lists them."""
    found = [(reply.find(f"- {name} ("), name) for name in names]
    return [name for position, name in sorted(found) if position >= 0]


def test_refine_a_search_then_ask_about_the_second_result(assistant) -> None:
    shop = ShopService(assistant.shop_db_url)
    sender = assistant.new_sender()

    # 1. Running shoes: the reply lists catalog shoes.
    shoes = shop.search_products(category="shoes", limit=5)
    reply = assistant.reply_text(sender, "show me running shoes")
    names = [p.name for p in shoes.products]
    assert _listed_in_order(reply, names) == names, reply
    assert str(shoes.total) in reply, reply

    # 2. "in red" keeps the category and adds the colour.
    red = shop.search_products(category="shoes", color="red", limit=5)
    reply = assistant.reply_text(sender, "in red")
    assert "red shoes" in reply, reply
    assert _listed_in_order(reply, [p.name for p in red.products]) == [p.name for p in red.products], reply

    # 3. "under 80" keeps category and colour and adds the price limit.
    cheap_red = shop.search_products(category="shoes", color="red", max_price=80, limit=5)
    assert len(cheap_red.products) >= 2, "the demo catalog has at least two red shoes under $80"
    reply = assistant.reply_text(sender, "under 80")
    assert "red shoes (under $80.00)" in reply, reply  # the answer names the filters in force
    listed = _listed_in_order(reply, [p.name for p in cheap_red.products])
    assert listed == [p.name for p in cheap_red.products], reply
    for product in shop.search_products(category="shoes", color="red", limit=50).products:
        if product.price > 80:
            assert product.name not in reply, f"{product.name} costs more than $80:\n{reply}"

    # 4. "the second one" is the second listed product; the colour of the search still applies.
    second = listed[1]
    expected = shop.check_availability(second, color="red", size="44")
    reply = assistant.reply_text(sender, "the second one, is it in size 44?")
    assert second in reply, reply
    assert "44" in reply, reply
    if expected.in_stock:
        assert "in stock" in reply and "out of stock" not in reply, reply
    else:
        assert "out of stock" in reply, reply

    # 5. Details of "the first one" come from the database too.
    first = shop.get_product(listed[0])
    reply = assistant.reply_text(sender, "tell me about the first one")
    assert first.name in reply and f"{first.price:.2f}" in reply, reply
