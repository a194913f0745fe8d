"""Shared fixtures for component tests: offline Hugging Face, a tiny random BERT with the shipped vocab."""

from __future__ import annotations

import os
from pathlib import Path

# Never reach the Hugging Face hub from tests (read by huggingface_hub/transformers at import time).
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pytest  # noqa: E402

from tests.components.tiny_models import build_tiny_bert  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cuda: needs a CUDA GPU (skipped when torch sees none)")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))
