"""A writer killed with SIGKILL loses nothing it acknowledged; a torn tail is reported,
never accepted or dropped, and the next writer continues the chain after a gap record."""

from __future__ import annotations

import base64
import os
import random
import signal
import subprocess
import sys
import time
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


# ---- real crashes: a writer of large records killed mid-stream, restarted, killed ... ---

LARGE_WRITER = """
import resource, signal, sys
from embodied_stack.audit.emitter import AuditEmitter
from embodied_stack.audit.log import AuditLog
log_dir, pad = sys.argv[1], "x" * int(sys.argv[2])
rotate_bytes, size_limit = int(sys.argv[3]), int(sys.argv[4])
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
if size_limit:  # the kernel cuts the write that crosses it, and kills on the next one
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size_limit, size_limit))
log = AuditLog(log_dir, robot_id="robot-t", rotate_bytes=rotate_bytes)
print("opened", log.opened.next_seq, log.opened.gap_seq, flush=True)
emitter = AuditEmitter(source="motion_node", robot_id="robot-t")
while True:
    record = log.append(emitter.make("motion_start", "alice", {"pad": pad}))
    print("acked", record.seq, flush=True)
"""
PAD = 300_000  # bytes of payload per record: a write(2) long enough to be cut
ONE_FILE = 100_000_000  # rotate_bytes that no test reaches


def _start_large_writer(
    log_dir: Path, *, rotate_bytes: int = 1_000_000, size_limit: int = 0
) -> subprocess.Popen[str]:
    args = [str(log_dir), str(PAD), str(rotate_bytes), str(size_limit)]
    return subprocess.Popen(
        [sys.executable, "-c", LARGE_WRITER, *args], stdout=subprocess.PIPE, text=True
    )


def _opened(proc: subprocess.Popen[str]) -> tuple[int, int | None]:
    """The writer's next seq and the seq of the gap record it wrote on opening, if any."""
    assert proc.stdout is not None
    word, next_seq, gap_seq = proc.stdout.readline().split()
    assert word == "opened"
    return int(next_seq), None if gap_seq == "None" else int(gap_seq)


def _acked_until_killed(proc: subprocess.Popen[str], count: int, rng: random.Random) -> int:
    """Read `count` acks, SIGKILL the writer a random moment later; the last seq acked."""
    assert proc.stdout is not None
    acked = -1
    for _ in range(count):
        acked = int(proc.stdout.readline().split()[1])
    time.sleep(rng.uniform(0.0, 0.02))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    return acked


def test_kill_9_mid_stream_again_and_again_the_chain_carries_on(tmp_path: Path) -> None:
    """Each start finds what the last kill left: a whole chain, or a torn tail that it
    marks with a gap record before chaining on. Nothing acknowledged is ever lost."""
    rng = random.Random(7)
    torn_seen = 0
    for _ in range(6):
        proc = _start_large_writer(tmp_path)
        before = verify(tmp_path)
        next_seq, gap_seq = _opened(proc)
        if before.torn_tail is None:
            assert before.ok and gap_seq is None and next_seq == before.records
        else:  # the gap record comes right after the last whole record
            assert gap_seq == before.records == before.first_bad_seq
            assert next_seq == gap_seq + 1
            torn_seen += 1
        acked = _acked_until_killed(proc, rng.randint(2, 6), rng)
        after = verify(tmp_path)
        assert after.ok or after.torn_tail is not None, after.summary()
        assert after.records >= acked + 1  # every acknowledged record is whole
    log = AuditLog(tmp_path, robot_id="robot-t")
    torn_seen += log.opened.torn_tail is not None
    log.close()
    final = verify(tmp_path)
    assert final.ok, final.summary()
    assert len(final.gaps) == torn_seen
    assert [r.seq for r in read_records(tmp_path)] == list(range(final.records))


def test_a_write_cut_by_the_kernel_is_a_torn_tail_then_a_gap(tmp_path: Path) -> None:
    """The file size limit (RLIMIT_FSIZE) makes the kernel cut a record's write(2) at a
    known byte and kill the writer (SIGXFSZ) when it writes the rest: a torn record
    on disk for certain, from the writer's own write, not bytes added by the test."""
    log = AuditLog(tmp_path, robot_id="robot-t", rotate_bytes=ONE_FILE)
    emitter = AuditEmitter(source="motion_node", robot_id="robot-t")
    for _ in range(3):
        log.append(emitter.make("motion_start", "alice", {"pad": "x" * PAD}))
    log.close()
    whole = log_files(tmp_path)[-1].stat().st_size
    limit = whole + PAD // 2  # in the middle of the next record
    cut = _start_large_writer(tmp_path, rotate_bytes=ONE_FILE, size_limit=limit)
    _opened(cut)
    assert cut.wait(timeout=60) == -signal.SIGXFSZ
    assert cut.stdout is not None
    cut.stdout.close()

    report = verify(tmp_path)
    assert not report.ok and report.torn_tail is not None, report.summary()
    assert (report.torn_tail.offset, report.torn_tail.length) == (whole, limit - whole)
    assert report.first_bad_seq == report.records

    nxt = _start_large_writer(tmp_path, rotate_bytes=ONE_FILE)
    next_seq, gap_seq = _opened(nxt)
    assert (gap_seq, next_seq) == (report.records, report.records + 1)
    _acked_until_killed(nxt, 2, random.Random(2))
    after = verify(tmp_path)
    assert after.ok or after.torn_tail is not None, after.summary()
    assert [g.seq for g in after.gaps] == [report.records]
    gap = next(r for r in read_records(tmp_path) if r.kind == "gap")
    torn = gap.payload["torn"][0]
    assert (torn["offset"], torn["length"]) == (whole, limit - whole)
