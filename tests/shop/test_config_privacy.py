"""Configuration resolution, e-mail masking and order-number normalisation."""

from __future__ import annotations

from pathlib import Path

import pytest

from shop import mask_email, normalize_order_id
from shop.config import database_url, state_dir
from shop.vocabulary import normalize_category, normalize_color, normalize_size


def test_state_dir_comes_from_env_and_is_created(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    target = tmp_path / "nested" / "state"
    monkeypatch.setenv("SHOPASSIST_STATE_DIR", str(target))
    assert state_dir() == target
    assert target.is_dir()


def test_database_url_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SHOPASSIST_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("SHOP_DB_URL", raising=False)
    assert database_url() == f"sqlite:///{tmp_path / 'shop.db'}"
    monkeypatch.setenv("SHOP_DB_URL", "postgresql://db.internal/shop")
    assert database_url() == "postgresql://db.internal/shop"
    assert database_url("sqlite:///other.db") == "sqlite:///other.db"


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("alex.morgan@example.com", "a***@example.com"),
        ("  Sam.Lee@Example.ORG ", "s***@example.org"),
        ("x@example.com", "x***@example.com"),
        ("not an email", "***"),
        ("@example.com", "***"),
        ("", "***"),
        (None, "***"),
    ],
)
def test_mask_email(email: object, masked: str) -> None:
    assert mask_email(email) == masked


@pytest.mark.parametrize(
    "raw", ["SA-100042", "sa100042", "#100042", "SA 100042", "100042", " sa-100042 ", 100042]
)
def test_normalize_order_id_accepts_what_shoppers_type(raw: object) -> None:
    assert normalize_order_id(raw) == "SA-100042"


@pytest.mark.parametrize(
    "raw", ["SA-1000421", "SA-10004", "order 5", "", None, "SB-100042", "'; DROP TABLE orders; --"]
)
def test_normalize_order_id_rejects_malformed(raw: object) -> None:
    assert normalize_order_id(raw) is None


def test_vocabulary_normalisers() -> None:
    assert normalize_category("Jacket") == "jackets"
    assert normalize_category("t-shirt") == "t-shirts"
    assert normalize_category("TSHIRTS") == "t-shirts"
    assert normalize_category("dress") == "dresses"
    assert normalize_category("spaceship") is None
    assert normalize_color("Gray") == "grey"
    assert normalize_color("teal") is None
    assert normalize_size("xl") == "XL"
    assert normalize_size("one-size") == "one size"
    assert normalize_size("EU 42") == "42"
