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
    joints, lower, upper = [], [], []
    for j in root.findall("joint"):
        if j.get("type") in MOVABLE:
            lim = j.find("limit")
            joints.append(j.get("name"))
            continuous = j.get("type") == "continuous" or lim is None
            lower.append(-np.inf if continuous else float(lim.get("lower", "-inf")))
            upper.append(np.inf if continuous else float(lim.get("upper", "inf")))
    return URDFInfo(links, tuple(joints), np.array(lower), np.array(upper))


def movable_joints(urdf: Path) -> tuple[str, ...]:
    return urdf_info(urdf).joints
