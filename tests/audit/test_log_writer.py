"""The writer: write-ahead appends, group commit, reopening, and unwritable logs."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from embodied_stack.audit.emitter import AuditEmitter
from embodied_stack.audit.log import AuditLog, AuditLogError, verify
from embodied_stack.audit.record import (
    canonical_json,
    line_hash,
    log_file_name,
    log_files,
    read_records,
)
from embodied_stack.schemas import ModelProvenance
from tests.audit.helpers import write_log


def _emitter() -> AuditEmitter:
    return AuditEmitter(source="motion_node", robot_id="robot-t")


def test_reopening_continues_the_chain(tmp_path: Path) -> None:
    write_log(tmp_path, 5)
    log = AuditLog(tmp_path, robot_id="robot-t")
    assert log.opened.next_seq == 5 and log.opened.torn_tail is None
    record = log.append(_emitter().make("reset", "carol"))
    log.close()
    assert record.seq == 5
    assert verify(tmp_path).ok


def test_group_commit_and_deferred_sync_chain_like_single_appends(tmp_path: Path) -> None:
    log = AuditLog(tmp_path, robot_id="robot-t", rotate_bytes=2000)
    emitter = _emitter()
    batch = log.append_batch([emitter.make("jog", "dave", {"i": i}) for i in range(30)])
    log.append(emitter.make("jog", "dave"), durable=False)
    log.sync()
    log.close()
    assert [r.seq for r in batch] == list(range(30))
    report = verify(tmp_path)
    assert report.ok and report.records == 31
    assert all(f.stat().st_size <= 2000 for f in log_files(tmp_path))


def test_ai_generated_label_and_provenance_are_recorded(tmp_path: Path) -> None:
    log = AuditLog(tmp_path, robot_id="robot-t")
    model = ModelProvenance(name="qwen2.5-7b", endpoint="http://127.0.0.1:11434/v1")
    log.append(
        _emitter().make("plan", "planner_node", {"steps": 3}, model=model, ai_generated=True)
    )
    log.close()
    (record,) = read_records(tmp_path)
    assert record.ai_generated is True
    assert record.model == {"name": "qwen2.5-7b", "endpoint": model.endpoint, "prompt_sha256": None}


def test_disk_full_fails_the_durable_append_with_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / log_file_name(1)).symlink_to("/dev/full")
    log = AuditLog(tmp_path, robot_id="robot-t")
    with pytest.raises(AuditLogError, match="write failed: No space left on device"):
        log.append(_emitter().make("motion_start", "alice"))
    with pytest.raises(AuditLogError, match="No space left on device"):
        log.append(_emitter().make("motion_start", "alice"))
    log.close()


def test_unusable_log_dir_fails_to_open_with_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(AuditLogError, match="not-a-dir"):
        AuditLog(blocker / "audit", robot_id="robot-t")


READ_ONLY_PROBE = """
import sys
from embodied_stack.audit.emitter import AuditEmitter
from embodied_stack.audit.log import AuditLog, AuditLogError
try:
    log = AuditLog(sys.argv[1], robot_id="robot-t")
    log.append(AuditEmitter(source="m", robot_id="robot-t").make("motion_start", "alice"))
except AuditLogError as exc:
    print(exc)
    sys.exit(3)
"""


def _run_on_read_only_dir(log_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run the probe with log_dir read-only: by permissions on the directory and on every
    file in it (the writer appends to the last file), or (root ignores permissions) by a
    read-only bind mount in a private mount namespace."""
    probe = [sys.executable, "-c", READ_ONLY_PROBE, str(log_dir)]
    if os.geteuid() != 0:
        with _read_only(log_dir):
            return subprocess.run(probe, capture_output=True, text=True, timeout=60)
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare(1) for a read-only mount")
    script = 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" "$1" && shift && exec "$@"'
    cmd = [unshare, "-m", "sh", "-c", script, "sh", str(log_dir), *probe]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if "mount" in result.stderr:
        pytest.skip(f"cannot make a read-only mount here: {result.stderr.strip()}")
    return result


@contextlib.contextmanager
def _read_only(log_dir: Path) -> Iterator[None]:
    """log_dir and its files read-only for their owner (not for root), restored after."""
    paths = [*log_dir.iterdir(), log_dir]
    modes = {path: path.stat().st_mode for path in paths}
    for path in paths:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        yield
    finally:
        for path, mode in modes.items():
            path.chmod(mode)


def test_read_only_log_dir_fails_with_a_clear_error(tmp_path: Path) -> None:
    write_log(tmp_path, 2)
    result = _run_on_read_only_dir(tmp_path)
    assert result.returncode == 3, result.stderr
    assert "Read-only file system" in result.stdout or "Permission denied" in result.stdout
    assert verify(tmp_path).records == 2


def test_a_corrupt_last_record_stops_the_writer(tmp_path: Path) -> None:
    write_log(tmp_path, 3)
    path = log_files(tmp_path)[0]
    path.write_bytes(path.read_bytes().replace(b'"i":2', b'"i":9'))
    with pytest.raises(AuditLogError, match="fails its hash"):
        AuditLog(tmp_path, robot_id="robot-t")


def test_a_forged_last_record_of_the_wrong_shape_stops_the_writer(tmp_path: Path) -> None:
    """A valid hash over a record whose seq is no integer: the writer does not chain on."""
    write_log(tmp_path, 3)
    path = log_files(tmp_path)[0]
    lines = path.read_bytes().splitlines(keepends=True)
    record = json.loads(lines[-1])
    record["seq"] = True
    del record["hash"]
    record["hash"] = line_hash(canonical_json(record).encode())
    path.write_bytes(b"".join(lines[:-1]) + (canonical_json(record) + "\n").encode())
    with pytest.raises(AuditLogError, match="not an audit record \\(seq is a boolean"):
        AuditLog(tmp_path, robot_id="robot-t")
