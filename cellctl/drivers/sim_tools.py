"""Simulated process tools: a weld source whose arc needs the wire on the work, and a nutrunner whose drive turns
the twin's spindle joint against the bolt under its socket. What they report is read from the simulated world:
where the wire tip is, which bolt the socket sits on, how the spindle turned under its load."""

from __future__ import annotations

import numpy as np

from cellctl.drivers.base import MotionStatus, NutrunnerState, WeldState
from cellctl.drivers.base import SpotGunState
from cellctl.drivers.sim import SimMotion
from cellctl.twin.bolts import CROSS_THREAD_ANGLE
from cellctl.twin.world import SPINDLE_INERTIA, World

STRIKE_TIME = 0.1  # s from arc-on to an established arc
ARC_GAP = 0.004  # m: the wire strikes and holds an arc when the work is at most this far beyond the TCP
ARC_BACK = 0.01  # m behind the TCP the ray starts (a wire tip pressed into the work still arcs)
SLOW_AT = 0.5  # of the target torque, from where the drive turns at SLOW_SPEED at most
SLOW_SPEED = 3.0  # rad/s
SPIN_ACCEL = 200.0  # rad/s^2 the drive ramps its speed command at
DRIVE_GAIN = 0.5  # of the rotor inertia per twin step, in N m per rad/s: the speed loop's gain (stable below 1)
DRIVE_TI = 0.05  # s: the speed loop's integral time (full torque at a stall)
STALL_SPEED = 0.05  # rad/s: slower than this at the rated torque is a stall ...
STALL_TIME = 0.1  # s ... once it lasts this long


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

    def reset(self) -> None:
        """The twin's weld source has no latched faults: nothing to clear."""

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
        if not self.on or not self.established:
            self.world.beads.out(self.name)
        else:
            self.world.beads.burn(self.name)
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
    """A nutrunner whose drive turns the twin's spindle joint: a speed loop under the rated torque, slowing for the
    final tightening. The bolt under the socket (twin.bolts) resists as its thread dictates; the torque reported is
    the drive's, less what went into accelerating the rotor, as a spindle transducer reads it."""

    def __init__(self, world: World, robot: str):
        self.world, self.name = world, robot
        tool = world.cell.robots[robot].tool
        self.max_torque = float(tool.max_torque)
        self.torque = self.angle = 0.0
        self._job = None  # (handle, target torque, angle max, spindle angle at start, bolt or None, misalignment rad)
        self._speed_cmd = 0.0  # rad/s, ramped
        self._integral = 0.0  # rad: the speed loop's integral of its error
        self._speed = 0.0  # rad/s the current run asks for
        self._last = world.spindle_state(robot)  # (angle, speed) after the previous step
        self._stalled = 0.0  # s at the rated torque without turning
        self._drive_torque = 0.0  # N m the drive gave in the last step
        self._gain = DRIVE_GAIN * SPINDLE_INERTIA / world.dt
        world.before_step(self._drive)
        world.after_step(self._watch)

    def state(self) -> NutrunnerState:
        return NutrunnerState(self.world.t, self.torque, self.angle, self._job is not None)

    def run(self, torque: float, angle_max: float, speed: float = 20.0) -> SimMotion:
        self.stop()
        found = self.world.bolts.under(self.world.tcp_matrix(self.name))
        bolt, misalign = found if found else (None, 0.0)
        if bolt is not None and misalign > CROSS_THREAD_ANGLE:
            bolt.crossed = True  # the thread is crossed for good
        self.torque, self.angle, self._stalled, self._integral = 0.0, 0.0, 0.0, 0.0
        handle = SimMotion()
        self._job = (handle, torque, angle_max, self.world.spindle_state(self.name)[0], bolt, misalign)
        self._speed = float(speed)
        return handle

    def reset(self) -> None:
        """The twin's nutrunner has no latched faults: nothing to clear."""

    def stop(self) -> None:
        self._speed_cmd = 0.0
        if self._job is not None:
            self._job[0]._end(MotionStatus.STOPPED, "stopped")
            self._job = None

    def _drive(self, t: float) -> None:
        """Before each step: the drive's torque from the speed loop, less the resistance of the bolt it turns."""
        angle, speed = self.world.spindle_state(self.name)
        if self._job is None and abs(speed) < 1e-3:
            self.world.command_spindle(self.name, 0.0)
            self._last = (angle, speed)
            return
        dt = self.world.dt
        goal, bolt = (self._speed, self._job[4]) if self._job is not None else (0.0, None)
        if self._job is not None and self.torque >= SLOW_AT * self._job[1]:
            goal = min(goal, SLOW_SPEED)  # near the target: slow, so a stiff joint's torque is not overshot
        step = SPIN_ACCEL * dt
        self._speed_cmd = float(np.clip(goal, self._speed_cmd - step, self._speed_cmd + step))
        error = self._speed_cmd - speed
        wanted = self._gain * (error + self._integral / DRIVE_TI)
        drive = float(np.clip(wanted, -self.max_torque, self.max_torque))
        if drive == wanted:  # no wind-up while the drive is at its limit
            self._integral += error * dt
        if bolt is not None:
            bolt.turned += angle - self._last[0]
            resist = bolt.resistance(speed)
        else:
            resist = 0.0
        self._drive_torque = drive
        self.world.command_spindle(self.name, drive - resist, resist)
        self._last = (angle, speed)

    def _watch(self, t: float) -> None:
        if self._job is None:
            return
        handle, target, angle_max, a0, bolt, misalign = self._job
        angle, speed = self.world.spindle_state(self.name)
        self.angle = angle - a0
        # the transducer: the drive's torque less the rotor's acceleration torque
        self.torque = max(0.0, self._drive_torque - SPINDLE_INERTIA * (speed - self._last[1]) / self.world.dt)
        self.world.trace.spindles.setdefault(self.name, []).append((t, self.angle, self.torque))
        at_limit = self._drive_torque >= self.max_torque - 1e-6 and abs(speed) < STALL_SPEED
        self._stalled = self._stalled + self.world.dt if at_limit else 0.0
        if self.torque >= target:
            self._finish(MotionStatus.DONE, "")
        elif self._stalled >= STALL_TIME:
            self._finish(MotionStatus.FAILED, f"the spindle stalled at its maximum of {self.max_torque:.1f} N m, "
                                              f"below the {target:.1f} N m asked")
        elif self.angle >= angle_max:
            self._finish(MotionStatus.FAILED, f"{self.torque:.1f} N m after {np.degrees(self.angle):.0f} deg, the most it may turn "
                                              f"({'no bolt under the socket' if bolt is None else 'the bolt did not tighten'})")

    def _finish(self, status: MotionStatus, reason: str) -> None:
        handle, bolt, misalign = self._job[0], self._job[4], self._job[5]
        if bolt is not None:
            self.world.bolts.clamp(bolt, self.name)  # tightened past snug: the owner is bolted to what the thread goes into
        self.world.trace.fastenings.append({"robot": self.name, "t_s": round(self.world.t, 4), "hole": bolt and bolt.name,
                                            "torque_nm": round(self.torque, 3), "angle_deg": round(float(np.degrees(self.angle)), 1),
                                            "misalignment_deg": round(float(np.degrees(misalign)), 2),
                                            "cross_threaded": bool(bolt and bolt.crossed), "done": status is MotionStatus.DONE,
                                            "proud_mm": round(bolt.proud * 1000, 2) if bolt else None,
                                            "clamped_to": bolt and bolt.clamped_to})
        self._speed_cmd = 0.0
        handle._end(status, reason)
        self._job = None


TOUCH_FORCE = 100.0  # N the gun's servo closes with until both electrodes are on the sheet (position control)
FORCE_RAMP = 0.1  # s from both electrodes touching to the full clamp force (force control)
CLAMP_TOL = 0.05  # the clamp holds (and the current may flow) at no more than this fraction under the force asked
CLAMP_SETTLED = 0.01  # a close is done once the clamp force is within this fraction of the force asked
FIXED_TIP = 0.004  # m: a tool contact this close to the TCP is the fixed electrode's tip on the sheet
CLOSED_ON_AIR = 0.0005  # m: electrodes this close together with nothing between them have closed on air
GUN_TIMEOUT = 2.0  # s a close or an open may take
SPOT_NEAR = 0.02  # m: the spot feature nearest the fixed electrode tip, within this, is the one being welded
EDGE_PROBE = (0.002, 0.004, 0.006, 0.008, 0.010)  # m from the electrode axis at which the sheet is looked for ...
EDGE_DIRECTIONS = 12  # ... in this many directions round it


class SimSpotGun:
    """A servo spot gun over the twin's electrode joint: it closes at speed until both electrodes are on one part,
    then presses with the force asked (force control, ramped); the weld current flows only while that clamp holds.
    The clamp force is the contact force on the moving electrode, read from the world; every weld is recorded."""

    def __init__(self, world: World, robot: str):
        self.world, self.name = world, robot
        self.max_force = float(world.cell.robots[robot].tool.max_force)
        self._open = world.robots[robot].finger_open
        self._electrode = world.trace.finger_links[robot][0]  # the moving electrode's link
        self.target = 0.0  # N asked by the last close
        self.current_on = False
        self._job: dict | None = None
        world.after_step(self._watch)

    def state(self) -> SpotGunState:
        return SpotGunState(self.world.t, self._opening(), self._clamp()[1], self.current_on)

    def close(self, force: float) -> SimMotion:
        self.target = float(force)
        self.world.command_electrode(self.name, 0.0, min(TOUCH_FORCE, self.target))
        return self._start("close", pressing_since=None)["handle"]

    def weld(self, dwell: float) -> SimMotion:
        part, force = self._clamp()
        job = self._start("weld", dwell=float(dwell), part=part, least=force, spot=self._spot_here(),
                          edge=self._edge_distance(part) if part else None)
        problem = self._clamp_problem(part, force)
        if problem:
            self._finish(MotionStatus.FAILED, f"no weld current: {problem}")
        else:
            self.current_on = True
        return job["handle"]

    def open(self) -> SimMotion:
        self.current_on = False
        self.world.command_electrode(self.name, self._open, self.max_force)
        return self._start("open")["handle"]

    def reset(self) -> None:
        """The twin's spot gun has no latched faults: nothing to clear."""

    def stop(self) -> None:
        """Current off; the electrodes stay where they are (a clamping gun keeps its clamp)."""
        self.current_on = False
        if self.world.robots[self.name].finger_press is None:
            self.world.command_electrode(self.name, self._opening(), self.max_force)
        if self._job is not None:
            self._finish(MotionStatus.STOPPED, "stopped")

    # ------------------------------------------------------------------ reading the world
    def _opening(self) -> float:
        return float(self.world.finger_state(self.name)[0][0])

    def _touching(self) -> tuple[dict[str, float], set[str]]:
        """The bodies the moving electrode touches (with its normal force on each, N) and those the fixed tip touches."""
        tcp = self.world.tcp_matrix(self.name)[:3, 3]
        moving, fixed = {}, set()
        for link, body, point, force in self.world.tool_contacts(self.name):
            if link == self._electrode:
                moving[body] = moving.get(body, 0.0) + force
            elif np.linalg.norm(point - tcp) <= FIXED_TIP:
                fixed.add(body)
        return moving, fixed

    def _clamp(self) -> tuple[str | None, float]:
        """The part both electrodes are on now and the force the moving electrode presses it with (N)."""
        moving, fixed = self._touching()
        both = sorted(set(moving) & fixed)
        return (both[0], moving[both[0]]) if both else (None, 0.0)

    def _clamp_problem(self, part: str | None, force: float) -> str:
        if part is None:
            return "no part between the electrodes"
        if force < (1 - CLAMP_TOL) * self.target:
            return f"the electrodes clamp '{part}' with {force:.0f} N, under the {self.target:.0f} N asked"
        return ""

    def _spot_here(self) -> tuple[str | None, float, float]:
        """The spot feature (of any part or fixture, where it is now in the twin) nearest the fixed electrode tip,
        within SPOT_NEAR; the tip's distance from it (m) and the angle between the electrode axis and its axis (rad)."""
        T = self.world.tcp_matrix(self.name)
        cell, best = self.world.cell, (None, np.inf, 0.0)
        for owner, body in {**cell.fixtures, **cell.parts}.items():
            T_owner = self.world.part_matrix(owner) if owner in cell.parts else body.T_world_fixture.A
            for name, f in body.features.items():
                if f.kind == "spot":
                    T_spot = T_owner @ f.T_owner_feature.A
                    d = float(np.linalg.norm(T[:3, 3] - T_spot[:3, 3]))
                    if d < min(best[1], SPOT_NEAR):
                        best = (f"{owner}.{name}", d, float(np.arccos(np.clip(T[:3, 2] @ T_spot[:3, 2], -1, 1))))
        return best

    def _edge_distance(self, part: str) -> float:
        """How far (m) the clamped sheet reaches round the electrode axis: rays along the axis through the sheet at
        growing distances from it, in every direction; the first distance at which one misses the part is the
        sheet's edge (the largest probed when none misses)."""
        T, body = self.world.tcp_matrix(self.name), self.world.ids[part]
        for r in EDGE_PROBE:
            if any(h != body for h in self.world.rays_round(T[:3, 3], T[:3, 2], r, EDGE_DIRECTIONS, 0.001, 0.004, T[:3, 0])):
                return r
        return EDGE_PROBE[-1]

    # ------------------------------------------------------------------ jobs
    def _start(self, kind: str, **extra) -> dict:
        """A new job (close, weld or open) with its handle; one still running is ended first."""
        if self._job is not None:
            self._finish(MotionStatus.STOPPED, "replaced by a new gun command")
        self._job = {"kind": kind, "handle": SimMotion(), "t0": self.world.t, **extra}
        return self._job

    def _watch(self, t: float) -> None:
        job = self._job
        if job is None:
            return
        if job["kind"] == "close":
            self._watch_close(t, job)
        elif job["kind"] == "weld":
            self._watch_weld(t, job)
        elif self._opening() >= self._open - 5e-4:
            self._finish(MotionStatus.DONE)
        elif t - job["t0"] > GUN_TIMEOUT:
            self._finish(MotionStatus.FAILED, f"the gun did not open within {GUN_TIMEOUT:.0f} s")

    def _watch_close(self, t: float, job: dict) -> None:
        moving, fixed = self._touching()
        part, force = self._clamp()
        if job["pressing_since"] is None:
            if part is not None:
                job["pressing_since"] = t  # both electrodes on the sheet: from here on the servo presses
            elif not moving and self._opening() <= CLOSED_ON_AIR:
                self._finish(MotionStatus.FAILED, "no part between the electrodes: they closed on air")
                return
        if job["pressing_since"] is not None:
            start = min(TOUCH_FORCE, self.target)
            ramp = min(1.0, (t - job["pressing_since"]) / FORCE_RAMP)
            self.world.press_electrode(self.name, start + (self.target - start) * ramp)
            if ramp >= 1.0 and part is not None and force >= (1 - CLAMP_SETTLED) * self.target:
                self._finish(MotionStatus.DONE)
                return
        if t - job["t0"] > GUN_TIMEOUT:
            why = (self._clamp_problem(part, force) or f"the clamp reached {force:.0f} N of {self.target:.0f} N") if part else (
                f"the moving electrode is on {', '.join(sorted(moving))} but the fixed electrode is not" if moving
                else "no part between the electrodes")
            self.world.command_electrode(self.name, self._opening(), self.max_force)
            self._finish(MotionStatus.FAILED, f"no clamp within {GUN_TIMEOUT:.0f} s: {why}")

    def _watch_weld(self, t: float, job: dict) -> None:
        part, force = self._clamp()
        problem = self._clamp_problem(part, force) if part == job["part"] else "the part slipped from between the electrodes"
        if problem:
            self._finish(MotionStatus.FAILED, f"the weld current stopped after {t - job['t0']:.2f} s: {problem}")
            return
        job["least"] = min(job["least"], force)
        if t - job["t0"] >= job["dwell"] - 1e-9:
            self._finish(MotionStatus.DONE)

    def _finish(self, status: MotionStatus, reason: str = "") -> None:
        job, self._job = self._job, None
        if job["kind"] == "weld":
            self.current_on = False
            spot, distance, angle = job["spot"]
            welded = status is MotionStatus.DONE
            self.world.trace.spots.append({
                "robot": self.name, "t_s": round(job["t0"], 4), "spot": spot, "part": job["part"],
                "position_error_mm": round(distance * 1000, 3) if spot else None,
                "axis_angle_deg": round(float(np.degrees(angle)), 2) if spot else None,
                "force_n": round(job["least"], 1), "dwell_s": round(self.world.t - job["t0"], 4), "welded": welded,
                "edge_mm": round(job["edge"] * 1000, 1) if job["edge"] is not None else None,
                **({} if welded else {"reason": reason})})
        job["handle"]._end(status, reason)
