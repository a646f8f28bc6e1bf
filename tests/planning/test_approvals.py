"""The approval book: auto-approval below the tier, operator decisions, time-out = denial."""

from __future__ import annotations

from embodied_stack.planning.approvals import ApprovalBook
from embodied_stack.schemas import (
    Approval,
    AuditEventKind,
    Plan,
    PlannerKind,
    PlanStatus,
    Provenance,
    RiskTier,
)

OPERATORS = {"alice": None, "bob": "'bob' has role viewer, which may not approve plans"}


def may_approve(name: str) -> str | None:
    return OPERATORS.get(name, f"{name!r} is not an operator in the registry")


def book() -> ApprovalBook:
    return ApprovalBook(approval_tier=RiskTier.HIGH, timeout_s=10.0, may_approve=may_approve)


def plan(tier: RiskTier) -> Plan:
    provenance = Provenance(planner=PlannerKind.OFFLINE, model="offline-grammar-1")
    return Plan(provenance=provenance, risk_tier=tier, instruction="x")


def test_below_the_tier_is_approved_at_once() -> None:
    (outcome,) = book().admit(plan(RiskTier.MEDIUM), "alice", now=0.0)
    assert outcome.plan.status is PlanStatus.APPROVED and outcome.plan.approved_by == "auto"
    assert outcome.kind is AuditEventKind.APPROVAL and outcome.actor == "alice"


def test_at_the_tier_waits_and_only_a_permitted_operator_decides() -> None:
    approvals = book()
    waiting = plan(RiskTier.HIGH)
    assert approvals.admit(waiting, "alice", now=0.0) == []
    assert approvals.waiting() == [waiting.plan_id]
    for who in ("bob", "mallory"):
        result = approvals.decide(Approval(plan_id=waiting.plan_id, approved=True, operator=who), 1)
        assert isinstance(result, str) and who in result
    result = approvals.decide(Approval(plan_id=waiting.plan_id, approved=True, operator="alice"), 1)
    assert not isinstance(result, str)
    assert result.plan.status is PlanStatus.APPROVED and result.plan.approved_by == "alice"
    assert approvals.waiting() == []


def test_rejection_carries_the_operators_reason() -> None:
    approvals = book()
    waiting = plan(RiskTier.HIGH)
    approvals.admit(waiting, "alice", now=0.0)
    decision = Approval(plan_id=waiting.plan_id, approved=False, operator="alice", reason="no")
    result = approvals.decide(decision, 1.0)
    assert not isinstance(result, str)
    assert result.plan.status is PlanStatus.REJECTED and result.kind is AuditEventKind.REJECTION
    assert result.plan.reason == "rejected by alice: no"


def test_time_out_is_a_denial_and_late_approvals_are_ignored() -> None:
    approvals = book()
    waiting = plan(RiskTier.HIGH)
    approvals.admit(waiting, "alice", now=0.0)
    assert approvals.expire(now=9.9) == []
    (outcome,) = approvals.expire(now=10.0)
    assert outcome.plan.status is PlanStatus.REJECTED and "denial" in (outcome.plan.reason or "")
    late = approvals.decide(Approval(plan_id=waiting.plan_id, approved=True, operator="alice"), 11)
    assert isinstance(late, str) and "no plan with that id is waiting" in late


def test_a_newer_plan_supersedes_a_waiting_one() -> None:
    approvals = book()
    first, second = plan(RiskTier.HIGH), plan(RiskTier.LOW)
    approvals.admit(first, "alice", now=0.0)
    rejected, approved = approvals.admit(second, "alice", now=1.0)
    assert rejected.plan.plan_id == first.plan_id and rejected.plan.status is PlanStatus.REJECTED
    assert approved.plan.plan_id == second.plan_id and approved.plan.status is PlanStatus.APPROVED
