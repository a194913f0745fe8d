"""Helpers that keep personal data out of logs.

Logs end up in files, terminals and log aggregators that many people can read; an e-mail address is
personal data, so log lines only ever carry a masked form that is still useful for correlating events.
"""

from __future__ import annotations

from typing import Any


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
