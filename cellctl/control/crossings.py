"""Crossings: before anything moves, prove that no two robots can meet whatever the timing.

The simulation runs one timing; on the shop floor a robot starts late, waits longer for a part or runs at
reduced speed. Two robots whose paths overlap are kept apart only by a zone both must hold there, or by an
order between their tasks (`after`, and each robot's own program order). The dry run's paths (sphere models of
arm, tool and held part, grown by a margin) are compared across every pair of phases (a task, or a robot standing
between tasks) that some timing could run at once; an overlap that no zone covers is a crossing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from cellctl.kinematics.occupancy import MARGIN, Occupancy

Apart = Callable[..., 'float | None']  # (a, qa, carried_a, b, qb, carried_b, within) -> m apart, or None beyond within
SAMPLE_TRAVEL = 0.01  # rad of summed joint motion between the configurations compared (about 15 mm at a 1.5 m lever)
SHOWN = 3  # crossings named in the finding
CHUNK = 256  # configuration pairs measured at once
CONFIRM = 200  # sphere overlaps, deepest first, that the real geometry is asked about


@dataclass
class Phase:
    """What one robot does over a stretch of the cycle: a task, or standing between tasks (task None)."""

    robot: str
    task: str | None
    starts: tuple  # the event it starts at: ("start", task), ("end", task) or ("zero",)
    ends: tuple  # the event it ends at: ("start", task), ("end", task) or ("never",)
    q: list = field(default_factory=list)  # configurations, in order
    held: list = field(default_factory=list)  # the part model carried at each (Occupancy.held), or None
    holds: list = field(default_factory=list)  # the zones the robot holds at each (a motion holds what it enters)
    parts: list = field(default_factory=list)  # what is carried at each: [(part, T_tcp_part), ...] (RobotContext.carrying)
    centres: np.ndarray | None = None  # (N, M, 3)
    radii: np.ndarray | None = None  # (M,)
    zones: np.ndarray | None = None  # (N, Z) bool: which zones the robot holds at each configuration


class SweepRecorder:
    """Collects one robot's configurations during the dry run, phase by phase."""

    def __init__(self, robot: str, occupancy: Occupancy, q0: np.ndarray, holds: Callable[[], set[str]], held: Callable):
        self.robot, self.occ, self.holds, self.held = robot, occupancy, holds, held
        self.phases = [Phase(robot, None, ("zero",), ("never",))]
        self.sample(q0, force=True)

    def sample(self, q: np.ndarray, force: bool = False) -> None:
        """Keep the configuration if the arm has moved SAMPLE_TRAVEL since the last one kept, or picked up or let go."""
        ph = self.phases[-1]
        holds = frozenset(self.holds())
        if force or not ph.q or ph.held[-1] is not self.occ.held or ph.holds[-1] != holds \
                or np.abs(q - ph.q[-1]).sum() >= SAMPLE_TRAVEL:
            ph.q.append(np.array(q, float))
            ph.held.append(self.occ.held)
            ph.holds.append(holds)
            ph.parts.append(self.held())

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
                ph.zones = np.array([[z in held for z in names] for held in ph.holds], bool).reshape(len(Q), len(names))
        finally:
            self.occ.held = keep
        return [ph for ph in self.phases if ph.q]


def _surely_before(ends: tuple, starts: tuple, before: dict[str, set[str]]) -> bool:
    """A phase ending at `ends` is over, in every timing, before a phase starting at `starts` begins: only an ended
    task orders anything (a robot's standing phase never ends after its last task; the first ones start at zero)."""
    if ends[0] == "never" or starts[0] == "zero":
        return False
    return ends[1] in before.get(starts[1], set())


def _can_overlap(a: Phase, b: Phase, before: dict[str, set[str]]) -> bool:
    return not _surely_before(a.ends, b.starts, before) and not _surely_before(b.ends, a.starts, before)


def _boxes(ph: Phase) -> tuple[np.ndarray, np.ndarray]:
    """Per configuration, the corners of the box round all its spheres."""
    lo = np.nanmin(ph.centres - ph.radii[None, :, None], axis=1)
    hi = np.nanmax(ph.centres + ph.radii[None, :, None], axis=1)
    return lo, hi


def _overlaps(a: Phase, b: Phase) -> list[tuple[float, int, int, np.ndarray]]:
    """The configuration pairs (depth m, index in a, index in b, where) at which a's and b's sphere models overlap
    and no zone both hold keeps them apart, deepest first: pairs culled by their boxes, then sphere by sphere."""
    (alo, ahi), (blo, bhi) = _boxes(a), _boxes(b)
    if np.any(ahi.max(axis=0) < blo.min(axis=0)) or np.any(bhi.max(axis=0) < alo.min(axis=0)):
        return []
    near = np.all(alo[:, None, :] <= bhi[None, :, :], axis=2) & np.all(blo[None, :, :] <= ahi[:, None, :], axis=2)
    if len(a.zones[0]):
        near &= ~np.any(a.zones[:, None, :] & b.zones[None, :, :], axis=2)  # both hold one zone: the interlock parts them
    na, nb = np.nonzero(near)
    out = []
    for k in range(0, len(na), CHUNK):
        ia, ib = na[k:k + CHUNK], nb[k:k + CHUNK]
        ca, cb = a.centres[ia], b.centres[ib]  # (K, Ma, 3), (K, Mb, 3)
        d = np.linalg.norm(ca[:, :, None, :] - cb[:, None, :, :], axis=-1)
        depth = np.nan_to_num(a.radii[None, :, None] + b.radii[None, None, :] - d, nan=-1.0).reshape(len(ia), -1)
        best = depth.argmax(axis=1)
        for i in np.flatnonzero(depth[np.arange(len(ia)), best] > 0):
            ma, mb = np.unravel_index(best[i], (ca.shape[1], cb.shape[1]))
            out.append((float(depth[i, best[i]]), int(ia[i]), int(ib[i]), (ca[i, ma] + cb[i, mb]) / 2))
    out.sort(key=lambda o: (-o[0], o[1], o[2]))
    return out


def _meet(a: Phase, b: Phase, apart: Apart | None) -> tuple[float, np.ndarray, str] | None:
    """Where a and b meet: the deepest sphere overlap that the robots' real geometry (with the parts they hold)
    confirms, closer than the occupancy margin; or None."""
    for depth, i, j, where in _overlaps(a, b)[:CONFIRM]:
        if apart is None:
            return depth, where, f"their paths (modelled with a {MARGIN * 1000:.0f} mm margin) overlap by {depth * 1000:.0f} mm"
        d = apart(a.robot, a.q[i], a.parts[i], b.robot, b.q[j], b.parts[j], MARGIN)
        if d is not None:
            return MARGIN - d, where, (f"their paths come within {d * 1000:.0f} mm of each other" if d > 0
                                       else f"their paths cross ({-d * 1000:.0f} mm deep)")
    return None


def find_crossings(sweeps: dict[str, list[Phase]], before: dict[str, set[str]], apart: Apart | None = None) -> list[str]:
    """Every pair of robots' phases that some timing runs at once and whose paths overlap outside any zone both
    would hold, worst first, as sentences."""
    found = []
    robots = list(sweeps)
    for x, ra in enumerate(robots):
        for rb in robots[x + 1:]:
            for a in sweeps[ra]:
                for b in sweeps[rb]:
                    if (a.task or b.task) and _can_overlap(a, b, before):
                        meet = _meet(a, b, apart)
                        if meet is not None:
                            found.append((meet[0], a, b, meet[1], meet[2]))
    found.sort(key=lambda f: -f[0])
    worst, more = {}, {}
    for f in found:  # the worst meeting of each pair of robots; the others are counted
        key = (f[1].robot, f[2].robot)
        if key in worst:
            more[key] = more.get(key, 0) + 1
        else:
            worst[key] = f

    def doing(ph: Phase) -> str:
        if ph.task:
            return f"{ph.robot} in '{ph.task}'"
        return f"{ph.robot} standing " + (f"after '{ph.starts[1]}'" if ph.starts[0] == "end" else "at its start")

    return [f"{doing(a)} and {doing(b)} can meet near ({p[0]:.2f}, {p[1]:.2f}, {p[2]:.2f}) m: {how}, no zone both hold "
            f"covers the place and no 'after' keeps them from being there at once"
            + (f" (and {more[k]} more such meeting{'s' if more[k] > 1 else ''} of {k[0]} and {k[1]})" if k in more else "")
            for k, (_, a, b, p, how) in list(worst.items())[:SHOWN]]
