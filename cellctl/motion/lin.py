"""Cartesian moves: LIN (a straight line) and CIRC (a circular arc through a via point) at a programmed TCP
speed, orientation slerped, solved by IK at knots fine enough that the TCP stays within 0.1 mm of the ideal
path, then timed along the path under the joints' speed and acceleration limits."""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.spatial.transform import Rotation, Slerp
from spatialmath import SE3

from cellctl.errors import PlanningError
from cellctl.kinematics.arm import Arm
from cellctl.model.geometry import circle
from cellctl.motion.ptp import ruckig_profile, sample_profile
from cellctl.motion.trajectory import JointTrajectory

ROT_SPEED = 1.0  # rad/s: the TCP's turning speed on a Cartesian move, beside its linear speed
LIN_ACCEL = 1.0  # m/s^2 along the path
PROCESS_ROT_ACCEL = 50.0  # rad/s^2 of TCP turning a process move may start and stop with (the joints' limits still hold)
PATH_TOL = 1e-4  # m: the TCP stays this close to the ideal path at every commanded sample
ANGLE_TOL = np.radians(0.05)  # rad: and its orientation this close to the ideal one
KNOT_STEP = 0.01  # m between IK knots before refinement
POLYLINE_KNOT_STEP = 0.0005  # m between them on a seam with rounded corners
KNOT_TURN = np.radians(2.0)  # rad between IK knots before refinement
FLIP = 0.35  # rad: a joint turning this much while the TCP moves one knot step is a flip or a singularity
MIN_SCALE = 0.05  # a move that must slow below this fraction of its programmed speed is at a singularity
MAX_REFINE = 12  # knot halvings before a segment is declared impossible

PoseAt = Callable[[np.ndarray], np.ndarray]  # path fraction s (k,) -> world TCP poses (k, 4, 4)


def lin(arm: Arm, q0: np.ndarray, T_goal: SE3, speed: float, dt: float, rng: np.random.Generator | None = None,
        slowdown: bool = True) -> JointTrajectory:
    """A straight-line TCP move from fk(q0) to T_goal at `speed` m/s.

    With slowdown the whole move runs slower where joint speed limits demand it; without (a weld traverse, whose
    speed is the process) it fails and says what speed the arm could do. Raises PlanningError naming the reason
    (reach, joint limits, singularity, speed).
    """
    q0 = np.asarray(q0, float)
    A0, A1 = arm.fk(q0).A, SE3(T_goal).A
    length = float(np.linalg.norm(A1[:3, 3] - A0[:3, 3]))

    def positions(s: np.ndarray) -> np.ndarray:
        return A0[:3, 3] + s[:, None] * (A1[:3, 3] - A0[:3, 3])

    return _cartesian(arm, q0, positions, _slerp(A0, A1), length, _turn(A0, A1), speed, dt, rng, slowdown, "LIN")


def circ(arm: Arm, q0: np.ndarray, T_via: SE3, T_goal: SE3, speed: float, dt: float,
         rng: np.random.Generator | None = None, slowdown: bool = True) -> JointTrajectory:
    """A circular TCP move from fk(q0) through the position of T_via to T_goal at `speed` m/s; the orientation
    turns from the start's to the goal's (the via point fixes the circle, not the orientation)."""
    q0 = np.asarray(q0, float)
    A0, A1 = arm.fk(q0).A, SE3(T_goal).A
    p0, p1, p2 = A0[:3, 3], SE3(T_via).t, A1[:3, 3]
    try:
        centre, radius, u, v, sweep = circle(p0, p1, p2)
    except ValueError as exc:
        why = {"the middle point is the first": "the via point is where the move starts",
               "the last point is the first": "the goal is where the move starts (a full circle is two CIRC moves)",
               "the last point is the middle one": "the goal is the via point"}.get(str(exc), "the via point lies on the line from start to goal; use LIN")
        raise PlanningError(f"CIRC needs three distinct points not on one line: {why}", check="reach") from None

    def positions(s: np.ndarray) -> np.ndarray:
        a = s * sweep
        return centre + radius * (np.cos(a)[:, None] * u + np.sin(a)[:, None] * v)

    return _cartesian(arm, q0, positions, _slerp(A0, A1), radius * sweep, _turn(A0, A1), speed, dt, rng, slowdown, "CIRC")


def _turn(A0: np.ndarray, A1: np.ndarray) -> float:
    """The angle (rad) between two orientations (rotation matrices or poses)."""
    return float(np.linalg.norm(Rotation.from_matrix(A0[:3, :3].T @ A1[:3, :3]).as_rotvec()))


def _slerp(A0: np.ndarray, A1: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """s -> the orientations turning uniformly from A0's to A1's."""
    slerp = Slerp([0.0, 1.0], Rotation.from_matrix(np.stack([A0[:3, :3], A1[:3, :3]])))
    return lambda s: slerp(np.clip(s, 0.0, 1.0)).as_matrix()


def polyline(arm: Arm, q0: np.ndarray, goals: list[SE3], speed: float, dt: float, rng: np.random.Generator | None = None,
             blend: Callable[[float], float] = lambda turn: 0.005, rounding: float = 0.0003) -> JointTrajectory:
    """One move at `speed` m/s from fk(q0) through the positions of goals[1:] without stopping, each leg at its own
    orientation (goals[k] for the leg from point k; the last goal's orientation is not used): each corner is
    rounded by an arc tangent to both legs that leaves the corner by at most `rounding` m, and the orientation turns
    from one leg's to the next's over blend(turn) m either side of it (turn: rad between the legs' orientations; at
    most a third of either leg). The speed is the process (a weld traverse): a path the joints cannot follow at it
    fails, saying what speed it allows."""
    q0 = np.asarray(q0, float)
    A0 = arm.fk(q0).A
    pts = np.array([A0[:3, 3]] + [SE3(g).t for g in goals[1:]])
    Rs = [A0[:3, :3]] + [SE3(g).R for g in goals[1:-1]]  # leg k's orientation
    dirs = np.diff(pts, axis=0)
    legs = np.linalg.norm(dirs, axis=1)
    dirs = dirs / legs[:, None]
    # the path as pieces: ("line", a, b) or ("arc", centre, radius, u, v, sweep), each with its length
    pieces, corners = [], []
    start = pts[0]
    for k in range(1, len(pts)):
        if k == len(pts) - 1:
            pieces.append(("line", start, pts[k]))
            break
        phi = float(np.arccos(np.clip(dirs[k - 1] @ dirs[k], -1, 1)))  # how far the path turns at point k
        if phi < 1e-6:
            continue
        if phi > np.pi - 1e-3:
            raise PlanningError(f"the seam turns back on itself at its point {k + 1}: no torch can follow that; make "
                                f"it two seams", check="reach")
        radius = rounding / (1 / np.cos(phi / 2) - 1)
        cut = min(radius * np.tan(phi / 2), legs[k - 1] / 3, legs[k] / 3)
        radius = cut / np.tan(phi / 2)
        a, b = pts[k] - cut * dirs[k - 1], pts[k] + cut * dirs[k]
        pieces.append(("line", start, a))
        normal_in = dirs[k] - (dirs[k] @ dirs[k - 1]) * dirs[k - 1]  # across the first leg, into the turn
        centre = a + radius * normal_in / np.linalg.norm(normal_in)
        u, w = (a - centre) / radius, (b - centre) / radius
        v = w - (w @ u) * u
        v /= np.linalg.norm(v)
        pieces.append(("arc", centre, radius, u, v, phi))
        corners.append((k, cut))
        start = b
    lengths = np.array([np.linalg.norm(p[2] - p[1]) if p[0] == "line" else p[2] * p[5] for p in pieces])
    ends = np.cumsum(lengths)
    length = float(ends[-1])
    # where each corner is along the path (its arc's middle) and how far either side the orientation turns
    turns, where = [], np.concatenate([[0.0], ends])
    i = 0
    for k, cut in corners:
        while pieces[i][0] != "arc":
            i += 1
        mid = where[i] + lengths[i] / 2
        b = min(blend(_turn(Rs[k - 1], Rs[k])), legs[k - 1] / 3, legs[k] / 3)
        turns.append((mid - b, mid + b, Slerp([0.0, 1.0], Rotation.from_matrix(np.stack([Rs[k - 1], Rs[k]])))))
        i += 1
    turn = sum(_turn(Rs[k - 1], Rs[k]) for k, _ in corners)

    def positions(s: np.ndarray) -> np.ndarray:
        d = np.clip(s, 0.0, 1.0) * length
        out = np.empty((len(d), 3))
        idx = np.minimum(np.searchsorted(ends, d), len(pieces) - 1)
        for j, p in enumerate(pieces):
            m = idx == j
            if not m.any():
                continue
            f = (d[m] - where[j]) / max(lengths[j], 1e-12)
            if p[0] == "line":
                out[m] = p[1] + f[:, None] * (p[2] - p[1])
            else:
                ang = f * p[5]
                out[m] = p[1] + p[2] * (np.cos(ang)[:, None] * p[3] + np.sin(ang)[:, None] * p[4])
        return out

    mids = np.array([(lo + hi) / 2 for lo, hi, _ in turns])
    after = [Rs[0]] + [Rs[k] for k, _ in corners]  # the orientation once 0, 1, 2 ... corners are passed

    def rotations(s: np.ndarray) -> np.ndarray:
        d = np.clip(s, 0.0, 1.0) * length
        out = np.array([after[n] for n in np.searchsorted(mids, d, side="right")])
        for lo, hi, slerp in turns:
            m = (d >= lo) & (d <= hi)
            if m.any():
                f = (d[m] - lo) / (hi - lo)
                out[m] = slerp(f ** 3 * (10 - 15 * f + 6 * f ** 2)).as_matrix()  # starting and ending its turn gently
        return out

    # knots close enough that the spline through them follows the rounded corners smoothly (sparse knots beside
    # dense ones at a corner would make the joints' accelerations ring there)
    return _cartesian(arm, q0, positions, rotations, length, turn, speed, dt, rng, False, "seam", POLYLINE_KNOT_STEP)


def _cartesian(arm: Arm, q0: np.ndarray, positions: Callable[[np.ndarray], np.ndarray],
               rotations: Callable[[np.ndarray], np.ndarray], length: float, turn: float, speed: float, dt: float,
               rng: np.random.Generator | None, slowdown: bool, what: str, knot_step: float = KNOT_STEP) -> JointTrajectory:
    """A Cartesian move along positions(s) and rotations(s), s from 0 to 1 (`length` m and `turn` rad in all), with
    IK knots at most knot_step m apart before refinement."""
    if length < 1e-6 and turn < 1e-6:
        return JointTrajectory.hold(q0)

    def pose_at(s: np.ndarray) -> np.ndarray:
        out = np.tile(np.eye(4), (len(s), 1, 1))
        out[:, :3, :3] = rotations(s)
        out[:, :3, 3] = positions(s)
        return out

    knots, qs = _solve_knots(arm, q0, pose_at, length, turn, rng, what, knot_step)
    spline = CubicSpline(knots, qs, bc_type="clamped" if len(knots) > 2 else "not-a-knot")
    # ds/dt and its rate: the TCP's speed along the path, its turning held to ROT_SPEED; where the speed is the
    # process (a weld), the turning follows the path as fast as the speed asks and only the joints' limits bound it
    process = not slowdown and length > 1e-6
    rate = min(speed / length if length > 1e-6 else np.inf, ROT_SPEED / turn if turn > 1e-6 and not process else np.inf)
    accel = min(LIN_ACCEL / length if length > 1e-6 else np.inf,
                (PROCESS_ROT_ACCEL if process else 2 * ROT_SPEED) / turn if turn > 1e-6 else np.inf)
    # the joints' speed limits along the path bound ds/dt: |dq_j/ds| * ds/dt <= v_j
    s_fine = np.linspace(0.0, 1.0, max(200, 4 * len(knots)))
    dq_ds = np.abs(spline(s_fine, 1))
    need = np.max(dq_ds / arm.limits.velocity, axis=1)  # (1/s per unit ds/dt) at each s
    worst = int(np.argmax(need))
    limit_rate = 1.0 / need[worst] if need[worst] > 0 else np.inf
    if limit_rate < rate:
        j = int(np.argmax(dq_ds[worst] / arm.limits.velocity))
        at = f"{s_fine[worst] * length * 1000:.0f} mm along the {what}"
        can = limit_rate * length * 1000 if length > 1e-6 else limit_rate * turn
        if not slowdown:
            raise PlanningError(
                f"{what} too fast for the arm: at {speed * 1000:.0f} mm/s joint {j + 1} ({arm.joint_names[j]}) would turn "
                f"{np.degrees(dq_ds[worst, j] * rate):.0f} deg/s {at}, above its limit of "
                f"{np.degrees(arm.limits.velocity[j]):.0f} deg/s; this path allows at most {can:.1f} mm/s", check="velocity_limits")
        if limit_rate < MIN_SCALE * rate:
            raise PlanningError(f"{what} passes a singularity {at}: joint {j + 1} ({arm.joint_names[j]}) would have to turn "
                                f"{np.degrees(dq_ds[worst, j] * rate):.0f} deg/s at the programmed speed; move the target "
                                f"or use a PTP move", check="reach")
        rate = 0.98 * limit_rate
    for _ in range(6):
        traj, s = _timed(spline, rate, accel, dt)
        over = float(np.max(np.abs(traj.qdd) / arm.max_accel))
        if over <= 1.0:
            break
        accel /= over * 1.05  # speeding up and slowing down more gently keeps the path and the cruise speed
    if over > 1.0 and not slowdown and length > 1e-6:
        # the path's own bends ask more of a joint than it has at this speed, however gently the move starts
        k, j = np.unravel_index(np.argmax(np.abs(traj.qdd) / arm.max_accel), traj.qdd.shape)
        raise PlanningError(
            f"{what} too fast for the arm: at {speed * 1000:.0f} mm/s joint {j + 1} ({arm.joint_names[j]}) would need "
            f"{abs(traj.qdd[k, j]):.1f} rad/s^2 {s[k] * length * 1000:.0f} mm along the {what}, above its "
            f"{arm.max_accel[j]:.1f} rad/s^2; this path allows about {speed / np.sqrt(over) * 1000:.1f} mm/s",
            check="velocity_limits")
    _verify(arm, traj.q, pose_at, s, what, length)
    return traj


def _solve_knots(arm: Arm, q0: np.ndarray, pose_at: PoseAt, length: float, turn: float,
                 rng: np.random.Generator | None, what: str, knot_step: float = KNOT_STEP) -> tuple[np.ndarray, np.ndarray]:
    """IK along the path, each knot seeded from the one before (no flips), halving any knot interval whose joint
    interpolation leaves the path by more than PATH_TOL / ANGLE_TOL."""
    n0 = int(max(2, np.ceil(length / knot_step), np.ceil(turn / KNOT_TURN))) + 1
    s = np.linspace(0.0, 1.0, n0)
    targets = pose_at(s)
    qs = [q0]
    for i in range(1, n0):
        qs.append(_knot(arm, arm.base_flange(targets[i]), qs[-1], s[i], length, rng, what))
    knots, q = list(s), qs
    for _ in range(MAX_REFINE):
        k = np.array(knots)
        probes = (k[:-1, None] + np.array([0.25, 0.5, 0.75]) * np.diff(k)[:, None]).ravel()
        spline = CubicSpline(k, np.array(q), bc_type="clamped" if len(k) > 2 else "not-a-knot")
        bad = _off_path(arm, spline(probes), pose_at(probes), 0.5).reshape(-1, 3).any(axis=1)
        if not bad.any():
            return k, np.array(q)
        new_k, new_q = [knots[0]], [q[0]]
        for i in range(len(bad)):
            if bad[i]:
                m = (knots[i] + knots[i + 1]) / 2
                new_k.append(m)
                new_q.append(_knot(arm, arm.base_flange(pose_at(np.array([m]))[0]), new_q[-1], m, length, rng, what))
            new_k.append(knots[i + 1])
            new_q.append(q[i + 1])
        knots, q = new_k, new_q
    raise PlanningError(f"{what} cannot follow its path within {PATH_TOL * 1000:.1f} mm: the arm is at a singularity "
                        f"on the way; move the target or use a PTP move", check="reach")


def _knot(arm: Arm, T_base_flange: np.ndarray, prev: np.ndarray, s: float, length: float,
          rng: np.random.Generator | None, what: str) -> np.ndarray:
    at = f"{s * length * 1000:.0f} mm along the {what}"
    res = arm.ik_base(T_base_flange, prev, rng=rng, restarts=0)
    if not res.success:
        res = arm.ik_base(T_base_flange, prev, rng=rng)
    if not res.success:
        raise PlanningError(f"{what} stops {at}: {res.reason}", check="reach")
    if np.max(np.abs(res.q - prev)) > FLIP:
        margin = arm.reach_margin(T_base_flange)
        if margin < 0.05:
            raise PlanningError(f"{what} runs out of reach {at}: the arm is stretched out ({margin * 1000:.0f} mm from the "
                                f"edge of its reach)", check="reach")
        jump = res.q - prev
        j = int(np.argmax(np.abs(jump)))
        wrapped = prev[j] + jump[j] - np.sign(jump[j]) * 2 * np.pi  # the same angle a turn the other way
        if abs(wrapped - prev[j]) <= FLIP and not arm.limits.lower[j] <= wrapped <= arm.limits.upper[j]:
            lim = arm.limits.upper[j] if wrapped > arm.limits.upper[j] else arm.limits.lower[j]
            raise PlanningError(f"{what} would wind joint {j + 1} ({arm.joint_names[j]}) past its limit of "
                                f"{np.degrees(lim):.0f} deg {at} (it stands at {np.degrees(prev[j]):.0f} deg); unwind it "
                                f"before this move, or turn the other way", check="joint_limits")
        raise PlanningError(f"{what} passes a singularity or needs a configuration flip {at}; move the target or use a "
                            f"PTP move", check="reach")
    return res.q


def _off_path(arm: Arm, q: np.ndarray, ideal: np.ndarray, share: float = 1.0) -> np.ndarray:
    """For each joint configuration, whether its TCP is off the ideal pose by more than `share` of the tolerances."""
    actual = np.array([arm.fk_matrix(qi) for qi in q])
    dp = np.linalg.norm(actual[:, :3, 3] - ideal[:, :3, 3], axis=1)
    cos = (np.einsum("kij,kij->k", actual[:, :3, :3], ideal[:, :3, :3]) - 1) / 2
    da = np.arccos(np.clip(cos, -1.0, 1.0))
    return (dp > share * PATH_TOL) | (da > share * ANGLE_TOL)


def _timed(spline: CubicSpline, rate: float, accel: float, dt: float) -> tuple[JointTrajectory, np.ndarray]:
    """The path timed by a jerk-limited ruckig profile of its parameter s (and s at each sample); joint velocity
    and acceleration by the chain rule: qd = q' s_dot, qdd = q'' s_dot^2 + q' s_ddot."""
    t, s, sd, sdd = sample_profile(ruckig_profile(np.zeros(1), np.ones(1), [rate], [accel]), dt)
    s, sd, sdd = np.clip(s[:, 0], 0.0, 1.0), sd[:, 0], sdd[:, 0]
    s[-1], sd[-1], sdd[-1] = 1.0, 0.0, 0.0
    q1, q2 = spline(s, 1), spline(s, 2)
    q = spline(s)
    return JointTrajectory(t, q, q1 * sd[:, None], q2 * sd[:, None] ** 2 + q1 * sdd[:, None]), s


def _verify(arm: Arm, q: np.ndarray, pose_at: PoseAt, s: np.ndarray, what: str, length: float) -> None:
    """Every commanded sample within tolerance of the ideal path (the knots guarantee it; this proves it)."""
    bad = np.flatnonzero(_off_path(arm, q, pose_at(s)))
    if bad.size:
        raise PlanningError(f"{what} leaves its path by more than {PATH_TOL * 1000:.1f} mm at "
                            f"{s[bad[0]] * length * 1000:.0f} mm along; the arm is near a singularity there", check="reach")
