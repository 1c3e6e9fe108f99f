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
