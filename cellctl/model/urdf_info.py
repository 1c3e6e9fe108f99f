"""What the loaders need to know of a URDF without a simulator: that it parses, and its movable joints."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import lru_cache
from pathlib import Path

from cellctl.errors import ProgramError
from cellctl.model.yamlsource import display_path

MOVABLE = ("revolute", "continuous", "prismatic")


@lru_cache(maxsize=64)
def movable_joints(urdf: Path) -> tuple[str, ...]:
    """Names of the movable joints, in file order; ProgramError (with the URDF's line) if it is not valid URDF."""
    try:
        root = ET.parse(urdf).getroot()
    except ET.ParseError as exc:
        raise ProgramError(f"not valid XML: {exc.msg if hasattr(exc, 'msg') else exc}; fix the URDF", display_path(urdf),
                           exc.position[0] if exc.position else None)
    if root.tag != "robot":
        raise ProgramError("a URDF's top element must be <robot>", display_path(urdf), 1)
    if not root.findall("link"):
        raise ProgramError("a URDF needs at least one <link>", display_path(urdf), 1)
    return tuple(j.get("name") for j in root.iter("joint") if j.get("type") in MOVABLE)
