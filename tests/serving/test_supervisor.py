"""`shopassist serve`'s supervisor with stand-in servers (no model, no Rasa): health wait, failures, shutdown.

The supervisor runs in its own process, as it does for an operator, so that SIGINT/SIGTERM reach it and
not pytest. Stand-ins (tests/serving/standin.py) record their pids so the tests can check that nothing
is left running.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from serving import serve
from serving.supervisor import _shown

from .conftest import free_port

STANDIN = Path(__file__).with_name("standin.py")
REPO = Path(__file__).resolve().parents[2]
DRIVER = """
import json, sys
from pathlib import Path
from serving.supervisor import Service, Supervisor
spec = json.loads(sys.argv[1])
services = [Service(**service) for service in spec["services"]]
sys.exit(Supervisor(services, Path(spec["log_dir"]), startup_timeout_s=spec["timeout"], grace_s=5,
                    poll_s=0.1).run())
"""


def standin(tmp_path: Path, name: str, mode: str = "healthy") -> Tuple[Dict, Path]:
    port = free_port()
    pidfile = tmp_path / f"{name}.pid"
    service = {
        "name": name,
        "command": [sys.executable, str(STANDIN), str(port), str(pidfile), mode],
        "health_url": f"http://127.0.0.1:{port}/health",
    }
    return service, pidfile


def start_supervisor(tmp_path: Path, services: List[Dict], timeout: float = 60) -> subprocess.Popen:
    spec = json.dumps({"services": services, "log_dir": str(tmp_path / "logs"), "timeout": timeout})
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, spec], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )


def read_until(process: subprocess.Popen, marker: str, limit_s: float = 60) -> str:
    """Supervisor output up to the line containing ``marker`` (fails when it exits or takes too long)."""
    assert process.stdout is not None
    seen: List[str] = []
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            pytest.fail(f"the supervisor exited before {marker!r}:\n" + "".join(seen))
        seen.append(line)
        if marker in line:
            return "".join(seen)
    pytest.fail(f"no {marker!r} in the supervisor's output:\n" + "".join(seen))


def finish(process: subprocess.Popen) -> Tuple[int, str]:
    output, _ = process.communicate(timeout=60)
    return process.returncode, output


def is_running(pidfile: Path) -> bool:
    if not pidfile.exists():
        return False
    try:
        os.kill(int(pidfile.read_text()), 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_waits_for_every_service_then_stops_all_on_a_signal(tmp_path: Path, stop_signal: int) -> None:
    started = [standin(tmp_path, name) for name in ("actions", "rasa", "console")]
    services, pidfiles = [s for s, _ in started], [p for _, p in started]
    supervisor = start_supervisor(tmp_path, list(services))
    try:
        output = read_until(supervisor, "all services are up")
        for name in ("actions", "rasa", "console"):
            assert f"{name} is up" in output
        assert all(is_running(pidfile) for pidfile in pidfiles)
        supervisor.send_signal(stop_signal)
        code, rest = finish(supervisor)
    finally:
        supervisor.kill()
    assert code == 0, rest
    assert "all services stopped" in rest
    assert not any(is_running(pidfile) for pidfile in pidfiles)
    # Each service's output also went to its own log file.
    assert "stand-in on" in (tmp_path / "logs" / "rasa.log").read_text()


def test_a_service_that_never_answers_is_named_and_the_others_are_stopped(tmp_path: Path) -> None:
    healthy, healthy_pid = standin(tmp_path, "actions")
    silent, silent_pid = standin(tmp_path, "rasa", mode="silent")
    code, output = finish(start_supervisor(tmp_path, [healthy, silent], timeout=3))
    assert code == 1
    assert "rasa did not answer within 3 s" in output
    assert "actions is up" in output
    assert not is_running(healthy_pid) and not is_running(silent_pid)


def test_a_service_that_dies_while_starting_shows_its_log(tmp_path: Path) -> None:
    healthy, healthy_pid = standin(tmp_path, "actions")
    broken, _ = standin(tmp_path, "rasa", mode="crash-at-start")
    code, output = finish(start_supervisor(tmp_path, [healthy, broken]))
    assert code == 1
    assert "rasa did not start" in output and "exit status 3" in output
    assert "fatal: the stand-in could not load its model" in output
    assert not is_running(healthy_pid)


def test_a_service_that_dies_later_stops_the_others(tmp_path: Path) -> None:
    healthy, healthy_pid = standin(tmp_path, "actions")
    fragile, _ = standin(tmp_path, "console", mode="crash-later")
    supervisor = start_supervisor(tmp_path, [healthy, fragile])
    try:
        read_until(supervisor, "all services are up")
        code, output = finish(supervisor)
    finally:
        supervisor.kill()
    assert code == 1
    assert "console stopped with exit status 4" in output
    assert not is_running(healthy_pid)


def test_the_auth_token_is_not_printed() -> None:
    assert _shown(["rasa", "run", "--auth-token", "s3cret", "--enable-api"]) == (
        "rasa run --auth-token *** --enable-api"
    )


# --- what `shopassist serve` starts ---------------------------------------------------------------------


def serve_args(tmp_path: Path, *extra: str) -> argparse.Namespace:
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"not a real model; plan() only checks that it exists")
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text('action_endpoint:\n  url: "http://localhost:6055/webhook"\n')
    return parser.parse_args(["--model", str(model), "--rasa-port", "6005", "--actions-port", "6055",
                              "--endpoints", str(endpoints), *extra])


def by_name(plan: serve.ServePlan) -> Dict[str, serve.Service]:
    return {service.name: service for service in plan.services}


def test_production_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    with pytest.raises(serve.ServeConfigError, match="RASA_AUTH_TOKEN is not set"):
        serve.plan(serve_args(tmp_path, "--production"), environ={})
    with pytest.raises(serve.ServeConfigError, match="RASA_AUTH_TOKEN is not set"):
        serve.plan(serve_args(tmp_path), environ={"SHOPASSIST_ENV": "production"})
    with pytest.raises(serve.ServeConfigError, match="shorter"):
        serve.plan(serve_args(tmp_path, "--production"), environ={"RASA_AUTH_TOKEN": "abc"})


def test_local_run_generates_a_token_shared_by_rasa_and_the_console(tmp_path: Path) -> None:
    environ = {"CONSOLE_AGENTS": "alice:hash"}
    first = serve.plan(serve_args(tmp_path), environ=environ)
    second = serve.plan(serve_args(tmp_path), environ=environ)
    assert first.token_generated and first.auth_token != second.auth_token
    services = by_name(first)
    rasa_command = list(services["rasa"].command)
    assert rasa_command[rasa_command.index("--auth-token") + 1] == first.auth_token
    assert "--enable-api" in rasa_command and "--cors" not in rasa_command
    assert services["console"].env == {"RASA_URL": "http://127.0.0.1:6005", "RASA_TOKEN": first.auth_token}
    assert services["actions"].health_url == "http://127.0.0.1:6055/health"


def test_token_and_cors_origins_come_from_the_environment(tmp_path: Path) -> None:
    environ = {
        "RASA_AUTH_TOKEN": "a-long-enough-production-token",
        "SHOPASSIST_CORS_ORIGINS": "https://shop.example.com, https://www.shop.example.com",
        "CONSOLE_AGENTS": "alice:hash",
    }
    plan = serve.plan(serve_args(tmp_path, "--production"), environ=environ)
    assert not plan.token_generated
    rasa_command = list(by_name(plan)["rasa"].command)
    assert rasa_command[rasa_command.index("--auth-token") + 1] == "a-long-enough-production-token"
    cors = rasa_command[rasa_command.index("--cors") + 1:]
    assert cors == ["https://shop.example.com", "https://www.shop.example.com"]


def test_console_is_left_out_locally_without_agents_but_not_in_production(tmp_path: Path) -> None:
    local = serve.plan(serve_args(tmp_path), environ={})
    assert set(by_name(local)) == {"actions", "rasa"}
    assert any("CONSOLE_AGENTS" in note for note in local.notes)
    production = serve.plan(serve_args(tmp_path, "--production"), environ={"RASA_AUTH_TOKEN": "x" * 32})
    assert set(by_name(production)) == {"actions", "rasa", "console"}


def test_missing_model_is_explained(tmp_path: Path) -> None:
    args = serve_args(tmp_path)
    args.model = str(tmp_path / "missing.tar.gz")
    with pytest.raises(serve.ServeConfigError, match="make train"):
        serve.plan(args, environ={})


def test_action_port_must_match_the_endpoints_file(tmp_path: Path) -> None:
    args = serve_args(tmp_path)
    args.actions_port = 7055
    with pytest.raises(serve.ServeConfigError, match="--actions-port 6055"):
        serve.plan(args, environ={})
    # The production file takes the URL from the environment: nothing to compare.
    args.endpoints = str(REPO / "deploy" / "endpoints.production.yml")
    assert serve.plan(args, environ={}).services


def test_the_repository_endpoints_match_the_default_action_port(tmp_path: Path) -> None:
    args = serve_args(tmp_path)
    args.endpoints, args.actions_port = str(REPO / "endpoints.yml"), 5055
    assert serve.plan(args, environ={}).services


def test_the_action_server_warms_up_unless_the_operator_turns_it_off(tmp_path: Path) -> None:
    warm = by_name(serve.plan(serve_args(tmp_path), environ={}))["actions"]
    assert warm.env == {"SHOPASSIST_WARM_START": "1"}
    cold = by_name(serve.plan(serve_args(tmp_path), environ={"SHOPASSIST_WARM_START": "0"}))["actions"]
    assert cold.env == {"SHOPASSIST_WARM_START": "0"}
