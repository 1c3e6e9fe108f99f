"""Bolts in the twin: a body standing in every hole the cell fills, and the thread's resistance as a spindle
turns it. A bolt runs down freely against a small prevailing torque, its head seats, then the clamp resists
in proportion to the turn; a bolt started crooked binds at once (cross-thread)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cellctl.model.cell import BOLT_HEAD
from cellctl.twin._pybullet import pb
from cellctl.twin.poses import matrix_from_pb, pb_from_matrix

HEAD_RADIUS = 0.008  # m (an M10 hex head, as a cylinder)
SHANK_RADIUS = 0.005
SHANK_LENGTH = 0.025  # m below the entry (drawn only: inside the part it never collides)
BOLT_MASS = 0.02  # kg
PREVAILING = 0.3  # N m the thread takes while the bolt runs down
PITCH = 0.0015  # m the bolt advances a turn (M10 coarse)
SEAT_TURN = np.radians(1440.0)  # rad a hand-started bolt runs down before its head meets the part (4 turns)
SNUG_TURN = np.radians(90.0)  # rad over which the head beds in against the part ...
SNUG_TORQUE = 2.0  # N m ... rising to this above the prevailing torque: the snug point
CLAMP_STIFFNESS = 30.0  # N m per rad of turn past snug (a steel joint, about 0.5 N m per degree)
CROSS_THREAD_ANGLE = np.radians(3.0)  # rad between the spindle and the bolt beyond which the thread binds
CROSS_THREAD_STIFFNESS = 150.0  # N m per rad of a bolt driven across its thread
ENGAGE_AXIAL = 0.003  # m: the socket engages a head when its mouth is within this of the head's top, ...
ENGAGE_LATERAL = 0.003  # m ... and this close to the bolt's axis
COLOUR = (0.55, 0.55, 0.6, 1.0)
PROBE = 0.005  # m either side of a hole's entry in which its owner's surface must lie
SEAT_DIRECTIONS = 8  # rays round a hole at the head's radius that must all find the owner (the head's seat)
SHANK_STEP = 0.0005  # m between the points of the shank looked at for the body its thread goes into
THROUGH_MAX = 0.1  # m of its own part a bolt may pass through before its thread reaches what it clamps to
CLAMP_STRENGTH = 1e5  # N (and N m) a tightened bolted joint holds: far beyond what the cell's arms can load it with


@dataclass
class Bolt:
    """One bolt: where it stands on its owner, how far it has been turned, and whether its thread is crossed."""

    name: str  # OWNER.HOLE
    owner: str
    T_owner_bolt: np.ndarray  # 4x4: the bolt frame at the hole entry, z along the bolt (with its tilt)
    body: int
    turned: float = 0.0  # rad turned by spindles so far
    crossed: bool = False  # driven across its thread: it binds
    clamped_to: str | None = None  # the body its thread pulls the owner against, once tightened past snug

    @property
    def proud(self) -> float:
        """How far (m) the head still stands above its seat: a bolt not run down all the way clamps nothing."""
        return max(0.0, SEAT_TURN - self.turned) * PITCH / (2 * np.pi)

    def resistance(self, speed: float) -> float:
        """The torque (N m) the bolt opposes to the spindle turning at `speed` (rad/s): the thread's friction against
        the motion, and the elastic clamp (or the crossed thread's bind), which pushes back whichever way it turns."""
        friction = PREVAILING * float(np.sign(speed)) if abs(speed) > 1e-3 else 0.0
        if self.crossed:
            return friction + CROSS_THREAD_STIFFNESS * max(0.0, self.turned)
        bedded = float(np.clip(self.turned - SEAT_TURN, 0.0, SNUG_TURN))
        return friction + SNUG_TORQUE * bedded / SNUG_TURN + CLAMP_STIFFNESS * max(0.0, self.turned - SEAT_TURN - SNUG_TURN)


class Bolts:
    """The bolts of a world's cell, as bodies of their own riding on their owners."""

    def __init__(self, world) -> None:
        self.world, c = world, world.client
        self.bolts: dict[str, Bolt] = {}
        self.off_owner: dict[str, str] = {}  # OWNER.HOLE -> why the cell's hole is not on its owner
        self.fused: dict[tuple[str, str], int] = {}  # (owner, body) -> the constraint a tightened bolt holds them by
        probe = pb.createCollisionShape(pb.GEOM_SPHERE, radius=1e-4, physicsClientId=c)
        unseen = pb.createVisualShape(pb.GEOM_SPHERE, radius=1e-5, rgbaColor=[0, 0, 0, 0], physicsClientId=c)
        self.probe = pb.createMultiBody(0, probe, unseen, [0, 0, -10], physicsClientId=c)  # only measured against
        pb.setCollisionFilterGroupMask(self.probe, -1, 0, 0, physicsClientId=c)
        cell = world.cell
        shape = pb.createCollisionShape(pb.GEOM_CYLINDER, radius=HEAD_RADIUS, height=BOLT_HEAD,
                                        collisionFramePosition=[0, 0, -BOLT_HEAD / 2], physicsClientId=c)
        look = pb.createVisualShapeArray([pb.GEOM_CYLINDER, pb.GEOM_CYLINDER], radii=[HEAD_RADIUS, SHANK_RADIUS],
                                         lengths=[BOLT_HEAD, SHANK_LENGTH], rgbaColors=[COLOUR, COLOUR],
                                         visualFramePositions=[[0, 0, -BOLT_HEAD / 2], [0, 0, SHANK_LENGTH / 2]],
                                         physicsClientId=c)
        for owner, thing in {**cell.fixtures, **cell.parts}.items():
            for hole, f in thing.features.items():
                if f.kind != "hole":
                    continue
                part = owner in cell.parts
                T_world_owner = world.part_matrix(owner) if part else thing.T_world_fixture.A
                off = _off_owner(world, owner, T_world_owner @ f.T_owner_feature.A)
                if off:
                    self.off_owner[f"{owner}.{hole}"] = off
                    continue  # no hole there, so no bolt either
                if not f.bolt:
                    continue
                T_owner_bolt = f.T_owner_feature.A @ _lean(f.bolt_tilt)
                body = pb.createMultiBody(BOLT_MASS if part else 0.0, shape, look,
                                          *pb_from_matrix(T_world_owner @ T_owner_bolt), physicsClientId=c)
                name = f"{owner}.{hole}"
                world._register(name, body, "bolt")
                owner_body = world.ids[owner]
                pb.setCollisionFilterPair(body, owner_body, -1, -1, 0, physicsClientId=c)
                if part:  # rides on its part wherever the part goes
                    T_com_bolt = np.linalg.inv(matrix_from_pb(*pb.getBasePositionAndOrientation(owner_body, physicsClientId=c))) \
                        @ T_world_owner @ T_owner_bolt
                    pos, orn = pb_from_matrix(T_com_bolt)
                    pb.createConstraint(owner_body, -1, body, -1, pb.JOINT_FIXED, [0, 0, 0], pos, [0, 0, 0],
                                        parentFrameOrientation=orn, physicsClientId=c)
                self.bolts[name] = Bolt(name, owner, T_owner_bolt, body)

    def clamp(self, bolt: Bolt, robot: str) -> None:
        """A bolt tightened past snug fixes its owner to the first body its shank goes into within SHANK_LENGTH of
        leaving the owner (a tapped fixture, a weld nut on the part below): a plate bolted down no longer comes away
        with a gripper."""
        if bolt.crossed or bolt.clamped_to is not None or bolt.turned < SEAT_TURN + SNUG_TURN:
            return
        w, c = self.world, self.world.client
        T = self.pose(bolt.name)
        skip = {w.ids[bolt.owner], *(b.body for b in self.bolts.values())}
        owner, out_at = w.ids[bolt.owner], None  # out_at: the depth at which the shank leaves its owner
        for depth in np.arange(SHANK_STEP, THROUGH_MAX + SHANK_LENGTH, SHANK_STEP):
            p = T[:3, 3] + depth * T[:3, 2]
            pb.resetBasePositionAndOrientation(self.probe, list(p), [0, 0, 0, 1], physicsClientId=c)
            if out_at is None:
                if depth < THROUGH_MAX and pb.getClosestPoints(self.probe, owner, 0.0, physicsClientId=c):
                    continue  # still in the owner: a bolt is as long as the joint is thick, plus its thread
                out_at = depth
            if depth > out_at + SHANK_LENGTH:
                return
            near = pb.getOverlappingObjects(list(p - 1e-4), list(p + 1e-4), physicsClientId=c) or ()
            for body in sorted({b for b, _ in near} - skip):
                name = w._names.get(body)
                if w.kinds.get(name) in ("part", "fixture", "floor") and pb.getClosestPoints(self.probe, body, 0.0, physicsClientId=c):
                    bolt.clamped_to = name
                    w.trace.bolted.append((w.t, robot, bolt.name, bolt.owner, name))
                    key = (bolt.owner, name)
                    if key not in self.fused:
                        self.fused[key] = w.fuse(bolt.owner, name, CLAMP_STRENGTH)
                    return

    def pose(self, name: str) -> np.ndarray:
        """World pose (4x4) of a bolt's frame as simulated: at the hole entry, z along the bolt."""
        return matrix_from_pb(*pb.getBasePositionAndOrientation(self.bolts[name].body, physicsClientId=self.world.client))

    def under(self, T_tcp: np.ndarray) -> tuple[Bolt, float] | None:
        """The bolt whose head a socket at T_tcp (4x4, z along the spindle) sits on, and the angle (rad) between
        the spindle and that bolt; None when the socket is on no bolt head."""
        for bolt in self.bolts.values():
            T = self.pose(bolt.name)
            z = T[:3, 2]
            off = T_tcp[:3, 3] - (T[:3, 3] - BOLT_HEAD * z)  # from the head's top centre to the socket mouth
            axial = float(-off @ z)  # how far the mouth stands back from the head, along the bolt
            lateral = float(np.linalg.norm(off + axial * z))
            if -0.5e-3 <= axial <= ENGAGE_AXIAL and lateral <= ENGAGE_LATERAL:
                return bolt, float(np.arccos(np.clip(T_tcp[:3, 2] @ z, -1.0, 1.0)))
        return None

    def follow(self, owner: str, T_world_owner: np.ndarray) -> None:
        """Put the bolts of a part moved by hand (a never-stepped planning scene) where the part now is."""
        for bolt in self.bolts.values():
            if bolt.owner == owner:
                pb.resetBasePositionAndOrientation(bolt.body, *pb_from_matrix(T_world_owner @ bolt.T_owner_bolt),
                                                   physicsClientId=self.world.client)

    def owned_by(self, owners: set[str]) -> list[int]:
        """Bodies of the bolts standing in these owners."""
        return [b.body for b in self.bolts.values() if b.owner in owners]


def _off_owner(world, owner: str, T_hole: np.ndarray) -> str:
    """Why a hole's entry is not on its owner's surface ("" when it is): along the hole's axis, from PROBE outside
    the entry to PROBE inside, the first thing met must be the owner, near the entry."""
    z, p = T_hole[:3, 2], T_hole[:3, 3]
    hit = pb.rayTest(list(p - PROBE * z), list(p + PROBE * z), physicsClientId=world.client)[0]
    if hit[0] == world.ids[owner]:
        skew = float(np.degrees(np.arccos(np.clip(-np.dot(z, hit[4]), -1.0, 1.0))))
        if skew > np.degrees(CROSS_THREAD_ANGLE):
            return (f"the hole's axis is {skew:.1f} deg off square to the face of '{owner}' it enters (at most "
                    f"{np.degrees(CROSS_THREAD_ANGLE):.0f} deg): a bolt there seats on one edge of its head and binds; "
                    f"check the hole's axis")
        return _unseated(world, owner, z, p)
    if hit[0] < 0:
        return f"it is not on '{owner}' in the twin: nothing of it lies within {PROBE * 1000:.0f} mm of the hole's entry along its axis"
    return f"it is not on '{owner}' in the twin: the hole's axis meets {world._names.get(hit[0], 'another body')} before '{owner}'"


def _unseated(world, owner: str, z: np.ndarray, p: np.ndarray) -> str:
    """Why a bolt's head has no seat round the hole ("" when it has): rays along the axis, HEAD_RADIUS from it all
    round, must each meet the owner near the entry; a hole nearer the edge than that leaves the head overhanging."""
    hits = world.rays_round(p, z, HEAD_RADIUS, SEAT_DIRECTIONS, PROBE, PROBE)
    seated = sum(1 for h in hits if h == world.ids[owner])
    if seated < SEAT_DIRECTIONS:
        return (f"the bolt's head ({HEAD_RADIUS * 2000:.0f} mm across) would overhang the edge of '{owner}': only {seated} "
                f"of {SEAT_DIRECTIONS} points round the hole, {HEAD_RADIUS * 1000:.0f} mm from its axis, lie on '{owner}' "
                f"(the hole is too near the edge; check its position)")
    return ""


def _lean(tilt: float) -> np.ndarray:
    """A rotation of `tilt` rad about the hole frame's x axis, pivoting at the entry."""
    c, s = np.cos(tilt), np.sin(tilt)
    R = np.eye(4)
    R[1:3, 1:3] = [[c, -s], [s, c]]
    return R
