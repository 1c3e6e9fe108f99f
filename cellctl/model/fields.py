"""Typed reading of YAML fields (numbers, vectors, poses, paths), each error pointing at its key's line."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from spatialmath import SE3

from cellctl.model.yamlsource import YDict, YList, check_keys


def name(node: YDict, key: str, what: str) -> str:
    """A plain name (a YAML string): robots, parts, tasks and features are named, never listed or nested."""
    value = node[key]
    if not isinstance(value, str) or not value:
        raise node.error(key, f"'{key}' of {what} must be a name, not {value!r}")
    return value


def number(node: YDict, key: str, what: str, *, positive: bool = False) -> float:
    value = node[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise node.error(key, f"'{key}' of {what} must be a number, not {value!r}")
    if positive and value <= 0:
        raise node.error(key, f"'{key}' of {what} must be greater than 0, not {value}")
    return float(value)


def boolean(node: YDict, key: str, what: str) -> bool:
    value = node[key]
    if not isinstance(value, bool):
        raise node.error(key, f"'{key}' of {what} must be true or false, not {value!r}")
    return value


def vector(node: YDict, key: str, what: str, n: int | None = 3) -> np.ndarray:
    value = node[key]
    if not isinstance(value, YList) or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value):
        shape = f"a list of {n} numbers" if n else "a list of numbers"
        raise node.error(key, f"'{key}' of {what} must be {shape}, like [0, 0, 0]; got {value!r}")
    if n is not None and len(value) != n:
        raise node.error(key, f"'{key}' of {what} must have {n} numbers, not {len(value)}")
    arr = np.array(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise node.error(key, f"'{key}' of {what} must hold finite numbers")
    return arr


POSE_KEYS = ("xyz", "xyz_mm", "rpy_deg", "rpy")
CELL_SIZE = 100.0  # m: no cell coordinate is this large; a larger xyz was written in millimetres


def pose(node: Any, what: str, parent: YDict | None = None, key: str | None = None, also: tuple[str, ...] = ()) -> SE3:
    """A pose written as {xyz: [m], rpy_deg: [deg]} (or xyz_mm / rpy in rad); rpy is URDF's fixed-axis x-y-z.
    `also` names further keys the mapping may hold for its caller."""
    if not isinstance(node, YDict):
        if parent is not None:
            raise parent.error(key, f"{what} must be a pose like {{xyz: [0, 0, 0], rpy_deg: [0, 0, 0]}}")
        raise ValueError(what)
    check_keys(node, what, (), POSE_KEYS + also)
    if "xyz" in node and "xyz_mm" in node:
        raise node.error("xyz_mm", f"{what} gives both xyz and xyz_mm; keep one")
    if "rpy" in node and "rpy_deg" in node:
        raise node.error("rpy", f"{what} gives both rpy and rpy_deg; keep one")
    xyz = vector(node, "xyz", what) if "xyz" in node else (vector(node, "xyz_mm", what) / 1000.0 if "xyz_mm" in node else np.zeros(3))
    if "xyz" in node and np.abs(xyz).max() > CELL_SIZE:
        raise node.error("xyz", f"'xyz' of {what} is in metres, and {np.abs(xyz).max():g} m is beyond any cell: "
                                f"for millimetres write xyz_mm: {list(node['xyz'])}")
    rpy = np.radians(vector(node, "rpy_deg", what)) if "rpy_deg" in node else (vector(node, "rpy", what) if "rpy" in node else np.zeros(3))
    if "rpy" in node and np.abs(rpy).max() > 2 * np.pi + 1e-6:
        raise node.error("rpy", f"'rpy' of {what} is in radians, and {np.abs(rpy).max():g} rad is more than a turn: "
                                f"for degrees write rpy_deg: {list(node['rpy'])}")
    return SE3.Trans(xyz) * SE3.RPY(rpy, order="zyx")


def file_path(node: YDict, key: str, what: str, suffix: str | None = None) -> Path:
    """A path resolved against the file that names it; it must exist."""
    value = node[key]
    if not isinstance(value, str) or not value:
        raise node.error(key, f"'{key}' of {what} must be a file path")
    path = (Path(node.file).parent / value) if not Path(value).is_absolute() else Path(value)
    if not path.is_file():
        raise node.error(key, f"{what}: file '{value}' does not exist (resolved to {path}); paths resolve against {node.file}")
    if suffix and path.suffix != suffix:
        raise node.error(key, f"{what}: '{value}' must be a {suffix} file")
    return path.resolve()


def name_list(node: YDict, key: str, what: str) -> list[str]:
    value = node[key]
    if isinstance(value, str):
        return [value]
    if not isinstance(value, YList) or not all(isinstance(v, str) for v in value):
        raise node.error(key, f"'{key}' of {what} must be a name or a list of names")
    return list(value)
