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
from cellctl.model.cell import FLANGE, Cell, riders
from cellctl.twin.assembly import robot_with_tool
from cellctl.twin.beads import Beads
from cellctl.twin.bolts import Bolts
from cellctl.twin.poses import matrix_from_pb, pb_from_se3, se3_from_pb
from cellctl.twin.trace import Attachment, Contact, RobotTrace, Trace

DT = 1.0 / 240.0  # s: PyBullet's own default step, fine enough for contact-rich grasping
POSITION_GAIN = 0.6  # PyBullet motor gains of the simulated joint servos
VELOCITY_GAIN = 1.0
FINGER_FRICTION = 1.2
PART_FRICTION = 0.8
PAD_RADIUS = 0.01  # m: the lever of a finger pad's friction against a held part turning in the jaws
AREA_CONTACT = 1e-3  # m: a contact patch this long along the approach is a face on a face, and measures the grip
TOUCH = 1e-4  # m: bodies closer than this touch (the same threshold for grasps and for collisions)
REACTION_FRAME = pb.WORLD_FRAME  # applyExternalTorque on a link: the frame its torque is given in (tests/test_fasten_physics)
RESTING_GAP = 0.001  # m: parts this close touch
UPWARD = 0.9  # the z of the surface normal under a part that it rests on (within about 25 deg of up; an edge on an
#               edge, at 45 deg, is not resting)
SPINDLE_INERTIA = 0.02  # kg m^2: a geared nutrunner drive's rotor as the spindle sees it
ROBOT_SPEED_MAX = 15.0  # m/s no point of a robot or its held part moves faster (arms reach a few m/s at most)
LAYOUT_TOL = 3e-3  # m: bodies laid out overlapping by more than this are a fault of the cell (two touching cylinders read 2 mm: a margin each)


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
    finger_press: float | None = None  # N a spot gun's electrode presses with (force control); None: position control
    attachment: tuple[str, tuple[int, int]] | None = None  # (part, (hold, twist) constraint ids)
    riders: tuple[str, ...] = ()  # the parts resting on the held one when it was gripped (they count as carried)
    tool_links: list[int] = field(default_factory=list)
    spindle: int | None = None  # a nutrunner's spindle joint
    spindle_torque: float = 0.0  # N m on the spindle joint this step (its drive's torque less the bolt's resistance)
    spindle_parent: int = -1  # the link the spindle turns in (the tool housing)
    spindle_reaction: float = 0.0  # N m the bolt's resistance puts back on the tool housing through the spindle
    spindle_effort: float = 0.0  # N m the spindle motor can give
    T_flange_tcp: np.ndarray = field(default_factory=lambda: np.eye(4))
    self_ignored: set = field(default_factory=set)  # (link a, link b), a < b: pairs that never collide with each other
    read: list[int] = field(default_factory=list)  # joints read in one call each step: arm, fingers, spindle
    motor: dict = field(default_factory=dict)  # the arm servos' fixed settings (forces, gains)
    sent: tuple = ((), ())  # the arm and finger commands last sent (PyBullet's position motors keep them until changed)


@dataclass
class Snapshot:
    """What the world looked like after the last step, read once: per robot its joints (see World._joints_now) and
    TCP, per part its pose."""

    joints: dict
    tcp: dict
    parts: dict


def _frozen(values) -> np.ndarray:
    a = np.array(values, float)
    a.flags.writeable = False
    return a


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
        # the state read once after each step (joints, TCPs, parts); reads between steps come from it, since only
        # a step changes the live world. Off until the first step: a never-stepped world (the planning scene)
        # moves its bodies by hand and always reads PyBullet.
        self._snap: Snapshot | None = None
        self._link_names: dict[tuple[int, int], str] = {}  # (body, link) -> "body/link"
        self._pair_names: dict[tuple, tuple[str, str]] = {}  # a contact's (body, body, link, link) -> sorted names
        c = self.client
        pb.setGravity(0, 0, -9.81, physicsClientId=c)
        pb.setTimeStep(dt, physicsClientId=c)
        pb.setPhysicsEngineParameter(deterministicOverlappingPairs=1, numSolverIterations=100, physicsClientId=c)
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        self.trace = Trace(dt, bodies=dict(self.kinds), holes_off_owner=dict(self.bolts.off_owner))
        for name, r in self.robots.items():
            self.trace.mounts[name] = self._links[r.body][-1]
            self.trace.tool_links[name] = sorted(self._links[r.body][j] for j in r.tool_links)
            self.trace.finger_links[name] = sorted(self._links[r.body][j] for j in r.fingers)
            lim = r.arm.limits
            self.trace.robots[name] = RobotTrace(name, r.arm.joint_names, lim.lower, lim.upper, lim.velocity, lim.effort)
        for name in cell.parts:
            self.trace.parts[name] = []
        self.trace.layout_overlaps = self._layout_overlaps()
        self.trace.resting = self.resting()
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
        return self._occupancy()[zone]

    def _occupancy(self) -> dict[str, tuple[str, ...]]:
        """Per zone, the robots inside it now: measured exactly for the robots (and held parts) PyBullet's broadphase
        finds near the zone. Its boxes are those of the last step's start (grown by the contact threshold), so the
        zone is grown by as far as a robot can move in a step."""
        c, reach, out, owner = self.client, ROBOT_SPEED_MAX * self.dt, {}, {}
        for name, r in self.robots.items():
            owner[r.body] = name
            if r.attachment:
                for part in (r.attachment[0], *r.riders):  # the held part and what rides on it
                    owner[self.ids[part]] = name
        for zone, body in self._zones.items():
            z, inside = self.cell.zones[zone], set()
            near = pb.getOverlappingObjects(list(z.lo - reach), list(z.hi + reach), physicsClientId=c) or ()
            for b, link in reversed(near):  # a robot's last links first: its tool end is likeliest inside
                name = owner.get(b)
                if name is not None and name not in inside and \
                        pb.getClosestPoints(body, b, 0.0, linkIndexB=link, physicsClientId=c):
                    inside.add(name)
            out[zone] = tuple(name for name in self.robots if name in inside)
        return out

    def command_spindle(self, robot: str, torque: float, resisted: float = 0.0) -> None:
        """Net torque (N m) on the spindle joint for the next step; the joint's motion is simulated from it.
        `resisted`: the part of the drive's torque the bolt takes, which the tool housing (and so the arm's wrist)
        must hold as a reaction, as it does on a nutrunner without a reaction arm."""
        r = self.robots[robot]
        r.spindle_torque, r.spindle_reaction = float(torque), float(resisted)

    def spindle_state(self, robot: str) -> tuple[float, float]:
        """The spindle's angle (rad) and speed (rad/s)."""
        return self._joints_now(robot)[5]

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
        self.bolts = Bolts(self)
        self.beads = Beads(self)
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
                sim.spindle, sim.spindle_effort, sim.spindle_parent = j, float(info[10]), int(info[16])
                pb.setJointMotorControl2(body, j, pb.VELOCITY_CONTROL, targetVelocity=0, force=0, physicsClientId=c)
                # the drive's rotor inertia, reflected through the gearbox, dominates the socket's own
                pb.changeDynamics(body, j, localInertiaDiagonal=[SPINDLE_INERTIA] * 3, physicsClientId=c)
            if info[2] == pb.JOINT_PRISMATIC and j not in sim.joints:
                sim.fingers.append(j)
                sim.finger_effort, sim.finger_speed, sim.finger_open = float(info[10]), float(info[11]), float(info[9])
                pb.changeDynamics(body, j, lateralFriction=FINGER_FRICTION, physicsClientId=c)
        self._ignore_neighbours(sim)
        sim.read = sim.joints + sim.fingers + ([sim.spindle] if sim.spindle is not None else [])
        n = len(sim.joints)
        sim.motor = dict(forces=list(arm.limits.effort), positionGains=[POSITION_GAIN] * n, velocityGains=[VELOCITY_GAIN] * n)
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
                    sim.self_ignored.add((a, b))

    def resting(self) -> dict[str, str]:
        """Which part lies on which, as the parts are now: A rests on B where they touch (within RESTING_GAP) with
        B's surface facing up under A (on the one it touches most). What rests on a part goes where it goes."""
        c, parts = self.client, sorted(self.cell.parts)
        out = {}
        for a in parts:
            under = {}
            for b in parts:
                if b != a:
                    up = [p for p in pb.getClosestPoints(self.ids[a], self.ids[b], RESTING_GAP, physicsClientId=c) if p[7][2] > UPWARD]
                    if up:
                        under[b] = len(up)
            if under:
                out[a] = max(sorted(under), key=under.get)
        return out

    def _layout_overlaps(self) -> list[tuple[str, str, float]]:
        """Bodies that interpenetrate as the cell file lays them out (deeper than LAYOUT_TOL): a robot base in a
        table leg, a part inside a fixture. PyBullet would silently push them apart, so they are found here."""
        names = [n for n in self.ids if self.kinds[n] != "floor"]
        found = []
        for i, a in enumerate(names):
            for b in names[i + 1:] + ["floor"]:
                if b == "floor" and self.kinds[a] == "fixture":
                    continue  # fixtures stand on (or are set into) the floor
                if "bolt" in (self.kinds[a], self.kinds[b]) and (a.startswith(b + ".") or b.startswith(a + ".")):
                    continue  # a bolt stands in its owner's hole
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
        self._snap = None
        pb.stepSimulation(physicsClientId=self.client)
        self.steps += 1
        self.t = round(self.steps * self.dt, 9)  # counted, not summed: no drift over long cycles
        self._record()
        for fn in self._after:
            fn(self.t)

    def _apply_commands(self) -> None:
        """Send the servo targets that changed (position motors keep theirs); torques every step (PyBullet clears
        applied torques after each step)."""
        c = self.client
        for r in self.robots.values():
            arm = (r.q_cmd.tobytes(), r.qd_cmd.tobytes())
            fingers = (r.finger_cmd, r.finger_effort, r.finger_speed, r.finger_press)
            if arm != r.sent[0]:
                pb.setJointMotorControlArray(r.body, r.joints, pb.POSITION_CONTROL, targetPositions=r.q_cmd.tolist(),
                                             targetVelocities=r.qd_cmd.tolist(), physicsClientId=c, **r.motor)
            for j in r.fingers if fingers != r.sent[1] or r.finger_press is not None else ():  # a press: every step
                if r.finger_press is not None:  # force control: the servo motor off, its force on the joint (closing)
                    pb.setJointMotorControl2(r.body, j, pb.VELOCITY_CONTROL, targetVelocity=0, force=0, physicsClientId=c)
                    pb.setJointMotorControl2(r.body, j, pb.TORQUE_CONTROL, force=-r.finger_press, physicsClientId=c)
                    continue
                pb.setJointMotorControl2(r.body, j, pb.POSITION_CONTROL, targetPosition=r.finger_cmd, force=r.finger_effort,
                                         maxVelocity=r.finger_speed, physicsClientId=c)
            r.sent = (arm, fingers)
            if r.spindle is not None and r.spindle_torque:
                pb.setJointMotorControl2(r.body, r.spindle, pb.TORQUE_CONTROL, force=r.spindle_torque, physicsClientId=c)
            if r.spindle is not None and r.spindle_reaction:
                # the joint's motor reacts only the net torque on the housing; the bolt's share comes back through the
                # socket onto the housing too (applied about the spindle's axis: the TCP's z)
                axis = self.tcp_matrix(r.name)[:3, 2]
                pb.applyExternalTorque(r.body, r.spindle_parent, list(-r.spindle_reaction * axis), REACTION_FRAME,
                                       physicsClientId=c)

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

    def command_electrode(self, robot: str, opening: float, force: float) -> None:
        """Drive a spot gun's moving electrode (its one prismatic joint, kept as the robot's finger) to `opening` (m),
        pressing with at most `force` N (the servo's force limit: the clamp force once the electrodes meet the sheet)."""
        r = self.robots[robot]
        r.finger_cmd, r.finger_effort, r.finger_press = float(opening), float(force), None

    def press_electrode(self, robot: str, force: float) -> None:
        """Press a spot gun's moving electrode closed with exactly `force` N (force control, as a servo gun clamps once
        both electrodes are on the sheet); command_electrode returns it to position control."""
        self.robots[robot].finger_press = float(force)

    # ------------------------------------------------------------------ reading the world
    def _joints_now(self, robot: str) -> tuple:
        """(q, qd, tau, finger positions, finger speeds, spindle (angle, speed) or None) in one call, or from this
        step's snapshot; read-only arrays, as they go into the trace (the public readers hand out copies)."""
        if self._snap is not None:
            return self._snap.joints[robot]
        r = self.robots[robot]
        states = pb.getJointStates(r.body, r.read, physicsClientId=self.client)
        pos, vel = _frozen([s[0] for s in states]), _frozen([s[1] for s in states])
        n, f = len(r.joints), len(r.joints) + len(r.fingers)
        spindle = (float(pos[f]), float(vel[f])) if r.spindle is not None else None
        return pos[:n], vel[:n], _frozen([s[3] for s in states[:n]]), pos[n:f], vel[n:f], spindle

    def joint_state(self, robot: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return tuple(a.copy() for a in self._joints_now(robot)[:3])

    def finger_state(self, robot: str) -> tuple[np.ndarray, np.ndarray]:
        return tuple(a.copy() for a in self._joints_now(robot)[3:5])

    def link_matrix(self, robot: str, link: int) -> np.ndarray:
        state = pb.getLinkState(self.robots[robot].body, link, computeForwardKinematics=True, physicsClientId=self.client)
        return matrix_from_pb(state[4], state[5])

    def tcp_matrix(self, robot: str) -> np.ndarray:
        """World pose (4x4) of the robot's TCP now."""
        return self._tcp_now(robot).copy()

    def part_matrix(self, part: str) -> np.ndarray:
        """World pose (4x4) of a part's URDF frame now."""
        return self._part_now(part).copy()

    def _tcp_now(self, robot: str) -> np.ndarray:
        if self._snap is not None:
            return self._snap.tcp[robot]
        r = self.robots[robot]
        T = self.link_matrix(robot, r.flange) @ r.T_flange_tcp
        T.flags.writeable = False
        return T

    def _part_now(self, part: str) -> np.ndarray:
        if self._snap is not None:
            return self._snap.parts[part]
        pos, orn = pb.getBasePositionAndOrientation(self.ids[part], physicsClientId=self.client)
        T = matrix_from_pb(pos, orn) @ self._com_inv[part]
        T.flags.writeable = False
        return T

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

    def tool_contacts(self, robot: str) -> list[tuple[str, str, np.ndarray, float]]:
        """Every contact of the robot's tool with a part or fixture now: (tool link, body, world point on the tool,
        normal force in N)."""
        r, out = self.robots[robot], []
        tool = set(r.tool_links)
        for p in pb.getContactPoints(bodyA=r.body, physicsClientId=self.client):
            body = self._names.get(p[2], "")
            if p[3] in tool and self.kinds.get(body) in ("part", "fixture") and p[8] < TOUCH:
                out.append((self._links[r.body][p[3]], body, np.array(p[5]), float(p[9])))
        return out

    def distance(self, a: str, b: str, within: float = 1.0) -> tuple[float, str, str] | None:
        """Shortest distance (m, negative when penetrating) between two bodies and the links it is between,
        or None when they are farther apart than `within`."""
        pts = pb.getClosestPoints(self.ids[a], self.ids[b], within, physicsClientId=self.client)
        if not pts:
            return None
        p = min(pts, key=lambda p: p[8])
        return float(p[8]), self._name(p[1], p[3]), self._name(p[2], p[4])

    def rays_round(self, p: np.ndarray, z: np.ndarray, radius: float, n: int, back: float, ahead: float,
                   x: np.ndarray | None = None) -> list[int]:
        """The first body (-1: none) each of n rays along z meets, the rays `radius` from the axis through p, evenly
        round it starting at x (any direction across z if not given), from `back` before p to `ahead` beyond it."""
        if x is None:
            x = np.cross(z, [1.0, 0.0, 0.0] if abs(z[0]) < 0.9 else [0.0, 1.0, 0.0])
        x = x / np.linalg.norm(x)
        ang = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
        q = p + radius * (np.outer(np.cos(ang), x) + np.outer(np.sin(ang), np.cross(z, x)))
        hits = pb.rayTestBatch(list(map(list, q - back * z)), list(map(list, q + ahead * z)), physicsClientId=self.client)
        return [h[0] for h in hits]

    def fuse(self, a: str, b: str, strength: float) -> int:
        """Fix body b to body a where they are now (a weld or a tightened bolt): a fixed constraint between their
        bases, at their centres of mass as PyBullet reports base poses, holding up to `strength` N (and N m)."""
        c, ids = self.client, self.ids
        pa, oa = pb.getBasePositionAndOrientation(ids[a], physicsClientId=c)
        pbb, ob = pb.getBasePositionAndOrientation(ids[b], physicsClientId=c)
        ip, io = pb.invertTransform(pa, oa)
        rel_p, rel_o = pb.multiplyTransforms(ip, io, pbb, ob)
        cid = pb.createConstraint(ids[a], -1, ids[b], -1, pb.JOINT_FIXED, [0, 0, 0], rel_p, [0, 0, 0],
                                  parentFrameOrientation=rel_o, physicsClientId=c)
        pb.changeConstraint(cid, maxForce=strength, physicsClientId=c)
        return cid

    def attach(self, robot: str, part: str) -> None:
        """Hold part in the gripper as its jaws would: at the TCP up to the jaws' friction force (a weak grip lets
        a heavy part slide), and against turning only up to the pads' friction moment (a part gripped far from its
        centre of mass swings out of line)."""
        c, r = self.client, self.robots[robot]
        link = pb.getLinkState(r.body, r.flange, physicsClientId=c)
        T_world_link = se3_from_pb(link[0], link[1])  # the constraint frames are the links' inertial frames
        pos, orn = pb.getBasePositionAndOrientation(self.ids[part], physicsClientId=c)
        T_world_com = se3_from_pb(pos, orn)
        T_link_part = T_world_link.inv() * T_world_com
        ppos, porn = pb_from_se3(T_link_part)
        tcp = self.tcp_matrix(robot)[:3, 3]
        hold = pb.createConstraint(r.body, r.flange, self.ids[part], -1, pb.JOINT_POINT2POINT, [0, 0, 0],
                                   list(np.ravel(T_world_link.inv() * tcp)), list(np.ravel(T_world_com.inv() * tcp)), physicsClientId=c)
        twist = pb.createConstraint(r.body, r.flange, self.ids[part], -1, pb.JOINT_FIXED, [0, 0, 0], ppos, [0, 0, 0],
                                    parentFrameOrientation=porn, physicsClientId=c)
        mu = FINGER_FRICTION * pb.getDynamicsInfo(self.ids[part], -1, physicsClientId=c)[1]
        grip = mu * len(r.fingers) * r.finger_effort  # N: the jaws' friction
        pb.changeConstraint(hold, maxForce=grip, physicsClientId=c)
        pb.changeConstraint(twist, maxForce=grip * PAD_RADIUS, physicsClientId=c)  # N m: the pads' friction moment
        r.attachment = (part, (hold, twist))
        r.riders = tuple(sorted(riders(self.resting(), part)))
        self.trace.attachments.append(Attachment(self.t, "attach", robot, part, self._grip_depths(robot, part)))

    def _grip_depths(self, robot: str, part: str) -> tuple:
        """How deep each finger reaches over the part along the tool's approach axis (m): the extent of its
        contact patch where a face lies on a face; for a point or line contact (a sphere, a rod across the jaws),
        which has no patch extent but can still be gripped deep, the overlap of the finger's and the part's
        bounding boxes."""
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
            if extent >= AREA_CONTACT:  # a face on a face: the patch is the grip
                depths.append(extent)
            else:  # a point or a line across the approach: how far the finger reaches past the part's near side
                depths.append(max(extent, float(along(pb.getAABB(r.body, j, physicsClientId=c)).max()) - part_near))
        return tuple(depths)

    def detach(self, robot: str) -> None:
        r = self.robots[robot]
        if r.attachment is not None:
            part, cids = r.attachment
            for cid in cids:
                pb.removeConstraint(cid, physicsClientId=self.client)
            r.attachment, r.riders = None, ()
            self.trace.attachments.append(Attachment(self.t, "detach", robot, part))

    def held_part(self, robot: str) -> str | None:
        a = self.robots[robot].attachment
        return a[0] if a else None

    # ------------------------------------------------------------------ recording
    def _name(self, body: int, link: int) -> str:
        key = (body, link)
        name = self._link_names.get(key)
        if name is None:
            name = self._names[body]
            if self.kinds[name] == "robot" or link != -1:
                name = f"{name}/{self._links[body][link]}"
            self._link_names[key] = name
        return name

    def _record(self) -> None:
        """Read the world once after a step (the snapshot every reader uses until the next step) and record it."""
        snap = Snapshot({name: self._joints_now(name) for name in self.robots},
                        {name: self._tcp_now(name) for name in self.robots},
                        {name: self._part_now(name) for name in self.cell.parts})
        if self.steps:
            self._snap = snap
        tr = self.trace
        tr.t.append(self.t)
        for name, r in self.robots.items():
            q, qd, tau, fingers, _, _ = snap.joints[name]
            rt = tr.robots[name]
            rt.q.append(q)
            rt.qd.append(qd)
            rt.tau.append(tau)
            rt.q_cmd.append(r.q_expected.copy())
            rt.tcp.append(snap.tcp[name])
            rt.fingers.append(fingers)
        for name in self.cell.parts:
            tr.parts[name].append(snap.parts[name])
        for zone, now in (self._occupancy() if self._zones else {}).items():
            if now != self._occupants.get(zone, ()):
                tr.zone_changes.append((self.t, zone, now))
                self._occupants[zone] = now
        pairs: dict[tuple[str, str], list] = {}
        for p in pb.getContactPoints(physicsClientId=self.client):
            depth = -p[8]
            if p[8] >= TOUCH and p[9] <= 0.0:
                continue  # apart, and not pushed apart by this step's solver either (an impact's first step is)
            key = self._pair_names.get(p[1:5])
            if key is None:
                key = self._pair_names[p[1:5]] = tuple(sorted((self._name(p[1], p[3]), self._name(p[2], p[4]))))
            acc = pairs.get(key)
            if acc is None:
                acc = pairs[key] = [0.0, 0.0, tuple(round(x, 4) for x in p[5])]
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
