"""Runtime monitor on measured joint states: breaches now, and breaches about to happen."""

from __future__ import annotations

import numpy as np

from embodied_stack.control.ik import IkSolver
from embodied_stack.control.kinematics import Chain
from embodied_stack.motion_types import JointStateSample
from embodied_stack.robot import load_robot
from embodied_stack.safety.monitor import RuntimeMonitor
from embodied_stack.safety.redlines import load_redlines
from embodied_stack.scene import HUMAN_SIZE, ObjectKind
from embodied_stack.schemas import PerceivedObject

PROFILE = load_robot("panda")
HOME = np.array(PROFILE.home)
CHAIN = Chain(PROFILE)
SOLVER = IkSolver(CHAIN)
RED = load_redlines()


def q_at(x: float, y: float, z: float) -> np.ndarray:
    result = SOLVER.solve_down(np.array([x, y, z]), 0.0, HOME)
    assert result.ok
    return result.q


def state(q: np.ndarray, qd: np.ndarray | None = None, stamp: float = 1.0) -> JointStateSample:
    velocities = () if qd is None else tuple(qd)
    return JointStateSample(
        names=tuple(PROFILE.joints), positions=tuple(q), velocities=velocities, stamp=stamp
    )


def monitor() -> RuntimeMonitor:
    return RuntimeMonitor(redlines=RED, source="sim_node")


def down_velocity(q: np.ndarray, speed: float) -> np.ndarray:
    """Joint velocity moving the TCP straight down at `speed` m/s."""
    jac = CHAIN.jacobian(q)[0]
    twist = np.array([0.0, 0.0, -speed, 0.0, 0.0, 0.0])  # no rotation
    return np.linalg.pinv(jac) @ twist


def test_still_at_home_is_clear() -> None:
    assert monitor().check(state(HOME, np.zeros(7))) == []


def test_descending_onto_the_table_is_caught_before_contact() -> None:
    q = q_at(0.5, 0.0, 0.03)
    found = monitor().check(state(q, down_velocity(q, 0.45)))
    table = [v for v in found if v.rule == "below_table"]
    assert table and "predicted" in table[0].where and table[0].source == "sim_node"
    assert monitor().check(state(q, np.zeros(7))) == []


def test_overspeed_from_position_differences() -> None:
    mon = monitor()
    q = q_at(0.5, 0.0, 0.2)
    assert mon.check(state(q, stamp=1.0)) == []
    found = mon.check(state(q + 0.05, stamp=1.01))  # 5 rad/s on every joint
    assert {"joint_speed", "tcp_speed"} <= {v.rule for v in found}


def test_person_too_close_and_missing_joints() -> None:
    mon = monitor()
    person = PerceivedObject(
        id="person", kind=ObjectKind.HUMAN, position=(0.55, 0.45, 0.10), size=HUMAN_SIZE
    )
    mon.update_scene([person])
    found = mon.check(state(q_at(0.5, 0.2, 0.2), np.zeros(7)))
    assert [v.rule for v in found] == ["protective_distance"]
    partial = JointStateSample(names=("panda_joint1",), positions=(0.0,))
    assert [v.rule for v in mon.check(partial)] == ["joint_state"]


def test_monitors_of_a_process_share_one_geometry_apart_from_trajectory_checks() -> None:
    from embodied_stack.safety.geometry import geometry_for

    first, second = monitor(), RuntimeMonitor(redlines=RED, source="motion_node")
    assert first._geometry is second._geometry  # one PyBullet client, not one per node
    assert first._geometry is not geometry_for("panda")  # never behind a trajectory check
    assert first._geometry._client == geometry_for("panda")._client  # ...in one client
    q = q_at(0.5, 0.0, 0.3)
    assert first.check(state(q)) == second.check(state(q)) == []
