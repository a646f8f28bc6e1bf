"""Camera rendering in a separate process, from snapshots of a SimWorld.

PyBullet's tiny renderer holds the interpreter lock for the whole frame (~80 ms
at 640x480), which would stall every other thread of a one-process stack
(heartbeats included). The worker keeps a mirror of the scene in its own
process: the simulator sends body poses and joint positions, the worker poses
its mirror identically and renders, and the simulator keeps stepping meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import numpy.typing as npt
import pybullet as pb

from embodied_stack.camera import CameraConfig
from embodied_stack.robot import RobotProfile
from embodied_stack.scene import Scene

from .world import SimWorld

Frame = tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]
Pose = tuple[tuple[float, ...], tuple[float, ...]]


@dataclass(frozen=True)
class Snapshot:
    """Everything the camera can see that moves: object poses and robot joints."""

    objects: dict[str, Pose]
    joints: list[tuple[int, float]]
    camera: CameraConfig


def snapshot(world: SimWorld, camera: CameraConfig | None = None) -> Snapshot:
    c, arm = world.client, world.arm
    objects = {
        object_id: pb.getBasePositionAndOrientation(body, physicsClientId=c)
        for object_id, body in world.objects.items()
    }
    indices = list(range(pb.getNumJoints(arm.body, physicsClientId=c)))
    states = pb.getJointStates(arm.body, indices, physicsClientId=c)
    joints = [(i, float(s[0])) for i, s in zip(indices, states, strict=True)]
    return Snapshot(objects, joints, camera or world.camera)


def pose_mirror(world: SimWorld, snap: Snapshot) -> None:
    """Put a mirror world's bodies where the snapshot says (no physics)."""
    c, arm = world.client, world.arm
    for object_id, (pos, orn) in snap.objects.items():
        pb.resetBasePositionAndOrientation(world.objects[object_id], pos, orn, physicsClientId=c)
    for index, q in snap.joints:
        pb.resetJointState(arm.body, index, q, 0.0, physicsClientId=c)


def _serve(conn: Connection) -> None:
    """The worker process: build the mirror, then answer render and reset requests."""
    scene_json, robot_json = conn.recv()
    robot = RobotProfile.model_validate_json(robot_json)
    scene = Scene.model_validate_json(scene_json)
    # EOF or a broken pipe: the simulator is gone, and so are we.
    with SimWorld(scene=scene, robot=robot) as mirror, contextlib.suppress(EOFError, OSError):
        while True:
            kind, payload = conn.recv()
            if kind == "render":
                pose_mirror(mirror, payload)
                conn.send(mirror.render(payload.camera))
            elif kind == "reset":
                mirror.reset(Scene.model_validate_json(payload))
            elif kind == "close":
                return


class RenderWorker:
    """One render at a time in flight: `submit` a snapshot, later `collect` the frame."""

    def __init__(self, *, scene: Scene, robot: RobotProfile) -> None:
        # A fresh interpreter (not fork: the parent runs DDS threads; not
        # multiprocessing's spawn: it would re-run the parent's main script).
        ours, theirs = socket.socketpair()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", __name__, str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            # Ctrl-C is the parent's to handle (EOF ends the worker). A process group of
            # its own, not a session: the kernel's autogroups are per session, and
            # the worker's lower priority (below) only counts within the stack's group.
            process_group=0,
        )
        theirs.close()
        self._conn = Connection(ours.detach())
        self._conn.send((scene.model_dump_json(), robot.model_dump_json()))
        self.in_flight: Any = None  # the caller's tag of the frame being rendered

    def submit(self, snap: Snapshot, tag: Any = None) -> None:
        if self.in_flight is not None:
            raise RuntimeError("a frame is already being rendered; collect it first")
        self._conn.send(("render", snap))
        self.in_flight = tag if tag is not None else True

    def ready(self) -> bool:
        """A frame is in flight and finished (collect will not wait)."""
        return self.in_flight is not None and self._conn.poll(0)

    def collect(self) -> tuple[Any, Frame]:
        """Wait for the frame in flight (the interpreter is free meanwhile); (tag, frame)."""
        if self.in_flight is None:
            raise RuntimeError("no frame in flight")
        frame: Frame = self._conn.recv()
        tag, self.in_flight = self.in_flight, None
        return tag, frame

    def render(self, snap: Snapshot) -> Frame:
        self.submit(snap)
        return self.collect()[1]

    def reset(self, scene: Scene) -> None:
        """Rebuild the mirror for a new scene (drops a frame in flight)."""
        if self.in_flight is not None:
            self.collect()
        self._conn.send(("reset", scene.model_dump_json()))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.send(("close", None))
        self._conn.close()
        try:
            self._proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> RenderWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Rendering is bulk work: the stack's control and safety threads come first.
RENDER_NICENESS = 10

if __name__ == "__main__":
    os.nice(RENDER_NICENESS)
    _serve(Connection(int(sys.argv[1])))
