"""Fixtures for the shop tests: one seeded SQLite template per session, copied into a fresh file per test.

Copying a seeded file takes milliseconds, so every test gets its own database (writes cannot leak between
tests) while the seed itself runs once. Read-only tests share a module-scoped copy.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from shop.db import dispose_engine
from shop.seed import seed_database
from shop.service import ShopService

ALEX = "alex.morgan@example.com"
SAM = "sam.lee@example.com"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def seed_now() -> datetime:
    """The moment the template was seeded; demo dates are relative to it."""
    return datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory, seed_now: datetime) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("shop-template") / "shop.db"
    url = sqlite_url(path)
    seed_database(url, now=seed_now)
    dispose_engine(url)  # closes the connections, so WAL content is checkpointed into the file
    yield path


def _copy(template: Path, target_dir: Path) -> str:
    target = target_dir / "shop.db"
    shutil.copyfile(template, target)
    return sqlite_url(target)


@pytest.fixture
def db_url(template_db: Path, tmp_path: Path) -> Iterator[str]:
    """A fresh, seeded SQLite database for one test."""
    url = _copy(template_db, tmp_path)
    yield url
    dispose_engine(url)


@pytest.fixture
def svc(db_url: str) -> ShopService:
    return ShopService(db_url)


@pytest.fixture(scope="module")
def shared_url(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A seeded database shared by the read-only tests of one module."""
    url = _copy(template_db, tmp_path_factory.mktemp("shop-shared"))
    yield url
    dispose_engine(url)


@pytest.fixture(scope="module")
def shared_svc(shared_url: str) -> ShopService:
    return ShopService(shared_url)
