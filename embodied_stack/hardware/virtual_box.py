"""A software serial e-stop box on a pseudo-terminal: the device side of the protocol.

For the red-team runner, the e-stop benchmark and tests: point the kill switch's
`serial.port` at `box.port`, then `press()`, `release()`, go `silent()` or send
`garbage()`. It beats at `rate_hz` like firmware and sends a line at once on
every change, as docs/estop-serial-protocol.md asks of a real box.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import tty

from embodied_stack.hardware.serial_estop import encode_line


class VirtualEstopBox:
    def __init__(self, *, rate_hz: float = 100.0, pressed: bool = False) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no line editing, before any reader opens it
        os.set_blocking(self._master, False)  # nobody reading: lines are lost, as on a UART
        self.port = os.ttyname(self._slave)
        self._period = 1.0 / rate_hz
        self._pressed = pressed
        self._silent = False
        self._seq = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="virtual-estop", daemon=True)

    def start(self) -> VirtualEstopBox:
        self._thread.start()
        return self

    def press(self) -> float:
        """Press the button; returns time.monotonic() right after the line was written."""
        return self._change(True)

    def release(self) -> float:
        return self._change(False)

    def silent(self, on: bool = True) -> None:
        """Stop (or resume) sending anything, like a cut cable."""
        with self._lock:
            self._silent = on

    def garbage(self, data: bytes = b"ESTOP 1 R 00\n") -> None:
        with self._lock:
            self._write(data)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=1.0)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _change(self, pressed: bool) -> float:
        with self._lock:
            self._pressed = pressed
            if not self._silent:
                self._send_locked()
            return time.monotonic()

    def _send_locked(self) -> None:
        self._write(encode_line(self._seq, self._pressed))
        self._seq += 1

    def _write(self, data: bytes) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(self._master, data)

    def _beat(self) -> None:
        next_beat = time.monotonic()
        while not self._stop.is_set():
            with self._lock:
                if not self._silent:
                    self._send_locked()
            next_beat = max(next_beat + self._period, time.monotonic() - self._period)
            self._stop.wait(max(0.0, next_beat - time.monotonic()))
