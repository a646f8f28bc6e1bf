"""FK against PyBullet's own forward kinematics; the Jacobian against finite differences."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pybullet as pb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embodied_stack.control.kinematics import Chain, down_rotation, rotation_angle, tool_yaw
from embodied_stack.errors import ConfigError
from embodied_stack.robot import RobotProfile, load_robot


@pytest.fixture(scope="module")
def bullet(profile: RobotProfile) -> Iterator[tuple[int, int, dict[str, int]]]:
    client = pb.connect(pb.DIRECT)
    body = pb.loadURDF(str(profile.urdf_path()), useFixedBase=True, physicsClientId=client)
    infos = [
        pb.getJointInfo(body, i, physicsClientId=client)
        for i in range(pb.getNumJoints(body, physicsClientId=client))
    ]
    index = {info[1].decode(): info[0] for info in infos} | {
        info[12].decode(): info[0] for info in infos
    }
    yield client, body, index
    pb.disconnect(physicsClientId=client)


def configurations(
    chain_lower: list[float], chain_upper: list[float]
) -> st.SearchStrategy[np.ndarray]:
    return st.tuples(
        *(st.floats(lo, hi) for lo, hi in zip(chain_lower, chain_upper, strict=True))
    ).map(np.array)


PANDA = load_robot("panda")


@settings(max_examples=40, deadline=None)
@given(q=configurations(PANDA.lower, PANDA.upper))
def test_every_link_frame_matches_pybullet(
    q: np.ndarray, chain: Chain, bullet: tuple[int, int, dict[str, int]]
) -> None:
    client, body, index = bullet
    for name, value in zip(chain.joint_names, q, strict=True):
        pb.resetJointState(body, index[name], float(value), physicsClientId=client)
    frames = chain.link_frames(q)
    assert set(frames) >= {"panda_link1", "panda_link7", "panda_hand", "panda_grasptarget"}
    for link, frame in frames.items():
        if link == chain.base_link:
            continue
        state = pb.getLinkState(
            body, index[link], computeForwardKinematics=True, physicsClientId=client
        )
        rotation = np.array(pb.getMatrixFromQuaternion(state[5])).reshape(3, 3)
        assert np.allclose(frame[:3, 3], state[4], atol=1e-6), link
        assert np.allclose(frame[:3, :3], rotation, atol=1e-6), link
    assert np.allclose(frames[chain.tcp_link], chain.tcp(q))


@settings(max_examples=30, deadline=None)
@given(q=configurations(PANDA.lower, PANDA.upper))
def test_jacobian_matches_finite_differences(q: np.ndarray, chain: Chain) -> None:
    jac, tcp = chain.jacobian(q)
    eps = 1e-6
    for i in range(chain.dof):
        dq = q.copy()
        dq[i] += eps
        moved = chain.tcp(dq)
        assert np.allclose((moved[:3, 3] - tcp[:3, 3]) / eps, jac[:3, i], atol=1e-5)
        spin = moved[:3, :3] @ tcp[:3, :3].T
        omega = (
            np.array([spin[2, 1] - spin[1, 2], spin[0, 2] - spin[2, 0], spin[1, 0] - spin[0, 1]])
            / 2
        )
        assert np.allclose(omega / eps, jac[3:, i], atol=1e-5)


def test_home_points_the_gripper_down(chain: Chain, profile: RobotProfile) -> None:
    tcp = chain.tcp(np.array(profile.home))
    assert rotation_angle(tcp[:3, :3], down_rotation(0.0)) < 1e-3
    assert abs(tool_yaw(tcp[:3, :3])) < 1e-3


def test_other_robots_load_from_their_profile() -> None:
    """Nothing Panda-specific: the UR5e profile gives a working chain too."""
    try:
        ur = load_robot("ur5e")
    except ConfigError as exc:  # the profile belongs to another area; skip if absent
        pytest.skip(f"no ur5e profile: {exc}")
    chain = Chain(ur)
    assert chain.dof == len(ur.joints)
    jac, _ = chain.jacobian(np.array(ur.home))
    assert jac.shape == (6, chain.dof)
