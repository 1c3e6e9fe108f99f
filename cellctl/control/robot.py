"""RobotController: one arm's operating mode, the same triggers a hardware cell's panel would fire.

disabled -enable-> idle -start-> busy -finish-> idle; busy -pause-> paused -resume-> busy;
any running mode -fault(reason)-> faulted -reset-> idle; any mode -estop-> estopped -reset-> disabled.
The controller runs one task at a time (a TaskRun) and reaches the robot only through the driver API.
"""

from __future__ import annotations

from enum import Enum, auto
from typing import Callable

from transitions import Machine

from cellctl.control.context import RobotContext


class Mode(Enum):
    DISABLED = auto()
    IDLE = auto()
    BUSY = auto()
    PAUSED = auto()
    FAULTED = auto()
    ESTOPPED = auto()


class RobotController:
    """Operating modes of one robot; `tick()` runs its current task while busy."""

    def __init__(self, ctx: RobotContext, on_event: Callable[[dict], None]):
        self.ctx, self._on_event = ctx, on_event
        self.run = None  # the TaskRun in progress (kept across pause and e-stop)
        self.fault_reason = ""
        M = Mode
        self.machine = Machine(model=self, states=M, initial=M.DISABLED, auto_transitions=False,
                               ignore_invalid_triggers=False, send_event=True, after_state_change="_changed")
        self.machine.add_transition("enable", M.DISABLED, M.IDLE)
        self.machine.add_transition("start", M.IDLE, M.BUSY, before="_take_run")
        self.machine.add_transition("finish", M.BUSY, M.IDLE, before="_drop_run")
        self.machine.add_transition("pause", M.BUSY, M.PAUSED, before="_hold")
        self.machine.add_transition("resume", M.PAUSED, M.BUSY, before="_resume")
        self.machine.add_transition("fault", [M.IDLE, M.BUSY, M.PAUSED], M.FAULTED, before="_fault")
        self.machine.add_transition("reset", M.FAULTED, M.IDLE, before="_clear_fault")
        self.machine.add_transition("reset", M.ESTOPPED, M.DISABLED, before="_reset_driver")
        self.machine.add_transition("estop", [M.DISABLED, M.IDLE, M.BUSY, M.PAUSED, M.FAULTED], M.ESTOPPED,
                                    before="_estop")
        self.machine.add_transition("estop", M.ESTOPPED, None, before="_estop")  # pressed again: stop again
        self.machine.add_transition("disable", [M.IDLE, M.FAULTED], M.DISABLED)

    # callbacks: every one acts through the driver API at once, inside the trigger's call ------------------
    def _take_run(self, event) -> None:
        run = event.kwargs.get("run")
        if run is not None:
            self.run = run
        if self.run is not None and self.run.interrupted:
            self.run.restart()

    def _drop_run(self, event) -> None:
        self.run = None

    def _hold(self, event) -> None:
        self.ctx.robot.hold()
        if self.run is not None:
            self.run.pause()

    def _resume(self, event) -> None:
        self.ctx.robot.resume()
        if self.run is not None:
            self.run.resume()

    def _fault(self, event) -> None:
        self.fault_reason = event.kwargs.get("reason", "")
        self.ctx.robot.stop()
        self.ctx.stop_tools()

    def _clear_fault(self, event) -> None:
        self.fault_reason, self.run = "", None

    def _estop(self, event) -> None:
        self.ctx.robot.estop()  # the reference freezes within this control tick
        self.ctx.stop_tools()
        if self.ctx.zones is not None:
            self.ctx.zones.cancel_wait(self.ctx.name)
        if self.run is not None:
            self.run.interrupt()

    def _reset_driver(self, event) -> None:
        self.ctx.robot.reset()

    def _changed(self, event) -> None:
        record = {"t": self.ctx.clock.now(), "robot": self.ctx.name, "task": self.run.task.id if self.run else None,
                  "machine": "robot", "from": event.transition.source.lower(), "to": self.state.name.lower()}
        if self.state is Mode.FAULTED and self.fault_reason:
            record["reason"] = self.fault_reason
        self._on_event(record)

    # ticking -------------------------------------------------------------------------------------------
    def tick(self) -> None:
        """While busy, poll the task once; a finished task frees the robot, a failed one faults it."""
        if self.state is not Mode.BUSY or self.run is None:
            return
        self.run.tick()
        if self.run.done:
            if self.run.failure is not None:
                self.fault(reason=f"{self.run.failure.check}: {self.run.failure.message}")
            else:
                self.finish()
