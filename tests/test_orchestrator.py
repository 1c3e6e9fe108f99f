"""The orchestrator over several robots on ideal drivers (no PyBullet): concurrency, zone exclusivity,
deadlock rejection, pause/resume, and e-stop then reset and restart."""

from __future__ import annotations

import numpy as np
import pytest

from cellctl.control.orchestrator import CellMode, Orchestrator
from cellctl.control.preflight import check_interlocks
from cellctl.control.robot import Mode
from cellctl.drivers.ideal import SteppedClock
from cellctl.model import load_program
from conftest import ROOT
from fakes import ideal_contexts

PROGRAM = ROOT / "programs/weld_station.yaml"


def rig(program=None, preflight=check_interlocks):
    program = program or load_program(PROGRAM)
    clock = SteppedClock(1 / 240)
    contexts = ideal_contexts(program, clock)
    return Orchestrator(program, contexts, clock, preflight=preflight), contexts, clock


def run(orch, clock, limit=300.0, each=None):
    while not orch.finished and clock.t < limit:
        orch.tick()
        clock.advance()
        if each is not None:
            each(clock.t)
    return orch


def busy_spans(events, robot):
    spans, since = [], None
    for e in events:
        if e["machine"] == "robot" and e["robot"] == robot:
            if e["to"] == "busy" and since is None:
                since = e["t"]
            elif e["from"] == "busy" and since is not None:
                spans.append((since, e["t"]))
                since = None
    return spans


@pytest.fixture(scope="module")
def normal():
    orch, contexts, clock = rig()
    inside = []  # per tick, the robots the (conservative) sphere model puts in the zone

    def watch(t):
        zone = orch.program.cell.zones
        inside.append([r for r, c in contexts.items() if c.occupancy.zones_at(c.robot.state().q, zone)])

    run(orch, clock, each=watch)
    return orch, inside


def test_the_program_finishes_with_every_task_done_once(normal):
    orch, _ = normal
    assert orch.state is CellMode.DONE and orch.failure is None
    assert all(t["status"] == "done" for t in orch.tasks.values())
    for tid in orch.tasks:
        ends = [e for e in orch.events if e["task"] == tid and e["to"] == "done" and e["machine"] != "robot"]
        assert len(ends) == (2 if orch.tasks[tid]["kind"] == "pick_place" else 1)


def test_robots_work_at_the_same_time_where_the_graph_allows(normal):
    orch, _ = normal
    a, b = busy_spans(orch.events, "handler"), busy_spans(orch.events, "welder")
    overlap = sum(max(0.0, min(x1, y1) - max(x0, y0)) for x0, x1 in a for y0, y1 in b)
    assert overlap > 5.0  # the welder readies and welds while the handler loads and stages the spare


def test_one_robot_at_a_time_in_the_zone_and_the_welder_waited(normal):
    orch, inside = normal
    assert max(len(r) for r in inside) == 1
    assert {r for names in inside for r in names} == {"handler", "welder"}  # both did go in
    waits = [e for e in orch.events if e["machine"] == "zone" and e["to"] == "waiting"]
    assert {(e["robot"], e["held_by"]) for e in waits} >= {("welder", "handler")}
    # each robot holds the zone over exactly the times the book says, one holder at a time
    holder = None
    for e in (e for e in orch.events if e["machine"] == "zone"):
        if e["to"] == "held":
            assert holder is None
            holder = e["robot"]
        elif e["from"] == "held":
            assert holder == e["robot"]
            holder = None


def deadlocking_program():
    """The handler stays over the nest waiting for the weld, which needs the nest zone: a deadlock."""
    program = load_program(PROGRAM)
    program.tasks = [t for t in program.tasks if t.id not in ("handler_clear", "stage_spare")]
    return program


def test_a_zone_deadlock_is_rejected_before_anything_moves():
    orch, contexts, clock = rig(deadlocking_program())
    run(orch, clock, limit=5.0)
    assert orch.state is CellMode.FAILED
    task, failure = orch.failure
    assert failure.check == "interlocks" and "deadlock" in failure.message
    assert "welder waits in 'weld_boss' for zone 'nest_area', held by handler" in failure.message
    assert "handler waits to start 'unload'" in failure.message
    assert all(not c.robot.executed for c in contexts.values())  # nothing moved


def test_without_the_preflight_the_deadlock_is_caught_when_it_happens():
    orch, contexts, clock = rig(deadlocking_program(), preflight=None)
    run(orch, clock, limit=100.0)
    assert orch.state is CellMode.FAILED and orch.failure[1].check == "interlocks"
    assert "deadlock" in orch.failure[1].message and clock.t < 20.0


def test_pause_holds_every_robot_and_resume_finishes_the_same_cycle():
    ref, _, ref_clock = rig(preflight=None)
    run(ref, ref_clock)
    orch, contexts, clock = rig(preflight=None)
    PAUSE_AT, PAUSED_FOR = 3.0, 120.0  # longer than any step timeout: paused time must not count
    q_paused = {}

    def operator(t):
        if abs(t - PAUSE_AT) < 1e-9:
            orch.pause()
        if abs(t - (PAUSE_AT + 1.0)) < 1e-9:
            q_paused.update({r: c.robot.state().q for r, c in contexts.items()})
        if abs(t - (PAUSE_AT + PAUSED_FOR)) < 1e-9:
            assert all(np.allclose(c.robot.state().q, q_paused[r]) for r, c in contexts.items())  # nothing moved
            assert all(ctl.state in (Mode.PAUSED, Mode.IDLE) for ctl in orch.controllers.values())
            orch.resume()

    run(orch, clock, limit=400.0, each=operator)
    assert orch.state is CellMode.DONE and all(t["status"] == "done" for t in orch.tasks.values())
    # the held motions were continued, not planned again: the same trajectories as without the pause
    assert sum(len(c.robot.executed) for c in contexts.values()) == sum(len(c.robot.executed) for c in ref.contexts.values())
    assert orch.cycle_time == pytest.approx(ref.cycle_time + PAUSED_FOR, abs=0.7)


def test_estop_stops_at_once_and_restart_continues_without_redoing_work():
    orch, contexts, clock = rig(preflight=None)
    ESTOP_AT = 4.0  # the handler is placing the bracket, the welder has readied
    seen = {}

    def operator(t):
        if abs(t - ESTOP_AT) < 1e-9:
            seen["done_before"] = {tid for tid, r in orch.tasks.items() if r["status"] == "done"}
            seen["q"] = {r: c.robot.state().q for r, c in contexts.items()}
            orch.estop()
            assert all(ctl.state is Mode.ESTOPPED for ctl in orch.controllers.values())
        if abs(t - (ESTOP_AT + 1 / 240)) < 1e-9:
            # one control tick later: no robot has moved on
            assert all(np.allclose(c.robot.state().q, seen["q"][r], atol=1e-12) for r, c in contexts.items())
        if abs(t - (ESTOP_AT + 10.0)) < 1e-9:
            assert all(c.robot.execute(None).status().value == "failed" for c in contexts.values())  # refused
            orch.reset()
            orch.start()

    run(orch, clock, limit=300.0, each=operator)
    assert orch.state is CellMode.DONE, orch.failure
    assert all(t["status"] == "done" for t in orch.tasks.values())
    assert seen["done_before"] == {"torch_ready"}
    # work done before the e-stop was not done again: no event of a finished task after the e-stop
    assert not [e for e in orch.events if e["task"] in seen["done_before"] and e["t"] > ESTOP_AT]
    # the interrupted task resumed where the world allowed: the bracket was picked once
    picks = [e for e in orch.events if e["task"] == "load_bracket" and e["machine"] == "pick" and e["to"] == "close"]
    assert len(picks) == 1
    interrupted = [e for e in orch.events if e["to"] == "interrupted"]
    restarted = [e for e in orch.events if e["from"] == "interrupted"]
    assert interrupted and len(restarted) == len(interrupted)


def test_a_failure_stops_every_tool_and_an_estop_is_still_accepted():
    orch, contexts, clock = rig(preflight=None)

    def servo_fault(t):
        if contexts["welder"].weld.established and not contexts["handler"].robot.fault:
            contexts["handler"].robot.fault = "following error"  # the handler's drive trips while the arc burns

    run(orch, clock, each=servo_fault)
    assert orch.state is CellMode.FAILED and "following error" in orch.failure[1].message
    assert not contexts["welder"].weld.on  # the arc went out with the cell
    orch.estop()  # never refused
    assert all(ctl.state is Mode.ESTOPPED for ctl in orch.controllers.values())
    orch.estop()


def test_pausing_a_weld_puts_the_arc_out_and_resume_welds_the_rest_of_the_seam():
    orch, contexts, clock = rig(preflight=None)
    weld = contexts["welder"].weld
    seen = {}

    def operator(t):
        if weld.established and "paused" not in seen and orch.active["welder"].machine.state.name == "TRAVERSE" \
                and clock.t - next(e["t"] for e in orch.events if e["to"] == "traverse") > 1.0:
            orch.pause()
            seen["paused"] = t
        if "paused" in seen and abs(t - (seen["paused"] + 5.0)) < 1e-9:
            seen["arc_during_pause"] = weld.on
            orch.resume()

    run(orch, clock, each=operator)
    assert orch.state is CellMode.DONE and seen["arc_during_pause"] is False
    traverses = [e for e in orch.events if e["task"] == "weld_boss" and e["to"] == "traverse"]
    assert len(traverses) == 2  # the rest of the seam, after a fresh approach and arc-on


@pytest.mark.parametrize("spoil, words", [
    (lambda p: setattr(p.tasks[0], "robot", "ghost"), "robot 'ghost', which this cell does not have"),
    (lambda p: setattr(p.tasks[0], "part", "ghost_part"), "works on 'ghost_part', which is not in the cell"),
    (lambda p: p.tasks[0].after.append("handler_home"), "wait for each other in a cycle"),
])
def test_a_task_graph_that_cannot_finish_is_rejected_before_anything_moves(spoil, words):
    """Programs built in code skip the loader's checks: the orchestrator refuses them itself."""
    program = load_program(PROGRAM)
    spoil(program)
    orch, contexts, clock = rig(program)
    run(orch, clock, limit=2.0)
    assert orch.state is CellMode.FAILED and words in orch.failure[1].message
    assert all(not c.robot.executed for c in contexts.values())
