"""Small builders shared by the audit tests."""

from __future__ import annotations

from pathlib import Path

from embodied_stack.audit.emitter import AuditEmitter
from embodied_stack.audit.log import AuditLog


def write_log(log_dir: Path, count: int, *, rotate_bytes: int = 10_000_000) -> AuditLog:
    """A closed log of `count` records (seq 0 .. count-1)."""
    emitter = AuditEmitter(source="test_node", robot_id="robot-t")
    log = AuditLog(log_dir, robot_id="robot-t", rotate_bytes=rotate_bytes)
    for i in range(count):
        log.append(emitter.make("instruction", "alice", {"i": i, "text": "把红色方块放进托盘"}))
    log.close()
    return log


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)
