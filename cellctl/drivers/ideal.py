"""Ideal drivers: a robot that follows every trajectory exactly and tools that always succeed, on a clock the
caller steps (or on wall time). No simulator: the orchestrator's preflight dry-runs programs on them, tests use them
as fakes, and `cellctl deploy --driver cellctl.drivers.ideal:factory` runs a program on them end to end.

Faults can be injected: `stuck` (the reference runs, the arm does not follow), `fault` / `inject_fault(reason)` (a
drive or device alarm, until reset), `drop_link()` (a lost connection, until reset), and per tool `grasp_ok`,
`arc_ok`, `seated`, `part_between`."""

from __future__ import annotations

import numpy as np

from cellctl.drivers.base import (GripperState, Handle, MotionStatus, NutrunnerState, RobotLimits, RobotState,
                                  SpotGunState, WeldState, check_trajectory)
from cellctl.drivers.factory import CellDrivers, WallClock, robot_limits
from cellctl.motion.trajectory import HOLD_RAMP, JointTrajectory, PathClock

__all__ = ["Handle", "IdealGripper", "IdealNutrunner", "IdealRobot", "IdealSpotGun", "IdealWeldSource", "SteppedClock",
           "conformance_factory", "factory"]

IDEAL_TOLERANCE = 1e-3  # rad: an ideal arm follows exactly; this is what it promises
SETTLE_TIMEOUT = 1.0  # s after a trajectory's end before a move that has not arrived FAILS
LINK_LOST = "connection lost: no answer from the device"


class SteppedClock:
    """A clock that moves only when stepped: `advance()` adds one period and steps every registered driver."""

    def __init__(self, dt: float = 0.01):
        self.steps, self.dt, self.t = 0, dt, 0.0
        self._drivers: list = []

    def now(self) -> float:
        return self.t

    def attach(self, driver) -> None:
        self._drivers.append(driver)

    def advance(self) -> None:
        self.steps += 1
        self.t = round(self.steps * self.dt, 9)
        for d in self._drivers:
            d.step(self.dt)


class IdealDevice:
    """What every ideal driver shares: an injected fault and a link that can drop, both cleared by reset()."""

    def __init__(self) -> None:
        self.fault = ""  # injected fault: the running command fails with it, new ones are refused until reset()
        self.linked = True

    def inject_fault(self, reason: str) -> None:
        self.fault = reason

    def drop_link(self) -> None:
        self.linked = False

    def reset(self) -> None:
        self.fault, self.linked = "", True

    @property
    def trouble(self) -> str:
        """Why the device cannot act now ("" when it can)."""
        return LINK_LOST if not self.linked else self.fault

    def _reported(self) -> dict:
        return {"fault": self.trouble, "connected": self.linked}


class IdealRobot(IdealDevice):
    """Follows a trajectory sample by sample, with the same feed-hold behaviour as the twin's driver. With `limits`
    it refuses trajectories that leave them (the preflight's dry run passes none)."""

    def __init__(self, name: str, clock: SteppedClock, q0: np.ndarray, limits: RobotLimits | None = None,
                 tolerance: float = IDEAL_TOLERANCE):
        super().__init__()
        self.name, self.clock, self.period = name, clock, clock.dt
        self.max_latency = self.stop_time = clock.dt
        self.tolerance = tolerance
        n = len(q0)
        self.limits = limits or RobotLimits(np.full(n, -np.inf), np.full(n, np.inf), np.full(n, np.inf))
        self._check = limits is not None
        self.q, self.qd = np.array(q0, float), np.zeros(n)
        self.q_ref = self.q.copy()
        self.executed: list[JointTrajectory] = []
        self.stuck = False  # injected fault: the reference runs on but the arm does not move
        self.estopped = False
        self._traj: JointTrajectory | None = None
        self._path = PathClock(HOLD_RAMP)
        self._handle: Handle | None = None
        self._late = 0.0
        clock.attach(self)

    def state(self) -> RobotState:
        return RobotState(self.clock.t, self.q.copy(), self.qd.copy(), self.estopped, self.q_ref.copy(), **self._reported())

    def execute(self, trajectory: JointTrajectory) -> Handle:
        if self._handle is not None:
            self._handle.end(MotionStatus.STOPPED, "replaced by a new trajectory")
        refusal = ("the robot is e-stopped; reset it first" if self.estopped else self.trouble) or (
            check_trajectory(trajectory, self.limits, self.q, self.tolerance) if self._check else "")
        if refusal:
            return Handle.failed(refusal)
        self.executed.append(trajectory)
        self._traj, self._path, self._handle, self._late = trajectory, PathClock(HOLD_RAMP), Handle(), 0.0
        return self._handle

    def hold(self) -> None:
        self._path.target = 0.0

    def resume(self) -> None:
        self._path.target = 1.0

    def stop(self) -> None:
        self._abort(MotionStatus.STOPPED, "stopped")

    def estop(self) -> None:
        self.estopped = True
        self._abort(MotionStatus.STOPPED, "e-stop")

    def reset(self) -> None:
        super().reset()
        self.estopped = False

    def _abort(self, status: MotionStatus, reason: str) -> None:
        self._traj, self.qd, self.q_ref = None, np.zeros_like(self.q), self.q.copy()
        if self._handle is not None:
            self._handle.end(status, reason)
        self._handle = None

    @property
    def moving(self) -> bool:
        return self._traj is not None and self._path.rate > 0

    def step(self, dt: float) -> None:
        if self._traj is None:
            return
        if self.trouble:
            self._abort(MotionStatus.FAILED, self.trouble)
            return
        s = self._path.advance(dt)
        q, qd = self._traj.sample(s)
        self.q_ref = np.array(q)
        if not self.stuck:
            self.q, self.qd = np.array(q), np.array(qd) * self._path.rate
        if s < self._traj.duration:
            return
        err = np.abs(self.q - self._traj.end)
        if err.max() <= self.tolerance:
            self._handle.end(MotionStatus.DONE)
            self._traj, self._handle = None, None
            return
        self._late += dt
        if self._late > SETTLE_TIMEOUT:
            j = int(err.argmax())
            self._abort(MotionStatus.FAILED, f"the arm did not reach the end of its move: joint {j + 1} is "
                                             f"{np.degrees(err[j]):.1f} deg off {SETTLE_TIMEOUT:.1f} s after it should have arrived")


class IdealTool(IdealDevice):
    """One job at a time on a stepped clock: `_start` replaces the running job; a fault or a lost link fails it."""

    def __init__(self, name: str, clock: SteppedClock):
        super().__init__()
        self.name, self.clock = name, clock
        self._job: tuple | None = None  # (handle, started at, ...)
        clock.attach(self)

    def _start(self, *extra) -> Handle:
        if self._job:
            self._job[0].end(MotionStatus.STOPPED, "replaced by a new command")
            self._job = None
        if self.trouble:
            return Handle.failed(self.trouble)
        self._job = (Handle(), self.clock.t, *extra)
        return self._job[0]

    def _end_job(self, status: MotionStatus, reason: str = "") -> None:
        if self._job:
            self._job[0].end(status, reason)
        self._job = None

    def stop(self) -> None:
        self._end_job(MotionStatus.STOPPED, "stopped")

    def step(self, dt: float) -> None:
        if self._job and self.trouble:
            self._end_job(MotionStatus.FAILED, self.trouble)
        elif self._job:
            self._work(self._job, dt)

    def _work(self, job: tuple, dt: float) -> None:
        """Advance the running job (subclasses)."""


class IdealGripper(IdealTool):
    """Opens and closes in `travel` seconds; holds a part after closing if `grasp_ok`."""

    def __init__(self, name: str, clock: SteppedClock, travel: float = 0.2):
        super().__init__(name, clock)
        self.travel = travel
        self.grasp_ok, self.holding, self.opening = True, False, 0.045

    def state(self) -> GripperState:
        return GripperState(self.clock.t, self.opening, self._job is not None, self.holding, **self._reported())

    def open(self) -> Handle:
        self.holding = False
        return self._start(False)

    def close(self) -> Handle:
        return self._start(True)

    def _work(self, job: tuple, dt: float) -> None:
        if self.clock.t - job[1] >= self.travel:
            closing = job[2]
            self.holding = closing and self.grasp_ok
            self.opening = (0.02 if self.holding else 0.0) if closing else 0.045
            self._end_job(MotionStatus.DONE)


class IdealWeldSource(IdealTool):
    """Strikes the arc after `strike` seconds if `arc_ok`, else fails the strike."""

    def __init__(self, name: str, clock: SteppedClock, strike: float = 0.1):
        super().__init__(name, clock)
        self.strike = strike
        self.arc_ok, self.on, self.established = True, False, False

    def state(self) -> WeldState:
        return WeldState(self.clock.t, self.on, self.established, **self._reported())

    def arc_on(self) -> Handle:
        handle = self._start()
        self.on = handle.status() is MotionStatus.RUNNING
        return handle

    def arc_off(self) -> Handle:
        self.stop()
        return Handle(MotionStatus.DONE)

    def stop(self) -> None:
        self.on = self.established = False
        self._end_job(MotionStatus.STOPPED, "arc off")

    def step(self, dt: float) -> None:
        if self.trouble:
            self.on = self.established = False
        super().step(dt)

    def _work(self, job: tuple, dt: float) -> None:
        if self.clock.t - job[1] >= self.strike:
            if self.arc_ok:
                self.established = True
                self._end_job(MotionStatus.DONE)
            else:
                self.on = False
                self._end_job(MotionStatus.FAILED, "no arc: the wire found no work to strike on")


class IdealNutrunner(IdealTool):
    """Turns at `speed` rad/s; a bolt runs `seat_after` rad before it seats, then the torque rises by `stiffness`
    N m/rad. A seated bolt stays seated for the next run (run-down, then tighten), until a run asks for less
    torque than the bolt already has (the next bolt's run-down)."""

    def __init__(self, name: str, clock: SteppedClock, max_torque: float = 50.0, speed: float = 20.0,
                 seat_after: float = 6.0, stiffness: float = 40.0):
        super().__init__(name, clock)
        self.max_torque, self.speed, self.seat_after, self.stiffness = max_torque, speed, seat_after, stiffness
        self.seated = True  # injected fault when False: the bolt never seats (missing bolt, stripped thread)
        self.torque = self.angle = 0.0
        self._snug = False  # the bolt under the socket has seated in an earlier run

    def state(self) -> NutrunnerState:
        return NutrunnerState(self.clock.t, self.torque, self.angle, self._job is not None, **self._reported())

    def run(self, torque: float, angle_max: float, speed: float | None = None) -> Handle:
        self.stop()
        self.speed = speed or self.speed
        self._snug = self._snug and torque > self.torque
        self.torque = self.angle = 0.0
        return self._start(torque, angle_max)

    def _work(self, job: tuple, dt: float) -> None:
        _, _, target, angle_max = job
        self.angle += self.speed * dt
        seat = 0.0 if self._snug else self.seat_after
        if self.seated and self.angle > seat:
            self.torque = min(self.max_torque, self.stiffness * (self.angle - seat))
            self._snug = True
        if self.torque >= target:
            self._end_job(MotionStatus.DONE)
        elif self.angle >= angle_max or (self.torque >= self.max_torque):
            self._end_job(MotionStatus.FAILED, f"torque {self.torque:.1f} N m of {target:.1f} N m after "
                                               f"{np.degrees(self.angle):.0f} deg")


class IdealSpotGun(IdealTool):
    """Closes and opens in `travel` seconds; clamps with the force asked when `part_between` (else it closes on air),
    and welds for the dwell asked while clamped."""

    def __init__(self, name: str, clock: SteppedClock, max_force: float = 3000.0, travel: float = 0.1, stroke: float = 0.025):
        super().__init__(name, clock)
        self.max_force, self.travel, self.stroke = max_force, travel, stroke
        self.part_between = True  # injected fault when False: nothing between the electrodes
        self.opening, self.force, self.current_on = stroke, 0.0, False
        self.welds: list[tuple[float, float, float]] = []  # (t, force N, dwell s) of each weld made

    def state(self) -> SpotGunState:
        return SpotGunState(self.clock.t, self.opening, self.force, self.current_on, **self._reported())

    def close(self, force: float) -> Handle:
        return self._start("close", force)

    def weld(self, dwell: float) -> Handle:
        if self.force <= 0:
            return Handle.failed("no part clamped between the electrodes")
        handle = self._start("weld", dwell)
        self.current_on = handle.status() is MotionStatus.RUNNING
        return handle

    def open(self) -> Handle:
        self.force = 0.0
        return self._start("open", 0.0)

    def stop(self) -> None:
        self.current_on = False
        super().stop()

    def step(self, dt: float) -> None:
        if self.trouble:
            self.current_on = False
        super().step(dt)

    def _work(self, job: tuple, dt: float) -> None:
        _, t0, what, value = job
        if what == "weld":
            if self.clock.t - t0 >= value - 1e-9:
                self.current_on = False
                self.welds.append((t0, self.force, value))
                self._end_job(MotionStatus.DONE)
            return
        if self.clock.t - t0 < self.travel:
            return
        if what == "open":
            self.opening = self.stroke
            self._end_job(MotionStatus.DONE)
        elif self.part_between:
            self.opening, self.force = 0.003, value
            self._end_job(MotionStatus.DONE)
        else:
            self.opening = 0.0
            self._end_job(MotionStatus.FAILED, "no part between the electrodes: they closed on air")


def tool_for(kind: str | None, name: str, clock, tool=None):
    """The ideal driver of a tool kind (None for an arm without a tool)."""
    if kind == "gripper":
        return IdealGripper(name, clock)
    if kind == "weld_torch":
        return IdealWeldSource(name, clock)
    if kind == "nutrunner":
        return IdealNutrunner(name, clock, tool.max_torque if tool else 50.0)
    if kind == "spot_gun":
        return IdealSpotGun(name, clock, tool.max_force if tool else 3000.0)
    return None


def _hooks(drivers: CellDrivers) -> CellDrivers:
    drivers.disconnect = lambda device: device.drop_link()
    drivers.fault = lambda device, reason: device.inject_fault(reason)
    return drivers


def factory(cell=None, realtime: bool | str = False, dt: float | str = 1 / 240) -> CellDrivers:
    """Ideal drivers for every robot of `cell` and its tool, at home, limited by their URDFs. `realtime` runs them
    on wall time (`advance()` waits for the next period), as hardware would; otherwise `advance()` steps at once."""
    if cell is None:
        return conformance_factory(realtime=realtime, dt=dt)
    dt = float(dt)
    clock = WallClock(dt) if str(realtime).lower() in ("1", "true", "yes") else SteppedClock(dt)
    robots, tools = {}, {}
    for name, robot in cell.robots.items():
        robots[name] = IdealRobot(name, clock, robot.home, limits=robot_limits(robot.urdf))
        tool = tool_for(robot.tool.kind if robot.tool else None, name, clock, robot.tool)
        if tool is not None:
            tools[name] = tool
    return _hooks(CellDrivers(clock, robots, tools, advance=clock.advance))


def conformance_factory(cell=None, realtime: bool | str = False, dt: float | str = 1 / 240) -> CellDrivers:
    """For the conformance kit: one six-joint ideal arm (limits like a UR10e's) with every kind of ideal tool."""
    if cell is not None:
        return factory(cell, realtime, dt)
    dt = float(dt)
    clock = WallClock(dt) if str(realtime).lower() in ("1", "true", "yes") else SteppedClock(dt)
    limits = RobotLimits(np.full(6, -2 * np.pi), np.full(6, 2 * np.pi), np.radians([120, 120, 180, 180, 180, 180]))
    robot = IdealRobot("arm", clock, np.radians([0, -90, 90, -90, -90, 0]), limits=limits)
    tools = {kind: tool_for(kind, kind, clock) for kind in ("gripper", "weld_torch", "nutrunner", "spot_gun")}
    return _hooks(CellDrivers(clock, {"arm": robot}, tools, advance=clock.advance))
