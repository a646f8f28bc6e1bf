"""When an arm must hold on its own (DESIGN.md §5), without ROS: used by
motion_node and on the actuator side (sim_node, the driver bridge).

The e-stop state, the kill-switch heartbeat and red lines seen on the measured
state decide. Whether the heartbeat is alive is judged outside (by the DDS
deadline of the heartbeat topic, see nodes/heartbeat.py) and reported here.
Fail-safe: before the first e-stop state or heartbeat arrives, the arm holds.
"""

from __future__ import annotations

NO_HEARTBEAT = "no heartbeat received yet"


class HoldGuard:
    def __init__(self) -> None:
        self._estop: bool | None = None  # None: never heard from the kill switch
        self._heartbeat: str | None = NO_HEARTBEAT  # why the heartbeat counts as dead
        self._commander: str | None = None  # why the commanding node counts as dead
        self._breach: str | None = None  # a red line crossed on the measured state
        self._breach_latched = False  # the kill switch has latched since the breach

    def estop(self, pressed: bool) -> None:
        self._estop = pressed
        # A breach holds until the kill switch has latched and then been reset.
        if pressed and self._breach is not None:
            self._breach_latched = True
        elif not pressed and self._breach_latched:
            self._breach, self._breach_latched = None, False

    @property
    def breached(self) -> bool:
        """A red line was crossed and the stop has not been latched and reset since."""
        return self._breach is not None

    def red_line(self, reason: str) -> None:
        """The actuator side saw a red line crossed (or about to be): hold."""
        if self._breach is None:
            self._breach = reason

    def heartbeat(self, stale_reason: str | None) -> None:
        """The heartbeat's state: None while alive, else why it counts as dead."""
        self._heartbeat = stale_reason

    def commander(self, stale_reason: str | None) -> None:
        """The commanding node's liveliness (actuator side): None while it beats, else
        why it counts as dead. A trajectory must not outlive the node that sent it."""
        self._commander = None if stale_reason is None else f"motion_node {stale_reason}"

    @property
    def first_inputs_pending(self) -> bool:
        """The first e-stop state or heartbeat has not arrived yet (a node starting up)."""
        return self._estop is None or self._heartbeat == NO_HEARTBEAT

    def reason(self) -> str | None:
        """Why the arm must hold now, or None when it may follow commands."""
        if self._breach is not None:
            return f"red line: {self._breach}"
        if self._estop is None:
            return "no e-stop state received yet"
        if self._estop:
            return "e-stop pressed"
        return self._heartbeat or self._commander
