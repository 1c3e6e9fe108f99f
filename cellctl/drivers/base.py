"""The hardware-driver API: what controllers may ask of a robot or a tool, and nothing more.

Every call returns at once (drivers never block): `execute` and the tool commands return a
MotionHandle to poll. Units are SI: rad, rad/s, m, s, N m. The simulation is one implementation
(`cellctl.drivers.sim`), an ideal kinematic one another (`cellctl.drivers.ideal`); a hardware
integrator writes a third against these protocols, without touching the controllers.

Stops, from gentlest to hardest:
- `hold()` / `resume()`: a feed hold. The arm slows to a stop *along its path* and waits; `resume`
  continues the same trajectory from where it stopped. The handle stays RUNNING throughout.
- `stop()`: abort the trajectory and hold the current position; the handle becomes STOPPED.
- `estop()`: emergency stop. The reference freezes within one control period and the driver refuses
  every command until `reset()`; the handle becomes STOPPED with reason "e-stop".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol, runtime_checkable

import numpy as np

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
class RobotState:
    t: float  # s, the driver's clock
    q: np.ndarray  # rad
    qd: np.ndarray  # rad/s
    estopped: bool = False  # the driver refuses commands until reset()


@dataclass(frozen=True)
class GripperState:
    t: float
    opening: float  # m, each finger's distance from the centre line
    moving: bool
    holding: bool  # an object is held between the fingers (both fingers touch it)


@dataclass(frozen=True)
class WeldState:
    t: float
    arc_on: bool  # the source is commanded on
    arc_established: bool  # current flows: the wire touches work within its stick-out


@dataclass(frozen=True)
class NutrunnerState:
    t: float
    torque: float  # N m, measured at the spindle
    angle: float  # rad the spindle has turned since the current run began
    running: bool


@dataclass(frozen=True)
class SpotGunState:
    t: float
    opening: float  # m between the electrode tips
    force: float  # N the electrodes clamp a part with (0 when they are not both on one part)
    current_on: bool  # weld current flows


@runtime_checkable
class Clock(Protocol):
    def now(self) -> float: ...


@runtime_checkable
class RobotDriver(Protocol):
    """One arm. `execute` starts a trajectory that begins at the current position; the handle is DONE
    once the arm has settled at its end within the driver's tolerance, FAILED if it cannot get there."""

    name: str
    period: float  # s, the control period trajectories should be sampled at

    def state(self) -> RobotState: ...

    def execute(self, trajectory: JointTrajectory) -> MotionHandle: ...

    def hold(self) -> None:
        """Feed hold: decelerate along the path to a stop and wait; no effect when idle."""

    def resume(self) -> None:
        """Continue a held trajectory from where it stopped."""

    def stop(self) -> None:
        """Stop at once and hold the current position; a running handle becomes STOPPED."""

    def estop(self) -> None:
        """Emergency stop within one control period; refuse commands until reset()."""

    def reset(self) -> None:
        """Clear an e-stop; the arm stays where it is."""


@runtime_checkable
class GripperDriver(Protocol):
    """A two-finger gripper. `close` is DONE when the fingers have stopped (on a part or fully closed)."""

    name: str

    def state(self) -> GripperState: ...

    def open(self) -> MotionHandle: ...

    def close(self) -> MotionHandle: ...

    def stop(self) -> None: ...


@runtime_checkable
class WeldSourceDriver(Protocol):
    """An arc welding power source. `arc_on` is DONE once the arc is established, FAILED if it cannot strike."""

    name: str

    def state(self) -> WeldState: ...

    def arc_on(self) -> MotionHandle: ...

    def arc_off(self) -> MotionHandle: ...

    def stop(self) -> None:
        """Arc off at once (also what an e-stop does)."""


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
