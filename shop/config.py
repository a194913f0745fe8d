"""Where the shop keeps its state and which database it talks to.

Everything is driven by environment variables with documented defaults so that a laptop run needs no
configuration (SQLite file under a local state folder) and production only sets ``SHOP_DB_URL``.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Folder for local runtime state (SQLite files, caches). Overridden by ``SHOPASSIST_STATE_DIR``.
STATE_DIR_ENV = "SHOPASSIST_STATE_DIR"
#: Database URL of the shop (SQLAlchemy syntax). Overridden per call by an explicit url.
DB_URL_ENV = "SHOP_DB_URL"

REPO_ROOT = Path(__file__).resolve().parent.parent


def state_dir() -> Path:
    """Return the state folder, creating it on demand.

    Defaults to ``<repo root>/.state`` (git-ignored) so that every process of a local run (Rasa server,
    action server, agent console) finds the same SQLite files without being told.
    """
    configured = os.environ.get(STATE_DIR_ENV, "").strip()
    path = Path(configured).expanduser() if configured else REPO_ROOT / ".state"
    path.mkdir(parents=True, exist_ok=True)
    return path


def resolve_database_url(url: str | None, env_var: str, sqlite_file: str) -> str:
    """An explicit ``url``, else ``$env_var``, else the SQLite file ``sqlite_file`` in the state folder:
    the one rule every database of the project (shop, analytics) follows."""
    if url and url.strip():
        return url.strip()
    configured = os.environ.get(env_var, "").strip()
    if configured:
        return configured
    return f"sqlite:///{state_dir() / sqlite_file}"


def database_url(url: str | None = None) -> str:
    """Resolve the shop database URL: explicit ``url``, else ``$SHOP_DB_URL``, else a local SQLite file."""
    return resolve_database_url(url, DB_URL_ENV, "shop.db")
