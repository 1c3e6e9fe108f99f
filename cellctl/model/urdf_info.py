"""What cellctl needs to know of a URDF without a simulator: that it is a valid tree, its links, its
joints and their limits, and the chain from the base to a flange. Every defect is a ProgramError."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from cellctl.errors import ProgramError
from cellctl.model.yamlsource import display_path

MOVABLE = ("revolute", "continuous", "prismatic")
SHAPES = {"box": ("size", 3), "cylinder": ("radius", 1), "sphere": ("radius", 1)}


@dataclass(frozen=True)
class Joint:
    name: str
    type: str
    parent: str
    child: str
    lower: float  # rad or m; -inf/inf where unlimited
    upper: float
    velocity: float  # rad/s or m/s; nan where the URDF gives none
    effort: float  # N m or N; nan where the URDF gives none


@dataclass(frozen=True)
class URDFInfo:
    root: str
    links: frozenset
    joints: tuple  # every joint (Joint), in file order
    collisions: int  # number of <collision> elements: a body with none cannot touch anything in the twin
    unweighed: tuple = ()  # links with no <inertial><mass value> above 0 (PyBullet makes them 1 kg, or static)
    mass: float = 0.0  # kg, of all links

    @property
    def movable(self) -> tuple:
        return tuple(j for j in self.joints if j.type in MOVABLE)


@dataclass(frozen=True)
class Chain:
    """The movable joints from the root to a flange link, in order, and the shoulder: the link the first
    joint turns (the centre of the arm's reach sphere is the second joint's origin on it)."""

    joints: tuple
    shoulder: str

    @property
    def names(self) -> list[str]:
        return [j.name for j in self.joints]

    @property
    def lower(self) -> np.ndarray:
        return np.array([j.lower for j in self.joints])

    @property
    def upper(self) -> np.ndarray:
        return np.array([j.upper for j in self.joints])


def _float(element: ET.Element, attr: str, default: float, where: str, shown: str) -> float:
    text = element.get(attr)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ProgramError(f"{where}: {attr}=\"{text}\" must be a number in SI units (m, rad)", shown)
    if not np.isfinite(value):
        raise ProgramError(f"{where}: {attr}=\"{text}\" must be a finite number", shown)
    return value


@lru_cache(maxsize=64)
def urdf_info(urdf: Path) -> URDFInfo:
    """Parse and check a URDF: one root, joints between existing links, numeric limits, sound geometry."""
    shown = display_path(urdf)
    try:
        root = ET.parse(urdf).getroot()
    except ET.ParseError as exc:
        raise ProgramError(f"not valid XML ({exc}); fix the URDF", shown, exc.position[0] if exc.position else None)
    if root.tag != "robot":
        raise ProgramError("a URDF's top element must be <robot>", shown, 1)
    links = [link.get("name") for link in root.findall("link")]
    if not links:
        raise ProgramError("a URDF needs at least one <link>", shown, 1)
    for link in root.findall("link"):
        for geometry in link.iter("geometry"):
            for shape in geometry:
                _check_shape(shape, link.get("name"), urdf, shown)
    joints, children = [], set()
    for j in root.findall("joint"):
        name, parent, child = j.get("name"), j.find("parent"), j.find("child")
        if parent is None or child is None or parent.get("link") not in links or child.get("link") not in links:
            raise ProgramError(f"joint '{name}' must join two links of this URDF with <parent link=...> and <child link=...>", shown)
        if child.get("link") in children:
            raise ProgramError(f"link '{child.get('link')}' is the child of two joints; a URDF is a tree", shown)
        children.add(child.get("link"))
        lim = j.find("limit")
        where = f"joint '{name}' <limit>"
        limited = j.get("type") in ("revolute", "prismatic") and lim is not None
        lower = _float(lim, "lower", 0.0, where, shown) if limited else -np.inf
        upper = _float(lim, "upper", 0.0, where, shown) if limited else np.inf
        if limited and lower > upper:
            raise ProgramError(f"{where}: lower {lower} is above upper {upper}", shown)
        velocity = _float(lim, "velocity", np.nan, where, shown) if lim is not None else np.nan
        effort = _float(lim, "effort", np.nan, where, shown) if lim is not None else np.nan
        joints.append(Joint(name, j.get("type"), parent.get("link"), child.get("link"), lower, upper, velocity, effort))
    roots = [link for link in links if link not in children]
    if len(roots) != 1:
        raise ProgramError(f"a URDF needs exactly one root link (one that no joint moves); it has {len(roots)}: "
                           f"{', '.join(roots)}", shown)
    unweighed = tuple(link.get("name") for link in root.findall("link") if _mass(link) <= 0.0)
    return URDFInfo(roots[0], frozenset(links), tuple(joints), sum(1 for _ in root.iter("collision")), unweighed,
                    sum(max(0.0, _mass(link)) for link in root.findall("link")))


def _mass(link: ET.Element) -> float:
    """A link's <inertial><mass value>, 0 when absent or not a finite number (nan and inf weigh nothing usable)."""
    mass = link.find("inertial/mass")
    try:
        value = float(mass.get("value")) if mass is not None else 0.0
    except (TypeError, ValueError):
        return 0.0
    return value if np.isfinite(value) else 0.0


def chain(urdf: Path, flange: str) -> Chain:
    """The base-to-flange chain of a robot URDF (ProgramError if the flange link is missing)."""
    info = urdf_info(urdf)
    if flange not in info.links:
        raise ProgramError(f"no link '{flange}'; cellctl mounts tools on a flange link of that name (add it with a "
                           f"fixed joint at the end of the arm)", display_path(urdf))
    by_child = {j.child: j for j in info.joints}
    movable, link = [], flange
    while link in by_child:
        j = by_child[link]
        if j.type in MOVABLE:
            movable.append(j)
        link = j.parent
    movable.reverse()
    return Chain(tuple(movable), movable[0].child if movable else info.root)


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


@lru_cache(maxsize=None)
def spindle_radius(urdf: Path) -> float | None:
    """A nutrunner's socket radius (m): the largest collision cylinder of the link its revolute joint turns; None when
    the tool has no such joint or cylinder."""
    root = ET.parse(urdf).getroot()
    child = next((j.find("child").get("link") for j in root.findall("joint") if j.get("type") in ("revolute", "continuous")),
                 None)
    link = next((l for l in root.findall("link") if l.get("name") == child), None)
    radii = [float(c.get("radius")) for c in link.iter("cylinder")] if link is not None else []
    return max(radii) if radii else None
