"""PlanningScene: a second, never-stepped twin of the cell where motions are checked for collision before they
run, so planning never disturbs the live simulation (or, on hardware, needs one)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from spatialmath import SE3

from cellctl.model.cell import Cell
from cellctl.motion.plan import Probe
from cellctl.twin._pybullet import pb
from cellctl.twin.poses import pb_from_matrix
from cellctl.twin.world import SimRobot, World


@dataclass
class _Entries:
    entries: list[tuple]  # see PlanningScene.entries
    index: dict[tuple, int]
    weights: np.ndarray  # (entries, joints) m per rad
    cell: np.ndarray  # (entries,) bool: against the cell


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
        self._entry_tables: dict[tuple, _Entries] = {}  # (robot, held part and grip) -> what distances measures
        self._T_urdf_com = {name: np.linalg.inv(T) for name, T in self.world._com_inv.items()}

    def collision(self, robot: str, q: np.ndarray, parts: dict[str, SE3], held: tuple[str, SE3] | None,
                  carried: set[str] = frozenset(), margin: float = 0.0) -> str | None:
        """What robot `robot` at joint angles q (holding held = (part, T_tcp_part), if any) would come closer
        than `margin` (m) to, as "a and b", or None when it is clear. `carried`: parts in other robots' hands
        (left out, like those robots)."""
        w, c = self.world, self.client
        # distances to the cell: getClosestPoints measures true distances (a contact query reports only touching
        # pairs); self-collision, which the URDF's neighbour filters shape, from a contact query
        r, held_body, statics = self._pose(robot, q, parts, held, carried)
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

    def distances(self, robot: str, q: np.ndarray, parts: dict[str, SE3], held: tuple[str, SE3] | None,
                  carried: set[str] = frozenset(), which: np.ndarray | None = None, cap: float = 0.3) -> np.ndarray:
        """`collision` as distances (m, at most cap, below 0 on overlap), one per entry of `entries` (or only
        for those listed in `which`; the others may be left at cap)."""
        r, held_body, statics = self._pose(robot, q, parts, held, carried)
        table = self._table(robot, parts, held, carried)
        out = np.full(len(table.entries), float(cap))
        wanted = table.entries if which is None else [table.entries[e] for e in which]
        c = self.client
        if any(b is None for _, b in wanted):  # one query per body of the cell measures every link
            for body in (r.body, held_body):
                for other in statics if body is not None else ():
                    for p in pb.getClosestPoints(body, other, cap, physicsClientId=c):
                        if body == r.body and p[3] == -1:
                            continue  # the base stands on its mount and never moves
                        e = table.index[(p[3] if body == r.body else "held", None)]
                        out[e] = min(out[e], p[8])
        if any(a == "held" and b is not None for a, b in wanted):
            for p in pb.getClosestPoints(held_body, r.body, cap, physicsClientId=c):
                if p[4] not in r.tool_links:  # the fingers hold the part
                    e = table.index[("held", p[4])]
                    out[e] = min(out[e], p[8])
        for a, b in wanted:
            if a != "held" and b is not None:
                e = table.index[(a, b)]
                for p in pb.getClosestPoints(r.body, r.body, cap, linkIndexA=a, linkIndexB=b, physicsClientId=c):
                    out[e] = min(out[e], p[8])
        return out

    def entries(self, robot: str, parts: dict[str, SE3], held: tuple[str, SE3] | None,
                carried: set[str] = frozenset()) -> tuple[list[tuple], np.ndarray, np.ndarray]:
        """What `distances` measures: (k, None), link k (or "held", the held part) against the cell, and (a, b),
        two links (or the held part and a link) that `collision` keeps from touching; per entry and joint, m per
        rad by which the joint can change its distance; and per entry whether it is against the cell."""
        table = self._table(robot, parts, held, carried)
        return table.entries, table.weights, table.cell

    def probe(self, robot: str, parts: dict[str, SE3], held: tuple[str, SE3] | None,
              carried: set[str] = frozenset()) -> Probe:
        """`distances` for one robot in one state of the cell, as the planner takes them (motion.plan.Probe)."""
        table = self._table(robot, parts, held, carried)
        return Probe(lambda q, which, cap: self.distances(robot, q, parts, held, carried, which, cap),
                     table.weights, table.cell)

    def _table(self, robot: str, parts: dict[str, SE3], held: tuple[str, SE3] | None, carried: set[str]) -> _Entries:
        """The entries of a robot (holding `held`), worked out once. A joint moves a link's points at most by the
        distance from its axis: bounded by the joint origins' spacing along the chain plus the farthest corner
        of the link's bounding box (for the held part, of its boxes about the flange)."""
        key = (robot, None if held is None else (held[0], held[1].A.tobytes()))
        if key in self._entry_tables:
            return self._entry_tables[key]
        r = self.world.robots[robot]
        _, held_body, _ = self._pose(robot, np.zeros(len(r.joints)), parts, held, carried)
        c, body = self.client, r.body
        info = [pb.getJointInfo(body, j, physicsClientId=c) for j in range(pb.getNumJoints(body, physicsClientId=c))]
        parent = {j: i[16] for j, i in enumerate(info)}
        origin = {j: np.array(pb.getLinkState(body, j, computeForwardKinematics=True, physicsClientId=c)[4])
                  for j in parent}

        def chain(link) -> list:  # the link and its ancestors, the base (-1) left out
            if link == "held":
                return ["held"] + chain(r.flange)
            return [link] + chain(parent[link]) if link not in (None, -1) else []

        def extent(link) -> float:
            if link == "held":
                boxes = [pb.getAABB(held_body, k, physicsClientId=c) for k in
                         range(-1, pb.getNumJoints(held_body, physicsClientId=c))]
            else:
                boxes = [pb.getAABB(body, link, physicsClientId=c)]
            at = origin[r.flange if link == "held" else link]
            return max(float(np.linalg.norm(np.maximum(np.abs(np.subtract(lo, at)), np.abs(np.subtract(hi, at)))))
                       for lo, hi in boxes)

        def levers(link, against=None) -> np.ndarray:  # m per rad, for each joint that moves link but not against
            out = np.zeros(len(r.joints))
            if link == -1:
                return out  # the base never moves
            reach, below = extent(link), r.flange if link == "held" else link
            for k in chain(link):
                if k == "held":
                    continue
                reach += float(np.linalg.norm(origin[below] - origin[k]))
                below = k
                if k in r.joints and k not in chain(against):
                    out[r.joints.index(k)] = reach
            return out

        shaped = [k for k in range(-1, len(info)) if pb.getCollisionShapeData(body, k, physicsClientId=c)]
        tool = set(r.tool_links)
        entries = [(k, None) for k in shaped if k != -1]
        entries += [(a, b) for i, a in enumerate(shaped) for b in shaped[i + 1:] if (a, b) not in r.self_ignored]
        if held_body is not None:
            entries += [("held", None)] + [("held", k) for k in shaped if k not in tool]
        weights = np.array([levers(a) if b is None else levers(a, b) + levers(b, a) for a, b in entries])
        table = _Entries(entries, {entry: e for e, entry in enumerate(entries)}, weights,
                         np.array([b is None for _, b in entries]))
        self._entry_tables[key] = table
        return table

    def robots_apart(self, a: str, qa: np.ndarray, carried_a: list[tuple[str, SE3]], b: str, qb: np.ndarray,
                     carried_b: list[tuple[str, SE3]], within: float) -> float | None:
        """The distance (m) between two robots' real geometry (arms, tools and the parts they carry, each as (part,
        T_tcp_part): the held part and what rides on it) at joint angles qa and qb; None when they are farther apart
        than `within`."""
        c, w, bodies = self.client, self.world, []
        for robot, q, carried in ((a, qa, carried_a), (b, qb, carried_b)):
            r = w.robots[robot]
            pb.resetJointStatesMultiDof(r.body, r.joints, [[float(x)] for x in q], physicsClientId=c)
            mine = [r.body]
            for part, T in carried or ():
                self._part_pose.pop(part, None)
                self._place(part, w.ids[part], w.tcp_matrix(robot) @ T.A)
                mine.append(w.ids[part])
            bodies.append(mine)
        pts = [p for x in bodies[0] for y in bodies[1] for p in pb.getClosestPoints(x, y, within, physicsClientId=c)]
        return min(p[8] for p in pts) if pts else None

    def _pose(self, robot: str, q: np.ndarray, parts: dict[str, SE3], held: tuple[str, SE3] | None,
              carried: set[str]) -> tuple[SimRobot, int | None, list[int]]:
        """As `collision` does: the robot at q, the parts where given (the held one in the hand); the robot, the
        held part's body (or None) and the bodies of the cell it is measured against."""
        w, c = self.world, self.client
        r = w.robots[robot]
        # one call for all joints: resetJointState recomputes every link's pose at each call
        pb.resetJointStatesMultiDof(r.body, r.joints, [[float(qj)] for qj in q], physicsClientId=c)
        held_body = None
        for name, T in parts.items():
            body = w.ids[name]
            if held is not None and name == held[0]:
                held_body = body
                self._place(name, body, w.tcp_matrix(robot) @ held[1].A)
            elif name not in carried:
                self._place(name, body, T.A)
        return r, held_body, self._statics(r.body, held_body, parts, held, carried)

    def _statics(self, robot_body: int, held_body: int | None, parts: dict[str, SE3], held: tuple[str, SE3] | None,
                 carried: set[str]) -> list[int]:
        """The bodies a robot is measured against: fixtures, floor, bolts and the parts where the controller believes
        them, less the held part and the parts (with their bolts) in other hands or unknown to the controller."""
        w = self.world
        gone = {n for n in w.cell.parts if n in carried or n not in parts}
        away = set(w.bolts.owned_by(gone | ({held[0]} if held else set())))
        return [b for n, b in w.ids.items() if b not in (robot_body, held_body) and w.kinds[n] != "robot"
                and n not in gone and b not in away]

    def _say(self, a: int, la: int, b: int, lb: int, distance: float) -> str:
        return f"{self.world._name(a, la)} and {self.world._name(b, lb)} ({distance * 1000:.1f} mm apart)"

    def _place(self, name: str, body: int, A: np.ndarray) -> None:
        """Put a part's URDF frame at A (4x4), unless it is there already."""
        last = self._part_pose.get(name)
        if last is not None and np.array_equal(last, A):
            return
        self._part_pose[name] = A
        pb.resetBasePositionAndOrientation(body, *pb_from_matrix(A @ self._T_urdf_com[name]), physicsClientId=self.client)
        self.world.bolts.follow(name, A)

    def close(self) -> None:
        self.world.close()
