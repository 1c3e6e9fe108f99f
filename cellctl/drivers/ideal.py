"""Ideal drivers: a robot that follows every trajectory exactly and tools that always succeed, on a clock
the caller steps. No simulator: the orchestrator's preflight dry-runs programs on them, and tests use them
as fakes. Faults can be injected (`stuck`, `grasp_ok`, `arc_ok`, `seated`)."""

from __future__ import annotations

import numpy as np

from cellctl.drivers.base import GripperState, MotionStatus, NutrunnerState, RobotState, SpotGunState, WeldState
from cellctl.motion.trajectory import HOLD_RAMP, JointTrajectory, PathClock


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


class Handle:
    def __init__(self, status: MotionStatus = MotionStatus.RUNNING, reason: str = ""):
        self._status, self.reason = status, reason

    def status(self) -> MotionStatus:
        return self._status

    def end(self, status: MotionStatus, reason: str = "") -> None:
        if self._status is MotionStatus.RUNNING:
            self._status, self.reason = status, reason


class IdealRobot:
    """Follows a trajectory sample by sample, with the same feed-hold behaviour as the twin's driver."""

    def __init__(self, name: str, clock: SteppedClock, q0: np.ndarray):
        self.name, self.clock, self.period = name, clock, clock.dt
        self.q, self.qd = np.array(q0, float), np.zeros(len(q0))
        self.executed: list[JointTrajectory] = []
        self.stuck = False  # injected fault: the arm never moves
        self.fault = ""  # injected fault: the motion running (or the next one) fails with this reason
        self.estopped = False
        self._traj: JointTrajectory | None = None
        self._path = PathClock(HOLD_RAMP)
        self._handle: Handle | None = None
        clock.attach(self)

    def state(self) -> RobotState:
        return RobotState(self.clock.t, self.q.copy(), self.qd.copy(), self.estopped)

    def execute(self, trajectory: JointTrajectory) -> Handle:
        if self._handle is not None:
            self._handle.end(MotionStatus.STOPPED, "replaced by a new trajectory")
        if self.estopped:
            return Handle(MotionStatus.FAILED, "the robot is e-stopped; reset it first")
        self.executed.append(trajectory)
        self._traj, self._path, self._handle = trajectory, PathClock(HOLD_RAMP), Handle()
        return self._handle

    def hold(self) -> None:
        self._path.target = 0.0

    def resume(self) -> None:
        self._path.target = 1.0

    def stop(self) -> None:
        self._abort("stopped")

    def estop(self) -> None:
        self.estopped = True
        self._abort("e-stop")

    def reset(self) -> None:
        self.estopped = False

    def _abort(self, reason: str) -> None:
        self._traj, self.qd = None, np.zeros_like(self.q)
        if self._handle is not None:
            self._handle.end(MotionStatus.STOPPED, reason)
        self._handle = None

    @property
    def moving(self) -> bool:
        return self._traj is not None and self._path.rate > 0

    def step(self, dt: float) -> None:
        if self._traj is None or self.stuck:
            return
        if self.fault:
            self._handle.end(MotionStatus.FAILED, self.fault)
            self._traj, self._handle, self.qd, self.fault = None, None, np.zeros_like(self.q), ""
            return
        s = self._path.advance(dt)
        q, qd = self._traj.sample(s)
        self.q, self.qd = np.array(q), np.array(qd) * self._path.rate
        if s >= self._traj.duration:
            self._handle.end(MotionStatus.DONE)
            self._traj, self._handle = None, None


class IdealGripper:
    """Opens and closes in `travel` seconds; holds a part after closing if `grasp_ok`."""

    def __init__(self, name: str, clock: SteppedClock, travel: float = 0.2):
        self.name, self.clock, self.travel = name, clock, travel
        self.grasp_ok, self.holding, self.opening = True, False, 0.045
        self._job: tuple[Handle, float, bool] | None = None
        clock.attach(self)

    def state(self) -> GripperState:
        return GripperState(self.clock.t, self.opening, self._job is not None, self.holding)

    def open(self) -> Handle:
        self.holding = False
        return self._start(closing=False)

    def close(self) -> Handle:
        return self._start(closing=True)

    def stop(self) -> None:
        if self._job:
            self._job[0].end(MotionStatus.STOPPED, "stopped")
        self._job = None

    def _start(self, closing: bool) -> Handle:
        self.stop()
        self._job = (Handle(), self.clock.t, closing)
        return self._job[0]

    def step(self, dt: float) -> None:
        if self._job and self.clock.t - self._job[1] >= self.travel:
            handle, _, closing = self._job
            self.holding = closing and self.grasp_ok
            self.opening = (0.02 if self.holding else 0.0) if closing else 0.045
            handle.end(MotionStatus.DONE)
            self._job = None


class IdealWeldSource:
    """Strikes the arc after `strike` seconds if `arc_ok`, else fails the strike."""

    def __init__(self, name: str, clock: SteppedClock, strike: float = 0.1):
        self.name, self.clock, self.strike = name, clock, strike
        self.arc_ok, self.on, self.established = True, False, False
        self._job: tuple[Handle, float] | None = None
        clock.attach(self)

    def state(self) -> WeldState:
        return WeldState(self.clock.t, self.on, self.established)

    def arc_on(self) -> Handle:
        self.on = True
        self._job = (Handle(), self.clock.t)
        return self._job[0]

    def arc_off(self) -> Handle:
        self.stop()
        return Handle(MotionStatus.DONE)

    def stop(self) -> None:
        self.on = self.established = False
        if self._job:
            self._job[0].end(MotionStatus.STOPPED, "arc off")
        self._job = None

    def step(self, dt: float) -> None:
        if self._job and self.clock.t - self._job[1] >= self.strike:
            if self.arc_ok:
                self.established = True
                self._job[0].end(MotionStatus.DONE)
            else:
                self.on = False
                self._job[0].end(MotionStatus.FAILED, "no arc: the wire found no work to strike on")
            self._job = None


class IdealNutrunner:
    """Turns at `speed` rad/s; a bolt runs `seat_after` rad before it seats, then the torque rises by `stiffness`
    N m/rad. A seated bolt stays seated for the next run (run-down, then tighten), until a run asks for less
    torque than the bolt already has (the next bolt's run-down)."""

    def __init__(self, name: str, clock: SteppedClock, max_torque: float = 50.0, speed: float = 20.0,
                 seat_after: float = 6.0, stiffness: float = 40.0):
        self.name, self.clock, self.max_torque = name, clock, max_torque
        self.speed, self.seat_after, self.stiffness = speed, seat_after, stiffness
        self.seated = True  # injected fault when False: the bolt never seats (missing bolt, stripped thread)
        self.torque = self.angle = 0.0
        self._snug = False  # the bolt under the socket has seated in an earlier run
        self._job: tuple[Handle, float, float] | None = None
        clock.attach(self)

    def state(self) -> NutrunnerState:
        return NutrunnerState(self.clock.t, self.torque, self.angle, self._job is not None)

    def run(self, torque: float, angle_max: float, speed: float | None = None) -> Handle:
        self.stop()
        self.speed = speed or self.speed
        self._snug = self._snug and torque > self.torque
        self.torque = self.angle = 0.0
        self._job = (Handle(), torque, angle_max)
        return self._job[0]

    def stop(self) -> None:
        if self._job:
            self._job[0].end(MotionStatus.STOPPED, "stopped")
        self._job = None

    def step(self, dt: float) -> None:
        if not self._job:
            return
        handle, target, angle_max = self._job
        self.angle += self.speed * dt
        seat = 0.0 if self._snug else self.seat_after
        if self.seated and self.angle > seat:
            self.torque = min(self.max_torque, self.stiffness * (self.angle - seat))
            self._snug = True
        if self.torque >= target:
            handle.end(MotionStatus.DONE)
            self._job = None
        elif self.angle >= angle_max or (self.torque >= self.max_torque):
            handle.end(MotionStatus.FAILED, f"torque {self.torque:.1f} N m of {target:.1f} N m after "
                                            f"{np.degrees(self.angle):.0f} deg")
            self._job = None


class IdealSpotGun:
    """Closes and opens in `travel` seconds; clamps with the force asked when `part_between` (else it closes on air),
    and welds for the dwell asked while clamped."""

    def __init__(self, name: str, clock: SteppedClock, max_force: float = 3000.0, travel: float = 0.1, stroke: float = 0.025):
        self.name, self.clock, self.max_force, self.travel, self.stroke = name, clock, max_force, travel, stroke
        self.part_between = True  # injected fault when False: nothing between the electrodes
        self.opening, self.force, self.current_on = stroke, 0.0, False
        self.welds: list[tuple[float, float, float]] = []  # (t, force N, dwell s) of each weld made
        self._job: tuple[Handle, str, float, float] | None = None  # (handle, what, started, force or dwell)
        clock.attach(self)

    def state(self) -> SpotGunState:
        return SpotGunState(self.clock.t, self.opening, self.force, self.current_on)

    def close(self, force: float) -> Handle:
        return self._start("close", force)

    def weld(self, dwell: float) -> Handle:
        if self.force <= 0:
            return Handle(MotionStatus.FAILED, "no part clamped between the electrodes")
        self.current_on = True
        return self._start("weld", dwell)

    def open(self) -> Handle:
        self.force = 0.0
        return self._start("open", 0.0)

    def stop(self) -> None:
        self.current_on = False
        if self._job:
            self._job[0].end(MotionStatus.STOPPED, "stopped")
        self._job = None

    def _start(self, what: str, value: float) -> Handle:
        job = self._job
        self._job = None
        if job:
            job[0].end(MotionStatus.STOPPED, "replaced")
        self._job = (Handle(), what, self.clock.t, value)
        return self._job[0]

    def step(self, dt: float) -> None:
        if not self._job:
            return
        handle, what, t0, value = self._job
        if what == "weld":
            if self.clock.t - t0 >= value - 1e-9:
                self.current_on = False
                self.welds.append((t0, self.force, value))
                handle.end(MotionStatus.DONE)
                self._job = None
            return
        if self.clock.t - t0 < self.travel:
            return
        if what == "open":
            self.opening = self.stroke
            handle.end(MotionStatus.DONE)
        elif self.part_between:
            self.opening, self.force = 0.003, value
            handle.end(MotionStatus.DONE)
        else:
            self.opening = 0.0
            handle.end(MotionStatus.FAILED, "no part between the electrodes: they closed on air")
        self._job = None
