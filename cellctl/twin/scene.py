"""PlanningScene: a second, never-stepped twin of the cell where motions are checked for collision before they
run, so planning never disturbs the live simulation (or, on hardware, needs one)."""

from __future__ import annotations

import numpy as np
from spatialmath import SE3

from cellctl.model.cell import Cell
from cellctl.twin._pybullet import pb
from cellctl.twin.poses import pb_from_matrix
from cellctl.twin.world import World


class PlanningScene:
    """The cell's fixtures, parts and robots (with tools) in a DIRECT client of their own.

    A query places one robot at q, with the part it holds, and the other parts where the controller believes
    they are, and reports the first contact closer than the margin. Other robots and the parts they carry are
    left out: robots keep apart through zone interlocks, which every motion takes before it starts.
    """

    def __init__(self, cell: Cell):
        self.world = World(cell)
        self.client = self.world.client
        self._part_pose: dict[str, np.ndarray] = {}
        self._T_urdf_com = {name: np.linalg.inv(T) for name, T in self.world._com_inv.items()}

    def collision(self, robot: str, q: np.ndarray, parts: dict[str, SE3], held: tuple[str, SE3] | None,
                  carried: set[str] = frozenset(), margin: float = 0.0) -> str | None:
        """What robot `robot` at joint angles q (holding held = (part, T_tcp_part), if any) would come closer
        than `margin` (m) to, as "a and b", or None when it is clear. `carried`: parts in other robots' hands
        (left out, like those robots)."""
        w, c = self.world, self.client
        r = w.robots[robot]
        for j, qj in zip(r.joints, q):
            pb.resetJointState(r.body, j, float(qj), physicsClientId=c)
        held_body = None
        for name, T in parts.items():
            body = w.ids[name]
            if held is not None and name == held[0]:
                held_body = body
                self._place(name, body, w.tcp_matrix(robot) @ held[1].A)
            elif name not in carried:
                self._place(name, body, T.A)
        # distances to the cell: getClosestPoints measures true distances (a contact query reports only touching
        # pairs); self-collision, which the URDF's neighbour filters shape, from a contact query
        statics = [b for n, b in w.ids.items() if b != r.body and b != held_body and w.kinds[n] != "robot"
                   and not (w.kinds[n] == "part" and (n in carried or n not in parts))]
        for body in (r.body, held_body):
            if body is None:
                continue
            for other in statics + ([r.body] if body == held_body else []):
                # the part rides on the flange: against its own robot only a real touch counts
                for p in pb.getClosestPoints(body, other, 0.0 if other == r.body else margin, physicsClientId=c):
                    if body == r.body and p[3] == -1:
                        continue  # the base stands on its mount and never moves
                    if body == held_body and p[4] in r.tool_links:
                        continue  # the fingers hold the part
                    return self._say(p[1], p[3], p[2], p[4], p[8])
        pb.performCollisionDetection(physicsClientId=c)
        for p in pb.getContactPoints(bodyA=r.body, bodyB=r.body, physicsClientId=c):
            if p[8] < 0.0:
                return self._say(p[1], p[3], p[2], p[4], p[8])
        return None

    def _say(self, a: int, la: int, b: int, lb: int, distance: float) -> str:
        return f"{self.world._name(a, la)} and {self.world._name(b, lb)} ({distance * 1000:.1f} mm apart)"

    def _place(self, name: str, body: int, A: np.ndarray) -> None:
        """Put a part's URDF frame at A (4x4), unless it is there already."""
        last = self._part_pose.get(name)
        if last is not None and np.array_equal(last, A):
            return
        self._part_pose[name] = A
        pb.resetBasePositionAndOrientation(body, *pb_from_matrix(A @ self._T_urdf_com[name]), physicsClientId=self.client)

    def close(self) -> None:
        self.world.close()
