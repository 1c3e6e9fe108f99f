"""TaskMachine: one task's process steps as the states of a `transitions` machine, driven by ticks.

Each step's entry issues a non-blocking command through the driver API; `tick()` polls its handle
and fires `advance` or `fail`. Machines never block or sleep: timeouts count clock time, and time
spent paused or waiting for a zone does not count. An e-stop `interrupt`s a machine; after the reset,
`restart` continues at the step `resume_step()` picks from what the world reports.
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
from cellctl.model.program import MoveTarget
from cellctl.errors import PlanningError
from cellctl.motion.lin import lin
from cellctl.motion.plan import FINE_MARGIN, PLAN_TIERS, clear_path, curve_free, motion_step
from cellctl.motion.ptp import ptp
from cellctl.motion.retime import retime_path
from cellctl.motion.trajectory import JointTrajectory

log = logging.getLogger(__name__)

TERMINAL = ("IDLE", "DONE", "FAILED", "INTERRUPTED")
START_TOL = 1e-4  # rad: a motion planned ahead is used when the arm stands this close (every joint) to its start
#                   (1e-4 rad moves the TCP of a 1.3 m arm by at most 0.13 mm, about the LIN tolerance)


class PlanMemo:
    """Motions one robot's preflight dry run planned, for the real run to use instead of planning them again. A plan
    is used only for the same request in the same situation (the part in hand, where the controller believes the parts
    are, which parts other robots carry, the robot's random stream, which it then leaves as planning would have), with
    the arm within START_TOL of the plan's start; the difference fades out along the motion."""

    def __init__(self) -> None:
        self._plans: dict[tuple, tuple] = {}

    @staticmethod
    def _key(ctx: RobotContext, request: tuple) -> tuple:
        book = ctx.parts
        return (request, (ctx.held[0], ctx.held[1].A.tobytes()) if ctx.held else None,
                tuple((name, T.A.tobytes()) for name, T in sorted(book.poses.items())), tuple(sorted(book.carried.items())), tuple(sorted(book.on.items())),
                repr(ctx.rng.bit_generator.state))

    def plan(self, ctx: RobotContext, request: tuple, q_start: np.ndarray, planner: Callable[[], object]):
        """planner()'s answer to `request` from q_start: the one planned ahead if there is one, else planned now."""
        key = self._key(ctx, request)
        ahead = self._plans.get(key)
        if ahead is not None and np.max(np.abs(q_start - ahead[0])) <= START_TOL:
            ctx.rng.bit_generator.state = ahead[2]
            return _from_start(ahead[1], q_start - ahead[0])
        result = planner()
        if not isinstance(result, Failure):
            self._plans[key] = (np.array(q_start, float), result, ctx.rng.bit_generator.state)
        return result


def plan_ahead(ctx: RobotContext) -> None:
    """From now on, remember this robot's motions (the preflight's dry run, a copy of ctx sharing the memo, plans
    them for the real run)."""
    ctx.plans = PlanMemo()


def _from_start(plan, delta: np.ndarray):
    """A plan made from a start `delta` away from the arm's: a joint goal as it is, a trajectory with the difference
    fading out (smoothly, by the time it ends)."""
    if not isinstance(plan, JointTrajectory):
        return plan.copy()
    if not np.any(delta) or plan.duration <= 0.0:
        return plan
    T, s = plan.duration, plan.t / plan.duration
    w = s ** 3 * (10 - 15 * s + 6 * s ** 2)
    dw = 30 * s ** 2 * (1 - s) ** 2 / T
    ddw = 60 * s * (1 - s) * (1 - 2 * s) / T ** 2
    return JointTrajectory(plan.t, plan.q + np.outer(1 - w, delta), plan.qd - np.outer(dw, delta), plan.qdd - np.outer(ddw, delta))


@dataclass(frozen=True)
class Failure:
    """Why a task failed: the validation check it belongs to, and words a cell engineer can act on."""

    check: str
    message: str


class Check:
    """A step that finishes when `ready()` turns true, then `verify()` answers None (ok) or a Failure."""

    def __init__(self, ready: Callable[[], bool], verify: Callable[[], Failure | None]):
        self.ready, self.verify = ready, verify


class ZoneWait:
    """A motion planned but not started: it waits until the robot holds every zone the motion enters."""

    def __init__(self, trajectory: JointTrajectory, zones: set[str]):
        self.trajectory, self.zones = trajectory, zones
        self.companions: list[MotionHandle] = []  # tool commands the step also waits for
        self.wrap: Callable | None = None  # what the started motion's handle is wrapped in (a process watch)

    def start(self, ctx: RobotContext) -> MotionHandle:
        motion = ctx.robot.execute(self.trajectory)
        motion = AllOf(motion, *self.companions) if self.companions else motion
        return self.wrap(motion) if self.wrap else motion


class TaskMachine:
    """Base of the task machines. Subclasses list STEPS (an Enum with IDLE first and DONE, FAILED and
    INTERRUPTED) and define `_begin_<step>` for every process step. Process steps follow one another in
    the Enum's order, except DETOURS (step -> the step that follows it), entered by triggers of their own."""

    STEPS: type[Enum]
    KIND: str
    DETOURS: dict = {}
    KEEP_ZONES: tuple = ()  # steps after which zones taken ahead (for a motion still to come) are kept
    PROCESS_STEPS: tuple = ()  # steps whose process (arc, spindle) a pause must stop; resume then restarts them
    STEP_CHECK: dict = {}  # step -> the check a failed command of that step belongs to (default: tracking)
    STEP_TIMEOUT = 60.0  # s of clock time a step may take beyond the duration of the motion it commanded

    def __init__(self, task_id: str, ctx: RobotContext, on_event: Callable[[dict], None]):
        self.task_id, self.ctx, self._on_event = task_id, ctx, on_event
        self.failure: Failure | None = None
        self.interrupted_step: Enum | None = None
        self._pending: MotionHandle | Check | ZoneWait | None = None
        self._since = 0.0
        self._expected = 0.0  # s: duration of the motion the current step commanded
        self._paused_at: float | None = None
        self._restart_on_resume = False
        S = self.STEPS
        self._process = [s for s in S if s.name not in TERMINAL]
        self._begin = {}
        for step in self._process:
            fn = getattr(self, f"_begin_{step.name.lower()}", None)
            if fn is None:
                raise TypeError(f"{type(self).__name__} has no _begin_{step.name.lower()} for step {step.name}")
            self._begin[step] = fn
        self.machine = Machine(model=self, states=S, initial=S.IDLE, auto_transitions=False,
                               ignore_invalid_triggers=False, after_state_change="_changed", send_event=True)
        order = [S.IDLE, *[s for s in self._process if s not in self.DETOURS], S.DONE]
        for src, dst in zip(order, order[1:]):
            self.machine.add_transition("advance", src, dst)
        for src, dst in self.DETOURS.items():
            self.machine.add_transition("advance", src, dst)
        self.machine.add_transition("fail", [S.IDLE, *self._process, S.INTERRUPTED], S.FAILED, before="_set_failure")
        self.machine.add_transition("interrupt", self._process, S.INTERRUPTED, before="_note_interrupted")
        for step in self._process:
            self.machine.add_transition("restart", S.INTERRUPTED, step, conditions=self._is_step(step))
        self._add_transitions(self.machine)

    def _add_transitions(self, machine: Machine) -> None:
        """Subclasses add their detours' triggers here."""

    @staticmethod
    def _is_step(step: Enum) -> Callable:
        return lambda event: event.kwargs.get("step") is step

    # transitions callbacks ------------------------------------------------
    def _set_failure(self, event) -> None:
        self.failure = event.kwargs["failure"]

    def _note_interrupted(self, event) -> None:
        self.interrupted_step = self.state
        self._pending = None

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

    @property
    def waiting_for_zones(self) -> set[str]:
        """The zones this machine's next motion waits for (empty when it is not waiting)."""
        return self._pending.zones if isinstance(self._pending, ZoneWait) else set()

    def tick(self) -> None:
        """Poll the current step once; advance, fail, or wait."""
        if self.finished or self.state is self.STEPS.INTERRUPTED or self._paused_at is not None:
            return
        if self.state is self.STEPS.IDLE:
            self.advance()
            return
        pending = self._pending
        if isinstance(pending, ZoneWait):
            if not self.ctx.zones.acquire(self.ctx.name, pending.zones, self.task_id):
                self._since = self.ctx.clock.now()  # waiting for a zone is not the step's own time
                self._pending = pending.start(self.ctx)
            return
        if isinstance(pending, Check):
            if pending.ready():
                problem = pending.verify()
                self._conclude(problem)
                return
        elif pending is None:
            self._conclude(None)
            return
        else:
            status = pending.status()
            if status is MotionStatus.DONE:
                self._conclude(None)
                return
            if status in (MotionStatus.FAILED, MotionStatus.STOPPED):
                check = self.STEP_CHECK.get(self.state, "tracking")
                self._conclude(Failure(check, f"{self.state.name.lower()}: {pending.reason}"))
                return
        if self.ctx.clock.now() - self._since > self._expected + self.STEP_TIMEOUT:
            self._conclude(Failure("completion", f"step {self.state.name.lower()} took {self.STEP_TIMEOUT:.0f} s longer "
                                                 f"than its motion ({self._expected:.1f} s) and was given up"))

    def _conclude(self, problem: Failure | None) -> None:
        """The current step is over: release the zones the robot has left, then advance or fail."""
        self._release_zones()
        if problem is None:
            self.advance()
        elif not self._recover(problem):
            self.fail(failure=problem)

    def _recover(self, problem: Failure) -> bool:
        """A retry policy: subclasses return True after firing a trigger that tries again."""
        return False

    def _release_zones(self) -> None:
        if self.state in self.KEEP_ZONES:
            return
        if self.ctx.zones is not None and self.ctx.occupancy is not None and self.ctx.zones.held_by(self.ctx.name):
            inside = self.ctx.occupancy.zones_at(self.ctx.robot.state().q, self.ctx.zones.zones)
            self.ctx.zones.release_all_but(self.ctx.name, inside, self.task_id)

    # pause, e-stop and restart ---------------------------------------------
    def pause(self) -> None:
        """The robot is held: stop the step's clock (a held motion is continued by the driver on resume). In a
        process step the process stops too (no arc burning in one spot), and resume restarts it."""
        if self._paused_at is None:
            self._paused_at = self.ctx.clock.now()
            if self.state in self.PROCESS_STEPS:
                self.ctx.stop_tools()
                self._restart_on_resume = True

    def resume(self) -> None:
        if self._paused_at is not None:
            self._since += self.ctx.clock.now() - self._paused_at
            self._paused_at = None
            if self._restart_on_resume:
                self._restart_on_resume = False
                self.interrupt()
                self.restart_after_estop()

    def resume_step(self) -> Enum | Failure:
        """Where to continue after an e-stop, judged from what the world reports. Default: redo the step."""
        return self.interrupted_step

    def restart_after_estop(self) -> None:
        self._paused_at, self._restart_on_resume = None, False
        where = self.resume_step()
        if isinstance(where, Failure):
            self.fail(failure=where)
        else:
            self.restart(step=where)

    # motion helpers -----------------------------------------------------
    def _execute(self, traj: JointTrajectory, also: np.ndarray | None = None) -> MotionHandle | ZoneWait:
        """Start a motion once the robot holds every zone it enters (and those of `also`, a joint path the
        robot will follow next without stopping to wait, like a weld traverse)."""
        self._expected = traj.duration
        zones = self.ctx.zones
        if zones is not None and self.ctx.occupancy is not None:
            path = traj.q if also is None else np.vstack([traj.q, also])
            needed = self.ctx.occupancy.zones_along(path, zones.zones)
            if zones.acquire(self.ctx.name, needed, self.task_id):
                return ZoneWait(traj, needed)
        return self.ctx.robot.execute(traj)

    def move_ptp(self, q_goal: np.ndarray, speed_scale: float = 1.0, what: str = "PTP move"):
        return self.move_ptp_via([q_goal], speed_scale, False, what)

    def _planned(self, request: tuple, q_start: np.ndarray, planner: Callable[[], object]):
        """planner() (a joint goal, a trajectory or a Failure), or its answer planned ahead (see PlanMemo)."""
        memo = self.ctx.plans
        return planner() if memo is None else memo.plan(self.ctx, request, q_start, planner)

    def move_ptp_via(self, qs: list[np.ndarray], speed_scale: float, blend: bool, what: str):
        """A joint move through the configurations qs in turn, as fast as the limits allow: straight in joint
        space where that is clear, otherwise around the obstacles on a path OMPL plans in the planning scene.
        With blend the arm flies by the waypoints, if the rounded path is clear too; otherwise it stops at each."""
        q0 = self.ctx.robot.state().q
        request = ("ptp", np.array(qs, float).tobytes(), float(speed_scale), bool(blend))
        traj = self._planned(request, q0, lambda: self._ptp_via(q0, qs, speed_scale, blend, what))
        return traj if isinstance(traj, Failure) else self._execute(traj)

    def _ptp_via(self, q0: np.ndarray, qs: list[np.ndarray], speed_scale: float, blend: bool, what: str):
        arm, drv = self.ctx.arm, self.ctx.robot
        vmax, amax = speed_scale * arm.limits.velocity, arm.max_accel
        path = [q0]
        for q in qs:
            leg = self._clear_path(path[-1], np.asarray(q, float), what)
            if isinstance(leg, Failure):
                return leg
            path.extend(leg[1:])
        path = np.array(path)
        if len(path) == 2:
            return ptp(path[0], path[1], vmax, amax, drv.period)
        if blend:
            traj = retime_path(path, vmax, amax, drv.period, blend=True)
            if self.ctx.scene is None or curve_free(traj.q, lambda q: self.ctx.collision(q, FINE_MARGIN) is None,
                                                    motion_step(self.ctx.occupancy.levers(), PLAN_TIERS[-1][1])):
                return traj
        return retime_path(path, vmax, amax, drv.period)

    def _clear_path(self, q0: np.ndarray, q1: np.ndarray, what: str) -> np.ndarray | Failure:
        """Joint waypoints from q0 to q1 that keep clear of the cell (motion.plan.clear_path); without a scene,
        the straight path (the twin still judges it)."""
        ctx = self.ctx
        if ctx.scene is None or np.allclose(q0, q1, atol=1e-12):
            return np.array([q0, q1])
        lim = ctx.arm.limits
        res = clear_path(q0, q1, ctx.collision, lim.lower, lim.upper, ctx.occupancy.levers(), ctx.rng,
                         probe=ctx.scene.probe(ctx.name, ctx.parts.poses, ctx.held,
                                               ctx.parts.away_from(ctx.name)))
        if not res.success:
            return Failure("collision", f"{what}: the straight joint path collides and {res.reason}")
        return res.path

    def joint_targets(self, targets: list[MoveTarget], what: str, q_from: np.ndarray) -> list[np.ndarray] | Failure:
        """Joint angles for each target in turn, each pose solved from the one before (no flips between them)."""
        q, out, lim = q_from, [], self.ctx.arm.limits
        for i, target in enumerate(targets):
            name = what if len(targets) == 1 else f"{what} {i + 1}"
            if target.kind == "pose":
                res = self.solve(target.T_world_tcp, q, name)
                if isinstance(res, Failure):
                    return res
                q = res
            else:
                q = np.asarray(target.q, float)
                outside = np.flatnonzero((q < lim.lower) | (q > lim.upper))
                if outside.size:
                    j = int(outside[0])
                    return Failure("joint_limits", f"{name} puts joint {j + 1} at {np.degrees(q[j]):.1f} deg, outside "
                                                   f"[{np.degrees(lim.lower[j]):.1f}, {np.degrees(lim.upper[j]):.1f}] deg")
            out.append(q)
        return out

    def solve(self, T_world_tcp: SE3, q_from: np.ndarray, what: str) -> np.ndarray | Failure:
        """The joint solution nearest q_from that puts the TCP at T_world_tcp clear of the cell (with a scene,
        solutions that would touch anything are passed over; if all do, the nearest, and the twin will judge)."""
        ctx = self.ctx
        clear = (lambda q: ctx.collision(q, FINE_MARGIN)) if ctx.scene is not None else None

        def planner():
            res = ctx.arm.ik(T_world_tcp, q_from, rng=ctx.rng, collision=clear)
            if not res.success and res.reason.startswith("collision"):
                res = ctx.arm.ik(T_world_tcp, q_from, rng=ctx.rng)
            if not res.success:
                x, y, z = T_world_tcp.t
                return Failure("reach", f"{what} at ({x:.3f}, {y:.3f}, {z:.3f}) m: {res.reason}")
            return res.q

        return self._planned(("ik", T_world_tcp.A.tobytes()), np.asarray(q_from, float), planner)

    def move_ptp_to_pose(self, T_world_tcp: SE3, what: str, speed_scale: float = 1.0):
        q = self.solve(T_world_tcp, self.ctx.robot.state().q, what)
        return q if isinstance(q, Failure) else self.move_ptp(q, speed_scale, what)

    def move_lin(self, T_world_tcp: SE3, speed: float, what: str):
        q0, drv = self.ctx.robot.state().q, self.ctx.robot

        def planner():
            try:
                return lin(self.ctx.arm, q0, T_world_tcp, speed, drv.period, self.ctx.rng)
            except PlanningError as exc:
                return Failure(exc.check, f"{what}: {exc}")

        traj = self._planned(("lin", T_world_tcp.A.tobytes(), float(speed)), q0, planner)
        return traj if isinstance(traj, Failure) else self._execute(traj)

    def tcp(self) -> SE3:
        return self.ctx.arm.fk(self.ctx.robot.state().q)

    @staticmethod
    def together(motion, *tools: MotionHandle):
        """A motion (started or still waiting for its zones) and tool commands, as one step."""
        if isinstance(motion, Failure):
            return motion
        if isinstance(motion, ZoneWait):
            motion.companions.extend(tools)
            return motion
        return AllOf(motion, *tools)


class AllOf:
    """A MotionHandle that is DONE when all of its handles are, FAILED as soon as one fails. A motion still
    waiting for its zones is started by the machine first (it is the first handle)."""

    def __init__(self, *handles: MotionHandle):
        self.handles, self.reason = handles, ""

    def status(self) -> MotionStatus:
        statuses = [h.status() for h in self.handles]
        for h, s in zip(self.handles, statuses):
            if s in (MotionStatus.FAILED, MotionStatus.STOPPED):
                self.reason = h.reason
                return s
        return MotionStatus.DONE if all(s is MotionStatus.DONE for s in statuses) else MotionStatus.RUNNING
