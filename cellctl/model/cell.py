"""The physical world of a cell: robots with tools, fixtures, parts with features, shared zones."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from spatialmath import SE3

from cellctl.model import fields
from cellctl.model.urdf_info import chain, urdf_info
from cellctl.model.yamlsource import YDict, check_keys, display_path, load_yaml


@dataclass
class Feature:
    """A named frame on a part or fixture (grasp frame, nest, ...), in the owner's frame."""

    name: str
    T_owner_feature: SE3
    kind: str = "frame"


@dataclass
class Tool:
    name: str
    kind: str
    urdf: Path
    T_flange_tcp: SE3


@dataclass
class Robot:
    name: str
    urdf: Path
    T_world_base: SE3
    home: np.ndarray
    tool: Tool | None
    max_accel: np.ndarray | None = None  # rad/s^2 per joint; None: the arm's default


@dataclass
class Fixture:
    name: str
    urdf: Path
    T_world_fixture: SE3
    features: dict[str, Feature] = field(default_factory=dict)


@dataclass
class Part:
    name: str
    urdf: Path
    T_world_part: SE3
    features: dict[str, Feature] = field(default_factory=dict)


@dataclass
class Zone:
    name: str
    lo: np.ndarray
    hi: np.ndarray


@dataclass
class Cell:
    name: str
    file: Path
    robots: dict[str, Robot]
    tools: dict[str, Tool]
    fixtures: dict[str, Fixture]
    parts: dict[str, Part]
    zones: dict[str, Zone]

    @property
    def shown(self) -> str:
        return display_path(self.file)


TOOL_KINDS = ("gripper",)
FLANGE = "tool0"  # the link of every robot URDF that tools mount on


def _section(doc: YDict, key: str) -> YDict:
    value = doc.get(key)
    if value is None:
        empty = YDict()
        empty.file, empty.line, empty.key_lines = doc.file, doc.line_of(key), {}
        return empty
    if not isinstance(value, YDict):
        raise doc.error(key, f"'{key}' must be a mapping of names to entries")
    return value


NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
RESERVED = ("floor",)  # the twin's own bodies


def _entry(section: YDict, name: str, what: str) -> YDict:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise section.error(name, f"{what} name '{name}' must start with a letter and hold only letters, digits, _ and -")
    if name in RESERVED:
        raise section.error(name, f"'{name}' is the name of the twin's own ground; name the {what} otherwise")
    value = section[name]
    if not isinstance(value, YDict):
        raise section.error(name, f"{what} '{name}' must be a mapping, like {{urdf: ..., pose: {{xyz: [0, 0, 0]}}}}")
    return value


def _solid(entry: YDict, what: str) -> Path:
    """The URDF of a fixture or part: it must have collision geometry, or nothing in the twin could touch it."""
    urdf = fields.file_path(entry, "urdf", what, ".urdf")
    if urdf_info(urdf).collisions == 0:
        raise entry.error("urdf", f"{what}: {entry['urdf']} has no <collision> geometry, so nothing could touch it in the twin")
    return urdf


def _features(node: YDict, owner: str) -> dict[str, Feature]:
    if "features" not in node:
        return {}
    section = node["features"]
    if not isinstance(section, YDict):
        raise node.error("features", f"features of '{owner}' must be a mapping of names to poses")
    out = {}
    for name in section:
        entry = _entry(section, name, f"feature of '{owner}'")
        kind = fields.name(entry, "kind", f"feature '{owner}.{name}'") if "kind" in entry else "frame"
        if kind != "frame":
            raise entry.error("kind", f"feature kind '{kind}' is not supported yet; kinds: frame")
        out[str(name)] = Feature(str(name), fields.pose(entry, f"feature '{owner}.{name}'", also=("kind",)), kind)
    return out


def load_cell(path: Path) -> Cell:
    """Read a cell file (sim/*.yaml) into a Cell; every error names the file, line and fix."""
    doc = load_yaml(path)
    check_keys(doc, "a cell file", ("cell", "robots"), ("tools", "fixtures", "parts", "zones"))

    tools = {}
    tool_section = _section(doc, "tools")
    for name in tool_section:
        entry = check_keys(_entry(tool_section, name, "tool"), f"tool '{name}'", ("kind", "urdf"), ("tcp",))
        fields.name(entry, "kind", f"tool '{name}'")
        if entry["kind"] not in TOOL_KINDS:
            raise entry.error("kind", f"tool kind '{entry['kind']}' is unknown; kinds: {', '.join(TOOL_KINDS)}")
        tcp = fields.pose(entry["tcp"], f"tcp of tool '{name}'", entry, "tcp") if "tcp" in entry else SE3()
        tool_urdf = fields.file_path(entry, "urdf", f"tool '{name}'", ".urdf")
        moving = urdf_info(tool_urdf).movable
        if entry["kind"] == "gripper" and (len(moving) != 2 or any(j.type != "prismatic" for j in moving)):
            raise entry.error("urdf", f"gripper '{name}': {entry['urdf']} must have exactly two prismatic finger joints "
                                      f"(it has {', '.join(f'{j.name} ({j.type})' for j in moving) or 'no movable joints'})")
        tools[name] = Tool(name, entry["kind"], tool_urdf, tcp)

    robots = {}
    robot_section = _section(doc, "robots")
    if not robot_section:
        raise doc.error("robots", "a cell needs at least one robot")
    for name in robot_section:
        entry = check_keys(_entry(robot_section, name, "robot"), f"robot '{name}'", ("urdf", "home_deg"),
                           ("base", "tool", "accel_deg_s2"))
        base = fields.pose(entry["base"], f"base of robot '{name}'", entry, "base") if "base" in entry else SE3()
        tool = None
        if "tool" in entry:
            fields.name(entry, "tool", f"robot '{name}'")
            if entry["tool"] not in tools:
                known = ", ".join(tools) or "none defined"
                raise entry.error("tool", f"robot '{name}' names tool '{entry['tool']}', which is not in {display_path(path)}; tools: {known}")
            tool = tools[entry["tool"]]
        urdf = fields.file_path(entry, "urdf", f"robot '{name}'", ".urdf")
        if FLANGE not in urdf_info(urdf).links:
            raise entry.error("urdf", f"robot '{name}': {entry['urdf']} has no link '{FLANGE}'; cellctl mounts tools on a "
                                      f"flange link of that name (add it with a fixed joint at the end of the arm)")
        arm = chain(urdf, FLANGE)
        n = len(arm.joints)
        if n == 0:
            raise entry.error("urdf", f"robot '{name}': {entry['urdf']} has no movable joints between its base and '{FLANGE}'")
        home = np.radians(fields.vector(entry, "home_deg", f"robot '{name}' (its arm has {n} joints)", n))
        outside = np.flatnonzero((home < arm.lower - 1e-9) | (home > arm.upper + 1e-9))
        if outside.size:
            j = int(outside[0])
            raise entry.error("home_deg", f"home_deg of robot '{name}' puts {arm.names[j]} at {np.degrees(home[j]):g} deg, outside its "
                                          f"limits [{np.degrees(arm.lower[j]):g}, {np.degrees(arm.upper[j]):g}] deg")
        accel = np.radians(fields.vector(entry, "accel_deg_s2", f"robot '{name}' (one a joint)", n)) if "accel_deg_s2" in entry else None
        if accel is not None and np.any(accel <= 0):
            raise entry.error("accel_deg_s2", f"'accel_deg_s2' of robot '{name}' must all be greater than 0")
        robots[name] = Robot(name, urdf, base, home, tool, accel)

    fixtures = {}
    section = _section(doc, "fixtures")
    for name in section:
        entry = check_keys(_entry(section, name, "fixture"), f"fixture '{name}'", ("urdf",), ("pose", "features"))
        pose = fields.pose(entry["pose"], f"pose of fixture '{name}'", entry, "pose") if "pose" in entry else SE3()
        urdf = _solid(entry, f"fixture '{name}'")
        fixtures[name] = Fixture(name, urdf, pose, _features(entry, name))

    parts = {}
    section = _section(doc, "parts")
    for name in section:
        entry = check_keys(_entry(section, name, "part"), f"part '{name}'", ("urdf", "pose"), ("features",))
        urdf = _solid(entry, f"part '{name}'")
        parts[name] = Part(name, urdf, fields.pose(entry["pose"], f"pose of part '{name}'", entry, "pose"), _features(entry, name))

    zones = {}
    section = _section(doc, "zones")
    for name in section:
        entry = check_keys(_entry(section, name, "zone"), f"zone '{name}'", ("min", "max"))
        lo, hi = fields.vector(entry, "min", f"zone '{name}'"), fields.vector(entry, "max", f"zone '{name}'")
        if np.any(hi <= lo):
            raise entry.error("max", f"zone '{name}': every max must be above its min")
        zones[name] = Zone(name, lo, hi)

    names = [*robots, *fixtures, *parts]
    for n in names:
        if names.count(n) > 1:
            raise doc.error(None, f"the name '{n}' is used twice among robots, fixtures and parts; names must be unique")
    if not isinstance(doc["cell"], str):
        raise doc.error("cell", "'cell' must be the cell's name")
    return Cell(doc["cell"], path.resolve(), robots, tools, fixtures, parts, zones)
