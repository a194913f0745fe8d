"""Fixtures shared by the policy tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.domain import Domain

from tests.policies.helpers import small_domain, trained_rule_policy


@pytest.fixture(scope="session")
def domain() -> Domain:
    return small_domain()


@pytest.fixture(scope="session")
def rule_policy(tmp_path_factory: pytest.TempPathFactory, domain: Domain) -> RulePolicy:
    """A RulePolicy really trained on a few ShopAssist-like rules (takes well under a second)."""
    return trained_rule_policy(Path(tmp_path_factory.mktemp("rules")), domain)
