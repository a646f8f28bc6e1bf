"""A serial e-stop box played by software on a pseudo-terminal pair: the
runners and the e-stop benchmark press the button through the kill switch's
real serial input path (embodied_stack.hardware.serial_estop protocol).

`EstopBox` runs the box in an interpreter of its own, as a microcontroller keeps
its own time: the threads of a busy stack process must not make its lines late
(a gap over the kill switch's serial.timeout_s reads as pressed).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
import tty

from embodied_stack.hardware.serial_estop import encode_line
from embodied_stack.realtime import INPUT_PRIORITY, realtime_priority


class SerialEstopDevice:
    """Writes protocol lines at `rate_hz` (its heartbeat) and at once on a change."""

    def __init__(self, rate_hz: float = 100.0) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._master)
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._period = 1.0 / rate_hz
        self._pressed = False
        self._seq = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.silent = False  # True: stop sending (a cut cable)
        self._thread = threading.Thread(target=self._run, name="estop-device", daemon=True)

    @property
    def pressed(self) -> bool:
        return self._pressed

    @pressed.setter
    def pressed(self, value: bool) -> None:
        with self._lock:
            changed = value != self._pressed
            self._pressed = value
        if changed:
            self.send()

    def send(self) -> float:
        """Write one line now; returns the monotonic time it was written."""
        with self._lock:
            line = encode_line(self._seq, self._pressed)
            self._seq += 1
            os.write(self._master, line)
            return time.monotonic()

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            if not self.silent:
                try:
                    self.send()
                except OSError:
                    return

    def __enter__(self) -> SerialEstopDevice:
        self.send()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
        os.close(self._master)
        os.close(self._slave)


class EstopBox:
    """The serial box in a process of its own (real-time priority when allowed)."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            process_group=0,  # Ctrl-C is the caller's; EOF on stdin ends the box
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._to, self._from = self._process.stdin, self._process.stdout
        self.port = self._from.readline().strip()
        if not self.port:
            raise RuntimeError("the e-stop box process did not start")
        self._pressed = False

    @property
    def pressed(self) -> bool:
        return self._pressed

    @pressed.setter
    def pressed(self, value: bool) -> None:
        self.set(value)

    def set(self, pressed: bool) -> float:
        """Press or release; the monotonic time just before the box wrote the change."""
        self._to.write("1\n" if pressed else "0\n")
        self._pressed = pressed
        return float(self._from.readline())

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._to.close()
        try:
            self._process.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def __enter__(self) -> EstopBox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve_box() -> None:
    """The box process: port on the first line out, then one command a line in."""
    realtime_priority(INPUT_PRIORITY - 1)  # where allowed; a device keeps its own time
    with SerialEstopDevice() as device:
        print(device.port, flush=True)
        for line in sys.stdin:  # EOF: the caller is gone
            written = time.monotonic()
            device.pressed = line.strip() == "1"
            print(written, flush=True)


if __name__ == "__main__":
    _serve_box()
