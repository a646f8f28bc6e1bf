"""plan_instruction: the one entry point the task runner, the console and planner_node call.

Whatever the backend (the offline grammar or a language model), its proposal
is untrusted: the model must be registered, the instruction passes the harm
screen, the steps are validated and their references resolved against
perception, the plan is tiered for risk, and everything is labelled
AI-generated with its provenance. The result is a Plan that is `proposed` or
`refused` with a reason a person can read; this function does not raise for
anything a backend or a model does.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

from embodied_stack.audit.registry import RegisteredModel, Registry, load_registry
from embodied_stack.planning.backend import PlannerBackend, PlannerError, Proposal
from embodied_stack.planning.refusal import Refusal
from embodied_stack.planning.screen import screen_text
from embodied_stack.planning.skills import DEFAULT_LIMITS, PlanLimits
from embodied_stack.planning.state import RobotState
from embodied_stack.planning.validate import validate_steps
from embodied_stack.safety.redlines import RedLines, load_redlines
from embodied_stack.safety.risk import assess_risk
from embodied_stack.schemas import (
    PerceivedObject,
    Plan,
    PlannerKind,
    PlanStatus,
    PlanStep,
    Provenance,
    RiskTier,
)

MAX_INSTRUCTION_CHARS = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def plan_instruction(
    instruction: str,
    objects: Sequence[PerceivedObject],
    *,
    backend: PlannerBackend,
    robot_state: RobotState | None = None,
    registry: Registry | None = None,
    redlines: RedLines | None = None,
    limits: PlanLimits = DEFAULT_LIMITS,
) -> Plan:
    """A validated plan (status proposed) or a refusal with its reason (status refused).

    `registry` names the models allowed to plan (default: config/registry.yaml);
    `redlines` feed the risk tier (default: config/redlines.yaml, add a scene's
    keep-out boxes with `RedLines.with_scene`).
    """
    started = time.perf_counter()
    registry = registry if registry is not None else load_registry()
    state = robot_state if robot_state is not None else RobotState()
    info = backend.info
    plan = Plan(
        robot_id=registry.robot_id,
        instruction=instruction,
        provenance=Provenance(planner=info.kind, model=info.model, endpoint=info.endpoint),
        ai_generated=True,
    )
    try:
        _check_registered(registry, info.model, info.endpoint)
        _check_instruction(instruction, backend)
        holding = state.holding or _held_object(objects)
        proposal = backend.propose(
            instruction, objects, state.model_copy(update={"holding": holding})
        )
        plan.provenance.prompt_sha256 = proposal.prompt_sha256
        _fill(plan, proposal, objects, holding, redlines or load_redlines(), limits)
    except Refusal as refusal:
        _refuse(plan, refusal.reason)
    except PlannerError as exc:
        _refuse(plan, f"planner_error: {exc}")
    plan.provenance.latency_ms = (time.perf_counter() - started) * 1000.0
    return plan


def _fill(
    plan: Plan,
    proposal: Proposal,
    objects: Sequence[PerceivedObject],
    holding: str | None,
    redlines: RedLines,
    limits: PlanLimits,
) -> None:
    plan.rationale = _clean(proposal.rationale, limits.max_rationale_chars)
    if proposal.refusal is not None:
        raise Refusal(proposal.refusal_rule, _clean(proposal.refusal, limits.max_rationale_chars))
    plan.steps = validate_steps(proposal.steps, objects, holding=holding, limits=limits)
    plan.risk_tier, plan.risk_reasons = tier_plan(plan.steps, objects, redlines)
    if plan.risk_tier is RiskTier.FORBIDDEN:
        raise Refusal("forbidden", "; ".join(plan.risk_reasons) or "the plan is forbidden")


def tier_plan(
    steps: Sequence[PlanStep], objects: Sequence[PerceivedObject], redlines: RedLines
) -> tuple[RiskTier, list[str]]:
    """The one call site of the safety engineer's risk assessment."""
    tier, reasons = assess_risk(steps, objects, redlines)
    return RiskTier(tier), list(reasons)


def _refuse(plan: Plan, reason: str) -> None:
    plan.status = PlanStatus.REFUSED
    plan.reason = reason


def _check_registered(registry: Registry, model: str, endpoint: str) -> None:
    if not registry.model_allowed(model, endpoint):
        known = ", ".join(f"{m.name} at {m.endpoint}" for m in registry.models)
        raise Refusal(
            "unregistered_model",
            f"model {model!r} at {endpoint!r} is not registered to plan for "
            f"{registry.robot_id} (registered: {known})",
        )


def _check_instruction(instruction: str, backend: PlannerBackend) -> None:
    if not instruction.strip():
        raise Refusal("empty_instruction", "the instruction is empty")
    if len(instruction) > MAX_INSTRUCTION_CHARS:
        raise Refusal(
            "instruction_too_long",
            f"{len(instruction)} characters, at most {MAX_INSTRUCTION_CHARS}",
        )
    if backend.info.kind is not PlannerKind.OFFLINE:
        screen_text(instruction)  # the offline grammar screens as it parses


def _held_object(objects: Sequence[PerceivedObject]) -> str | None:
    return next((o.id for o in objects if o.support == "held"), None)


def _clean(text: object, limit: int) -> str:
    """Model text is shown to people: no control characters, bounded length."""
    cleaned = _CONTROL.sub(" ", text if isinstance(text, str) else repr(text))
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 3] + "..."


def with_model(registry: Registry, model: str, endpoint: str) -> Registry:
    """A copy of the registry that also allows this model (tests, the red-team runner)."""
    if registry.model_allowed(model, endpoint):
        return registry
    models = [*registry.models, RegisteredModel(name=model, endpoint=endpoint)]
    return registry.model_copy(update={"models": models})
