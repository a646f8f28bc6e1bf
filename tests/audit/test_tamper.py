"""Tampering with a chained log is found at the right sequence number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embodied_stack.audit.emitter import AuditEmitter
from embodied_stack.audit.log import AuditLog, verify
from embodied_stack.audit.record import (
    RECORD_KEYS,
    canonical_json,
    line_hash,
    log_files,
    record_problem,
)
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


# ---- forged records: a recomputed hash over fields of the wrong type -----------------


def _forged(line: bytes, **fields: object) -> bytes:
    """The record of `line` with `fields` replaced and its hash recomputed, as a forger
    who knows the format would write it."""
    record = json.loads(line)
    record.update(fields)
    del record["hash"]
    record["hash"] = line_hash(canonical_json(record).encode())
    return (canonical_json(record) + "\n").encode()


def _forge_last(tmp_path: Path, **fields: object) -> Path:
    """A log whose last record (seq COUNT-1, chained to the one before) is forged."""
    path = _single_file_log(tmp_path)
    lines = lines_of(path)
    lines[-1] = _forged(lines[-1], **fields)
    path.write_bytes(b"".join(lines))
    return path


@pytest.mark.parametrize("payload", [[1, 2], "torn", 7, None, True])
def test_a_forged_gap_whose_payload_is_no_object_is_not_a_record(
    tmp_path: Path, payload: object
) -> None:
    path = _forge_last(tmp_path, kind="gap", payload=payload)
    for target in (tmp_path, path):  # the log, and its one file on its own
        report = verify(target)
        assert (report.ok, report.first_bad_seq, report.records) == (False, COUNT - 1, COUNT - 1)
        assert (report.problem or "").startswith("not an audit record (payload is ")


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("seq", "11", "seq is a string"),
        ("seq", 11.0, "seq is a number"),
        ("seq", None, "seq is null"),
        ("seq", -1, "seq -1 is negative"),
        ("prev_hash", 0, "prev_hash is an integer"),
        ("prev_hash", ["0" * 64], "prev_hash is an array"),
        ("time", False, "time is a boolean"),
        ("model", "qwen", "model is a string"),
        ("ai_generated", 1, "ai_generated is an integer"),
        ("kind", {"gap": 1}, "kind is an object"),
    ],
)
def test_a_forged_field_of_the_wrong_type_is_not_a_record(
    tmp_path: Path, field: str, value: object, said: str
) -> None:
    path = _forge_last(tmp_path, **{field: value})
    report = verify(tmp_path)
    assert (report.ok, report.first_bad_seq) == (False, COUNT - 1)
    assert (report.problem or "").startswith(f"not an audit record ({said}")
    assert not verify(path).ok  # the file on its own: no crash either


def test_seq_true_is_not_seq_one(tmp_path: Path) -> None:
    """JSON `true` equals 1 in Python: a forged first record must not pass as seq 1."""
    write_log(tmp_path, 2)
    (path,) = log_files(tmp_path)
    lines = lines_of(path)
    lines[1] = _forged(lines[1], seq=True)
    path.write_bytes(b"".join(lines))
    report = verify(tmp_path)
    assert (report.ok, report.first_bad_seq) == (False, 1)
    assert report.problem == "not an audit record (seq is a boolean, not an integer)"


def test_a_second_hash_field_is_not_a_record(tmp_path: Path) -> None:
    path = _single_file_log(tmp_path)
    lines = lines_of(path)
    lines[-1] = lines[-1].replace(b'"source":', b'"hash":"' + b"ab" * 32 + b'","source":')
    path.write_bytes(b"".join(lines))
    report = verify(tmp_path)
    assert (report.ok, report.first_bad_seq) == (False, COUNT - 1)
    assert report.problem == "not an audit record (a second hash field)"


@settings(max_examples=150, deadline=None)
@given(
    index=st.integers(min_value=0, max_value=COUNT - 1),
    field=st.sampled_from(sorted(RECORD_KEYS - {"hash"})),
    value=json_values,
)
def test_any_forged_field_is_judged_never_crashes(tmp_path_factory, index, field, value) -> None:  # type: ignore[no-untyped-def]
    """Any JSON value in any field, hash recomputed: verify answers, and a value of the
    wrong type is 'not an audit record' at that record's seq."""
    log_dir = tmp_path_factory.mktemp("forged")
    path = _single_file_log(log_dir)
    lines = lines_of(path)
    original = json.loads(lines[index])
    lines[index] = _forged(lines[index], **{field: value})
    path.write_bytes(b"".join(lines))
    report = verify(log_dir)
    verify(path)  # the single file, unanchored: answers too
    if _json_equal(value, original[field]):  # the same line: nothing was changed
        assert report.ok, report.summary()
    elif record_problem({**original, field: value}, original["hash"]) is not None:
        assert (report.ok, report.first_bad_seq) == (False, index), report.summary()
        assert (report.problem or "").startswith("not an audit record")
    elif not report.ok:  # a well-typed forgery breaks the chain here or at the next record
        assert report.first_bad_seq in (index, index + 1), report.summary()
    else:  # ... unless it is the last record and its seq and prev_hash are left alone
        assert index == COUNT - 1 and field not in ("seq", "prev_hash")


def _json_equal(a: object, b: object) -> bool:
    return canonical_json({"v": a}) == canonical_json({"v": b})
