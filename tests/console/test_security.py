"""Sessions, CSRF, Origin, rate limits, malformed WebSocket input, the jog deadman."""

from __future__ import annotations

import json
import logging
import socket
import ssl
import subprocess
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.sync.client import connect

from embodied_stack.console.backend import ConsoleUpdate, UpdateKind
from embodied_stack.schemas import JogAxis
from tests.console.conftest import PASSWORDS, Console, start_console
from tests.console.test_authorization import ws_reply, ws_session


def test_expired_session_is_refused_and_closes_the_socket(fresh_console: Console) -> None:
    client, _ = fresh_console.login("otto")
    with closing(client), ws_session(fresh_console, client) as ws:
        assert client.get("/api/state").status_code == 200
        fresh_console.clock.advance(901.0)  # idle ttl is 900 s
        assert client.get("/api/state").status_code == 401
        ws.send(json.dumps({"type": "jog", "axis": "x", "direction": 1}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert not fresh_console.backend.jogs()


def test_absolute_session_limit_applies_even_when_active(fresh_console: Console) -> None:
    client, _ = fresh_console.login("vera")
    with closing(client):
        for _ in range(60):  # 60 x 800 s > 12 h, never idle for 900 s
            fresh_console.clock.advance(800.0)
            if client.get("/api/state").status_code == 401:
                break
        else:
            pytest.fail("session never expired")


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "http://127.0.0.1:1", "null", "https://localhost", None]
)
def test_websocket_upgrade_with_foreign_or_no_origin_is_refused(
    console: Console, origin: str | None
) -> None:
    client, _ = console.login("otto")
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    with pytest.raises(websockets.InvalidStatus) as refused:
        connect(console.ws_url, origin=origin, additional_headers={"Cookie": cookie})  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    client.close()


def test_websocket_without_session_is_refused(console: Console) -> None:
    with pytest.raises(websockets.InvalidStatus):
        connect(console.ws_url, origin=console.url)


def test_post_from_foreign_origin_is_refused(console: Console) -> None:
    client, csrf = console.login("otto")
    with closing(client):
        headers = {"X-CSRF-Token": csrf, "Origin": "http://evil.example"}
        response = client.post("/api/instruction", json={"text": "go"}, headers=headers)
    assert response.status_code == 403
    assert not console.backend.called("send_instruction")


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_mutating_request_without_the_csrf_token_is_refused(
    console: Console, token: str | None
) -> None:
    client, _ = console.login("sofia")
    headers = {} if token is None else {"X-CSRF-Token": token}
    with closing(client):
        for path, body in [
            ("/api/instruction", {"text": "go"}),
            ("/api/plans/p1/decision", {"approved": True}),
            ("/api/estop", {"why": "x"}),
            ("/api/reset", {"password": PASSWORDS["sofia"]}),
        ]:
            assert client.post(path, json=body, headers=headers).status_code == 403, path
    for call in ("send_instruction", "decide", "trip", "reset"):
        assert not console.backend.called(call)


def test_csrf_token_of_another_session_is_refused(console: Console) -> None:
    client_a, _ = console.login("otto")
    client_b, csrf_b = console.login("sofia")
    with closing(client_a), closing(client_b):
        response = client_a.post(
            "/api/instruction", json={"text": "go"}, headers={"X-CSRF-Token": csrf_b}
        )
    assert response.status_code == 403


def test_failed_logins_are_rate_limited(fresh_console: Console) -> None:
    with fresh_console.client() as client:
        for _ in range(5):
            bad = client.post("/api/login", json={"name": "otto", "password": "guess"})
            assert bad.status_code == 401
        good = {"name": "otto", "password": PASSWORDS["otto"]}
        limited = client.post("/api/login", json=good)
        assert limited.status_code == 429
        assert "Retry-After" in limited.headers
        # the same address is limited for every name
        other = {"name": "vera", "password": PASSWORDS["vera"]}
        assert client.post("/api/login", json=other).status_code == 429
        fresh_console.clock.advance(61.0)
        assert client.post("/api/login", json=good).status_code == 200


def test_unknown_operator_and_wrong_password_look_the_same(fresh_console: Console) -> None:
    with fresh_console.client() as client:
        a = client.post("/api/login", json={"name": "nobody", "password": "x"})
        b = client.post("/api/login", json={"name": "otto", "password": "x"})
    assert a.status_code == b.status_code == 401
    assert a.json() == b.json()


def test_passwords_are_never_logged_or_audited(
    fresh_console: Console, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with fresh_console.client() as client:
        client.post("/api/login", json={"name": "otto", "password": "not-the-password-xyz"})
    fresh_console.login("sofia")[0].close()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    audited = json.dumps([args[2] for args in fresh_console.backend.called("record")])
    for secret in ("not-the-password-xyz", PASSWORDS["sofia"]):
        assert secret not in logged
        assert secret not in audited


def test_invalid_requests_never_echo_the_password(fresh_console: Console) -> None:
    secret = "s3cret-" + "x" * 300  # too long: a validation error about the password field
    with fresh_console.client() as client:
        too_long = client.post("/api/login", json={"name": "otto", "password": secret})
        form = client.post("/api/login", data={"name": "otto", "password": "s3cret-form"})
    assert too_long.status_code == form.status_code == 422
    assert "s3cret" not in too_long.text and "s3cret" not in form.text
    assert too_long.json()["detail"][0]["loc"] == ["body", "password"]


def test_no_operators_explains_how_to_add_one(empty_console: Console) -> None:
    with empty_console.client() as client:
        setup = client.get("/api/setup").json()
        login = client.post("/api/login", json={"name": "admin", "password": "admin"})
        page = client.get("/", follow_redirects=True)
    assert setup["has_operators"] is False
    assert "embodied-stack registry add-operator NAME --role" in setup["hint"]
    assert login.status_code == 403
    assert "add-operator" in login.json()["detail"]
    assert page.url.path == "/login"


def test_pages_carry_a_strict_content_security_policy(console: Console) -> None:
    with console.client() as client:
        response = client.get("/login")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"


MALFORMED: list[Any] = [
    "not json",
    "[1, 2, 3]",
    "42",
    json.dumps({"no": "type"}),
    json.dumps({"type": "teleport", "x": 1}),
    json.dumps({"type": "jog", "axis": "w", "direction": 1}),
    json.dumps({"type": "jog", "axis": "x", "direction": 2}),
    json.dumps({"type": "jog", "axis": "x", "direction": True}),
    json.dumps({"type": "jog", "axis": "x", "direction": "1"}),
    json.dumps({"type": "jog", "axis": "x"}),
    json.dumps({"type": "jog", "axis": None, "direction": -1}),
    b"\x00\x01binary",
]


def test_malformed_websocket_messages_get_an_error_and_move_nothing(console: Console) -> None:
    client, _ = console.login("otto")
    with closing(client), ws_session(console, client) as ws:
        for message in MALFORMED:
            ws.send(message)
            reply = ws_reply(ws, "none")
            assert reply["type"] == "error", message
            assert reply["error"]
        ws.send(json.dumps({"type": "ping", "t": 1}))  # the connection still works
        while json.loads(ws.recv(timeout=10)).get("type") != "pong":
            pass
    assert not console.backend.jogs()
    assert not console.backend.called("trip")


def test_jog_streams_with_the_operator_and_stops_on_release(console: Console) -> None:
    client, _ = console.login("otto")
    with closing(client), ws_session(console, client) as ws:
        for _ in range(3):
            ws.send(json.dumps({"type": "jog", "axis": "x", "direction": -1}))
            ws_reply(ws, "jog")
        ws.send(json.dumps({"type": "jog_stop"}))
        ws_reply(ws, "jog_stop")
    jogs = console.backend.jogs()
    assert [(j.axis, j.direction) for j in jogs] == [(JogAxis.X, -1)] * 3 + [(JogAxis.X, 0)]
    assert {j.operator for j in jogs} == {"otto"}
    assert [j.seq for j in jogs] == sorted({j.seq for j in jogs})
    jog_audits = [p for k, _a, p in console.backend.called("record") if k.value == "jog"]
    assert [p["event"] for p in jog_audits] == ["start", "stop"]


def test_jog_not_refreshed_is_stopped_by_the_server(fresh_console: Console) -> None:
    client, _ = fresh_console.login("otto")
    with closing(client), ws_session(fresh_console, client) as ws:
        ws.send(json.dumps({"type": "jog", "axis": "z", "direction": 1}))
        ws_reply(ws, "jog")
        fresh_console.clock.advance(1.0)  # past the 0.3 s deadman, without a refresh
        assert fresh_console.backend.wait_for(lambda: len(fresh_console.backend.jogs()) >= 2)
        assert fresh_console.backend.jogs()[-1].direction == 0


def test_jog_is_stopped_when_the_websocket_drops(console: Console) -> None:
    client, _ = console.login("otto")
    with closing(client), ws_session(console, client) as ws:
        ws.send(json.dumps({"type": "jog", "axis": "gripper", "direction": 1}))
        ws_reply(ws, "jog")
        ws.socket.shutdown(socket.SHUT_RDWR)  # abrupt: no close handshake
        assert console.backend.wait_for(lambda: len(console.backend.jogs()) >= 2)
    assert console.backend.jogs()[-1].direction == 0


def test_updates_and_frames_reach_the_browser(console: Console) -> None:
    client, _ = console.login("vera")
    with closing(client), ws_session(console, client) as ws:
        first = [json.loads(ws.recv(timeout=10)) for _ in range(2)]
        assert [m["type"] for m in first] == ["hello", "snapshot"]
        assert first[0]["may"]["jog"] is False
        console.backend.push(ConsoleUpdate(kind=UpdateKind.ESTOP, data={"estop": True}))
        console.backend.push_frame(b"\xff\xd8jpeg")
        got_update = got_frame = False
        while not (got_update and got_frame):
            raw = ws.recv(timeout=10)
            if isinstance(raw, bytes):
                got_frame = raw == b"\xff\xd8jpeg"
            else:
                message = json.loads(raw)
                got_update |= message.get("kind") == "estop" and message["data"]["estop"]


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_tls_serves_https_with_secure_cookies_and_wss(tmp_path: Path, registry_file: Path) -> None:
    cert, key = _self_signed(tmp_path)
    running = start_console(registry_file, tls_cert=str(cert), tls_key=str(key))
    try:
        assert running.url.startswith("https://")
        context = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(base_url=running.url, verify=context, timeout=10) as client:
            response = client.post(
                "/api/login", json={"name": "otto", "password": PASSWORDS["otto"]}
            )
            assert response.status_code == 200
            assert "secure" in response.headers["set-cookie"].lower()
            cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        ws_url = running.url.replace("https", "wss", 1) + "/ws"
        headers = {"Cookie": cookie}
        with connect(ws_url, ssl=context, origin=running.url, additional_headers=headers) as ws:  # type: ignore[arg-type]
            assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        with pytest.raises(websockets.InvalidStatus):  # http:// origin on an https console
            insecure = running.url.replace("https", "http", 1)
            connect(ws_url, ssl=context, origin=insecure, additional_headers=headers)  # type: ignore[arg-type]
    finally:
        running.stop()
