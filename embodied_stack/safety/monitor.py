"""Runtime red-line monitor on the measured joint state.

Runs in motion_node and again on the actuator side (sim_node, driver bridge):
each joint state is checked as it is (every link, the TCP, joint and TCP speed)
and as it will be `horizon_s` later at the current velocity, so a breach is
caught before it happens. Violations carry `source` (the node) and say
"predicted" for the look-ahead.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from embodied_stack.motion_types import JointStateSample
from embodied_stack.safety.geometry import MONITORS, RobotGeometry, geometry_for
from embodied_stack.safety.redlines import RedLines
from embodied_stack.safety.sampling import Sample
from embodied_stack.safety.trajectory_check import CheckContext, check_sample
from embodied_stack.safety.violations import Collector, object_box
from embodied_stack.scene import ObjectKind
from embodied_stack.schemas import PerceivedObject, Violation

DEFAULT_HORIZON_S = 0.1
# Measured speeds carry controller overshoot and noise: a breach is a clear excess.
DEFAULT_SPEED_TOLERANCE = 0.05
# Extra distance kept from keep-out boxes and people on top of the look-ahead.
# 0 by default: planned paths may pass just outside the protective distance, and
# the look-ahead already trips before the line is reached.
DEFAULT_CLEARANCE = 0.0


class RuntimeMonitor:
    """Checks measured joint states against the red lines (one per thread)."""

    def __init__(
        self,
        *,
        redlines: RedLines,
        source: str,
        robot: str = "panda",
        horizon_s: float = DEFAULT_HORIZON_S,
        speed_tolerance: float = DEFAULT_SPEED_TOLERANCE,
        clearance: float = DEFAULT_CLEARANCE,
        geometry: RobotGeometry | None = None,
    ) -> None:
        # The process's monitor geometry (every monitor of the process uses it under its
        # lock), so a stack does not hold one PyBullet client per monitoring node.
        self._geometry = geometry or geometry_for(robot, MONITORS)
        self._ctx = CheckContext(redlines=redlines, robot=robot, source=source)
        self._horizon_s = horizon_s
        self._speed_tolerance = speed_tolerance
        self._clearance = clearance
        self._joints = list(self._geometry.profile.joints)
        self._limits = np.array(redlines.joint_speed_limits(self._geometry.profile))
        self._previous: tuple[float, np.ndarray] | None = None
        self._lock = threading.Lock()

    @property
    def context(self) -> CheckContext:
        return self._ctx

    def update_scene(self, objects: Sequence[PerceivedObject], holding: str | None = None) -> None:
        """People (and the held object) from the latest perception."""
        with self._lock:
            people = tuple(object_box(o) for o in objects if o.kind is ObjectKind.HUMAN)
            held = next((o for o in objects if o.id == holding), None)
            self._ctx = CheckContext(
                redlines=self._ctx.redlines,
                people=people,
                holding=held,
                robot=self._ctx.robot,
                source=self._ctx.source,
            )

    def update_redlines(self, redlines: RedLines) -> None:
        """Swap the red lines (e.g. a scene's keep-outs); callers pass only tightened ones."""
        with self._lock:
            self._ctx = CheckContext(
                redlines=redlines,
                people=self._ctx.people,
                holding=self._ctx.holding,
                robot=self._ctx.robot,
                source=self._ctx.source,
            )
            self._limits = np.array(redlines.joint_speed_limits(self._geometry.profile))

    def check(self, state: JointStateSample) -> list[Violation]:
        """Violations now and predicted `horizon_s` ahead (empty: all clear).

        Thread-safe: calls are serialised, and the shared geometry is held throughout."""
        with self._lock, self._geometry.lock:
            return self._check_locked(state)

    def _check_locked(self, state: JointStateSample) -> list[Violation]:
        collector = Collector(source=self._ctx.source)
        q = self._positions(state, collector)
        if q is None:
            return collector.violations()
        qd = self._velocities(state, q)
        now = Sample(t=state.stamp, q=q, qd=qd)
        self._check(now, collector)
        ahead = Sample(t=state.stamp + self._horizon_s, q=q + qd * self._horizon_s, qd=qd)
        predicted = Collector(source=self._ctx.source, label="predicted")
        self._check(ahead, predicted)
        known = {v.rule for v in collector.violations()}
        return collector.violations() + [v for v in predicted.violations() if v.rule not in known]

    def _check(self, sample: Sample, collector: Collector) -> None:
        check_sample(
            sample,
            self._ctx,
            self._geometry,
            collector,
            self._limits,
            margin=0.0,
            clearance=self._clearance,
            speed_tolerance=self._speed_tolerance,
        )

    def _positions(self, state: JointStateSample, collector: Collector) -> np.ndarray | None:
        by_name = dict(zip(state.names, state.positions, strict=False))
        missing = [j for j in self._joints if j not in by_name]
        if missing:
            collector.add("joint_state", f"missing {', '.join(missing)}", len(missing), 0.0)
            return None
        return np.array([by_name[j] for j in self._joints], dtype=float)

    def _velocities(self, state: JointStateSample, q: np.ndarray) -> np.ndarray:
        """Measured velocities, else differences of consecutive positions."""
        previous, self._previous = self._previous, (state.stamp, q)
        if len(state.velocities) == len(state.names):
            by_name = dict(zip(state.names, state.velocities, strict=True))
            return np.array([by_name[j] for j in self._joints], dtype=float)
        if previous is None or state.stamp <= previous[0]:
            return np.zeros(len(q))
        velocity: np.ndarray = (q - previous[1]) / (state.stamp - previous[0])
        return velocity
