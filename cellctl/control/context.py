"""What a task machine may use: one robot's drivers and kinematics, the clock, the cell's nominal state and
the zone interlocks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from spatialmath import SE3

from cellctl.drivers.base import Clock, GripperDriver, NutrunnerDriver, RobotDriver, SpotGunDriver, WeldSourceDriver
from cellctl.kinematics.arm import Arm
from cellctl.kinematics.occupancy import Occupancy
from cellctl.model.cell import riders


@dataclass
class PartBook:
    """Where the controller believes each part is (nominal poses: from the cell, then from each place).
    The controller has no vision: if a part is not where it should be, the grasp fails in the world."""

    poses: dict[str, SE3]
    urdfs: dict[str, Path] = field(default_factory=dict)
    carried: dict[str, str] = field(default_factory=dict)  # part -> the robot whose gripper holds it
    on: dict[str, str] = field(default_factory=dict)  # part -> the part it rests on (laid so by the cell, or placed)

    def copy(self) -> PartBook:
        return PartBook(dict(self.poses), dict(self.urdfs), dict(self.carried), dict(self.on))

    def riding(self, part: str) -> set[str]:
        """The parts resting on `part`, and on those in turn: they go where it goes."""
        return riders(self.on, part)

    def taken(self, part: str) -> None:
        """A gripper has the part: it no longer rests on anything."""
        self.on.pop(part, None)

    def placed(self, part: str, T_world_part: SE3, onto: str | None) -> None:
        """The part was set down at T_world_part, on the part `onto` (None: on a fixture); what rides on it moved
        with it."""
        delta = T_world_part * self.poses[part].inv()
        for p in sorted(self.riding(part)):
            self.poses[p] = delta * self.poses[p]
        self.poses[part] = T_world_part
        if onto is None:
            self.on.pop(part, None)
        else:
            self.on[part] = onto

    def away_from(self, robot: str) -> set[str]:
        """The parts a robot's planning leaves out: those in other robots' hands, and what rides on any carried part
        (it goes with its carrier, so it is not where it was)."""
        out = {p for p, r in self.carried.items() if r != robot}
        for p in self.carried:
            out |= self.riding(p)
        return out


class Scene(Protocol):
    """Collision queries against the cell, for planning (the twin's PlanningScene implements it)."""

    def collision(self, robot: str, q: np.ndarray, parts: dict[str, SE3], held: tuple[str, SE3] | None,
                  carried: set[str], margin: float = 0.0) -> str | None:
        """What the robot at q (holding held = (part, T_tcp_part)) would come closer than `margin` (m) to, or
        None when it is clear."""


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
    spot: SpotGunDriver | None = None
    scene: Scene | None = None  # None: motions are not planned around obstacles (the twin still judges them)
    held: tuple[str, SE3] | None = None  # the part in the gripper and T_tcp_part, from the moment the jaws close
    riders: tuple = ()  # (part, T_tcp_part) of what rides on the held part (a loaded pallet's load)
    plans: object | None = None  # a PlanMemo: motions the preflight's dry run planned, shared with the real run

    def take(self, part: str, T_tcp_part: SE3) -> None:
        """From now on the robot carries the part: in its zone model, its collision model and the part book."""
        self.held = (part, T_tcp_part)
        T_tcp_world = T_tcp_part * self.parts.poses[part].inv() if part in self.parts.poses else None
        self.riders = tuple((p, T_tcp_world * self.parts.poses[p]) for p in sorted(self.parts.riding(part))) \
            if T_tcp_world is not None else ()
        self.parts.carried[part] = self.name
        self.parts.taken(part)
        if self.occupancy is not None and part in self.parts.urdfs:
            self.occupancy.hold_part(self.parts.urdfs[part], T_tcp_part,
                                     [(self.parts.urdfs[p], T) for p, T in self.riders if p in self.parts.urdfs])

    def carrying(self) -> list[tuple[str, SE3]]:
        """Everything the robot carries, as (part, T_tcp_part): the held part and what rides on it."""
        return [self.held, *self.riders] if self.held is not None else []

    def let_go(self) -> None:
        if self.held is not None:
            self.parts.carried.pop(self.held[0], None)
        self.held, self.riders = None, ()
        if self.occupancy is not None:
            self.occupancy.release_part()

    def collision(self, q: np.ndarray, margin: float) -> str | None:
        """What this robot at q would come closer than `margin` (m) to in the cell (other robots aside: zones
        keep them apart), or None."""
        return self.scene.collision(self.name, q, self.parts.poses, self.held, self.parts.away_from(self.name),
                                    margin) if self.scene else None

    def stop_tools(self) -> None:
        """Stop every tool where it is (gripper jaws keep their hold; the arc goes off; the spindle stops; the spot
        gun's current goes off, its electrodes stay)."""
        for tool in (self.gripper, self.weld, self.nutrunner, self.spot):
            if tool is not None:
                tool.stop()
