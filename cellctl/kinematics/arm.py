"""Arm: one robot's kinematics, read from its URDF by roboticstoolbox; fk and ik in the world frame."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
from spatialmath import SE3

from cellctl.errors import ProgramError
from cellctl.model.urdf_info import Chain, chain


NEAR_SEED = 1.0  # rad: an IK solution this close to its seed in every joint is taken without further restarts
RESTARTS = 40  # seeded random restarts after the attempt from the seed
ALTERNATIVES = 4  # further restarts, once a solution far from the seed is found, looking for a nearer one
ILIMIT = 30  # LM iterations per attempt
TOL = 1e-14  # LM's residual 0.5*|e|^2: |e| < 1.5e-7 (m and rad), well inside the 1e-6 promised
Collision = Callable[[np.ndarray], "str | None"]  # q -> description of a contact with the cell, or None if free


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
        self._T_world_base_A, self._T_flange_tcp_A = self.T_world_base.A, self.T_flange_tcp.A

    # ------------------------------------------------------------------ kinematics
    def fk(self, q: np.ndarray) -> SE3:
        """World pose of the TCP at joint angles q (rad)."""
        return self.T_world_base * SE3(self.ets.fkine(np.asarray(q, float)).A, check=False) * self.T_flange_tcp

    def base_flange(self, A_world_tcp: np.ndarray) -> np.ndarray:
        """The flange pose in the base frame (4x4) that puts the TCP at A_world_tcp (4x4)."""
        return self._T_base_world.A @ A_world_tcp @ self._T_tcp_flange.A

    def fk_matrix(self, q: np.ndarray) -> np.ndarray:
        """World pose of the TCP at q as a 4x4 array (the fast path for dense checks)."""
        return self._T_world_base_A @ self.ets.fkine(np.asarray(q, float)).A @ self._T_flange_tcp_A

    def within_limits(self, q: np.ndarray, tol: float = 1e-9) -> bool:
        return bool(np.all(q >= self.limits.lower - tol) and np.all(q <= self.limits.upper + tol))

    def ik(self, T_world_tcp: SE3, q_seed: np.ndarray | None = None, rng: np.random.Generator | None = None,
           restarts: int = RESTARTS, collision: Collision | None = None, nearest: bool = True) -> IKResult:
        """Joint angles that put the TCP at T_world_tcp, inside joint limits, nearest the seed.

        roboticstoolbox's C++ Levenberg-Marquardt solver runs first from the seed (configuration continuity: a
        neighbouring target keeps its elbow and wrist), then from configurations drawn from `rng` (seeded, so the
        answer is reproducible and independent of anything else solved in the process). Among the solutions the
        restarts find, the one nearest the seed wins. With `collision` (q -> description of a contact, or None),
        solutions in collision with the cell are rejected. nearest=False takes the first solution found (TRAC-IK's
        speed mode: for throughput, or when the seed means nothing).
        """
        return self.ik_base(self.base_flange(SE3(T_world_tcp).A), q_seed, rng, restarts, collision, nearest)

    def ik_base(self, T_base_flange: np.ndarray, q_seed: np.ndarray | None = None,
                rng: np.random.Generator | None = None, restarts: int = RESTARTS,
                collision: Collision | None = None, nearest: bool = True) -> IKResult:
        """ik for a flange pose in the base frame, as a 4x4 array (the fast path: no SE3 objects)."""
        lim = self.limits
        seed = np.asarray(q_seed, float) if q_seed is not None else self.mid
        best, best_d, collided, last = None, np.inf, "", restarts
        solve = self.ets.ik_LM
        for attempt in range(restarts + 1):
            if attempt == 1 and rng is None:
                rng = np.random.default_rng(0)
            q0 = seed if attempt == 0 else rng.uniform(lim.lower, lim.upper)
            sol = solve(T_base_flange, q0=q0, ilimit=ILIMIT, slimit=1, tol=TOL, joint_limits=True)
            if sol.success:
                q = self._nearest_turn(np.asarray(sol.q, float), seed)
                if np.all(q >= lim.lower) and np.all(q <= lim.upper):
                    why = collision(q) if collision is not None else None
                    if why:
                        collided = collided or why
                    else:
                        d = float(np.max(np.abs(q - seed)))
                        if d < best_d:
                            best, best_d = q, d
                        if d < NEAR_SEED or not nearest:
                            break  # the seed's own configuration branch: no flip, look no further
                        last = min(last, attempt + ALTERNATIVES)
            if attempt >= last:
                break
        if best is not None:
            return IKResult(True, best)
        if collided:
            return IKResult(False, None, f"collision: every joint solution found collides ({collided})")
        return IKResult(False, None, self._why_unreachable(T_base_flange))

    @property
    def mid(self) -> np.ndarray:
        """The middle of every joint's range (the default seed, as in the TRAC-IK protocol)."""
        return (self.limits.lower + self.limits.upper) / 2

    def _nearest_turn(self, q: np.ndarray, seed: np.ndarray) -> np.ndarray:
        """The same pose with each joint turned by whole revolutions to lie nearest the seed, inside the limits
        (a wrist that may turn +-360 deg should not unwind 300 deg to reach what is 60 deg away)."""
        shifted = q + 2 * np.pi * np.round((seed - q) / (2 * np.pi))
        ok = (shifted >= self.limits.lower) & (shifted <= self.limits.upper)
        return np.where(ok, shifted, q)

    def reach_margin(self, T_base_flange: np.ndarray) -> float:
        """How far (m) a flange pose (base frame, 4x4) is inside the arm's reach sphere; negative outside."""
        return self.reach - float(np.linalg.norm(T_base_flange[:3, 3] - self.p_shoulder))

    def _why_unreachable(self, T_base_flange: np.ndarray) -> str:
        """Why no solution was found, in words a cell engineer can act on: out of reach, an orientation the
        wrist cannot take there, or joint limits."""
        d = self.reach - self.reach_margin(T_base_flange)
        if d > self.reach:
            return f"out of reach: the flange would be {d:.3f} m from the shoulder, the arm reaches {self.reach:.3f} m"
        rng = np.random.default_rng(0)
        lim = self.limits
        for _ in range(10):
            q0 = rng.uniform(lim.lower, lim.upper)
            sol = self.ets.ik_LM(T_base_flange, q0=q0, ilimit=60, slimit=1, tol=1e-12, joint_limits=False)
            if sol.success:
                q = self._nearest_turn(np.asarray(sol.q, float), self.mid)
                j = int(np.argmax(np.maximum(lim.lower - q, q - lim.upper)))
                return (f"joint limits: the pose needs joint {j + 1} ({self.joint_names[j]}) at {np.degrees(q[j]):.1f} deg, "
                        f"outside [{np.degrees(lim.lower[j]):.1f}, {np.degrees(lim.upper[j]):.1f}] deg; turn the target")
        mask = np.array([1.0, 1, 1, 0, 0, 0])
        for _ in range(10):
            q0 = rng.uniform(lim.lower, lim.upper)
            if self.ets.ik_LM(T_base_flange, q0=q0, ilimit=60, slimit=1, tol=1e-12, mask=mask, joint_limits=True).success:
                return "out of reach in this orientation: the position is reachable, but not with the tool turned this way; tilt the target"
        return (f"out of reach: no joint solution reaches this position ({d:.3f} m from the shoulder; the arm "
                f"reaches {self.reach:.3f} m only when stretched out, less with the wrist turned)")
