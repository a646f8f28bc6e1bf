"""The language-model backend: any OpenAI-compatible chat-completions endpoint
(OpenAI, Ollama, vLLM, llama.cpp server) with the `submit_plan` / `refuse` tools.

The reply is untrusted: this module only turns it into a Proposal (steps as the
model wrote them, or its refusal). A reply that cannot be read becomes a
refusal naming what was wrong; an endpoint that cannot be reached after the
bounded retries raises PlannerError naming the endpoint and the last error.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import openai
from pydantic import BaseModel, ConfigDict, Field

from embodied_stack.planning import prompt
from embodied_stack.planning.backend import BackendInfo, PlannerError, Proposal
from embodied_stack.planning.skills import DEFAULT_LIMITS, PlanLimits
from embodied_stack.planning.state import RobotState
from embodied_stack.schemas import PerceivedObject, PlannerKind

RETRY_BACKOFF_S = 0.2  # doubled per attempt
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)
_RETRY_STATUS = frozenset({408, 409, 429})


class LlmConfig(BaseModel):
    """Endpoint settings; empty values fall back to OPENAI_BASE_URL / OPENAI_MODEL /
    OPENAI_API_KEY in the environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = ""
    model: str = ""
    api_key: str = Field(default="", repr=False)
    timeout_s: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=1024, ge=16)

    def resolved(self) -> LlmConfig:
        env = os.environ
        return self.model_copy(
            update={
                "base_url": self.base_url or env.get("OPENAI_BASE_URL", ""),
                "model": self.model or env.get("OPENAI_MODEL", ""),
                "api_key": self.api_key or env.get("OPENAI_API_KEY", "") or "not-needed",
            }
        )


class LlmBackend:
    """Plans through a language model. The model must be in the registry to be used."""

    def __init__(self, config: LlmConfig, *, limits: PlanLimits = DEFAULT_LIMITS) -> None:
        self.config = config.resolved()
        if not self.config.base_url or not self.config.model:
            raise PlannerError(
                "LLM backend needs a base URL and a model name "
                "(planner_node llm.base_url / llm.model, or OPENAI_BASE_URL / OPENAI_MODEL)"
            )
        self.limits = limits
        self.info = BackendInfo(
            kind=PlannerKind.LLM, model=self.config.model, endpoint=self.config.base_url
        )
        self._client = openai.OpenAI(
            base_url=self.config.base_url,
            api_key=self.config.api_key,
            timeout=self.config.timeout_s,
            max_retries=0,  # retries are ours: bounded, and reported by name
        )

    def close(self) -> None:
        self._client.close()

    def propose(
        self, instruction: str, objects: Sequence[PerceivedObject], robot_state: RobotState
    ) -> Proposal:
        msgs = prompt.messages(instruction, objects, robot_state, self.limits)
        tool_defs = prompt.tools(self.limits)
        sha = prompt.prompt_sha256(self.config.model, msgs, tool_defs)
        started = time.perf_counter()
        completion = self._complete(msgs, tool_defs)
        model_ms = (time.perf_counter() - started) * 1000.0
        proposal = parse_completion(completion)
        proposal.prompt_sha256 = sha
        proposal.model_ms = model_ms
        return proposal

    def _complete(self, msgs: list[dict[str, Any]], tool_defs: list[dict[str, Any]]) -> Any:
        attempts = 1 + self.config.max_retries
        last = ""
        for attempt in range(attempts):
            if attempt:
                time.sleep(RETRY_BACKOFF_S * 2 ** (attempt - 1))
            try:
                return self._client.chat.completions.create(
                    model=self.config.model,
                    messages=msgs,  # type: ignore[arg-type]
                    tools=tool_defs,  # type: ignore[arg-type]
                    temperature=self.config.temperature,
                    max_tokens=self.config.max_tokens,
                )
            except openai.APITimeoutError:
                last = f"no answer within {self.config.timeout_s:g} s"
            except openai.APIConnectionError as exc:
                last = f"cannot connect ({_cause(exc)})"
            except openai.APIStatusError as exc:
                last = f"HTTP {exc.status_code}: {_short(_error_message(exc))}"
                if exc.status_code < 500 and exc.status_code not in _RETRY_STATUS:
                    break  # a client error does not heal by asking again
            except (openai.APIError, ValueError) as exc:
                raise PlannerError(
                    f"endpoint {self.config.base_url} answered something that is not a "
                    f"chat completion: {_short(str(exc))}"
                ) from exc
        raise PlannerError(
            f"endpoint {self.config.base_url} failed after {attempt + 1} attempt(s): {last}"
        )


def parse_completion(completion: Any) -> Proposal:
    """The model's reply as a Proposal; unreadable replies become refusals that say why."""
    choices = getattr(completion, "choices", None)
    if not choices:
        return _malformed("the reply has no choices")
    message = getattr(choices[0], "message", None)
    if message is None:
        return _malformed("the reply has no message")
    calls = getattr(message, "tool_calls", None) or []
    if not isinstance(calls, list):
        return _malformed(f"tool_calls must be a list, got {type(calls).__name__}")
    if calls:
        function = getattr(calls[0], "function", None)
        name = getattr(function, "name", None)
        return _from_tool(str(name), getattr(function, "arguments", None))
    return _from_content(getattr(message, "content", None))


def _from_tool(name: str, arguments: Any) -> Proposal:
    if name not in ("submit_plan", "refuse"):
        return _malformed(f"the model called unknown tool {_short(repr(name))}")
    payload = arguments if isinstance(arguments, Mapping) else _load_json(arguments)
    if isinstance(payload, Proposal):
        return payload
    if not isinstance(payload, Mapping):
        return _malformed(f"{name} arguments must be an object, got {type(payload).__name__}")
    return _from_payload(name, payload)


def _from_content(content: Any) -> Proposal:
    text = content if isinstance(content, str) else ""
    if not text.strip():
        return _malformed("the model answered with neither a tool call nor content")
    fenced = _FENCE.match(text)
    body = fenced.group(1) if fenced else text.strip()
    if not body.startswith("{"):
        return Proposal(
            refusal=f"the model answered in prose instead of a plan: {_short(text)}",
            refusal_rule="model_no_plan",
        )
    payload = _load_json(body)
    if isinstance(payload, Proposal):
        return payload
    if not isinstance(payload, Mapping):
        return _malformed("the JSON content is not an object")
    name = "refuse" if "reason" in payload and "steps" not in payload else "submit_plan"
    return _from_payload(name, payload)


def _from_payload(name: str, payload: Mapping[str, Any]) -> Proposal:
    allowed = {"reason"} if name == "refuse" else {"steps", "rationale"}
    extra = sorted(str(k) for k in payload if k not in allowed)
    if extra:
        return _malformed(f"{name}: unexpected field(s) {extra}")
    if name == "refuse":
        return Proposal(refusal=str(payload.get("reason") or "no reason given"))
    if "steps" not in payload:
        return _malformed("submit_plan without `steps`")
    steps = payload["steps"]
    if isinstance(steps, str):  # some models encode the list twice; it is validated all the same
        steps = _load_json(steps)
        if isinstance(steps, Proposal):
            return steps
    rationale = payload.get("rationale", "")
    return Proposal(steps=steps, rationale=rationale if isinstance(rationale, str) else "")


def _load_json(text: Any) -> Any:
    """Strict JSON: NaN and Infinity are not numbers a plan may carry."""
    if not isinstance(text, str):
        return _malformed(f"arguments must be a JSON string, got {type(text).__name__}")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        return _malformed(f"not valid JSON ({_short(str(exc))})")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _malformed(detail: str) -> Proposal:
    return Proposal(refusal=f"unreadable model reply: {detail}", refusal_rule="malformed_reply")


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, Mapping):
        error = body.get("error", body)
        if isinstance(error, Mapping):
            return str(error.get("message", error))
    return str(exc.message)


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    return _short(str(cause) if cause else str(exc))


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
