"""A writer killed with SIGKILL loses nothing it acknowledged; a torn tail is reported,
never accepted or dropped, and the next writer continues the chain after a gap record."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
from pathlib import Path

from embodied_stack.audit.emitter import AuditEmitter
from embodied_stack.audit.log import AuditLog, verify
from embodied_stack.audit.record import log_files, read_records

WRITER = """
import sys
from embodied_stack.audit.emitter import AuditEmitter
from embodied_stack.audit.log import AuditLog
log = AuditLog(sys.argv[1], robot_id="robot-t", rotate_bytes=4000)
emitter = AuditEmitter(source="motion_node", robot_id="robot-t")
while True:
    record = log.append(emitter.make("motion_start", "alice", {"pad": "x" * 50}))
    print(record.seq, flush=True)
"""


def _kill_writer_mid_stream(log_dir: Path) -> int:
    """Start a writer, let it acknowledge some events, SIGKILL it; the last acked seq."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(log_dir)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    acked = -1
    for line in proc.stdout:
        acked = int(line)
        if acked >= 120:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    return acked


def test_sigkill_keeps_every_acknowledged_record(tmp_path: Path) -> None:
    acked = _kill_writer_mid_stream(tmp_path)
    report = verify(tmp_path)
    # A kill between write(2) calls leaves whole lines; any torn tail must be reported.
    assert report.ok or report.torn_tail is not None, report.summary()
    assert report.records >= acked + 1  # nothing acknowledged is missing
    assert len(report.files) > 1


def test_torn_tail_is_reported_then_the_chain_continues_after_a_gap(tmp_path: Path) -> None:
    acked = _kill_writer_mid_stream(tmp_path)
    complete = verify(tmp_path).records
    torn = b'{"actor":"alice","ai_generated":false,"hash":"3f2a'  # a write cut short
    with log_files(tmp_path)[-1].open("ab") as handle:
        handle.write(torn)

    report = verify(tmp_path)
    assert not report.ok
    assert report.records == complete >= acked + 1
    assert report.first_bad_seq == complete
    assert report.torn_tail is not None and report.torn_tail.length == len(torn)

    log = AuditLog(tmp_path, robot_id="robot-t")
    assert log.opened.torn_tail is not None
    assert log.opened.gap_seq == complete
    log.append(AuditEmitter(source="motion_node", robot_id="robot-t").make("trip", "bob"))
    log.close()

    after = verify(tmp_path)
    assert after.ok, after.summary()
    assert after.records == complete + 2
    assert [g.seq for g in after.gaps] == [complete]
    gap = next(r for r in read_records(tmp_path) if r.kind == "gap")
    assert base64.b64decode(gap.payload["torn"][0]["bytes_b64"]) == torn


def test_tampering_with_the_torn_bytes_after_recovery_is_found(tmp_path: Path) -> None:
    log = AuditLog(tmp_path, robot_id="robot-t")
    emitter = AuditEmitter(source="planner_node", robot_id="robot-t")
    log.append(emitter.make("plan", "alice"))
    log.close()
    first = log_files(tmp_path)[0]
    with first.open("ab") as handle:
        handle.write(b'{"seq":1,"torn')
    AuditLog(tmp_path, robot_id="robot-t").close()
    assert verify(tmp_path).ok
    with first.open("ab") as handle:
        handle.write(b"more")
    report = verify(tmp_path)
    assert (report.ok, report.first_bad_seq) == (False, 1)
    assert "torn bytes that no gap record names" in (report.problem or "")
