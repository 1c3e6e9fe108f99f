"""Join a robot's URDF and its tool's URDF into one file, so PyBullet simulates arm and tool as one body."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from cellctl.errors import ProgramError


def _absolute_meshes(root: ET.Element, base_dir: Path) -> None:
    for mesh in root.iter("mesh"):
        name = mesh.get("filename", "")
        if name and not name.startswith(("package://", "/")):
            mesh.set("filename", str((base_dir / name).resolve()))


def _root_link(root: ET.Element) -> str:
    children = {j.find("child").get("link") for j in root.iter("joint")}
    roots = [link.get("name") for link in root.iter("link") if link.get("name") not in children]
    if len(roots) != 1:
        raise ValueError(f"expected one root link, found {roots}")
    return roots[0]


def robot_with_tool(robot_urdf: Path, tool_urdf: Path | None, flange: str, out_dir: Path) -> Path:
    """Write robot + tool (mounted on the flange with a fixed joint) to out_dir; return the new path."""
    robot = ET.parse(robot_urdf).getroot()
    _absolute_meshes(robot, robot_urdf.parent)
    if tool_urdf is not None:
        tool = ET.parse(tool_urdf).getroot()
        _absolute_meshes(tool, tool_urdf.parent)
        names = {e.get("name") for e in robot if e.tag in ("link", "joint")}
        clash = sorted(names & {e.get("name") for e in tool if e.tag in ("link", "joint")})
        if clash:
            raise ProgramError(f"tool URDF {tool_urdf.name} reuses names of robot URDF {robot_urdf.name}: {', '.join(clash)}; rename them", str(tool_urdf))
        tool_root = _root_link(tool)
        for element in tool:
            if element.tag in ("link", "joint", "material"):
                robot.append(element)
        mount = ET.SubElement(robot, "joint", name="tool_mount", type="fixed")
        ET.SubElement(mount, "parent", link=flange)
        ET.SubElement(mount, "child", link=tool_root)
        ET.SubElement(mount, "origin", xyz="0 0 0", rpy="0 0 0")
    out = out_dir / f"{robot_urdf.stem}__{tool_urdf.stem if tool_urdf else 'bare'}.urdf"
    ET.ElementTree(robot).write(out)
    return out
