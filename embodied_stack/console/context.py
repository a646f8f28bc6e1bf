"""What every console request handler shares, and the checks they all make."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from embodied_stack.console.auth import (
    Action,
    Clock,
    LoginLimiter,
    OperatorDirectory,
    Session,
    SessionStore,
)
from embodied_stack.console.backend import ConsoleBackend
from embodied_stack.console.hub import Hub
from embodied_stack.console.settings import ConsoleSettings

SESSION_COOKIE = "es_session"
CSRF_HEADER = "x-csrf-token"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
ADD_OPERATOR_HINT = (
    "No operators are registered, and there are no default credentials. "
    "Add one on the robot's computer with: "
    "embodied-stack registry add-operator NAME --role viewer|operator|safety_officer"
)


@dataclass
class ConsoleContext:
    backend: ConsoleBackend
    directory: OperatorDirectory
    settings: ConsoleSettings
    clock: Clock = time.monotonic
    sessions: SessionStore = field(init=False)
    limiter: LoginLimiter = field(init=False)
    hub: Hub | None = None

    def __post_init__(self) -> None:
        self.sessions = SessionStore(
            idle_s=self.settings.session_ttl_s, max_s=self.settings.session_max_s, clock=self.clock
        )
        self.limiter = LoginLimiter(
            max_failures=self.settings.login_max_failures,
            window_s=self.settings.login_window_s,
            clock=self.clock,
        )

    def session_of(self, conn: HTTPConnection) -> Session | None:
        return self.sessions.get(conn.cookies.get(SESSION_COOKIE))

    def allowed(self, session: Session, action: Action) -> bool:
        return self.directory.allows(session.role, action)

    def origin_ok(self, conn: HTTPConnection, required: bool) -> bool:
        """Same-origin check: the Origin header must name this server.

        Accepted: a configured origin, or a loopback origin equal to the Host the
        browser connected to (so a page on another site can never drive the console).
        """
        origin = conn.headers.get("origin")
        if origin is None:
            return not required
        if origin in self.settings.allowed_origins:
            return True
        parts = urlsplit(origin)
        scheme = "https" if self.settings.tls else "http"
        host = conn.headers.get("host", "")
        bind_hosts = LOOPBACK_HOSTS | {self.settings.host}
        return (
            parts.scheme == scheme
            and parts.hostname is not None
            and parts.hostname in bind_hosts | {h.strip("[]") for h in bind_hosts}
            and parts.netloc == host
        )
