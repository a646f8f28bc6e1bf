"""The one config loader: finds config files and validates them into models.

Search order for the config directory: ``$EMBODIED_STACK_CONFIG``, the source
checkout's ``config/`` (editable installs), the ament share directory.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from embodied_stack.errors import ConfigError

ModelT = TypeVar("ModelT", bound=BaseModel)

_SOURCE_CONFIG = Path(__file__).resolve().parent.parent / "config"
_SHARE_CONFIG = Path(sys.prefix) / "share" / "embodied_stack" / "config"


def _share_configs() -> list[Path]:
    """Installed config dirs, most specific first: the prefix this module is installed
    in (<prefix>/lib/pythonX.Y/site-packages/embodied_stack/config.py, as colcon and
    ROS packages lay it out), each prefix on $AMENT_PREFIX_PATH, then sys.prefix."""
    here = Path(__file__).resolve()
    candidates = [here.parents[4]] if len(here.parents) > 4 else []
    prefixes = os.environ.get("AMENT_PREFIX_PATH", "")
    candidates += [Path(p) for p in prefixes.split(os.pathsep) if p]
    shares = [p / "share" / "embodied_stack" / "config" for p in candidates]
    return [*shares, _SHARE_CONFIG]


def config_dir() -> Path:
    """The directory holding stack.yaml, redlines.yaml, registry.yaml, robots/, scenes/."""
    override = os.environ.get("EMBODIED_STACK_CONFIG")
    if override:
        return Path(override)
    if _SOURCE_CONFIG.is_dir():
        return _SOURCE_CONFIG
    return next((p for p in _share_configs() if p.is_dir()), _SHARE_CONFIG)


def config_path(name: str) -> Path:
    """Path of a file in the config directory (absolute names pass through)."""
    path = Path(name)
    return path if path.is_absolute() else config_dir() / path


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: `on`, `off`, `yes`, `no` stay strings
    (the suite format uses `on:` as a key)."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def parse_yaml(text: str) -> Any:
    """Parse YAML text with YAML 1.2 booleans."""
    return yaml.load(text, Loader=_Yaml12Loader)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Parse a YAML mapping, raising ConfigError that names the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top, got {type(data).__name__}")
    return data


def describe_validation_error(exc: ValidationError, source: str) -> str:
    """One line per problem, each naming the field path: ``source: a.b[2].c: message``."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in err["loc"])
        lines.append(f"{source}: {where.replace('.[', '[')}: {err['msg']}")
    return "\n".join(lines)


def validate(model: type[ModelT], data: Any, source: str) -> ModelT:
    """Validate data into a model; ConfigError names every bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, source)) from exc


def load_model(model: type[ModelT], path: str | Path) -> ModelT:
    """Load a YAML file into a pydantic model."""
    resolved = config_path(str(path))
    return validate(model, load_yaml(resolved), str(resolved))


def namespace_agnostic_params(path: str | Path, out_dir: str | Path) -> Path:
    """A copy of a ROS params file whose `node:` sections read `/**/node:`.

    rcl gives a plain `node:` section only to `/node`; under a robot namespace
    (`/robot1/node`) it would silently run on defaults.
    """
    sections = load_yaml(path)
    rewritten = {
        (key if str(key).startswith("/") else f"/**/{key}"): value
        for key, value in sections.items()
    }
    out = Path(out_dir) / f"params-{Path(path).stem}.yaml"
    out.write_text(yaml.safe_dump(rewritten, default_flow_style=False), encoding="utf-8")
    return out
