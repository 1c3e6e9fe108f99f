"""Clearance in the twin: after every step, how close each robot (its links, tool and held part) came to everything
else, recorded below a cap. Bounding boxes grown by the cap pick the near pairs; only those get an exact distance."""

from __future__ import annotations

import numpy as np

from cellctl.twin._pybullet import pb
from cellctl.twin.trace import Proximity

BEYOND_MARGIN = 0.02  # m recorded beyond the cell's margin, so a run that passes shows how close it came


class ClearanceMonitor:
    """Records trace.proximities for one World. Not measured: a robot against itself, its tool against the part it
    holds (rigidly in the hand) and fixed bases against fixed things (the cell layout, checked once by the world)."""

    def __init__(self, world, cap: float | None = None):
        self.world, c = world, world.client
        self.cap = world.cell.clearance + BEYOND_MARGIN if cap is None else cap
        world.trace.clearance_cap = self.cap
        self._floor = world.ids["floor"]
        self._robots = list(world.robots.values())
        # what moves: every robot link with geometry (the fixed base aside), then every part (when held, it moves)
        links = [(r.body, j) for r in self._robots for j in range(pb.getNumJoints(r.body, physicsClientId=c))
                 if pb.getCollisionShapeData(r.body, j, physicsClientId=c)]
        self._parts = [(world.ids[p], -1) for p in world.cell.parts]
        self._dyn = links + self._parts
        fixtures = [world.ids[f] for f in world.cell.fixtures]
        static = [(b, j) for b in fixtures for j in range(-1, pb.getNumJoints(b, physicsClientId=c))]
        static += [(r.body, -1) for r in self._robots]  # the fixed bases
        static = [(b, j) for b, j in static if pb.getCollisionShapeData(b, j, physicsClientId=c)]
        self._targets = self._dyn + static
        self._box = np.zeros((len(self._targets), 6))  # lo, hi of every target: the static ones once, the others each step
        self._box[len(self._dyn):] = np.array([v for b, j in static for p in pb.getAABB(b, j, c) for v in p]).reshape(-1, 6)
        robots = {r.body for r in self._robots}
        self._owner = np.array([b if b in robots else -1 for b, _ in self._targets])  # the robot a link belongs to
        self._tool = np.array([(b, j) in {(r.body, t) for r in self._robots for t in r.tool_links} for b, j in self._targets])
        self._masks: dict[tuple, np.ndarray] = {}
        self._near = np.zeros((len(self._dyn), len(self._targets) + 1), bool)
        world.after_step(self.sample)

    def _mask(self, holders: tuple) -> np.ndarray:
        """Which (mover, target) pairs to measure, given which robot holds each part (-1: none)."""
        mask = self._masks.get(holders)
        if mask is None:
            n, arm = len(self._dyn), (self._owner >= 0) & ~self._tool  # arm: a robot link outside the tool
            owner, held = self._owner.copy(), np.zeros(len(self._owner), bool)
            owner[n - len(holders):n] = holders  # a held part moves with its robot
            held[n - len(holders):n] = np.array(holders) >= 0
            mover = ((self._owner >= 0) | held)[:n]
            same = (owner[:n, None] == owner[None, :]) & (owner[:n, None] >= 0)
            # the same robot: only its arm against the part it holds (the tool holds it: the part is in the hand)
            own_part = same & ((held[:n, None] & arm[None, :]) | (arm[:n, None] & held[None, :]))
            mask = (~same | own_part) & mover[:, None]
            mask[:, :n] &= np.triu(np.ones((n, n), bool), 1) | ~mover[None, :]  # two movers: once
            self._masks[holders] = mask = np.column_stack([mask, mover])  # the last column: the floor
        return mask

    def sample(self, t: float) -> None:
        """Measure this step: movers (robot links, held parts) against each other, free parts, fixtures, floor."""
        w, c, cap = self.world, self.world.client, self.cap
        holders = tuple(next((r.body for r in self._robots if r.attachment and w.ids[r.attachment[0]] == b), -1)
                        for b, _ in self._parts)
        n, floor, box, near = len(self._dyn), len(self._targets), self._box, self._near
        box[:n] = np.array([v for b, j in self._dyn for p in pb.getAABB(b, j, c) for v in p]).reshape(-1, 6)
        lo, hi, mlo, mhi = box[:, :3], box[:, 3:], box[:n, :3] - cap, box[:n, 3:] + cap
        near[:, :floor] = ((mlo[:, None, 0] <= hi[None, :, 0]) & (lo[None, :, 0] <= mhi[:, None, 0])
                           & (mlo[:, None, 1] <= hi[None, :, 1]) & (lo[None, :, 1] <= mhi[:, None, 1])
                           & (mlo[:, None, 2] <= hi[None, :, 2]) & (lo[None, :, 2] <= mhi[:, None, 2]))
        near[:, floor] = mlo[:, 2] < 0.0  # the floor is the plane z = 0
        near &= self._mask(holders)
        best: dict[tuple[str, str], float] = {}
        for i, k in zip(*near.nonzero()):
            (ba, la), (bb, lb) = self._dyn[i], self._targets[k] if k < floor else (self._floor, -1)
            pts = pb.getClosestPoints(ba, bb, cap, linkIndexA=la, linkIndexB=lb, physicsClientId=c)
            if pts:
                key = (w._name(ba, la), w._name(bb, lb))
                d = min(p[8] for p in pts)
                best[key] = min(d, best.get(key, d))
        w.trace.proximities += [Proximity(t, a, b, d) for (a, b), d in best.items()]


def watch_clearance(world) -> ClearanceMonitor:
    """Measure clearance in this world after every step, into its trace."""
    return ClearanceMonitor(world)
