"""Where the action server finds the optional language model: the ``llm:`` section of ``endpoints.yml``.

Rasa hands ``endpoints.yml`` to the Rasa server only; the action server (``rasa run actions``) never sees
it. So the action server reads the same file itself, once per process:

* ``$SHOPASSIST_ENDPOINTS`` names the file (default: ``endpoints.yml`` of the repository root);
* ``$SHOPASSIST_LLM_URL`` overrides (or supplies) the ``url`` and ``$SHOPASSIST_LLM_MODEL`` the ``model``,
  so a deployment can switch the model on without editing the file; ``SHOPASSIST_LLM_URL=off`` switches it
  off whatever the file says.

No section, no URL, or a section that does not make sense (logged once, never raised): no model, and the
assistant answers exactly as without one. The API key is never stored in the file, only the name of the
environment variable that holds it (``api_key_env``), read at call time.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from shop.config import REPO_ROOT

logger = logging.getLogger(__name__)

ENDPOINTS_ENV = "SHOPASSIST_ENDPOINTS"
URL_ENV = "SHOPASSIST_LLM_URL"
MODEL_ENV = "SHOPASSIST_LLM_MODEL"
#: Values of ``$SHOPASSIST_LLM_URL`` that switch the model off.
OFF_VALUES = frozenset({"off", "none", "false", "0", "disabled"})
DEFAULT_TIMEOUT = 3.0
#: A longer wait than this keeps a shopper staring at nothing; the extractive answer is better.
MAX_TIMEOUT = 30.0
CHAT_COMPLETIONS_PATH = "/chat/completions"


class LLMConfigError(ValueError):
    """The ``llm:`` section cannot be used (the message says why)."""


@dataclass(frozen=True)
class LLMConfig:
    """One OpenAI-compatible chat-completions endpoint (vLLM, Ollama, llama.cpp server, hosted APIs)."""

    url: str
    model: str = "default"
    api_key_env: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    rephrase: bool = False
    max_tokens: int = 300
    temperature: float = 0.2

    @property
    def completions_url(self) -> str:
        """``url`` as given when it already ends in ``/chat/completions``, else with that path appended
        (so both ``http://host:8000/v1`` and the full endpoint work)."""
        url = self.url.rstrip("/")
        return url if url.endswith(CHAT_COMPLETIONS_PATH) else url + CHAT_COMPLETIONS_PATH

    def api_key(self) -> str | None:
        """The key from ``$<api_key_env>`` at call time (None when unset: local servers need none)."""
        if not self.api_key_env:
            return None
        return os.environ.get(self.api_key_env) or None


def _number(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool):
        raise LLMConfigError(f"llm.{name} must be a number, not {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise LLMConfigError(f"llm.{name} must be a number, not {value!r}") from None
    if not low < number <= high:
        raise LLMConfigError(f"llm.{name} must be in ({low}, {high}], not {number}")
    return number


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0", "", "none"):
        return False
    raise LLMConfigError(f"llm.{name} must be true or false, not {value!r}")


def parse_llm_section(section: Any) -> LLMConfig | None:
    """An :class:`LLMConfig` from the ``llm:`` mapping (None when it is empty or has no ``url``);
    raises :class:`LLMConfigError` for values that cannot work."""
    if section is None:
        return None
    if not isinstance(section, dict):
        raise LLMConfigError(
            "the llm: section must be a mapping (url, model, api_key_env, timeout, rephrase)"
        )
    url = str(section.get("url") or "").strip()
    if not url or url.lower() in OFF_VALUES:
        return None
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise LLMConfigError(f"llm.url must be an http(s) URL, not {url!r}")
    key_env = section.get("api_key_env")
    if key_env is not None and (not isinstance(key_env, str) or not key_env.strip().isidentifier()):
        raise LLMConfigError("llm.api_key_env must be the NAME of an environment variable, not the key")
    return LLMConfig(
        url=url,
        model=str(section.get("model") or "default").strip(),
        api_key_env=key_env.strip() if key_env else None,
        timeout=_number(section.get("timeout", DEFAULT_TIMEOUT), "timeout", 0.0, MAX_TIMEOUT),
        rephrase=_flag(section.get("rephrase", False), "rephrase"),
        max_tokens=int(_number(section.get("max_tokens", 300), "max_tokens", 0, 4000)),
        temperature=_number(section.get("temperature", 0.2), "temperature", -0.001, 2.0),
    )


def endpoints_path() -> Path:
    configured = os.environ.get(ENDPOINTS_ENV, "").strip()
    return Path(configured).expanduser() if configured else REPO_ROOT / "endpoints.yml"


def load_llm_config(path: str | Path | None = None) -> LLMConfig | None:
    """The model configured for this process, or None (see the module docstring for the sources).

    Never raises: an unreadable file or a bad section is logged and means "no model"."""
    env_url = os.environ.get(URL_ENV, "").strip()
    if env_url.lower() in OFF_VALUES:
        return None
    file = Path(path) if path is not None else endpoints_path()
    section: dict[str, Any] = {}
    try:
        if file.is_file():
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
            raw = data.get("llm") if isinstance(data, dict) else None
            if raw is not None and not isinstance(raw, dict):
                raise LLMConfigError("the llm: section must be a mapping")
            section = dict(raw or {})
        if env_url:
            section["url"] = env_url
        env_model = os.environ.get(MODEL_ENV, "").strip()
        if env_model:
            section["model"] = env_model
        return parse_llm_section(section or None)
    except (OSError, yaml.YAMLError, LLMConfigError) as exc:
        logger.error("No language model: the llm: section of %s cannot be used (%s)", file, exc)
        return None


_UNSET = object()
_cached: Any = _UNSET


def configured_llm() -> LLMConfig | None:
    """:func:`load_llm_config` once per process (the action server reads its config at start)."""
    global _cached
    if _cached is _UNSET:
        _cached = load_llm_config()
        if _cached is not None:
            logger.info(
                "Language model: %s at %s (rephrase: %s)", _cached.model, _cached.url, _cached.rephrase
            )
    return _cached


def reset_llm_config() -> None:
    """Forget the cached config (tests that change the environment)."""
    global _cached
    _cached = _UNSET


__all__ = [
    "LLMConfig",
    "LLMConfigError",
    "configured_llm",
    "load_llm_config",
    "parse_llm_section",
    "reset_llm_config",
]
