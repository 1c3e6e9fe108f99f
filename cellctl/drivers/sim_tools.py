"""Simulated process tools: a weld source whose arc needs the wire on the work, and a nutrunner that turns the
twin's spindle joint. Simple process models (the bolt's and the arc's physics are a later step), but what
they report is read from the simulated world: where the wire tip is, whether a hole is under the socket."""

from __future__ import annotations

import numpy as np

from cellctl.drivers.base import MotionStatus, NutrunnerState, WeldState
from cellctl.drivers.sim import SimMotion
from cellctl.twin.world import World

STRIKE_TIME = 0.1  # s from arc-on to an established arc
ARC_GAP = 0.004  # m: the wire strikes and holds an arc when the work is at most this far beyond the TCP
ARC_BACK = 0.01  # m behind the TCP the ray starts (a wire tip pressed into the work still arcs)
SPIN_SPEED = 20.0  # rad/s free run of the spindle
HOLE_TOL = 0.003  # m: the socket is on a hole when the TCP is this close to its entry point
SEAT_TURN = np.radians(1440.0)  # rad a bolt runs down before its head seats
BOLT_STIFFNESS = 30.0  # N m per rad of turn once seated
CROSS_THREAD_ANGLE = np.radians(3.0)  # rad between spindle and hole axis beyond which the thread binds at once
CROSS_THREAD_STIFFNESS = 150.0  # N m per rad of a cross-threaded bolt


class SimWeldSource:
    def __init__(self, world: World, robot: str):
        self.world, self.name = world, robot
        self.on = self.established = False
        self._handle: SimMotion | None = None
        self._t_on = 0.0
        world.after_step(self._watch)

    def state(self) -> WeldState:
        return WeldState(self.world.t, self.on, self.established)

    def arc_on(self) -> SimMotion:
        self.on, self._t_on, self._handle = True, self.world.t, SimMotion()
        return self._handle

    def arc_off(self) -> SimMotion:
        self.stop()
        done = SimMotion()
        done._end(MotionStatus.DONE)
        return done

    def stop(self) -> None:
        self.on = False
        self._set(False)
        if self._handle is not None:
            self._handle._end(MotionStatus.STOPPED, "arc off")
            self._handle = None

    def _set(self, established: bool) -> None:
        if established != self.established:
            self.established = established
            self.world.trace.arcs.append((self.world.t, self.name, established))

    def _watch(self, t: float) -> None:
        if not self.on:
            return
        hit = self.world.ray_to_work(self.name, ARC_BACK, ARC_GAP)
        if self._handle is not None and t - self._t_on >= STRIKE_TIME:
            if hit is None:
                self.on = False
                self._handle._end(MotionStatus.FAILED, f"no arc: no work within {ARC_GAP * 1000:.0f} mm of the wire tip")
            else:
                self._set(True)
                self._handle._end(MotionStatus.DONE)
            self._handle = None
        elif self._handle is None:
            self._set(hit is not None)


class SimNutrunner:
    def __init__(self, world: World, robot: str):
        self.world, self.name = world, robot
        tool = world.cell.robots[robot].tool
        self.max_torque = float(tool.max_torque)
        self.torque = self.angle = 0.0
        self._job = None  # (handle, target torque, angle max, spindle angle at start, hole or None, misalignment rad)
        self._rundown: dict[str, float] = {}  # hole -> rad its bolt has turned in earlier runs
        world.after_step(self._watch)

    def state(self) -> NutrunnerState:
        return NutrunnerState(self.world.t, self.torque, self.angle, self._job is not None)

    def run(self, torque: float, angle_max: float) -> SimMotion:
        self.stop()
        hole, misalign = self._hole_under_socket()
        self.torque, self.angle = 0.0, 0.0
        handle = SimMotion()
        self._job = (handle, torque, angle_max, self.world.spindle_state(self.name)[0], hole, misalign)
        self.world.command_spindle(self.name, SPIN_SPEED)
        return handle

    def stop(self) -> None:
        self.world.command_spindle(self.name, 0.0)
        if self._job is not None:
            self._job[0]._end(MotionStatus.STOPPED, "stopped")
            self._job = None

    def _hole_under_socket(self) -> tuple[str | None, float]:
        """The hole feature (of any part or fixture, where it is now in the twin) the socket sits on, and the
        angle between the spindle and the hole's axis."""
        T = self.world.tcp_matrix(self.name)
        cell = self.world.cell
        for owner, body in {**cell.fixtures, **cell.parts}.items():
            T_owner = self.world.part_matrix(owner) if owner in cell.parts else body.T_world_fixture.A
            for name, f in body.features.items():
                if f.kind != "hole":
                    continue
                T_hole = T_owner @ f.T_owner_feature.A
                if np.linalg.norm(T[:3, 3] - T_hole[:3, 3]) < HOLE_TOL:
                    return f"{owner}.{name}", float(np.arccos(np.clip(T[:3, 2] @ T_hole[:3, 2], -1, 1)))
        return None, 0.0

    def _watch(self, t: float) -> None:
        if self._job is None:
            return
        handle, target, angle_max, a0, hole, misalign = self._job
        self.angle = self.world.spindle_state(self.name)[0] - a0
        if hole is not None:
            if misalign > CROSS_THREAD_ANGLE:  # the thread binds at once and hard
                self.torque = min(self.max_torque, CROSS_THREAD_STIFFNESS * self.angle)
            else:
                seat = max(0.0, SEAT_TURN - self._rundown.get(hole, 0.0))
                self.torque = min(self.max_torque, BOLT_STIFFNESS * max(0.0, self.angle - seat))
        if self.torque >= target:
            self._finish(MotionStatus.DONE, "", hole)
        elif self.torque >= self.max_torque - 1e-9:
            self._finish(MotionStatus.FAILED, f"the spindle stalled at its maximum of {self.max_torque:.1f} N m, "
                                              f"below the {target:.1f} N m asked", hole)
        elif self.angle >= angle_max:
            self._finish(MotionStatus.FAILED, f"{self.torque:.1f} N m after {np.degrees(self.angle):.0f} deg, the most it may turn "
                                              f"({'no hole under the socket' if hole is None else 'the bolt did not tighten'})", hole)

    def _finish(self, status: MotionStatus, reason: str, hole: str | None) -> None:
        handle = self._job[0]
        if hole is not None:
            self._rundown[hole] = self._rundown.get(hole, 0.0) + self.angle
        self.world.trace.fastenings.append({"robot": self.name, "t_s": round(self.world.t, 4), "hole": hole,
                                            "torque_nm": round(self.torque, 3), "angle_deg": round(float(np.degrees(self.angle)), 1),
                                            "done": status is MotionStatus.DONE})
        self.world.command_spindle(self.name, 0.0)
        handle._end(status, reason)
        self._job = None
