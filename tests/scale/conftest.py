"""One Rasa stack for the scale and fault tests: two `rasa run` replicas sharing a PostgreSQL tracker store
and a Redis lock store (private instances on free ports), one action server, a seeded SQLite shop.

Starting a replica costs 30-60 s of both cores, so the replica test and the fault tests share the stack;
a fault test puts back what it broke (restarts the service it stopped) before it returns.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.ci import skip_or_fail
from tests.scale.services import ScaleStack, missing_service_binaries, start_stack, stop_stack
from tests.servers import trained_model

REPLICAS = 2


@pytest.fixture(scope="session")
def scale_model() -> Path:
    return trained_model()


@pytest.fixture(scope="session")
def scale_stack(scale_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaleStack]:
    reason = missing_service_binaries()
    if reason:
        skip_or_fail(reason)
    from shop.seed import seed_database

    work = tmp_path_factory.mktemp("scale")
    shop_db_url = f"sqlite:///{work / 'shop.db'}"
    seed_database(shop_db_url)
    stack = start_stack(work, scale_model, shop_db_url, REPLICAS)
    try:
        yield stack
    finally:
        stop_stack(stack)
