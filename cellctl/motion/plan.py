"""Collision-free joint-space planning: OMPL's RRTConnect over an injected validity function, then shortcutting.

The validity function is injected (q -> bool) so that this module never imports a simulator: the twin passes a
PyBullet query, the tests pass plain geometry. Every motion is checked densely enough that no point of the robot
moves more than `thin` metres between two checked states (see motion_step), and the final path is re-verified.
Results are deterministic for a given seed: OMPL's global seed generator is reset before every call, RRTConnect
stops at its first solution, and the simplifier runs a fixed number of attempts instead of a time budget.

"Free" means free at the checked states: between two of them a robot point moves at most `thin`, so a segment
can clip an obstacle's corner by up to about thin/2 unseen. The validity function should therefore reject
states closer than about thin/2 to an obstacle (a distance margin), not only states in contact.

With a Probe (the same checks as distances), motions around obstacles are checked by conservative advancement
instead (see _Checks): the clearance to the cell then holds along the whole motion, not only at checked states,
at a small fraction of the checks; self-contact is still never missed by more than `thin`.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

import numpy as np
from ompl import base as ob
from ompl import geometric as og
from ompl import util as ou

Validity = Callable[[np.ndarray], bool]

# Shortcutting is the main cost after planning (each accepted shortcut is a full segment check). On a 6-joint
# detour around a box: 0 attempts -> path 1.00x raw, 10 -> 0.74x, 30 -> 0.66x, 100 -> 0.61x, for roughly
# 2.8k, 5.7k, 8.7k and 13k validity checks. A fixed count (not a time budget) keeps results deterministic.
SHORTCUT_ATTEMPTS = 30  # partial-shortcut attempts per plan
SHORTCUT_PATIENCE = 10  # stop after this many attempts in a row without improvement

ou.setLogLevel(ou.LOG_NONE)  # OMPL logs to stdout/stderr from C++; the planner reports through PlanResult instead


@dataclass
class PlanResult:
    success: bool
    path: np.ndarray | None  # (k, n) joint waypoints, first = start, last = goal, after simplification
    reason: str = ""  # on failure, a sentence a cell engineer can act on
    raw_length: float = 0.0  # joint-space path length (rad, L2 sum over segments) before simplification
    length: float = 0.0  # after simplification
    planning_time: float = 0.0  # s wall (for benchmarks only; never used in decisions)
    planned: bool = False  # OMPL ran (the straight segment was blocked)
    checks: int = 0  # states checked (validity, or with a probe, distances)


def motion_step(levers: np.ndarray, thin: float = 0.01) -> float:
    """Largest joint-space L2 step (rad) such that no point of the robot moves more than `thin` m.

    levers[j] bounds the distance (m) from joint j's axis to any point it moves, so a point's displacement is
    <= sum_j levers[j]*|dq_j| <= ||levers||_2 * ||dq||_2 (Cauchy-Schwarz); hence step = thin / ||levers||_2.
    """
    norm = float(np.linalg.norm(np.asarray(levers, float)))
    if not norm > 0.0 or not math.isfinite(norm):
        raise ValueError(f"levers must be finite and not all zero, got {levers!r}")
    if not thin > 0.0:
        raise ValueError(f"thin must be positive, got {thin!r}")
    return thin / norm


def segment_free(qa: np.ndarray, qb: np.ndarray, valid: Validity, step: float) -> bool:
    """Whether the straight joint segment qa->qb is free: qb and evenly spaced states at most `step` rad (L2) apart.

    qa is assumed valid (it is the end of the previous segment). Interior states are visited in bisection order,
    like OMPL's DiscreteMotionValidator, so a blocked segment is usually rejected after a few checks.
    """
    qa, qb = np.asarray(qa, float), np.asarray(qb, float)
    if not valid(qb):
        return False
    delta = qb - qa
    return _interior_free(qa, delta, math.ceil(math.sqrt(float(np.dot(delta, delta))) / step), valid)


def _interior_free(qa: np.ndarray, delta: np.ndarray, nd: int, valid: Validity) -> bool:
    """Whether the states qa + delta * k/nd, 0 < k < nd, are all valid, visited in bisection order."""
    if nd < 2:
        return True
    todo = deque([(1, nd - 1)])
    while todo:
        lo, hi = todo.popleft()
        mid = (lo + hi) // 2
        if not valid(qa + delta * (mid / nd)):  # same arithmetic as OMPL's RealVectorStateSpace::interpolate
            return False
        if lo < mid:
            todo.append((lo, mid - 1))
        if hi > mid:
            todo.append((mid + 1, hi))
    return True


def curve_free(q: np.ndarray, valid: Validity, step: float) -> bool:
    """Whether a densely sampled joint curve (a retimed, blended path) is free: checked at samples no more than
    `step` apart along it, and segment by segment where two consecutive samples are farther apart than that."""
    q = np.asarray(q, float)
    if not valid(q[0]):
        return False
    since, last = 0.0, 0
    for i in range(1, len(q)):
        d = float(np.linalg.norm(q[i] - q[i - 1]))
        if d > step:
            if (last != i - 1 and not valid(q[i - 1])) or not segment_free(q[i - 1], q[i], valid, step):
                return False
            since, last = 0.0, i
            continue
        since += d
        if since + (float(np.linalg.norm(q[i + 1] - q[i])) if i + 1 < len(q) else step) > step or i == len(q) - 1:
            if not valid(q[i]):
                return False
            since, last = 0.0, i
    return True


def path_length(path: np.ndarray) -> float:
    """Joint-space length of a waypoint path (rad): the sum of the L2 norms of its segments."""
    return float(np.linalg.norm(np.diff(path, axis=0), axis=1).sum()) if len(path) > 1 else 0.0


def _limits_reason(which: str, q: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> str:
    """A sentence naming the first joint of q outside [lower, upper], or '' when all are inside."""
    for j in range(len(q)):
        if not lower[j] <= q[j] <= upper[j]:
            return (f"the {which} configuration is outside the joint limits: joint {j + 1} of {len(q)} is "
                    f"{q[j]:.4f} rad, limits [{lower[j]:.4f}, {upper[j]:.4f}]")
    return ""


PLAN_TIMEOUT = 2.0  # s of planning (wall time) per tier before a move around obstacles is declared impossible
# (clearance guaranteed along the whole motion, m; largest robot-point move between two checked states, m):
# checked states keep clearance + move/2, so nothing comes closer than the clearance in between. A wide berth
# checked coarsely first, then the fine tier (1 cm resolution) for ends near obstacles and narrow passages.
PLAN_TIERS = ((0.010, 0.05), (0.003, 0.01))
FINE_MARGIN = PLAN_TIERS[-1][0] + PLAN_TIERS[-1][1] / 2  # m: what IK goals and blended paths keep from the cell
Collision = Callable[[np.ndarray, float], "str | None"]  # (q, margin) -> what q comes closer than margin to, or None
# RRTConnect's step (rad, joint-space L2) instead of OMPL's 20 % of the space's extent (5.8 rad for a 6-axis arm):
# on the planning benchmark's OMPL queries, 0.5 / 1 / 2 / 3.5 / 5.8 rad took 0.12 / 0.12 / 0.14 / 0.15 / 0.17 s
# median (with a probe), 1 rad solving the hard queries fastest.
PLAN_RANGE = 1.0
PROBE_CAP = 0.3  # m: distances are measured up to this (farther costs more to measure and is seldom needed)


@dataclass(frozen=True)
class Probe:
    """`collision` as distances, for conservative advancement: distances(q, which, cap) gives, for the entries
    `which` (all when None), how far apart (m, at most cap, below 0 on overlap) two things are that must not
    touch: a part of the robot (tool and held part included) and the cell where cell[e], else two parts of the
    robot. weights[e, j] bounds how fast joint j can change entry e's distance (m per rad)."""

    distances: Callable[[np.ndarray, "np.ndarray | None", float], np.ndarray]
    weights: np.ndarray  # (entries, joints)
    cell: np.ndarray  # (entries,) bool


class _Checks:
    """State and motion checks for one plan, memoised. Without a probe, motions are sampled every `thin` of robot
    motion (segment_free). With one, by conservative advancement: along a motion dq entry e's distance changes by
    at most reach_e = weights[e] @ |dq|, so two states d1 and d2 apart cover it when d1 + d2 - 2 * keep >= reach_e
    (keep: the tier's clearance against the cell, 0 within the robot); pieces that are not covered are halved,
    down to pieces of at most `thin` between two valid states, which cover as sampling every `thin` does."""

    def __init__(self, valid: Validity, levers: np.ndarray, thin: float, probe: Probe | None, keep: float):
        self.valid, self.thin, self.probe = valid, thin, probe
        self.step = motion_step(levers, thin)
        self.checks = 0  # states asked about
        self._memo: dict[bytes, object] = {}
        if probe is not None:
            self.keep = np.where(probe.cell, keep, 0.0)
            self.floor = np.where(probe.cell, keep + thin / 2, 0.0)  # what every valid state keeps

    def state(self, q: np.ndarray) -> bool:
        """q is valid (without a probe: valid(q); with one: every entry at least its floor)."""
        if self.probe is None:
            return bool(self._ask(q, self.valid))
        return bool(np.all(self._distances(q) >= self.floor))

    def _ask(self, q: np.ndarray, fn: Callable[[np.ndarray], object]) -> object:
        key = q.tobytes()
        if key not in self._memo:
            self.checks += 1
            self._memo[key] = fn(q)
        return self._memo[key]

    def _distances(self, q: np.ndarray) -> np.ndarray:
        return self._ask(q, lambda q: self.probe.distances(q, None, PROBE_CAP))

    def motion(self, qa: np.ndarray, qb: np.ndarray) -> bool:
        """The straight joint motion qa->qb is free (qa is valid)."""
        if self.probe is None:
            return segment_free(qa, qb, self.state, self.step)
        if not self.state(qb):
            return False
        delta = qb - qa
        reach = self.probe.weights @ np.abs(delta)  # (entries,) m over the whole motion
        every = np.arange(len(reach))
        todo = deque([(0.0, 1.0, every, self._distances(qa), self._distances(qb))])
        while todo:  # (piece, entries not yet covered on it, their distances at the piece's ends)
            lo, hi, which, d_lo, d_hi = todo.popleft()
            span = reach[which] * (hi - lo)
            open_ = (d_lo + d_hi - 2 * self.keep[which] < span) & (span > self.thin)
            if not open_.any():
                continue
            which, d_lo, d_hi = which[open_], d_lo[open_], d_hi[open_]
            mid = (lo + hi) / 2
            self.checks += 1
            d = self.probe.distances(qa + delta * mid, which, PROBE_CAP)[which]
            if np.any(d < self.floor[which]):
                return False
            todo.extend(((lo, mid, which, d_lo, d), (mid, hi, which, d, d_hi)))
        return True


def clear_path(q0: np.ndarray, q1: np.ndarray, collision: Collision, lower: np.ndarray, upper: np.ndarray,
               levers: np.ndarray, seed: int | np.random.Generator, timeout: float = PLAN_TIMEOUT,
               probe: Probe | None = None) -> PlanResult:
    """Joint waypoints from q0 to q1 that keep clear of the cell, tier by tier (PLAN_TIERS): a wide berth
    checked coarsely, then the fine 1 cm resolution where the ends or a narrow passage need it. When no tier
    can even accept the ends (they already touch something: a fault the twin will report), the straight path.
    A probe (the same cell, measured) makes planning around obstacles much cheaper; see _Checks."""
    failed = None
    for clearance, thin in PLAN_TIERS:
        valid = lambda q, m=clearance + thin / 2: collision(q, m) is None
        if not valid(q0) or not valid(q1):
            continue
        res = plan_path(q0, q1, valid, lower, upper, levers, seed, timeout, thin, probe, clearance)
        if res.success:
            return res
        failed = res
    if failed is not None:
        return failed
    straight = np.array([q0, q1], float)
    d = path_length(straight)
    return PlanResult(True, straight, raw_length=d, length=d)


def plan_path(q_start: np.ndarray, q_goal: np.ndarray, valid: Validity, lower: np.ndarray, upper: np.ndarray,
              levers: np.ndarray, seed: int | np.random.Generator, timeout: float = 2.0, thin: float = 0.01,
              probe: Probe | None = None, keep: float = 0.0) -> PlanResult:
    """A collision-free joint path from q_start to q_goal within [lower, upper], checked every motion_step rad.

    Tries the straight segment first (always by `valid`); otherwise RRTConnect (seeded, stops at the first
    solution within `timeout` s), then deterministic shortcutting, then re-verifies every returned segment. With
    a probe, motions around obstacles are checked by _Checks instead, keeping `keep` m from the cell (valid
    must then mean: keep + thin/2 from the cell and clear of itself). A Generator as `seed` is drawn from only
    when OMPL is needed.
    """
    t0 = time.perf_counter()
    q_start, q_goal = np.array(q_start, float), np.array(q_goal, float)
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    n = len(q_start)
    if not (q_goal.shape == lower.shape == upper.shape == (n,)) or len(levers) != n:
        raise ValueError(f"plan_path: start, goal, lower, upper and levers must all have length {n}")
    if not np.all(lower < upper):
        j = int(np.argmin(upper - lower))
        raise ValueError(f"plan_path: joint {j + 1} has lower limit {lower[j]} >= upper limit {upper[j]}")
    step = motion_step(levers, thin)
    straight = _Checks(valid, levers, thin, None, keep)
    checks = straight

    planned = False

    def fail(reason: str) -> PlanResult:
        return PlanResult(False, None, reason, planning_time=time.perf_counter() - t0, checks=checks.checks,
                          planned=planned)

    for which, q in (("start", q_start), ("goal", q_goal)):
        if reason := _limits_reason(which, q, lower, upper):
            return fail(reason)
    if not straight.state(q_start):
        return fail("the start configuration is in collision; jog the robot clear (or check the cell model and "
                    "any attached part) before planning")
    if not straight.state(q_goal):
        return fail("the goal configuration is in collision; choose another goal (or IK solution), or check the "
                    "cell model for an obstacle at the target")

    if straight.motion(q_start, q_goal):
        path = np.stack([q_start, q_goal])
        length = path_length(path)
        return PlanResult(True, path, raw_length=length, length=length,
                          planning_time=time.perf_counter() - t0, checks=checks.checks)

    # --- OMPL: every object below is created after the seed is set, so every RNG it draws is reproducible
    planned = True
    if probe is not None:
        checks = _Checks(valid, levers, thin, probe, keep)
        checks.checks = straight.checks
    ou.setLogLevel(ou.LOG_NONE)
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(1, 2**31))
    seed_ = int(seed) % (2**31 - 1) + 1  # OMPL rejects 0
    ou.RNG.setSeed(seed_)  # re-seeds OMPL's global seed generator (it logs a misleading error, silenced above)
    space = ob.RealVectorStateSpace(n)
    bounds = ob.RealVectorBounds(n)
    for j in range(n):
        bounds.setLow(j, float(lower[j]))
        bounds.setHigh(j, float(upper[j]))
    space.setBounds(bounds)
    si = ob.SpaceInformation(space)
    dims = range(n)

    def vec(state: ob.State) -> np.ndarray:
        return np.array([state[i] for i in dims])

    si.setStateValidityChecker(lambda state: checks.state(vec(state)))
    if probe is None:
        # OMPL's discrete motion validator steps at most fraction * maximum extent; stay just under `step`
        fraction = min(step / space.getMaximumExtent() * (1.0 - 1e-9), 0.999)
        si.setStateValidityCheckingResolution(fraction)
    else:
        si.setMotionValidator(_MotionValidator(si, lambda a, b: checks.motion(vec(a), vec(b))))
    si.setup()
    if probe is None:
        checks.step = space.getLongestValidSegmentLength()  # our checks then sample OMPL's states, memoised
        assert checks.step <= step, (checks.step, step)

    ss = og.SimpleSetup(si)
    start, goal = si.allocState(), si.allocState()
    for j in dims:
        start[j], goal[j] = float(q_start[j]), float(q_goal[j])
    ss.setStartAndGoalStates(start, goal)
    planner = og.RRTConnect(si)
    planner.setRange(PLAN_RANGE)
    ss.setPlanner(planner)
    # RRTConnect returns at its first solution, so a found path never depends on wall time; only whether one is
    # found before the deadline does.
    ss.solve(ob.timedPlannerTerminationCondition(float(timeout)))
    if not ss.haveExactSolutionPath():
        return fail(f"no collision-free path found in {timeout:g} s (RRTConnect); the goal may be enclosed or the "
                    f"passage narrower than the arm: check the obstacles around the goal and along the way, or "
                    f"try a different goal configuration")

    ompl_path = ss.getSolutionPath()

    def waypoints() -> np.ndarray:
        return np.array([vec(ompl_path.getState(i)) for i in range(ompl_path.getStateCount())])

    raw = waypoints()
    # OMPL's reduceVertices only joins existing vertices, so each new segment was checked exactly as
    # the motion check checks it. (OMPL's partialShortcutPath is not used: it keeps sub-segments of checked
    # segments, which sample different states and can graze an obstacle between the original samples.)
    og.PathSimplifier(si).reduceVertices(ompl_path)
    path = waypoints()
    path[0], path[-1] = q_start, q_goal  # OMPL copies the ends exactly; this only guards against round-off

    path = _shortcut(path, checks.motion, np.random.default_rng(seed_), SHORTCUT_ATTEMPTS, SHORTCUT_PATIENCE)
    path = _reduce_vertices(path, checks.motion)

    # belt and braces: every returned segment, checked as the motion check checks it
    for i in range(len(path) - 1):
        if not checks.motion(path[i], path[i + 1]):
            return fail(f"the planned path failed re-verification on segment {i + 1} of {len(path) - 1}; this is "
                        f"a planner bug: report it with the query and seed {seed}")

    return PlanResult(True, path, raw_length=path_length(raw), length=path_length(path),
                      planning_time=time.perf_counter() - t0, checks=checks.checks, planned=True)


class _MotionValidator(ob.MotionValidator):
    """OMPL's motion checks, answered by a Python function of the two states."""

    def __init__(self, si: ob.SpaceInformation, check: Callable[[ob.State, ob.State], bool]):
        super().__init__(si)
        self._check = check

    def checkMotion(self, s1: ob.State, s2: ob.State) -> bool:  # noqa: N802 (OMPL's name)
        return self._check(s1, s2)


def _shortcut(path: np.ndarray, free: Callable[[np.ndarray, np.ndarray], bool], rng: np.random.Generator,
              attempts: int, patience: int, snap: float = 0.005) -> np.ndarray:
    """Partial shortcutting: join two random points of the path (by arc length) when that is free and shorter.

    Unlike OMPL's version, the two kept pieces of the cut segments are checked too, so every segment of the
    result has passed `free` itself. A fixed number of attempts (no clock) keeps the result reproducible.
    """
    pts = [np.asarray(q, float) for q in path]
    idle = 0
    for _ in range(attempts):
        if idle >= patience or len(pts) < 3:
            break
        idle += 1
        cum = np.concatenate([[0.0], np.cumsum([np.linalg.norm(b - a) for a, b in zip(pts[:-1], pts[1:])])])
        total, tol = float(cum[-1]), snap * float(cum[-1])
        s0, s1 = sorted(rng.uniform(0.0, total, 2))
        ends = []  # per point: (state, arc position, index of its vertex or None, segment index if interior)
        for s in (s0, s1):
            i = min(int(np.searchsorted(cum, s, side="right")) - 1, len(pts) - 2)
            if s - cum[i] <= tol:
                ends.append((pts[i], cum[i], i, None))
            elif cum[i + 1] - s <= tol:
                ends.append((pts[i + 1], cum[i + 1], i + 1, None))
            else:
                w = (s - cum[i]) / (cum[i + 1] - cum[i])
                ends.append((pts[i] + (pts[i + 1] - pts[i]) * w, s, None, i))
        (p0, a0, v0, i0), (p1, a1, v1, i1) = ends
        first = v0 + 1 if v0 is not None else i0 + 1  # first vertex the shortcut would remove
        last = v1 - 1 if v1 is not None else i1  # last vertex it would remove
        if first > last or np.linalg.norm(p1 - p0) >= (a1 - a0) - 1e-12:
            continue
        if not free(p0, p1):
            continue
        if v0 is None and not free(pts[i0], p0):
            continue
        if v1 is None and not free(p1, pts[i1 + 1]):
            continue
        head = pts[:first] if v0 is not None else pts[:first] + [p0]
        tail = pts[last + 1:] if v1 is not None else [p1] + pts[last + 1:]
        pts = head + tail
        idle = 0
    return np.array(pts)


def _reduce_vertices(path: np.ndarray, free: Callable[[np.ndarray, np.ndarray], bool]) -> np.ndarray:
    """Greedy vertex removal: from each kept vertex, jump to the farthest later vertex reachable in a free line."""
    out, i, last = [path[0]], 0, len(path) - 1
    while i < last:
        j = last
        while j > i + 1 and not free(path[i], path[j]):
            j -= 1
        out.append(path[j])
        i = j
    return np.array(out)
