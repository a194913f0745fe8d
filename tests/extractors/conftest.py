"""Fixtures of the extractor tests: a seeded SQLite catalog and a matcher compiled from it."""

from __future__ import annotations

import pytest

from components.extractors.catalog_matcher import CatalogMatcher, compile_vocabulary
from shop.catalog_terms import catalog_terms
from shop.db import dispose_engine
from shop.seed import seed_database


@pytest.fixture(scope="session")
def shop_db_url(tmp_path_factory) -> str:
    """URL of a freshly seeded shop database (shared by the session; tests must not write to it)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('catalog') / 'shop.db'}"
    seed_database(url)
    yield url
    dispose_engine(url)


@pytest.fixture
def writable_db_url(tmp_path) -> str:
    """A seeded shop database of one test's own, which the test may change."""
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    seed_database(url)
    yield url
    dispose_engine(url)


@pytest.fixture(scope="session")
def vocabulary(shop_db_url) -> dict:
    return compile_vocabulary(catalog_terms(shop_db_url))


@pytest.fixture(scope="session")
def matcher(vocabulary) -> CatalogMatcher:
    return CatalogMatcher(vocabulary)


def extract(matcher: CatalogMatcher, text: str) -> list[tuple[str, str, str]]:
    """``(entity, matched text, value)`` of every entity, checking the offsets on the way."""
    found = []
    for entity in matcher.extract(text):
        span = text[entity["start"] : entity["end"]]
        assert span and span == span.strip(), f"bad offsets {entity} in {text!r}"
        found.append((entity["entity"], span, entity["value"]))
    return found
