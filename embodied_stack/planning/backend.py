"""The planner backend contract: an instruction and a scene in, an untrusted proposal out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from embodied_stack.errors import StackError
from embodied_stack.planning.state import RobotState
from embodied_stack.schemas import PerceivedObject, PlannerKind


class PlannerError(StackError):
    """The backend could not answer (endpoint down, timed out, replied garbage)."""


@dataclass(frozen=True)
class BackendInfo:
    kind: PlannerKind
    model: str  # the name the registry knows it by
    endpoint: str  # "builtin" for the offline planner, else the base URL


@dataclass
class Proposal:
    """What a backend proposes. `steps` is untrusted: validation decides."""

    steps: Any = None
    rationale: str = ""
    refusal: str | None = None  # the backend declines, with its reason
    refusal_rule: str = "model_refused"
    prompt_sha256: str | None = None
    model_ms: float = 0.0  # time spent waiting for the model itself


class PlannerBackend(Protocol):
    @property
    def info(self) -> BackendInfo: ...

    def propose(
        self, instruction: str, objects: Sequence[PerceivedObject], robot_state: RobotState
    ) -> Proposal:
        """A proposal, or PlannerError when the backend cannot answer at all."""
        ...
