"""Agent sign-in sessions: random bearer tokens with a fixed expiry, and a brake on password guessing.

Tokens are 256-bit random values (``secrets.token_urlsafe``); the store keeps only their SHA-256, so a
memory dump or a log of the store never yields a usable token. Sessions live in the console process:
restarting the console signs everybody out (one console process serves a shop; several replicas would
need a shared store such as Redis behind the same interface).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Callable

#: Failed sign-ins per agent name within ``FAILURE_WINDOW_S`` before further attempts are refused.
MAX_FAILURES = 5
FAILURE_WINDOW_S = 300.0


@dataclass(frozen=True)
class AgentSession:
    agent: str
    expires_at: float  # epoch seconds


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class SessionStore:
    """Thread-safe in-memory sessions keyed by the hash of their token."""

    def __init__(self, ttl_s: int, clock: Callable[[], float] = time.time) -> None:
        self.ttl_s = int(ttl_s)
        self.clock = clock
        self._sessions: dict[str, AgentSession] = {}
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def create(self, agent: str) -> tuple[str, AgentSession]:
        """A new session for ``agent``: (token for the cookie, session)."""
        token = secrets.token_urlsafe(32)
        session = AgentSession(agent, self.clock() + self.ttl_s)
        with self._lock:
            self._purge()
            self._sessions[_digest(token)] = session
            self._failures.pop(agent, None)
        return token, session

    def lookup(self, token: str | None) -> AgentSession | None:
        """The live session of ``token``; None when unknown or expired (an expired one is dropped)."""
        if not token:
            return None
        key = _digest(token)
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return None
            if session.expires_at <= self.clock():
                del self._sessions[key]
                return None
            return session

    def revoke(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._sessions.pop(_digest(token), None)

    def _purge(self) -> None:
        now = self.clock()
        for key in [k for k, s in self._sessions.items() if s.expires_at <= now]:
            del self._sessions[key]

    # ------------------------------------------------------------------ password guessing
    def locked_out(self, agent: str) -> bool:
        """Whether ``agent`` had too many failed sign-ins recently."""
        with self._lock:
            recent = self._recent_failures(agent)
            return len(recent) >= MAX_FAILURES

    def record_failure(self, agent: str) -> None:
        with self._lock:
            if len(self._failures) > 10_000:  # bounded: names are attacker-controlled
                self._failures.clear()
            self._failures[agent] = self._recent_failures(agent) + [self.clock()]

    def _recent_failures(self, agent: str) -> list[float]:
        cutoff = self.clock() - FAILURE_WINDOW_S
        return [t for t in self._failures.get(agent, []) if t > cutoff]
