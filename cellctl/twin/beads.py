"""Weld beads that join what they wet: where an arc burns across two bodies, its bead fuses them, as it does in the
cell. A bracket welded to a panel then travels with the panel; a seam never struck leaves the bracket loose on it; a
bead run onto the fixture welds the part to the fixture, and the part can no longer be unloaded."""

from __future__ import annotations

import numpy as np

from cellctl.twin._pybullet import pb

BEAD_RADIUS = 0.003  # m: how far round the wire tip the weld pool wets the work
JOIN_LENGTH = 0.005  # m of bead laid across two parts that joins them (a tack weld's length)
BEAD_NEAR = 0.008  # m: a part this close to the wire tip that the pool does not wet is recorded (a bead beside a joint)
JOIN_STRENGTH = 1e5  # N (and N m) a weld joint holds: far beyond anything the cell's arms can load it with


class Beads:
    """The beads the arcs lay in one World; joins parts with a fixed constraint once a bead bridges them."""

    def __init__(self, world):
        self.world = world
        c = world.client
        shape = pb.createCollisionShape(pb.GEOM_SPHERE, radius=BEAD_RADIUS, physicsClientId=c)
        unseen = pb.createVisualShape(pb.GEOM_SPHERE, radius=1e-4, rgbaColor=[0, 0, 0, 0], physicsClientId=c)
        self.probe = pb.createMultiBody(0, shape, unseen, [0, 0, -10], physicsClientId=c)  # touches nothing, is only measured
        pb.setCollisionFilterGroupMask(self.probe, -1, 0, 0, physicsClientId=c)
        self._tip: dict[str, np.ndarray] = {}  # robot -> its wire tip at the last step its arc burned
        self._bridged: dict[str, dict[tuple[str, str], float]] = {}  # robot -> body pair -> m of its bead across both
        self.joined: dict[tuple[str, str], int] = {}  # part pair -> the constraint that holds them together

    def burn(self, robot: str) -> None:
        """The robot's arc burns this step: the bead grows along its wire tip's path; parts it wets together for
        JOIN_LENGTH are joined."""
        w, c = self.world, self.world.client
        tip = w.tcp_matrix(robot)[:3, 3]
        grown = float(np.linalg.norm(tip - self._tip[robot])) if robot in self._tip else 0.0
        self._tip[robot] = tip
        pb.resetBasePositionAndOrientation(self.probe, list(tip), [0, 0, 0, 1], physicsClientId=c)
        wet = sorted(n for n, k in w.kinds.items() if k in ("part", "fixture") and self._wets(tip, n))
        w.trace.bead_wets.append((w.t, robot, grown, tuple(wet)))
        for n in sorted(n for n, k in w.kinds.items() if k == "part" and n not in wet):
            pts = pb.getClosestPoints(self.probe, w.ids[n], BEAD_NEAR - BEAD_RADIUS, physicsClientId=c)
            if pts and self._in_sight(tip, n, min(pts, key=lambda p: p[8])[6]):
                w.trace.bead_gaps.append((w.t, robot, n, BEAD_RADIUS + max(0.0, min(p[8] for p in pts))))
        for i, a in enumerate(wet):
            for b in wet[i + 1:]:
                if w.kinds[a] == w.kinds[b] == "fixture":
                    continue  # two fixed bodies: a bead across them moves nothing
                bead = self._bridged.setdefault(robot, {})  # this bead's length across each pair
                bead[(a, b)] = bead.get((a, b), 0.0) + grown
                if bead[(a, b)] - grown < JOIN_LENGTH <= bead[(a, b)]:  # every bead that bridges a pair joins it
                    if (a, b) not in self.joined:
                        self.joined[(a, b)] = w.fuse(a, b, JOIN_STRENGTH)
                    w.trace.joins.append((w.t, robot, a, b))

    def _wets(self, tip: np.ndarray, name: str) -> bool:
        """The pool round the wire tip reaches the body's surface, and nothing else lies between the tip and it (a
        jig under a thin sheet is shielded by the sheet)."""
        w, c = self.world, self.world.client
        pts = pb.getClosestPoints(self.probe, w.ids[name], 0.0, physicsClientId=c)
        if not pts:
            return False
        return self._in_sight(tip, name, min(pts, key=lambda p: p[8])[6])  # the point on the body nearest the tip

    def _in_sight(self, tip: np.ndarray, name: str, near) -> bool:
        """Nothing else lies between the wire tip and the point `near` on the body (a part under a plate is behind it)."""
        w, c = self.world, self.world.client
        if np.linalg.norm(np.subtract(near, tip)) < 1e-4:
            return True
        hit = pb.rayTest(list(tip), list(near), physicsClientId=c)[0]
        return hit[0] in (-1, w.ids[name]) or hit[2] > 0.98

    def out(self, robot: str) -> None:
        """The arc went out: the next bead starts afresh."""
        self._tip.pop(robot, None)
        self._bridged.pop(robot, None)
