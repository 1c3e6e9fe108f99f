"""Crossings: before anything moves, prove that no two robots can meet whatever the timing.

The simulation runs one timing; on the shop floor a robot starts late, waits longer for a part or runs at
reduced speed. Two robots whose paths overlap are kept apart only by a zone both must hold there, or by an
order between their tasks (`after`, and each robot's own program order). The dry run's paths (sphere models of
arm, tool and held part, grown by a margin) are compared across every pair of phases (a task, or a robot standing
between tasks) that some timing could run at once; an overlap that no zone covers is a crossing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cellctl.kinematics.occupancy import MARGIN, Occupancy

SAMPLE_TRAVEL = 0.01  # rad of summed joint motion between the configurations compared (about 15 mm at a 1.5 m lever)
SHOWN = 3  # crossings named in the finding
CHUNK = 256  # configuration pairs measured at once


@dataclass
class Phase:
    """What one robot does over a stretch of the cycle: a task, or standing between tasks (task None)."""

    robot: str
    task: str | None
    starts: tuple  # the event it starts at: ("start", task), ("end", task) or ("zero",)
    ends: tuple  # the event it ends at: ("start", task), ("end", task) or ("never",)
    q: list = field(default_factory=list)  # configurations, in order
    held: list = field(default_factory=list)  # the part model carried at each (Occupancy.held), or None
    centres: np.ndarray | None = None  # (N, M, 3)
    radii: np.ndarray | None = None  # (M,)
    zones: np.ndarray | None = None  # (N, Z) bool: which zones the robot is inside (so holds) at each configuration


class SweepRecorder:
    """Collects one robot's configurations during the dry run, phase by phase."""

    def __init__(self, robot: str, occupancy: Occupancy, q0: np.ndarray):
        self.robot, self.occ = robot, occupancy
        self.phases = [Phase(robot, None, ("zero",), ("never",))]
        self.sample(q0, force=True)

    def sample(self, q: np.ndarray, force: bool = False) -> None:
        """Keep the configuration if the arm has moved SAMPLE_TRAVEL since the last one kept, or picked up or let go."""
        ph = self.phases[-1]
        if force or not ph.q or ph.held[-1] is not self.occ.held or np.abs(q - ph.q[-1]).sum() >= SAMPLE_TRAVEL:
            ph.q.append(np.array(q, float))
            ph.held.append(self.occ.held)

    def begin(self, task: str, q: np.ndarray) -> None:
        self.phases[-1].ends = ("start", task)
        self.phases.append(Phase(self.robot, task, ("start", task), ("end", task)))
        self.sample(q, force=True)

    def end(self, task: str, q: np.ndarray) -> None:
        self.sample(q, force=True)
        self.phases.append(Phase(self.robot, None, ("end", task), ("never",)))
        self.sample(q, force=True)

    def finish(self, zones: dict) -> list[Phase]:
        """Sphere models of every configuration recorded (radii with the occupancy margin)."""
        names = sorted(zones)
        keep = self.occ.held
        try:
            for ph in self.phases:
                if not ph.q:
                    continue
                Q = np.array(ph.q)
                runs = [0] + [i for i in range(1, len(Q)) if ph.held[i] is not ph.held[i - 1]] + [len(Q)]
                parts = []
                for a, b in zip(runs, runs[1:]):
                    self.occ.held = ph.held[a]
                    parts.append(self.occ.spheres(Q[a:b]))
                width = max(len(r) for _, r in parts)
                ph.centres = np.full((len(Q), width, 3), np.nan)
                ph.radii = np.zeros(width)
                for (c, r), a, b in zip(parts, runs, runs[1:]):
                    ph.centres[a:b, :len(r)] = c
                    ph.radii[:len(r)] = np.maximum(ph.radii[:len(r)], r)  # a part's spheres come last: widest wins
                ph.zones = np.array([[_inside(ph.centres[n], ph.radii, zones[z]) for z in names] for n in range(len(Q))],
                                    bool).reshape(len(Q), len(names))
        finally:
            self.occ.held = keep
        return [ph for ph in self.phases if ph.q]


def _inside(centres: np.ndarray, radii: np.ndarray, zone) -> bool:
    ok = ~np.isnan(centres[:, 0])
    outside = np.maximum(np.maximum(zone.lo - centres[ok], centres[ok] - zone.hi), 0.0)
    return bool(np.any(np.linalg.norm(outside, axis=-1) < radii[ok]))


def _surely_before(ends: tuple, starts: tuple, before: dict[str, set[str]]) -> bool:
    """A phase ending at `ends` is over, in every timing, before a phase starting at `starts` begins: only an ended
    task orders anything (a robot's standing phase never ends after its last task; the first ones start at zero)."""
    if ends[0] == "never" or starts[0] == "zero":
        return False
    return ends[1] == starts[1] or ends[1] in before.get(starts[1], set())


def _can_overlap(a: Phase, b: Phase, before: dict[str, set[str]]) -> bool:
    return not _surely_before(a.ends, b.starts, before) and not _surely_before(b.ends, a.starts, before)


def _boxes(ph: Phase) -> tuple[np.ndarray, np.ndarray]:
    """Per configuration, the corners of the box round all its spheres."""
    lo = np.nanmin(ph.centres - ph.radii[None, :, None], axis=1)
    hi = np.nanmax(ph.centres + ph.radii[None, :, None], axis=1)
    return lo, hi


def _meet(a: Phase, b: Phase) -> tuple[float, np.ndarray] | None:
    """The deepest overlap (m) of a's and b's sphere models at configurations no shared zone keeps apart, and where:
    configuration pairs whose boxes overlap, then their spheres pair by pair."""
    (alo, ahi), (blo, bhi) = _boxes(a), _boxes(b)
    if np.any(ahi.max(axis=0) < blo.min(axis=0)) or np.any(bhi.max(axis=0) < alo.min(axis=0)):
        return None
    near = np.all(alo[:, None, :] <= bhi[None, :, :], axis=2) & np.all(blo[None, :, :] <= ahi[:, None, :], axis=2)
    if len(a.zones[0]):
        near &= ~np.any(a.zones[:, None, :] & b.zones[None, :, :], axis=2)  # both inside one zone: the interlock parts them
    na, nb = np.nonzero(near)
    best = None
    for k in range(0, len(na), CHUNK):
        ca, cb = a.centres[na[k:k + CHUNK]], b.centres[nb[k:k + CHUNK]]  # (K, Ma, 3), (K, Mb, 3)
        d = np.linalg.norm(ca[:, :, None, :] - cb[:, None, :, :], axis=-1)
        depth = np.nan_to_num(a.radii[None, :, None] + b.radii[None, None, :] - d, nan=-1.0)
        flat = int(np.argmax(depth))
        if depth.flat[flat] > 0 and (best is None or depth.flat[flat] > best[0]):
            i, ma, mb = np.unravel_index(flat, depth.shape)
            best = (float(depth.flat[flat]), (ca[i, ma] + cb[i, mb]) / 2)
    return best


def find_crossings(sweeps: dict[str, list[Phase]], before: dict[str, set[str]]) -> list[str]:
    """Every pair of robots' phases that some timing runs at once and whose paths overlap outside any zone both
    would hold, worst first, as sentences."""
    found = []
    robots = list(sweeps)
    for x, ra in enumerate(robots):
        for rb in robots[x + 1:]:
            for a in sweeps[ra]:
                for b in sweeps[rb]:
                    if (a.task or b.task) and _can_overlap(a, b, before):
                        meet = _meet(a, b)
                        if meet is not None:
                            found.append((meet[0], a, b, meet[1]))
    found.sort(key=lambda f: -f[0])

    def doing(ph: Phase) -> str:
        if ph.task:
            return f"{ph.robot} in '{ph.task}'"
        return f"{ph.robot} standing " + (f"after '{ph.starts[1]}'" if ph.starts[0] == "end" else "at its start")

    return [f"{doing(a)} and {doing(b)} can meet near ({p[0]:.2f}, {p[1]:.2f}, {p[2]:.2f}) m: their paths overlap by "
            f"{depth * 1000:.0f} mm (with a {MARGIN * 1000:.0f} mm margin each), no zone covers the place and no 'after' "
            f"orders the two, so only timing keeps them apart" for depth, a, b, p in found[:SHOWN]]
