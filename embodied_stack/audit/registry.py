"""The deployment registry (config/registry.yaml): who is accountable for this robot.

It names the robot, its accountable owner, the operators with their roles (passwords
stored only as salted argon2 hashes) and the models allowed to plan. `ROLE_ACTIONS` is
the one table of what each role may do, used by the console and the kill switch.
"""

from __future__ import annotations

import functools
from enum import Enum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from embodied_stack.config import config_path, load_yaml, validate
from embodied_stack.errors import ConfigError
from embodied_stack.schemas import RiskTier

# The robot id of events and records when the registry names none (missing, unreadable
# or invalid file): one value for every node, so such records are easy to find.
UNREGISTERED_ROBOT_ID = "unregistered"
BUILTIN_MODEL = "offline-grammar-1"
BUILTIN_ENDPOINT = "builtin"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$"
_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the operator is unknown, so a wrong name costs as much as a
    wrong password (no user enumeration by timing)."""
    return _HASHER.hash("not-a-password")


class Role(str, Enum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    SAFETY_OFFICER = "safety_officer"


class Action(str, Enum):
    VIEW = "view"  # watch the console, read the audit log
    STOP = "stop"  # software e-stop: anyone who can see the robot may stop it
    INSTRUCT = "instruct"  # give the planner an instruction
    APPROVE = "approve"  # approve or reject a waiting plan
    JOG = "jog"  # hold-to-move teleoperation
    RESET = "reset"  # release the latched e-stop


_OPERATOR_ACTIONS = frozenset(
    {Action.VIEW, Action.STOP, Action.INSTRUCT, Action.APPROVE, Action.JOG}
)
ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.VIEWER: frozenset({Action.VIEW, Action.STOP}),
    Role.OPERATOR: _OPERATOR_ACTIONS,
    Role.SAFETY_OFFICER: _OPERATOR_ACTIONS | {Action.RESET},
}


def role_allows(role: Role | str, action: Action | str) -> bool:
    """Whether a role may take an action (unknown roles and actions may not)."""
    try:
        return Action(action) in ROLE_ACTIONS[Role(role)]
    except ValueError:
        return False


def hash_password(password: str) -> str:
    """A salted argon2id hash (the only form in which a password is ever stored)."""
    return _HASHER.hash(password)


class Owner(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organisation: str = Field(min_length=1)
    responsible_person: str = Field(min_length=1)
    contact: str = Field(min_length=1)


class Operator(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    role: Role
    password_hash: str

    @field_validator("password_hash")
    @classmethod
    def _is_argon2(cls, value: str) -> str:
        if not value.startswith("$argon2"):
            raise ValueError("must be an argon2 hash (use `embodied-stack registry add-operator`)")
        return value


class RegisteredModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    endpoint: str = Field(min_length=1)  # "builtin" for the offline planner


def _same_endpoint(a: str | None, b: str | None) -> bool:
    return (a or "").rstrip("/") == (b or "").rstrip("/")


class Registry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    robot_id: str = Field(pattern=NAME_PATTERN)
    owner: Owner
    approval_tier: RiskTier = RiskTier.HIGH
    models: list[RegisteredModel] = Field(min_length=1)
    operators: list[Operator] = Field(default_factory=list)

    @field_validator("operators", mode="before")
    @classmethod
    def _none_is_no_operators(cls, value: object) -> object:
        return [] if value is None else value  # `operators:` with no entries yet

    @model_validator(mode="after")
    def _unique_names(self) -> Registry:
        for label, names in (
            ("operators", [o.name for o in self.operators]),
            ("models", [f"{m.name} at {m.endpoint}" for m in self.models]),
        ):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{label}: duplicate entries {', '.join(dupes)}")
        return self

    def operator(self, name: str) -> Operator | None:
        return next((o for o in self.operators if o.name == name), None)

    def verify_password(self, name: str, password: str) -> Operator | None:
        """The operator when name and password match; None otherwise (never logs either)."""
        operator = self.operator(name)
        try:
            _HASHER.verify(operator.password_hash if operator else _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return None
        return operator

    def model_allowed(self, name: str, endpoint: str | None) -> bool:
        """Whether this model at this endpoint is registered to plan."""
        return any(m.name == name and _same_endpoint(m.endpoint, endpoint) for m in self.models)


def load_registry(path: str | Path | None = None) -> Registry:
    """Load and validate the registry; ConfigError names the file and every bad field."""
    resolved = config_path(str(path or "registry.yaml"))
    return validate(Registry, load_yaml(resolved), str(resolved))


def registry_robot_id(path: str | Path | None = None) -> str:
    """The robot id the registry file names, valid or not; UNREGISTERED_ROBOT_ID when the
    file cannot be read or names none. For labelling events: whether the registry is
    valid is for the nodes that need it (`load_registry`) to decide."""
    try:
        robot_id = load_yaml(config_path(str(path or "registry.yaml"))).get("robot_id")
    except ConfigError:
        return UNREGISTERED_ROBOT_ID
    return str(robot_id) if robot_id else UNREGISTERED_ROBOT_ID


def verify_password(registry: Registry, name: str, password: str) -> Operator | None:
    return registry.verify_password(name, password)


def model_allowed(registry: Registry, name: str, endpoint: str | None) -> bool:
    return registry.model_allowed(name, endpoint)
