"""TaskRun: one task of a program in progress, as the task machines that do it, one after another
(a pick-and-place is a pick machine, then a place machine). Finished stages are never run again: after
an e-stop the task continues with the machine that was interrupted."""

from __future__ import annotations

from typing import Callable

from cellctl.control.context import RobotContext
from cellctl.control.fasten import FastenMachine
from cellctl.control.machine import Failure, TaskMachine
from cellctl.control.move import MoveMachine
from cellctl.control.pick import PickMachine
from cellctl.control.place import PlaceMachine
from cellctl.control.spot import SpotMachine
from cellctl.control.weld import WeldMachine
from cellctl.model.program import Program, Task


class TaskRun:
    def __init__(self, task: Task, program: Program, ctx: RobotContext, on_event: Callable[[dict], None]):
        self.task, self.program, self.ctx, self.on_event = task, program, ctx, on_event
        self.stages = self._stages()
        self.machine: TaskMachine | None = None
        self.failure: Failure | None = None
        self.done = False

    def _stages(self) -> list[Callable[[], TaskMachine]]:
        t, ctx, ev = self.task, self.ctx, self.on_event
        cell = self.program.cell if self.program is not None else None  # a move needs no cell
        if t.kind == "move":
            return [lambda: MoveMachine(t.id, ctx, ev, t.move, t.speed_scale, t.motion, t.blend, t.lin_speed)]
        if t.kind == "weld":
            return [lambda: WeldMachine.for_task(t, ctx, ev, cell)]
        if t.kind == "fasten":
            return [lambda: FastenMachine.for_task(t, ctx, ev, cell)]
        if t.kind == "spot":
            return [lambda: SpotMachine.for_task(t, ctx, ev, cell)]
        grasp = cell.parts[t.part].features[t.grasp].T_owner_feature
        stages = [lambda: PickMachine(t.id, ctx, ev, t.part, grasp, t.approach, t.lin_speed, t.speed_scale)]
        if t.place:
            owner, feature = t.place

            def place() -> TaskMachine:
                T_owner = cell.fixtures[owner].T_world_fixture if owner in cell.fixtures else ctx.parts.poses[owner]
                owners = cell.fixtures if owner in cell.fixtures else cell.parts
                target = T_owner * owners[owner].features[feature].T_owner_feature
                return PlaceMachine(t.id, ctx, ev, t.part, target, grasp, t.approach, t.lin_speed, t.speed_scale, t.via, t.blend,
                                    None if owner in cell.fixtures else owner)

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

    @property
    def waiting_for_zones(self) -> set[str]:
        return self.machine.waiting_for_zones if self.machine is not None else set()

    @property
    def interrupted(self) -> bool:
        return self.machine is not None and self.machine.state is self.machine.STEPS.INTERRUPTED

    def pause(self) -> None:
        if self.machine is not None:
            self.machine.pause()

    def resume(self) -> None:
        if self.machine is not None:
            self.machine.resume()

    def interrupt(self) -> None:
        """E-stop: the machine leaves its step; the drivers have already stopped."""
        m = self.machine
        if m is not None and m.state not in (m.STEPS.IDLE, m.STEPS.DONE, m.STEPS.FAILED, m.STEPS.INTERRUPTED):
            m.interrupt()

    def restart(self) -> None:
        self.machine.restart_after_estop()
