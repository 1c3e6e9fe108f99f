"""Weld: bring the torch to the seam, strike the arc, travel the seam at the programmed speed with the
programmed work and travel angles, put the arc out, retreat. The arc must hold for the whole traverse."""

from __future__ import annotations

from enum import Enum, auto

import numpy as np
from scipy.spatial.transform import Rotation
from spatialmath import SE3

from cellctl.control.machine import Failure, TaskMachine, ZoneWait
from cellctl.drivers.base import MotionStatus
from cellctl.errors import PlanningError
from cellctl.motion.lin import circ, lin, polyline
from cellctl.motion.trajectory import concat


class WeldStep(Enum):
    IDLE = auto()
    APPROACH = auto()
    TOUCH = auto()
    ARC_ON = auto()
    TRAVERSE = auto()
    ARC_OFF = auto()
    RETREAT = auto()
    DONE = auto()
    FAILED = auto()
    INTERRUPTED = auto()


class Watch:
    """A handle that fails as soon as a condition the step relies on stops holding (the arc goes out)."""

    def __init__(self, handle, holds, reason: str):
        self.handle, self.holds, self.reason = handle, holds, ""
        self._why = reason

    def status(self) -> MotionStatus:
        s = self.handle.status()
        if s is MotionStatus.RUNNING and not self.holds():
            self.reason = self._why
            return MotionStatus.FAILED
        self.reason = self.handle.reason
        return s


SPIN_RESTARTS = 40  # IK restarts per pose when choosing the torch's turn
SPINS = np.radians([0, 90, -90, 180, 45, -45, 135, -135])  # turns of the torch about its wire tried, in order
CORNER_BLEND = 0.005  # m either side of a seam's corner over which the torch turns from one leg's angles to the next's ...
BLEND_PER_RAD = 0.015  # ... or this many m per rad it turns there, if more (a steep fillet angle turns far at a corner)


def corner_blend(turn: float) -> float:
    """How far (m) either side of a corner the torch turns through `turn` rad from one leg's angles to the next's."""
    return max(CORNER_BLEND, BLEND_PER_RAD * turn)


def torch_frames(points: np.ndarray, normal: np.ndarray, work_angle: float, travel_angle: float,
                 spin: float = 0.0, follow: bool = True) -> list[SE3]:
    """The torch's TCP pose at each seam point (world frame): z into the surface (-normal), leaning by the work
    angle about the direction of travel and by the travel angle along it; x along the segment it starts, turned by
    `spin` about the wire (which changes nothing in the weld, only where the torch's neck and the wrist sit).
    Without `follow` only the first frame's x follows the seam; at each corner after it the torch turns no more
    than its wire's direction changes (a polyline's corner, not a 90 deg swing of the neck)."""
    frames = []
    for i, p in enumerate(points):
        k = min(i, len(points) - 2)  # the segment a point starts (the last point: the one it ends)
        x = (points[k + 1] - points[k]) / np.linalg.norm(points[k + 1] - points[k])
        z = -normal - np.dot(-normal, x) * x
        z /= np.linalg.norm(z)
        R = np.column_stack([x, np.cross(z, x), z])
        frames.append(SE3.Rt(R, p) * SE3.Rx(work_angle) * SE3.Ry(travel_angle) * SE3.Rz(spin))
        if not follow and i > 0:
            a, b = frames[i - 1].R[:, 2], frames[i].R[:, 2]
            axis = np.cross(a, b)  # the least rotation taking a to b: about a x b
            turn = Rotation.from_rotvec(axis / max(np.linalg.norm(axis), 1e-12) * np.arctan2(np.linalg.norm(axis), a @ b))
            frames[i] = SE3.Rt(turn.as_matrix() @ frames[i - 1].R, p)
    return frames


class WeldMachine(TaskMachine):
    STEPS = WeldStep
    KIND = "weld"
    STEP_CHECK = {WeldStep.ARC_ON: "weld", WeldStep.TRAVERSE: "weld"}
    KEEP_ZONES = (WeldStep.TOUCH, WeldStep.ARC_ON)  # the traverse's zones, taken at the touch, stay taken
    PROCESS_STEPS = (WeldStep.ARC_ON, WeldStep.TRAVERSE)

    def __init__(self, task_id, ctx, on_event, seam: str, points: np.ndarray, normal: np.ndarray, speed: float,
                 work_angle: float, travel_angle: float, approach: float, lin_speed: float, speed_scale: float = 1.0,
                 arc: bool = False):
        self.seam, self.points, self.normal = seam, np.asarray(points, float), np.asarray(normal, float)
        self.arc = arc  # the points lie on one arc: traversed as one CIRC, not LIN legs that stop at each point
        self.speed, self.work_angle, self.travel_angle = speed, work_angle, travel_angle
        self.approach, self.lin_speed, self.speed_scale = approach, lin_speed, speed_scale
        self._from = self.points  # the part of the seam still to weld (all of it until an e-stop)
        self.spin: float | None = None  # the torch's turn about its wire, chosen at the first approach
        self._traverse = None
        super().__init__(task_id, ctx, on_event)

    @classmethod
    def for_task(cls, task, ctx, on_event, cell) -> "WeldMachine":
        owner, name = task.feature
        T_owner = cell.fixtures[owner].T_world_fixture if owner in cell.fixtures else ctx.parts.poses[owner]
        feature = {**cell.fixtures, **cell.parts}[owner].features[name]
        pts = (T_owner.A[:3, :3] @ feature.points.T).T + T_owner.t
        return cls(task.id, ctx, on_event, f"{owner}.{name}", pts, T_owner.A[:3, :3] @ feature.normal, task.weld_speed,
                   task.work_angle, task.travel_angle, task.approach, task.lin_speed, task.speed_scale, feature.arc is not None)

    def _frames(self) -> list[SE3]:
        return torch_frames(self._from, self.normal, self.work_angle, self.travel_angle, self.spin or 0.0, self.arc)

    def _choose_spin(self) -> float:
        """The first turn of the torch about its wire (SPINS) at which the arm reaches the approach, the seam's
        start, middle and end, and the retreat; the first one when none does (the approach then says why)."""
        q, arm = self.ctx.robot.state().q, self.ctx.arm
        for spin in SPINS:
            frames = torch_frames(self.points, self.normal, self.work_angle, self.travel_angle, spin, self.arc)
            poses = [frames[0] * SE3.Tz(-self.approach), frames[0], frames[len(frames) // 2], frames[-1],
                     frames[-1] * SE3.Tz(-self.approach)]
            if all(arm.ik(T, q_seed=q, restarts=SPIN_RESTARTS, nearest=False).success for T in poses):
                return float(spin)
        return 0.0

    def _begin_approach(self):
        if self.spin is None:
            self.spin = self._choose_spin()
        start = self._frames()[0]
        return self.move_ptp_to_pose(start * SE3.Tz(-self.approach), f"approach to seam {self.seam}", self.speed_scale)

    def _begin_touch(self):
        """Down to the seam start; the traverse is planned now, so its zones are taken before the arc strikes."""
        frames = self._frames()
        q = self.ctx.robot.state().q
        try:
            touch = lin(self.ctx.arm, q, frames[0], self.lin_speed, self.ctx.robot.period, self.ctx.rng)
            legs, q_end = [], touch.end
            if self.arc and len(frames) > 2:
                legs.append(circ(self.ctx.arm, q_end, frames[len(frames) // 2], frames[-1], self.speed, self.ctx.robot.period,
                                 self.ctx.rng, slowdown=False))
            elif len(frames) > 2:
                legs.append(polyline(self.ctx.arm, q_end, frames, self.speed, self.ctx.robot.period, self.ctx.rng, corner_blend))
            else:
                legs.append(lin(self.ctx.arm, q_end, frames[1], self.speed, self.ctx.robot.period, self.ctx.rng, slowdown=False))
        except PlanningError as exc:
            return Failure(exc.check, f"seam {self.seam}: {exc}")
        self._traverse = concat(legs)
        return self._execute(touch, also=self._traverse.q)

    def _begin_arc_on(self):
        return self.ctx.weld.arc_on()

    def _begin_traverse(self):
        motion = self._execute(self._traverse)

        def watch(handle):
            return Watch(handle, lambda: self.ctx.weld.state().arc_established,
                         f"the arc went out on seam {self.seam}: the wire lost the work")

        if isinstance(motion, ZoneWait):
            motion.wrap = watch
            return motion
        return watch(motion)

    def _begin_arc_off(self):
        return self.ctx.weld.arc_off()

    def _begin_retreat(self):
        end = torch_frames(self.points, self.normal, self.work_angle, self.travel_angle, self.spin or 0.0, self.arc)[-1]
        return self.move_lin(end * SE3.Tz(-self.approach), self.lin_speed, f"retreat from seam {self.seam}")

    def resume_step(self):
        """Stopped on the seam: weld the rest of it, from the point nearest the torch. Otherwise redo the step."""
        step = self.interrupted_step
        if step in (WeldStep.ARC_ON, WeldStep.TRAVERSE):
            self._from = remaining(self._from, self.tcp().t)
            return WeldStep.APPROACH
        return step if step in (WeldStep.ARC_OFF, WeldStep.RETREAT) else WeldStep.APPROACH


def remaining(points: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The polyline from the point on it nearest p to its end."""
    best, where = np.inf, (0, points[0])
    for i in range(len(points) - 1):
        a, b = points[i], points[i + 1]
        s = float(np.clip(np.dot(p - a, b - a) / np.dot(b - a, b - a), 0, 1))
        c = a + s * (b - a)
        if np.linalg.norm(p - c) < best:
            best, where = float(np.linalg.norm(p - c)), (i, c)
    i, c = where
    rest = np.vstack([c, points[i + 1:]])
    if len(rest) < 2 or np.linalg.norm(rest[1] - rest[0]) < 1e-4:
        rest = rest[1:] if len(rest) > 2 else points[-2:]
    return rest
