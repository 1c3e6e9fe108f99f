"""Orchestrator: runs a program's task graph over all robots on one clock, one tick at a time."""

from __future__ import annotations

from typing import Callable

from cellctl.control.context import RobotContext
from cellctl.control.machine import Failure, TaskMachine
from cellctl.control.move import MoveMachine
from cellctl.control.pick import PickMachine
from cellctl.control.place import PlaceMachine
from cellctl.model.program import Program, Task


class TaskRun:
    """One task in progress: its machines (pick then place for a pick-and-place), built one after another."""

    def __init__(self, task: Task, program: Program, ctx: RobotContext, on_event: Callable[[dict], None]):
        self.task, self.program, self.ctx, self.on_event = task, program, ctx, on_event
        self.stages = self._stages()
        self.machine: TaskMachine | None = None
        self.failure: Failure | None = None
        self.done = False

    def _stages(self) -> list[Callable[[], TaskMachine]]:
        t, ctx, ev, cell = self.task, self.ctx, self.on_event, self.program.cell
        if t.kind == "move":
            return [lambda: MoveMachine(t.id, ctx, ev, t.move, t.speed_scale)]
        grasp = cell.parts[t.part].features[t.grasp].T_owner_feature
        stages = [lambda: PickMachine(t.id, ctx, ev, t.part, grasp, t.approach, t.lin_speed, t.speed_scale)]
        if t.place:
            owner, feature = t.place

            def place() -> TaskMachine:
                T_owner = cell.fixtures[owner].T_world_fixture if owner in cell.fixtures else ctx.parts.poses[owner]
                owners = cell.fixtures if owner in cell.fixtures else cell.parts
                target = T_owner * owners[owner].features[feature].T_owner_feature
                return PlaceMachine(t.id, ctx, ev, t.part, target, grasp, t.approach, t.lin_speed, t.speed_scale)

            stages.append(place)
        return stages

    def tick(self) -> None:
        if self.done:
            return
        if self.machine is None:
            self.machine = self.stages.pop(0)()
        self.machine.tick()
        if self.machine.state is self.machine.STEPS.DONE and self.stages:
            # the next stage starts in the same tick: between a pick and its place the robot is never idle
            self.machine = self.stages.pop(0)()
            self.machine.tick()
        if self.machine.state is self.machine.STEPS.FAILED:
            self.failure, self.done = self.machine.failure, True
        elif self.machine.state is self.machine.STEPS.DONE and not self.stages:
            self.done = True


class Orchestrator:
    """Starts each task when its `after` tasks are done and its robot is free; stops the cell on a failure."""

    def __init__(self, program: Program, contexts: dict[str, RobotContext], clock):
        self.program, self.contexts, self.clock = program, contexts, clock
        self.events: list[dict] = []
        self.tasks = {t.id: {"id": t.id, "robot": t.robot, "kind": t.kind, "start_s": None, "end_s": None,
                             "status": "pending"} for t in program.tasks}
        self.active: dict[str, TaskRun] = {}
        self.failure: tuple[str, Failure] | None = None
        self.finished = False
        self.timed_out = False

    def _ready(self, robot: str) -> Task | None:
        for t in self.program.tasks:
            if t.robot == robot and self.tasks[t.id]["status"] == "pending" and all(self.tasks[d]["status"] == "done" for d in t.after):
                return t
        return None

    def tick(self) -> None:
        """Start what can start, poll every running task machine once."""
        if self.finished:
            return
        now = self.clock.now()
        for robot, ctx in self.contexts.items():
            if robot not in self.active:
                task = self._ready(robot)
                if task is not None:
                    self.active[robot] = TaskRun(task, self.program, ctx, self.events.append)
                    self.tasks[task.id].update(status="running", start_s=now)
        for robot in list(self.active):
            run = self.active[robot]
            run.tick()
            if run.done:
                del self.active[robot]
                record = self.tasks[run.task.id]
                record["end_s"] = self.clock.now()
                if run.failure:
                    record.update(status="failed", reason=f"{run.failure.check}: {run.failure.message}")
                    self.failure = (run.task.id, run.failure)
                    self._stop_cell()
                    return
                record["status"] = "done"
        if not self.active and self._ready_any() is None:
            self.finished = True
            for record in self.tasks.values():
                if record["status"] == "pending":
                    record["status"] = "not_run"

    def _ready_any(self) -> Task | None:
        return next((t for r in self.contexts if (t := self._ready(r)) is not None), None)

    def time_out(self, reason: str) -> None:
        """The clock's owner ran out of time: stop the cell; running tasks end as 'stopped' with the reason."""
        now = self.clock.now()
        for run in self.active.values():
            self.tasks[run.task.id].update(status="stopped", end_s=now, reason=f"completion: {reason}")
        self.timed_out = True
        self._stop_cell()

    def _stop_cell(self) -> None:
        """A failed task stops every robot where it is; running tasks are marked stopped, pending ones not run."""
        for ctx in self.contexts.values():
            ctx.robot.stop()
            if ctx.gripper is not None:
                ctx.gripper.stop()
        now = self.clock.now()
        for robot, run in self.active.items():
            self.tasks[run.task.id].update(status="stopped", end_s=now)
        self.active.clear()
        for record in self.tasks.values():
            if record["status"] == "pending":
                record["status"] = "not_run"
        self.finished = True

    @property
    def cycle_time(self) -> float:
        ends = [r["end_s"] for r in self.tasks.values() if r["end_s"] is not None]
        return max(ends) if ends else 0.0
