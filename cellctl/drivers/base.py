"""The hardware-driver API: what controllers may ask of a robot or a tool, and nothing more.

Every call returns at once (drivers never block for longer than one bounded poll of their device): `execute` and
the tool commands return a MotionHandle to poll. Units are SI: rad, rad/s, m, s, N, N m. The simulation is one
implementation (`cellctl.drivers.sim`), an ideal kinematic one another (`cellctl.drivers.ideal`), Modbus TCP tools a
third (`cellctl.drivers.modbus`); a hardware integrator writes another against these protocols, without touching
the controllers, and proves it with the conformance kit (`python -m pytest --driver pkg.module:factory
--pyargs cellctl.conformance`). docs/drivers.md shows how.

Timing. A robot driver declares `period` (s, the control period it streams trajectories at), `max_latency` (s, the
longest from a call to the arm acting on it, and the oldest a `state()` may be) and `stop_time` (s, from `stop()` or
`estop()` at full speed to standstill, latency included). Controllers poll every driver once a tick.

Accuracy and limits. `limits` (RobotLimits) are the joint position and speed limits the driver enforces: `execute`
refuses (a FAILED handle whose reason starts with "refused:") a trajectory that leaves them, runs faster than them,
or does not start where the arm stands (within `tolerance`). While a trajectory runs, every joint stays within
`tolerance` (rad) of the reference the driver commands (`RobotState.q_ref`); DONE means the arm has settled within
`tolerance` of the trajectory's end.

Stops, from gentlest to hardest:
- `hold()` / `resume()`: a feed hold. The arm slows to a stop *along its path* and waits; `resume` continues the
  same trajectory from where it stopped. The handle stays RUNNING throughout.
- `stop()`: abort the trajectory and hold the current position; the handle becomes STOPPED.
- `estop()`: emergency stop. The reference freezes within `max_latency` and the driver refuses every command until
  `reset()`; the handle becomes STOPPED with reason "e-stop".

Faults. A fault is the device saying it cannot go on (a drive trip, a protective stop, a tool's own alarm, a lost
connection). The driver reports it in its state (`fault`, a readable reason; "" when there is none), ends the
command that was running FAILED with that reason, and refuses every new command (a FAILED handle with the reason)
until `reset()` clears it. `reset()` clears what has gone; a fault whose cause is still there stays. A lost
connection is a fault too: `state().connected` is False, `state()` keeps answering with the last values it had (it
never raises), and `reset()` reconnects when it can. E-stop and faults are independent: both must be cleared.

Broken contracts raise DriverError (a trajectory with the wrong number of joints or non-finite values, a driver that
cannot be built); what a device or a command cannot do is a value (a FAILED handle with its reason), never an
exception out of a poll.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol, runtime_checkable

import numpy as np

from cellctl.errors import DriverError
from cellctl.motion.trajectory import JointTrajectory


class MotionStatus(Enum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    STOPPED = "stopped"


@runtime_checkable
class MotionHandle(Protocol):
    """A command in progress. `status()` is cheap; `reason` says why it FAILED or STOPPED."""

    reason: str

    def status(self) -> MotionStatus: ...


@dataclass(frozen=True)
class RobotLimits:
    """Joint limits a robot driver enforces (one value a joint)."""

    lower: np.ndarray  # rad
    upper: np.ndarray  # rad
    velocity: np.ndarray  # rad/s


@dataclass(frozen=True)
class RobotState:
    t: float  # s, the driver's clock
    q: np.ndarray  # rad, measured
    qd: np.ndarray  # rad/s, measured
    estopped: bool = False  # the driver refuses commands until reset()
    q_ref: np.ndarray | None = None  # rad the driver commands now (q - q_ref is the following error)
    fault: str = ""  # why the driver cannot go on ("" when it can); cleared by reset() once the cause is gone
    connected: bool = True  # False: the link to the robot is lost; q and qd are the last values received


@dataclass(frozen=True)
class GripperState:
    t: float
    opening: float  # m, each finger's distance from the centre line
    moving: bool
    holding: bool  # an object is held between the fingers (both fingers touch it)
    fault: str = ""
    connected: bool = True


@dataclass(frozen=True)
class WeldState:
    t: float
    arc_on: bool  # the source is commanded on
    arc_established: bool  # current flows: the wire touches work within its stick-out
    fault: str = ""
    connected: bool = True


@dataclass(frozen=True)
class NutrunnerState:
    t: float
    torque: float  # N m, measured at the spindle
    angle: float  # rad the spindle has turned since the current run began
    running: bool
    fault: str = ""
    connected: bool = True


@dataclass(frozen=True)
class SpotGunState:
    t: float
    opening: float  # m between the electrode tips
    force: float  # N the electrodes clamp a part with (0 when they are not both on one part)
    current_on: bool  # weld current flows
    fault: str = ""
    connected: bool = True


@runtime_checkable
class Clock(Protocol):
    def now(self) -> float: ...


@runtime_checkable
class RobotDriver(Protocol):
    """One arm. `execute` starts a trajectory that begins at the current position; the handle is DONE once the arm
    has settled at its end within `tolerance`, FAILED if it cannot get there (or on a fault), STOPPED by a stop."""

    name: str
    period: float  # s, the control period trajectories should be sampled at
    max_latency: float  # s from a call to the arm acting on it; the oldest a state() may be
    stop_time: float  # s from stop()/estop() at full speed to standstill, latency included
    tolerance: float  # rad: the largest following error (|q - q_ref|, any joint) while executing; settling at the end
    limits: RobotLimits

    def state(self) -> RobotState: ...

    def execute(self, trajectory: JointTrajectory) -> MotionHandle:
        """Start a trajectory (sampled at `period` or finer); refused (FAILED "refused: ...") outside the limits."""

    def hold(self) -> None:
        """Feed hold: decelerate along the path to a stop and wait; no effect when idle."""

    def resume(self) -> None:
        """Continue a held trajectory from where it stopped."""

    def stop(self) -> None:
        """Stop at once and hold the current position; a running handle becomes STOPPED."""

    def estop(self) -> None:
        """Emergency stop within `max_latency`; refuse commands until reset()."""

    def reset(self) -> None:
        """Clear an e-stop and the faults whose cause has gone (reconnect a lost link); the arm stays where it is."""


@runtime_checkable
class GripperDriver(Protocol):
    """A two-finger gripper. `close` is DONE when the fingers have stopped (on a part or fully closed)."""

    name: str

    def state(self) -> GripperState: ...

    def open(self) -> MotionHandle: ...

    def close(self) -> MotionHandle: ...

    def stop(self) -> None: ...

    def reset(self) -> None:
        """Clear the faults whose cause has gone (reconnect a lost link)."""


@runtime_checkable
class WeldSourceDriver(Protocol):
    """An arc welding power source. `arc_on` is DONE once the arc is established, FAILED if it cannot strike."""

    name: str

    def state(self) -> WeldState: ...

    def arc_on(self) -> MotionHandle: ...

    def arc_off(self) -> MotionHandle: ...

    def stop(self) -> None:
        """Arc off at once (also what an e-stop does)."""

    def reset(self) -> None:
        """Clear the faults whose cause has gone (reconnect a lost link)."""


@runtime_checkable
class NutrunnerDriver(Protocol):
    """A torque-controlled spindle. `run(torque, angle_max, speed)` turns at `speed` rad/s (fast to run a bolt
    down, slow for the final tightening so the torque is not overshot) until the torque is reached (DONE) or the
    angle is used up or the spindle stalls below it (FAILED); the state reports the final torque and angle."""

    name: str
    max_torque: float  # N m the spindle can deliver

    def state(self) -> NutrunnerState: ...

    def run(self, torque: float, angle_max: float, speed: float) -> MotionHandle: ...

    def stop(self) -> None: ...

    def reset(self) -> None:
        """Clear the faults whose cause has gone (reconnect a lost link)."""


@runtime_checkable
class SpotGunDriver(Protocol):
    """A servo spot-weld gun. `close(force)` is DONE once the electrodes clamp a part with `force` N, FAILED when they
    close on air or cannot reach the force; `weld(dwell)` lets the current flow for `dwell` s, only while the part is
    clamped with that force (FAILED otherwise); `open()` is DONE once the gun is fully open."""

    name: str
    max_force: float  # N, the gun's rated clamp force

    def state(self) -> SpotGunState: ...

    def close(self, force: float) -> MotionHandle: ...

    def weld(self, dwell: float) -> MotionHandle: ...

    def open(self) -> MotionHandle: ...

    def stop(self) -> None:
        """Current off at once; the electrodes stay where they are (also what an e-stop does)."""

    def reset(self) -> None:
        """Clear the faults whose cause has gone (reconnect a lost link)."""


def driver_kind(driver) -> str:
    """Which protocol a driver implements: robot, spot_gun, nutrunner, weld_source or gripper. Runtime protocol checks
    see member names only, so the most specific come first (a spot gun also opens and closes like a gripper)."""
    for kind, protocol in (("robot", RobotDriver), ("spot_gun", SpotGunDriver), ("nutrunner", NutrunnerDriver),
                           ("weld_source", WeldSourceDriver), ("gripper", GripperDriver)):
        if isinstance(driver, protocol):
            return kind
    raise DriverError(f"{type(driver).__name__} implements none of the driver protocols of cellctl.drivers.base")


class Handle:
    """A MotionHandle a driver ends itself: RUNNING until `end()` (which only a running handle obeys)."""

    def __init__(self, status: MotionStatus = MotionStatus.RUNNING, reason: str = ""):
        self._status, self.reason = status, reason

    def status(self) -> MotionStatus:
        return self._status

    def end(self, status: MotionStatus, reason: str = "") -> None:
        if self._status is MotionStatus.RUNNING:
            self._status, self.reason = status, reason

    @classmethod
    def failed(cls, reason: str) -> "Handle":
        return cls(MotionStatus.FAILED, reason)


START_TOL_FACTOR = 1.0  # of the driver's tolerance: how far from the arm a trajectory may start
VELOCITY_MARGIN = 0.02  # a trajectory may run this fraction over the speed limits (sampling and rounding)


def check_trajectory(trajectory: JointTrajectory, limits: RobotLimits, q_now: np.ndarray, tolerance: float) -> str:
    """Why a driver must refuse `trajectory` ("refused: ..."), or "" when it may run it. A malformed trajectory
    (wrong joint count, non-finite values, time not increasing) is a broken contract: DriverError."""
    q, qd, t = np.asarray(trajectory.q, float), np.asarray(trajectory.qd, float), np.asarray(trajectory.t, float)
    n = len(limits.lower)
    if q.ndim != 2 or q.shape[1] != n or qd.shape != q.shape or t.shape != (q.shape[0],) or q.shape[0] == 0:
        raise DriverError(f"a trajectory for a {n}-joint robot must have q and qd of shape (N, {n}) and t of shape (N,); "
                          f"got q {q.shape}, qd {qd.shape}, t {t.shape}")
    if not (np.all(np.isfinite(q)) and np.all(np.isfinite(qd)) and np.all(np.isfinite(t))):
        raise DriverError("a trajectory must hold finite numbers only (it has NaN or inf)")
    if t[0] != 0.0 or np.any(np.diff(t) <= 0.0):
        raise DriverError("a trajectory's time must start at 0 and increase strictly")
    deg = np.degrees
    far = np.abs(q[0] - q_now)
    if far.max() > START_TOL_FACTOR * tolerance:
        j = int(far.argmax())
        return (f"refused: the trajectory starts {deg(far[j]):.2f} deg from where joint {j + 1} stands (at most "
                f"{deg(tolerance):.2f} deg): it must begin at the current position")
    below, above = q < limits.lower, q > limits.upper
    if below.any() or above.any():
        i, j = np.argwhere(below | above)[0]
        return (f"refused: joint {j + 1} would reach {deg(q[i, j]):.1f} deg at t={t[i]:.2f} s, outside its limits "
                f"[{deg(limits.lower[j]):.1f}, {deg(limits.upper[j]):.1f}] deg")
    speed = np.abs(qd)
    if len(t) > 1:
        speed = np.vstack([speed, np.abs(np.diff(q, axis=0)) / np.diff(t)[:, None]])
    over = speed / limits.velocity
    if over.max() > 1.0 + VELOCITY_MARGIN:
        j = int(np.unravel_index(over.argmax(), over.shape)[1])
        return (f"refused: joint {j + 1} would turn at {deg(speed.max(axis=0)[j]):.1f} deg/s, over its limit of "
                f"{deg(limits.velocity[j]):.1f} deg/s")
    return ""
