"""Retiming of multi-waypoint joint paths under joint velocity and acceleration limits.

Two cases (see `retime_path`):

* exact (blend=False): the arm follows the piecewise-linear joint path through the waypoints exactly, as a
  planner that checked those straight segments for collisions needs. A piecewise-linear path has a corner
  at every interior waypoint where its direction jumps, and the joint velocity (direction x path speed)
  can only stay continuous across the corner if the path speed is zero there: the arm must stop. Each
  segment is therefore a rest-to-rest move, a jerk-limited time-optimal ruckig profile of the path
  parameter (so every joint moves in proportion and the arm stays on the segment).
* fly-by (blend=True): every corner is rounded by a parabolic blend whose deviation from the polyline is
  bounded by `blend_radius`, and toppra parametrises the whole smooth path time-optimally from rest to rest,
  so the arm does not stop at the interior waypoints.
"""

from __future__ import annotations

import numpy as np
import toppra as ta
import toppra.algorithm as talgo
import toppra.constraint as tconstr

from cellctl.errors import PlanningError
from cellctl.motion.ptp import ptp
from cellctl.motion.trajectory import JointTrajectory, concat

BLEND_RADIUS = 0.05  # rad: default bound on how far a fly-by path strays from the polyline (joint-space norm)
GRID_STEP = 0.1  # rad of path length between gridpoints on lines (0.005 instead shortens by < 0.2%, 10x the cost)
GRID_MIN, GRID_MAX = 50, 3000  # gridpoint count bounds (whole path)
BLEND_INTERVALS = 16  # toppra grid intervals inside each corner blend (where the curvature is)
VEL_MARGIN = 0.999  # toppra meets the velocity limit at gridpoints; inside a blend it may rise by ~1e-7
SPLIT = 1e-9  # rad: gridpoints either side of a curvature jump (see _gridpoints)
MIN_SEGMENT = 1e-9  # rad: waypoints closer than this are merged


def retime_path(waypoints: np.ndarray, vmax: np.ndarray, amax: np.ndarray, dt: float, blend: bool = False,
                blend_radius: float = BLEND_RADIUS) -> JointTrajectory:
    """Time-optimal rest-to-rest motion along the joint path through `waypoints` (m, n), sampled every dt.

    blend=False: the straight joint segments are followed exactly, stopping at every interior waypoint
    (a corner of a piecewise-linear path can only be passed at rest); each segment is jerk-limited.
    blend=True: fly-by. Every corner is replaced by a parabolic blend and toppra retimes the path without
    stops. Guarantee: every point of the path is within `blend_radius` (Euclidean joint-space norm, rad,
    so also per joint) of the polyline, and the path passes within `blend_radius` of every interior
    waypoint. A blend never takes more than half of either adjacent segment, so a short segment gives a
    tighter blend. A full reversal (a segment that goes straight back) still stops at its tip.
    toppra's parametrisation has no jerk limit (piecewise-constant path acceleration).

    The result starts exactly at waypoints[0] and ends exactly at waypoints[-1], at rest at both ends, and
    respects vmax and amax at every sample. Deterministic. blend_radius=0 means the exact path.
    """
    if blend_radius < 0:
        raise PlanningError("blend_radius must be >= 0")
    W = _clean(waypoints)
    vmax, amax = np.asarray(vmax, float), np.asarray(amax, float)
    if W.shape[0] == 1:
        return JointTrajectory.hold(W[0])
    if blend and blend_radius > 0:
        return _retime_blended(W, vmax, amax, dt, blend_radius)
    return _retime_exact(W, vmax, amax, dt)


def _clean(waypoints: np.ndarray) -> np.ndarray:
    """The waypoints as a float array without consecutive duplicates."""
    W = np.atleast_2d(np.asarray(waypoints, float))
    if W.ndim != 2 or W.shape[0] == 0:
        raise PlanningError("retime_path needs an (m, n) array of waypoints")
    keep = [0] + [i for i in range(1, len(W)) if np.linalg.norm(W[i] - W[i - 1]) > MIN_SEGMENT]
    W = W[keep]
    if np.linalg.norm(np.asarray(waypoints, float)[-1] - W[-1]) > 0:
        W[-1] = np.asarray(waypoints, float)[-1]  # end exactly at the last waypoint given
    return W


# ---------------------------------------------------------------------------------------------- exact path
def _retime_exact(W: np.ndarray, vmax: np.ndarray, amax: np.ndarray, dt: float) -> JointTrajectory:
    """Rest-to-rest segments, each a `ptp` move: one profile along the segment keeps every joint in
    proportion, so the arm stays exactly on the segment that was checked."""
    return concat([ptp(a, b, vmax, amax, dt) for a, b in zip(W[:-1], W[1:])])


class BlendedPath(ta.interpolator.AbstractGeometricPath):
    """A polyline with parabolic corner blends, as toppra's geometric path q(s).

    Each piece k is a quadratic q = c0 + c1*x + c2*x^2 in x = s - s_k: a line has c1 = its unit direction
    and c2 = 0; the blend at corner P between unit directions u1, u2 with leg d runs from A = P - d*u1 to
    P + d*u2 as the quadratic Bezier (A, P, C) with s = 2*d*bezier parameter, so dq/ds is continuous
    (u1 in, u2 out) and d2q/ds2 = (u2 - u1) / (2d) inside the blend. The blend's largest distance from
    P is d*sin(theta/2)/2 at its middle (theta the turning angle), which bounds its distance from the
    polyline too.
    """

    def __init__(self, W: np.ndarray, radius: float):
        seg = np.diff(W, axis=0)
        L = np.linalg.norm(seg, axis=1)
        U = seg / L[:, None]
        m = len(W)
        legs = np.zeros(m)
        for k in range(1, m - 1):
            c = float(np.clip(U[k - 1] @ U[k], -1.0, 1.0))
            half = np.sqrt((1.0 - c) / 2.0)  # sin(theta/2)
            if half > 1e-9:
                legs[k] = min(2.0 * radius / half, L[k - 1] / 2.0, L[k] / 2.0)
        pieces, kinds = [], []  # (start s, c0, c1, c2), "line" | "blend"
        for k in range(m - 1):
            start = W[k] + legs[k] * U[k]
            line_len = L[k] - legs[k] - legs[k + 1]
            if line_len > 1e-12:
                pieces.append((line_len, start, U[k], np.zeros_like(U[k])))
                kinds.append("line")
            if k + 1 < m - 1 and legs[k + 1] > 0:
                d = legs[k + 1]
                pieces.append((2.0 * d, W[k + 1] - d * U[k], U[k], (U[k + 1] - U[k]) / (4.0 * d)))
                kinds.append("blend")
        lengths = np.array([p[0] for p in pieces])
        self.breaks = np.concatenate([[0.0], np.cumsum(lengths)])
        self.c0 = np.array([p[1] for p in pieces])
        self.c1 = np.array([p[2] for p in pieces])
        self.c2 = np.array([p[3] for p in pieces])
        self.kinds = kinds
        self.legs = legs
        self.end = W[-1]
        self._dof = W.shape[1]

    @property
    def dof(self) -> int:
        return self._dof

    @property
    def path_interval(self) -> np.ndarray:
        return np.array([0.0, self.breaks[-1]])

    def __call__(self, path_positions, order: int = 0) -> np.ndarray:
        s = np.asarray(path_positions, float)
        scalar = s.ndim == 0
        s = np.atleast_1d(s)
        k = np.clip(np.searchsorted(self.breaks, s, side="right") - 1, 0, len(self.c0) - 1)
        x = (s - self.breaks[k])[:, None]
        if order == 0:
            out = self.c0[k] + self.c1[k] * x + self.c2[k] * x * x
        elif order == 1:
            out = self.c1[k] + 2.0 * self.c2[k] * x
        elif order == 2:
            out = 2.0 * self.c2[k]
        else:
            raise ValueError(f"order {order} is not supported")
        return out[0] if scalar else out


def _gridpoints(path: BlendedPath) -> np.ndarray:
    """toppra's grid: uniform on each piece (about GRID_STEP apart, BLEND_INTERVALS in each blend).

    The curvature jumps where a blend meets a line. toppra's interpolation discretisation checks each
    interval's constraints at both of its ends, with the path derivatives at those gridpoints, so a
    gridpoint on a jump would be checked with one side's curvature only; instead each jump gets two
    gridpoints SPLIT apart, each inside its own piece.
    """
    total = path.breaks[-1]
    step = max(GRID_STEP, total / GRID_MAX)
    step = min(step, total / GRID_MIN)
    pts = []
    for k, kind in enumerate(path.kinds):
        a, b = path.breaks[k], path.breaks[k + 1]
        n = BLEND_INTERVALS if kind == "blend" else max(1, int(np.ceil((b - a) / step)))
        g = np.linspace(a, b, n + 1)
        lo = a + SPLIT if k > 0 else a
        hi = b - SPLIT if k < len(path.kinds) - 1 else b
        g[0], g[-1] = lo, hi
        pts.append(g)
    grid = np.concatenate(pts)
    grid[0], grid[-1] = 0.0, total
    return grid


def _retime_blended(W: np.ndarray, vmax: np.ndarray, amax: np.ndarray, dt: float, radius: float) -> JointTrajectory:
    """toppra on the blended path from rest to rest (path velocity at each gridpoint), sampled every dt with
    constant path acceleration between gridpoints (toppra's own model, as its ParametrizeConstAccel, but
    vectorised); qd and qdd come from the path's derivatives, so they are the exact derivatives of q."""
    path = BlendedPath(W, radius)
    grid = _gridpoints(path)
    constraints = [tconstr.JointVelocityConstraint(VEL_MARGIN * vmax),
                   tconstr.JointAccelerationConstraint(amax)]
    algo = talgo.TOPPRA(constraints, path, gridpoints=grid, solver_wrapper="seidel")
    _, sd_grid, _ = algo.compute_parameterization(0.0, 0.0)
    if sd_grid is None or np.any(~np.isfinite(sd_grid)):
        raise PlanningError(f"toppra could not time-parametrise the path ({algo.problem_data.return_code})")
    sd_grid = np.maximum(sd_grid, 0.0)
    sd_grid[0] = sd_grid[-1] = 0.0
    ds = np.diff(grid)
    u = (sd_grid[1:] ** 2 - sd_grid[:-1] ** 2) / (2.0 * ds)  # path acceleration on each interval
    t_grid = np.concatenate([[0.0], np.cumsum(2.0 * ds / (sd_grid[:-1] + sd_grid[1:]))])
    duration = float(t_grid[-1])
    t = np.append(np.arange(0.0, duration, dt), duration)
    if len(t) > 1 and t[-1] - t[-2] < 1e-12:
        t = t[:-1]
        t[-1] = duration
    i = np.clip(np.searchsorted(t_grid, t, side="right") - 1, 0, len(ds) - 1)
    tau = t - t_grid[i]
    s = np.minimum(grid[i] + sd_grid[i] * tau + 0.5 * u[i] * tau * tau, grid[i + 1])
    sd = np.maximum(sd_grid[i] + u[i] * tau, 0.0)
    sdd = u[i]
    dq, ddq = path(s, 1), path(s, 2)
    q = path(s, 0)
    qd = dq * sd[:, None]
    qdd = dq * sdd[:, None] + ddq * (sd * sd)[:, None]
    q[0], q[-1] = W[0], W[-1]
    qd[0] = qd[-1] = 0.0
    return JointTrajectory(t, q, qd, qdd)


def polyline_distance(q: np.ndarray, waypoints: np.ndarray) -> np.ndarray:
    """Distance (joint-space Euclidean norm) of each configuration in q (N, n) from the polyline through
    the waypoints; for checking how far a blended path strays from the path a planner checked."""
    W = np.asarray(waypoints, float)
    best = np.full(len(q), np.inf)
    for a, b in zip(W[:-1], W[1:]):
        d = b - a
        dd = float(d @ d)
        lam = np.clip((q - a) @ d / dd, 0.0, 1.0) if dd > 0 else np.zeros(len(q))
        best = np.minimum(best, np.linalg.norm(q - (a + lam[:, None] * d), axis=1))
    return best
