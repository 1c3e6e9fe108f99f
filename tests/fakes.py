"""Fake drivers for tick-by-tick machine tests: they follow the driver API with a hand-stepped clock."""

from __future__ import annotations

import numpy as np

from cellctl.drivers.base import GripperState, MotionStatus, RobotState


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
