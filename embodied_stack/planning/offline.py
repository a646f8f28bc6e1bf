"""The offline planner: an instruction in English or Chinese -> draft plan steps.

The grammar gives clauses with roles; this module turns each clause into skill
steps against the perceived objects (resolving references, expanding plurals,
sorting by colour, setting down what was taken off something). Its drafts go
through the same validation as a model's reply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from embodied_stack.planning.backend import BackendInfo, Proposal
from embodied_stack.planning.draft import DraftBuilder, Step
from embodied_stack.planning.grammar import Clause, parse
from embodied_stack.planning.intents import build_clause
from embodied_stack.planning.lexer import tokenize
from embodied_stack.planning.refusal import Refusal
from embodied_stack.planning.screen import screen
from embodied_stack.planning.state import RobotState
from embodied_stack.schemas import PerceivedObject, PlannerKind

OFFLINE_MODEL = "offline-grammar-1"  # its name in config/registry.yaml
BUILTIN_ENDPOINT = "builtin"
CAPABILITIES = (
    "I can pick up, put, stack and sort objects on the table, move an object to x, y, "
    "move the gripper to x, y, z, open or close the gripper, wait, and go home"
)


@dataclass
class Draft:
    steps: list[Step]
    rationale: str


def plan_offline(
    instruction: str, objects: Sequence[PerceivedObject], *, holding: str | None = None
) -> Draft:
    """Draft steps for an instruction; raises Refusal with a readable reason."""
    tokens = tokenize(instruction, {o.id for o in objects})
    clauses = parse(tokens)
    screen(tokens, clauses, strict=True)
    builder = DraftBuilder(objects=objects, held=holding, last=[holding] if holding else [])
    understood: list[str] = []
    for clause in clauses:
        if build_clause(builder, clause):
            understood.append(clause.text)
        elif _is_chatter(clause):
            continue
        else:
            raise _not_understood(instruction, clause, understood)
    if builder.held is not None and builder.held == builder.set_down:
        builder.put_aside()
    if not builder.steps:
        raise _not_understood(instruction, None, understood)
    rationale = "offline grammar: " + "; ".join(understood)
    if builder.notes:
        rationale += " (" + "; ".join(builder.notes) + ")"
    return Draft(steps=builder.steps, rationale=rationale)


def _is_chatter(clause: Clause) -> bool:
    """Greetings and thanks between actions: no verb, no object, no unknown words."""
    return clause.verb is None and not clause.unknown and not clause.references()


def _not_understood(instruction: str, clause: Clause | None, understood: list[str]) -> Refusal:
    if clause is not None and understood:
        return Refusal(
            "not_understood",
            f"I understood {understood} but not '{clause.text}'; {CAPABILITIES}",
        )
    return Refusal(
        "not_a_task",
        f"sorry, '{instruction.strip()}' is not something I can do as a robot arm; {CAPABILITIES}",
    )


class OfflineBackend:
    """The built-in planner as a backend (registered as offline-grammar-1 at "builtin")."""

    info = BackendInfo(kind=PlannerKind.OFFLINE, model=OFFLINE_MODEL, endpoint=BUILTIN_ENDPOINT)

    def propose(
        self, instruction: str, objects: Sequence[PerceivedObject], robot_state: RobotState
    ) -> Proposal:
        try:
            draft = plan_offline(instruction, objects, holding=robot_state.holding)
        except Refusal as refusal:
            return Proposal(refusal=refusal.detail, refusal_rule=refusal.rule)
        return Proposal(steps=draft.steps, rationale=draft.rationale)
