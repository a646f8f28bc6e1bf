"""Shared test set-up: DDS stays on this machine, each test run on its own domain."""

from __future__ import annotations

import os
from pathlib import Path

# Concurrent test runs must never hear each other: one domain per process.
os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_LOCALHOST_ONLY", "1")

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
TASKS_PUBLIC = SHARED / "tasks" / "public.yaml"
REDTEAM_PUBLIC = SHARED / "redteam" / "public.yaml"
ARTIFACTS = REPO / "test-artifacts"
