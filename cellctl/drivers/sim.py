"""Simulation drivers: the driver API over the PyBullet twin. The world's clock is their clock."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cellctl.drivers.base import GripperState, Handle, MotionStatus, RobotLimits, RobotState, check_trajectory
from cellctl.drivers.factory import CellDrivers
from cellctl.errors import DriverError
from cellctl.motion.trajectory import HOLD_RAMP, JointTrajectory, PathClock
from cellctl.twin.world import World

SETTLE_TOL = 2e-3  # rad: how close to a trajectory's end the arm must come to be DONE
SETTLE_TIMEOUT = 1.0  # s after a trajectory's end before a move that has not arrived FAILS
GRIP_STILL = 2e-3  # m/s: fingers slower than this have stopped
GRIP_TIMEOUT = 3.0  # s
GRIP_SQUEEZE = 5e-4  # m the jaws are driven past first contact, to keep pressing on the part
TOLERANCE = 0.01  # rad: the twin's servos keep every joint this close to its reference (the `tracking` check's limit)
STOP_TIME = 0.25  # s from stop() at full speed to standstill: the servos brake at their force limits


class SimMotion(Handle):
    """A MotionHandle whose status the driver updates after every physics step."""

    def _end(self, status: MotionStatus, reason: str = "") -> None:
        self.end(status, reason)


class WorldClock:
    def __init__(self, world: World):
        self.world = world

    def now(self) -> float:
        return self.world.t


class SimRobotDriver:
    """Streams a trajectory to the simulated joint servos, one sample per physics step."""

    def __init__(self, world: World, robot: str):
        self.world, self.name, self.period = world, robot, world.dt
        self.max_latency, self.stop_time, self.tolerance = world.dt, STOP_TIME, TOLERANCE
        lim = world.robots[robot].arm.limits
        self.limits = RobotLimits(lim.lower, lim.upper, lim.velocity)
        self._fault = ""  # an injected drive fault (conformance tests), until reset()
        self._q_ref = world.joint_state(robot)[0]
        self._traj: JointTrajectory | None = None
        self._clock = PathClock(HOLD_RAMP)
        self._late = 0.0  # s the arm has spent past the trajectory's end without settling
        self._handle: SimMotion | None = None
        self._estopped = False
        self._next: tuple | None = None  # (s, q, qd) sampled for the end of the last step: where this step starts
        self._at_end = False
        world.before_step(self._command)
        world.after_step(self._watch)

    def state(self) -> RobotState:
        q, qd, _ = self.world.joint_state(self.name)
        return RobotState(self.world.t, q, qd, self._estopped, np.array(self._q_ref), self._fault)

    def execute(self, trajectory: JointTrajectory) -> SimMotion:
        if self._handle is not None:
            self._handle._end(MotionStatus.STOPPED, "replaced by a new trajectory")
        handle = SimMotion()
        refusal = ("the robot is e-stopped; reset it first" if self._estopped else self._fault) or check_trajectory(
            trajectory, self.limits, self.world.joint_state(self.name)[0], self.tolerance)
        if refusal:
            handle._end(MotionStatus.FAILED, refusal)
            return handle
        self._traj, self._clock, self._late, self._handle = trajectory, PathClock(HOLD_RAMP), 0.0, handle
        self._next, self._at_end = None, False
        return handle

    def hold(self) -> None:
        self._clock.target = 0.0

    def resume(self) -> None:
        self._clock.target = 1.0

    def stop(self) -> None:
        self._freeze("stopped")

    def estop(self) -> None:
        self._estopped = True
        self._freeze("e-stop")

    def reset(self) -> None:
        self._estopped, self._fault = False, ""

    def inject_fault(self, reason: str) -> None:
        """A simulated drive trip (for tests): the arm stops, the motion fails with `reason`, until reset()."""
        self._fault = reason
        self._freeze(reason, MotionStatus.FAILED)

    def _freeze(self, reason: str, status: MotionStatus = MotionStatus.STOPPED) -> None:
        """Hold the position measured now, with zero velocity: the servos brake at their force limits."""
        q, _, _ = self.world.joint_state(self.name)
        self._traj, self._clock, self._next, self._at_end = JointTrajectory.hold(q), PathClock(HOLD_RAMP), None, False
        if self._handle is not None:
            self._handle._end(status, reason)
        self._handle = None
        self._q_ref = np.array(q)
        self.world.command_joints(self.name, q, np.zeros_like(q), q)

    def _command(self, t: float) -> None:
        traj = self._traj
        if traj is None:
            return
        s0 = self._clock.s
        if s0 >= traj.duration:  # holding the end: commanded once, the servos keep it
            self._clock.advance(self.world.dt)
            if not self._at_end:
                self._at_end, self._q_ref = True, traj.end
                self.world.command_joints(self.name, traj.end, np.zeros_like(traj.end), traj.end)
            return
        # PyBullet's servo closes the position error it sees at the start of a step, so it is given the reference
        # for now (sampled as the last step's end); the reference for the step's end is what the arm should then be at
        q, qd = self._next[1:] if self._next is not None and self._next[0] == s0 else traj.sample(s0)
        s1 = self._clock.advance(self.world.dt)
        self._next = (s1, *traj.sample(s1))
        self._q_ref = self._next[1]  # where the arm should be when this step is over (when state() is next read)
        self.world.command_joints(self.name, q, qd * self._clock.rate, self._next[1])

    def _watch(self, t: float) -> None:
        h = self._handle
        if h is None or self._traj is None or self._clock.s < self._traj.duration:
            return
        q, _, _ = self.world.joint_state(self.name)
        err = np.abs(q - self._traj.end)
        if err.max() < SETTLE_TOL:
            h._end(MotionStatus.DONE)
            self._handle = None
            return
        self._late += self.world.dt
        if self._late > SETTLE_TIMEOUT:
            j = int(err.argmax())
            h._end(MotionStatus.FAILED, f"the arm did not reach the end of its move: joint {j + 1} is "
                                        f"{np.degrees(err[j]):.1f} deg off {SETTLE_TIMEOUT:.1f} s after it should have arrived")
            self._handle = None


class SimGripperDriver:
    """Drives the gripper fingers; reports holding when both fingers touch the same part, which the
    twin then attaches to the gripper (so a grasp exists only where it physically happened)."""

    def __init__(self, world: World, robot: str):
        self.world, self.name = world, robot
        self._sim = world.robots[robot]
        self._handle: SimMotion | None = None
        self._closing = False
        self._t0 = self._target = 0.0
        world.after_step(self._watch)

    def state(self) -> GripperState:
        pos, vel = self.world.finger_state(self.name)
        return GripperState(self.world.t, float(pos.mean()), bool(np.abs(vel).max() > GRIP_STILL),
                            self.world.held_part(self.name) is not None or bool(self.world.between_fingers(self.name)))

    def open(self) -> SimMotion:
        self.world.detach(self.name)
        return self._start(self._sim.finger_open, closing=False)

    def close(self) -> SimMotion:
        return self._start(0.0, closing=True)

    def reset(self) -> None:
        """The twin's gripper has no latched faults."""

    def stop(self) -> None:
        pos, _ = self.world.finger_state(self.name)
        self.world.command_fingers(self.name, float(pos.mean()))
        if self._handle is not None:
            self._handle._end(MotionStatus.STOPPED, "stopped")
            self._handle = None

    def _start(self, target: float, closing: bool) -> SimMotion:
        if self._handle is not None:
            self._handle._end(MotionStatus.STOPPED, "replaced by a new gripper command")
        self.world.command_fingers(self.name, target)
        self._handle, self._closing, self._t0, self._target = SimMotion(), closing, self.world.t, target
        return self._handle

    def _watch(self, t: float) -> None:
        h = self._handle
        if h is None:
            return
        pos, vel = self.world.finger_state(self.name)
        arrived = np.abs(pos - self._target).max() < 1e-3
        if self._closing:
            common = self.world.between_fingers(self.name)
            if common:
                # both jaws on one part: hold them there, pressing lightly and symmetrically (like the coupled
                # jaws of a real parallel gripper), so the part is not pushed around in a squeeze
                self.world.command_fingers(self.name, float(pos.mean()) - GRIP_SQUEEZE)
                self.world.attach(self.name, sorted(common)[0])
            if common or arrived or (np.abs(vel).max() < GRIP_STILL and t - self._t0 > 0.1):
                h._end(MotionStatus.DONE)
                self._handle = None
                return
        if not self._closing and arrived:
            h._end(MotionStatus.DONE)
            self._handle = None
        elif t - self._t0 > GRIP_TIMEOUT:
            h._end(MotionStatus.FAILED, f"the gripper did not finish {'closing' if self._closing else 'opening'} within {GRIP_TIMEOUT:.0f} s")
            self._handle = None


def factory(cell=None) -> CellDrivers:
    """The twin as a cell's drivers (headless): a World of `cell` (default: the bundled pick-and-place cell), the
    simulation drivers of every robot and tool, `advance()` one physics step. For the conformance kit and dry runs
    of `deploy`; the validator builds its own."""
    from cellctl.model.cell import load_cell

    if cell is None:
        default = Path(__file__).resolve().parents[2] / "sim" / "pick_place_cell.yaml"
        if not default.exists():
            raise DriverError("cellctl.drivers.sim:factory needs a cell (--driver-cell FILE.yaml) outside a source checkout")
        cell = load_cell(default)
    world = World(cell)
    robots, tools = {}, {}
    for name, robot in cell.robots.items():
        robots[name] = SimRobotDriver(world, name)
        kind = robot.tool.kind if robot.tool else None
        if kind == "gripper":
            tools[name] = SimGripperDriver(world, name)
        elif kind is not None:
            from cellctl.drivers import sim_tools

            tools[name] = {"weld_torch": sim_tools.SimWeldSource, "nutrunner": sim_tools.SimNutrunner,
                           "spot_gun": sim_tools.SimSpotGun}[kind](world, name)

    def fault(driver, reason: str) -> None:
        if not isinstance(driver, SimRobotDriver):
            raise NotImplementedError("the twin's tools fail only through what happens in the world (no arc, a stall)")
        driver.inject_fault(reason)

    def disconnect(driver) -> None:
        raise NotImplementedError("the twin's drivers have no connection to lose")

    return CellDrivers(WorldClock(world), robots, tools, advance=world.step, close=world.close, fault=fault,
                       disconnect=disconnect)
