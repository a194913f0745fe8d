"""Start and stop real `rasa run` and `rasa run actions` processes on free loopback ports.

Shared by the end-to-end tests (tests/e2e) and the scale and fault tests (tests/scale), which start
several Rasa replicas and restart them.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Optional, Sequence

import requests

from tests.ci import skip_or_fail

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
#: The trained model archive the servers load (`make test` sets it); default models/shopassist.tar.gz.
MODEL_ENV = "SHOPASSIST_MODEL"


def trained_model() -> Path:
    """The trained model archive; skips the test without one (fails it under CI=true: tests/ci.py)."""
    model = Path(os.environ.get(MODEL_ENV, REPO / "models" / "shopassist.tar.gz"))
    if not model.is_file():
        skip_or_fail(f"no trained model at {model}: run `make train` first (make test does)")
    return model


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s:\n{log.read_text()[-4000:]}")


def stop_process(process: subprocess.Popen, timeout: float = 20) -> None:
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def server_env(shop_db_url: str, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The environment of a test server: the test's shop database, quiet TensorFlow."""
    return dict(os.environ, SHOP_DB_URL=shop_db_url, TF_CPP_MIN_LOG_LEVEL="2", **(extra or {}))


def start_action_server(port: int, env: Dict[str, str], log: Path) -> subprocess.Popen:
    """`rasa run actions` on 127.0.0.1:`port`, its output appended to `log`."""
    with log.open("a") as out:
        return subprocess.Popen(
            [str(BIN / "rasa"), "run", "actions", "--actions", "actions", "--port", str(port)],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )


def start_rasa_server(
    model: Path, endpoints: Path, credentials: Path, port: int, env: Dict[str, str], log: Path,
    extra_args: Sequence[str] = (),
) -> subprocess.Popen:
    """`rasa run` with the HTTP API on 127.0.0.1:`port`, its output appended to `log`; `extra_args`
    are added to the command line (e.g. ``["--auth-token", token]``)."""
    with log.open("a") as out:
        return subprocess.Popen(
            [str(BIN / "rasa"), "run", "--model", str(model), "--endpoints", str(endpoints),
             "--credentials", str(credentials), "--port", str(port), "--interface", "127.0.0.1",
             "--enable-api", *extra_args],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
