"""JointTrajectory: a time-sampled joint motion (t [s], q [rad], qd [rad/s], qdd [rad/s^2])."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class JointTrajectory:
    t: np.ndarray  # (N,) from 0, strictly increasing
    q: np.ndarray  # (N, n)
    qd: np.ndarray  # (N, n)
    qdd: np.ndarray  # (N, n)

    @property
    def duration(self) -> float:
        return float(self.t[-1])

    @property
    def start(self) -> np.ndarray:
        return self.q[0]

    @property
    def end(self) -> np.ndarray:
        return self.q[-1]

    def sample(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Position and velocity at time t (clamped to the ends), interpolated linearly between samples."""
        if t <= 0.0:
            return self.q[0], self.qd[0] * 0.0 if self.t.size == 1 else self.qd[0]
        if t >= self.t[-1]:
            return self.q[-1], np.zeros_like(self.q[-1])
        i = int(np.searchsorted(self.t, t, side="right")) - 1
        w = (t - self.t[i]) / (self.t[i + 1] - self.t[i])
        return self.q[i] + w * (self.q[i + 1] - self.q[i]), self.qd[i] + w * (self.qd[i + 1] - self.qd[i])

    @staticmethod
    def hold(q: np.ndarray) -> "JointTrajectory":
        """A trajectory that stays at q."""
        q = np.asarray(q, float)[None, :]
        z = np.zeros_like(q)
        return JointTrajectory(np.zeros(1), q, z, z.copy())


def concat(parts: list[JointTrajectory]) -> JointTrajectory:
    """Trajectories one after another (each must start where the previous ended) as one trajectory."""
    t, q, qd, qdd, offset = [], [], [], [], 0.0
    for i, p in enumerate(parts):
        skip = 1 if i > 0 and len(p.t) > 1 else 0  # the joint sample is shared with the previous part
        if i > 0 and len(p.t) == 1:
            continue
        t.append(p.t[skip:] + offset)
        q.append(p.q[skip:])
        qd.append(p.qd[skip:])
        qdd.append(p.qdd[skip:])
        offset += p.duration
    return JointTrajectory(np.concatenate(t), np.vstack(q), np.vstack(qd), np.vstack(qdd))


class PathClock:
    """Time along a trajectory that can slow to a stop and speed up again without leaving the path: a feed
    hold scales the rate at which trajectory time passes, so the arm decelerates along the planned path."""

    def __init__(self, ramp: float):
        self.s, self.rate, self.target, self.ramp = 0.0, 1.0, 1.0, ramp

    def advance(self, dt: float) -> float:
        """Move the rate toward its target and return the trajectory time after this step."""
        step = dt / self.ramp
        self.rate = min(self.target, self.rate + step) if self.rate < self.target else max(self.target, self.rate - step)
        self.s += self.rate * dt
        return self.s


HOLD_RAMP = 0.3  # s from full speed to standstill in a feed hold (the path is kept)
