"""Arm: one robot's kinematics, read from its URDF by roboticstoolbox; fk and ik in the world frame."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from spatialmath import SE3

from cellctl.errors import ProgramError
from cellctl.model.urdf_info import Chain, chain


NEAR_SEED = 1.0  # rad: an IK solution this close to its seed in every joint is taken without further restarts


@dataclass
class IKResult:
    """An IK answer: success, the joint angles (rad) and, on failure, a reason a user can act on."""

    success: bool
    q: np.ndarray | None
    reason: str = ""


@dataclass(frozen=True)
class JointLimits:
    lower: np.ndarray
    upper: np.ndarray
    velocity: np.ndarray  # rad/s
    effort: np.ndarray  # N m


@lru_cache(maxsize=16)
def _rtb_robot(urdf: Path):
    """roboticstoolbox's model of a URDF file (read once per file)."""
    from roboticstoolbox import Robot as RtbRobot
    from roboticstoolbox.models.URDF.URDFRobot import URDF_file

    try:
        elinks, name, *_ = URDF_file(urdf)
        return RtbRobot(elinks, name=name)
    except Exception as exc:  # roboticstoolbox raises several kinds; the user needs one message
        raise ProgramError(f"roboticstoolbox cannot read this URDF: {exc}", str(urdf)) from exc


@lru_cache(maxsize=16)
def _load(urdf: Path, flange: str):
    info = chain(urdf, flange)
    robot = _rtb_robot(urdf)
    ets = robot.ets(end=flange)
    p_shoulder = robot.fkine(np.zeros(robot.n), end=info.shoulder).A[:3, 3] if info.shoulder != robot.base_link.name else np.zeros(3)
    # the radius of the reach sphere: the farthest the flange gets from the shoulder, sampled
    qs = np.random.default_rng(0).uniform(info.lower, info.upper, size=(500, ets.n))
    reach = float(max(np.linalg.norm(ets.fkine(q).A[:3, 3] - p_shoulder) for q in qs))
    return ets, info, p_shoulder, reach


def _limits(urdf: Path, info: Chain) -> JointLimits:
    rows = np.array([[j.lower, j.upper, j.velocity, j.effort] for j in info.joints])
    if not np.all(np.isfinite(rows)):
        raise ProgramError("every arm joint needs a <limit> with lower, upper, velocity and effort", str(urdf))
    return JointLimits(rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3])


class Arm:
    """A serial arm from base to flange, placed in the world, with a tool's TCP.

    fk and ik speak world-frame TCP poses; roboticstoolbox's C++ solvers do the work on the
    base-to-flange chain, so the same URDF serves here and in PyBullet.
    """

    def __init__(self, urdf: Path, T_world_base: SE3 = SE3(), T_flange_tcp: SE3 = SE3(),
                 flange: str = "tool0", max_accel: np.ndarray | None = None):
        self.urdf = Path(urdf)
        self.T_world_base = SE3(T_world_base)
        self.T_flange_tcp = SE3(T_flange_tcp)
        self.ets, info, self.p_shoulder, self.reach = _load(self.urdf.resolve(), flange)
        self.joint_names = info.names
        self.n = self.ets.n
        self.limits = _limits(self.urdf, info)
        self.max_accel = np.asarray(max_accel, float) if max_accel is not None else 2.0 * self.limits.velocity
        if self.max_accel.shape != (self.n,):
            raise ProgramError(f"accel_deg_s2 needs {self.n} values, one a joint")
        self._T_base_world = self.T_world_base.inv()
        self._T_tcp_flange = self.T_flange_tcp.inv()

    # ------------------------------------------------------------------ kinematics
    def fk(self, q: np.ndarray) -> SE3:
        """World pose of the TCP at joint angles q (rad)."""
        return self.T_world_base * SE3(self.ets.fkine(np.asarray(q, float)).A, check=False) * self.T_flange_tcp

    def within_limits(self, q: np.ndarray, tol: float = 1e-9) -> bool:
        return bool(np.all(q >= self.limits.lower - tol) and np.all(q <= self.limits.upper + tol))

    def ik(self, T_world_tcp: SE3, q_seed: np.ndarray | None = None, rng: np.random.Generator | None = None,
           restarts: int = 30, tol: float = 1e-14) -> IKResult:
        """Joint angles that put the TCP at T_world_tcp, inside joint limits, nearest the seed.

        The first attempt starts from the seed (configuration continuity); further attempts start
        from seeded random configurations so the result is reproducible.
        """
        T_base_flange = self._T_base_world * SE3(T_world_tcp) * self._T_tcp_flange
        target = T_base_flange.A
        seed = np.asarray(q_seed, float) if q_seed is not None else (self.limits.lower + self.limits.upper) / 2
        rng = rng if rng is not None else np.random.default_rng(0)
        best = None
        for attempt in range(restarts + 1):
            q0 = seed if attempt == 0 else rng.uniform(self.limits.lower, self.limits.upper)
            sol = self.ets.ik_LM(target, q0=q0, ilimit=60, slimit=1, tol=tol, joint_limits=True)
            if sol.success and self.within_limits(sol.q):
                q = self._nearest_turn(np.asarray(sol.q, float), seed)
                if best is None or np.linalg.norm(q - seed) < np.linalg.norm(best - seed):
                    best = q
                if np.max(np.abs(best - seed)) < NEAR_SEED:
                    break  # the same configuration branch as the seed: no flip, look no further
        if best is not None:
            return IKResult(True, best)
        return IKResult(False, None, self._why_unreachable(T_base_flange))

    def _nearest_turn(self, q: np.ndarray, seed: np.ndarray) -> np.ndarray:
        """The same pose with each joint turned by whole revolutions to lie nearest the seed, inside the limits
        (a wrist that may turn +-360 deg should not unwind 300 deg to reach what is 60 deg away)."""
        shifted = q + 2 * np.pi * np.round((seed - q) / (2 * np.pi))
        ok = (shifted >= self.limits.lower) & (shifted <= self.limits.upper)
        return np.where(ok, shifted, q)

    def reach_margin(self, T_world_tcp: SE3) -> float:
        """How far (m) the flange would be inside the arm's reach sphere at this TCP pose; negative outside."""
        T_base_flange = self._T_base_world * SE3(T_world_tcp) * self._T_tcp_flange
        return self.reach - float(np.linalg.norm(T_base_flange.t - self.p_shoulder))

    def _why_unreachable(self, T_base_flange: SE3) -> str:
        d = float(np.linalg.norm(T_base_flange.t - self.p_shoulder))
        if d > self.reach:
            return f"out of reach: the flange would be {d:.3f} m from the shoulder, the arm reaches {self.reach:.3f} m"
        rng = np.random.default_rng(0)
        mask = np.array([1.0, 1, 1, 0, 0, 0])
        for _ in range(10):
            q0 = rng.uniform(self.limits.lower, self.limits.upper)
            if self.ets.ik_LM(T_base_flange.A, q0=q0, ilimit=60, slimit=1, tol=1e-12, mask=mask, joint_limits=True).success:
                return "the position is reachable but not in this orientation inside the joint limits; tilt the target"
        return (f"out of reach: no joint solution reaches this position ({d:.3f} m from the shoulder; the arm "
                f"reaches {self.reach:.3f} m only when stretched out, less with the wrist turned)")
