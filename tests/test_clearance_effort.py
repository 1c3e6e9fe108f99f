"""Clearance and effort limits, read from the simulated world: the twin measures how close each robot came to what
it must not touch and what torque each motor gave; a faulty program fails each for its own reason, the bundled
programs stay green, and edits to the recorded world show that the checks read it."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from spatialmath import SE3

from conftest import FAULTY, ROOT, validate_file


def _run(path):
    from cellctl.model import load_program
    from cellctl.simulate import simulate

    return simulate(load_program(path))


@pytest.fixture(scope="module")
def good_run():
    return _run(ROOT / "programs" / "pick_place.yaml")


def _with_trace_edit(run, edit):
    from cellctl.validate import build_report

    run = copy.deepcopy(run)
    edit(run.trace)
    return build_report(run)


@pytest.mark.parametrize("program, check, task, words", [
    ("clearance_too_close.yaml", "clearance", "sweep_over_nest",
     ["arm/finger_", "passed 10.0 mm from nest_fixture", "(move.move)", "margin 20 mm"]),
    ("effort_heavy_part.yaml", "effort_limits", "load_bracket",
     ["arm elbow_joint held at its torque limit", "in task load_bracket (pick.lift)", "peak 100 % of rated"]),
])
def test_faulty_program_fails_for_its_own_reason(program, check, task, words):
    report = validate_file(str(FAULTY / program))
    result = report.check(check)
    assert not report.passed and not result.passed, result.detail
    assert result.task == task
    for w in words:
        assert w in result.detail, result.detail
    assert report.failures[0].name == check, [(c.name, c.detail) for c in report.failures]


def test_a_near_miss_is_no_collision_and_a_heavy_part_is_no_grasp_fault():
    """The sweep passes the pins without touching them; the strong gripper holds the heavy part: each fault is its own."""
    near = validate_file(str(FAULTY / "clearance_too_close.yaml"))
    assert near.check("collision").passed and [c.name for c in near.failures] == ["clearance"]
    assert all(9.0 < f["clearance_mm"] < 11.0 and not f["touched"] for f in near.check("clearance").findings)
    heavy = validate_file(str(FAULTY / "effort_heavy_part.yaml"))
    assert heavy.check("grasp").passed and heavy.check("clearance").passed
    elbow = next(f for f in heavy.check("effort_limits").findings if f["joint"] == "elbow_joint")
    assert elbow["saturated_s"] > 0.5 and elbow["step"] == "pick.lift"


@pytest.mark.parametrize("program", ["pick_place.yaml", "weld_station.yaml"])
def test_bundled_programs_keep_their_clearance_and_torque(program):
    report = validate_file(str(ROOT / "programs" / program))
    for name in ("clearance", "effort_limits"):
        assert report.check(name).passed, report.check(name).detail
    assert "peak joint torque" in report.check("effort_limits").detail


def test_effort_check_reads_the_simulated_torques(good_run):
    """A motor held at its limit for 50 ms fails (the joint needed more than it has); one step at the limit is a transient."""
    def saturate(steps):
        def edit(trace):
            rt = trace.robots["arm"]
            i0 = trace.index_at(3.0)
            for i in range(i0, i0 + steps):
                rt.tau[i] = np.array(rt.tau[i], float)
                rt.tau[i][1] = -rt.effort_limit[1]
        return edit

    check = _with_trace_edit(good_run, saturate(12)).check("effort_limits")
    assert not check.passed and "arm shoulder_lift_joint held at its torque limit for 0.05 s" in check.detail
    assert check.task == "load_bracket" and check.findings[0]["peak_pct"] == 100.0
    assert _with_trace_edit(good_run, saturate(1)).check("effort_limits").passed


def test_clearance_check_reads_the_recorded_distances(good_run):
    """A forearm 2 mm from the table in the recorded world fails; the fingers 1 mm from the part they close on do not."""
    from cellctl.twin.trace import Proximity

    t_transfer, t_close = good_run.trace.t[800], next(e["t"] for e in good_run.events if e["to"] == "close") + 0.01

    def near_miss(trace):
        trace.proximities.append(Proximity(t_transfer, "arm/forearm_link", "table", 0.002))

    def at_work(trace):
        trace.proximities.append(Proximity(t_close, "arm/finger_left", "bracket", 0.001))

    check = _with_trace_edit(good_run, near_miss).check("clearance")
    assert not check.passed and "arm/forearm_link passed 2.0 mm from table" in check.detail and check.task == "load_bracket"
    assert _with_trace_edit(good_run, at_work).check("clearance").passed


def test_a_pair_that_touched_is_dated_by_its_contact_after_the_collision():
    """A crash fails clearance too, but dated by the contact, so the collision stays listed first."""
    report = validate_file(str(FAULTY / "collision_into_table.yaml"))
    clearance, collision = report.check("clearance"), report.check("collision")
    assert not clearance.passed and clearance.findings[0]["touched"] and "see collision" in clearance.detail
    assert clearance.findings[0]["t_s"] >= collision.findings[0]["t_first_s"]
    assert report.failures[0].name == "collision"


def test_the_twin_measures_a_known_gap():
    """The fingertips put 12 mm over the table top: the monitor records that gap, and nothing for the tool on its
    own held part or the robot against itself."""
    from cellctl.model import load_program
    from cellctl.twin._pybullet import pb
    from cellctl.twin.clearance import watch_clearance
    from cellctl.twin.world import World

    cell = load_program(ROOT / "programs" / "pick_place.yaml").cell
    with World(cell) as world:
        monitor = watch_clearance(world)
        arm = world.robots["arm"]
        # TCP 10 mm above the fingertips: fingertips at 0.512 m, over the bare table (clear of the bracket and the nest)
        sol = arm.arm.ik(SE3(0.9, 0.0, 0.522) * SE3.Rx(np.pi), q_seed=np.array(cell.robots["arm"].home))
        assert sol.success
        for j, q in zip(arm.joints, sol.q):
            pb.resetJointState(arm.body, j, float(q), physicsClientId=world.client)
        monitor.sample(0.0)
        gaps = {(p.a, p.b): p.distance for p in world.trace.proximities if p.t == 0.0}
        assert gaps[("arm/finger_left", "table")] == pytest.approx(0.012, abs=5e-4)
        assert not any(a.split("/")[0] == b.split("/")[0] for a, b in gaps)
        assert world.trace.clearance_cap == pytest.approx(cell.clearance + 0.02)
