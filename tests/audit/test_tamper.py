"""Tampering with a chained log is found at the right sequence number."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from embodied_stack.audit.emitter import AuditEmitter
from embodied_stack.audit.log import AuditLog, verify
from embodied_stack.audit.record import canonical_json, line_hash, log_files
from tests.audit.helpers import lines_of, write_log

COUNT = 12


def _single_file_log(tmp_path: Path) -> Path:
    write_log(tmp_path, COUNT)
    (path,) = log_files(tmp_path)
    return path


def test_untouched_log_verifies(tmp_path: Path) -> None:
    write_log(tmp_path, COUNT, rotate_bytes=1500)
    report = verify(tmp_path)
    assert report.ok, report.summary()
    assert report.records == COUNT
    assert len(report.files) > 2  # the chain is carried across rotated files


def test_flip_one_byte_in_payload(tmp_path: Path) -> None:
    path = _single_file_log(tmp_path)
    lines = lines_of(path)
    lines[5] = lines[5].replace(b'"i":5', b'"i":6')
    path.write_bytes(b"".join(lines))
    report = verify(tmp_path)
    assert not report.ok
    assert report.first_bad_seq == 5
    assert "modified" in (report.problem or "")


def test_delete_a_record(tmp_path: Path) -> None:
    path = _single_file_log(tmp_path)
    lines = lines_of(path)
    del lines[7]
    path.write_bytes(b"".join(lines))
    report = verify(tmp_path)
    assert (report.ok, report.first_bad_seq, report.bad_line) == (False, 7, 8)
    assert "deleted" in (report.problem or "")


def test_insert_a_copied_record(tmp_path: Path) -> None:
    path = _single_file_log(tmp_path)
    lines = lines_of(path)
    lines.insert(4, lines[2])
    path.write_bytes(b"".join(lines))
    report = verify(tmp_path)
    assert (report.ok, report.first_bad_seq) == (False, 4)


def test_insert_a_forged_record_with_a_valid_hash(tmp_path: Path) -> None:
    """A forger who recomputes the hash still breaks the chain at the next record."""
    path = _single_file_log(tmp_path)
    lines = lines_of(path)
    forged = json.loads(lines[3])
    forged["payload"] = {"text": "nothing happened"}
    del forged["hash"]
    forged["hash"] = line_hash(canonical_json(forged).encode())
    lines.insert(4, (canonical_json(forged) + "\n").encode().replace(b'"seq":3', b'"seq":4'))
    path.write_bytes(b"".join(lines))
    report = verify(tmp_path)
    assert (report.ok, report.first_bad_seq) == (False, 4)


def test_swap_two_records(tmp_path: Path) -> None:
    path = _single_file_log(tmp_path)
    lines = lines_of(path)
    lines[8], lines[9] = lines[9], lines[8]
    path.write_bytes(b"".join(lines))
    report = verify(tmp_path)
    assert (report.ok, report.first_bad_seq) == (False, 8)
    assert "reordered" in (report.problem or "")


def test_truncate_mid_record(tmp_path: Path) -> None:
    path = _single_file_log(tmp_path)
    lines = lines_of(path)
    kept = b"".join(lines[:6]) + lines[6][:40]
    path.write_bytes(kept)
    report = verify(tmp_path)
    assert (report.ok, report.first_bad_seq, report.records) == (False, 6, 6)
    assert report.torn_tail is not None and report.torn_tail.length == 40


def test_removing_a_middle_file_is_found(tmp_path: Path) -> None:
    write_log(tmp_path, COUNT, rotate_bytes=1500)
    files = log_files(tmp_path)
    first_seq_of_second = len(lines_of(files[0]))
    files[1].unlink()
    report = verify(tmp_path)
    assert (report.ok, report.first_bad_seq) == (False, first_seq_of_second)


@settings(max_examples=60, deadline=None)
@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_any_flipped_byte_is_found_in_its_record(tmp_path_factory, position, flip) -> None:  # type: ignore[no-untyped-def]
    log_dir = tmp_path_factory.mktemp("flip")
    path = _single_file_log(log_dir)
    data = bytearray(path.read_bytes())
    position %= len(data)
    data[position] ^= flip
    path.write_bytes(bytes(data))
    seq_of_byte = bytes(data[:position]).count(b"\n")
    report = verify(log_dir)
    assert not report.ok
    assert report.first_bad_seq == seq_of_byte


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=40, deadline=None)
@given(actor=st.text(min_size=1), payload=st.dictionaries(st.text(), json_values, max_size=4))
def test_any_content_chains_and_verifies(tmp_path_factory, actor, payload) -> None:  # type: ignore[no-untyped-def]
    log_dir = tmp_path_factory.mktemp("content")
    log = AuditLog(log_dir, robot_id="robot-t")
    emitter = AuditEmitter(source="src", robot_id="robot-t")
    log.append(emitter.make("instruction", actor, payload, ai_generated=True))
    log.append(emitter.make("plan", actor, {"hash": "x", ',"hash":"': payload}))
    log.close()
    report = verify(log_dir)
    assert report.ok, report.summary()
    assert report.records == 2


def test_whole_records_cut_from_the_end_are_found_against_a_published_head(
    tmp_path: Path,
) -> None:
    path = _single_file_log(tmp_path)
    published = verify(tmp_path).head_hash
    lines = lines_of(path)
    path.write_bytes(b"".join(lines[:-2]))
    assert verify(tmp_path).ok  # the chain alone cannot tell
    report = verify(tmp_path, expect_head=published)
    assert (report.ok, report.first_bad_seq) == (False, COUNT - 2)
    assert verify(tmp_path, expect_head=json.loads(lines[3])["hash"]).ok
