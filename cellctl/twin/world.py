"""World: one PyBullet client holding a cell's twin; steps at a fixed rate and records what happens."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from cellctl.twin._pybullet import pb
from spatialmath import SE3

from cellctl.errors import ProgramError
from cellctl.kinematics.arm import Arm
from cellctl.model.cell import FLANGE, Cell
from cellctl.twin.assembly import robot_with_tool
from cellctl.twin.poses import matrix_from_pb, pb_from_se3, se3_from_pb
from cellctl.twin.trace import Attachment, Contact, RobotTrace, Trace

DT = 1.0 / 240.0  # s: PyBullet's own default step, fine enough for contact-rich grasping
POSITION_GAIN = 0.6  # PyBullet motor gains of the simulated joint servos
VELOCITY_GAIN = 1.0
FINGER_FRICTION = 1.2
PART_FRICTION = 0.8
TOUCH = 1e-4  # m: bodies closer than this touch (the same threshold for grasps and for collisions)
LAYOUT_TOL = 2e-3  # m: bodies laid out overlapping by more than this are a fault of the cell (margins are ~1 mm)


@dataclass
class SimRobot:
    """Ids and indices of one robot (with its tool) inside the client."""

    name: str
    body: int
    arm: Arm
    joints: list[int]
    flange: int
    fingers: list[int] = field(default_factory=list)
    finger_effort: float = 0.0
    finger_speed: float = 0.0
    finger_open: float = 0.0
    q_cmd: np.ndarray | None = None
    qd_cmd: np.ndarray | None = None
    q_expected: np.ndarray | None = None
    finger_cmd: float | None = None
    attachment: tuple[str, int] | None = None  # (part, constraint id)
    tool_links: list[int] = field(default_factory=list)
    spindle: int | None = None  # a nutrunner's spindle joint
    spindle_speed: float = 0.0  # rad/s commanded
    spindle_effort: float = 0.0  # N m the spindle motor can give
    T_flange_tcp: np.ndarray = field(default_factory=lambda: np.eye(4))


class World:
    """A cell's twin in its own PyBullet client (DIRECT unless gui=True); several may live in one process."""

    def __init__(self, cell: Cell, gui: bool = False, dt: float = DT):
        self.cell = cell
        self.dt = dt
        self.t = 0.0
        self.steps = 0
        self.client = pb.connect(pb.GUI if gui else pb.DIRECT)
        self._tmp = tempfile.TemporaryDirectory(prefix="cellctl-")
        self._before: list[Callable[[float], None]] = []
        self._after: list[Callable[[float], None]] = []
        self._names: dict[int, str] = {}
        self._links: dict[int, dict[int, str]] = {}
        self.kinds: dict[str, str] = {}
        self.ids: dict[str, int] = {}
        self.robots: dict[str, SimRobot] = {}
        self._com_inv: dict[str, np.ndarray] = {}  # part -> T_com_urdf (PyBullet reports bases at the COM)
        c = self.client
        pb.setGravity(0, 0, -9.81, physicsClientId=c)
        pb.setTimeStep(dt, physicsClientId=c)
        pb.setPhysicsEngineParameter(deterministicOverlappingPairs=1, numSolverIterations=100, physicsClientId=c)
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        self.trace = Trace(dt, bodies=dict(self.kinds))
        for name, r in self.robots.items():
            self.trace.mounts[name] = self._links[r.body][-1]
            self.trace.tool_links[name] = sorted(self._links[r.body][j] for j in r.tool_links)
            self.trace.finger_links[name] = sorted(self._links[r.body][j] for j in r.fingers)
            lim = r.arm.limits
            self.trace.robots[name] = RobotTrace(name, r.arm.joint_names, lim.lower, lim.upper, lim.velocity, lim.effort)
        for name in cell.parts:
            self.trace.parts[name] = []
        self.trace.layout_overlaps = self._layout_overlaps()
        self._zones = self._build_zones()
        self._occupants: dict[str, tuple] = {}
        self._record()

    # ------------------------------------------------------------------ building
    def _build_zones(self) -> dict[str, int]:
        """Each shared zone as a box that touches nothing (no contacts), only measured against: which robots'
        real geometry (with tool and held part) is inside it is recorded at every step."""
        out = {}
        for name, z in self.cell.zones.items():
            shape = pb.createCollisionShape(pb.GEOM_BOX, halfExtents=list((z.hi - z.lo) / 2), physicsClientId=self.client)
            # an explicit, invisible visual: without one PyBullet would draw the collision box over the cell
            unseen = pb.createVisualShape(pb.GEOM_SPHERE, radius=1e-4, rgbaColor=[0, 0, 0, 0], physicsClientId=self.client)
            body = pb.createMultiBody(0, shape, unseen, list((z.hi + z.lo) / 2), physicsClientId=self.client)
            pb.setCollisionFilterGroupMask(body, -1, 0, 0, physicsClientId=self.client)
            out[name] = body
        return out

    def zone_occupants(self, zone: str) -> tuple[str, ...]:
        """The robots whose links, tool or held part are inside the zone now."""
        c, body = self.client, self._zones[zone]
        inside = []
        for name, r in self.robots.items():
            bodies = [r.body] + ([self.ids[r.attachment[0]]] if r.attachment else [])
            if any(pb.getClosestPoints(body, b, 0.0, physicsClientId=c) for b in bodies):
                inside.append(name)
        return tuple(inside)

    def command_spindle(self, robot: str, speed: float) -> None:
        self.robots[robot].spindle_speed = float(speed)

    def spindle_state(self, robot: str) -> tuple[float, float]:
        """The spindle's angle (rad) and speed (rad/s)."""
        r = self.robots[robot]
        s = pb.getJointState(r.body, r.spindle, physicsClientId=self.client)
        return float(s[0]), float(s[1])

    def ray_to_work(self, robot: str, back: float, reach: float) -> tuple[str, float] | None:
        """Along the TCP's z axis, from `back` m behind the TCP to `reach` m beyond it: the first fixture or part
        hit and the distance (m) from the TCP to the hit, or None."""
        T = self.tcp_matrix(robot)
        z = T[:3, 2]
        start, end = T[:3, 3] - back * z, T[:3, 3] + reach * z
        hit = pb.rayTest(list(start), list(end), physicsClientId=self.client)[0]
        if hit[0] < 0 or self.kinds.get(self._names.get(hit[0], ""), "") not in ("part", "fixture"):
            return None
        return self._names[hit[0]], float(hit[2] * (back + reach) - back)

    def _register(self, name: str, body: int, kind: str) -> None:
        self._names[body], self.ids[name], self.kinds[name] = name, body, kind
        links = {-1: pb.getBodyInfo(body, physicsClientId=self.client)[0].decode()}
        for j in range(pb.getNumJoints(body, physicsClientId=self.client)):
            links[j] = pb.getJointInfo(body, j, physicsClientId=self.client)[12].decode()
        self._links[body] = links

    def _load(self, urdf: Path, pos, orn, shown: str | None = None, **kw) -> int:
        try:
            return pb.loadURDF(str(urdf), pos, orn, physicsClientId=self.client, **kw)
        except pb.error as exc:
            raise ProgramError(f"PyBullet cannot load this URDF ({exc}); check its links, joints and geometry", shown or str(urdf))

    def _build(self) -> None:
        c = self.client
        floor_shape = pb.createCollisionShape(pb.GEOM_PLANE, physicsClientId=c)
        floor_visual = pb.createVisualShape(pb.GEOM_BOX, halfExtents=[4, 4, 0.0005], visualFramePosition=[0, 0, -0.0005],
                                            rgbaColor=[0.85, 0.85, 0.82, 1], physicsClientId=c)
        self._register("floor", pb.createMultiBody(0, floor_shape, floor_visual, physicsClientId=c), "floor")
        for name, fx in self.cell.fixtures.items():
            pos, orn = pb_from_se3(fx.T_world_fixture)
            body = self._load(fx.urdf, pos, orn, useFixedBase=True)
            self._register(name, body, "fixture")
        for name, part in self.cell.parts.items():
            pos, orn = pb_from_se3(part.T_world_part)
            body = self._load(part.urdf, pos, orn)
            self._register(name, body, "part")
            info = pb.getDynamicsInfo(body, -1, physicsClientId=c)
            T_urdf_com = se3_from_pb(info[3], info[4])
            self._com_inv[name] = T_urdf_com.inv().A
            pb.resetBasePositionAndOrientation(body, *pb_from_se3(part.T_world_part * T_urdf_com), physicsClientId=c)
            # friction anchors and a little spinning friction keep a resting part still: without them a bracket on
            # a table creeps about 2 deg a minute in PyBullet, enough to fail a long cycle's grasp or placement
            pb.changeDynamics(body, -1, lateralFriction=PART_FRICTION, spinningFriction=0.002, rollingFriction=1e-4,
                              frictionAnchor=1, physicsClientId=c)
        for name, robot in self.cell.robots.items():
            self._build_robot(name, robot)

    def _build_robot(self, name: str, robot) -> None:
        c = self.client
        tool = robot.tool
        urdf = robot_with_tool(robot.urdf, tool.urdf if tool else None, FLANGE, Path(self._tmp.name))
        pos, orn = pb_from_se3(robot.T_world_base)
        body = self._load(urdf, pos, orn, useFixedBase=True, flags=pb.URDF_USE_INERTIA_FROM_FILE | pb.URDF_USE_SELF_COLLISION,
                          shown=f"{robot.urdf}" + (f" with tool {tool.urdf}" if tool else ""))
        self._register(name, body, "robot")
        arm = Arm(robot.urdf, robot.T_world_base, tool.T_flange_tcp if tool else SE3(), FLANGE, robot.max_accel)
        by_joint = {pb.getJointInfo(body, j, physicsClientId=c)[1].decode(): j for j in range(pb.getNumJoints(body, physicsClientId=c))}
        by_link = {v: k for k, v in self._links[body].items()}
        sim = SimRobot(name, body, arm, [by_joint[n] for n in arm.joint_names], by_link[FLANGE], T_flange_tcp=arm.T_flange_tcp.A)
        for j in range(pb.getNumJoints(body, physicsClientId=c)):
            info = pb.getJointInfo(body, j, physicsClientId=c)
            parent = j
            while parent != -1 and parent != sim.flange:
                parent = pb.getJointInfo(body, parent, physicsClientId=c)[16]
            if parent == sim.flange and j != sim.flange:
                sim.tool_links.append(j)
            if info[2] == pb.JOINT_REVOLUTE and j not in sim.joints and parent == sim.flange:
                sim.spindle, sim.spindle_effort = j, float(info[10])
                pb.setJointMotorControl2(body, j, pb.VELOCITY_CONTROL, targetVelocity=0, force=0, physicsClientId=c)
            if info[2] == pb.JOINT_PRISMATIC and j not in sim.joints:
                sim.fingers.append(j)
                sim.finger_effort, sim.finger_speed, sim.finger_open = float(info[10]), float(info[11]), float(info[9])
                pb.changeDynamics(body, j, lateralFriction=FINGER_FRICTION, physicsClientId=c)
        self._ignore_neighbours(sim)
        for j, q in zip(sim.joints, robot.home):
            pb.resetJointState(body, j, float(q), physicsClientId=c)
        for j in sim.fingers:
            pb.resetJointState(body, j, sim.finger_open, physicsClientId=c)
        sim.q_cmd, sim.qd_cmd = np.array(robot.home, float), np.zeros(arm.n)
        sim.q_expected = sim.q_cmd
        sim.finger_cmd = sim.finger_open
        self.robots[name] = sim
        self._apply_commands()

    def _ignore_neighbours(self, sim: SimRobot) -> None:
        """Self-collision is on, except between links that touch by construction: links joined by a joint
        once fixed joints are collapsed (a link and the next one), and the tool's own links (its fingers)."""
        c, body = self.client, sim.body
        n = pb.getNumJoints(body, physicsClientId=c)
        parent = {j: pb.getJointInfo(body, j, physicsClientId=c)[16] for j in range(n)}
        fixed = {j for j in range(n) if pb.getJointInfo(body, j, physicsClientId=c)[2] == pb.JOINT_FIXED}

        def rigid_root(link: int) -> int:
            while link in fixed:
                link = parent[link]
            return link

        group = {link: rigid_root(link) for link in [-1, *range(n)]}
        tool = set(sim.tool_links)
        for a in [-1, *range(n)]:
            for b in range(max(a + 1, 0), n):
                ga, gb = group[a], group[b]
                neighbours = ga == gb or (gb != -1 and rigid_root(parent[gb]) == ga) or (ga != -1 and rigid_root(parent[ga]) == gb)
                if neighbours or (a in tool and b in tool):
                    pb.setCollisionFilterPair(body, body, a, b, 0, physicsClientId=c)

    def _layout_overlaps(self) -> list[tuple[str, str, float]]:
        """Bodies that interpenetrate as the cell file lays them out (deeper than LAYOUT_TOL): a robot base in a
        table leg, a part inside a fixture. PyBullet would silently push them apart, so they are found here."""
        names = [n for n in self.ids if self.kinds[n] != "floor"]
        found = []
        for i, a in enumerate(names):
            for b in names[i + 1:] + ["floor"]:
                if b == "floor" and self.kinds[a] == "fixture":
                    continue  # fixtures stand on (or are set into) the floor
                pts = pb.getClosestPoints(self.ids[a], self.ids[b], 0.0, physicsClientId=self.client)
                deep = [p for p in pts if p[8] < -LAYOUT_TOL]
                if deep:
                    p = min(deep, key=lambda p: p[8])
                    found.append((self._name(p[1], p[3]), self._name(p[2], p[4]), float(-p[8])))
        return found

    # ------------------------------------------------------------------ stepping
    def before_step(self, fn: Callable[[float], None]) -> None:
        """Run fn(t) before every physics step (drivers send their commands here)."""
        self._before.append(fn)

    def after_step(self, fn: Callable[[float], None]) -> None:
        self._after.append(fn)

    def step(self) -> None:
        for fn in self._before:
            fn(self.t)
        self._apply_commands()
        pb.stepSimulation(physicsClientId=self.client)
        self.steps += 1
        self.t = round(self.steps * self.dt, 9)  # counted, not summed: no drift over long cycles
        self._record()
        for fn in self._after:
            fn(self.t)

    def _apply_commands(self) -> None:
        c = self.client
        for r in self.robots.values():
            pb.setJointMotorControlArray(r.body, r.joints, pb.POSITION_CONTROL, targetPositions=list(r.q_cmd),
                                         targetVelocities=list(r.qd_cmd),
                                         forces=list(r.arm.limits.effort), positionGains=[POSITION_GAIN] * len(r.joints),
                                         velocityGains=[VELOCITY_GAIN] * len(r.joints), physicsClientId=c)
            for j in r.fingers:
                pb.setJointMotorControl2(r.body, j, pb.POSITION_CONTROL, targetPosition=r.finger_cmd, force=r.finger_effort,
                                         maxVelocity=r.finger_speed, physicsClientId=c)
            if r.spindle is not None:
                pb.setJointMotorControl2(r.body, r.spindle, pb.VELOCITY_CONTROL, targetVelocity=r.spindle_speed,
                                         force=r.spindle_effort, physicsClientId=c)

    # ------------------------------------------------------------------ commands (used by the sim drivers)
    def command_joints(self, robot: str, q: np.ndarray, qd: np.ndarray, q_expected: np.ndarray | None = None) -> None:
        """Set the joint servos' targets for the next step; q_expected (recorded as the command) is where
        the arm should be when the step ends."""
        r = self.robots[robot]
        r.q_cmd, r.qd_cmd = np.asarray(q, float), np.asarray(qd, float)
        r.q_expected = np.asarray(q_expected if q_expected is not None else q, float)

    def command_fingers(self, robot: str, opening: float) -> None:
        """Drive every finger joint to `opening` (its joint value, m), at the finger's force and speed limits."""
        self.robots[robot].finger_cmd = float(opening)

    # ------------------------------------------------------------------ reading the world
    def joint_state(self, robot: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r = self.robots[robot]
        states = pb.getJointStates(r.body, r.joints, physicsClientId=self.client)
        return (np.array([s[0] for s in states]), np.array([s[1] for s in states]), np.array([s[3] for s in states]))

    def finger_state(self, robot: str) -> tuple[np.ndarray, np.ndarray]:
        r = self.robots[robot]
        states = pb.getJointStates(r.body, r.fingers, physicsClientId=self.client)
        return np.array([s[0] for s in states]), np.array([s[1] for s in states])

    def link_matrix(self, robot: str, link: int) -> np.ndarray:
        state = pb.getLinkState(self.robots[robot].body, link, computeForwardKinematics=True, physicsClientId=self.client)
        return matrix_from_pb(state[4], state[5])

    def tcp_matrix(self, robot: str) -> np.ndarray:
        r = self.robots[robot]
        return self.link_matrix(robot, r.flange) @ r.T_flange_tcp

    def part_matrix(self, part: str) -> np.ndarray:
        pos, orn = pb.getBasePositionAndOrientation(self.ids[part], physicsClientId=self.client)
        return matrix_from_pb(pos, orn) @ self._com_inv[part]

    def tcp_pose(self, robot: str) -> SE3:
        """World pose of the robot's TCP, as simulated."""
        return SE3(self.tcp_matrix(robot), check=False)

    def part_pose(self, part: str) -> SE3:
        """World pose of a part's URDF frame, as simulated."""
        return SE3(self.part_matrix(part), check=False)

    def finger_contacts(self, robot: str) -> list[set[str]]:
        """For each finger, the parts it touches now."""
        r = self.robots[robot]
        out = []
        for j in r.fingers:
            pts = pb.getContactPoints(bodyA=r.body, linkIndexA=j, physicsClientId=self.client)
            out.append({self._names[p[2]] for p in pts if self.kinds.get(self._names.get(p[2], ""), "") == "part" and p[8] < TOUCH})
        return out

    def between_fingers(self, robot: str) -> set[str]:
        """The parts that every finger of the robot's gripper touches now."""
        touched = self.finger_contacts(robot)
        return set.intersection(*touched) if touched else set()

    def distance(self, a: str, b: str, within: float = 1.0) -> tuple[float, str, str] | None:
        """Shortest distance (m, negative when penetrating) between two bodies and the links it is between,
        or None when they are farther apart than `within`."""
        pts = pb.getClosestPoints(self.ids[a], self.ids[b], within, physicsClientId=self.client)
        if not pts:
            return None
        p = min(pts, key=lambda p: p[8])
        return float(p[8]), self._name(p[1], p[3]), self._name(p[2], p[4])

    def attach(self, robot: str, part: str) -> None:
        """Hold part rigidly in the gripper (a fixed constraint at its current relative pose)."""
        c, r = self.client, self.robots[robot]
        link = pb.getLinkState(r.body, r.flange, physicsClientId=c)
        T_world_link = se3_from_pb(link[0], link[1])  # the constraint frames are the links' inertial frames
        pos, orn = pb.getBasePositionAndOrientation(self.ids[part], physicsClientId=c)
        T_link_part = T_world_link.inv() * se3_from_pb(pos, orn)
        ppos, porn = pb_from_se3(T_link_part)
        cid = pb.createConstraint(r.body, r.flange, self.ids[part], -1, pb.JOINT_FIXED, [0, 0, 0], ppos, [0, 0, 0],
                                  parentFrameOrientation=porn, physicsClientId=c)
        # the hold is only as strong as the jaws' friction: a weak gripper lets a heavy part slip
        mu = FINGER_FRICTION * pb.getDynamicsInfo(self.ids[part], -1, physicsClientId=c)[1]
        pb.changeConstraint(cid, maxForce=mu * len(r.fingers) * r.finger_effort, physicsClientId=c)
        r.attachment = (part, cid)
        self.trace.attachments.append(Attachment(self.t, "attach", robot, part, self._grip_depths(robot, part)))

    def _grip_depths(self, robot: str, part: str) -> tuple:
        """How deep each finger reaches over the part along the tool's approach axis (m): the larger of the
        extent of its contact patch and the overlap of the finger's and the part's bounding boxes (a point
        contact, on a sphere or a rod, has no patch extent but can still be gripped deep)."""
        c, r = self.client, self.robots[robot]
        axis = self.tcp_matrix(robot)[:3, 2]

        def along(aabb) -> np.ndarray:
            lo, hi = np.array(aabb[0]), np.array(aabb[1])
            corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
            return corners @ axis

        part_near = float(along(pb.getAABB(self.ids[part], -1, physicsClientId=c)).min())
        depths = []
        for j in r.fingers:
            pts = pb.getContactPoints(bodyA=r.body, bodyB=self.ids[part], linkIndexA=j, physicsClientId=c)
            patch = [float(np.dot(p[5], axis)) for p in pts]
            extent = max(patch) - min(patch) if patch else 0.0
            overlap = float(along(pb.getAABB(r.body, j, physicsClientId=c)).max()) - part_near
            depths.append(max(extent, overlap))
        return tuple(depths)

    def detach(self, robot: str) -> None:
        r = self.robots[robot]
        if r.attachment is not None:
            part, cid = r.attachment
            pb.removeConstraint(cid, physicsClientId=self.client)
            r.attachment = None
            self.trace.attachments.append(Attachment(self.t, "detach", robot, part))

    def held_part(self, robot: str) -> str | None:
        a = self.robots[robot].attachment
        return a[0] if a else None

    # ------------------------------------------------------------------ recording
    def _name(self, body: int, link: int) -> str:
        name = self._names[body]
        if self.kinds[name] == "robot":
            return f"{name}/{self._links[body][link]}"
        return name if link == -1 else f"{name}/{self._links[body][link]}"

    def _record(self) -> None:
        tr = self.trace
        tr.t.append(self.t)
        for name, r in self.robots.items():
            q, qd, tau = self.joint_state(name)
            rt = tr.robots[name]
            rt.q.append(q)
            rt.qd.append(qd)
            rt.tau.append(tau)
            rt.q_cmd.append(r.q_expected.copy())
            rt.tcp.append(self.tcp_matrix(name))
            rt.fingers.append(self.finger_state(name)[0] if r.fingers else np.zeros(0))
        for name in self.cell.parts:
            tr.parts[name].append(self.part_matrix(name))
        for zone in self._zones:
            now = self.zone_occupants(zone)
            if now != self._occupants.get(zone, ()):
                tr.zone_changes.append((self.t, zone, now))
                self._occupants[zone] = now
        pairs: dict[tuple[str, str], list] = {}
        for p in pb.getContactPoints(physicsClientId=self.client):
            depth = -p[8]
            if p[8] >= TOUCH:
                continue
            a, b = self._name(p[1], p[3]), self._name(p[2], p[4])
            if a > b:
                a, b = b, a
            acc = pairs.get((a, b))
            if acc is None:
                acc = pairs[(a, b)] = [0.0, 0.0, tuple(round(x, 4) for x in p[5])]
            acc[0] = max(acc[0], depth)
            acc[1] += p[9]
        for (a, b), (depth, force, where) in sorted(pairs.items()):
            tr.contacts.append(Contact(self.t, a, b, depth, force, where))

    def close(self) -> None:
        if self.client is not None and pb.isConnected(physicsClientId=self.client):
            pb.disconnect(physicsClientId=self.client)
        self.client = None
        self._tmp.cleanup()

    def __enter__(self) -> "World":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
