"""Server-side sessions, CSRF tokens and login rate limiting for the console.

A session is a random token in an HttpOnly cookie; the server keeps the
operator, role and expiry. Each session also has a CSRF token the page must
echo in a header on every mutating request (the cookie alone is not enough).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from embodied_stack.audit.registry import Action

Clock = Callable[[], float]
__all__ = ["Action", "Clock", "LoginLimiter", "OperatorDirectory", "Session", "SessionStore"]


class OperatorDirectory(Protocol):
    """Who may log in and what each role may do (backed by config/registry.yaml)."""

    def has_operators(self) -> bool: ...

    def authenticate(self, name: str, password: str) -> str | None:
        """The operator's role when the password is right, else None."""
        ...

    def allows(self, role: str, action: Action) -> bool: ...


@dataclass
class Session:
    token: str
    csrf: str
    operator: str
    role: str
    created: float
    last_seen: float


@dataclass
class SessionStore:
    """Sessions expire after `idle_s` without use and `max_s` after login, whichever first."""

    idle_s: float
    max_s: float = 12 * 3600.0
    clock: Clock = time.monotonic
    _sessions: dict[str, Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, operator: str, role: str) -> Session:
        now = self.clock()
        session = Session(
            token=secrets.token_urlsafe(32),
            csrf=secrets.token_urlsafe(32),
            operator=operator,
            role=role,
            created=now,
            last_seen=now,
        )
        with self._lock:
            self._drop_expired(now)
            self._sessions[session.token] = session
        return session

    def get(self, token: str | None) -> Session | None:
        """The live session for a token (touching it), or None if unknown or expired."""
        if not token:
            return None
        now = self.clock()
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if self._expired(session, now):
                del self._sessions[token]
                return None
            session.last_seen = now
            return session

    def peek(self, token: str | None) -> Session | None:
        """The live session for a token without counting this as activity."""
        with self._lock:
            session = self._sessions.get(token or "")
            if session is None or self._expired(session, self.clock()):
                return None
            return session

    def drop(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.last_seen > self.idle_s or now - session.created > self.max_s

    def _drop_expired(self, now: float) -> None:
        for token in [t for t, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[token]


@dataclass
class LoginLimiter:
    """At most `max_failures` failed logins per key (client address, operator name)
    within `window_s`; beyond that every attempt is refused until the window passes."""

    max_failures: int = 5
    window_s: float = 60.0
    clock: Clock = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def retry_after(self, *keys: str) -> float:
        """Seconds until these keys may try again; 0 when allowed now."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                if len(times) >= self.max_failures:
                    wait = max(wait, times[0] + self.window_s - now)
        return wait

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] > self.window_s:
            times.popleft()
        return times


def csrf_matches(session: Session, presented: str | None) -> bool:
    return presented is not None and secrets.compare_digest(session.csrf, presented)
