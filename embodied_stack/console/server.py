"""Run the console app with uvicorn on a background thread (the node keeps spinning)."""

from __future__ import annotations

import threading
import time

import uvicorn

from embodied_stack.console.app import create_app
from embodied_stack.console.auth import Clock, OperatorDirectory
from embodied_stack.console.backend import ConsoleBackend
from embodied_stack.console.context import ConsoleContext
from embodied_stack.console.settings import ConsoleSettings
from embodied_stack.errors import StackError


class ConsoleServer:
    """`start()` returns once the socket listens; `url` then names it; `stop()` joins."""

    def __init__(
        self,
        backend: ConsoleBackend,
        directory: OperatorDirectory,
        settings: ConsoleSettings,
        clock: Clock = time.monotonic,
    ) -> None:
        self.settings = settings
        self.context = ConsoleContext(backend, directory, settings, clock)
        config = uvicorn.Config(
            create_app(self.context),
            host=settings.host,
            port=settings.port,
            ssl_certfile=settings.tls_cert or None,
            ssl_keyfile=settings.tls_key or None,
            log_level="warning",
            access_log=False,  # paths only would be harmless; bodies are never logged
            ws_ping_interval=5.0,
            ws_ping_timeout=5.0,
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="console-http", daemon=True)

    def start(self, timeout_s: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise StackError(
                    f"console server did not start on {self.settings.host}:{self.settings.port}"
                )
            time.sleep(0.02)

    @property
    def port(self) -> int:
        sockets = self._server.servers[0].sockets if self._server.servers else []
        return int(sockets[0].getsockname()[1]) if sockets else self.settings.port

    @property
    def url(self) -> str:
        scheme = "https" if self.settings.tls else "http"
        host = self.settings.host if ":" not in self.settings.host else f"[{self.settings.host}]"
        return f"{scheme}://{host}:{self.port}"

    def stop(self, timeout_s: float = 5.0) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout_s)
