"""Private PostgreSQL and Redis instances that a test may stop and start again, and a Rasa stack on them.

The loopback services of the machine (PostgreSQL 5432, Redis 6379) are shared with other tests and
people, so the scale and fault tests run their own: `initdb` + `pg_ctl` (as the `postgres` user when
running as root, since PostgreSQL refuses to run as root) and `redis-server --save ''`, on free ports,
in throw-away directories.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import requests

from tests.servers import (
    free_port,
    server_env,
    start_action_server,
    start_rasa_server,
    stop_process,
    wait_until_up,
)

PG_SUPERUSER = "postgres"


def postgres_bin_dir() -> Optional[Path]:
    """The newest installed PostgreSQL server binaries (Debian layout), or None."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(candidates[-1]).parent if candidates else None


def missing_service_binaries() -> Optional[str]:
    """Why private services cannot be started here, or None when they can."""
    if postgres_bin_dir() is None:
        return "PostgreSQL server binaries (/usr/lib/postgresql/*/bin/pg_ctl) are not installed"
    if shutil.which("redis-server") is None:
        return "redis-server is not installed"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: PostgreSQL refuses to run as root"
    return None


class PrivatePostgres:
    """A PostgreSQL cluster of our own (trust authentication, loopback only) that can be stopped."""

    def __init__(self) -> None:
        self.bin = postgres_bin_dir()
        self.port = free_port()
        # Not under pytest's tmp dir: that one is private to root and PostgreSQL runs as `postgres`.
        self.root = Path(tempfile.mkdtemp(prefix="shopassist-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        if os.geteuid() == 0:
            shutil.chown(self.root, PG_SUPERUSER, PG_SUPERUSER)
        self._as_owner(["initdb", "-D", str(self.data), "-U", PG_SUPERUSER, "--auth=trust", "-E", "UTF8"])

    def _as_owner(self, command: List[str]) -> None:
        argv = [str(self.bin / command[0]), *command[1:]]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", PG_SUPERUSER, "--", *argv]
        subprocess.run(argv, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
        self._as_owner(["pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60",
                        "start"])

    def stop(self) -> None:
        """A fast shutdown: open connections are closed, committed transactions are on disk."""
        self._as_owner(["pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def is_running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{PG_SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> None:
        import sqlalchemy as sa

        engine = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()

    def drop_database(self, name: str) -> None:
        import sqlalchemy as sa

        engine = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    def destroy(self) -> None:
        if self.is_running():
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """A redis-server of our own without persistence, stopped and started by the test."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.process: Optional[subprocess.Popen] = None

    def start(self) -> None:
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no"],
                stdout=out, stderr=subprocess.STDOUT,
            )
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError(f"redis-server on {self.port} did not start:\n{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None


@dataclass
class RasaReplica:
    """One `rasa run` process of the stack; `restart` keeps its port."""

    port: int
    log: Path
    start_args: Dict
    process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = start_rasa_server(port=self.port, log=self.log, **self.start_args)

    def wait(self) -> None:
        assert self.process is not None
        wait_until_up(f"{self.url}/", self.process, self.log, timeout=600)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None


@dataclass
class ScaleStack:
    """Rasa replicas sharing a PostgreSQL tracker store and a Redis lock store, one action server."""

    postgres: PrivatePostgres
    redis: PrivateRedis
    tracker_db: str
    lock_prefix: str
    actions_port: int
    actions_log: Path
    env: Dict[str, str]
    replicas: List[RasaReplica] = field(default_factory=list)
    actions: Optional[subprocess.Popen] = None

    def start_actions(self) -> None:
        self.actions = start_action_server(self.actions_port, self.env, self.actions_log)
        wait_until_up(f"http://127.0.0.1:{self.actions_port}/health", self.actions, self.actions_log)

    def kill_actions(self) -> None:
        """SIGKILL, as a crash would: no graceful shutdown."""
        if self.actions is not None:
            self.actions.kill()
            self.actions.wait()
            self.actions = None

    def tracker_db_url(self) -> str:
        return self.postgres.url(self.tracker_db)

    def restart_replica(self, index: int) -> None:
        replica = self.replicas[index]
        replica.stop()
        replica.start()
        replica.wait()


def endpoints_yaml(
    actions_port: int, pg_port: int, tracker_db: str, redis_port: int, lock_prefix: str
) -> str:
    return (
        f'action_endpoint:\n  url: "http://127.0.0.1:{actions_port}/webhook"\n'
        "tracker_store:\n  type: SQL\n  dialect: postgresql\n  url: 127.0.0.1\n"
        f"  port: {pg_port}\n  db: {tracker_db}\n  username: {PG_SUPERUSER}\n"
        # The project's own lock store (as endpoints.yml has it), pointed at the private Redis through the
        # variables that lock_store_env() sets: the atomic ticket lock is what keeps replicas consistent.
        "lock_store:\n  type: serving.stores.EnvLockStore\n"
    )


def lock_store_env(redis_port: int, lock_prefix: str) -> Dict[str, str]:
    return {"SHOPASSIST_LOCK_STORE_URL": f"redis://127.0.0.1:{redis_port}/1",
            "SHOPASSIST_LOCK_STORE_PREFIX": lock_prefix}


CREDENTIALS_YAML = "rest:\nchannels.outage_guard.OutageGuard:\n  action_timeout_s: 10\n"


def start_stack(work: Path, model: Path, shop_db_url: str, replica_count: int) -> ScaleStack:
    """Starts everything; stops what it started when a part fails to come up."""
    postgres = PrivatePostgres()
    redis_server = PrivateRedis(work / "redis.log")
    tracker_db = f"shopassist_test_replicas_{uuid.uuid4().hex[:8]}"
    # Rasa accepts only alphanumeric key prefixes.
    lock_prefix = f"shopassisttest{uuid.uuid4().hex[:8]}"
    stack = ScaleStack(postgres, redis_server, tracker_db, lock_prefix, free_port(), work / "actions.log",
                       server_env(shop_db_url, {"SANIC_WORKERS": "1", "HANDOFF_BUSINESS_HOURS": "",
                                                       **lock_store_env(redis_server.port, lock_prefix)}))
    try:
        postgres.start()
        redis_server.start()
        postgres.create_database(tracker_db)
        endpoints = work / "endpoints.yml"
        endpoints.write_text(endpoints_yaml(stack.actions_port, postgres.port, tracker_db, redis_server.port,
                                            lock_prefix))
        credentials = work / "credentials.yml"
        credentials.write_text(CREDENTIALS_YAML)
        stack.start_actions()
        start_args = {"model": model, "endpoints": endpoints, "credentials": credentials, "env": stack.env}
        stack.replicas = [RasaReplica(free_port(), work / f"rasa-{i}.log", start_args)
                          for i in range(replica_count)]
        for replica in stack.replicas:
            replica.start()
        for replica in stack.replicas:
            replica.wait()
    except BaseException:
        stop_stack(stack)
        raise
    return stack


def stop_stack(stack: ScaleStack) -> None:
    """Stops every process, drops the tracker database and deletes the private cluster."""
    for replica in stack.replicas:
        replica.stop()
    if stack.actions is not None:
        stop_process(stack.actions)
        stack.actions = None
    stack.redis.stop()
    try:
        if stack.postgres.is_running():
            stack.postgres.drop_database(stack.tracker_db)
    finally:
        stack.postgres.destroy()


def rest_send(base_url: str, sender: str, text: str, timeout: float = 60) -> requests.Response:
    return requests.post(f"{base_url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                         timeout=timeout)
