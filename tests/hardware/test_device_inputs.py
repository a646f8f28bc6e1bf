"""GPIO and HID inputs: absent hardware is a clear error, never a silent 'released'."""

from __future__ import annotations

import pytest

from embodied_stack.hardware.base import EstopInput, EstopInputError
from embodied_stack.hardware.gpio_estop import GpioEstop
from embodied_stack.hardware.hid_estop import HidEstop


def test_gpio_missing_chip_is_a_clear_error() -> None:
    gpio = GpioEstop(chip="/dev/gpiochip-missing", line=3)
    assert isinstance(gpio, EstopInput)
    with pytest.raises(EstopInputError, match="gpiochip-missing line 3"):
        gpio.start(lambda name, pressed: None)
    assert gpio.pressed()


def test_hid_missing_device_is_a_clear_error() -> None:
    hid = HidEstop(device="/dev/input/event-missing")
    assert isinstance(hid, EstopInput)
    with pytest.raises(EstopInputError, match="event-missing"):
        hid.start(lambda name, pressed: None)
    assert hid.pressed()


def test_hid_unknown_key_is_a_clear_error() -> None:
    with pytest.raises(EstopInputError, match="KEY_NOPE"):
        HidEstop(device="/dev/null", key="KEY_NOPE").start(lambda name, pressed: None)
