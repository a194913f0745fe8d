"""Order verification, cancel, address change, returns, refunds and feedback."""

from __future__ import annotations

import logging
import threading
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from shop import OrderAccessError, ShopService, Verification
from shop.db import get_engine, session_factory
from shop.models import CancellationRefund, Feedback, Order, ProductVariant, Refund, Return
from shop.service import add_working_days

from .conftest import ALEX, SAM


def count(url: str, model: type, *where) -> int:  # noqa: ANN002
    with get_engine(url).connect() as conn:
        return conn.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


# -------------------------------------------------------------------------------- verification
@pytest.mark.parametrize(
    ("order_id", "email", "result"),
    [
        ("SA-100001", ALEX, Verification.VERIFIED),
        ("sa100001", "  Alex.Morgan@EXAMPLE.com ", Verification.VERIFIED),
        ("#100001", ALEX, Verification.VERIFIED),
        ("SA-100001", SAM, Verification.EMAIL_MISMATCH),
        ("SA-100006", ALEX, Verification.EMAIL_MISMATCH),  # someone else's order
        ("SA-100001", "", Verification.EMAIL_MISMATCH),
        ("SA-999999", ALEX, Verification.NOT_FOUND),
        ("not-an-order", ALEX, Verification.NOT_FOUND),
        (None, ALEX, Verification.NOT_FOUND),
    ],
)
def test_verify_order(shared_svc: ShopService, order_id: str, email: str, result: Verification) -> None:
    assert shared_svc.verify_order(order_id, email) is result


def test_get_order_for_the_owner_only(shared_svc: ShopService) -> None:
    order = shared_svc.get_order("sa 100002", "ALEX.MORGAN@example.com")
    assert order.order_id == "SA-100002" and order.status == "delivered"
    assert sorted(item.category for item in order.items) == ["hoodies", "shoes"]
    assert order.total == pytest.approx(sum(i.unit_price * i.quantity for i in order.items))
    assert order.delivered_at.tzinfo is not None
    shipped = shared_svc.get_order("SA-100001", ALEX)
    assert shipped.carrier and shipped.tracking_number
    assert shipped.estimated_delivery > datetime.now(timezone.utc).date()
    for order_id, email, reason in (
        ("SA-100006", ALEX, Verification.EMAIL_MISMATCH),
        ("SA-424242", ALEX, Verification.NOT_FOUND),
        ("garbage", ALEX, Verification.NOT_FOUND),
    ):
        with pytest.raises(OrderAccessError) as info:
            shared_svc.get_order(order_id, email)
        assert info.value.verification is reason
        assert "@" not in str(info.value)


# -------------------------------------------------------------------------------- cancel / address
def test_cancel_paid_order_restocks_and_is_not_repeated(svc: ShopService, db_url: str) -> None:
    order = svc.get_order("SA-100003", ALEX)
    stock_before = {i.sku + i.color + i.size: i for i in order.items}
    with get_engine(db_url).connect() as conn:
        before = dict(conn.execute(select(ProductVariant.id, ProductVariant.stock)).all())
    first = svc.cancel_order("SA-100003", ALEX)
    assert (first.ok, first.reason, first.order.status) == (True, None, "cancelled")
    with get_engine(db_url).connect() as conn:
        after = dict(conn.execute(select(ProductVariant.id, ProductVariant.stock)).all())
    changed = {k: after[k] - before[k] for k in before if after[k] != before[k]}
    assert sorted(changed.values()) == sorted(i.quantity for i in stock_before.values())
    second = svc.cancel_order("SA-100003", ALEX)
    assert (second.ok, second.reason) == (False, "already_cancelled")
    with get_engine(db_url).connect() as conn:
        assert dict(conn.execute(select(ProductVariant.id, ProductVariant.stock)).all()) == after


def test_cancel_pending_order(svc: ShopService) -> None:
    outcome = svc.cancel_order("SA-100006", SAM)
    assert outcome.ok
    assert outcome.refund is None  # the payment had not gone through: nothing to refund
    assert svc.refund_status("SA-100006", SAM) == []


def test_cancelling_a_paid_order_creates_the_refund_it_promises(svc: ShopService, db_url: str) -> None:
    outcome = svc.cancel_order("SA-100003", ALEX)
    assert outcome.ok and outcome.refund is not None
    assert outcome.refund.amount == pytest.approx(outcome.order.total)
    assert (outcome.refund.kind, outcome.refund.status, outcome.refund.rma_number) == (
        "cancellation",
        "pending",
        None,
    )
    today = datetime.now(timezone.utc).date()
    assert outcome.refund.expected_by == add_working_days(today, 7)
    assert svc.refund_status("SA-100003", ALEX) == [outcome.refund]
    assert not svc.cancel_order("SA-100003", ALEX).ok  # a second cancellation refunds nothing more
    assert count(db_url, CancellationRefund) == 1


def test_cancellation_and_its_refund_are_one_transaction(svc: ShopService, db_url: str) -> None:
    """A refund that cannot be written undoes the cancellation: no cancelled paid order without a refund."""
    with session_factory(get_engine(db_url))() as session, session.begin():
        order = session.execute(select(Order).where(Order.order_number == "SA-100003")).scalar_one()
        session.add(
            CancellationRefund(order_id=order.id, amount=1, status="pending", created_at=datetime.now())
        )
    with get_engine(db_url).connect() as conn:
        stock_before = dict(conn.execute(select(ProductVariant.id, ProductVariant.stock)).all())
    with pytest.raises(IntegrityError):
        svc.cancel_order("SA-100003", ALEX)
    assert svc.get_order("SA-100003", ALEX).status == "paid"
    with get_engine(db_url).connect() as conn:
        assert dict(conn.execute(select(ProductVariant.id, ProductVariant.stock)).all()) == stock_before


@pytest.mark.parametrize("order_id", ["SA-100001", "SA-100002", "SA-100005"])
def test_cancel_refused_once_shipped(svc: ShopService, order_id: str) -> None:
    outcome = svc.cancel_order(order_id, ALEX)
    assert (outcome.ok, outcome.reason) == (False, "not_cancellable")
    assert outcome.order.status != "cancelled"


def test_cancel_with_wrong_email_reveals_nothing_and_changes_nothing(svc: ShopService) -> None:
    outcome = svc.cancel_order("SA-100006", ALEX)
    assert (outcome.ok, outcome.reason, outcome.order) == (False, "email_mismatch", None)
    assert svc.get_order("SA-100006", SAM).status == "pending"
    assert svc.cancel_order("SA-000000", ALEX).reason == "not_found"


def test_change_address_rules(svc: ShopService) -> None:
    new = "  22  Beacon   Road, Halden, 30111 "
    changed = svc.change_shipping_address("SA-100003", ALEX, new)
    assert changed.ok and changed.order.shipping_address == "22 Beacon Road, Halden, 30111"
    assert svc.change_shipping_address("SA-100003", ALEX, new).ok  # repeating is harmless
    assert svc.change_shipping_address("SA-100001", ALEX, new).reason == "not_changeable"
    assert svc.change_shipping_address("SA-100003", ALEX, "  ").reason == "invalid_address"
    denied = svc.change_shipping_address("SA-100006", ALEX, new)
    assert (denied.ok, denied.reason, denied.order) == (False, "email_mismatch", None)
    assert svc.change_shipping_address("SA-100006", ALEX, "").order is None
    assert svc.get_order("SA-100006", SAM).shipping_address != "22 Beacon Road, Halden, 30111"
    svc.cancel_order("SA-100003", ALEX)
    assert svc.change_shipping_address("SA-100003", ALEX, "1 Other Street, Ashby").reason == "not_changeable"


# -------------------------------------------------------------------------------- returns / refunds
def test_return_is_idempotent(svc: ShopService, db_url: str) -> None:
    first = svc.start_return("SA-100002", ALEX, "the hoodie", "Too small")
    assert (first.ok, first.created, first.status, first.item_name) == (
        True,
        True,
        "requested",
        "Cloudline Pullover Hoodie",
    )
    again = svc.start_return("sa100002", ALEX.upper(), "Cloudline Pullover Hoodie", "Too small")
    assert (again.ok, again.created, again.rma_number) == (True, False, first.rma_number)
    assert count(db_url, Return, Return.rma_number == first.rma_number) == 1
    assert count(db_url, Refund) == count(db_url, Return)
    refunds = svc.refund_status("SA-100002", ALEX)
    assert [(r.rma_number, r.status) for r in refunds] == [(first.rma_number, "pending")]
    assert refunds[0].amount == pytest.approx(svc.get_order("SA-100002", ALEX).items[0].unit_price)


def test_concurrent_returns_create_one_rma(svc: ShopService, db_url: str) -> None:
    barrier = threading.Barrier(4)
    outcomes = []

    def request() -> None:
        barrier.wait()
        outcomes.append(svc.start_return("SA-100002", ALEX, "shoes", "Too big"))

    threads = [threading.Thread(target=request) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(o.ok for o in outcomes) and sum(o.created for o in outcomes) == 1
    assert len({o.rma_number for o in outcomes}) == 1
    assert count(db_url, Return, Return.rma_number == outcomes[0].rma_number) == 1


def test_return_needs_to_know_which_item(svc: ShopService) -> None:
    assert svc.start_return("SA-100002", ALEX, None, "x").reason == "which_item"
    assert svc.start_return("SA-100002", ALEX, "umbrella", "x").reason == "item_not_found"


def test_return_of_a_single_item_order_needs_no_item(
    svc: ShopService, db_url: str, seed_now: datetime
) -> None:
    # SA-100004 has one item but was delivered 60 days ago; a wider window makes it returnable.
    wide = ShopService(db_url, return_window_days=90)
    outcome = wide.start_return("SA-100004", ALEX, None, "Changed my mind")
    assert (outcome.ok, outcome.created, outcome.item_name) == (True, True, "Aspen Cable Knit Sweater")


def test_return_window(
    svc: ShopService, db_url: str, seed_now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    expired = svc.start_return("SA-100004", ALEX, "sweater", "Too small")
    assert (expired.ok, expired.reason, expired.rma_number) == (False, "window_expired", None)
    monkeypatch.setenv("SHOP_RETURN_WINDOW_DAYS", "3")
    short = ShopService(db_url)
    assert short.return_window_days == 3
    assert short.start_return("SA-100002", ALEX, "hoodie", "x").reason == "window_expired"
    # The window is inclusive of its last day and measured from delivery.
    monkeypatch.delenv("SHOP_RETURN_WINDOW_DAYS")
    on_last_day = ShopService(db_url, clock=lambda: seed_now + timedelta(days=25))
    assert on_last_day.return_window_days == 30
    assert on_last_day.start_return("SA-100002", ALEX, "hoodie", "x").created
    too_late = ShopService(db_url, clock=lambda: seed_now + timedelta(days=25, minutes=1))
    assert too_late.start_return("SA-100002", ALEX, "shoes", "x").reason == "window_expired"


@pytest.mark.parametrize(
    ("order_id", "email", "reason"),
    [
        ("SA-100001", ALEX, "not_delivered"),
        ("SA-100003", ALEX, "not_delivered"),
        ("SA-100006", SAM, "not_delivered"),
        ("SA-100006", ALEX, "email_mismatch"),
        ("SA-100099x", ALEX, "not_found"),
    ],
)
def test_return_refused(svc: ShopService, order_id: str, email: str, reason: str) -> None:
    outcome = svc.start_return(order_id, email, None if order_id != "SA-100006" else "socks", "x")
    assert (outcome.ok, outcome.created, outcome.reason) == (False, False, reason)
    if reason == "email_mismatch":
        assert outcome.item_name is None


def test_returned_order_reports_its_existing_rma(svc: ShopService) -> None:
    outcome = svc.start_return("SA-100005", ALEX, None, "again")
    assert (outcome.ok, outcome.created, outcome.rma_number, outcome.status) == (
        True,
        False,
        "RMA-100005-1",
        "received",
    )


def test_refund_status(svc: ShopService) -> None:
    refunds = svc.refund_status("#100005", ALEX)
    assert len(refunds) == 1 and refunds[0].status == "processing" and refunds[0].amount > 0
    assert refunds[0].created_at.tzinfo is not None
    assert refunds[0].kind == "return"
    assert svc.refund_status("SA-100001", ALEX) == []
    with pytest.raises(OrderAccessError):
        svc.refund_status("SA-100005", SAM)
    with pytest.raises(OrderAccessError):
        svc.refund_status("SA-1", ALEX)


def test_refund_status_gives_the_day_the_money_should_arrive(
    svc: ShopService, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    processing = svc.refund_status("SA-100005", ALEX)[0]
    assert processing.expected_by == add_working_days(processing.created_at.date(), 7)
    assert ShopService(db_url, refund_processing_days=2).refund_status("SA-100005", ALEX)[0].expected_by == (
        add_working_days(processing.created_at.date(), 2)
    )
    monkeypatch.setenv("SHOP_REFUND_PROCESSING_DAYS", "10")
    assert ShopService(db_url).refund_status("SA-100005", ALEX)[0].expected_by == (
        add_working_days(processing.created_at.date(), 10)
    )
    with session_factory(get_engine(db_url))() as session, session.begin():
        query = select(Refund).join(Return).where(Return.rma_number == "RMA-100005-1")
        refund = session.execute(query).scalar_one()
        refund.status = "completed"
    assert svc.refund_status("SA-100005", ALEX)[0].expected_by is None  # arrived: no date to wait for


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (date(2026, 12, 4), 1, date(2026, 12, 7)),  # Friday + 1 working day = Monday
        (date(2026, 12, 5), 1, date(2026, 12, 7)),  # from a Saturday
        (date(2026, 12, 1), 7, date(2026, 12, 10)),  # Tuesday + 7 = next Thursday
        (date(2026, 12, 1), 0, date(2026, 12, 1)),
    ],
)
def test_add_working_days(start: date, days: int, expected: date) -> None:
    assert add_working_days(start, days) == expected


def test_return_reason_is_stored_as_a_code_with_the_shoppers_words(svc: ShopService, db_url: str) -> None:
    outcome = svc.start_return("SA-100002", ALEX, "hoodie", "  i already told you,   too small ")
    assert outcome.created
    with get_engine(db_url).connect() as conn:
        reason, note = conn.execute(
            select(Return.reason, Return.reason_note).where(Return.rma_number == outcome.rma_number)
        ).one()
    assert (reason, note) == ("too_small", "i already told you, too small")
    unclear = svc.start_return("SA-100002", ALEX, "shoes", "my cat hates them")
    with get_engine(db_url).connect() as conn:
        assert conn.execute(
            select(Return.reason, Return.reason_note).where(Return.rma_number == unclear.rma_number)
        ).one() == ("other", "my cat hates them")


# -------------------------------------------------------------------------------- identity-check lockout
def test_lockout_holds_for_one_conversation_and_order_until_the_cool_down_ends(
    db_url: str, seed_now: datetime
) -> None:
    now = seed_now
    svc = ShopService(db_url, clock=lambda: now)
    assert svc.verification_locked_until("conv-1", "SA-100006") is None
    until = svc.lock_verification("conv-1", "sa100006")
    assert until == now + timedelta(minutes=15)
    assert svc.verification_locked_until("conv-1", "#100006") == until
    assert svc.verification_locked_until("conv-2", "SA-100006") is None  # another conversation
    assert svc.verification_locked_until("conv-1", "SA-100001") is None  # another order
    later = ShopService(db_url, clock=lambda: now + timedelta(minutes=15, seconds=1))
    assert later.verification_locked_until("conv-1", "SA-100006") is None
    assert svc.lock_verification("conv-1", "not an order") is None


def test_lockout_length_is_configurable(
    db_url: str, seed_now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = ShopService(db_url, clock=lambda: seed_now, verification_lockout_minutes=5)
    assert short.lock_verification("conv-1", "SA-100006") == seed_now + timedelta(minutes=5)
    monkeypatch.setenv("SHOP_VERIFICATION_LOCKOUT_MINUTES", "60")
    svc = ShopService(db_url, clock=lambda: seed_now)
    relocked = svc.lock_verification("conv-1", "SA-100006")
    assert relocked == seed_now + timedelta(minutes=60)  # locking again replaces the lock
    assert svc.verification_locked_until("conv-1", "SA-100006") == relocked


# Issue 15: the wrong e-mails were counted in a slot, which /restart resets; the shop counts them now.
def test_wrong_emails_are_counted_per_conversation_and_order_and_lock_at_the_limit(
    db_url: str, seed_now: datetime
) -> None:
    svc = ShopService(db_url, clock=lambda: seed_now)
    first = svc.record_failed_verification("conv-1", "SA-100006", max_failures=3)
    assert (first.failures, first.locked_until) == (1, None)
    # a restarted action server (a new service) or a restarted conversation keeps counting
    again = ShopService(db_url, clock=lambda: seed_now + timedelta(minutes=2))
    assert again.record_failed_verification("conv-1", "#100006", max_failures=3).failures == 2
    assert again.record_failed_verification("conv-2", "SA-100006", max_failures=3).failures == 1
    assert again.record_failed_verification("conv-1", "SA-100001", max_failures=3).failures == 1
    third = again.record_failed_verification("conv-1", "sa100006", max_failures=3)
    assert third.failures == 3
    assert third.locked_until == seed_now + timedelta(minutes=2 + 15)  # the 15-minute lockout
    assert again.verification_locked_until("conv-1", "SA-100006") == third.locked_until
    assert again.verification_locked_until("conv-2", "SA-100006") is None
    # the lock clears the count: after the cool-down the conversation has three tries again
    later = ShopService(db_url, clock=lambda: seed_now + timedelta(minutes=18))
    assert later.verification_locked_until("conv-1", "SA-100006") is None
    assert later.record_failed_verification("conv-1", "SA-100006", max_failures=3).failures == 1
    assert later.record_failed_verification("conv-1", "not an order", max_failures=3).failures == 0


def test_a_verified_order_or_an_hour_clears_the_wrong_emails(db_url: str, seed_now: datetime) -> None:
    svc = ShopService(db_url, clock=lambda: seed_now)
    svc.record_failed_verification("conv-1", "SA-100006", max_failures=3)
    svc.record_failed_verification("conv-1", "SA-100006", max_failures=3)
    svc.clear_failed_verifications("conv-1", "SA-100006")
    assert svc.record_failed_verification("conv-1", "SA-100006", max_failures=3).failures == 1
    hour_later = ShopService(db_url, clock=lambda: seed_now + timedelta(minutes=61))
    assert hour_later.record_failed_verification("conv-1", "SA-100006", max_failures=3).failures == 1
    short = ShopService(db_url, clock=lambda: seed_now + timedelta(minutes=62),
                        verification_failure_window_minutes=0)
    assert short.record_failed_verification("conv-1", "SA-100006", max_failures=3).failures == 1


# -------------------------------------------------------------------------------- feedback
def test_record_feedback(svc: ShopService, db_url: str) -> None:
    before = count(db_url, Feedback)
    first = svc.record_feedback("conv-1", "  Really helpful  ", rating=5)
    assert svc.record_feedback("conv-1", "Really helpful", rating=5) == first  # a retried action
    other = svc.record_feedback("conv-1", "Really helpful")
    assert other != first
    assert count(db_url, Feedback) == before + 2
    with get_engine(db_url).connect() as conn:
        assert conn.execute(select(Feedback.text, Feedback.rating).where(Feedback.id == first)).one() == (
            "Really helpful",
            5,
        )
    with pytest.raises(ValueError):
        svc.record_feedback("conv-1", "x", rating=9)
    with pytest.raises(ValueError):
        svc.record_feedback("conv-1", "   ")


# ------------------------------------------------------------------------- hostile input, outages, logs
INJECTION = "'; DROP TABLE orders; --"


def test_sql_looking_input_finds_nothing_and_harms_nothing(svc: ShopService, db_url: str) -> None:
    from shop.models import Order

    orders_before = count(db_url, Order)
    assert svc.get_product(INJECTION) is None
    assert svc.check_availability(INJECTION) is None
    for filters in (
        {"text": INJECTION},
        {"brand": INJECTION},
        {"category": INJECTION},
        {"color": INJECTION},
        {"brand": "%"},
        {"color": "_"},
    ):
        assert svc.search_products(**filters).total == 0, filters
    # Text without a single keyword (wildcards, stop words) is no filter at all, not a LIKE wildcard.
    assert svc.search_products(text="% _").total == svc.search_products().total
    assert svc.verify_order(INJECTION, INJECTION) is Verification.NOT_FOUND
    assert svc.verify_order("SA-100001", INJECTION) is Verification.EMAIL_MISMATCH
    assert svc.verify_order("SA-100001", "x' OR '1'='1") is Verification.EMAIL_MISMATCH
    assert svc.cancel_order("SA-100003", INJECTION).ok is False
    feedback_id = svc.record_feedback(INJECTION, INJECTION)
    with get_engine(db_url).connect() as conn:
        assert conn.execute(select(Feedback.text).where(Feedback.id == feedback_id)).scalar_one() == INJECTION
    assert count(db_url, Order) == orders_before
    assert svc.get_order("SA-100003", ALEX).status == "paid"


def test_unreachable_database_raises_shop_unavailable_quickly(monkeypatch: pytest.MonkeyPatch) -> None:
    from shop import ShopUnavailableError, db

    url = "postgresql://shopuser:s3cret-pw@127.0.0.1:1/nope"
    built: list = []
    create_engine = db.create_engine

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - sqlalchemy's own signature
        built.append(kwargs)
        return create_engine(*args, **kwargs)

    monkeypatch.setattr(db, "create_engine", spy)
    db.dispose_engine(url)
    svc = ShopService(url)
    with pytest.raises(ShopUnavailableError) as info:
        svc.search_products(category="shoes")
    with pytest.raises(ShopUnavailableError):
        svc.verify_order("SA-100001", ALEX)
    # "quickly": PostgreSQL gets the short connect timeout (shop/db.py), not a wall-clock limit here
    assert [kwargs["connect_args"] for kwargs in built] == [{"connect_timeout": db.CONNECT_TIMEOUT_S}]
    message = str(info.value)
    assert "s3cret-pw" not in message and "shopuser" not in message and "127.0.0.1" in message
    assert info.value.__cause__ is None


def test_uninitialised_database_is_unavailable(tmp_path) -> None:  # noqa: ANN001
    from shop import ShopUnavailableError

    svc = ShopService(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(ShopUnavailableError):
        svc.get_product("anything")


def test_logs_never_hold_full_email(svc: ShopService, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="shop")
    svc.verify_order("SA-100001", ALEX)
    svc.cancel_order("SA-100006", ALEX)
    svc.start_return("SA-100002", ALEX, "hoodie", "x")
    assert caplog.records
    assert "alex.morgan" not in caplog.text and "a***@example.com" in caplog.text
