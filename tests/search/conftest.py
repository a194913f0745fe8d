"""Fixtures for the search and recommendation tests.

The demo catalog is seeded once per session into a SQLite template and copied per test (or per module for
read-only tests). The MiniLM encoder is loaded once per process by :func:`shop.embeddings.get_encoder`;
product vectors live in pytest's cache folder, keyed by the catalog's content, so a second test run does
not embed the catalog again. Tests of the cache itself use a fresh temporary folder.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from shop.db import dispose_engine
from shop.embeddings import default_encoder_path, get_encoder
from shop.search import SearchConfig
from shop.seed import seed_database
from shop.service import ShopService
from tests.ci import encoder_missing

ALEX = "alex.morgan@example.com"
INJECTION = "'; DROP TABLE products; --"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("search-template") / "shop.db"
    url = sqlite_url(path)
    seed_database(url, now=datetime.now(timezone.utc).replace(microsecond=0))
    dispose_engine(url)
    return path


def _copy(template: Path, folder: Path) -> str:
    target = folder / "shop.db"
    shutil.copyfile(template, target)
    return sqlite_url(target)


@pytest.fixture(scope="session")
def vector_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pytest's cache folder keeps the demo catalog's vectors between runs; a temp folder without it."""
    cache = getattr(request.config, "cache", None)
    if cache is None:
        return tmp_path_factory.mktemp("search-vectors")
    return Path(cache.mkdir("search-vectors"))


@pytest.fixture(scope="session")
def hybrid_config(vector_dir: Path) -> SearchConfig:
    """Search with the shipped MiniLM encoder; without it the test fails under CI=true (tests/ci.py), since
    a missing encoder would silently turn every hybrid test into a keyword test."""
    config = SearchConfig.from_env(cache_dir=vector_dir, encoder_path=default_encoder_path())
    if config.encoder_path is None or get_encoder(config.encoder_path, config.quantize) is None:
        encoder_missing("hybrid search")
    return config


@pytest.fixture(scope="session")
def keyword_config(vector_dir: Path) -> SearchConfig:
    """Keyword-only search the way a deployment gets it: the encoder setting says ``none``."""
    return SearchConfig.from_env(cache_dir=vector_dir, encoder_path=None)


@pytest.fixture
def db_url(template_db: Path, tmp_path: Path) -> Iterator[str]:
    url = _copy(template_db, tmp_path)
    yield url
    dispose_engine(url)


@pytest.fixture(scope="module")
def shared_url(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = _copy(template_db, tmp_path_factory.mktemp("search-shared"))
    yield url
    dispose_engine(url)


@pytest.fixture(scope="module")
def hybrid(shared_url: str, hybrid_config: SearchConfig) -> ShopService:
    return ShopService(shared_url, search_config=hybrid_config)


@pytest.fixture(scope="module")
def keyword(shared_url: str, keyword_config: SearchConfig) -> ShopService:
    return ShopService(shared_url, search_config=keyword_config)
