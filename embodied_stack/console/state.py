"""The console's picture of the robot, built from plain messages (no ROS here).

console_node feeds it what it hears; it keeps the latest of each stream, turns
joint states into a TCP pose, encodes camera frames as JPEG for browsers, and
tells listeners what changed. Thread-safe: callbacks arrive on executor threads.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from embodied_stack.console.backend import (
    ConsoleListener,
    ConsoleSnapshot,
    ConsoleUpdate,
    JointsView,
    TcpPose,
    UpdateKind,
)
from embodied_stack.control.kinematics import Chain
from embodied_stack.errors import SchemaError
from embodied_stack.motion_types import JointStateSample
from embodied_stack.robot import RobotProfile
from embodied_stack.schemas import (
    AuditEvent,
    AuditEventKind,
    AuditHead,
    MotionStatus,
    ObjectsMessage,
    Plan,
    SafetyStatus,
    Violation,
)

MAX_PLANS = 20
MAX_VIOLATIONS = 100
JPEG_QUALITY = 80


def _quaternion(rotation: npt.NDArray[np.float64]) -> tuple[float, float, float, float]:
    """x, y, z, w of a rotation matrix (Shepperd's method: stable for every pose)."""
    m = rotation
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    if trace > 0:
        s = 2.0 * np.sqrt(trace + 1.0)
        q = ((m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, s / 4)
    else:
        i = int(np.argmax([m[0, 0], m[1, 1], m[2, 2]]))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(1.0 + m[i, i] - m[j, j] - m[k, k])
        v = [0.0, 0.0, 0.0]
        v[i], v[j], v[k] = s / 4, (m[j, i] + m[i, j]) / s, (m[k, i] + m[i, k]) / s
        q = (v[0], v[1], v[2], (m[k, j] - m[j, k]) / s)
    return (float(q[0]), float(q[1]), float(q[2]), float(q[3]))


def violations_in(event: AuditEvent) -> list[Violation]:
    """Red-line violations carried by an audit event (one, or a list under `violations`)."""
    if event.kind != AuditEventKind.VIOLATION and "violations" not in event.payload:
        return []
    raw = event.payload.get("violations", [event.payload])
    found = []
    for item in raw if isinstance(raw, list) else []:
        try:
            found.append(Violation.model_validate(item))
        except ValueError:
            continue  # a payload of another shape: the audit view still shows it
    return found


class LiveState:
    def __init__(self, robot_id: str, profile: RobotProfile) -> None:
        self._lock = threading.Lock()
        self._snapshot = ConsoleSnapshot(robot_id=robot_id)
        self._plans: OrderedDict[str, Plan] = OrderedDict()
        self._violations: deque[Violation] = deque(maxlen=MAX_VIOLATIONS)
        self._listeners: list[ConsoleListener] = []
        self._profile = profile
        self._chain = Chain(profile)
        self._last_beat: float | None = None
        self._joints: JointStateSample | None = None
        self._frame: npt.NDArray[np.uint8] | None = None
        self._jpeg: bytes | None = None

    # ---- listeners ----------------------------------------------------------------------

    def subscribe(self, listener: ConsoleListener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _push(self, kind: UpdateKind, data: dict[str, Any], key: str = "") -> None:
        update = ConsoleUpdate(kind=kind, data=data, key=key)
        for listener in list(self._listeners):
            listener.on_update(update)

    # ---- inputs -------------------------------------------------------------------------

    def on_joints(self, sample: JointStateSample) -> None:
        """Keep the sample; views (and the TCP by FK) are built only when someone looks."""
        with self._lock:
            self._joints = sample
            watching = bool(self._listeners)
        if watching:  # every sample goes out; a slow browser's outbox keeps the newest
            joints, tcp = self._joint_views(sample)
            self._push(UpdateKind.JOINTS, joints.model_dump(mode="json"))
            if tcp is not None:
                self._push(UpdateKind.TCP, tcp.model_dump(mode="json"))

    def _joint_views(self, sample: JointStateSample) -> tuple[JointsView, TcpPose | None]:
        joints = JointsView(
            names=list(sample.names),
            positions=list(sample.positions),
            velocities=list(sample.velocities),
            stamp=sample.stamp,
        )
        return joints, self._tcp(sample)

    def _tcp(self, sample: JointStateSample) -> TcpPose | None:
        by_name = sample.as_dict()
        if not all(j in by_name for j in self._chain.joint_names):
            return None
        pose = self._chain.tcp(np.array([by_name[j] for j in self._chain.joint_names]))
        fingers = [by_name[j] for j in self._profile.gripper.joints if j in by_name]
        return TcpPose(
            position=(float(pose[0, 3]), float(pose[1, 3]), float(pose[2, 3])),
            orientation=_quaternion(pose[:3, :3]),
            gripper_opening=float(sum(fingers)) if fingers else None,
        )

    def on_objects(self, message: ObjectsMessage) -> None:
        with self._lock:
            self._snapshot.objects = list(message.objects)
        self._push(
            UpdateKind.OBJECTS, {"objects": [o.model_dump(mode="json") for o in message.objects]}
        )

    def on_estop(self, latched: bool) -> None:
        with self._lock:
            self._snapshot.estop = latched
        self._push(UpdateKind.ESTOP, {"estop": latched})

    def on_safety(self, status: SafetyStatus) -> None:
        with self._lock:
            self._snapshot.safety = status
        self._push(UpdateKind.SAFETY, status.model_dump(mode="json"))

    def on_heartbeat(self) -> None:
        self._last_beat = time.monotonic()  # wall-clock age, never stamps (DESIGN §5)

    def on_motion(self, status: MotionStatus) -> None:
        with self._lock:
            self._snapshot.motion = status
        self._push(UpdateKind.MOTION, status.model_dump(mode="json"))

    def on_plan(self, plan: Plan) -> None:
        with self._lock:
            self._plans.pop(plan.plan_id, None)
            self._plans[plan.plan_id] = plan
            while len(self._plans) > MAX_PLANS:
                self._plans.popitem(last=False)
        self._push(UpdateKind.PLAN, plan.model_dump(mode="json"), key=plan.plan_id)

    def on_audit_event(self, event: AuditEvent) -> None:
        self._push(UpdateKind.AUDIT, event.model_dump(mode="json"))
        for violation in violations_in(event):
            self.add_violation(violation)

    def add_violation(self, violation: Violation) -> None:
        with self._lock:
            self._violations.append(violation)
        self._push(UpdateKind.VIOLATION, violation.model_dump(mode="json"))

    def on_audit_head(self, head: AuditHead) -> None:
        with self._lock:
            self._snapshot.audit_head = head
        self._push(UpdateKind.AUDIT_HEAD, head.model_dump(mode="json"))

    def on_frame(self, rgb: npt.NDArray[np.uint8]) -> None:
        """Keep the frame; encode it only when someone is watching."""
        with self._lock:
            self._frame, self._jpeg = rgb, None
            watching = bool(self._listeners)
        if watching:
            jpeg = self.latest_frame()
            if jpeg is not None:
                for listener in list(self._listeners):
                    listener.on_frame(jpeg)

    # ---- outputs ------------------------------------------------------------------------

    def plan(self, plan_id: str) -> Plan | None:
        with self._lock:
            return self._plans.get(plan_id)

    def heartbeat_age_s(self) -> float | None:
        beat = self._last_beat
        return None if beat is None else time.monotonic() - beat

    def latest_frame(self) -> bytes | None:
        with self._lock:
            frame, jpeg = self._frame, self._jpeg
        if jpeg is not None or frame is None:
            return jpeg
        ok, buffer = cv2.imencode(
            ".jpg", frame[:, :, ::-1], [int(cv2.IMWRITE_JPEG_QUALITY), JPEG_QUALITY]
        )
        if not ok:
            raise SchemaError("camera frame could not be encoded as JPEG")
        jpeg = buffer.tobytes()
        with self._lock:
            if self._frame is frame:
                self._jpeg = jpeg
        return jpeg

    def snapshot(self) -> ConsoleSnapshot:
        with self._lock:
            snapshot = self._snapshot.model_copy(
                update={"plans": list(self._plans.values()), "violations": list(self._violations)}
            )
            sample = self._joints
        if sample is not None:
            snapshot.joints, snapshot.tcp = self._joint_views(sample)
        snapshot.heartbeat_age_s = self.heartbeat_age_s()
        return snapshot
