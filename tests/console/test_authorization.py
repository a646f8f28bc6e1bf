"""Every console action x every role, on a real server: the server decides, not the page."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import closing
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.console.conftest import BY_ROLE, PASSWORDS, Console

Action = Callable[[Console, httpx.Client, str, str], int]


def _post(path: str, body: dict[str, Any]) -> Action:
    def act(console: Console, client: httpx.Client, csrf: str, name: str) -> int:
        return client.post(path, json=body, headers={"X-CSRF-Token": csrf}).status_code

    return act


def _get(path: str) -> Action:
    def act(console: Console, client: httpx.Client, csrf: str, name: str) -> int:
        return client.get(path).status_code

    return act


def _reset(console: Console, client: httpx.Client, csrf: str, name: str) -> int:
    body = {"password": PASSWORDS[name]}
    return client.post("/api/reset", json=body, headers={"X-CSRF-Token": csrf}).status_code


def ws_session(console: Console, client: httpx.Client) -> Any:
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    return connect(console.ws_url, origin=console.url, additional_headers={"Cookie": cookie})


def ws_reply(ws: Any, of: str) -> dict[str, Any]:
    """The first ack or error reply (skipping state pushes)."""
    while True:
        raw = ws.recv(timeout=10)
        if isinstance(raw, bytes):
            continue
        message = json.loads(raw)
        if message["type"] == "error" or (message["type"] == "ack" and message["of"] == of):
            return dict(message)


def _ws(message: dict[str, Any]) -> Action:
    def act(console: Console, client: httpx.Client, csrf: str, name: str) -> int:
        with ws_session(console, client) as ws:
            ws.send(json.dumps(message))
            reply = ws_reply(ws, message["type"])
            if message["type"] == "jog":
                ws.send(json.dumps({"type": "jog_stop"}))
                ws_reply(ws, "jog_stop")
        return 200 if reply["type"] == "ack" and reply["ok"] else 403

    return act


ALL = {"viewer", "operator", "safety_officer"}
OPERATORS = {"operator", "safety_officer"}

ACTIONS: dict[str, tuple[Action, str | None, set[str]]] = {
    # action: (how, backend call it must cause, roles allowed)
    "state": (_get("/api/state"), None, ALL),
    "audit": (_get("/api/audit?kind=login"), "audit_events", ALL),
    "verify": (_get("/api/audit/verify"), "verify_chain", ALL),
    "incidents": (_get("/api/incidents"), "incidents", ALL),
    "instruct": (_post("/api/instruction", {"text": "pick the red cube"}), "send_instruction",
                 OPERATORS),
    "approve": (_post("/api/plans/p1/decision", {"approved": True}), "decide", OPERATORS),
    "reject": (_post("/api/plans/p1/decision", {"approved": False, "reason": "no"}), "decide",
               OPERATORS),
    "estop": (_post("/api/estop", {"why": "test"}), "trip", ALL),
    "reset": (_reset, "reset", {"safety_officer"}),
    "jog_ws": (_ws({"type": "jog", "axis": "z", "direction": 1}), "jog", OPERATORS),
    "estop_ws": (_ws({"type": "estop"}), "trip", ALL),
}  # fmt: skip


@pytest.mark.parametrize("role", ["viewer", "operator", "safety_officer"])
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_each_role_may_do_exactly_its_actions(console: Console, role: str, action: str) -> None:
    act, backend_call, allowed_roles = ACTIONS[action]
    client, csrf = console.session(BY_ROLE[role])
    status = act(console, client, csrf, BY_ROLE[role])
    if role in allowed_roles:
        assert status == 200
        if backend_call:
            assert console.backend.called(backend_call), f"{action} did not reach the backend"
    else:
        assert status == 403
        if backend_call:
            assert not console.backend.called(backend_call), f"{action} reached the backend"


@pytest.mark.parametrize("action", sorted(a for a in ACTIONS if not a.endswith("_ws")))
def test_no_session_is_refused_everywhere(console: Console, action: str) -> None:
    act, backend_call, _ = ACTIONS[action]
    with console.client() as client:
        assert act(console, client, "", "vera") == 401
    if backend_call:
        assert not console.backend.called(backend_call)


def test_actions_are_audited_with_the_operator(console: Console) -> None:
    client, csrf = console.login("otto")
    with closing(client):
        headers = {"X-CSRF-Token": csrf}
        client.post("/api/plans/p9/decision", json={"approved": True}, headers=headers)
        client.post("/api/plans/p9/decision", json={"approved": False}, headers=headers)
    records = console.backend.called("record")
    kinds = [(kind.value, actor) for kind, actor, _payload in records]
    assert ("login", "otto") in kinds
    assert ("approval", "otto") in kinds
    assert ("rejection", "otto") in kinds
    assert console.backend.called("decide")[0] == ("p9", True, "otto", None)


def test_reset_needs_the_officers_password_again(console: Console) -> None:
    client, csrf = console.login("sofia")
    with closing(client):
        response = client.post(
            "/api/reset", json={"password": "wrong"}, headers={"X-CSRF-Token": csrf}
        )
    assert response.status_code == 403
    assert not console.backend.called("reset")
