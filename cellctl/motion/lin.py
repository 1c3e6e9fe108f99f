"""LIN moves: the TCP on a straight line at a programmed speed, orientation slerped, solved by IK densely."""

from __future__ import annotations

import numpy as np
from spatialmath import SE3

from cellctl.errors import PlanningError
from cellctl.kinematics.arm import Arm
from cellctl.motion.ptp import ruckig_profile, sample_profile
from cellctl.motion.trajectory import JointTrajectory

ROT_SPEED = 1.0  # rad/s: the TCP's turning speed on a LIN, beside its linear speed
LIN_ACCEL = 1.0  # m/s^2
MAX_JOINT_STEP = 0.05  # rad per sample: a bigger jump means a flip or a singularity


def lin(arm: Arm, q0: np.ndarray, T_goal: SE3, speed: float, dt: float,
        rng: np.random.Generator | None = None) -> JointTrajectory:
    """A straight-line TCP move from fk(q0) to T_goal, slowed down where joint speed limits demand it.

    Raises PlanningError naming the reason (reach, joint limits, singularity) when no such move exists.
    """
    q0 = np.asarray(q0, float)
    T0 = arm.fk(q0)
    length = float(np.linalg.norm(T_goal.t - T0.t))
    angle = float(np.linalg.norm((T0.inv() * T_goal).angvec()[0]))
    if length < 1e-6 and angle < 1e-6:
        return JointTrajectory.hold(q0)
    scale = 1.0
    for _ in range(4):
        # the path parameter s goes 0..1; its limits follow from the TCP's linear and angular limits
        vmax = scale * min(speed / length if length > 1e-6 else np.inf, ROT_SPEED / angle if angle > 1e-6 else np.inf)
        amax = scale * min(LIN_ACCEL / length if length > 1e-6 else np.inf, 2 * ROT_SPEED / angle if angle > 1e-6 else np.inf)
        t, s, _, _ = sample_profile(ruckig_profile(np.zeros(1), np.ones(1), [vmax], [amax]), dt)
        s = np.clip(s[:, 0], 0.0, 1.0)
        q = np.empty((len(s), arm.n))
        prev = q0
        for i, si in enumerate(s):
            T = T0.interp(T_goal, float(si)) if i < len(s) - 1 else T_goal
            res = arm.ik(T, prev, rng=rng, restarts=0)
            if not res.success:
                res = arm.ik(T, prev, rng=rng)
            if not res.success:
                raise PlanningError(f"LIN stops {si * length * 1000:.0f} mm along the line: {res.reason}")
            if np.max(np.abs(res.q - prev)) > MAX_JOINT_STEP:
                if arm.reach_margin(T) < 0.05:
                    raise PlanningError(f"LIN runs out of reach {si * length * 1000:.0f} mm along the line: the arm is "
                                        f"stretched out ({arm.reach_margin(T) * 1000:.0f} mm from the edge of its reach)")
                raise PlanningError(f"LIN passes a singularity or needs a configuration flip "
                                    f"{si * length * 1000:.0f} mm along the line; move the target or use a PTP move")
            q[i] = prev = res.q
        qd = np.gradient(q, t, axis=0) if len(t) > 1 else np.zeros_like(q)
        ratio = float(np.max(np.abs(qd) / arm.limits.velocity))
        if ratio <= 1.0:
            qd[0] = qd[-1] = 0.0
            return JointTrajectory(t, q, qd, np.gradient(qd, t, axis=0))
        scale /= ratio * 1.05
    raise PlanningError(f"LIN cannot keep the joints under their speed limits even at {scale:.0%} of the programmed speed")
