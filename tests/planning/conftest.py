"""Scenes of the suites as perception would report them (ids, kinds, colours, poses)."""

from __future__ import annotations

import pytest

from embodied_stack.audit.registry import load_registry
from embodied_stack.planning.offline import OfflineBackend
from embodied_stack.planning.scene_objects import perceived_objects
from embodied_stack.safety.redlines import load_redlines
from embodied_stack.scene import Scene, load_suite
from embodied_stack.schemas import PerceivedObject
from tests.conftest import REDTEAM_PUBLIC, TASKS_PUBLIC


def perceived(scene: Scene) -> list[PerceivedObject]:
    return perceived_objects(scene)


@pytest.fixture(scope="session")
def tasks_suite():
    return load_suite(TASKS_PUBLIC)


@pytest.fixture(scope="session")
def redteam_suite():
    return load_suite(REDTEAM_PUBLIC)


@pytest.fixture(scope="session")
def registry():
    return load_registry()


@pytest.fixture(scope="session")
def redlines():
    return load_redlines()


@pytest.fixture(scope="session")
def offline():
    return OfflineBackend()
