"""The serial e-stop protocol through a real pseudo-terminal: the test is the device."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest

from embodied_stack.hardware.base import EstopInput, EstopInputError
from embodied_stack.hardware.serial_estop import SerialEstop, crc8, encode_line, parse_line

TIMEOUT_S = 0.05


class Device:
    """The microcontroller's side of the pty."""

    def __init__(self, fd: int) -> None:
        self.fd, self.seq = fd, 0

    def send(self, pressed: bool, count: int = 1) -> None:
        for _ in range(count):
            os.write(self.fd, encode_line(self.seq, pressed))
            self.seq += 1

    def raw(self, data: bytes) -> None:
        os.write(self.fd, data)


class Changes:
    def __init__(self) -> None:
        self.events: list[tuple[str, bool]] = []
        self.cond = threading.Condition()

    def __call__(self, name: str, pressed: bool) -> None:
        with self.cond:
            self.events.append((name, pressed))
            self.cond.notify_all()

    def wait_for(self, pressed: bool, timeout: float = 5.0) -> None:
        with self.cond:
            ok = self.cond.wait_for(
                lambda: bool(self.events) and self.events[-1][1] is pressed, timeout
            )
        assert ok, f"no change to pressed={pressed}; saw {self.events}"


@pytest.fixture
def box() -> Iterator[tuple[Device, SerialEstop, Changes]]:
    master, slave = os.openpty()
    reader = SerialEstop(port=os.ttyname(slave), timeout_s=TIMEOUT_S, release_lines=2)
    changes = Changes()
    reader.start(changes)
    yield Device(master), reader, changes
    reader.close()
    os.close(master)
    os.close(slave)


def heartbeat(device: Device, pressed: bool, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        device.send(pressed)
        time.sleep(0.01)


def release(device: Device, reader: SerialEstop, changes: Changes) -> None:
    device.send(False, count=3)
    changes.wait_for(False)
    assert not reader.pressed()


def test_codec_round_trip_and_crc_reference() -> None:
    assert crc8(b"123456789") == 0xF4  # CRC-8/SMBUS check value
    for seq in (0, 1, 65535):
        for pressed in (True, False):
            assert parse_line(encode_line(seq, pressed)) == (seq, pressed)
    assert parse_line(b"ESTOP 1 R 00") is None
    assert parse_line(b"ESTOP 1 X 00") is None
    assert parse_line(b"\xff\xfe") is None


def test_reader_is_an_estop_input(box: tuple[Device, SerialEstop, Changes]) -> None:
    assert isinstance(box[1], EstopInput)


def test_pressed_until_heard(box: tuple[Device, SerialEstop, Changes]) -> None:
    _device, reader, _changes = box
    assert reader.pressed()


def test_press_and_release(box: tuple[Device, SerialEstop, Changes]) -> None:
    device, reader, changes = box
    release(device, reader, changes)
    device.send(True)
    changes.wait_for(True)
    assert reader.pressed()
    release(device, reader, changes)


def test_silence_reads_pressed(box: tuple[Device, SerialEstop, Changes]) -> None:
    device, reader, changes = box
    release(device, reader, changes)
    changes.wait_for(True)  # the device went quiet
    assert reader.pressed() and reader.faults["silence"] >= 1
    release(device, reader, changes)


def test_heartbeat_keeps_it_released(box: tuple[Device, SerialEstop, Changes]) -> None:
    device, reader, changes = box
    release(device, reader, changes)
    thread = threading.Thread(target=heartbeat, args=(device, False, 0.3))
    thread.start()
    thread.join()
    # Generous: a loaded machine may stall the sender; what matters is the state
    # follows the device and every fault is counted.
    assert reader.faults["garbage"] == 0 and reader.faults["repeat"] == 0


@pytest.mark.parametrize(
    "bad",
    [b"ESTOP 7 R 00\n", b"hello world\n", b"\x00\xff\x13\n", b"x" * 100, b"ESTOP 7 R\n"],
)
def test_garbage_reads_pressed(box: tuple[Device, SerialEstop, Changes], bad: bytes) -> None:
    device, reader, changes = box
    release(device, reader, changes)
    device.raw(bad)
    changes.wait_for(True)
    assert reader.faults["garbage"] >= 1
    # One good release line is not enough after a fault.
    device.send(False)
    time.sleep(0.005)
    assert reader.pressed()
    release(device, reader, changes)


def test_repeated_seq_reads_pressed(box: tuple[Device, SerialEstop, Changes]) -> None:
    device, reader, changes = box
    release(device, reader, changes)
    device.seq -= 1
    device.send(False)
    changes.wait_for(True)
    assert reader.faults["repeat"] == 1


def test_missing_port_is_a_clear_error() -> None:
    reader = SerialEstop(port="/dev/does-not-exist-estop")
    with pytest.raises(EstopInputError, match="cannot open /dev/does-not-exist-estop"):
        reader.start(lambda name, pressed: None)
    assert reader.pressed()


def test_press_is_reported_even_when_releases_follow_in_the_same_read(
    box: tuple[Device, SerialEstop, Changes],
) -> None:
    device, reader, changes = box
    release(device, reader, changes)
    burst = b"".join(encode_line(device.seq + i, i == 0) for i in range(4))
    device.seq += 4
    before = len(changes.events)
    device.raw(burst)
    with changes.cond:
        assert changes.cond.wait_for(lambda: len(changes.events) >= before + 2, 5.0)
    assert changes.events[before : before + 2] == [("serial", True), ("serial", False)]
