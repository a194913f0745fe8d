"""docker-compose.yml, deploy/ and the Procfile describe a topology the code can actually run.

Docker is not available here, so the compose file is parsed (with compose's own variable interpolation
rules for ``${VAR:-default}``, ``${VAR:?error}`` and ``$$``) and checked against the code: every variable
handed to a ShopAssist container is one the code reads, the replicas share one tracker store and one lock
store, the load balancer knows every replica, and the files the containers mount exist.
"""
from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Mapping

import pytest
import yaml
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import read_endpoint_config

from serving import settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
NGINX = REPO / "deploy" / "nginx.conf"
PRODUCTION_ENDPOINTS = REPO / "deploy" / "endpoints.production.yml"
SECRETS = {
    "POSTGRES_PASSWORD": "pg-secret", "RABBITMQ_PASSWORD": "mq-secret",
    "RASA_AUTH_TOKEN": "a-long-random-token-for-tests", "CONSOLE_AGENTS": "alice:hash",
}
OUR_PACKAGES = ("serving", "shop", "console", "actions", "channels", "components", "shopassist")
_INTERPOLATION = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def interpolate(text: str, environ: Mapping[str, str]) -> str:
    """Compose's interpolation: ``$$`` is ``$``; ``:-`` default, ``:?`` error when unset or empty."""

    def value(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, argument = match.groups()
        current = environ.get(name)
        if operator in (":-", "-"):
            return current if current else argument
        if operator in (":?", "?") and not current:
            raise ValueError(f"{name}: {argument}")
        return current or ""

    return _INTERPOLATION.sub(value, text)


def compose(environ: Mapping[str, str] = SECRETS) -> Dict[str, Any]:
    return yaml.safe_load(interpolate(COMPOSE.read_text(), environ))


def command_text(service: Dict[str, Any]) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else str(command)


def services_running(topology: Dict[str, Any], words: str) -> List[str]:
    return sorted(name for name, service in topology["services"].items() if words in command_text(service))


def code_corpus() -> str:
    sources = [path for package in OUR_PACKAGES for path in (REPO / package).rglob("*.py")]
    texts = [path.read_text(encoding="utf-8") for path in sources]
    texts += [(REPO / name).read_text() for name in ("credentials.yml", "credentials.production.yml")]
    texts.append(PRODUCTION_ENDPOINTS.read_text())
    return "\n".join(texts)


def test_compose_needs_its_secrets() -> None:
    for name in SECRETS:
        with pytest.raises(ValueError, match=name):
            compose({key: value for key, value in SECRETS.items() if key != name})


def test_topology_has_replicas_and_shared_services() -> None:
    topology = compose()
    rasa = services_running(topology, "rasa run --model")
    actions = services_running(topology, "rasa run actions")
    assert len(rasa) >= 2 and len(actions) >= 2
    assert services_running(topology, "shopassist console") == ["console"]
    assert {"nginx", "postgres", "redis", "rabbitmq"} <= set(topology["services"])
    # Only the load balancer (and the console, on loopback) are published.
    published = {name for name, service in topology["services"].items() if service.get("ports")}
    assert published == {"nginx", "console"}
    assert all(port.startswith("127.0.0.1:") for port in topology["services"]["console"]["ports"])


def test_rasa_replicas_share_tracker_store_and_lock_store() -> None:
    topology = compose()
    replicas = [topology["services"][name] for name in services_running(topology, "rasa run --model")]
    shared = (settings.TRACKER_STORE_URL_ENV, settings.LOCK_STORE_URL_ENV, settings.LOCK_STORE_PREFIX_ENV,
              settings.EVENT_BROKER_URL_ENV)
    first = replicas[0]["environment"]
    for replica in replicas:
        environment = replica["environment"]
        assert {name: environment[name] for name in shared} == {name: first[name] for name in shared}
        assert environment[settings.SANIC_WORKERS_ENV] == "1"
        command = command_text(replica)
        assert "--endpoints deploy/endpoints.production.yml" in command
        assert "--enable-api" in command and '--auth-token "$RASA_AUTH_TOKEN"' in command
    assert first[settings.TRACKER_STORE_URL_ENV].startswith("postgresql://")
    assert first[settings.LOCK_STORE_URL_ENV].startswith("redis://redis:")
    assert first[settings.EVENT_BROKER_URL_ENV].startswith("amqp://")
    assert first[settings.LOCK_STORE_PREFIX_ENV].isalnum()


def test_every_variable_given_to_our_containers_is_read_by_the_code() -> None:
    topology = compose()
    corpus = code_corpus()
    for name, service in topology["services"].items():
        if "build" not in service:
            continue  # third-party images (nginx, postgres, redis, rabbitmq) document their own
        for variable in service.get("environment", {}):
            read = re.search(rf"\b{re.escape(variable)}\b", corpus + command_text(service))
            assert read, f"{name}: nothing reads {variable}"


def test_load_balancer_knows_every_replica_and_port() -> None:
    topology = compose()
    nginx = NGINX.read_text()
    upstreams = dict(re.findall(r"upstream (\w+) \{(.*?)\}", nginx, flags=re.S))
    servers = {name: set(re.findall(r"server ([\w-]+):(\d+)", body)) for name, body in upstreams.items()}
    rasa = set(services_running(topology, "rasa run --model"))
    actions = set(services_running(topology, "rasa run actions"))
    assert {host for host, port in servers["rasa"]} == rasa
    assert {host for host, port in servers["rasa_socketio"]} == rasa
    assert {host for host, port in servers["actions"]} == actions
    assert {port for _, port in servers["rasa"]} == {"5005"}
    assert {port for _, port in servers["actions"]} == {"5055"}
    listens = set(re.findall(r"listen (\d+);", nginx))
    replica_env = topology["services"][sorted(rasa)[0]]["environment"]
    assert replica_env["SHOPASSIST_ACTION_ENDPOINT_URL"] == "http://nginx:5055/webhook" and "5055" in listens
    console_env = topology["services"]["console"]["environment"]
    assert console_env["RASA_URL"] == "http://nginx:8080" and "8080" in listens
    # The public server exposes the webhooks, socket.io and a health check, and nothing else of Rasa.
    public = nginx.split("listen 80;", 1)[1].split("server {", 1)[0]
    locations = set(re.findall(r"location (?:= )?(/[\w./-]*)", public))
    assert locations == {"/webhooks/", "/socket.io/", "/health", "/"}
    assert "return 404" in public


def test_files_the_containers_use_exist() -> None:
    topology = compose()
    for name, service in topology["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (REPO / source).is_file(), f"{name} mounts missing {source}"
    assert (REPO / topology["x-shopassist-image"]["build"]["dockerfile"]).is_file()


def test_production_endpoints_match_endpoints_yml_except_the_action_server(monkeypatch) -> None:
    local = yaml.safe_load((REPO / "endpoints.yml").read_text())
    production = yaml.safe_load(PRODUCTION_ENDPOINTS.read_text())
    assert set(local) == set(production)
    for section in set(local) - {"action_endpoint"}:
        assert production[section] == local[section], section
    monkeypatch.setenv("SHOPASSIST_ACTION_ENDPOINT_URL", "http://actions.internal:5055/webhook")
    action = read_endpoint_config(str(PRODUCTION_ENDPOINTS), "action_endpoint")
    assert action is not None and action.url == "http://actions.internal:5055/webhook"
    monkeypatch.delenv("SHOPASSIST_ACTION_ENDPOINT_URL")
    with pytest.raises(RasaException, match="SHOPASSIST_ACTION_ENDPOINT_URL"):
        read_endpoint_config(str(PRODUCTION_ENDPOINTS), "action_endpoint")


# --- Procfile -------------------------------------------------------------------------------------------


def procfile() -> Dict[str, str]:
    lines = (REPO / "Procfile").read_text().splitlines()
    entries = [line.split(":", 1) for line in lines if line.strip() and not line.startswith("#")]
    return {name.strip(): command.strip() for name, command in entries}


def run_procfile_line(tmp_path: Path, name: str, environ: Dict[str, str]) -> subprocess.CompletedProcess:
    """Runs one Procfile line with /bin/sh, as Procfile runners do, against stand-ins for rasa and shopassist
    that print their arguments and the Rasa/console variables as JSON."""
    stubs = tmp_path / "bin"
    stubs.mkdir(exist_ok=True)
    for program in ("rasa", "shopassist"):
        stub = stubs / program
        stub.write_text(
            "#!/usr/bin/env python3\nimport json, os, sys\n"
            "print(json.dumps({'argv': sys.argv[1:], 'RASA_URL': os.environ.get('RASA_URL'),"
            " 'RASA_TOKEN': os.environ.get('RASA_TOKEN')}))\n"
        )
        stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    env = {"PATH": f"{stubs}:{os.environ['PATH']}", **environ}
    return subprocess.run(["/bin/sh", "-c", procfile()[name]], env=env, capture_output=True, text=True,
                          timeout=30, cwd=REPO)


def test_procfile_starts_the_three_processes(tmp_path: Path) -> None:
    assert set(procfile()) == {"rasa", "actions", "console"}
    environ = {"RASA_AUTH_TOKEN": "token-123", "SHOPASSIST_CORS_ORIGINS": "https://a.example,https://b.example"}
    rasa = json.loads(run_procfile_line(tmp_path, "rasa", environ).stdout)["argv"]
    assert rasa[:2] == ["run", "--model"] and "--enable-api" in rasa
    assert rasa[rasa.index("--auth-token") + 1] == "token-123"
    assert rasa[rasa.index("--cors") + 1:] == ["https://a.example", "https://b.example"]
    assert rasa[rasa.index("--endpoints") + 1] == "endpoints.yml"
    actions = json.loads(run_procfile_line(tmp_path, "actions", environ).stdout)["argv"]
    assert actions == ["run", "actions", "--actions", "actions", "--port", "5055"]
    console = json.loads(run_procfile_line(tmp_path, "console", environ).stdout)
    assert console["argv"] == ["console", "--port", "5010"]
    assert (console["RASA_URL"], console["RASA_TOKEN"]) == ("http://127.0.0.1:5005", "token-123")


def test_procfile_refuses_to_start_rasa_without_a_token(tmp_path: Path) -> None:
    for name in ("rasa", "console"):
        result = run_procfile_line(tmp_path, name, {})
        assert result.returncode != 0 and "set RASA_AUTH_TOKEN" in result.stderr
        assert result.stdout == ""
