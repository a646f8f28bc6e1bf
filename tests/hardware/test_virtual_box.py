"""The virtual e-stop box drives the real reader through its pty."""

from __future__ import annotations

import threading

from embodied_stack.hardware.serial_estop import SerialEstop
from embodied_stack.hardware.virtual_box import VirtualEstopBox


def test_virtual_box_press_release_and_silence() -> None:
    box = VirtualEstopBox(rate_hz=100.0).start()
    reader = SerialEstop(port=box.port, timeout_s=0.2)
    seen: list[bool] = []
    changed = threading.Condition()

    def on_change(_name: str, pressed: bool) -> None:
        with changed:
            seen.append(pressed)
            changed.notify_all()

    def wait_for(pressed: bool) -> None:
        with changed:
            assert changed.wait_for(lambda: seen[-1:] == [pressed], 5.0), seen

    reader.start(on_change)
    try:
        wait_for(False)
        box.press()
        wait_for(True)
        box.release()
        wait_for(False)
        box.silent()
        wait_for(True)
        box.silent(False)
        wait_for(False)
        box.garbage()
        wait_for(True)
    finally:
        reader.close()
        box.close()


def test_virtual_box_never_blocks_without_a_reader() -> None:
    box = VirtualEstopBox(rate_hz=1000.0).start()
    try:
        for _ in range(2000):  # far more than a pty buffer holds
            box.press()
    finally:
        box.close()
