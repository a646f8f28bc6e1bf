"""One audit log record: its canonical JSON line, its SHA-256 hash, and the log's files.

A record's hash is SHA-256 over its canonical JSON without the `hash` field (sorted
keys, no spaces, UTF-8 unescaped). The line on disk is the canonical JSON *with* the
hash; since `hash` sorts right after `ai_generated`, removing `,"hash":"<64 hex>"` from
a line gives back exactly the hashed text, so verification hashes the bytes on disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from embodied_stack.schemas import AuditEvent

GENESIS_HASH = "0" * 64
FILE_PREFIX = "audit-"
FILE_SUFFIX = ".jsonl"
_FILE_RE = re.compile(rf"^{FILE_PREFIX}(\d{{6}}){re.escape(FILE_SUFFIX)}$")
_HASH_MARKER = b',"hash":"'
_HEX_LEN = 64
RECORD_KEYS = frozenset(
    {
        "seq",
        "time",
        "robot_id",
        "actor",
        "kind",
        "model",
        "ai_generated",
        "payload",
        "source",
        "source_seq",
        "prev_hash",
        "hash",
    }
)


# The JSON types of a record's fields, as json.loads makes them (compared exactly: a
# bool, an int subclass in Python, is no seq).
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "seq": (int,),
    "time": (int, float),
    "robot_id": (str,),
    "actor": (str,),
    "kind": (str,),
    "model": (dict, type(None)),
    "ai_generated": (bool,),
    "payload": (dict,),
    "source": (str,),
    "source_seq": (int, type(None)),
    "prev_hash": (str,),
    "hash": (str,),
}
_TYPE_NAMES: dict[type, str] = {
    dict: "an object",
    list: "an array",
    type(None): "null",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
}


def _json_type(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def record_problem(rec: Any, stored_hash: str) -> str | None:
    """Why a parsed line is not an audit record (keys, field types, a second `hash`),
    or None. `stored_hash` is the hash `hashed_text` found in the line."""
    if not isinstance(rec, dict) or set(rec) != RECORD_KEYS:
        return "not an audit record (fields missing, added or renamed)"
    for key, allowed in _FIELD_TYPES.items():
        value = rec[key]
        if type(value) not in allowed:
            wanted = " or ".join(_TYPE_NAMES[t] for t in allowed)
            return f"not an audit record ({key} is {_json_type(value)}, not {wanted})"
    if rec["seq"] < 0:
        return f"not an audit record (seq {rec['seq']} is negative)"
    if rec["hash"] != stored_hash:
        return "not an audit record (a second hash field)"
    return None


class AuditRecord(BaseModel):
    """One line of the audit log."""

    model_config = ConfigDict(extra="forbid")

    seq: int = Field(ge=0)
    time: float
    robot_id: str
    actor: str
    kind: str
    model: dict[str, Any] | None = None
    ai_generated: bool = False
    payload: dict[str, Any] = Field(default_factory=dict)
    source: str
    source_seq: int | None = None
    prev_hash: str
    hash: str = ""


def canonical_json(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _utf8(text: str) -> bytes:
    # A lone surrogate (legal in JSON input) becomes its JSON escape `\udXXX`.
    return text.encode("utf-8", "backslashreplace")


def seal(event: AuditEvent, *, seq: int, prev_hash: str) -> tuple[AuditRecord, bytes]:
    """The chained record for an event and its line on disk (with the newline)."""
    data = event.model_dump(mode="json")  # JSON-safe payload whatever the caller passed
    body: dict[str, Any] = {
        "seq": seq,
        "time": data["stamp"],
        "robot_id": data["robot_id"],
        "actor": data["actor"],
        "kind": data["kind"],
        "model": data["model"],
        "ai_generated": data["ai_generated"],
        "payload": data["payload"],
        "source": data["source"],
        "source_seq": data["source_seq"],
        "prev_hash": prev_hash,
    }
    digest = hashlib.sha256(_utf8(canonical_json(body))).hexdigest()
    body["hash"] = digest
    line = _utf8(canonical_json(body) + "\n")
    return AuditRecord.model_validate(body), line


def hashed_text(line: bytes) -> tuple[bytes, str] | None:
    """Split a line (no newline) into the text that was hashed and the stored hash."""
    at = line.find(_HASH_MARKER)
    start = at + len(_HASH_MARKER)
    end = start + _HEX_LEN
    if at < 0 or line[end : end + 1] != b'"':
        return None
    return line[:at] + line[end + 1 :], line[start:end].decode("ascii", "replace")


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def log_file_name(index: int) -> str:
    return f"{FILE_PREFIX}{index:06d}{FILE_SUFFIX}"


def file_index(path: Path) -> int | None:
    match = _FILE_RE.match(path.name)
    return int(match.group(1)) if match else None


def log_files(log_dir: Path) -> list[Path]:
    """The log's files in chain order."""
    if not log_dir.is_dir():
        return []
    found = [(file_index(p), p) for p in log_dir.iterdir()]
    return [p for i, p in sorted((i, p) for i, p in found if i is not None)]


def resolve_files(path: Path) -> list[Path]:
    """A log directory's files, or a single file on its own."""
    return [path] if path.is_file() else log_files(path)


def read_log_file(path: Path) -> bytes:
    """The file's bytes, bounded by its size (a device, /dev/full say, never reads forever)."""
    with path.open("rb") as handle:
        return handle.read(os.fstat(handle.fileno()).st_size)


def read_records(path: Path) -> Iterator[AuditRecord]:
    """Complete records in log order (no checking: `verify` does that)."""
    for file in resolve_files(path):
        for line in read_log_file(file).split(b"\n")[:-1]:
            yield AuditRecord.model_validate_json(line)


def audit_slice(
    path: Path, *, since: float, until: float | None = None, slack_s: float = 5.0
) -> list[dict[str, Any]]:
    """Records (as dicts, hashes included) stamped in [since, until], for an incident bundle.

    Reads from the newest file backwards and stops `slack_s` before `since` (event stamps
    come from many clocks, so the log is only nearly ordered by time)."""
    found: list[dict[str, Any]] = []
    for file in reversed(resolve_files(path)):
        for line in reversed(read_log_file(file).split(b"\n")[:-1]):
            record = json.loads(line)
            if record["time"] < since - slack_s:
                return found[::-1]
            if record["time"] >= since and (until is None or record["time"] <= until):
                found.append(record)
    return found[::-1]
