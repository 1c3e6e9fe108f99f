"""The hardware-driver API: what controllers may ask of a robot or a gripper, and nothing more.

Every call returns at once (drivers never block): `execute` and the gripper commands return a
MotionHandle to poll. Units are SI: rad, rad/s, m, s. The simulation is one implementation
(`cellctl.drivers.sim`); a hardware integrator writes another against these protocols.
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


@dataclass(frozen=True)
class GripperState:
    t: float
    opening: float  # m, each finger's distance from the centre line
    moving: bool
    holding: bool  # an object is held between the fingers (both fingers touch it)


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

    def stop(self) -> None:
        """Stop at once and hold the current position; a running handle becomes STOPPED."""


@runtime_checkable
class GripperDriver(Protocol):
    """A two-finger gripper. `close` is DONE when the fingers have stopped (on a part or fully closed)."""

    name: str

    def state(self) -> GripperState: ...

    def open(self) -> MotionHandle: ...

    def close(self) -> MotionHandle: ...

    def stop(self) -> None: ...
