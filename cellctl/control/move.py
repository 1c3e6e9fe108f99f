"""Move: one PTP motion to home, to joint angles, or to a TCP pose."""

from __future__ import annotations

from enum import Enum, auto

import numpy as np

from cellctl.control.machine import Failure, TaskMachine
from cellctl.model.program import MoveTarget


class MoveStep(Enum):
    IDLE = auto()
    MOVE = auto()
    DONE = auto()
    FAILED = auto()
    INTERRUPTED = auto()


class MoveMachine(TaskMachine):
    STEPS = MoveStep
    KIND = "move"

    def __init__(self, task_id, ctx, on_event, target: MoveTarget, speed_scale: float = 1.0):
        self.target, self.speed_scale = target, speed_scale
        super().__init__(task_id, ctx, on_event)

    def _begin_move(self):
        if self.target.kind == "pose":
            return self.move_ptp_to_pose(self.target.T_world_tcp, "move target", self.speed_scale)
        q = np.asarray(self.target.q, float)
        lim = self.ctx.arm.limits
        outside = np.flatnonzero((q < lim.lower) | (q > lim.upper))
        if outside.size:
            j = int(outside[0])
            return Failure("joint_limits", f"move target puts joint {j + 1} at {np.degrees(q[j]):.1f} deg, outside "
                                           f"[{np.degrees(lim.lower[j]):.1f}, {np.degrees(lim.upper[j]):.1f}] deg")
        return self.move_ptp(q, self.speed_scale)
