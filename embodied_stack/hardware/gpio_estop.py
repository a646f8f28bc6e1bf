"""GPIO e-stop through libgpiod (the `gpiod` 2.x Python binding).

Wiring: a normally closed contact between the line and ground, the line's
pull-up enabled. Released = contact closed = line low; pressed, a cut wire or a
pulled connector = open circuit = line high. So every wiring fault reads pressed.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from embodied_stack.hardware.base import EstopInputError, OnChange
from embodied_stack.realtime import INPUT_PRIORITY, realtime_priority


class GpioEstop:
    """Watches one GPIO line (edge events plus a periodic re-read)."""

    def __init__(self, *, chip: str, line: int, poll_s: float = 0.01, name: str = "gpio") -> None:
        self.name = name
        self._chip, self._line, self._poll_s = chip, line, poll_s
        self._request: Any = None
        self._pressed = True
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def pressed(self) -> bool:
        return self._pressed

    def start(self, on_change: OnChange) -> None:
        self._request = _request_line(self._chip, self._line)
        self._pressed = self._read()
        self._thread = threading.Thread(
            target=self._run, args=(on_change,), name=f"estop-{self.name}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        if self._request is not None:
            self._request.release()

    def _read(self) -> bool:
        import gpiod.line

        try:
            value = self._request.get_value(self._line)
        except OSError:
            return True  # the chip went away: fail safe
        return bool(value == gpiod.line.Value.ACTIVE)

    def _run(self, on_change: OnChange) -> None:
        realtime_priority(INPUT_PRIORITY)  # where allowed; a press must not wait for the CPU
        reported = self._pressed
        while not self._stop.is_set():
            try:
                if self._request.wait_edge_events(timedelta(seconds=self._poll_s)):
                    self._request.read_edge_events()
            except OSError:
                self._stop.wait(self._poll_s)
            self._pressed = self._read()
            if self._pressed != reported:
                reported = self._pressed
                on_change(self.name, reported)


def _request_line(chip: str, line: int) -> Any:
    try:
        import gpiod
        from gpiod.line import Bias, Direction, Edge
    except ImportError as exc:
        raise EstopInputError(
            "GPIO e-stop: the `gpiod` package (libgpiod 2.x binding) is not installed; "
            "pip install 'embodied_stack[hardware]'"
        ) from exc
    settings = gpiod.LineSettings(
        direction=Direction.INPUT,
        bias=Bias.PULL_UP,
        edge_detection=Edge.BOTH,
        debounce_period=timedelta(milliseconds=2),
    )
    try:
        return gpiod.request_lines(chip, consumer="embodied_stack-estop", config={line: settings})
    except (OSError, ValueError) as exc:
        raise EstopInputError(f"GPIO e-stop: cannot request {chip} line {line}: {exc}") from exc
