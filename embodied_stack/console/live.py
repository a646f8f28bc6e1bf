"""The live WebSocket: state and camera out, jog and e-stop in.

Out: JSON text messages (`hello`, `snapshot`, `update`, `tick`, `ack`,
`error`, `pong`) and binary messages, each one annotated JPEG frame.
In: JSON `{"type": "jog", "axis": "x", "direction": 1}` (repeated while held),
`{"type": "jog", ..., "direction": 0}` or `{"type": "jog_stop"}` on release,
`{"type": "estop"}`, `{"type": "ping", "t": ...}`. Anything else gets an
`error` reply and changes nothing; a bad message while jogging stops the jog.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from embodied_stack.console.auth import Action
from embodied_stack.console.context import SESSION_COOKIE, ConsoleContext
from embodied_stack.console.hub import Outbox
from embodied_stack.console.jog import JogGuard
from embodied_stack.schemas import JogAxis

CLOSE_POLICY = 4403
CLOSE_EXPIRED = 4401


class BadMessageError(ValueError):
    """A client message that is not understood or not allowed; the reply names why."""


async def tick_forever(ctx: ConsoleContext) -> None:
    """Push the heartbeat age to every client (it changes even when no message arrives)."""
    while True:
        await asyncio.sleep(ctx.settings.tick_s)
        if ctx.hub is not None and ctx.hub.client_count:
            age = ctx.backend.heartbeat_age_s()
            tick = {"type": "tick", "heartbeat_age_s": age, "server_time": time.time()}
            ctx.hub.broadcast(tick, key="tick")


def websocket_endpoint(ctx: ConsoleContext) -> Callable[[WebSocket], Awaitable[None]]:
    async def endpoint(ws: WebSocket) -> None:
        token = ws.cookies.get(SESSION_COOKIE)
        session = ctx.sessions.get(token)
        if not ctx.origin_ok(ws, required=True) or session is None or ctx.hub is None:
            await ws.close(code=CLOSE_POLICY)  # before accept: the handshake gets HTTP 403
            return
        await ws.accept()
        outbox = Outbox()
        guard = JogGuard(ctx.backend, session.operator, ctx.settings.jog_deadman_s, ctx.clock)
        _greet(ctx, outbox, session.operator, session.role)
        ctx.hub.add(outbox)
        tasks = [
            asyncio.create_task(_send_forever(ws, outbox)),
            asyncio.create_task(_watch(ctx, ws, guard, token or "")),
        ]
        try:
            await _receive_forever(ctx, ws, outbox, guard, token or "")
        finally:
            guard.stop("websocket closed")
            ctx.hub.remove(outbox)
            for task in tasks:
                task.cancel()
            if ws.application_state == WebSocketState.CONNECTED:
                with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                    await ws.close()

    return endpoint


def _greet(ctx: ConsoleContext, outbox: Outbox, operator: str, role: str) -> None:
    may = {a.value: ctx.directory.allows(role, a) for a in Action}
    outbox.put({"type": "hello", "operator": operator, "role": role, "may": may})
    snapshot = ctx.backend.snapshot().model_dump(mode="json")
    outbox.put({"type": "snapshot", "data": snapshot})
    frame = ctx.backend.latest_frame()
    if frame is not None:
        outbox.put_frame(frame)


async def _send_forever(ws: WebSocket, outbox: Outbox) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            messages, frame = await outbox.take()
            for message in messages:
                await ws.send_text(json.dumps(message))
            if frame is not None:
                await ws.send_bytes(frame)


async def _watch(ctx: ConsoleContext, ws: WebSocket, guard: JogGuard, token: str) -> None:
    """Deadman for jogs, and closing the socket once the session has expired."""
    period = ctx.settings.jog_deadman_s / 3
    while True:
        await asyncio.sleep(period)
        guard.check_deadman()
        if ctx.sessions.peek(token) is None:
            guard.stop("session expired")
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await ws.close(code=CLOSE_EXPIRED, reason="session expired")
            return


async def _receive_forever(
    ctx: ConsoleContext, ws: WebSocket, outbox: Outbox, guard: JogGuard, token: str
) -> None:
    while True:
        raw = await ws.receive()
        if raw["type"] == "websocket.disconnect":
            return
        try:
            if raw.get("text") is None:
                raise BadMessageError("binary messages are not accepted")
            reply = _handle(ctx, guard, token, raw["text"])
        except BadMessageError as exc:
            guard.stop(f"bad message: {exc}")
            reply = {"type": "error", "error": str(exc)}
        outbox.put(reply)


def _parse(text: str) -> dict[str, Any]:
    try:
        message = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadMessageError(f"not JSON: {exc.msg}") from exc
    if not isinstance(message, dict):
        raise BadMessageError("expected a JSON object")
    return message


def _handle(ctx: ConsoleContext, guard: JogGuard, token: str, text: str) -> dict[str, Any]:
    message = _parse(text)
    kind = message.get("type")
    if kind == "ping":
        return {"type": "pong", "t": message.get("t"), "server_time": time.time()}
    session = ctx.sessions.get(token)
    if session is None:
        raise BadMessageError("session expired; log in again")
    action = {"jog": Action.JOG, "jog_stop": Action.JOG, "estop": Action.STOP}.get(str(kind))
    if action is None:
        raise BadMessageError(f"unknown message type {kind!r}")
    if not ctx.directory.allows(session.role, action):
        raise BadMessageError(f"role {session.role!r} may not {action.value}")
    if kind == "estop":
        result = ctx.backend.trip(f"console:{session.operator}", "console e-stop button")
    elif kind == "jog_stop":
        guard.stop("released")
        return {"type": "ack", "of": kind, "ok": True, "message": "stopped"}
    else:
        axis, direction = _jog_args(message)
        result = guard.command(axis, direction)
    return {"type": "ack", "of": kind, "ok": result.ok, "message": result.message}


def _jog_args(message: dict[str, Any]) -> tuple[JogAxis, int]:
    try:
        axis = JogAxis(message.get("axis"))
    except ValueError as exc:
        raise BadMessageError(f"axis must be one of {[a.value for a in JogAxis]}") from exc
    direction = message.get("direction")
    if isinstance(direction, bool) or direction not in (-1, 0, 1):
        raise BadMessageError("direction must be -1, 0 or 1")
    return axis, int(direction)
