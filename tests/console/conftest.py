"""Console server fixtures: a real uvicorn server on loopback over a recording backend,
operators from a real registry file."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from embodied_stack.console.directory import RegistryDirectory
from embodied_stack.console.server import ConsoleServer
from embodied_stack.console.settings import ConsoleSettings
from tests.console.recording_backend import RecordingBackend
from tests.console.registry_helpers import write_registry

PASSWORDS = {
    "vera": "viewer-pass-1",
    "otto": "operator-pass-1",
    "sofia": "officer-pass-1",
}
ROLES = {"vera": "viewer", "otto": "operator", "sofia": "safety_officer"}
BY_ROLE = {role: name for name, role in ROLES.items()}


class ManualClock:
    """Monotonic time the test moves by hand, so expiry needs no sleeping."""

    def __init__(self) -> None:
        self._now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


@dataclass
class Console:
    server: ConsoleServer
    backend: RecordingBackend
    clock: ManualClock
    registry: Path
    sessions: dict[str, tuple[httpx.Client, str]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def ws_url(self) -> str:
        return self.url.replace("http", "ws", 1) + "/ws"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10.0)

    def login(self, name: str) -> tuple[httpx.Client, str]:
        """A client holding `name`'s session cookie, and the session's CSRF token."""
        client = self.client()
        response = client.post("/api/login", json={"name": name, "password": PASSWORDS[name]})
        assert response.status_code == 200, response.text
        return client, str(response.json()["csrf"])

    def session(self, name: str) -> tuple[httpx.Client, str]:
        """A logged-in client kept for the module (argon2 makes each login cost ~0.3 s)."""
        if name not in self.sessions:
            self.sessions[name] = self.login(name)
        return self.sessions[name]

    def stop(self) -> None:
        for client, _ in self.sessions.values():
            client.close()
        self.server.stop()


def start_console(registry: Path, **settings: object) -> Console:
    backend = RecordingBackend()
    clock = ManualClock()
    config = ConsoleSettings(port=0, jog_deadman_s=0.3, tick_s=0.1, **settings)  # type: ignore[arg-type]
    server = ConsoleServer(backend, RegistryDirectory(registry), config, clock=clock)
    server.start()
    return Console(server, backend, clock, registry)


@pytest.fixture(scope="session")
def registry_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("registry") / "registry.yaml"
    return write_registry(path, ROLES, ROLES, PASSWORDS)


@pytest.fixture(scope="module")
def shared_console(registry_file: Path) -> Iterator[Console]:
    running = start_console(registry_file)
    yield running
    running.stop()


@pytest.fixture
def console(shared_console: Console) -> Console:
    """The module's server with a fresh call record; for tests that leave the clock,
    sessions and login limits alone."""
    shared_console.backend.calls.clear()
    return shared_console


@pytest.fixture
def fresh_console(registry_file: Path) -> Iterator[Console]:
    """A server of its own: for tests that move the clock or exhaust login attempts."""
    running = start_console(registry_file)
    yield running
    running.stop()


@pytest.fixture
def empty_console(tmp_path: Path) -> Iterator[Console]:
    running = start_console(write_registry(tmp_path / "registry.yaml", {}, ROLES, PASSWORDS))
    yield running
    running.stop()
