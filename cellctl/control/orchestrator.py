"""Orchestrator: runs a program's task graph over all robots on one clock, one tick at a time.

Each robot works through its own tasks in program order; a task starts when the tasks it runs `after`
are done, so robots move concurrently wherever the graph allows. Shared zones are interlocks (ZoneBook).
The cell has modes of its own (ready, running, paused, estopped, done, failed) driven by the same
triggers as a cell's control panel: start, pause, resume, estop, reset.
"""

from __future__ import annotations

from enum import Enum, auto
from typing import Callable

from transitions import Machine

from cellctl.control.context import RobotContext
from cellctl.control.machine import Failure
from cellctl.control.robot import Mode, RobotController
from cellctl.control.taskrun import TaskRun
from cellctl.control.zones import ZoneBook
from cellctl.model.program import Program, Task, run_order


class CellMode(Enum):
    READY = auto()
    RUNNING = auto()
    PAUSED = auto()
    ESTOPPED = auto()
    DONE = auto()
    FAILED = auto()


class Orchestrator:
    """Starts each robot's next task when its `after` tasks are done; stops the cell on a failure."""

    def __init__(self, program: Program, contexts: dict[str, RobotContext], clock, preflight: Callable | None = None):
        self.program, self.contexts, self.clock = program, contexts, clock
        self.events: list[dict] = []
        self.tasks = {t.id: {"id": t.id, "robot": t.robot, "kind": t.kind, "start_s": None, "end_s": None,
                             "status": "pending"} for t in program.tasks}
        self.queue: dict[str, list[Task]] = {r: [t for t in program.tasks if t.robot == r] for r in contexts}
        self.controllers = {r: RobotController(ctx, self.events.append) for r, ctx in contexts.items()}
        zone_set = program.cell.zones
        self.zones = ZoneBook(zone_set, clock, self.events.append) if zone_set else None
        for ctx in contexts.values():
            ctx.zones = self.zones if ctx.occupancy is not None else None
        self.active: dict[str, TaskRun] = {}
        self.failure: tuple[str | None, Failure] | None = None
        self.timed_out = False
        self._preflight = preflight  # (program, contexts) -> Verdict: proves the zone interlocks cannot deadlock
        self.interlock_proof = ""
        self.crossings: list[str] = []  # robots the preflight found only timing keeps apart
        self._started = False
        C = CellMode
        self.machine = Machine(model=self, states=C, initial=C.READY, auto_transitions=False,
                               ignore_invalid_triggers=False, send_event=True, after_state_change="_changed")
        self.machine.add_transition("start", C.READY, C.RUNNING, before="_start")
        self.machine.add_transition("pause", C.RUNNING, C.PAUSED, before="_pause")
        self.machine.add_transition("resume", C.PAUSED, C.RUNNING, before="_resume")
        self.machine.add_transition("estop", [C.READY, C.RUNNING, C.PAUSED], C.ESTOPPED, before="_estop")
        # an e-stop is never refused: in a stopped, finished or failed cell it still stops every robot and tool
        self.machine.add_transition("estop", [C.ESTOPPED, C.DONE, C.FAILED], None, before="_estop")
        self.machine.add_transition("reset", C.ESTOPPED, C.READY, before="_reset")
        self.machine.add_transition("finish", C.RUNNING, C.DONE, before="_close_records")
        self.machine.add_transition("fail", [C.READY, C.RUNNING, C.PAUSED, C.ESTOPPED], C.FAILED, before="_halt")

    # ------------------------------------------------------------------ cell triggers
    def _changed(self, event) -> None:
        record = {"t": self.clock.now(), "robot": None, "task": None, "machine": "cell",
                  "from": event.transition.source.lower(), "to": self.state.name.lower()}
        if self.state is CellMode.FAILED and self.failure:
            record["reason"] = f"{self.failure[1].check}: {self.failure[1].message}"
        self.events.append(record)

    def _start(self, event) -> None:
        if not self._started:
            self._started = True
            problem = self._unrunnable() or self._claim_start_zones()
            if problem is None and self._preflight is not None:
                verdict = self._preflight(self.program, self.contexts)
                problem, self.interlock_proof, self.crossings = verdict.failure, verdict.detail, verdict.crossings
            if problem is not None:
                self.failure = (None, problem)
                return
        for robot, ctl in self.controllers.items():
            if ctl.state is Mode.DISABLED:
                ctl.enable()
            if robot in self.active and ctl.state is Mode.IDLE:
                ctl.start()  # an interrupted task continues where the world says it can

    def _pause(self, event) -> None:
        for ctl in self.controllers.values():
            if ctl.state is Mode.BUSY:
                ctl.pause()

    def _resume(self, event) -> None:
        for ctl in self.controllers.values():
            if ctl.state is Mode.PAUSED:
                ctl.resume()

    def _estop(self, event) -> None:
        for ctl in self.controllers.values():
            ctl.estop()

    def _reset(self, event) -> None:
        for ctl in self.controllers.values():
            ctl.reset()

    def _halt(self, event) -> None:
        """Stop the cell safely: every other busy robot holds along its path and its tools stop (the arc goes
        out, the spindle stops, the jaws keep their hold); running tasks end 'stopped'."""
        now = self.clock.now()
        for robot, ctl in self.controllers.items():
            if ctl.state is Mode.BUSY:
                ctl.pause()
            if ctl.state is not Mode.ESTOPPED:
                ctl.ctx.stop_tools()
            run = self.active.get(robot)
            if run is not None and self.tasks[run.task.id]["status"] == "running":
                self.tasks[run.task.id].update(status="stopped", end_s=now)
        self.active.clear()
        self._close_records(event)

    def _close_records(self, event) -> None:
        for record in self.tasks.values():
            if record["status"] == "pending":
                record["status"] = "not_run"

    # ------------------------------------------------------------------ running
    @property
    def finished(self) -> bool:
        return self.state in (CellMode.DONE, CellMode.FAILED)

    def _unrunnable(self) -> Failure | None:
        """A task graph that cannot finish, whoever built it (the program loader rejects these with file and line
        already): tasks for robots or parts that do not exist, waits on unknown tasks, and waits in a cycle
        through the `after`s and each robot's program order."""
        ids, cell = {t.id for t in self.program.tasks}, self.program.cell
        for t in self.program.tasks:
            if t.robot not in self.contexts:
                return Failure("interlocks", f"task '{t.id}' is for robot '{t.robot}', which this cell does not have")
            missing = [p for p in [t.part, *(o for o, _ in t.holes)] if p and p not in cell.parts and p not in cell.fixtures]
            if missing:
                return Failure("interlocks", f"task '{t.id}' works on '{missing[0]}', which is not in the cell")
            unknown = [d for d in t.after if d not in ids]
            if unknown:
                return Failure("interlocks", f"task '{t.id}' waits for '{unknown[0]}', which is not a task")
        _, never = run_order(self.program.tasks)
        if never:
            return Failure("interlocks", f"tasks {', '.join(repr(t.id) for t in never)} wait for each other in a cycle "
                                         "(through 'after' and each robot's program order): the program cannot finish")
        return None

    def _claim_start_zones(self) -> Failure | None:
        """Robots standing inside zones when the cell starts hold them from the start."""
        if self.zones is None:
            return None
        for robot, ctx in self.contexts.items():
            inside = ctx.occupancy.zones_at(ctx.robot.state().q, self.zones.zones) if ctx.occupancy else set()
            clash = self.zones.acquire(robot, inside)
            if clash:
                others = ", ".join(f"'{z}' (held by {self.zones.holder[z]})" for z in sorted(clash))
                return Failure("interlocks", f"robot '{robot}' starts inside zone {others}: two robots stand in one "
                                             "zone before anything moves; change the home positions or the zones")
        return None

    def _next(self, robot: str) -> Task | None:
        queue = self.queue[robot]
        return queue[0] if queue else None

    def _deps_done(self, task: Task) -> bool:
        return all(self.tasks[d]["status"] == "done" for d in task.after)

    def tick(self) -> None:
        """Start what can start, then poll every busy robot once (in the cell's order)."""
        if self.state is CellMode.READY and not self._started:
            self.start()
        if self.failure is not None and not self.finished:
            self.fail()
            return
        if self.state is not CellMode.RUNNING:
            return
        now = self.clock.now()
        for robot, ctl in self.controllers.items():
            if ctl.state is Mode.IDLE and robot not in self.active:
                task = self._next(robot)
                if task is not None and self._deps_done(task):
                    run = TaskRun(task, self.program, self.contexts[robot], self.events.append)
                    self.active[robot] = run
                    self.tasks[task.id].update(status="running", start_s=now)
                    ctl.start(run=run)
            if ctl.state is Mode.BUSY:
                ctl.tick()
                run = self.active[robot]
                if run.done:
                    self._task_over(robot, run)
                    if self.finished:
                        return
        if all(not q for q in self.queue.values()) and not self.active:
            self.finish()
        else:
            self._detect_deadlock()

    def _task_over(self, robot: str, run: TaskRun) -> None:
        del self.active[robot]
        self.queue[robot].pop(0)
        record = self.tasks[run.task.id]
        record["end_s"] = self.clock.now()
        if run.failure:
            record.update(status="failed", reason=f"{run.failure.check}: {run.failure.message}")
            self.failure = (run.task.id, run.failure)
            self.fail()
        else:
            record["status"] = "done"

    def _detect_deadlock(self) -> None:
        """Nothing can ever move again when every robot with work left waits: for a zone that another holds or
        for a task that cannot finish. Such a cell is stopped with an `interlocks` failure."""
        waits = []
        for robot, ctl in self.controllers.items():
            run = self.active.get(robot)
            if run is not None:
                zones = {z for z in run.waiting_for_zones if self.zones.holder[z] not in (None, robot)}
                if not zones or ctl.state is not Mode.BUSY:
                    return  # this robot is working, or gets its zones on the next tick
                waits.append(f"{robot} waits in task '{run.task.id}' for zone "
                             + ", ".join(f"'{z}' held by {self.zones.holder[z]}" for z in sorted(zones)))
            elif self.queue[robot]:
                task = self.queue[robot][0]
                if self._deps_done(task):
                    return  # it starts on the next tick
                pending = [d for d in task.after if self.tasks[d]["status"] != "done"]
                waits.append(f"{robot} waits to start '{task.id}' until " + ", ".join(f"'{d}'" for d in pending) + " are done")
        if waits:
            self.failure = (None, Failure("interlocks", "deadlock: " + "; ".join(waits)))
            self.fail()

    def time_out(self, reason: str) -> None:
        """The clock's owner ran out of time: stop the cell; running tasks end as 'stopped' with the reason."""
        now = self.clock.now()
        for run in self.active.values():
            self.tasks[run.task.id].update(status="stopped", end_s=now, reason=f"completion: {reason}")
        self.timed_out = True
        if not self.finished:
            self.fail()

    @property
    def cycle_time(self) -> float:
        ends = [r["end_s"] for r in self.tasks.values() if r["end_s"] is not None]
        return max(ends) if ends else 0.0
