"""Fake drivers for tick-by-tick machine tests: they follow the driver API with a hand-stepped clock."""

from __future__ import annotations

import numpy as np

from cellctl.drivers.base import GripperState, MotionStatus, RobotState, SpotGunState


class FakeClock:
    def __init__(self, dt: float = 0.01):
        self.t, self.dt = 0.0, dt

    def now(self) -> float:
        return self.t

    def advance(self) -> None:
        self.t = round(self.t + self.dt, 9)


class FakeHandle:
    def __init__(self, status=MotionStatus.RUNNING, reason=""):
        self._status, self.reason = status, reason

    def status(self):
        return self._status


class FakeRobot:
    """Jumps to a trajectory's end once the clock passes its duration (or never, if stuck)."""

    name, period = "fake", 0.01

    def __init__(self, clock: FakeClock, q0: np.ndarray):
        self.clock, self.q = clock, np.array(q0, float)
        self.executed, self.stuck, self.stops = [], False, 0
        self._job = None

    def state(self):
        self._update()
        return RobotState(self.clock.t, self.q.copy(), np.zeros_like(self.q))

    def execute(self, trajectory):
        self._job = (trajectory, self.clock.t, FakeHandle())
        self.executed.append(trajectory)
        return self._job[2]

    def stop(self):
        self.stops += 1
        if self._job:
            self._job[2]._status = MotionStatus.STOPPED
        self._job = None

    def _update(self):
        if self._job and not self.stuck:
            traj, t0, handle = self._job
            if self.clock.t - t0 >= traj.duration:
                self.q, handle._status, self._job = traj.end.copy(), MotionStatus.DONE, None

    def poll(self):
        self._update()


class FakeGripper:
    """Closes in one tick; holds a part only if `part_between_fingers` is set."""

    name = "fake_gripper"

    def __init__(self, clock: FakeClock):
        self.clock, self.part_between_fingers, self.holding, self.opening = clock, True, False, 0.045

    def state(self):
        return GripperState(self.clock.t, self.opening, False, self.holding)

    def open(self):
        self.holding, self.opening = False, 0.045
        return FakeHandle(MotionStatus.DONE)

    def close(self):
        self.holding = self.part_between_fingers
        self.opening = 0.025 if self.holding else 0.0
        return FakeHandle(MotionStatus.DONE)

    def stop(self):
        pass


class FakeSpotGun:
    """Closes, welds and opens in one tick each; clamps a part only if `part_between` is set. Records every command."""

    name, max_force = "fake_gun", 3000.0

    def __init__(self, clock: FakeClock):
        self.clock, self.part_between = clock, True
        self.opening, self.force, self.current_on = 0.025, 0.0, False
        self.commands: list[tuple] = []

    def state(self):
        return SpotGunState(self.clock.t, self.opening, self.force, self.current_on)

    def close(self, force):
        self.commands.append(("close", force))
        if not self.part_between:
            self.opening = 0.0
            return FakeHandle(MotionStatus.FAILED, "no part between the electrodes: they closed on air")
        self.opening, self.force = 0.003, force
        return FakeHandle(MotionStatus.DONE)

    def weld(self, dwell):
        self.commands.append(("weld", dwell))
        return FakeHandle(MotionStatus.DONE)

    def open(self):
        self.commands.append(("open",))
        self.opening, self.force = 0.025, 0.0
        return FakeHandle(MotionStatus.DONE)

    def stop(self):
        self.current_on = False


def ideal_contexts(program, clock, seed: int = 0, zones: bool = True):
    """A RobotContext per robot of the program's cell, on ideal drivers stepped by `clock` (no PyBullet)."""
    from cellctl.control.context import PartBook, RobotContext
    from cellctl.drivers.ideal import IdealGripper, IdealNutrunner, IdealRobot, IdealSpotGun, IdealWeldSource
    from cellctl.kinematics.arm import Arm
    from cellctl.kinematics.occupancy import Occupancy
    from cellctl.model.cell import FLANGE
    from spatialmath import SE3

    cell = program.cell
    streams = dict(zip(cell.robots, np.random.SeedSequence(seed).spawn(len(cell.robots))))
    book = PartBook({n: p.T_world_part for n, p in cell.parts.items()}, {n: p.urdf for n, p in cell.parts.items()})
    out = {}
    for name, r in cell.robots.items():
        kind = r.tool.kind if r.tool else None
        arm = Arm(r.urdf, r.T_world_base, r.tool.T_flange_tcp if r.tool else SE3(), FLANGE, r.max_accel)
        out[name] = RobotContext(
            name, arm, IdealRobot(name, clock, r.home), IdealGripper(name, clock) if kind == "gripper" else None, clock,
            np.random.default_rng(streams[name]), book,
            occupancy=Occupancy(arm, r.tool.urdf if r.tool else None) if zones and cell.zones else None,
            weld=IdealWeldSource(name, clock) if kind == "weld_torch" else None,
            nutrunner=IdealNutrunner(name, clock, r.tool.max_torque) if kind == "nutrunner" else None,
            spot=IdealSpotGun(name, clock, r.tool.max_force) if kind == "spot_gun" else None)
    return out
