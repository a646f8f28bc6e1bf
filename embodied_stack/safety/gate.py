"""The red-line gate PlanExecutor calls before sending each trajectory.

`RedLineGate` is a `TrajectoryGate` (embodied_stack.control.executor): it runs
`check_trajectory` with the step's context (objects, what is held, the planned
start) and returns the violations; every one found is also kept in `violations`
for the motion status, the audit log and incident bundles.
"""

from __future__ import annotations

from embodied_stack.control.executor import GateInfo
from embodied_stack.motion_types import JointTrajectoryCommand
from embodied_stack.safety.geometry import RobotGeometry
from embodied_stack.safety.redlines import RedLines
from embodied_stack.safety.trajectory_check import CheckContext, check_trajectory
from embodied_stack.schemas import Violation


class RedLineGate:
    """Callable as a TrajectoryGate; not thread-safe (one per executor thread)."""

    def __init__(
        self,
        redlines: RedLines,
        *,
        robot: str = "panda",
        source: str = "plan_check",
        geometry: RobotGeometry | None = None,
    ) -> None:
        self.redlines = redlines
        self.robot, self.source = robot, source
        self._geometry = geometry
        self.violations: list[Violation] = []

    def __call__(self, cmd: JointTrajectoryCommand, info: GateInfo) -> list[Violation]:
        ctx = CheckContext.from_objects(
            self.redlines,
            info.objects,
            holding=info.holding,
            start=info.start,
            robot=self.robot,
            step=info.step_index,
            label=info.label,
            source=self.source,
        )
        found = check_trajectory(cmd, ctx, self._geometry)
        self.violations += found
        return found
