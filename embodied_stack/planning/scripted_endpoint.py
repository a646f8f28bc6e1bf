"""A real OpenAI-compatible chat-completions endpoint on loopback that answers with a
scripted message: the red-team `llm_response` format (tool-call arguments as a JSON
string or a mapping, or content only), and on demand slow, failing or garbage replies.

    with ScriptedEndpoint({"content": "", "tool_calls": [...]}) as endpoint:
        backend = LlmBackend(LlmConfig(base_url=endpoint.url, model=endpoint.model))

Used by the planner's tests, the red-team runner and the console tests. It speaks
HTTP/1.1 with keep-alive (stdlib http.server in a daemon thread) and records every
request body it received, so tests can read the prompt the planner sent.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import threading
import time
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SCRIPTED_MODEL = "scripted-model"
Reply = Mapping[str, Any]


def completion_body(reply: Reply, *, model: str, seq: int) -> dict[str, Any]:
    """A chat.completion object carrying the scripted assistant message."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.get("content")}
    calls = [_tool_call(call, seq, i) for i, call in enumerate(reply.get("tool_calls") or [])]
    if calls:
        message["tool_calls"] = calls
    return {
        "id": f"chatcmpl-scripted-{seq}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if calls else "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


def _tool_call(call: Mapping[str, Any], seq: int, index: int) -> dict[str, Any]:
    function = dict(call.get("function") or {})
    arguments = function.get("arguments", "{}")
    if not isinstance(arguments, str):  # a mapping in the suite file: send it as real endpoints do
        arguments = json.dumps(arguments)
    return {
        "id": str(call.get("id") or f"call_{seq}_{index}"),
        "type": "function",
        "function": {"name": function.get("name"), "arguments": arguments},
    }


class ScriptedEndpoint:
    """The endpoint server. Change its behaviour at any time through the attributes."""

    def __init__(
        self,
        reply: Reply | Sequence[Reply] = {"content": ""},  # noqa: B006 (never mutated)
        *,
        model: str = SCRIPTED_MODEL,
        delay_s: float = 0.0,
        status: int = 200,
        raw_body: bytes | None = None,
        failures: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.replies: list[Reply] = [reply] if isinstance(reply, Mapping) else list(reply)
        self.model = model
        self.delay_s = delay_s  # the model "thinks" this long before answering
        self.status = status  # != 200: answer with an OpenAI-style error body
        self.raw_body = raw_body  # answer these bytes (garbage) with status 200
        self.failures = failures  # the next N requests get HTTP 503, then normal replies
        self.requests: list[dict[str, Any]] = []
        self.handler_ms: list[float] = []  # time spent inside the handler per request
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _handler_class(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> ScriptedEndpoint:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="scripted-endpoint", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() would wait forever for a loop never started
            self._server.shutdown()
            self._thread.join(timeout=5.0)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> ScriptedEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def answer(self, request: dict[str, Any]) -> tuple[int, bytes]:
        """Status and body for one request (called from the handler threads)."""
        with self._lock:
            self.requests.append(request)
            seq = next(self._seq)
            failing = self.failures > 0
            self.failures -= 1 if failing else 0
            reply = self.replies[min(seq - 1, len(self.replies) - 1)]
        if failing or self.status != 200:
            status = 503 if failing else self.status
            error = {"message": f"scripted failure (HTTP {status})", "type": "server_error"}
            return status, json.dumps({"error": error}).encode()
        if self.raw_body is not None:
            return 200, self.raw_body
        return 200, json.dumps(completion_body(reply, model=self.model, seq=seq)).encode()


def _handler_class(endpoint: ScriptedEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers
        disable_nagle_algorithm = True  # headers and body leave as separate writes

        def do_POST(self) -> None:
            started = time.perf_counter()
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, b'{"error": {"message": "not found"}}')
                return
            try:
                request = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                self._send(400, b'{"error": {"message": "request body is not JSON"}}')
                return
            status, body = endpoint.answer(request)
            endpoint.handler_ms.append((time.perf_counter() - started) * 1000.0)
            if endpoint.delay_s > 0:
                time.sleep(endpoint.delay_s)
            self._send(status, body)

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                body = {"object": "list", "data": [{"id": endpoint.model, "object": "model"}]}
                self._send(200, json.dumps(body).encode())
            else:
                self._send(404, b'{"error": {"message": "not found"}}')

        def _send(self, status: int, body: bytes) -> None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client gave up
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: tests and benchmarks hammer it

    return Handler


def main(argv: list[str] | None = None) -> int:
    """Serve a reply from a JSON file until interrupted (for manual console tests)."""
    parser = argparse.ArgumentParser(prog="scripted_endpoint", description=__doc__)
    parser.add_argument("reply", help="JSON file with the assistant message to answer")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before answering")
    args = parser.parse_args(argv)
    with open(args.reply, encoding="utf-8") as handle:
        reply = json.load(handle)
    with ScriptedEndpoint(reply, port=args.port, delay_s=args.delay) as endpoint:
        print(f"serving {endpoint.model} at {endpoint.url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
