"""The black box: serialized ROS 2 messages to MCAP (ROS 2 profile, CDR, ros2msg schemas,
as rosbag2 writes; readable by mcap-ros2-support and Foxglove), and a ring buffer of the
last seconds for incident bundles. No rclpy here: samples are already-serialized bytes.
"""

from __future__ import annotations

import collections
import threading
from pathlib import Path
from typing import IO, NamedTuple

from mcap.writer import CompressionType, Writer

from embodied_stack.audit.msgdef import full_definition

LIBRARY = "embodied_stack black box"
_COMPRESSION = {
    "none": CompressionType.NONE,
    "lz4": CompressionType.LZ4,
    "zstd": CompressionType.ZSTD,
}


class Sample(NamedTuple):
    log_time_ns: int
    topic: str
    type_name: str  # e.g. "sensor_msgs/msg/Image"
    data: bytes  # CDR, as received from the middleware


class McapSink:
    """Writes samples to one MCAP file; registers a schema and channel on first use."""

    def __init__(self, path: str | Path, *, compression: str = "lz4") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = self.path.open("wb")
        self._writer = Writer(self._file, compression=_COMPRESSION[compression])
        self._writer.start(profile="ros2", library=LIBRARY)
        self._schemas: dict[str, int] = {}
        self._channels: dict[str, tuple[int, str]] = {}
        self._sequence: dict[str, int] = collections.defaultdict(int)
        self._lock = threading.Lock()
        self.messages = 0

    def write(self, sample: Sample) -> None:
        with self._lock:
            channel = self._channel(sample.topic, sample.type_name)
            self._sequence[sample.topic] += 1
            self._writer.add_message(
                channel_id=channel,
                log_time=sample.log_time_ns,
                publish_time=sample.log_time_ns,
                sequence=self._sequence[sample.topic],
                data=sample.data,
            )
            self.messages += 1

    def _channel(self, topic: str, type_name: str) -> int:
        known = self._channels.get(topic)
        if known is not None and known[1] == type_name:
            return known[0]
        schema = self._schemas.get(type_name)
        if schema is None:
            text = full_definition(type_name).encode("utf-8")
            schema = self._writer.register_schema(name=type_name, encoding="ros2msg", data=text)
            self._schemas[type_name] = schema
        channel = self._writer.register_channel(
            topic=topic, message_encoding="cdr", schema_id=schema
        )
        self._channels[topic] = (channel, type_name)
        return channel

    def close(self) -> None:
        with self._lock:
            if self._file.closed:
                return
            self._writer.finish()  # type: ignore[no-untyped-call]
            self._file.close()


class RingBuffer:
    """The last `seconds` of samples, bounded by `max_bytes` too (oldest go first)."""

    def __init__(self, *, seconds: float, max_bytes: int) -> None:
        self.window_ns = int(seconds * 1e9)
        self.max_bytes = max_bytes
        self._samples: collections.deque[Sample] = collections.deque()
        self._bytes = 0
        self._lock = threading.Lock()

    def add(self, sample: Sample) -> None:
        with self._lock:
            self._samples.append(sample)
            self._bytes += len(sample.data)
            oldest = sample.log_time_ns - self.window_ns
            while self._samples and (
                self._samples[0].log_time_ns < oldest or self._bytes > self.max_bytes
            ):
                self._bytes -= len(self._samples.popleft().data)

    def samples(self, *, since_ns: int = 0) -> list[Sample]:
        with self._lock:
            return [s for s in self._samples if s.log_time_ns >= since_ns]


def write_mcap(path: str | Path, samples: list[Sample]) -> int:
    """Write samples (e.g. a ring buffer's) to a new MCAP file; the number written."""
    sink = McapSink(path)
    try:
        for sample in samples:
            sink.write(sample)
    finally:
        sink.close()
    return sink.messages
