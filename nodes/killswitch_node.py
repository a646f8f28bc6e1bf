"""killswitch_node: the latched e-stop of one robot, and its heartbeat.

Inputs: the configured hardware (serial box, GPIO line, HID key), software trips
on `safety/trip`, the fleet-wide `/fleet/estop`, and the death of any process of
the stack (`watch_nodes`, nodes/alive.py). Any one sets the latch; `safety/estop`
stays true until an authorised reset with every input released. The heartbeat
comes from its own thread, so a busy executor never starves it; motion_node and
the actuator side hold when it goes quiet.

The latch outlives the process (`state_file`, safety/estop_state.py): a restarted
kill switch comes up latched unless the file says the last stop was reset and the
last kill switch shut down cleanly (its own death is a stop that needs a reset).
A stop is announced before it is written; a release only once it is on disk.

Reset paths: `safety/reset_request` (JSON ResetRequest: operator + token checked
against the registry; role safety_officer), answered on `safety/reset_result`.
The std_srvs/Trigger `safety/reset` has no caller identity, so it works only when
`allow_trigger_reset` is true (a trusted bench set-up); otherwise it refuses.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import Bool, Header, String
from std_srvs.srv import Trigger

from embodied_stack.audit.registry import registry_robot_id
from embodied_stack.errors import ConfigError, SchemaError
from embodied_stack.hardware.base import EstopInput, EstopInputError
from embodied_stack.hardware.inputs import EstopInputsConfig, build_inputs
from embodied_stack.nodes import qos
from embodied_stack.nodes.alive import STACK_NODES, DeathWatch
from embodied_stack.nodes.audit_client import AuditClient
from embodied_stack.nodes.heartbeat import SafetyParticipant
from embodied_stack.nodes.ros_conversions import json_to_ros, time_to_ros
from embodied_stack.nodes.spin import spin_node
from embodied_stack.realtime import (
    HEARTBEAT_PRIORITY,
    KILLSWITCH_PRIORITY,
    SAFETY_SWITCH_INTERVAL_S,
    realtime_priority,
)
from embodied_stack.safety.estop import FLEET_INPUT, STARTUP, EstopLatch, ResetResult
from embodied_stack.safety.estop_state import DEFAULT_STATE_FILE as STATE_FILE
from embodied_stack.safety.estop_state import LatchStore, boot_cause, state_path
from embodied_stack.safety.reset_auth import Authorizer, RegistryAuthorizer, reset_roles
from embodied_stack.schemas import ResetOutcome, ResetRequest, Trip, from_json

TRUSTED_LOCAL = "local-trigger"


def _describe(text: str, **ranges: Any) -> ParameterDescriptor:
    return ParameterDescriptor(description=text, **ranges)


class KillswitchNode(Node):
    def __init__(self, *, authorizer: Authorizer | None = None, **node_kwargs: Any) -> None:
        super().__init__("killswitch_node", **node_kwargs)
        # A safety device keeps wall time: a simulated clock (and its 50 Hz topic) has
        # nothing to say about when a heartbeat is due or a stop happened.
        if self.get_parameter("use_sim_time").value:
            self.set_parameters([Parameter("use_sim_time", value=False)])
        self._declare_parameters()
        self._lock = threading.RLock()
        registry = str(self.get_parameter("registry").value)
        self._authorizer = authorizer or RegistryAuthorizer(registry)
        self._audit = AuditClient(self, "killswitch_node", registry_robot_id(registry))
        self._inputs: list[EstopInput] = build_inputs(self._inputs_config())
        self._store = self._latch_store()
        self._latch = self._boot_latch()
        self._published: tuple[bool, str] | None = None
        self._cause: str | None = None
        self._estop_pub = self.create_publisher(Bool, "safety/estop", qos.LATCHED)
        self._status_pub = self.create_publisher(String, "safety/status", qos.LATCHED)
        self._result_pub = self.create_publisher(String, "safety/reset_result", qos.COMMAND)
        timeout = float(self.get_parameter("heartbeat_timeout_s").value)
        # The beat leaves from a participant of its own: no lock shared with other traffic.
        self._safety = SafetyParticipant(self, "beat")
        self._beat_pub = self._safety.node.create_publisher(
            Header, "safety/heartbeat", qos.heartbeat(timeout)
        )
        # Deaths are watched there too: rare events, and off the node's own executor,
        # which in one process is shared by every node and pays for each event handler
        # of each subscription at every wake-up.
        watched = [str(n) for n in self.get_parameter("watch_nodes").value if n]
        self._deaths = DeathWatch(self._safety.node, watched, self._trip)
        self.create_subscription(String, "safety/trip", self._on_trip, qos.COMMAND)
        self.create_subscription(String, "safety/reset_request", self._on_reset_request, 10)
        fleet = str(self.get_parameter("fleet_topic").value)
        self.create_subscription(Bool, fleet, self._on_fleet, qos.LATCHED)
        self.create_service(Trigger, "safety/reset", self._on_trigger_reset)
        self._publish_state(force=True)
        self._start_inputs()
        self._stop = threading.Event()
        self._beat_thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
        self._beat_thread.start()

    # ---- set-up -------------------------------------------------------------------------

    def _declare_parameters(self) -> None:
        hz = FloatingPointRange(from_value=50.0, to_value=1000.0, step=0.0)
        timeout = FloatingPointRange(from_value=0.005, to_value=10.0, step=0.0)
        line = IntegerRange(from_value=0, to_value=1023, step=1)
        specs: list[tuple[str, Any, ParameterDescriptor]] = [
            ("heartbeat_hz", 60.0, _describe("heartbeat rate", floating_point_range=[hz])),
            ("heartbeat_timeout_s", 0.1, _describe("heartbeat deadline (global)")),
            ("registry", "registry.yaml", _describe("registry file (operators, roles)")),
            ("serial.port", "", _describe("serial e-stop box; empty = none")),
            ("serial.baud", 115200, _describe("serial baud rate")),
            (
                "serial.timeout_s",
                0.05,
                _describe("silence = pressed after", floating_point_range=[timeout]),
            ),
            ("gpio.chip", "", _describe("GPIO chip, e.g. /dev/gpiochip0; empty = none")),
            ("gpio.line", 0, _describe("GPIO line offset (NC contact)", integer_range=[line])),
            ("hid.device", "", _describe("evdev device, e.g. /dev/input/event3; empty = none")),
            ("hid.key", "KEY_PAUSE", _describe("evdev key name")),
            ("fleet_topic", "/fleet/estop", _describe("fleet-wide stop (absolute name)")),
            ("allow_trigger_reset", False, _describe("let the identity-less Trigger reset")),
            ("require_reset_at_start", False, _describe("boot latched until an explicit reset")),
            ("state_file", STATE_FILE, _describe("latch state, kept across restarts")),
            ("release_at_first_start", False, _describe("no state file = fresh (simulation)")),
            (
                "watch_nodes",
                list(STACK_NODES),
                _describe("nodes whose process dying latches the stop (nodes/alive.py)"),
            ),
        ]
        for name, default, descriptor in specs:
            self.declare_parameter(name, default, descriptor)

    def _latch_store(self) -> LatchStore:
        state_file = str(self.get_parameter("state_file").value)
        if not state_file:
            raise ConfigError("state_file is empty: the e-stop latch must survive a restart")
        path = state_path(state_file, self.get_namespace())
        return LatchStore(path=path, node=self.get_fully_qualified_name())

    def _boot_latch(self) -> EstopLatch:
        p = self.get_parameter
        cause = boot_cause(
            self._store.load(),
            require_reset_at_start=bool(p("require_reset_at_start").value),
            release_at_first_start=bool(p("release_at_first_start").value),
        )
        if cause is not None:
            self.get_logger().warning(f"boot: e-stop latched until a reset: {cause[1]}")
        inputs = [i.name for i in self._inputs]
        return EstopLatch(inputs=inputs, reset_roles=reset_roles(), boot_cause=cause)

    def _inputs_config(self) -> EstopInputsConfig:
        p = self.get_parameter
        return EstopInputsConfig(
            serial_port=str(p("serial.port").value),
            serial_baud=int(p("serial.baud").value),
            serial_timeout_s=float(p("serial.timeout_s").value),
            gpio_chip=str(p("gpio.chip").value),
            gpio_line=int(p("gpio.line").value),
            hid_device=str(p("hid.device").value),
            hid_key=str(p("hid.key").value),
        )

    def _start_inputs(self) -> None:
        for device in self._inputs:
            try:
                device.start(self._on_input)
            except EstopInputError as exc:
                # The input stays "never heard from", i.e. pressed: fail safe.
                self.get_logger().error(f"{exc}; the e-stop stays set")
                self._trip(device.name, str(exc))

    # ---- inputs -------------------------------------------------------------------------

    def _on_input(self, name: str, pressed: bool) -> None:
        with self._lock:
            self._latch.set_input(name, pressed)
            self._publish_state()
        if pressed:
            self._audit_trip(name, f"input {name} pressed")

    def _on_fleet(self, msg: Bool) -> None:
        with self._lock:
            self._latch.fleet_stop(bool(msg.data))
            self._publish_state()
        if msg.data:
            self._audit_trip(FLEET_INPUT, "fleet-wide stop")

    def _on_trip(self, msg: String) -> None:
        try:
            trip = from_json(Trip, msg.data)
        except SchemaError as exc:  # someone wanted a stop: stop anyway
            self._trip("unknown", f"malformed trip message: {exc}")
            return
        self._trip(trip.who, trip.why)

    def _trip(self, who: str, why: str) -> None:
        with self._lock:
            self._latch.trip(who, why)
            self._publish_state()
        self._audit_trip(who, why)

    # ---- reset --------------------------------------------------------------------------

    def _on_reset_request(self, msg: String) -> None:
        try:
            request = from_json(ResetRequest, msg.data)
        except SchemaError as exc:
            self._answer("unknown", ResetResult(ok=False, reason=f"malformed request: {exc}"))
            return
        role = self._authorizer.role_of(request.operator, request.token)
        if role is None:
            result = ResetResult(ok=False, reason=f"{request.operator!r}: not authenticated")
        else:
            result = self._reset(request.operator, role)
        self._answer(request.operator, result)

    def _on_trigger_reset(
        self, _request: Trigger.Request, response: Trigger.Response
    ) -> Trigger.Response:
        if not self.get_parameter("allow_trigger_reset").value:
            result = ResetResult(
                ok=False,
                reason="Trigger reset disabled (allow_trigger_reset=false): "
                "use safety/reset_request with an operator's credentials",
            )
        else:
            result = self._reset(TRUSTED_LOCAL, "safety_officer")
        self._answer(TRUSTED_LOCAL, result)
        response.success, response.message = result.ok, result.reason
        return response

    def _reset(self, operator: str, role: str) -> ResetResult:
        with self._lock:
            result = self._latch.reset(operator, role)
            self._publish_state()
            if result.ok and self._latch.latched:  # the reset could not be made durable
                result = ResetResult(ok=False, reason=str(self._latch.status().reason))
        return result

    def _answer(self, operator: str, result: ResetResult) -> None:
        self.get_logger().info(f"reset by {operator}: {result.reason}")
        outcome = ResetOutcome(operator=operator, ok=result.ok, reason=result.reason)
        self._result_pub.publish(json_to_ros(outcome))
        payload = {"ok": result.ok, "reason": result.reason}
        self._audit.emit("reset", actor=operator, payload=payload)

    # ---- output -------------------------------------------------------------------------

    def _publish_state(self, force: bool = False) -> None:
        """Publish the latch and status when they changed, and keep the record on disk
        (call with the lock held). A stop goes out first (a press waits for no disk; a
        kill before it is written leaves a `running` record, which latches at the next
        boot); a release only once it is on disk."""
        if self._latch.needs_reset:
            self._publish(force)
            self._save_state()
        else:
            self._save_state()
            self._publish(force)

    def _save_state(self) -> None:
        error = self._store.sync(self._latch, self.get_name())
        if error is not None:  # on the record; a release it was is a stop again
            self.get_logger().error(error)
            self._audit_trip(self.get_name(), error)

    def _publish(self, force: bool) -> None:
        status = self._latch.status()
        key = (status.latched, status.model_dump_json(exclude={"stamp"}))
        if key == self._published and not force:
            return
        self._published = key
        self._estop_pub.publish(Bool(data=status.latched))
        self._status_pub.publish(json_to_ros(status))
        cause = status.tripped_by if status.latched else None
        if cause not in (None, STARTUP, self._cause):
            self.get_logger().warning(f"E-STOP by {cause}: {status.reason}")
        self._cause = cause

    def _audit_trip(self, who: str, why: str) -> None:
        """Every stop request is on the record, also those while already stopped."""
        payload = {"why": why, "latched_by": self._latch.status().tripped_by}
        self._audit.emit("trip", actor=who, payload=payload)

    def _beat(self) -> None:
        if (refused := realtime_priority(HEARTBEAT_PRIORITY)) is not None:
            self.get_logger().info(f"heartbeat at normal priority ({refused})")
        period = 1.0 / float(self.get_parameter("heartbeat_hz").value)
        next_beat = time.monotonic()
        while not self._stop.is_set():
            header = Header(frame_id=self.get_name())
            try:
                header.stamp = time_to_ros(self.get_clock().now().nanoseconds * 1e-9)
                self._beat_pub.publish(header)
            except Exception:  # context shut down under us: the beat ends with the node
                if not (self.context.ok() and self._safety.context.ok()):
                    return
                raise
            next_beat = max(next_beat + period, time.monotonic() - period)
            self._stop.wait(max(0.0, next_beat - time.monotonic()))

    def destroy_node(self) -> None:
        self._stop.set()
        self._beat_thread.join(timeout=1.0)
        with self._lock:  # a clean exit: the next boot need not latch for it
            if (error := self._store.close(self._latch)) is not None:
                self.get_logger().error(error)
        self._safety.close()
        for device in self._inputs:
            device.close()
        self._audit.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    # The whole process real-time where allowed (threads inherit it, DDS's too): it is
    # light, and then no thread of it holding the interpreter lock is ever put aside
    # by the scheduler while the beat or an input waits for that lock.
    realtime_priority(KILLSWITCH_PRIORITY)
    # A thread woken by a press must not wait the default 5 ms for another thread of
    # this process to hand over the interpreter lock.
    sys.setswitchinterval(SAFETY_SWITCH_INTERVAL_S)
    spin_node(KillswitchNode, args)


if __name__ == "__main__":
    main()
