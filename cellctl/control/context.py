"""What a task machine may use: one robot's drivers and kinematics, the clock, the cell's nominal state and
the zone interlocks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from spatialmath import SE3

from cellctl.drivers.base import Clock, GripperDriver, NutrunnerDriver, RobotDriver, WeldSourceDriver
from cellctl.kinematics.arm import Arm
from cellctl.kinematics.occupancy import Occupancy


@dataclass
class PartBook:
    """Where the controller believes each part is (nominal poses: from the cell, then from each place).
    The controller has no vision: if a part is not where it should be, the grasp fails in the world."""

    poses: dict[str, SE3]
    urdfs: dict[str, Path] = field(default_factory=dict)


@dataclass
class RobotContext:
    name: str
    arm: Arm
    robot: RobotDriver
    gripper: GripperDriver | None
    clock: Clock
    rng: np.random.Generator
    parts: PartBook
    zones: object | None = None  # a ZoneBook (or a recorder of zone needs); None: the cell has no zones
    occupancy: Occupancy | None = None
    weld: WeldSourceDriver | None = None
    nutrunner: NutrunnerDriver | None = None

    def stop_tools(self) -> None:
        """Stop every tool where it is (gripper jaws keep their hold; the arc goes off; the spindle stops)."""
        for tool in (self.gripper, self.weld, self.nutrunner):
            if tool is not None:
                tool.stop()
