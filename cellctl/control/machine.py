"""TaskMachine: one task's process steps as the states of a `transitions` machine, driven by ticks.

Each step's entry issues a non-blocking command through the driver API; `tick()` polls its handle
and fires `advance` or `fail`. Machines never block or sleep: timeouts count clock time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from typing import Callable

import numpy as np
from spatialmath import SE3
from transitions import Machine

from cellctl.control.context import RobotContext
from cellctl.drivers.base import MotionHandle, MotionStatus
from cellctl.errors import PlanningError
from cellctl.motion.lin import lin
from cellctl.motion.ptp import ptp

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Failure:
    """Why a task failed: the validation check it belongs to, and words a cell engineer can act on."""

    check: str
    message: str


class Check:
    """A step that finishes when `ready()` turns true, then `verify()` answers None (ok) or a Failure."""

    def __init__(self, ready: Callable[[], bool], verify: Callable[[], Failure | None]):
        self.ready, self.verify = ready, verify


class TaskMachine:
    """Base of the pick, place and move machines. Subclasses list STEPS (an Enum whose first member is
    IDLE and last two DONE, FAILED) and define `_begin_<step>` for every process step."""

    STEPS: type[Enum]
    KIND: str
    STEP_TIMEOUT = 60.0  # s of clock time a step may take beyond the duration of the motion it commanded

    def __init__(self, task_id: str, ctx: RobotContext, on_event: Callable[[dict], None]):
        self.task_id, self.ctx, self._on_event = task_id, ctx, on_event
        self.failure: Failure | None = None
        self._pending: MotionHandle | Check | None = None
        self._since = 0.0
        self._expected = 0.0  # s: duration of the motion the current step commanded
        steps = list(self.STEPS)
        self._process = steps[1:-2]
        self._begin = {}
        for step in self._process:
            fn = getattr(self, f"_begin_{step.name.lower()}", None)
            if fn is None:
                raise TypeError(f"{type(self).__name__} has no _begin_{step.name.lower()} for step {step.name}")
            self._begin[step] = fn
        self.machine = Machine(model=self, states=self.STEPS, initial=steps[0], auto_transitions=False,
                               ignore_invalid_triggers=False, after_state_change="_changed", send_event=True)
        order = [steps[0], *self._process, self.STEPS.DONE]
        for src, dst in zip(order, order[1:]):
            self.machine.add_transition("advance", src, dst)
        self.machine.add_transition("fail", [steps[0], *self._process], self.STEPS.FAILED, before="_set_failure")

    # transitions callbacks ------------------------------------------------
    def _set_failure(self, event) -> None:
        self.failure = event.kwargs["failure"]

    def _changed(self, event) -> None:
        now = self.ctx.clock.now()
        log.debug("t=%.3f %s %s %s -> %s", now, self.ctx.name, self.task_id, event.transition.source, self.state.name)
        self._on_event({"t": now, "robot": self.ctx.name, "task": self.task_id, "machine": self.KIND,
                        "from": event.transition.source.lower(),
                        "to": self.state.name.lower(),
                        **({"reason": f"{self.failure.check}: {self.failure.message}"} if self.state is self.STEPS.FAILED else {})})
        if self.state in self._begin:
            self._since, self._expected = now, 0.0
            self._start_step()

    def _start_step(self) -> None:
        try:
            result = self._begin[self.state]()
        except PlanningError as exc:
            self._pending = None
            self.fail(failure=Failure("reach", str(exc)))
            return
        if isinstance(result, Failure):
            self._pending = None
            self.fail(failure=result)
        else:
            self._pending = result

    # ticking ----------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.state in (self.STEPS.DONE, self.STEPS.FAILED)

    def tick(self) -> None:
        """Poll the current step once; advance, fail, or wait."""
        if self.finished:
            return
        if self.state is list(self.STEPS)[0]:
            self.advance()
            return
        pending = self._pending
        if isinstance(pending, Check):
            if pending.ready():
                problem = pending.verify()
                self.fail(failure=problem) if problem else self.advance()
                return
        elif pending is None:
            self.advance()
            return
        else:
            status = pending.status()
            if status is MotionStatus.DONE:
                self.advance()
                return
            if status in (MotionStatus.FAILED, MotionStatus.STOPPED):
                self.fail(failure=Failure("tracking", f"{self.state.name.lower()}: {pending.reason}"))
                return
        if self.ctx.clock.now() - self._since > self._expected + self.STEP_TIMEOUT:
            self.fail(failure=Failure("completion", f"step {self.state.name.lower()} took {self.STEP_TIMEOUT:.0f} s longer "
                                                    f"than its motion ({self._expected:.1f} s) and was given up"))

    # motion helpers -----------------------------------------------------
    def _execute(self, traj) -> MotionHandle:
        self._expected = traj.duration
        return self.ctx.robot.execute(traj)

    def move_ptp(self, q_goal: np.ndarray, speed_scale: float = 1.0) -> MotionHandle:
        arm, drv = self.ctx.arm, self.ctx.robot
        return self._execute(ptp(drv.state().q, q_goal, speed_scale * arm.limits.velocity, arm.max_accel, drv.period))

    def move_ptp_to_pose(self, T_world_tcp: SE3, what: str, speed_scale: float = 1.0) -> MotionHandle | Failure:
        res = self.ctx.arm.ik(T_world_tcp, self.ctx.robot.state().q, rng=self.ctx.rng)
        if not res.success:
            x, y, z = T_world_tcp.t
            return Failure("reach", f"{what} at ({x:.3f}, {y:.3f}, {z:.3f}) m: {res.reason}")
        return self.move_ptp(res.q, speed_scale)

    def move_lin(self, T_world_tcp: SE3, speed: float, what: str) -> MotionHandle | Failure:
        try:
            traj = lin(self.ctx.arm, self.ctx.robot.state().q, T_world_tcp, speed, self.ctx.robot.period, self.ctx.rng)
        except PlanningError as exc:
            return Failure("reach", f"{what}: {exc}")
        return self._execute(traj)


class AllOf:
    """A MotionHandle that is DONE when all of its handles are, FAILED as soon as one fails."""

    def __init__(self, *handles: MotionHandle):
        self.handles, self.reason = handles, ""

    def status(self) -> MotionStatus:
        statuses = [h.status() for h in self.handles]
        for h, s in zip(self.handles, statuses):
            if s in (MotionStatus.FAILED, MotionStatus.STOPPED):
                self.reason = h.reason
                return s
        return MotionStatus.DONE if all(s is MotionStatus.DONE for s in statuses) else MotionStatus.RUNNING
