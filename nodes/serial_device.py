"""A serial e-stop box played by software on a pseudo-terminal pair: the
runners and the e-stop benchmark press the button through the kill switch's
real serial input path (embodied_stack.hardware.serial_estop protocol)."""

from __future__ import annotations

import os
import threading
import time
import tty

from embodied_stack.hardware.serial_estop import encode_line


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
