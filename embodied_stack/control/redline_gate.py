"""The red-line gate: every trajectory is checked by the safety core before it is sent."""

from __future__ import annotations

from embodied_stack.control.executor import GateInfo, TrajectoryGate
from embodied_stack.motion_types import JointTrajectoryCommand
from embodied_stack.safety.redlines import RedLines
from embodied_stack.safety.trajectory_check import CheckContext, check_trajectory
from embodied_stack.schemas import Violation


def redline_gate(redlines: RedLines, robot: str, *, source: str = "motion_node") -> TrajectoryGate:
    """A gate calling `embodied_stack.safety.check_trajectory` with the executor's context."""

    def gate(command: JointTrajectoryCommand, info: GateInfo) -> list[Violation]:
        context = CheckContext.from_objects(
            redlines,
            list(info.objects),
            holding=info.holding,
            start=info.start,
            robot=robot,
            step=info.step_index,
            label=info.label,
            source=source,
        )
        return check_trajectory(command, context)

    return gate
