"""What a task machine may use: one robot's drivers and kinematics, the clock, and the cell's nominal state."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from spatialmath import SE3

from cellctl.drivers.base import Clock, GripperDriver, RobotDriver
from cellctl.kinematics.arm import Arm


@dataclass
class PartBook:
    """Where the controller believes each part is (nominal poses: from the cell, then from each place).
    The controller has no vision: if a part is not where it should be, the grasp fails in the world."""

    poses: dict[str, SE3]


@dataclass
class RobotContext:
    name: str
    arm: Arm
    robot: RobotDriver
    gripper: GripperDriver | None
    clock: Clock
    rng: np.random.Generator
    parts: PartBook
