"""shop.llm_config: the llm: section of endpoints.yml, its environment overrides and bad values."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shop import llm_config
from shop.config import REPO_ROOT
from shop.llm_config import LLMConfig, LLMConfigError, load_llm_config, parse_llm_section


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch):
    for name in (llm_config.ENDPOINTS_ENV, llm_config.URL_ENV, llm_config.MODEL_ENV):
        monkeypatch.delenv(name, raising=False)
    llm_config.reset_llm_config()
    yield
    llm_config.reset_llm_config()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "endpoints.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_endpoints_file_configures_no_model_but_documents_one() -> None:
    text = (REPO_ROOT / "endpoints.yml").read_text(encoding="utf-8")
    assert "llm" not in (yaml.safe_load(text) or {})
    assert "# llm:" in text and "api_key_env" in text and "rephrase" in text
    assert load_llm_config(REPO_ROOT / "endpoints.yml") is None


def test_a_full_section(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        (
            'action_endpoint:\n  url: "http://localhost:5055/webhook"\n'
            'llm:\n  url: "http://127.0.0.1:8000/v1"\n  model: "qwen2.5-7b"\n  api_key_env: MY_KEY\n'
            "  timeout: 1.5\n  rephrase: true\n"
        ),
    )
    config = load_llm_config(path)
    assert config == LLMConfig(
        url="http://127.0.0.1:8000/v1", model="qwen2.5-7b", api_key_env="MY_KEY", timeout=1.5, rephrase=True
    )
    assert config.completions_url == "http://127.0.0.1:8000/v1/chat/completions"


def test_defaults_and_a_full_completions_url() -> None:
    config = parse_llm_section({"url": "https://api.example.test/v1/chat/completions"})
    assert (config.timeout, config.rephrase, config.api_key_env) == (3.0, False, None)
    assert config.completions_url == "https://api.example.test/v1/chat/completions"


def test_the_key_is_read_from_the_named_variable_at_call_time(monkeypatch) -> None:
    config = parse_llm_section({"url": "http://h/v1", "api_key_env": "SHOPASSIST_TEST_KEY"})
    monkeypatch.delenv("SHOPASSIST_TEST_KEY", raising=False)
    assert config.api_key() is None
    monkeypatch.setenv("SHOPASSIST_TEST_KEY", "sk-abc")
    assert config.api_key() == "sk-abc"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"url": "ftp://host/v1"}, "http"),
        ({"url": "localhost:8000"}, "http"),
        ({"url": "http://h/v1", "timeout": 0}, "timeout"),
        ({"url": "http://h/v1", "timeout": "soon"}, "timeout"),
        ({"url": "http://h/v1", "timeout": 600}, "timeout"),
        ({"url": "http://h/v1", "rephrase": "maybe"}, "rephrase"),
        ({"url": "http://h/v1", "api_key_env": "sk-live-1234 5678"}, "NAME"),
        (["url"], "mapping"),
    ],
)
def test_bad_values_are_rejected_with_a_reason(section, message: str) -> None:
    with pytest.raises(LLMConfigError, match=message):
        parse_llm_section(section)


def test_a_bad_section_means_no_model_and_a_logged_reason(tmp_path: Path, caplog) -> None:
    path = write(tmp_path, "llm:\n  url: not a url\n")
    assert load_llm_config(path) is None
    assert "cannot be used" in caplog.text


def test_broken_yaml_means_no_model(tmp_path: Path) -> None:
    assert load_llm_config(write(tmp_path, "llm: [unclosed\n")) is None


def test_environment_overrides(tmp_path: Path, monkeypatch) -> None:
    path = write(tmp_path, 'llm:\n  url: "http://file-host/v1"\n  model: from-file\n  rephrase: true\n')
    monkeypatch.setenv(llm_config.ENDPOINTS_ENV, str(path))
    assert llm_config.configured_llm().url == "http://file-host/v1"

    llm_config.reset_llm_config()
    monkeypatch.setenv(llm_config.URL_ENV, "http://env-host:9000/v1")
    monkeypatch.setenv(llm_config.MODEL_ENV, "from-env")
    config = llm_config.configured_llm()
    assert (config.url, config.model, config.rephrase) == ("http://env-host:9000/v1", "from-env", True)

    llm_config.reset_llm_config()
    monkeypatch.setenv(llm_config.URL_ENV, "off")
    assert llm_config.configured_llm() is None


def test_the_url_variable_alone_switches_the_model_on(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(llm_config.ENDPOINTS_ENV, str(tmp_path / "missing.yml"))
    monkeypatch.setenv(llm_config.URL_ENV, "http://127.0.0.1:1/v1")
    assert llm_config.configured_llm() == LLMConfig(url="http://127.0.0.1:1/v1")
