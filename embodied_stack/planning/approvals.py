"""The approval book: which plans run at once, which wait for an operator, and the
time-out that turns silence into a denial. Pure Python; planner_node wires it.

- A plan below the approval tier is approved at once ("auto", on the instructing
  operator's account).
- A plan at or above it waits; an Approval from an operator whose role may approve
  decides it; no decision within the time-out is a rejection.
- A newer plan supersedes a waiting one (rejected), so an old id can never be
  approved after the operator moved on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from embodied_stack.audit.registry import Action, Registry, role_allows
from embodied_stack.schemas import Approval, AuditEventKind, Plan, PlanStatus, RiskTier

AUTO_APPROVER = "auto"


@dataclass
class Outcome:
    """A plan to publish and the audit event that records why."""

    plan: Plan
    kind: AuditEventKind
    actor: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Waiting:
    plan: Plan
    operator: str
    deadline: float


def registry_approvers(registry: Registry) -> Callable[[str], str | None]:
    """Why an operator may not approve (None when they may), from the registry's roles."""

    def check(name: str) -> str | None:
        operator = registry.operator(name)
        if operator is None:
            return f"{name!r} is not an operator in the registry"
        if not role_allows(operator.role, Action.APPROVE):
            return f"{name!r} has role {operator.role.value}, which may not approve plans"
        return None

    return check


class ApprovalBook:
    def __init__(
        self,
        *,
        approval_tier: RiskTier,
        timeout_s: float,
        may_approve: Callable[[str], str | None],
    ) -> None:
        self.approval_tier = approval_tier
        self.timeout_s = timeout_s
        self._may_approve = may_approve
        self._waiting: dict[str, _Waiting] = {}
        self._lock = threading.Lock()

    def admit(self, plan: Plan, operator: str, now: float) -> list[Outcome]:
        """A freshly proposed plan: approve it now or let it wait (superseding older ones)."""
        with self._lock:
            outcomes = [
                self._reject(w, "superseded by a newer plan", "planner_node")
                for w in self._waiting.values()
            ]
            self._waiting.clear()
            if plan.risk_tier < self.approval_tier:
                approved = plan.model_copy(
                    update={
                        "status": PlanStatus.APPROVED,
                        "approved_by": AUTO_APPROVER,
                        "approved_at": time.time(),
                    }
                )
                payload = {
                    "plan_id": plan.plan_id,
                    "auto": True,
                    "risk_tier": plan.risk_tier.name,
                    "approval_tier": self.approval_tier.name,
                }
                return [*outcomes, Outcome(approved, AuditEventKind.APPROVAL, operator, payload)]
            self._waiting[plan.plan_id] = _Waiting(plan, operator, now + self.timeout_s)
            return outcomes

    def decide(self, approval: Approval, now: float) -> Outcome | str:
        """The operator's decision, or why it was not applied."""
        problem = self._may_approve(approval.operator)
        if problem is not None:
            return f"approval of {approval.plan_id} ignored: {problem}"
        with self._lock:
            waiting = self._waiting.get(approval.plan_id)
            if waiting is None:
                return f"approval of {approval.plan_id} ignored: no plan with that id is waiting"
            del self._waiting[approval.plan_id]
        if not approval.approved:
            reason = f"rejected by {approval.operator}" + (
                f": {approval.reason}" if approval.reason else ""
            )
            return self._reject(waiting, reason, approval.operator)
        plan = waiting.plan.model_copy(
            update={
                "status": PlanStatus.APPROVED,
                "approved_by": approval.operator,
                "approved_at": time.time(),
            }
        )
        payload = {"plan_id": plan.plan_id, "auto": False, "risk_tier": plan.risk_tier.name}
        return Outcome(plan, AuditEventKind.APPROVAL, approval.operator, payload)

    def expire(self, now: float) -> list[Outcome]:
        """Waiting plans past their deadline: a time-out is a denial."""
        with self._lock:
            late = [w for w in self._waiting.values() if now >= w.deadline]
            for waiting in late:
                del self._waiting[waiting.plan.plan_id]
        reason = f"no approval within {self.timeout_s:g} s (a time-out is a denial)"
        return [self._reject(w, reason, "planner_node") for w in late]

    def waiting(self) -> list[str]:
        with self._lock:
            return list(self._waiting)

    @staticmethod
    def _reject(waiting: _Waiting, reason: str, actor: str) -> Outcome:
        plan = waiting.plan.model_copy(update={"status": PlanStatus.REJECTED, "reason": reason})
        payload = {"plan_id": plan.plan_id, "reason": reason, "instructed_by": waiting.operator}
        return Outcome(plan, AuditEventKind.REJECTION, actor, payload)
