"""Move: the robot to one target or through several (home, joint angles, TCP poses), PTP (optionally flying by
the waypoints), LIN (straight lines) or CIRC (an arc through a via pose)."""

from __future__ import annotations

from enum import Enum, auto

from cellctl.control.machine import Failure, TaskMachine
from cellctl.errors import PlanningError
from cellctl.model.program import MoveTarget
from cellctl.motion.lin import circ, lin
from cellctl.motion.trajectory import concat


class MoveStep(Enum):
    IDLE = auto()
    MOVE = auto()
    DONE = auto()
    FAILED = auto()
    INTERRUPTED = auto()


class MoveMachine(TaskMachine):
    STEPS = MoveStep
    KIND = "move"

    def __init__(self, task_id, ctx, on_event, targets: MoveTarget | list[MoveTarget], speed_scale: float = 1.0,
                 motion: str = "ptp", blend: bool = False, lin_speed: float = 0.2):
        self.targets = [targets] if isinstance(targets, MoveTarget) else list(targets)
        self.speed_scale, self.motion, self.blend, self.lin_speed = speed_scale, motion, blend, lin_speed
        super().__init__(task_id, ctx, on_event)

    def _begin_move(self):
        if self.motion == "ptp":
            qs = self.joint_targets(self.targets, "move target", self.ctx.robot.state().q)
            if isinstance(qs, Failure):
                return qs
            return self.move_ptp_via(qs, self.speed_scale, self.blend, "move")
        arm, drv = self.ctx.arm, self.ctx.robot
        poses = [t.T_world_tcp for t in self.targets]
        try:
            if self.motion == "circ":
                traj = circ(arm, drv.state().q, poses[0], poses[1], self.lin_speed, drv.period, self.ctx.rng)
            else:
                legs, q = [], drv.state().q
                for T in poses:
                    legs.append(lin(arm, q, T, self.lin_speed, drv.period, self.ctx.rng))
                    q = legs[-1].end
                traj = concat(legs)
        except PlanningError as exc:
            return Failure(exc.check, f"{self.motion.upper()} move: {exc}")
        return self._execute(traj)
