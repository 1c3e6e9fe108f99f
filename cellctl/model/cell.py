"""The physical world of a cell: robots with tools, fixtures, parts with features, shared zones."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from spatialmath import SE3

from cellctl.model import fields
from cellctl.model.geometry import arc_points, circle
from cellctl.model.urdf_info import chain, urdf_info
from cellctl.model.yamlsource import YDict, YList, check_keys, display_path, load_yaml


@dataclass
class Feature:
    """A named feature of a part or fixture, in the owner's frame (metres). kind is one of FEATURE_KINDS:

    - frame: a pose (grasp frame, nest, ...); points and normal are None.
    - seam: a weld seam through `points` ((N, 3), N >= 2) on a surface whose unit `normal` points out of it,
      towards the torch. T_owner_feature sits at the first point with z = -normal (so a tool whose z points
      at the surface sits on it) and x along the first segment, made perpendicular to z; y = z x x.
    - hole: a bolt hole. T_owner_feature sits at the entry point with z along the bolt's travel (into the
      hole, so a nutrunner's TCP z lines up with it); x is the owner's x made perpendicular to z (the
      owner's y where the axis is within about 25 deg of x); points and normal are None.
    - spot: a spot weld. T_owner_feature sits on the sheet face the gun's fixed electrode touches, with z = -normal
      (into the stack, along the electrode approach, so a spot gun's TCP z lines up with it) and x along `edge`
      (the way to the sheet edge the gun reaches around, its throat) made perpendicular to z; points and normal
      are None.
    """

    name: str
    T_owner_feature: SE3
    kind: str = "frame"
    points: np.ndarray | None = None  # (N, 3) m, owner frame; seams only (an arc seam: dense points along it)
    normal: np.ndarray | None = None  # unit surface normal, out of the surface, owner frame; seams only
    arc: np.ndarray | None = None  # (3, 3) m: start, a point on the arc, end; arc seams only
    bolt: bool = False  # holes only: a bolt stands hand-started in the hole (its head BOLT_HEAD proud of the entry)
    bolt_tilt: float = 0.0  # rad the bolt leans off the hole axis (a crooked, cross-started bolt); holes only


@dataclass
class Tool:
    """A tool on a robot's flange. T_flange_tcp is the TCP in the tool's mounting frame: between the
    fingertips (gripper), the wire tip with z along the wire out of the torch (weld_torch), the socket
    mouth with z along the spindle (nutrunner, whose spindle turns about that z), the fixed electrode tip with z
    along the electrode axis towards the moving electrode (spot_gun)."""

    name: str
    kind: str
    urdf: Path
    T_flange_tcp: SE3
    max_torque: float | None = None  # N m, rated spindle torque; nutrunners only
    spindle: str | None = None  # name of the spindle joint in the tool URDF; nutrunners only
    max_force: float | None = None  # N, rated clamp force (the electrode joint's effort); spot guns only
    electrode: str | None = None  # name of the moving electrode's prismatic joint (its value: the opening); spot guns only


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
    defined_in: str = ""  # the file that defines it (the cell file, or a program that brings its product's parts)


@dataclass
class Zone:
    name: str
    lo: np.ndarray
    hi: np.ndarray


@dataclass
class Camera:
    """A named viewpoint on the cell (GUI and recordings): it looks at `target` (m, world) from `distance` m,
    turned `yaw` rad about the world z axis and tilted `pitch` rad (negative: looking down)."""

    name: str
    target: np.ndarray
    distance: float
    yaw: float
    pitch: float


@dataclass
class Cell:
    name: str
    file: Path
    robots: dict[str, Robot]
    tools: dict[str, Tool]
    fixtures: dict[str, Fixture]
    parts: dict[str, Part]
    zones: dict[str, Zone]
    clearance: float = 0.005  # m every robot (tool and held part included) keeps from what it may not touch
    cameras: dict[str, Camera] = field(default_factory=dict)  # viewpoints; none: the viewer frames the whole cell

    @property
    def shown(self) -> str:
        return display_path(self.file)


TOOL_KINDS = ("gripper", "weld_torch", "nutrunner", "spot_gun")
FEATURE_KINDS = ("frame", "seam", "hole", "spot")
FLANGE = "tool0"  # the link of every robot URDF that tools mount on
ARC_STEP = 0.002  # m between the points an arc seam is checked against (0.01 mm off the arc at 50 mm radius)
BOLT_HEAD = 0.006  # m: height of a bolt head standing on its hole's entry (where a nutrunner's socket meets it)


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


def _unit(node: YDict, key: str, what: str) -> np.ndarray:
    """A direction: a 3-vector that is not zero, normalised."""
    v = fields.vector(node, key, what)
    norm = float(np.linalg.norm(v))
    if norm < 1e-9:
        raise node.error(key, f"'{key}' of {what} is a direction and cannot be [0, 0, 0]; give one like [0, 0, 1]")
    return v / norm


def _frame(origin: np.ndarray, z: np.ndarray, x_hint: np.ndarray) -> SE3:
    """The frame at origin with unit z, and x along x_hint made perpendicular to z."""
    x = x_hint - np.dot(x_hint, z) * z
    x = x / np.linalg.norm(x)
    return SE3.Rt(np.column_stack([x, np.cross(z, x), z]), origin, check=False)


def _seam_points(entry: YDict, what: str, name: str = "points") -> np.ndarray:
    """The seam's points from 'points' (m) or 'points_mm' (or 'arc', 'arc_mm'): at least two, consecutive ones
    over 1 mm apart."""
    if (name in entry) == (f"{name}_mm" in entry):
        raise entry.error(f"{name}_mm" if name in entry else None,
                          f"{what} needs exactly one of '{name}' (m) or '{name}_mm', like {name}: [[0, 0, 0], [0.1, 0, 0]]")
    key = name if name in entry else f"{name}_mm"
    value = entry[key]
    like = "[[0, 0, 0], [0.1, 0, 0]]" if key == name else "[[0, 0, 0], [100, 0, 0]]"
    if not isinstance(value, YList):
        raise entry.error(key, f"'{key}' of {what} must be a list of [x, y, z] points, like {like}")
    for i, p in enumerate(value):
        if not isinstance(p, YList) or len(p) != 3 or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in p):
            raise value.error(i, f"point {i + 1} of {what} must be [x, y, z] (3 numbers), not {p!r}")
    if len(value) < 2:
        raise entry.error(key, f"{what} has {len(value)} point; a seam needs at least 2, like {like}")
    points = np.array(value, dtype=float) / (1000.0 if key.endswith("_mm") else 1.0)
    if not np.all(np.isfinite(points)):
        raise entry.error(key, f"'{key}' of {what} must hold finite numbers")
    gaps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    close = np.flatnonzero(gaps <= 0.001)
    if close.size:
        i = int(close[0])
        raise value.error(i + 1, f"points {i + 1} and {i + 2} of {what} are {gaps[i] * 1000:.3g} mm apart; consecutive "
                                 f"points must be more than 1 mm apart (remove the repeated point)")
    return points


def _seam(entry: YDict, name: str, what: str) -> Feature:
    """A seam: points along it (a polyline) or an arc through three points, and the surface normal (default +z);
    its frame is at the first point, z = -normal."""
    check_keys(entry, what, ("kind",), ("points", "points_mm", "arc", "arc_mm", "normal"))
    arc = None
    if "arc" in entry or "arc_mm" in entry:
        if "points" in entry or "points_mm" in entry:
            raise entry.error("points" if "points" in entry else "points_mm", f"{what} has both points and an arc; give one")
        arc = _seam_points(entry, what, "arc")
        if len(arc) != 3:
            raise entry.error("arc" if "arc" in entry else "arc_mm", f"an arc of {what} takes 3 points: start, one on the arc, end")
        try:
            points = arc_points(*arc, ARC_STEP)
        except ValueError as exc:
            raise entry.error("arc" if "arc" in entry else "arc_mm", f"the arc of {what} is a straight line ({exc}); "
                                                                     f"use points for a straight seam") from None
        if abs(circle(*arc)[4]) > np.pi:
            raise entry.error("arc" if "arc" in entry else "arc_mm", f"the arc of {what} sweeps more than 180 deg; split it "
                                                                     f"into two seams")
    else:
        points = _seam_points(entry, what)
    normal = _unit(entry, "normal", what) if "normal" in entry else np.array([0.0, 0.0, 1.0])
    first = points[1] - points[0]
    if np.linalg.norm(np.cross(first, normal)) < np.sin(np.radians(1.0)) * np.linalg.norm(first):
        raise entry.error("normal" if "normal" in entry else "kind",
                          f"the first segment of {what} runs along its normal {np.round(normal, 3).tolist()}; a seam lies "
                          f"on the surface, so give the normal of the surface it lies on (normal: [x, y, z])")
    return Feature(name, _frame(points[0], -normal, first), "seam", points, normal, arc=arc)


def _hole(entry: YDict, name: str, what: str) -> Feature:
    """A hole: entry point xyz and the bolt's direction of travel; its frame is at xyz with z = axis. A hole holds a
    hand-started bolt unless `bolt: false`; `bolt_tilt_deg` leans that bolt off the axis (the twin's fault)."""
    check_keys(entry, what, ("kind", "xyz", "axis"), ("bolt", "bolt_tilt_deg"))
    z = _unit(entry, "axis", what)
    hint = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    bolt = fields.boolean(entry, "bolt", what) if "bolt" in entry else True
    tilt = np.radians(fields.number(entry, "bolt_tilt_deg", what)) if "bolt_tilt_deg" in entry else 0.0
    if not bolt and tilt:
        raise entry.error("bolt_tilt_deg", f"{what} has no bolt (bolt: false), so it cannot lean; remove 'bolt_tilt_deg'")
    if not 0 <= tilt < np.pi / 4:
        raise entry.error("bolt_tilt_deg", f"'bolt_tilt_deg' of {what} must be from 0 to 45 deg")
    return Feature(name, _frame(fields.vector(entry, "xyz", what), z, hint), "hole", bolt=bolt, bolt_tilt=float(tilt))


def _spot(entry: YDict, name: str, what: str) -> Feature:
    """A spot weld: the point xyz on the sheet face the fixed electrode touches, that face's outward normal, and the
    direction to the edge the gun reaches around; its frame is at xyz with z = -normal and x towards the edge."""
    check_keys(entry, what, ("kind", "xyz", "normal", "edge"))
    normal, edge = _unit(entry, "normal", what), _unit(entry, "edge", what)
    if abs(np.dot(normal, edge)) > np.cos(np.radians(10.0)):
        raise entry.error("edge", f"'edge' of {what} runs along its normal {np.round(normal, 3).tolist()}; give the direction "
                                  f"in the sheet from the spot to the edge the gun reaches around (edge: [x, y, z])")
    return Feature(name, _frame(fields.vector(entry, "xyz", what), -normal, edge), "spot")


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
        if kind not in FEATURE_KINDS:
            raise entry.error("kind", f"feature kind '{kind}' is unknown; kinds: {', '.join(FEATURE_KINDS)}")
        if kind == "seam":
            out[str(name)] = _seam(entry, str(name), f"seam '{owner}.{name}'")
        elif kind == "hole":
            out[str(name)] = _hole(entry, str(name), f"hole '{owner}.{name}'")
        elif kind == "spot":
            out[str(name)] = _spot(entry, str(name), f"spot '{owner}.{name}'")
        else:
            out[str(name)] = Feature(str(name), fields.pose(entry, f"feature '{owner}.{name}'", also=("kind",)), kind)
    return out


def _floats(element: ET.Element | None, attr: str, default: str) -> list[float]:
    """Three numbers from an attribute like xyz="0 0 1" (ValueError if they are not)."""
    values = [float(v) for v in (element.get(attr, default) if element is not None else default).split()]
    if len(values) != 3 or not np.all(np.isfinite(values)):
        raise ValueError(attr)
    return values


def _joint_in_tool(urdf: Path, joint: str) -> tuple[np.ndarray, np.ndarray]:
    """A joint's origin and unit axis in the URDF's root frame (the tool's mounting frame)."""
    root = ET.parse(urdf).getroot()
    by_child = {j.find("child").get("link"): j for j in root.findall("joint")}
    target = next(j for j in root.findall("joint") if j.get("name") == joint)
    T, j = SE3(), target
    while j is not None:
        origin = j.find("origin")
        T = SE3.Trans(_floats(origin, "xyz", "0 0 0")) * SE3.RPY(_floats(origin, "rpy", "0 0 0"), order="zyx") * T
        j = by_child.get(j.find("parent").get("link"))
    axis = np.array(_floats(target.find("axis"), "xyz", "1 0 0"))
    if np.linalg.norm(axis) < 1e-9:
        raise ValueError("axis")
    return T.t, T.R @ (axis / np.linalg.norm(axis))


def _moving(joints) -> str:
    return ", ".join(f"{j.name} ({j.type})" for j in joints) or "no movable joints"


def _spindle(entry: YDict, name: str, urdf: Path, tcp: SE3) -> str:
    """The nutrunner's one revolute or continuous joint, checked to turn about the TCP z axis."""
    moving = urdf_info(urdf).movable
    if len(moving) != 1 or moving[0].type not in ("revolute", "continuous"):
        raise entry.error("urdf", f"nutrunner '{name}': {entry['urdf']} must have exactly one revolute or continuous joint, "
                                  f"the spindle (it has {_moving(moving)}); use a nutrunner URDF like urdf/tools/nutrunner.urdf")
    spindle = moving[0].name
    _axis_through_tcp(entry, f"nutrunner '{name}'", urdf, spindle, tcp, "spindle", ("turns about", "turn about"),
                      "set the tcp rpy_deg so z runs along the spindle, or fix the joint's <axis>", "the socket mouth")
    return spindle


def _electrode(entry: YDict, name: str, urdf: Path, tcp: SE3) -> tuple[str, float]:
    """The spot gun's one prismatic joint (the moving electrode) and its effort (the rated clamp force), checked to
    move along the TCP z axis, through the TCP (the fixed electrode tip)."""
    moving = urdf_info(urdf).movable
    if len(moving) != 1 or moving[0].type != "prismatic":
        raise entry.error("urdf", f"spot_gun '{name}': {entry['urdf']} must have exactly one prismatic joint, the moving "
                                  f"electrode (it has {_moving(moving)}); use a gun URDF like urdf/tools/spot_gun.urdf")
    joint = moving[0]
    if not np.isfinite(joint.effort) or joint.effort <= 0:
        raise entry.error("urdf", f"spot_gun '{name}': joint '{joint.name}' of {entry['urdf']} needs <limit effort=...> > 0, "
                                  f"the gun's rated clamp force in N")
    _axis_through_tcp(entry, f"spot_gun '{name}'", urdf, joint.name, tcp, "electrode", ("opens along", "open along"),
                      "set the tcp rpy_deg so z runs from the fixed electrode towards the moving one", "the fixed electrode tip")
    return joint.name, float(joint.effort)


def _axis_through_tcp(entry: YDict, who: str, urdf: Path, joint: str, tcp: SE3, label: str, verbs: tuple[str, str],
                      hint: str, tip: str) -> None:
    """Check that a tool joint (a spindle, an electrode) moves along the TCP's z axis, through the TCP."""
    try:
        origin, axis = _joint_in_tool(urdf, joint)
    except ValueError:
        raise entry.error("urdf", f"{who}: {entry['urdf']}: joint '{joint}' needs numeric <origin xyz rpy> "
                                  f"and a non-zero <axis xyz> along its chain")
    along = tcp.R.T @ axis
    if along[2] < np.cos(np.radians(1.0)):
        raise entry.error("tcp", f"{who}: {label} '{joint}' of {entry['urdf']} {verbs[0]} {np.round(along, 3).tolist()} in "
                                 f"the TCP frame; it must {verbs[1]} the TCP z axis [0, 0, 1] ({hint})")
    off = np.linalg.norm(np.cross(tcp.t - origin, axis))
    if off > 0.001:
        raise entry.error("tcp", f"{who}: the TCP is {off * 1000:.3g} mm off the axis of {label} '{joint}'; "
                                 f"put the tcp xyz on the {label} axis ({tip})")


def _tool(section: YDict, name: str) -> Tool:
    """One entry of 'tools': its kind, URDF and TCP, with the URDF's joints checked against the kind."""
    entry = _entry(section, name, "tool")
    nutrunner = entry.get("kind") == "nutrunner"
    if nutrunner and "max_torque_nm" not in entry:
        raise entry.error(None, f"nutrunner '{name}' needs 'max_torque_nm', its rated torque in N m (like max_torque_nm: 40)")
    check_keys(entry, f"tool '{name}'", ("kind", "urdf"), ("tcp",) + (("max_torque_nm",) if nutrunner else ()))
    kind = fields.name(entry, "kind", f"tool '{name}'")
    if kind not in TOOL_KINDS:
        raise entry.error("kind", f"tool kind '{kind}' is unknown; kinds: {', '.join(TOOL_KINDS)}")
    tcp = fields.pose(entry["tcp"], f"tcp of tool '{name}'", entry, "tcp") if "tcp" in entry else SE3()
    tool_urdf = fields.file_path(entry, "urdf", f"tool '{name}'", ".urdf")
    moving = urdf_info(tool_urdf).movable
    if kind == "gripper" and (len(moving) != 2 or any(j.type != "prismatic" for j in moving)):
        raise entry.error("urdf", f"gripper '{name}': {entry['urdf']} must have exactly two prismatic finger joints "
                                  f"(it has {_moving(moving)})")
    if kind == "weld_torch" and moving:
        raise entry.error("urdf", f"weld_torch '{name}': {entry['urdf']} must have no movable joints (it has {_moving(moving)}); "
                                  f"make them fixed, or use a torch URDF like urdf/tools/weld_torch.urdf")
    if kind == "nutrunner":
        torque = fields.number(entry, "max_torque_nm", f"nutrunner '{name}'", positive=True)
        return Tool(name, kind, tool_urdf, tcp, torque, _spindle(entry, name, tool_urdf, tcp))
    if kind == "spot_gun":
        electrode, force = _electrode(entry, name, tool_urdf, tcp)
        return Tool(name, kind, tool_urdf, tcp, max_force=force, electrode=electrode)
    return Tool(name, kind, tool_urdf, tcp)


CAMERA_YAW_DEG, CAMERA_PITCH_DEG = 50.0, -35.0  # a camera's defaults: from the front right, looking down


def _cameras(doc: YDict) -> dict[str, Camera]:
    """The optional 'cameras' section: name -> {target: [x, y, z], distance_m (or distance), yaw_deg, pitch_deg}."""
    section, out = _section(doc, "cameras"), {}
    for name in section:
        what = f"camera '{name}'"
        entry = check_keys(_entry(section, name, "camera"), what, ("target",), ("distance_m", "distance", "yaw_deg", "pitch_deg"))
        if ("distance_m" in entry) == ("distance" in entry):
            raise entry.error("distance" if "distance" in entry else None,
                              f"{what} needs exactly one of 'distance_m' or 'distance' (m from its target), like distance_m: 3")
        distance = fields.number(entry, "distance_m" if "distance_m" in entry else "distance", what, positive=True)
        yaw = fields.number(entry, "yaw_deg", what) if "yaw_deg" in entry else CAMERA_YAW_DEG
        pitch = fields.number(entry, "pitch_deg", what) if "pitch_deg" in entry else CAMERA_PITCH_DEG
        if not -90.0 < pitch < 90.0:
            raise entry.error("pitch_deg", f"'pitch_deg' of {what} must be between -90 and 90 (exclusive; -89 looks straight "
                                           f"down), not {pitch:g}")
        out[str(name)] = Camera(str(name), fields.vector(entry, "target", what), distance, float(np.radians(yaw)),
                                float(np.radians(pitch)))
    return out


def load_parts(doc: YDict) -> dict[str, Part]:
    """The `parts:` section of a cell file, or of a program that brings its own product's parts."""
    parts = {}
    section = _section(doc, "parts")
    for name in section:
        entry = check_keys(_entry(section, name, "part"), f"part '{name}'", ("urdf", "pose"), ("features",))
        urdf = _solid(entry, f"part '{name}'")
        unweighed = urdf_info(urdf).unweighed
        if unweighed:
            raise entry.error("urdf", f"part '{name}': {entry['urdf']} gives link '{unweighed[0]}' no <inertial> with a <mass "
                                      f"value> above 0, so PyBullet would make it 1 kg (or fix it in place); give the part's "
                                      f"real mass and inertia")
        parts[name] = Part(name, urdf, fields.pose(entry["pose"], f"pose of part '{name}'", entry, "pose"), _features(entry, name),
                           display_path(Path(section.file)))
    return parts


def load_cell(path: Path) -> Cell:
    """Read a cell file (sim/*.yaml) into a Cell; every error names the file, line and fix."""
    doc = load_yaml(path)
    check_keys(doc, "a cell file", ("cell", "robots"), ("tools", "fixtures", "parts", "zones", "clearance_mm", "cameras"))

    tool_section = _section(doc, "tools")
    tools = {name: _tool(tool_section, name) for name in tool_section}

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

    parts = load_parts(doc)

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
    clearance = fields.number(doc, "clearance_mm", "the cell", positive=True) / 1000 if "clearance_mm" in doc else Cell.clearance
    return Cell(doc["cell"], path.resolve(), robots, tools, fixtures, parts, zones, clearance, _cameras(doc))


def riders(on: dict[str, str], carrier: str) -> set[str]:
    """The parts resting on `carrier` (on: part -> the part it rests on), and on those in turn: they go where it goes."""
    out, todo = set(), [carrier]
    while todo:
        x = todo.pop()
        for part, under in on.items():
            if under == x and part not in out and part != carrier:
                out.add(part)
                todo.append(part)
    return out
