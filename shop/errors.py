"""Exceptions of the shop layer and the translation of database failures into them.

Callers (actions, console) must be able to tell "the database is down" from a programming error without
knowing SQLAlchemy, and the message they might log must never contain credentials from the URL.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError

if TYPE_CHECKING:  # pragma: no cover
    from shop.vocabulary import Verification

logger = logging.getLogger(__name__)


class ShopUnavailableError(RuntimeError):
    """The shop database cannot be reached (down, unreachable, locked or not initialised)."""


class OrderAccessError(PermissionError):
    """An order was requested without a matching order number and e-mail address.

    ``verification`` says why (``NOT_FOUND`` or ``EMAIL_MISMATCH``); the message never names the e-mail.
    """

    def __init__(self, order_id: str | None, verification: Verification) -> None:
        self.order_id = order_id
        self.verification = verification
        super().__init__(f"access to order {order_id or '<invalid>'} denied: {verification.value}")


def describe_url(url: str) -> str:
    """Describe a database URL without user name or password, e.g. ``postgresql at db:5432/shop``."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "an unparseable database URL"
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite database {parsed.database or ':memory:'}"
    host = parsed.host or "localhost"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.get_backend_name()} at {host}{port}/{parsed.database or ''}"


@contextmanager
def translate_db_errors(url: str) -> Iterator[None]:
    """Turn connection-level database failures into :class:`ShopUnavailableError`.

    Integrity errors and other programming errors pass through unchanged: they are bugs or handled races,
    not outages.
    """
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        where = describe_url(url)
        logger.warning("shop database unavailable (%s): %s", where, type(exc.orig).__name__)
        # ``from None``: the chained SQLAlchemy error would print the statement's parameters (e-mails).
        raise ShopUnavailableError(
            f"The shop database ({where}) is unavailable or not initialised."
        ) from None
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        where = describe_url(url)
        logger.warning("shop database connection lost (%s)", where)
        raise ShopUnavailableError(f"The connection to the shop database ({where}) was lost.") from None
