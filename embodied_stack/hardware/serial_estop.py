"""Serial e-stop box: a line protocol any microcontroller can speak.

The device sends ASCII lines, one per heartbeat tick (>= 50 Hz, 100 Hz
recommended) and one immediately on every change of the button::

    ESTOP <seq> <state> <crc>\\n

- ``seq``: decimal counter 0..65535, +1 per line, wraps to 0.
- ``state``: ``P`` (pressed, contact open) or ``R`` (released).
- ``crc``: CRC-8/SMBUS (poly 0x07, init 0x00, no reflection, no xor-out) of the
  bytes ``ESTOP <seq> <state>`` (everything before the last space), two
  upper-case hex digits. Example: ``ESTOP 0 R 99``.

The host counts the input as pressed when the last good line says ``P``, when
no good line arrived within ``timeout_s`` (silence), when a line fails to parse
or its CRC is wrong (garbage), when ``seq`` repeats (a stuck sender), or when
the port cannot be read. After a fault, ``release_lines`` consecutive good
``R`` lines are needed before it reads released again. The full description
is in docs/estop-serial-protocol.md.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from embodied_stack.hardware.base import EstopInputError, OnChange
from embodied_stack.realtime import INPUT_PRIORITY, realtime_priority

PREFIX = "ESTOP"
MAX_SEQ = 65536
PRESSED, RELEASED = "P", "R"


def crc8(data: bytes) -> int:
    """CRC-8/SMBUS: poly 0x07, init 0x00."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def encode_line(seq: int, pressed: bool) -> bytes:
    """The line a device sends (used by tests and the benchmark as the device)."""
    body = f"{PREFIX} {seq % MAX_SEQ} {PRESSED if pressed else RELEASED}"
    return f"{body} {crc8(body.encode()):02X}\n".encode()


def parse_line(raw: bytes) -> tuple[int, bool] | None:
    """(seq, pressed) of a good line, None for anything else."""
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    parts = text.split(" ")
    if len(parts) != 4 or parts[0] != PREFIX or parts[2] not in (PRESSED, RELEASED):
        return None
    body, crc_text = text.rsplit(" ", 1)
    if len(crc_text) != 2 or not parts[1].isdigit():
        return None
    try:
        crc = int(crc_text, 16)
    except ValueError:
        return None
    seq = int(parts[1])
    if crc != crc8(body.encode()) or seq >= MAX_SEQ:
        return None
    return seq, parts[2] == PRESSED


class SerialEstop:
    """Reads a serial e-stop box over pyserial in a background thread."""

    def __init__(
        self,
        *,
        port: str,
        baud: int = 115200,
        timeout_s: float = 0.05,
        release_lines: int = 3,
        name: str = "serial",
    ) -> None:
        self.name = name
        self._port_name, self._baud = port, baud
        self._timeout_s, self._release_lines = timeout_s, release_lines
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._port: Any = None
        self._pressed = True  # nothing heard yet
        self._last_good = -1.0
        self._last_seq: int | None = None
        self._good_releases = 0
        self.faults: dict[str, int] = {"garbage": 0, "silence": 0, "repeat": 0, "io": 0}

    def pressed(self) -> bool:
        with self._lock:
            return self._pressed or self._silent(time.monotonic())

    def start(self, on_change: OnChange) -> None:
        try:
            import serial
        except ImportError as exc:  # pragma: no cover - pyserial is a dependency
            raise EstopInputError("serial e-stop: pyserial is not installed") from exc
        try:
            self._port = serial.Serial(self._port_name, self._baud, timeout=self._poll_s())
        except (serial.SerialException, OSError) as exc:
            raise EstopInputError(f"serial e-stop: cannot open {self._port_name}: {exc}") from exc
        self._last_good = time.monotonic()  # the silence clock starts now
        self._thread = threading.Thread(
            target=self._run, args=(on_change,), name=f"estop-{self.name}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        if self._port is not None:
            self._port.close()

    # ---- reader thread ------------------------------------------------------------------

    def _poll_s(self) -> float:
        return max(0.001, self._timeout_s / 5)

    def _run(self, on_change: OnChange) -> None:
        realtime_priority(INPUT_PRIORITY)  # where allowed; a press must not wait for the CPU
        reported = [True]
        buffer = b""
        while not self._stop.is_set():
            try:
                chunk = self._port.read(self._port.in_waiting or 1)
            except Exception:  # any I/O failure means pressed
                self._fault("io")
                chunk = b""
                self._stop.wait(self._poll_s())
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                self._on_line(line)
                # Report after every line: a press followed by releases in one
                # read must still reach the latch.
                self._report(on_change, reported)
            if len(buffer) > 64:  # no newline in sight: garbage
                buffer = b""
                self._fault("garbage")
            if self._bytes_waiting():
                continue  # read what a stalled thread left behind before judging silence
            self._report(on_change, reported)

    def _bytes_waiting(self) -> bool:
        try:
            return bool(self._port.in_waiting)
        except Exception:  # the next read reports the I/O fault
            return False

    def _report(self, on_change: OnChange, reported: list[bool]) -> None:
        state = self.pressed()
        if state != reported[0]:
            reported[0] = state
            on_change(self.name, state)

    def _on_line(self, raw: bytes) -> None:
        parsed = parse_line(raw)
        with self._lock:
            if parsed is None:
                self._fault_locked("garbage")
                return
            seq, pressed = parsed
            if seq == self._last_seq:
                self._fault_locked("repeat")
                return
            self._last_seq, self._last_good = seq, time.monotonic()
            if pressed:
                self._pressed, self._good_releases = True, 0
                return
            self._good_releases += 1
            if not self._pressed or self._good_releases >= self._release_lines:
                self._pressed = False

    def _fault(self, kind: str) -> None:
        with self._lock:
            self._fault_locked(kind)

    def _fault_locked(self, kind: str) -> None:
        self.faults[kind] += 1
        self._pressed, self._good_releases = True, 0

    def _silent(self, now: float) -> bool:
        if now - self._last_good <= self._timeout_s:
            return False
        if not self._pressed:
            self.faults["silence"] += 1
            self._pressed, self._good_releases = True, 0
        return True
