"""Fan-out of backend updates to WebSocket clients, on the server's event loop.

Backend callbacks arrive on ROS threads; the hub hops onto the loop and puts
each update into every client's `Outbox`. An outbox keeps only the newest
value of state-like kinds (joints, safety, ...), so a slow browser gets fresh
state instead of a growing backlog; events (violations, audit) are queued,
bounded, oldest dropped first.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import OrderedDict
from typing import Any

from embodied_stack.console.backend import LATEST_ONLY, ConsoleUpdate

MAX_QUEUED = 500


class Outbox:
    """Pending JSON messages and the latest camera frame for one client."""

    def __init__(self) -> None:
        self._messages: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._frame: bytes | None = None
        self._wake = asyncio.Event()
        self._counter = itertools.count()

    def put(self, message: dict[str, Any], key: str | None = None) -> None:
        """Queue a message; one with the same key replaces the pending one."""
        slot = key if key is not None else f"#{next(self._counter)}"
        self._messages.pop(slot, None)
        self._messages[slot] = message
        while len(self._messages) > MAX_QUEUED:
            self._messages.popitem(last=False)
        self._wake.set()

    def put_frame(self, jpeg: bytes) -> None:
        self._frame = jpeg
        self._wake.set()

    async def take(self) -> tuple[list[dict[str, Any]], bytes | None]:
        """Wait for something to send; return the pending messages and frame."""
        await self._wake.wait()
        self._wake.clear()
        messages = list(self._messages.values())
        self._messages.clear()
        frame, self._frame = self._frame, None
        return messages, frame


class Hub:
    """A `ConsoleListener` that forwards to the outboxes of connected clients."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._outboxes: set[Outbox] = set()

    def add(self, outbox: Outbox) -> None:
        self._outboxes.add(outbox)

    def remove(self, outbox: Outbox) -> None:
        self._outboxes.discard(outbox)

    @property
    def client_count(self) -> int:
        return len(self._outboxes)

    def on_update(self, update: ConsoleUpdate) -> None:
        self._call(self._deliver, update)

    def on_frame(self, jpeg: bytes) -> None:
        self._call(self._deliver_frame, jpeg)

    def broadcast(self, message: dict[str, Any], key: str | None = None) -> None:
        """Loop thread only."""
        for outbox in list(self._outboxes):
            outbox.put(message, key)

    def _call(self, fn: Any, arg: Any) -> None:
        if self._loop.is_closed():
            return
        # the loop may close between the check and the call: shutting down
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(fn, arg)

    def _deliver(self, update: ConsoleUpdate) -> None:
        message = {"type": "update", "kind": update.kind.value, "data": update.data}
        if update.kind in LATEST_ONLY:
            key: str | None = update.kind.value
        elif update.key:
            key = f"{update.kind.value}:{update.key}"
        else:
            key = None
        self.broadcast(message, key)

    def _deliver_frame(self, jpeg: bytes) -> None:
        for outbox in list(self._outboxes):
            outbox.put_frame(jpeg)
