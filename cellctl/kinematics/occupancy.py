"""Which shared zones a robot occupies: a sphere model of arm, tool and held part.

Every sphere bounds the collision geometry it stands for, and a margin covers tracking error, so a robot
that this model puts outside a zone is outside it in the twin too. Zone interlocks are decided on it before
a motion starts; the `interlocks` check then measures the real geometry in the recorded world.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import lru_cache
from pathlib import Path

import numpy as np
from spatialmath import SE3

from cellctl.errors import ProgramError
from cellctl.kinematics.arm import Arm, _rtb_robot
from cellctl.model.cell import FLANGE
from cellctl.model.yamlsource import display_path

MARGIN = 0.01  # m added to every sphere: tracking error and the servo's overshoot
SWEEP_STEP = 0.005  # rad of summed joint motion between the configurations a motion is checked at


def _rpy_matrix(xyz, rpy) -> np.ndarray:
    return (SE3.Trans(*xyz) * SE3.RPY(*rpy, order="zyx")).A


def _floats(text: str | None, n: int, default: float = 0.0) -> list[float]:
    return [float(v) for v in text.split()] if text else [default] * n


def shape_spheres(T_link_shape: np.ndarray, shape: ET.Element) -> tuple[np.ndarray, np.ndarray]:
    """Spheres (centres in the link frame, radii) that together contain one box, cylinder or sphere."""
    if shape.tag == "sphere":
        return T_link_shape[:3, 3][None, :], np.array([float(shape.get("radius"))])
    if shape.tag == "cylinder":
        r, length = float(shape.get("radius")), float(shape.get("length"))
        axis, across = 2, (r, r)
    elif shape.tag == "box":
        size = np.array(_floats(shape.get("size"), 3))
        axis = int(np.argmax(size))
        across = tuple(np.delete(size, axis) / 2)
        length = float(size[axis])
    else:
        raise ProgramError(f"<{shape.tag}> collision geometry cannot be bounded for zone interlocks; "
                           "use boxes, cylinders and spheres in robot, tool and part URDFs of cells with zones")
    k = max(1, int(np.ceil(length / (2 * max(across)))))
    spacing = length / k
    radius = float(np.sqrt(across[0] ** 2 + across[1] ** 2 + (spacing / 2) ** 2)) if shape.tag == "box" else \
        float(np.hypot(across[0], spacing / 2))
    offsets = -length / 2 + spacing / 2 + spacing * np.arange(k)
    local = np.zeros((k, 3))
    local[:, axis] = offsets
    centres = local @ T_link_shape[:3, :3].T + T_link_shape[:3, 3]
    return centres, np.full(k, radius)


@lru_cache(maxsize=64)
def link_spheres(urdf: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each link's bounding spheres in its own frame, from its <collision> elements."""
    out = {}
    for link in ET.parse(urdf).getroot().findall("link"):
        centres, radii = [], []
        for col in link.findall("collision"):
            origin = col.find("origin")
            T = _rpy_matrix(_floats(origin.get("xyz") if origin is not None else None, 3),
                            _floats(origin.get("rpy") if origin is not None else None, 3))
            for shape in col.find("geometry"):
                try:
                    c, r = shape_spheres(T, shape)
                except ProgramError as exc:
                    raise ProgramError(f"link '{link.get('name')}': {exc.message}", display_path(urdf)) from None
                centres.append(c)
                radii.append(r)
        if centres:
            out[link.get("name")] = (np.vstack(centres), np.concatenate(radii))
    return out


def body_spheres(urdf: Path, joint_values: dict[str, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All spheres of a URDF in its root frame, its joints at the given values (0 where not given)."""
    root = ET.parse(urdf).getroot()
    joint_values = joint_values or {}
    T_root = {}
    joints = {j.find("child").get("link"): j for j in root.findall("joint")}

    def frame(link: str) -> np.ndarray:
        if link not in T_root:
            j = joints.get(link)
            if j is None:
                T_root[link] = np.eye(4)
            else:
                origin = j.find("origin")
                T = _rpy_matrix(_floats(origin.get("xyz") if origin is not None else None, 3),
                                _floats(origin.get("rpy") if origin is not None else None, 3))
                axis_el = j.find("axis")
                axis = np.array(_floats(axis_el.get("xyz") if axis_el is not None else None, 3, 0.0)) if axis_el is not None else np.array([1.0, 0, 0])
                q = joint_values.get(j.get("name"), 0.0)
                motion = np.eye(4)
                if j.get("type") == "prismatic":
                    motion[:3, 3] = axis * q
                elif j.get("type") in ("revolute", "continuous"):
                    motion = SE3.AngleAxis(q, axis).A if q else motion
                T_root[link] = frame(j.find("parent").get("link")) @ T @ motion
        return T_root[link]

    centres, radii = [], []
    for link, (c, r) in link_spheres(urdf).items():
        T = frame(link)
        centres.append(c @ T[:3, :3].T + T[:3, 3])
        radii.append(r)
    if not centres:
        return np.zeros((0, 3)), np.zeros(0)
    return np.vstack(centres), np.concatenate(radii)


def tool_spheres(urdf: Path) -> tuple[np.ndarray, np.ndarray]:
    """A tool's spheres in the flange frame, with every prismatic joint (a finger) at both of its limits."""
    root = ET.parse(urdf).getroot()
    sets = [{}, {}]
    for j in root.findall("joint"):
        lim = j.find("limit")
        if j.get("type") == "prismatic" and lim is not None:
            sets[0][j.get("name")] = float(lim.get("lower", 0))
            sets[1][j.get("name")] = float(lim.get("upper", 0))
    parts = [body_spheres(urdf, values) for values in sets]
    return np.vstack([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _elementary(kind: str, q: np.ndarray) -> np.ndarray:
    """(N, 4, 4) elementary transforms of one joint for N joint values."""
    T = np.broadcast_to(np.eye(4), (len(q), 4, 4)).copy()
    if kind.startswith("t"):
        T[:, "xyz".index(kind[1]), 3] = q
        return T
    c, s = np.cos(q), np.sin(q)
    a, b = {"Rx": (1, 2), "Ry": (2, 0), "Rz": (0, 1)}[kind]
    T[:, a, a], T[:, a, b], T[:, b, a], T[:, b, b] = c, -s, s, c
    return T


class Occupancy:
    """The sphere model of one robot: arm links, tool, and (while held) a part, in the world frame."""

    def __init__(self, arm: Arm, tool_urdf: Path | None = None, margin: float = MARGIN):
        self.arm, self.margin = arm, margin
        robot = _rtb_robot(arm.urdf.resolve())
        spheres = link_spheres(arm.urdf.resolve())
        self._links = []  # (ETS from base to link, centres in link frame, radii)
        for link in robot.links:
            if link.name in spheres:
                self._links.append((robot.ets(end=link.name), *spheres[link.name]))
        self._flange_ets = robot.ets(end=FLANGE)
        self._tool = tool_spheres(tool_urdf.resolve()) if tool_urdf is not None else (np.zeros((0, 3)), np.zeros(0))
        self.held: tuple[np.ndarray, np.ndarray] | None = None  # spheres of a held part, in the TCP frame

    def hold_part(self, part_urdf: Path, T_tcp_part: SE3, riders: list[tuple[Path, SE3]] = ()) -> None:
        """From now on the model carries this part (its spheres placed at T_tcp_part), with what rides on it."""
        cs, rs = [], []
        for urdf, T_tcp in [(part_urdf, T_tcp_part), *riders]:
            c, r = body_spheres(urdf.resolve())
            T = T_tcp.A
            cs.append(c @ T[:3, :3].T + T[:3, 3])
            rs.append(r)
        self.held = (np.vstack(cs), np.concatenate(rs))

    def release_part(self) -> None:
        self.held = None

    def levers(self) -> np.ndarray:
        """For each joint, a bound (m) on how far any point beyond it (links, tool, held part) lies from its axis:
        the lengths of the links after it plus the largest extent of any one link's, the tool's or the part's
        geometry about its own frame (triangle inequality). The planner turns it into its motion-check step."""
        extent = max((float(np.max(np.linalg.norm(c, axis=1) + r)) for _, c, r in self._links if len(r)), default=0.0)
        beyond = [self._tool]
        if self.held is not None:
            T_ft = self.arm.T_flange_tcp.A
            c, r = self.held
            beyond.append((c @ T_ft[:3, :3].T + T_ft[:3, 3], r))
        for c, r in beyond:
            if len(r):
                extent = max(extent, float(np.max(np.linalg.norm(c, axis=1) + r)))
        out, after = np.zeros(self.arm.n), 0.0
        for e in reversed(list(self._flange_ets)):
            if e.isjoint:
                out[e.jindex] = after + extent
            else:
                after += float(np.linalg.norm(e.A()[:3, 3]))
        return out

    def _fk(self, ets, Q: np.ndarray) -> np.ndarray:
        T = np.broadcast_to(self.arm.T_world_base.A, (len(Q), 4, 4)).copy()
        for e in ets:
            if e.isjoint:
                q = Q[:, e.jindex] * (-1.0 if e.isflip else 1.0)
                T = T @ _elementary(e.kind, q)
            else:
                T = T @ e.A()
        return T

    def spheres(self, Q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World-frame sphere centres (N, M, 3) and radii (M,) at N configurations; radii include the margin."""
        Q = np.atleast_2d(np.asarray(Q, float))
        centres, radii = [], []
        for ets, c, r in self._links:
            T = self._fk(ets, Q)
            centres.append(np.einsum("nij,mj->nmi", T[:, :3, :3], c) + T[:, None, :3, 3])
            radii.append(r)
        T_flange = self._fk(self._flange_ets, Q)
        extra = [self._tool]
        if self.held is not None:
            T_ft = self.arm.T_flange_tcp.A
            c, r = self.held
            extra.append((c @ T_ft[:3, :3].T + T_ft[:3, 3], r))
        for c, r in extra:
            if len(r):
                centres.append(np.einsum("nij,mj->nmi", T_flange[:, :3, :3], c) + T_flange[:, None, :3, 3])
                radii.append(r)
        return np.concatenate(centres, axis=1), np.concatenate(radii) + self.margin

    def zones_at(self, Q: np.ndarray, zones: dict) -> set[str]:
        """Names of the zones (objects with lo, hi corners) that any sphere touches at any configuration of Q."""
        return _touched(*self.spheres(Q), zones) if zones else set()

    def zones_along(self, q_path: np.ndarray, zones: dict) -> set[str]:
        """Zones entered anywhere along a joint path (rows of q, densely sampled): configurations are taken
        every SWEEP_STEP rad of joint motion, and spheres grown by how far any point can move in between."""
        if not zones:
            return set()
        q_path = np.atleast_2d(q_path)
        travel = np.concatenate([[0.0], np.cumsum(np.abs(np.diff(q_path, axis=0)).sum(axis=1))])
        marks = np.searchsorted(travel, np.arange(0.0, travel[-1], SWEEP_STEP))
        picked = np.unique(np.concatenate([marks, [len(q_path) - 1]]))
        # a point moves at most (its distance from the joint's axis) * dq; that distance is at most twice the
        # farthest any sphere gets from the base, over the configurations checked
        centres, radii = self.spheres(q_path[picked])
        lever = 2.0 * float(np.max(np.linalg.norm(centres - self.arm.T_world_base.t, axis=-1) + radii))
        return _touched(centres, radii + lever * SWEEP_STEP / 2, zones)


def _touched(centres: np.ndarray, radii: np.ndarray, zones: dict) -> set[str]:
    """The zones that any of the spheres (centres (N, M, 3), radii (M,)) reaches into."""
    found = set()
    for name, z in zones.items():
        outside = np.maximum(np.maximum(z.lo - centres, centres - z.hi), 0.0)
        if np.any(np.linalg.norm(outside, axis=-1) < radii):
            found.add(name)
    return found
