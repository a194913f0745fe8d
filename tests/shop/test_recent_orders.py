"""ShopService.recent_orders: a verified shopper's own orders, never anyone else's, never by e-mail alone."""

from __future__ import annotations

import pytest

from shop import OrderAccessError, ShopService

from .conftest import ALEX, SAM

#: Alex's demo orders, newest first (placed 1, 3, 9, 30 and 65 days before the seed).
ALEX_NEWEST_FIRST = ["SA-100003", "SA-100001", "SA-100002", "SA-100005", "SA-100004"]


def test_the_verified_customer_gets_their_orders_newest_first(shared_svc: ShopService) -> None:
    found = shared_svc.recent_orders("SA-100002", ALEX)
    assert [o.order_id for o in found.orders] == ALEX_NEWEST_FIRST
    assert found.total == 5
    placed = [o.placed_at for o in found.orders]
    assert placed == sorted(placed, reverse=True)
    first = found.orders[0]
    order = shared_svc.get_order("SA-100003", ALEX)
    assert (first.status, first.total, first.placed_at) == (order.status, order.total, order.placed_at)


def test_the_list_is_cut_at_the_limit_and_says_how_many_there_are(shared_svc: ShopService) -> None:
    found = shared_svc.recent_orders("sa100001", " Alex.Morgan@Example.com ", limit=2)
    assert [o.order_id for o in found.orders] == ALEX_NEWEST_FIRST[:2]
    assert found.total == 5


def test_only_that_customers_orders(shared_svc: ShopService) -> None:
    sam = shared_svc.recent_orders("SA-100006", SAM)
    assert [o.order_id for o in sam.orders] == ["SA-100006"] and sam.total == 1
    alex = shared_svc.recent_orders("SA-100001", ALEX, limit=100)
    assert "SA-100006" not in [o.order_id for o in alex.orders]


@pytest.mark.parametrize(
    ("order_id", "email"),
    [
        ("SA-100006", ALEX),  # someone else's order with one's own e-mail
        ("SA-100001", SAM),  # one's own e-mail is what a stranger would not know
        ("SA-999999", ALEX),
        ("", ALEX),  # an e-mail alone lists nothing
        (None, ALEX),
        ("SA-100001", ""),
    ],
)
def test_nothing_without_a_verified_order(shared_svc: ShopService, order_id, email) -> None:
    with pytest.raises(OrderAccessError):
        shared_svc.recent_orders(order_id, email)
