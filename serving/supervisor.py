"""Run a few server processes as one: start them, wait until each answers its health URL, stop them together.

Why not a shell script with ``&``: an operator pressing Ctrl-C, a ``docker stop`` (SIGTERM) or one server
crashing must stop *all* of them, and a server that never comes up must be named with the end of its
log instead of leaving a half-started system behind. Each child runs in its own session (process group)
so that the supervisor alone receives the terminal's Ctrl-C and stops the children in order: SIGTERM to
the whole group, SIGKILL after ``grace_s``.
"""
from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Deque, Dict, List, Optional, Sequence, TextIO

#: Lines of each service's output kept in memory to explain a failed start.
LOG_TAIL_LINES = 40


@dataclass
class Service:
    """One server process and the URL that answers 2xx once it is ready."""

    name: str
    command: Sequence[str]
    health_url: str
    env: Dict[str, str] = field(default_factory=dict)


class ServiceFailed(RuntimeError):
    """A service did not come up or stopped; the message names it and quotes its last log lines."""


class _Running:
    """A started service: its process, and a thread copying its output to the terminal and its log."""

    def __init__(self, service: Service, log_dir: Path, out: TextIO, cwd: Optional[Path]) -> None:
        self.service = service
        self.log_path = log_dir / f"{service.name}.log"
        self.tail: Deque[str] = collections.deque(maxlen=LOG_TAIL_LINES)
        self._out = out
        self._log = self.log_path.open("a", encoding="utf-8")
        self.process = subprocess.Popen(
            list(service.command),
            env={**os.environ, **service.env},
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            text=True,
            errors="replace",
            bufsize=1,
        )
        self._pump = threading.Thread(target=self._copy_output, name=f"{service.name}-output", daemon=True)
        self._pump.start()

    def _copy_output(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.tail.append(line.rstrip("\n"))
            self._log.write(line)
            self._log.flush()
            self._out.write(f"{self.service.name:<8}| {line}")
            self._out.flush()

    def is_healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.service.health_url, timeout=2) as response:
                return 200 <= response.status < 300
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def describe_exit(self) -> str:
        self._pump.join(timeout=2)
        return (
            f"{self.service.name} stopped with exit status {self.process.returncode}; the end of its log "
            f"({self.log_path}):\n" + "\n".join(self.tail)
        )

    def stop(self, grace_s: float) -> None:
        if self.process.poll() is None:
            _signal_group(self.process, signal.SIGTERM)
            try:
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                _signal_group(self.process, signal.SIGKILL)
                self.process.wait()
        else:
            # The leader is gone; anything it left in its group goes too.
            _signal_group(self.process, signal.SIGKILL)
        self._pump.join(timeout=2)
        self._log.close()


def _signal_group(process: subprocess.Popen, sig: signal.Signals) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class _StopRequested(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Supervisor:
    """Starts ``services`` in order, waits for each health URL, then watches them until told to stop."""

    def __init__(
        self,
        services: Sequence[Service],
        log_dir: Path,
        startup_timeout_s: float = 300.0,
        grace_s: float = 20.0,
        poll_s: float = 0.5,
        out: TextIO = sys.stdout,
        cwd: Optional[Path] = None,
    ) -> None:
        self.services = list(services)
        self.log_dir = log_dir
        self.startup_timeout_s = startup_timeout_s
        self.grace_s = grace_s
        self.poll_s = poll_s
        self.out = out
        self.cwd = cwd
        self.running: List[_Running] = []

    def say(self, message: str) -> None:
        self.out.write(f"serve   | {message}\n")
        self.out.flush()

    def run(self) -> int:
        """Runs until SIGINT/SIGTERM (exit 0) or until a service fails (exit 1). Always stops everything."""
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

        def request_stop(signum: int, _frame: object) -> None:
            raise _StopRequested(signum)

        for sig in previous:
            signal.signal(sig, request_stop)
        try:
            self._start_all()
            self.say("all services are up: " + ", ".join(
                f"{item.service.name} {item.service.health_url}" for item in self.running
            ) + ". Ctrl-C stops them.")
            self._watch()
        except _StopRequested as stop:
            self.say(f"{stop} received: stopping ...")
            return 0
        except ServiceFailed as failure:
            self.say(f"error: {failure}")
            return 1
        finally:
            # A second Ctrl-C while stopping must not leave children behind.
            for sig in previous:
                signal.signal(sig, signal.SIG_IGN)
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0

    def _start_all(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for service in self.services:
            log = self.log_dir / f"{service.name}.log"
            self.say(f"starting {service.name}: {_shown(service.command)} (log: {log})")
            self.running.append(_Running(service, self.log_dir, self.out, self.cwd))
        deadline = time.monotonic() + self.startup_timeout_s
        waiting = list(self.running)
        while waiting:
            for item in list(waiting):
                if item.process.poll() is not None:
                    raise ServiceFailed(f"{item.service.name} did not start. " + item.describe_exit())
                if item.is_healthy():
                    self.say(f"{item.service.name} is up ({item.service.health_url})")
                    waiting.remove(item)
            if waiting and time.monotonic() > deadline:
                names = ", ".join(item.service.name for item in waiting)
                details = "\n".join(
                    f"--- {item.service.name} ({item.log_path}):\n" + "\n".join(item.tail) for item in waiting
                )
                raise ServiceFailed(
                    f"{names} did not answer within {self.startup_timeout_s:.0f} s "
                    f"(health: {', '.join(item.service.health_url for item in waiting)}).\n{details}"
                )
            if waiting:
                time.sleep(self.poll_s)

    def _watch(self) -> None:
        while True:
            for item in self.running:
                if item.process.poll() is not None:
                    raise ServiceFailed(item.describe_exit() + "\nStopping the other services.")
            time.sleep(self.poll_s)

    def _stop_all(self) -> None:
        # Reverse order: the console before Rasa, Rasa before the action server it calls.
        for item in reversed(self.running):
            item.stop(self.grace_s)
        if self.running:
            self.say("all services stopped.")


def _shown(command: Sequence[str]) -> str:
    """The command line for the terminal, with the value after ``--auth-token`` hidden."""
    shown: List[str] = []
    hide_next = False
    for part in command:
        shown.append("***" if hide_next else part)
        hide_next = part == "--auth-token"
    return " ".join(shown)
