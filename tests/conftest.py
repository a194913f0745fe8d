"""Fixtures shared by several test packages: a seeded demo shop database.

Seeding takes a few seconds, so it happens once per test session into a template file; every test that
writes gets its own copy (``db_url``)."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator

import pytest

from shop.db import dispose_engine
from shop.seed import seed_database


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly seeded SQLite shop database; copy it before writing (see ``db_url``)."""
    path = tmp_path_factory.mktemp("seeded-shop") / "template.db"
    url = f"sqlite:///{path}"
    seed_database(url)
    dispose_engine(url)
    return path


@pytest.fixture
def db_url(template_db: Path, tmp_path: Path) -> Iterator[str]:
    """The URL of this test's own copy of the seeded shop database."""
    target = tmp_path / "shop.db"
    shutil.copyfile(template_db, target)
    url = f"sqlite:///{target}"
    yield url
    dispose_engine(url)
