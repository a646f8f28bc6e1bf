"""Build the configured kill-switch inputs (empty setting = input not used)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from embodied_stack.hardware.base import EstopInput
from embodied_stack.hardware.gpio_estop import GpioEstop
from embodied_stack.hardware.hid_estop import HidEstop
from embodied_stack.hardware.serial_estop import SerialEstop


class EstopInputsConfig(BaseModel):
    """Mirrors the killswitch_node parameters serial.*, gpio.*, hid.*."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    serial_port: str = ""
    serial_baud: int = Field(default=115200, gt=0)
    serial_timeout_s: float = Field(default=0.05, gt=0)
    gpio_chip: str = ""
    gpio_line: int = Field(default=0, ge=0)
    hid_device: str = ""
    hid_key: str = "KEY_PAUSE"


def build_inputs(config: EstopInputsConfig) -> list[EstopInput]:
    """The inputs to watch; none of them started yet."""
    inputs: list[EstopInput] = []
    if config.serial_port:
        inputs.append(
            SerialEstop(
                port=config.serial_port,
                baud=config.serial_baud,
                timeout_s=config.serial_timeout_s,
            )
        )
    if config.gpio_chip:
        inputs.append(GpioEstop(chip=config.gpio_chip, line=config.gpio_line))
    if config.hid_device:
        inputs.append(HidEstop(device=config.hid_device, key=config.hid_key))
    return inputs
