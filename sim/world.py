"""SimWorld: one PyBullet client holding a scene, a robot and a camera.

Every PyBullet call passes this world's own client id, so several worlds (the
simulator, the dry-run twin, tests) live side by side in one process.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

import numpy as np
import numpy.typing as npt
import pybullet as pb

from embodied_stack.camera import CameraConfig
from embodied_stack.motion_types import JointStateSample, JointTrajectoryCommand
from embodied_stack.robot import RobotProfile, load_robot
from embodied_stack.scene import Scene
from embodied_stack.schemas import GroundTruth

from .arm import Arm
from .bodies import build_objects, build_table, draw_keep_out
from .ground_truth import read_ground_truth
from .render import render
from .trajectory import TrajectoryFollower

Array = npt.NDArray[np.float64]
StepListener = Callable[["SimWorld"], None]

SOLVER_ITERATIONS = 50


class SimWorld:
    """A headless (or GUI) physics world built from a suite scene."""

    def __init__(
        self,
        *,
        scene: Scene,
        robot: RobotProfile | None = None,
        camera: CameraConfig | None = None,
        gui: bool = False,
        physics_hz: float = 240.0,
        visuals: bool = True,
    ) -> None:
        """`visuals=False`: the robot without its visual meshes (~50 MB less), for a
        world that never renders (physics only, or camera frames from a RenderWorker)."""
        if not physics_hz > 0:
            raise ValueError(f"physics_hz must be positive, got {physics_hz}")
        self.robot = robot or load_robot("panda")
        self.camera = camera or CameraConfig()
        self.gui = gui
        self.visuals = visuals or gui
        self.physics_hz = physics_hz
        self.dt = 1.0 / physics_hz
        self.client: int = pb.connect(pb.GUI if gui else pb.DIRECT)
        self.scene = scene
        self.sim_time = 0.0
        self.objects: dict[str, int] = {}
        self.fixtures: dict[int, str] = {}
        self.listeners: list[StepListener] = []
        self.last_rejection: list[str] = []
        self.follower = TrajectoryFollower(
            joint_names=self.robot.joints,
            lower=self.robot.lower,
            upper=self.robot.upper,
            max_velocity=self.robot.max_velocity,
        )
        self._gripper_target = self.robot.gripper.max_opening
        self.arm = self._build()

    # ---- lifecycle --------------------------------------------------------------------

    def _build(self) -> Arm:
        c = self.client
        pb.resetSimulation(physicsClientId=c)
        pb.setGravity(0, 0, -9.81, physicsClientId=c)
        pb.setPhysicsEngineParameter(
            fixedTimeStep=self.dt, numSolverIterations=SOLVER_ITERATIONS, physicsClientId=c
        )
        table, floor = build_table(c)
        self.fixtures = {table: "table", floor: "floor"}
        arm = Arm(c, self.robot, visuals=self.visuals)
        arm.reset_home()
        self.objects = build_objects(c, self.scene)
        if self.gui:
            pb.removeAllUserDebugItems(physicsClientId=c)
            draw_keep_out(c, self.scene.keep_out)
        self.sim_time = 0.0
        self._gripper_target = self.robot.gripper.max_opening
        self.follower.hold(np.array(self.robot.home), 0.0)
        self.last_rejection = []
        return arm

    def reset(self, scene: Scene | None = None) -> None:
        """Rebuild the objects (of a new scene if given), arm at home, gripper open, t = 0."""
        if scene is not None:
            self.scene = scene
        self.arm = self._build()

    def close(self) -> None:
        if pb.isConnected(physicsClientId=self.client):
            pb.disconnect(physicsClientId=self.client)

    def __enter__(self) -> SimWorld:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ---- stepping and commands --------------------------------------------------------

    def step(self, n: int = 1) -> None:
        """Advance n physics steps, following the active trajectory and gripper command."""
        for _ in range(n):
            q, qd = self.follower.sample(self.sim_time + self.dt)
            self.arm.drive(q, qd)
            pb.stepSimulation(physicsClientId=self.client)
            self.sim_time += self.dt
            for listener in self.listeners:
                listener(self)

    def command_trajectory(self, cmd: JointTrajectoryCommand) -> list[str]:
        """Follow cmd (replacing the active one); problems reject it and the arm holds."""
        problems = self.follower.start(cmd, self.sim_time)
        self.last_rejection = problems
        if problems:
            self.hold()
        return problems

    def hold(self) -> None:
        """Hold the current measured arm position."""
        q, _qd, _e = self.arm.joint_arrays(self.arm.arm_joints)
        self.follower.hold(q, self.sim_time)

    def set_gripper(self, opening: float) -> None:
        """Finger opening in m, clamped to [0, max_opening]; closing squeezes at max_force."""
        if not np.isfinite(opening):
            raise ValueError(f"gripper opening must be finite, got {opening}")
        self._gripper_target = float(np.clip(opening, 0.0, self.robot.gripper.max_opening))
        self.arm.drive_fingers(self._gripper_target)

    @property
    def gripper_target(self) -> float:
        return self._gripper_target

    def teleport(self, object_id: str, xy: tuple[float, float]) -> None:
        """Move an object to (x, y) at its current height and orientation, at rest."""
        body = self.objects[object_id]
        pos, orn = pb.getBasePositionAndOrientation(body, physicsClientId=self.client)
        pb.resetBasePositionAndOrientation(
            body, [xy[0], xy[1], pos[2]], orn, physicsClientId=self.client
        )
        pb.resetBaseVelocity(body, [0, 0, 0], [0, 0, 0], physicsClientId=self.client)

    # ---- sensing ----------------------------------------------------------------------

    def joint_state(self) -> JointStateSample:
        joints = self.arm.arm_joints + self.arm.finger_joints
        q, qd, effort = self.arm.joint_arrays(joints)
        return JointStateSample(
            names=tuple(self.arm.joint_names),
            positions=tuple(q.tolist()),
            velocities=tuple(qd.tolist()),
            efforts=tuple(effort.tolist()),
            stamp=self.sim_time,
        )

    def tcp_pose(self) -> tuple[Array, Array]:
        pos, orn, _vel = self.arm.link_pose(self.arm.tcp_link)
        return pos, orn

    def render(
        self, camera: CameraConfig | None = None
    ) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
        """RGB (H, W, 3) uint8 and metric depth along optical z (H, W) float32."""
        if not self.visuals:  # the arm would be missing from the frame
            raise RuntimeError("this SimWorld was built without visuals: it cannot render")
        return render(self.client, camera or self.camera)

    def ground_truth(self) -> GroundTruth:
        return read_ground_truth(self)
