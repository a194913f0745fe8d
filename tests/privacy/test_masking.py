"""shop.privacy: what is masked (e-mails, phones, card numbers) and what stays readable (order numbers,
prices, dates, sizes), and the places that use it (log filter, report, handoff summary, analytics sink)."""

from __future__ import annotations

import json
import logging

import pytest

from shop.privacy import (
    PersonalDataLogFilter,
    luhn_valid,
    mask_email,
    mask_personal_data,
)


@pytest.mark.parametrize("text, masked", [
    ("mail alex.morgan@example.com now", "mail a***@example.com now"),
    ("call +44 20 7946 0958 please", "call [phone] please"),
    ("my mobile: 0612345678", "my mobile: [phone]"),
    ("(030) 123-4567", "[phone]"),
    ("card 4111 1111 1111 1111 ok", "card [card] ok"),
    ("card 5500-0000-0000-0004", "card [card]"),
    ("amex 378282246310005", "amex [card]"),
    # not a valid card checksum, but far too long for a phone: still masked
    ("4111 1111 1111 1112 3", "[number]"),
    ("SA-100001 0612345678", "SA-100001 [phone]"),
])
def test_personal_data_is_masked(text: str, masked: str) -> None:
    assert mask_personal_data(text) == masked


@pytest.mark.parametrize("text", [
    "where is SA-100001",
    "orders sa100042, #100043 and SA 100044",
    "orders 100001 100002",
    "red hoodies under $80 or €79.99",
    "it costs 1,299.00 and 12345.67 is the total",
    "delivered on 2026-11-28 or 28.11.2026",
    "2 pairs in size 42, 3 in XL",
])
def test_order_numbers_prices_and_dates_stay(text: str) -> None:
    assert mask_personal_data(text) == text


def test_order_number_shape_for_training_data() -> None:
    text = "status of sa100042 and SA-100043, call 0612345678"
    assert mask_personal_data(text, order_numbers="shape") == "status of sa123456 and SA-123456, call [phone]"


def test_luhn() -> None:
    assert luhn_valid("4111111111111111") and luhn_valid("79927398713")
    assert not luhn_valid("4111111111111112")


@pytest.mark.parametrize("value", [None, 42, ""])
def test_non_text_never_leaks(value) -> None:
    assert mask_personal_data(value) in ("", "***")
    assert mask_email(value) == "***"


def test_log_filter_masks_messages_and_arguments() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "user said %r to %s", (
        "my card is 4111 1111 1111 1111", "alex.morgan@example.com"), None)
    assert PersonalDataLogFilter().filter(record) is True
    assert record.getMessage() == "user said 'my card is [card]' to a***@example.com"
    plain = logging.LogRecord("x", logging.INFO, __file__, 1, "order %s", ("SA-100001",), None)
    PersonalDataLogFilter().filter(plain)
    assert plain.getMessage() == "order SA-100001" and plain.args == ("SA-100001",)  # untouched


def test_report_not_understood_masks_phones() -> None:
    from shopassist.report import Report

    report = Report()
    parse = {"intent": {"name": "nlu_fallback", "confidence": 0.2}}
    data = json.dumps({"text": "ring me on 07700 900123", "parse_data": parse})
    report.add_conversation([("user", 1.0e9, "nlu_fallback", None, data)])
    assert report.top_not_understood() == [("ring me on [phone]", 1)]


def test_handoff_summary_uses_the_shared_masker() -> None:
    from actions.handoff import summary

    events = [{"event": "user", "text": "card 4111 1111 1111 1111, mail alex.morgan@example.com, SA-100002"}]
    assert summary(events) == ["card [card], mail a***@example.com, SA-100002"]


def test_analytics_sink_masks_text_entities_and_slots() -> None:
    from shopassist.analytics_sink import event_row

    user = {"sender_id": "s1", "event": "user", "timestamp": 1.0e9, "text": "I am alex.morgan@example.com",
            "parse_data": {"text": "I am alex.morgan@example.com", "intent": {"name": "inform"},
                           "entities": [{"entity": "email", "value": "alex.morgan@example.com"}]}}
    slot = {"sender_id": "s1", "event": "slot", "timestamp": 1.0e9, "name": "email",
            "value": "alex.morgan@example.com"}
    rows = [event_row(json.dumps(event).encode()) for event in (user, slot)]
    assert all("alex.morgan" not in row["data"] for row in rows)
    assert json.loads(rows[1]["data"])["value"] == "a***@example.com"
    assert rows[0]["intent_name"] == "inform" and rows[0]["sender_id"] == "s1"
    assert "sender_id" not in json.loads(rows[0]["data"])  # as Rasa's tracker store writes it
    unmasked = event_row(json.dumps(user).encode(), mask=False)
    assert "alex.morgan@example.com" in unmasked["data"]
