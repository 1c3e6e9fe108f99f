"""Preflight: before anything moves, prove that the program's zone interlocks cannot deadlock, and that no two
robots can meet whatever the timing (cellctl.control.crossings).

Every task is dry-run on ideal drivers (the same task machines planning the same motions, from copies of
the same random streams) to learn which zones each motion enters and which zones each robot is left
standing in. Then every interleaving of the robots is explored for a state in which each robot with work
left waits: for a zone another robot holds, or for a task that cannot finish.
"""

from __future__ import annotations

import copy
from collections import deque
from dataclasses import dataclass, field, replace

from cellctl.control.context import RobotContext
from cellctl.control.crossings import SweepRecorder, find_crossings
from cellctl.control.machine import Failure, plan_ahead
from cellctl.drivers.ideal import IdealGripper, IdealNutrunner, IdealRobot, IdealSpotGun, IdealWeldSource, SteppedClock
from cellctl.kinematics.occupancy import Occupancy
from cellctl.model.program import Program, happens_before, run_order

MAX_STATES = 200_000  # interleavings explored before the proof is given up (and said so)
MAX_TICKS = 2_000_000


class ZoneRecorder:
    """Stands in for the ZoneBook in the dry run: grants everything and writes down what was asked."""

    def __init__(self, zones: dict, start: set[str]):
        self.zones, self.ops, self.held = zones, [("start", frozenset(start))], set(start)

    def held_by(self, robot: str) -> set[str]:
        return self.held

    def acquire(self, robot: str, zones: set[str], task: str | None = None) -> set[str]:
        self.ops.append(("acquire", frozenset(zones)))
        self.held |= zones
        return set()

    def release_all_but(self, robot: str, inside: set[str], task: str | None = None) -> None:
        self.ops.append(("inside", frozenset(inside)))
        self.held &= inside

    def cancel_wait(self, robot: str) -> None:
        pass


@dataclass
class Verdict:
    failure: Failure | None  # a deadlock: the cell does not start
    detail: str
    crossings: list[str] = field(default_factory=list)  # robots only timing keeps apart: reported, the run goes on


def dry_run(program: Program, contexts: dict[str, RobotContext]) -> tuple[dict[str, list], dict] | None:
    """Per robot, its sequence of ('begin', task) / ('acquire', zones) / ('inside', zones) / ('end', task) with
    ('start', zones) first, and its paths (crossings.Phase list); None if a task fails in the dry run (the real run
    will then report why)."""
    from cellctl.control.taskrun import TaskRun

    cell = program.cell
    some = next(iter(contexts.values()))
    clock = SteppedClock(some.robot.period)
    book = some.parts.copy()
    dry, ops, sweeps = {}, {}, {}
    for name, ctx in contexts.items():
        plan_ahead(ctx)  # the real run takes the motions planned here, where nothing has changed
        tool = cell.robots[name].tool
        occ = Occupancy(ctx.arm, tool.urdf if tool else None)
        q0 = ctx.robot.state().q
        recorder = ZoneRecorder(cell.zones, occ.zones_at(q0, cell.zones))
        dry[name] = replace(ctx, robot=IdealRobot(name, clock, q0),
                            gripper=IdealGripper(name, clock) if ctx.gripper is not None else None,
                            weld=IdealWeldSource(name, clock) if ctx.weld is not None else None,
                            nutrunner=IdealNutrunner(name, clock, ctx.nutrunner.max_torque) if ctx.nutrunner is not None else None,
                            spot=IdealSpotGun(name, clock, ctx.spot.max_force) if ctx.spot is not None else None,
                            clock=clock, rng=copy.deepcopy(ctx.rng), parts=book, zones=recorder, occupancy=occ)
        ops[name] = recorder.ops
        sweeps[name] = SweepRecorder(name, occ, q0, lambda rec=recorder: rec.held, lambda d=dry[name]: d.carrying())
    for task in run_order(program.tasks)[0]:
        ctx, sweep = dry[task.robot], sweeps[task.robot]
        ctx.zones.ops.append(("begin", task.id))
        sweep.begin(task.id, ctx.robot.state().q)
        run = TaskRun(task, program, ctx, lambda e: None)
        for _ in range(MAX_TICKS):
            run.tick()
            if run.done:
                break
            clock.advance()
            sweep.sample(ctx.robot.state().q)
        if not run.done or run.failure is not None:
            return None
        ctx.zones.ops.append(("end", task.id))
        sweep.end(task.id, ctx.robot.state().q)
    return ops, {name: sweep.finish(cell.zones) for name, sweep in sweeps.items()}


def _compress(ops: list, needed: set[str]) -> tuple[frozenset, list]:
    """Drop what cannot make a robot wait or another robot wait for it; turn zone ops into held sets."""
    start, rest = ops[0][1], ops[1:]
    held, out, task = start, [], None
    for kind, value in rest:
        if kind == "begin":
            task = value
            out.append(("begin", value, held, task))
        elif kind == "end":
            if value in needed:
                out.append(("end", value, held, task))
        elif kind == "acquire":
            if not value <= held:
                held = held | value
                out.append(("acquire", value, held, task))
        else:
            if held & value != held:
                held = held & value
                out.append(("inside", value, held, task))
    return start, out


def check_interlocks(program: Program, contexts: dict[str, RobotContext]) -> Verdict:
    """Explore every interleaving of the robots' zone and task waits; a reachable state where nothing can move
    and work is left is a deadlock."""
    if len(contexts) < 2:
        return Verdict(None, "one robot: no zone can be contended" if program.cell.zones else "no shared zones to interlock")
    dry = dry_run(program, contexts)
    if dry is None:
        return Verdict(None, "not proven before the run: a task fails in the dry run (see its own check)")
    ops, sweeps = dry
    scene = next((ctx.scene for ctx in contexts.values() if ctx.scene is not None), None)
    crossings = find_crossings(sweeps, happens_before(program.tasks), getattr(scene, "robots_apart", None))
    proof = _deadlock_proof(program, ops)
    return replace(proof, crossings=crossings, detail=proof.detail + ("; no two robots can meet whatever the timing"
                                                                      if not crossings else ""))


def _deadlock_proof(program: Program, ops: dict[str, list]) -> Verdict:
    """Explore every interleaving of the robots' zone and task waits for a state where nothing can move."""
    if not program.cell.zones:
        return Verdict(None, "no shared zones to interlock")
    after = {t.id: set(t.after) for t in program.tasks}
    needed = set().union(*after.values()) if after else set()
    robots = list(ops)
    seqs = {r: _compress(ops[r], needed) for r in robots}
    deps_of = {r: [after[o[1]] if o[0] == "begin" else set() for o in seqs[r][1]] for r in robots}

    def held(r: str, pc: int) -> frozenset:
        start, seq = seqs[r]
        return seq[pc - 1][2] if pc > 0 else start

    ended = {}  # robot -> for each pc, the tasks it has ended before that op
    for r in robots:
        acc, rows = frozenset(), [frozenset()]
        for kind, value, _, _ in seqs[r][1]:
            acc = acc | {value} if kind == "end" else acc
            rows.append(acc)
        ended[r] = rows

    def done(pcs: tuple) -> frozenset:
        return frozenset().union(*(ended[r][pc] for r, pc in zip(robots, pcs)))

    def blocker(pcs: tuple, k: int) -> str | None:
        r, pc = robots[k], pcs[k]
        kind, value, _, task = seqs[r][1][pc]
        if kind == "begin":
            missing = sorted(deps_of[r][pc] - done(pcs))
            return f"{r} waits to start '{value}' until {', '.join(repr(m) for m in missing)} done" if missing else None
        if kind == "acquire":
            for s, pc_s in zip(robots, pcs):
                clash = sorted(value & held(s, pc_s)) if s != r else []
                if clash:
                    return f"{r} waits in '{task}' for zone {', '.join(repr(z) for z in clash)}, held by {s}"
        return None

    def quiet(pcs: tuple) -> int | None:
        """A robot whose next step can go now and takes no zone (it starts a task it may start, ends one, or gives
        zones back): such a step disables no one and stays possible until taken, so taking it first loses no
        deadlock (a partial-order reduction); None when there is none."""
        for k, r in enumerate(robots):
            pc = pcs[k]
            if pc < len(seqs[r][1]) and seqs[r][1][pc][2] <= held(r, pc) and blocker(pcs, k) is None:
                return k
        return None

    start = tuple(0 for _ in robots)
    seen, queue = {start}, deque([start])
    while queue:
        pcs = queue.popleft()
        k = quiet(pcs)
        if k is not None:
            nxt = pcs[:k] + (pcs[k] + 1,) + pcs[k + 1:]
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
            continue
        moved, waits = False, []
        for k, r in enumerate(robots):
            if pcs[k] >= len(seqs[r][1]):
                inside = held(r, pcs[k])
                if inside:
                    waits.append(f"{r} has finished its tasks inside zone {', '.join(repr(z) for z in sorted(inside))}")
                continue
            why = blocker(pcs, k)
            if why:
                waits.append(why)
                continue
            moved = True
            nxt = pcs[:k] + (pcs[k] + 1,) + pcs[k + 1:]
            if nxt not in seen:
                if len(seen) >= MAX_STATES:
                    return Verdict(None, f"not proven: more than {MAX_STATES} interleavings")
                seen.add(nxt)
                queue.append(nxt)
        if not moved and any(pcs[k] < len(seqs[r][1]) for k, r in enumerate(robots)):
            return Verdict(Failure("interlocks", "the program can deadlock (found before anything moved): " + "; ".join(waits)
                                   + ". Add a move out of the zone (e.g. move: home) or an 'after' that orders the robots"),
                           "")
    return Verdict(None, f"no deadlock in any of {len(seen)} interleavings of zone and task waits")
