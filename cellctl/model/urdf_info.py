"""What the loaders need to know of a URDF without a simulator: that it parses, its links and movable joints."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from cellctl.errors import ProgramError
from cellctl.model.yamlsource import display_path

MOVABLE = ("revolute", "continuous", "prismatic")


@dataclass(frozen=True)
class URDFInfo:
    collisions: int  # number of <collision> elements: a body with none cannot touch anything in the twin
    links: frozenset
    joints: tuple  # movable joint names, in file order
    lower: np.ndarray  # joint limits; -inf/inf where the URDF gives none
    upper: np.ndarray


@lru_cache(maxsize=64)
def urdf_info(urdf: Path) -> URDFInfo:
    """Links, movable joints and their limits; ProgramError (with the URDF's line) if it is not valid URDF."""
    shown = display_path(urdf)
    try:
        root = ET.parse(urdf).getroot()
    except ET.ParseError as exc:
        raise ProgramError(f"not valid XML ({exc}); fix the URDF", shown, exc.position[0] if exc.position else None)
    if root.tag != "robot":
        raise ProgramError("a URDF's top element must be <robot>", shown, 1)
    links = frozenset(link.get("name") for link in root.findall("link"))
    if not links:
        raise ProgramError("a URDF needs at least one <link>", shown, 1)
    for link in root.findall("link"):
        for geometry in link.iter("geometry"):
            for shape in geometry:
                _check_shape(shape, link.get("name"), urdf, shown)
    collisions = sum(1 for _ in root.iter("collision"))
    joints, lower, upper = [], [], []
    for j in root.findall("joint"):
        if j.get("type") in MOVABLE:
            lim = j.find("limit")
            joints.append(j.get("name"))
            continuous = j.get("type") == "continuous" or lim is None
            lower.append(-np.inf if continuous else float(lim.get("lower", "-inf")))
            upper.append(np.inf if continuous else float(lim.get("upper", "inf")))
    return URDFInfo(collisions, links, tuple(joints), np.array(lower), np.array(upper))


SHAPES = {"box": ("size", 3), "cylinder": ("radius", 1), "sphere": ("radius", 1)}


def _check_shape(shape: ET.Element, link: str, urdf: Path, shown: str) -> None:
    """PyBullet skips a malformed shape with a console warning; here it is an error naming the link."""
    if shape.tag == "mesh":
        name = shape.get("filename", "")
        if name.startswith("package://"):
            raise ProgramError(f"link '{link}': mesh '{name}' uses package://, which needs ROS; give a path relative to the URDF", shown)
        if not (urdf.parent / name).is_file():
            raise ProgramError(f"link '{link}': mesh file '{name}' does not exist next to the URDF", shown)
        return
    if shape.tag not in SHAPES:
        raise ProgramError(f"link '{link}': unknown geometry <{shape.tag}>; use box, cylinder, sphere or mesh", shown)
    attrs = [SHAPES[shape.tag][0]] + (["length"] if shape.tag == "cylinder" else [])
    for attr in attrs:
        try:
            values = [float(v) for v in shape.get(attr, "").split()]
        except ValueError:
            values = []
        n = SHAPES[shape.tag][1] if attr != "length" else 1
        if len(values) != n or not all(np.isfinite(v) and v > 0 for v in values):
            raise ProgramError(f"link '{link}': <{shape.tag} {attr}=\"{shape.get(attr, '')}\"> needs {n} positive number"
                               f"{'s' if n > 1 else ''}", shown)


def movable_joints(urdf: Path) -> tuple[str, ...]:
    return urdf_info(urdf).joints
