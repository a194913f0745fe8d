"""Helpers that keep personal data out of logs, reports and exported analytics.

Logs, the conversation report, the review export and handoff summaries are read by many people (and the
review export ends up in git as training data); shoppers' free text often carries e-mail addresses, phone
numbers and sometimes a card number. Those are masked everywhere such text leaves the tracker store:

* e-mail addresses keep their first letter and the domain (``a***@example.com``), still useful for
  correlating events;
* card numbers (13-19 digits, spaces or dashes allowed, valid Luhn checksum) become ``[card]``;
* phone numbers and any other run of 7 or more digits become ``[phone]`` (``[number]`` beyond 15 digits),
  so a mistyped card number or an IBAN-like number is masked too;
* order numbers (``SA-100042``, ``sa100042``, ``#100042``, ``SA 100042``) and prices (``$79.99``,
  ``1,299.00``) stay readable: an order number alone gives no access to an order (the bot always asks for
  the e-mail on it) and designers need both to read and label messages. ``order_numbers="shape"`` replaces
  the digits of order numbers but keeps how the shopper wrote them (prefix, separator, six digits), for
  text that becomes training data (see ``shopassist review``).
"""

from __future__ import annotations

import logging
import re
from typing import Any, Literal

from shop.shopper_text import WRITTEN_ORDER_NUMBER

CARD_MASK = "[card]"
PHONE_MASK = "[phone]"
NUMBER_MASK = "[number]"
#: Digits written in place of a real order number's digits by ``order_numbers="shape"``.
ORDER_DIGITS_PLACEHOLDER = "123456"
#: Fewer digits than this are never masked: quantities, sizes, prices, six-digit order numbers.
MIN_MASKED_DIGITS = 7
MAX_PHONE_DIGITS = 15
CARD_DIGITS = range(13, 20)

_EMAIL = r"[^\s@<>()\[\]{},;:\"']+@[^\s@<>()\[\]{},;:\"']+\.[A-Za-z]{2,}"
# A price: a currency sign before the amount, or an amount with cents (79.99, 1,299.00).
_PRICE = r"[$€£]\s?\d[\d,]*(?:\.\d{1,2})?|(?<![\d.,])\d{1,3}(?:,\d{3})+(?:\.\d{2})?(?![\d,])"
# A run of digits with the separators people type in phone and card numbers.
_DIGITS = r"(?<![\w.,])\+?\(?\d[\d\s().\-/]*\d(?![\w])"
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}")
_SIX_DIGIT_GROUPS = re.compile(r"\d{6}(?:[\s,/]+\d{6})+")
_DECIMAL = re.compile(r"\d+\.\d{1,2}")
_PATTERN = re.compile(
    rf"(?P<email>{_EMAIL})|(?P<order>{WRITTEN_ORDER_NUMBER})|(?P<price>{_PRICE})|(?P<digits>{_DIGITS})"
)

OrderNumbers = Literal["keep", "shape"]


def mask_email(email: Any) -> str:
    """Mask an e-mail address for logging: ``alex.morgan@example.com`` -> ``a***@example.com``.

    Anything that does not look like an address is masked completely, so a shopper's free text that ended
    up in the e-mail slot never reaches a log line verbatim.
    """
    if not isinstance(email, str):
        return "***"
    value = email.strip()
    local, sep, domain = value.rpartition("@")
    if not sep or not local or not domain or any(ch.isspace() for ch in value):
        return "***"
    return f"{local[0].lower()}***@{domain.lower()}"


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number carries (``digits``: digits only)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _mask_digits(text: str) -> str:
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) < MIN_MASKED_DIGITS or _DATE.fullmatch(text) or _DECIMAL.fullmatch(text):
        return text
    if _SIX_DIGIT_GROUPS.fullmatch(text):
        return text  # several bare order numbers ("100001 100002"), not one long number
    if len(digits) in CARD_DIGITS and luhn_valid(digits):
        return CARD_MASK
    return PHONE_MASK if len(digits) <= MAX_PHONE_DIGITS else NUMBER_MASK


def _shape_order(text: str) -> str:
    return text[: len(text) - 6] + ORDER_DIGITS_PLACEHOLDER


def mask_personal_data(text: Any, order_numbers: OrderNumbers = "keep") -> str:
    """``text`` with e-mail addresses, card numbers and phone numbers masked (see the module docstring).

    Order numbers and prices are left as they are; with ``order_numbers="shape"`` an order number keeps
    its written form but its digits become ``123456`` (``sa100042`` -> ``sa123456``).
    """
    if not isinstance(text, str):
        return "" if text is None else "***"

    def replace(match: re.Match) -> str:
        if match.group("email"):
            return mask_email(match.group("email"))
        if match.group("order"):
            order = match.group("order")
            return _shape_order(order) if order_numbers == "shape" else order
        if match.group("price"):
            return match.group("price")
        return _mask_digits(match.group("digits"))

    return _PATTERN.sub(replace, text)


class PersonalDataLogFilter(logging.Filter):
    """A logging filter that masks personal data in every record it sees (message and arguments).

    Install it on a handler (``install_log_filter``) so that libraries which log shopper text at debug
    level (Rasa logs each received message) cannot leak e-mail addresses, phone or card numbers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken log call must not break the application
            return True
        masked = mask_personal_data(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def install_log_filter(logger: logging.Logger | None = None) -> PersonalDataLogFilter:
    """Add a :class:`PersonalDataLogFilter` to every handler of ``logger`` (default: the root logger)."""
    target = logger or logging.getLogger()
    log_filter = PersonalDataLogFilter()
    for handler in target.handlers:
        if not any(isinstance(existing, PersonalDataLogFilter) for existing in handler.filters):
            handler.addFilter(log_filter)
    return log_filter
