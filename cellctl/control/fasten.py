"""Fasten: for each hole in turn, approach on the hole's axis, check the alignment, engage the socket, run the
bolt down to snug, tighten to the target torque inside the angle window, verify, retreat."""

from __future__ import annotations

from enum import Enum, auto

import numpy as np
from spatialmath import SE3

from cellctl.control.machine import Check, Failure, TaskMachine
from cellctl.model.cell import BOLT_HEAD

ALIGN_TOL = np.radians(1.0)  # rad between the tool axis and the hole axis before the socket may engage
ALIGN_TOL_M = 0.001  # m of the TCP off the hole axis
SNUG_FRACTION = 0.1  # run-down ends at this fraction of the target torque (the threshold torque the angle counts from)
ENGAGE_GAP = 0.0015  # m the socket mouth stops short of the bolt head's top (the socket's float takes it up)
RUNDOWN_MAX = np.radians(3600.0)  # rad the spindle may turn running a bolt down before it is given up
RUNDOWN_SPEED = 20.0  # rad/s (about 190 rpm) to run a bolt down to snug
FINAL_SPEED = 3.0  # rad/s of the final tightening, slow so a stiff joint's torque is not overshot


class FastenStep(Enum):
    IDLE = auto()
    APPROACH = auto()
    ALIGN = auto()
    ENGAGE = auto()
    RUN_DOWN = auto()
    TIGHTEN = auto()
    VERIFY = auto()
    RETREAT = auto()
    DONE = auto()
    FAILED = auto()
    INTERRUPTED = auto()


class FastenMachine(TaskMachine):
    STEPS = FastenStep
    KIND = "fasten"
    STEP_CHECK = {FastenStep.RUN_DOWN: "fasten", FastenStep.TIGHTEN: "fasten"}
    PROCESS_STEPS = (FastenStep.RUN_DOWN, FastenStep.TIGHTEN)

    def __init__(self, task_id, ctx, on_event, holes: list[tuple[str, SE3]], torque: float, angle_window: tuple[float, float],
                 approach: float, lin_speed: float, speed_scale: float = 1.0):
        self.holes, self.torque, self.angle_window = holes, torque, angle_window
        self.approach, self.lin_speed, self.speed_scale = approach, lin_speed, speed_scale
        self.index = 0  # the hole being fastened; those before it are done
        self.results: list[dict] = []
        super().__init__(task_id, ctx, on_event)

    @classmethod
    def for_task(cls, task, ctx, on_event, cell) -> "FastenMachine":
        holes = []
        for owner, name in task.holes:
            T_owner = cell.fixtures[owner].T_world_fixture if owner in cell.fixtures else ctx.parts.poses[owner]
            holes.append((f"{owner}.{name}", T_owner * {**cell.fixtures, **cell.parts}[owner].features[name].T_owner_feature))
        return cls(task.id, ctx, on_event, holes, task.torque, task.angle_window, task.approach, task.lin_speed, task.speed_scale)

    def _add_transitions(self, machine) -> None:
        machine.add_transition("next_hole", FastenStep.RETREAT, FastenStep.APPROACH)

    @property
    def hole(self) -> tuple[str, SE3]:
        return self.holes[self.index]

    def _conclude(self, problem: Failure | None) -> None:
        if problem is None and self.state is FastenStep.RETREAT and self.index + 1 < len(self.holes):
            self._release_zones()
            self.index += 1
            self.next_hole()
            return
        super()._conclude(problem)

    def _begin_approach(self):
        name, T = self.hole
        return self.move_ptp_to_pose(T * SE3.Tz(-self.approach), f"approach to hole {name}", self.speed_scale)

    def _begin_align(self):
        return Check(lambda: True, self._verify_alignment)

    def _verify_alignment(self) -> Failure | None:
        name, T = self.hole
        tcp = self.tcp()
        angle = float(np.arccos(np.clip(np.dot(tcp.A[:3, 2], T.A[:3, 2]), -1, 1)))
        off = tcp.t - T.t
        lateral = float(np.linalg.norm(off - np.dot(off, T.A[:3, 2]) * T.A[:3, 2]))
        if angle > ALIGN_TOL or lateral > ALIGN_TOL_M:
            return Failure("fasten", f"hole {name}: the spindle is {np.degrees(angle):.1f} deg and {lateral * 1000:.1f} mm off "
                                     f"the hole axis (at most {np.degrees(ALIGN_TOL):.0f} deg, {ALIGN_TOL_M * 1000:.0f} mm)")
        return None

    def _begin_engage(self):
        name, T = self.hole
        return self.move_lin(T * SE3.Tz(-BOLT_HEAD - ENGAGE_GAP), self.lin_speed, f"engage the bolt in hole {name}")

    def _begin_run_down(self):
        return self.ctx.nutrunner.run(SNUG_FRACTION * self.torque, RUNDOWN_MAX, RUNDOWN_SPEED)

    def _begin_tighten(self):
        return self.ctx.nutrunner.run(self.torque, self.angle_window[1], FINAL_SPEED)

    def _begin_verify(self):
        return Check(lambda: True, self._verify)

    def _verify(self) -> Failure | None:
        s = self.ctx.nutrunner.state()
        name = self.hole[0]
        self.results.append({"hole": name, "torque_nm": round(s.torque, 3), "angle_deg": round(float(np.degrees(s.angle)), 1)})
        lo, hi = self.angle_window
        if s.torque < self.torque:
            return Failure("fasten", f"hole {name}: {s.torque:.1f} N m reached of {self.torque:.1f} N m")
        if not lo <= s.angle <= hi:
            why = ("too soon: a bolt already tight (a double hit), a crossed thread or a hard joint" if s.angle < lo
                   else "too late: a stripped thread or a soft joint")
            return Failure("fasten", f"hole {name}: torque reached after {np.degrees(s.angle):.0f} deg of turn, outside the "
                                     f"window [{np.degrees(lo):.0f}, {np.degrees(hi):.0f}] deg; {why}")
        return None

    def _begin_retreat(self):
        name, T = self.hole
        return self.move_lin(T * SE3.Tz(-self.approach), self.lin_speed, f"retreat from hole {name}")

    def resume_step(self):
        """A bolt interrupted while turning is run down and tightened again (a nutrunner restarts from snug);
        otherwise the interrupted step is done again."""
        step = self.interrupted_step
        if step in (FastenStep.RUN_DOWN, FastenStep.TIGHTEN, FastenStep.VERIFY):
            return FastenStep.RUN_DOWN
        if step in (FastenStep.ALIGN, FastenStep.ENGAGE):
            return FastenStep.APPROACH
        return step
