"""The console web app: login, state, actions, audit, and the live WebSocket.

Every route that reads state needs a session; every route that changes
anything also needs the session's CSRF token in a header, a same-site Origin
(when the browser sends one), and a role the registry allows for the action.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from embodied_stack.console import live
from embodied_stack.console.auth import Action, Session, csrf_matches
from embodied_stack.console.backend import ActionResult, AuditQuery
from embodied_stack.console.context import (
    ADD_OPERATOR_HINT,
    CSRF_HEADER,
    SESSION_COOKIE,
    ConsoleContext,
)
from embodied_stack.console.hub import Hub
from embodied_stack.schemas import AuditEventKind

STATIC = Path(__file__).resolve().parent / "static"
log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
        "style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginBody(_Body):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class InstructionBody(_Body):
    text: str = Field(min_length=1, max_length=500)


class DecisionBody(_Body):
    approved: bool
    reason: str | None = Field(default=None, max_length=500)


class ResetBody(_Body):
    password: str = Field(min_length=1, max_length=256, repr=False)


class EstopBody(_Body):
    why: str = Field(default="console e-stop button", min_length=1, max_length=200)


def create_app(ctx: ConsoleContext) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx.hub = Hub(asyncio.get_running_loop())
        unsubscribe = ctx.backend.subscribe(ctx.hub)
        ticker = asyncio.create_task(live.tick_forever(ctx))
        try:
            yield
        finally:
            ticker.cancel()
            unsubscribe()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ctx = ctx

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Name the field and the rule, never echo the input: it may be a password.
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    _pages(app, ctx)
    _session_routes(app, ctx)
    _action_routes(app, ctx)
    _read_routes(app, ctx)
    app.add_api_websocket_route("/ws", live.websocket_endpoint(ctx))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def guard(ctx: ConsoleContext, action: Action, mutating: bool) -> Callable[[Request], Session]:
    """Dependency: the caller's session, if it may do `action`; else 401/403."""

    def check(request: Request) -> Session:
        session = ctx.session_of(request)
        if session is None:
            raise HTTPException(401, "not logged in, or the session expired")
        if mutating and not ctx.origin_ok(request, required=False):
            raise HTTPException(403, "request from another origin")
        if mutating and not csrf_matches(session, request.headers.get(CSRF_HEADER)):
            raise HTTPException(403, "missing or wrong CSRF token")
        if not ctx.allowed(session, action):
            raise HTTPException(403, f"role {session.role!r} may not {action.value}")
        return session

    return check


def _result(result: ActionResult) -> JSONResponse:
    return JSONResponse(result.model_dump(), status_code=200 if result.ok else 409)


def _pages(app: FastAPI, ctx: ConsoleContext) -> None:
    @app.get("/", include_in_schema=False)
    def index(request: Request) -> Response:
        if ctx.session_of(request) is None:
            return RedirectResponse("/login", status_code=303)
        return FileResponse(STATIC / "index.html")

    @app.get("/login", include_in_schema=False)
    def login_page() -> FileResponse:
        return FileResponse(STATIC / "login.html")


def _session_routes(app: FastAPI, ctx: ConsoleContext) -> None:
    @app.get("/api/setup")
    def setup() -> dict[str, Any]:
        has = ctx.directory.has_operators()
        return {"has_operators": has, "hint": "" if has else ADD_OPERATOR_HINT}

    @app.post("/api/login")
    def login(body: LoginBody, request: Request, response: Response) -> dict[str, Any]:
        if not ctx.origin_ok(request, required=False):
            raise HTTPException(403, "request from another origin")
        if not ctx.directory.has_operators():
            raise HTTPException(403, ADD_OPERATOR_HINT)
        client = request.client.host if request.client else "?"
        keys = (f"addr:{client}", f"name:{body.name}")
        wait = ctx.limiter.retry_after(*keys)
        if wait > 0:
            raise HTTPException(
                429, "too many failed logins; try again later", {"Retry-After": f"{wait:.0f}"}
            )
        role = ctx.directory.authenticate(body.name, body.password)
        ctx.backend.record(
            AuditEventKind.LOGIN, body.name, {"ok": role is not None, "client": client}
        )
        if role is None:
            ctx.limiter.failed(*keys)
            log.info("failed console login for %r from %s", body.name, client)
            raise HTTPException(401, "unknown operator or wrong password")
        ctx.limiter.succeeded(keys[1])
        session = ctx.sessions.create(body.name, role)
        response.set_cookie(
            SESSION_COOKIE,
            session.token,
            httponly=True,
            samesite="strict",
            secure=ctx.settings.tls,
            path="/",
        )
        log.info("console login: %s (%s) from %s", body.name, role, client)
        return _me(ctx, session)

    @app.post("/api/logout")
    def logout(request: Request, response: Response) -> dict[str, bool]:
        session = ctx.session_of(request)
        if session is not None and csrf_matches(session, request.headers.get(CSRF_HEADER)):
            ctx.sessions.drop(session.token)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return {"ok": True}

    @app.get("/api/me")
    def me(session: Annotated[Session, Depends(guard(ctx, Action.VIEW, False))]) -> dict[str, Any]:
        return _me(ctx, session)


def _me(ctx: ConsoleContext, session: Session) -> dict[str, Any]:
    may = {a.value: ctx.allowed(session, a) for a in Action}
    return {"operator": session.operator, "role": session.role, "csrf": session.csrf, "may": may}


def _action_routes(app: FastAPI, ctx: ConsoleContext) -> None:
    @app.post("/api/instruction")
    def instruct(
        body: InstructionBody,
        session: Annotated[Session, Depends(guard(ctx, Action.INSTRUCT, True))],
    ) -> JSONResponse:
        ctx.backend.record(AuditEventKind.INSTRUCTION, session.operator, {"text": body.text})
        return _result(ctx.backend.send_instruction(body.text, session.operator))

    @app.post("/api/plans/{plan_id}/decision")
    def decide(
        plan_id: str,
        body: DecisionBody,
        session: Annotated[Session, Depends(guard(ctx, Action.APPROVE, True))],
    ) -> JSONResponse:
        kind = AuditEventKind.APPROVAL if body.approved else AuditEventKind.REJECTION
        ctx.backend.record(kind, session.operator, {"plan_id": plan_id, "reason": body.reason})
        return _result(ctx.backend.decide(plan_id, body.approved, session.operator, body.reason))

    @app.post("/api/estop")
    def estop(
        body: EstopBody, session: Annotated[Session, Depends(guard(ctx, Action.STOP, True))]
    ) -> JSONResponse:
        return _result(ctx.backend.trip(f"console:{session.operator}", body.why))

    @app.post("/api/reset")
    def reset(
        body: ResetBody, session: Annotated[Session, Depends(guard(ctx, Action.RESET, True))]
    ) -> JSONResponse:
        """A reset is a deliberate act: the officer confirms with their password, which the
        kill switch checks again against the registry (it trusts no one's session)."""
        ctx.backend.record(AuditEventKind.RESET, session.operator, {"event": "request"})
        key = f"name:{session.operator}"
        if ctx.limiter.retry_after(key) > 0:
            raise HTTPException(429, "too many failed confirmations; try again later")
        if ctx.directory.authenticate(session.operator, body.password) is None:
            ctx.limiter.failed(key)
            raise HTTPException(403, "password confirmation failed")
        return _result(ctx.backend.reset(session.operator, body.password))


def _read_routes(app: FastAPI, ctx: ConsoleContext) -> None:
    viewer = guard(ctx, Action.VIEW, False)

    @app.get("/api/state")
    def state(session: Annotated[Session, Depends(viewer)]) -> dict[str, Any]:
        return ctx.backend.snapshot().model_dump(mode="json")

    @app.get("/api/frame.jpg")
    def frame(session: Annotated[Session, Depends(viewer)]) -> Response:
        jpeg = ctx.backend.latest_frame()
        if jpeg is None:
            raise HTTPException(404, "no camera frame yet")
        return Response(jpeg, media_type="image/jpeg")

    @app.get("/api/audit")
    def audit(
        session: Annotated[Session, Depends(viewer)],
        kind: AuditEventKind | None = None,
        actor: str | None = None,
        text: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        query = AuditQuery(kind=kind, actor=actor or None, text=text or None, limit=limit)
        return {"events": ctx.backend.audit_events(query)}

    @app.get("/api/audit/verify")
    def verify(session: Annotated[Session, Depends(viewer)]) -> dict[str, Any]:
        return ctx.backend.verify_chain().model_dump()

    @app.get("/api/incidents")
    def incidents(session: Annotated[Session, Depends(viewer)]) -> dict[str, Any]:
        return {"incidents": [i.model_dump() for i in ctx.backend.incidents()]}
