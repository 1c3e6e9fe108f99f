"""Orchestration in the twin, judged from the recorded world: two robots sharing a zone, e-stop, pause."""

from __future__ import annotations

import numpy as np
import pytest

from cellctl.control.robot import Mode
from cellctl.model import load_program
from cellctl.simulate import simulate
from cellctl.validate import build_report
from conftest import ROOT

PROGRAM = ROOT / "programs/weld_station.yaml"


@pytest.fixture(scope="module")
def run():
    result = simulate(load_program(PROGRAM))
    return result, build_report(result)


def test_two_robots_never_occupy_the_shared_zone_together(run):
    result, report = run
    assert report.passed, [c.detail for c in report.checks if not c.passed]
    changes = result.trace.zone_changes
    assert changes, "the twin recorded nobody in the zone: the test would prove nothing"
    assert max(len(robots) for _, _, robots in changes) == 1
    assert {r for _, _, robots in changes for r in robots} == {"handler", "welder"}
    # and the welder really had to wait for the handler to come out
    assert any(e["machine"] == "zone" and e["robot"] == "welder" and e["to"] == "waiting" for e in result.events)


def test_both_robots_moved_at_the_same_time(run):
    result, _ = run
    moving = {name: np.abs(np.array(rt.qd)).max(axis=1) > 0.05 for name, rt in result.trace.robots.items()}
    together = np.logical_and(moving["handler"], moving["welder"]).sum() * result.trace.dt
    assert together > 2.5  # seconds in which both arms were in motion, as simulated


def test_the_sphere_model_never_misses_a_robot_the_twin_finds_in_a_zone():
    from cellctl.kinematics.occupancy import Occupancy
    from cellctl.twin._pybullet import pb
    from cellctl.twin.world import World

    program = load_program(PROGRAM)
    rng = np.random.default_rng(1)
    with World(program.cell) as world:
        missed, hits = [], 0
        for name, sim in world.robots.items():
            occ = Occupancy(sim.arm, program.cell.robots[name].tool.urdf)
            for _ in range(500):
                q = rng.uniform(sim.arm.limits.lower / 2, sim.arm.limits.upper / 2)
                for j, v in zip(sim.joints, q):
                    pb.resetJointState(sim.body, j, float(v), physicsClientId=world.client)
                for zone in program.cell.zones:
                    if name in world.zone_occupants(zone):
                        hits += 1
                        if zone not in occ.zones_at(q, program.cell.zones):
                            missed.append((name, zone, q))
    assert hits > 10 and not missed


def test_estop_in_the_twin_freezes_the_command_and_restart_finishes_the_cycle():
    program = load_program(PROGRAM)
    ESTOP_AT, RESET_AT = 4.0, 7.0

    def operator(world, orch):
        if abs(world.t - ESTOP_AT) < 1e-9:
            orch.estop()
        if abs(world.t - RESET_AT) < 1e-9:
            assert all(c.state is Mode.ESTOPPED for c in orch.controllers.values())
            orch.reset()
            orch.start()

    result = simulate(program, on_tick=operator)
    report = build_report(result)
    assert report.passed, [c.detail for c in report.checks if not c.passed]
    trace, i = result.trace, result.trace.index_at(ESTOP_AT)
    for name, rt in trace.robots.items():
        cmd = np.array(rt.q_cmd[i + 1:trace.index_at(RESET_AT)])
        assert np.abs(cmd - cmd[0]).max() < 1e-12, name  # from the next step on, the reference stood still
    handler = np.abs(np.array(trace.robots["handler"].qd))
    assert handler[i].max() > 0.1  # it was moving when the e-stop came
    assert handler[trace.index_at(ESTOP_AT + 0.5):trace.index_at(RESET_AT)].max() < 0.01  # and stopped soon
    assert [t["status"] for t in result.tasks] == ["done"] * len(result.tasks)
    picks = [e for e in result.events if e["task"] == "load_bracket" and e["machine"] == "pick" and e["to"] == "close"]
    assert len(picks) == 1  # the bracket in the hand was not picked again


def test_pause_in_the_twin_holds_the_path_and_resume_finishes():
    program = load_program(PROGRAM)
    PAUSE_AT, RESUME_AT = 3.0, 8.0

    def operator(world, orch):
        if abs(world.t - PAUSE_AT) < 1e-9:
            orch.pause()
        if abs(world.t - RESUME_AT) < 1e-9:
            orch.resume()

    result = simulate(program, on_tick=operator)
    report = build_report(result)
    assert report.passed, [c.detail for c in report.checks if not c.passed]
    trace = result.trace
    still = slice(trace.index_at(PAUSE_AT + 0.5), trace.index_at(RESUME_AT))
    assert all(np.abs(np.array(rt.qd[still])).max() < 0.01 for rt in trace.robots.values())
    normal = simulate(program).cycle_time
    assert result.cycle_time == pytest.approx(normal + (RESUME_AT - PAUSE_AT), abs=0.7)
