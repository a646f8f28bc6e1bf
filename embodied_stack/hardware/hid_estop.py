"""HID e-stop: a key on an input device (a USB foot switch or mushroom button
that enumerates as a keyboard), read through evdev.

Key down or auto-repeat = pressed, key up = released. A device that vanishes
reads pressed. The device is grabbed so the key never reaches other programs.
"""

from __future__ import annotations

import select
import threading
from typing import Any

from embodied_stack.hardware.base import EstopInputError, OnChange
from embodied_stack.realtime import INPUT_PRIORITY, realtime_priority


class HidEstop:
    """Watches one key of an evdev input device."""

    def __init__(
        self, *, device: str, key: str = "KEY_PAUSE", poll_s: float = 0.02, name: str = "hid"
    ) -> None:
        self.name = name
        self._path, self._key_name, self._poll_s = device, key, poll_s
        self._device: Any = None
        self._code = -1
        self._pressed = True
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def pressed(self) -> bool:
        return self._pressed

    def start(self, on_change: OnChange) -> None:
        self._device, self._code = _open(self._path, self._key_name)
        self._pressed = self._code in self._device.active_keys()
        self._thread = threading.Thread(
            target=self._run, args=(on_change,), name=f"estop-{self.name}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        if self._device is not None:
            self._device.close()

    def _run(self, on_change: OnChange) -> None:
        realtime_priority(INPUT_PRIORITY)  # where allowed; a press must not wait for the CPU
        reported = self._pressed
        while not self._stop.is_set():
            self._pressed = self._poll()
            if self._pressed != reported:
                reported = self._pressed
                on_change(self.name, reported)

    def _poll(self) -> bool:
        from evdev import ecodes

        try:
            ready, _, _ = select.select([self._device.fd], [], [], self._poll_s)
            if not ready:
                return self._pressed
            state = self._pressed
            for event in self._device.read():
                if event.type == ecodes.EV_KEY and event.code == self._code:
                    state = event.value != 0  # 1 down, 2 repeat, 0 up
            return state
        except OSError:
            self._stop.wait(self._poll_s)
            return True  # unplugged: fail safe


def _open(path: str, key: str) -> tuple[Any, int]:
    try:
        import evdev
        from evdev import ecodes
    except ImportError as exc:
        raise EstopInputError(
            "HID e-stop: the `evdev` package is not installed; "
            "pip install 'embodied_stack[hardware]'"
        ) from exc
    code = ecodes.ecodes.get(key)
    if not isinstance(code, int):
        raise EstopInputError(f"HID e-stop: unknown key name {key!r} (e.g. KEY_PAUSE)")
    try:
        device = evdev.InputDevice(path)
        device.grab()
    except OSError as exc:
        raise EstopInputError(f"HID e-stop: cannot open {path}: {exc}") from exc
    return device, code
