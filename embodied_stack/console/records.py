"""Read-only views of the audit log and incident bundles for the console.

The console never writes either: audit_node owns the log, the safety code
writes bundles. Reading newest-first keeps a query cheap on a long log.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from embodied_stack.audit.record import resolve_files
from embodied_stack.audit.verify import verify
from embodied_stack.console.backend import AuditQuery, ChainStatus
from embodied_stack.safety.incidents import IncidentSummary, read_incident

log = logging.getLogger(__name__)


def _matches(record: dict[str, Any], line: str, query: AuditQuery) -> bool:
    if query.kind is not None and record.get("kind") != query.kind.value:
        return False
    if query.actor is not None and record.get("actor") != query.actor:
        return False
    return query.text is None or query.text.lower() in line.lower()


def query_audit(log_dir: str | Path, query: AuditQuery) -> list[dict[str, Any]]:
    """The newest `query.limit` records that match, oldest first."""
    path = Path(log_dir)
    if not path.exists():
        return []
    found: list[dict[str, Any]] = []
    for file in reversed(resolve_files(path)):
        for raw in reversed(file.read_text(encoding="utf-8", errors="replace").split("\n")[:-1]):
            try:
                record = json.loads(raw)
            except json.JSONDecodeError:
                continue  # a torn line: `verify` reports it
            if isinstance(record, dict) and _matches(record, raw, query):
                found.append(record)
                if len(found) >= query.limit:
                    return found[::-1]
    return found[::-1]


def chain_status(log_dir: str | Path, expect_head: str | None = None) -> ChainStatus:
    report = verify(log_dir, expect_head=expect_head)
    return ChainStatus(
        ok=report.ok,
        length=report.records,
        head_hash=report.head_hash,
        broken_at=report.first_bad_seq,
        message=report.summary(),
    )


def list_incidents(root: str | Path, limit: int = 100) -> list[IncidentSummary]:
    """Incident bundles, newest first (bundle directories are named by UTC time)."""
    path = Path(root)
    if not path.is_dir():
        return []
    bundles = sorted(d for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
    found = []
    for bundle in reversed(bundles):
        try:
            found.append(read_incident(bundle))
        except (OSError, ValidationError) as exc:
            log.warning("incident bundle %s unreadable: %s", bundle, exc)
        if len(found) >= limit:
            break
    return sorted(found, key=lambda i: i.stamp, reverse=True)  # names tie within a second
