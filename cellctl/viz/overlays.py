"""What the viewer and the recordings draw over the twin, read from the running cell: each robot's task and step,
the TCP path it is following, weld seams as they are welded, bolts as they are torqued, spots as they are welded,
zones while robots are inside them, and collisions where they happen (as the collision check judges them).

The drawing itself is elsewhere (viz/gui.py draws into PyBullet's GUI, viz/record.py onto recorded frames); this
module only reads the world, the controllers and the trace, and changes nothing in them.
"""

from __future__ import annotations

import bisect
import dataclasses
from dataclasses import dataclass, field

import numpy as np

from cellctl.model.program import Program
from cellctl.validate.collision import check_collision
from cellctl.validate.timeline import Timeline

Colour = tuple[float, float, float]
ROBOT_COLOURS: list[Colour] = [(0.85, 0.11, 0.38), (0.0, 0.55, 0.85), (0.95, 0.6, 0.0), (0.0, 0.6, 0.45),
                               (0.55, 0.2, 0.7), (0.45, 0.3, 0.15)]
GREY: Colour = (0.5, 0.5, 0.52)
ORANGE: Colour = (1.0, 0.45, 0.0)
GREEN: Colour = (0.1, 0.7, 0.2)
RED: Colour = (0.9, 0.05, 0.05)
SEAM_STEP = 0.001  # m between the points a seam is coloured at
SEAM_SEGMENTS = 40  # at most this many coloured pieces per seam
WELD_REACH = 0.003  # m: seam points this close to the wire tip while the arc burns are welded
PATH_SAMPLES = 48  # points along a planned TCP path


@dataclass
class RobotLine:
    """One robot's line in the legend: its colour and what it does now."""

    name: str
    colour: Colour
    text: str


@dataclass
class Zone:
    name: str
    lo: np.ndarray
    hi: np.ndarray
    colour: Colour
    occupied: bool
    label: str


@dataclass
class Flag:
    """A collision, where it happened."""

    t: float
    where: np.ndarray
    text: str


@dataclass
class Scene:
    """Everything drawn over the twin at one moment (world coordinates, m)."""

    t: float
    mode: str  # the cell's: running, paused, estopped, ...
    headline: str
    robots: list[RobotLine]
    paths: dict[str, np.ndarray]  # robot -> (N, 3) TCP path of the motion it is following
    seams: dict[str, tuple[np.ndarray, list[Colour]]]  # OWNER.SEAM -> (points (N, 3), colours of the N - 1 pieces)
    spots: dict[str, tuple[np.ndarray, Colour]]
    bolts: dict[str, Colour]
    zones: list[Zone]
    flags: list[Flag]


def _densify(points: np.ndarray, step: float) -> np.ndarray:
    """Points along a polyline no more than `step` apart."""
    out = [points[0]]
    for a, b in zip(points[:-1], points[1:]):
        n = max(1, int(np.ceil(np.linalg.norm(b - a) / step)))
        out += [a + (b - a) * k / n for k in range(1, n + 1)]
    return np.array(out)


@dataclass
class _Seam:
    owner: str
    points: np.ndarray  # (N, 3) m in the owner's frame
    welded: np.ndarray = field(default=None)  # (N,) bool
    burning: np.ndarray = field(default=None)  # (N,) bool: under the arc now

    def __post_init__(self) -> None:
        self.welded = np.zeros(len(self.points), bool)
        self.burning = np.zeros(len(self.points), bool)


class LiveCollisions:
    """Collisions found as they happen, by the collision check itself run over each new stretch of the trace (with
    the contacts at every grasp, from which the check learns what a part rested on)."""

    def __init__(self, program: Program):
        self.program = program
        self.flags: dict[frozenset, Flag] = {}
        self._seen = 0  # contacts already judged
        self._attachments = 0
        self._grasps: list = []  # contacts at the steps parts were grasped

    def update(self, trace, events: list[dict]) -> list[Flag]:
        contacts = trace.contacts
        for a in trace.attachments[self._attachments:]:
            if a.action == "attach":
                i = bisect.bisect_left(contacts, a.t - 1e-9, key=lambda c: c.t)
                self._grasps += [c for c in contacts[i:] if abs(c.t - a.t) < 1e-9]
        self._attachments = len(trace.attachments)
        new = contacts[self._seen:]
        self._seen = len(contacts)
        if new:
            window = dataclasses.replace(trace, contacts=self._grasps + new, layout_overlaps=[])
            for f in check_collision(self.program, window, Timeline(events)).findings:
                pair = frozenset((f["a"], f["b"]))
                first = next((c for c in new if frozenset((c.a, c.b)) == pair), None)
                if first is not None and pair not in self.flags:
                    self.flags[pair] = Flag(first.t, np.array(first.where), f"{f['a']} hit {f['b']}")
        return sorted(self.flags.values(), key=lambda fl: fl.t)


class Overlays:
    """Follows a running cell (call observe() after every step) and says what to draw now (scene())."""

    def __init__(self, program: Program, world):
        self.program, cell = program, program.cell
        self.colours = {r: ROBOT_COLOURS[i % len(ROBOT_COLOURS)] for i, r in enumerate(cell.robots)}
        self.seams: dict[str, _Seam] = {}
        self.spots: dict[str, tuple[str, np.ndarray]] = {}
        for owner, thing in {**cell.fixtures, **cell.parts}.items():
            for name, f in thing.features.items():
                if f.kind == "seam":
                    self.seams[f"{owner}.{name}"] = _Seam(owner, _densify(f.points, SEAM_STEP))
                elif f.kind == "spot":
                    self.spots[f"{owner}.{name}"] = (owner, f.T_owner_feature.A[:3, 3])
        self.collisions = LiveCollisions(program)
        self._paths: dict[str, tuple] = {}  # robot -> (id of the trajectory, its TCP path, the trajectory)

    def _owner_matrix(self, world, owner: str) -> np.ndarray:
        cell = world.cell
        return world.part_matrix(owner) if owner in cell.parts else cell.fixtures[owner].T_world_fixture.A

    def observe(self, world, orch) -> None:
        """After each step: mark the seam points under a burning arc as welded."""
        for seam in self.seams.values():
            seam.burning[:] = False
        for robot, ctx in orch.contexts.items():
            if ctx.weld is None or not ctx.weld.state().arc_established:
                continue
            tip = world.tcp_matrix(robot)[:3, 3]
            for seam in self.seams.values():
                T = self._owner_matrix(world, seam.owner)
                local = T[:3, :3].T @ (tip - T[:3, 3])
                near = np.linalg.norm(seam.points - local, axis=1) < WELD_REACH
                seam.welded |= near
                seam.burning |= near

    def scene(self, world, orch) -> Scene:
        """What to draw now."""
        trace, cell = world.trace, world.cell
        mode = orch.state.name.lower()
        headline = f"{self.program.name}   t = {world.t:6.2f} s   cell {mode}"
        return Scene(world.t, mode, headline, self._robots(orch), self._planned(orch), self._seams(world), self._spots(world, trace),
                     self._bolts(world, orch), self._zones(cell, orch, trace),
                     self.collisions.update(trace, orch.events))

    # ------------------------------------------------------------------ pieces of the scene
    def _robots(self, orch) -> list[RobotLine]:
        out = []
        for robot, ctl in orch.controllers.items():
            run = orch.active.get(robot)
            mode = ctl.state.name.lower()
            if run is not None and run.machine is not None:
                m = run.machine
                doing = f"{run.task.id}  {m.KIND}.{m.state.name.lower()}"
                text = doing if mode == "busy" else f"{doing}  ({mode})"
            else:
                text = {"idle": "idle", "disabled": "idle"}.get(mode, mode)
            out.append(RobotLine(robot, self.colours[robot], text))
        return out

    def _planned(self, orch) -> dict[str, np.ndarray]:
        """Per robot, the TCP path of the trajectory its driver streams now (while it has one to follow)."""
        out = {}
        for robot, ctx in orch.contexts.items():
            traj = planned_trajectory(ctx.robot)
            if traj is None or traj.duration <= 0.0:
                continue
            cached = self._paths.get(robot)
            if cached is None or cached[0] != id(traj):
                ts = np.linspace(0.0, traj.duration, PATH_SAMPLES)
                cached = (id(traj), np.array([ctx.arm.fk_matrix(traj.sample(t)[0])[:3, 3] for t in ts]), traj)
                self._paths[robot] = cached
            out[robot] = cached[1]
        return out

    def _seams(self, world) -> dict[str, tuple[np.ndarray, list[Colour]]]:
        out = {}
        for name, seam in self.seams.items():
            T = self._owner_matrix(world, seam.owner)
            n = len(seam.points)
            idx = np.unique(np.linspace(0, n - 1, min(n, SEAM_SEGMENTS + 1)).round().astype(int))
            pts = seam.points[idx] @ T[:3, :3].T + T[:3, 3]
            colours = []
            for a, b in zip(idx[:-1], idx[1:]):
                piece = slice(a, b + 1)
                colours.append(ORANGE if seam.burning[piece].any() else GREEN if seam.welded[piece].all() else GREY)
            out[name] = (pts, colours)
        return out

    def _spots(self, world, trace) -> dict[str, tuple[np.ndarray, Colour]]:
        done = {s["spot"]: s["welded"] for s in trace.spots if s.get("spot")}
        out = {}
        for name, (owner, xyz) in self.spots.items():
            T = self._owner_matrix(world, owner)
            colour = GREY if name not in done else GREEN if done[name] else RED
            out[name] = (T[:3, :3] @ xyz + T[:3, 3], colour)
        return out

    def _bolts(self, world, orch) -> dict[str, Colour]:
        """Grey until a spindle turns it (orange), then green when it reached its torque, red when it did not."""
        out = {name: GREY for name in world.bolts.bolts}
        for f in world.trace.fastenings:
            if f["hole"] in out:
                out[f["hole"]] = GREEN if f["done"] and not f["cross_threaded"] else RED
        for robot, ctx in orch.contexts.items():
            if ctx.nutrunner is not None and ctx.nutrunner.state().running:
                found = world.bolts.under(world.tcp_matrix(robot))
                if found is not None:
                    out[found[0].name] = ORANGE
        return out

    def _zones(self, cell, orch, trace) -> list[Zone]:
        inside: dict[str, tuple] = {}
        for _, zone, robots in trace.zone_changes:
            inside[zone] = robots
        book = orch.zones
        out = []
        for name, z in cell.zones.items():
            robots = inside.get(name, ())
            colour = GREY if not robots else self.colours[robots[0]] if len(robots) == 1 else RED
            holder = book.holder.get(name) if book is not None else None
            waits = sorted(r for r, zs in (book.waiting.items() if book is not None else ()) if name in zs)
            label = name + (f": {holder}" if holder else "") + "".join(f", {r} waits" for r in waits)
            out.append(Zone(name, z.lo, z.hi, colour, bool(robots), label))
        return out


def planned_trajectory(driver):
    """The joint trajectory a robot driver is following now (None once it arrived). The simulation driver keeps it as
    `_traj`, with `_handle` while the motion is under way; a driver that does not (hardware) shows no planned path."""
    return getattr(driver, "_traj", None) if getattr(driver, "_handle", None) is not None else None


def box_edges(lo: np.ndarray, hi: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The 12 edges of an axis-aligned box."""
    c = [np.array([x, y, z]) for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
    return [(c[i], c[j]) for i in range(8) for j in range(i + 1, 8) if bin(i ^ j).count("1") == 1]
