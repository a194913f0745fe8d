"""The ``SHOPASSIST_*`` serving settings: names, defaults and parsing, without importing Rasa.

``serving.stores`` (loaded by the Rasa server) and light-weight tools such as ``shopassist report`` and
``shopassist serve`` read the same variables through this module.
"""
from __future__ import annotations

import os
import re
from typing import List, Mapping, Optional

from rasa.shared.exceptions import RasaException

TRACKER_STORE_URL_ENV = "SHOPASSIST_TRACKER_STORE_URL"
LOCK_STORE_URL_ENV = "SHOPASSIST_LOCK_STORE_URL"
LOCK_STORE_PREFIX_ENV = "SHOPASSIST_LOCK_STORE_PREFIX"
EVENT_BROKER_URL_ENV = "SHOPASSIST_EVENT_BROKER_URL"
EVENT_BROKER_QUEUES_ENV = "SHOPASSIST_EVENT_BROKER_QUEUES"
#: Rasa's own variable for the number of Sanic worker processes of one server.
SANIC_WORKERS_ENV = "SANIC_WORKERS"

#: Relative to the directory the server starts in (the repository root for `make demo` / `make serve`).
DEFAULT_TRACKER_STORE_URL = "sqlite:///.state/tracker.db"
DEFAULT_LOCK_STORE_PREFIX = "shopassist"
DEFAULT_EVENT_BROKER_QUEUES = ("shopassist_events",)
REDIS_SCHEMES = ("redis", "rediss")
AMQP_SCHEMES = ("amqp", "amqps")


class ServingConfigError(RasaException):
    """A ``SHOPASSIST_*`` setting is wrong; the message names the variable and what to do."""


#: ``user:password@`` after the scheme (or at the start of a malformed URL, which must be masked too).
_CREDENTIALS = re.compile(r"(^|/)([^:/@\s]*):[^@/\s]*@")


def mask_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, for error messages and logs."""
    return _CREDENTIALS.sub(r"\1\2:***@", url)


def tracker_store_url(environ: Optional[Mapping[str, str]] = None) -> str:
    """The SQLAlchemy URL of the tracker store: ``$SHOPASSIST_TRACKER_STORE_URL`` or the SQLite default."""
    import sqlalchemy as sa
    from sqlalchemy.exc import ArgumentError

    environ = os.environ if environ is None else environ
    url = (environ.get(TRACKER_STORE_URL_ENV) or "").strip() or DEFAULT_TRACKER_STORE_URL
    try:
        sa.engine.make_url(url)
    except ArgumentError:
        raise ServingConfigError(
            f"{TRACKER_STORE_URL_ENV}={mask_url(url)!r} is not a database URL "
            "(expected e.g. postgresql://USER:PASSWORD@HOST:5432/DB)."
        ) from None
    # SQLAlchemy's postgres:// alias was removed in 1.4; many hosting platforms still hand it out.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    return url


def event_broker_queues(environ: Optional[Mapping[str, str]] = None) -> List[str]:
    environ = os.environ if environ is None else environ
    raw = environ.get(EVENT_BROKER_QUEUES_ENV) or ""
    queues = [name.strip() for name in raw.split(",") if name.strip()]
    return queues or list(DEFAULT_EVENT_BROKER_QUEUES)
