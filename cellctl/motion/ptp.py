"""PTP moves: time-optimal, jerk-limited joint motions under velocity and acceleration limits (ruckig)."""

from __future__ import annotations

import numpy as np
from ruckig import InputParameter, Result, Ruckig, Trajectory

from cellctl.errors import PlanningError
from cellctl.motion.trajectory import JointTrajectory

JERK_PER_ACCEL = 10.0  # 1/s: jerk limit as a multiple of the acceleration limit


def ruckig_profile(q0: np.ndarray, q1: np.ndarray, vmax: np.ndarray, amax: np.ndarray,
                   jmax: np.ndarray | None = None) -> Trajectory:
    """Ruckig's time-optimal synchronised profile from rest at q0 to rest at q1."""
    n = len(q0)
    inp = InputParameter(n)
    inp.current_position, inp.target_position = list(map(float, q0)), list(map(float, q1))
    inp.current_velocity = inp.current_acceleration = [0.0] * n
    inp.target_velocity = inp.target_acceleration = [0.0] * n
    inp.max_velocity = list(map(float, vmax))
    inp.max_acceleration = list(map(float, amax))
    inp.max_jerk = list(map(float, jmax if jmax is not None else JERK_PER_ACCEL * np.asarray(amax)))
    traj = Trajectory(n)
    result = Ruckig(n).calculate(inp, traj)
    if result not in (Result.Working, Result.Finished):
        raise PlanningError(f"time scaling failed ({result}) for a move of {n} axes")
    return traj


def sample_profile(traj: Trajectory, dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sample a ruckig trajectory every dt seconds, ending exactly at its duration."""
    duration = traj.duration
    t = np.arange(0.0, duration, dt) if duration > 0 else np.zeros(1)
    t = np.append(t, duration) if duration > 0 else t
    rows = [traj.at_time(float(ti)) for ti in t]
    q = np.array([r[0] for r in rows], float)
    qd = np.array([r[1] for r in rows], float)
    qdd = np.array([r[2] for r in rows], float)
    return t, q, qd, qdd


def ptp(q0: np.ndarray, q1: np.ndarray, vmax: np.ndarray, amax: np.ndarray, dt: float) -> JointTrajectory:
    """Point-to-point joint move from rest to rest along the straight joint-space line, as fast as the limits
    allow, sampled every dt. One jerk-limited ruckig profile of the distance along the line drives every joint
    in proportion (phase synchronisation), so the arm stays on the segment a planner checked; ruckig's
    per-joint time synchronisation would bend off it by up to 0.2 rad."""
    q0, q1 = np.asarray(q0, float), np.asarray(q1, float)
    d = q1 - q0
    length = float(np.linalg.norm(d))
    if length < 1e-12:
        return JointTrajectory.hold(q1)
    u = d / length
    au = np.abs(u)
    nz = au > 1e-12
    v_s = float(np.min(np.asarray(vmax, float)[nz] / au[nz]))  # the path speed at which the first joint hits its limit
    a_s = float(np.min(np.asarray(amax, float)[nz] / au[nz]))
    t, s, sd, sdd = sample_profile(ruckig_profile(np.zeros(1), np.array([length]), [v_s], [a_s]), dt)
    s[-1], sd[-1], sdd[-1] = length, 0.0, 0.0
    q = q0 + s * u
    q[-1] = q1
    return JointTrajectory(t, q, sd * u, sdd * u)
