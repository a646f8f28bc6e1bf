"""One capsule per robot link, fitted to the link's collision meshes in the URDF.

A capsule (segment + radius, in the link frame) encloses every vertex of the
link's collision geometry; its axis is the vertices' principal direction. Links
without readable meshes get none (the caller falls back to the chain itself).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from embodied_stack.control.kinematics import rpy_matrix

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Capsule:
    a: FloatArray  # (3,) segment end, link frame
    b: FloatArray
    radius: float


def _floats(text: str | None, default: str) -> FloatArray:
    return np.array([float(v) for v in (text or default).split()])


def _mesh_vertices(path: Path) -> FloatArray:
    rows = [line.split()[1:4] for line in path.read_text().splitlines() if line.startswith("v ")]
    return np.array(rows, dtype=float).reshape(-1, 3)


def _resolve(urdf: Path, filename: str) -> Path:
    """package:// and relative mesh paths, relative to the URDF's directory."""
    name = filename.split("://", 1)[1] if "://" in filename else filename
    return urdf.parent / name


def _collision_vertices(urdf: Path, link: ET.Element) -> FloatArray:
    """Every collision mesh vertex of one link, in the link frame."""
    chunks: list[FloatArray] = []
    for collision in link.findall("collision"):
        mesh = collision.find("geometry/mesh")
        if mesh is None or not mesh.get("filename"):
            continue
        path = _resolve(urdf, mesh.get("filename", ""))
        if not path.is_file():
            continue
        origin = collision.find("origin")
        xyz = _floats(origin.get("xyz") if origin is not None else None, "0 0 0")
        rpy = _floats(origin.get("rpy") if origin is not None else None, "0 0 0")
        scale = _floats(mesh.get("scale"), "1 1 1")
        vertices = _mesh_vertices(path) * scale
        chunks.append(vertices @ rpy_matrix(*rpy).T + xyz)
    return np.vstack(chunks) if chunks else np.zeros((0, 3))


def fit_capsule(vertices: FloatArray) -> Capsule:
    """The capsule along the principal axis that encloses all the vertices."""
    centre = vertices.mean(axis=0)
    _u, _s, vt = np.linalg.svd(vertices - centre, full_matrices=False)
    axis = vt[0]
    t = (vertices - centre) @ axis
    lo, hi = float(t.min()), float(t.max())
    radial = np.linalg.norm((vertices - centre) - np.outer(t, axis), axis=1)
    radius = float(radial.max())
    # The caps are hemispheres: the segment stops a radius short of the extremes.
    inset = min(radius, (hi - lo) / 2)
    return Capsule(centre + axis * (lo + inset), centre + axis * (hi - inset), radius)


def link_capsules(urdf: Path) -> dict[str, Capsule]:
    """Link name -> enclosing capsule, for links with collision meshes."""
    root = ET.parse(urdf).getroot()
    capsules: dict[str, Capsule] = {}
    for link in root.iter("link"):
        vertices = _collision_vertices(urdf, link)
        if len(vertices) >= 4:
            capsules[link.get("name", "")] = fit_capsule(vertices)
    return capsules
