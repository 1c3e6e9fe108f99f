"""Whole programs in the twin: the bundled example passes; each faulty program fails for its own reason."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import FAULTY, ROOT, validate_file


def failed(report):
    return {c.name for c in report.checks if not c.passed}


def test_bundled_pick_place_passes_with_a_truthful_cycle():
    report = validate_file(str(ROOT / "programs" / "pick_place.yaml"))
    assert report.passed, [(c.name, c.detail) for c in report.failures]
    names = [c.name for c in report.checks]
    for name in ("reach", "collision", "grasp", "placement", "joint_limits", "velocity_limits", "tracking", "cycle_time"):
        assert name in names
    tasks = {t["id"]: t for t in report.tasks}
    assert all(t["status"] == "done" for t in tasks.values())
    # the cycle is when the last task ended, and the steps really took time in between
    assert report.cycle_time_s == pytest.approx(tasks["go_home"]["end_s"])
    assert 3.0 < report.cycle_time_s < 20.0
    steps = [e["to"] for e in report.events if e["task"] == "load_bracket" and e["machine"] in ("pick", "place")]
    assert steps == ["approach", "pregrasp", "close", "verify_grasp", "lift", "done",
                     "transfer", "lower", "release", "verify_place", "retreat", "done"]


@pytest.mark.parametrize("program, check, task, words", [
    ("reach_far_target.yaml", "reach", "to_far_point", ["out of reach", "1.3"]),
    ("collision_into_table.yaml", "collision", "touch_down", ["arm/finger", "table"]),
    ("collision_nest_too_low.yaml", "collision", "load_bracket", ["bracket", "nest_fixture", "place.lower"]),
    ("grasp_off_part.yaml", "grasp", "load_bracket", ["closed on air"]),
    ("grasp_too_shallow.yaml", "grasp", "load_bracket", ["the fingers grip only", "at least 5 mm"]),
    ("layout_base_in_table.yaml", "collision", None, ["arm/base_link", "table", "as the cell file lays them out"]),
    ("grasp_part_too_heavy.yaml", "grasp", "load_bracket", ["'bracket' moved", "in the gripper while held"]),
    ("zone_deadlock.yaml", "interlocks", None, ["can deadlock (found before anything moved)", "welder waits in 'weld_boss' for zone "
                                                "'nest_area', held by handler", "handler waits to start 'unload'"]),
    ("bolt_torque_over_max.yaml", "fasten", "bolt_plate", ["stalled at its maximum of 40.0 N m", "55.0 N m"]),
    ("weld_seam_in_air.yaml", "weld", "weld_boss", ["no arc"]),
    ("weld_part_to_fixture.yaml", "weld", "weld_plate", ["the bead ran onto nest_fixture and welded 'bracket' to it"]),
    ("grasp_bolted_down.yaml", "grasp", "move_plate", ["'base_plate' was bolted to table through base_plate.hole_a",
                                                        "cannot come away with the gripper"]),
    ("collision_lift_drags_on_pins.yaml", "collision", "unload", ["bracket hit nest_fixture", "(pick.lift)"]),
    ("grasp_plate_edge_shallow.yaml", "grasp", "load_bracket", ["the fingers grip only 2.0 mm"]),
    ("fasten_torque_below_rundown.yaml", "fasten", "bolt_plate", ["stands 6.0 mm proud of its seat", "clamps nothing"]),
    ("spot_near_edge.yaml", "weld", "weld_flange", ["spot panel.spot_2: the sheet ends within 4 mm of the electrode axis"]),
    ("fasten_bolt_into_air.yaml", "fasten", "bolt_plate", ["hole base_plate.hole_a: the bolt reached", "goes into nothing"]),
    ("weld_joins_nothing.yaml", "weld", "weld_upper", ["the bead ran 3.9 mm from 'panel', which lies against 'bracket_upper', "
                                                       "and joined nothing"]),
    ("weld_table_seam_welds_down.yaml", "weld", "weld_end", ["seam table.end_seam: the bead ran onto table and welded 'bracket'"]),
    ("weld_preloaded_joins_nothing.yaml", "weld", "weld_upper", ["the bead ran 3.7 mm from 'panel', which lies against "
                                                                 "'bracket_upper', and joined nothing"]),
    ("placement_picked_never_placed.yaml", "placement", "take_bracket", ["'bracket' is still in arm's gripper at the end of "
                                                                          "the cycle"]),
    ("collision_torch_tcp_radians.yaml", "collision", "weld_boss", ["welder/torch_neck hit nest_fixture", "(weld.touch)"]),
    ("collision_socket_hits_boss.yaml", "collision", "bolt_plate", ["runner/socket hit bracket", "(fasten.engage)"]),
    ("weld_seam_runs_off_part.yaml", "weld", "weld_upper", ["mm of the bead missed 'bracket_upper'", "the seam runs off its part"]),
    ("velocity_corner_too_fast.yaml", "velocity_limits", "weld_ell", ["seam too fast for the arm: at 30 mm/s joint",
                                                                       "this path allows about"]),
    ("interlocks_passenger_lucky.yaml", "interlocks", None, ["handler in 'carry' and welder in 'welder_home' can meet"]),
    ("zone_deadlock_long_program.yaml", "interlocks", None, ["can deadlock (found before anything moved)", "handler waits in "
                                                             "'a_mid' for zone 'mid_area', held by welder"]),
    ("fasten_socket_over_neighbour.yaml", "fasten", "bolt_hinge", ["hole hinge.bolt_a: the socket (24 mm across) cannot go "
                                                                   "over the bolt's head: the head of hinge.bolt_e stands 18 mm"]),
    ("clearance_beside_neighbour.yaml", "clearance", "place_lower", ["bracket_lower passed 3.0 mm from bracket_upper"]),
    ("collision_passenger_hits_screen.yaml", "collision", "carry", ["bracket hit screen", "in task carry"]),
    ("joint_limits_wrist_wound.yaml", "joint_limits", "turn2", ["would wind joint 6 (wrist_3_joint) past its limit of -360 deg"]),
    ("interlocks_shared_space_lucky.yaml", "interlocks", None, ["handler in 'stage_spare' and welder in 'torch_check' can meet",
                                                                 "no zone both hold covers the place and no 'after' keeps them from being there at once"]),
])
def test_faulty_program_fails_for_its_own_reason(program, check, task, words):
    report = validate_file(str(FAULTY / program))
    assert not report.passed
    result = report.check(check)
    assert not result.passed, f"{check} stayed green: {result.detail}"
    assert result.task == task
    for w in words:
        assert w in result.detail, result.detail
    assert report.failures[0].name == check  # the root cause is listed first


def test_a_crossing_is_found_however_the_run_was_timed_and_an_after_removes_it(tmp_path):
    """The lucky program saw no contact; ordering the welder's check after the staging (or a zone) is what fixes it."""
    report = validate_file(str(FAULTY / "interlocks_shared_space_lucky.yaml"))
    assert report.check("collision").passed  # this timing was lucky: nothing touched
    fixed = tmp_path / "fixed.yaml"
    fixed.write_text((FAULTY / "interlocks_shared_space_lucky.yaml").read_text().replace("../../sim/", f"{ROOT}/sim/")
                     .replace("{id: torch_check, robot: welder,", "{id: torch_check, robot: welder, after: [handler_home],"))
    assert validate_file(str(fixed)).passed


def test_fingers_closed_on_another_part_name_it():
    report = validate_file(str(FAULTY / "grasp_wrong_part.yaml"))
    assert report.failures[0].name == "collision" and "handler/finger_left hit bracket" in report.failures[0].detail
    grasp = report.check("grasp")
    assert not grasp.passed and "the fingers closed on 'bracket', not on 'spare'" in grasp.detail


def test_collision_findings_name_both_bodies_and_the_phase():
    finding = validate_file(str(FAULTY / "collision_nest_too_low.yaml")).check("collision").findings[0]
    assert {finding["a"], finding["b"]} == {"bracket", "nest_fixture"}
    assert finding["step"] == "place.lower" and finding["max_depth_mm"] > 0


def test_good_program_keeps_other_faults_green():
    """A check that fires on the good program would be noise; a check that misses a fault would be worse."""
    report = validate_file(str(FAULTY / "grasp_off_part.yaml"))
    assert report.check("collision").passed and report.check("reach").passed
    placed = validate_file(str(ROOT / "programs" / "pick_place.yaml")).check("placement")
    assert "worst" in placed.detail and placed.passed


def test_same_program_and_seed_give_the_same_report_bit_for_bit():
    import json

    from cellctl.model import load_program
    from cellctl.simulate import simulate
    from cellctl.validate import build_report

    path = ROOT / "programs" / "pick_place.yaml"
    a = json.dumps(build_report(simulate(load_program(path), seed=7)).to_json())
    b = json.dumps(build_report(simulate(load_program(path), seed=7)).to_json())
    assert a == b


def test_placement_is_read_from_the_world_not_the_plan(good_run):
    """Move the part in the recorded world after the run: the placement check must see it."""
    def nudge(trace):
        last = np.array(trace.parts["bracket"][-1])
        last[0, 3] += 0.02
        trace.parts["bracket"][-1] = last

    check = _with_trace_edit(good_run, nudge).check("placement")
    assert not check.passed and "20." in check.detail


@pytest.fixture(scope="module")
def good_run():
    from cellctl.model import load_program
    from cellctl.simulate import simulate

    return simulate(load_program(ROOT / "programs" / "pick_place.yaml"))


def _with_trace_edit(run, edit):
    """The good run with one recorded fact changed: a check must see what the world did, not what was planned."""
    import copy

    from cellctl.validate import build_report

    run = copy.deepcopy(run)
    edit(run.trace)
    return build_report(run)


def test_limits_and_tracking_checks_read_the_simulated_joints(good_run):
    def over_limit(trace):
        trace.robots["arm"].q[500] = trace.robots["arm"].q[500].copy()
        trace.robots["arm"].q[500][2] = trace.robots["arm"].upper[2] + 0.05

    def too_fast(trace):
        trace.robots["arm"].qd[600] = trace.robots["arm"].qd[600].copy()
        trace.robots["arm"].qd[600][0] = 1.5 * trace.robots["arm"].velocity_limit[0]

    report = _with_trace_edit(good_run, over_limit)
    assert not report.check("joint_limits").passed and "elbow_joint" in report.check("joint_limits").detail
    report = _with_trace_edit(good_run, too_fast)
    assert not report.check("velocity_limits").passed and "150.0 %" in report.check("velocity_limits").detail
    assert _with_trace_edit(good_run, lambda t: None).passed


def test_collision_check_reads_the_recorded_contacts(good_run):
    from cellctl.twin.trace import Contact

    def hit(trace):
        trace.contacts.append(Contact(trace.t[300], "arm/forearm_link", "table", 0.004, 250.0, (0.5, 0.0, 0.5)))

    check = _with_trace_edit(good_run, hit).check("collision")
    assert not check.passed and "arm/forearm_link hit table" in check.detail and check.task == "load_bracket"


def test_a_cycle_cut_by_the_time_limit_reports_its_running_task(monkeypatch):
    import cellctl.simulate as sim
    from cellctl.model import load_program
    from cellctl.validate import build_report

    monkeypatch.setattr(sim, "TIME_LIMIT", 3.0)
    report = build_report(sim.simulate(load_program(ROOT / "programs" / "pick_place.yaml")))
    completion = report.check("completion")
    assert not completion.passed and "limit of 3 s" in completion.detail and completion.task == "load_bracket"
    assert report.cycle_time_s == pytest.approx(3.0, abs=0.01)
    assert [t["status"] for t in report.tasks] == ["stopped", "not_run"]


def test_takt_message_never_shows_two_different_times_as_equal(good_run):
    import copy

    from cellctl.validate.checks import check_cycle_time

    run = copy.deepcopy(good_run)
    run.program.takt_s = round(run.cycle_time - 3e-5, 6)
    check = check_cycle_time(run)
    assert not check.passed
    cycle, takt = check.detail.split("cycle ")[1].split(" s")[0], check.detail.split("takt time of ")[1].split(" s")[0]
    assert cycle != takt


def test_a_part_riding_on_a_carried_part_is_not_a_collision():
    report = validate_file(str(ROOT / "tests" / "good" / "carry_on_pallet.yaml"))
    assert report.passed, [(c.name, c.detail) for c in report.failures]


def test_a_part_placed_then_picked_again_and_moved_passes():
    report = validate_file(str(ROOT / "tests" / "good" / "load_then_unload.yaml"))
    assert report.passed, [(c.name, c.detail) for c in report.failures]


def test_a_part_no_task_handles_must_stay_where_the_cell_put_it(tmp_path):
    import copy

    from cellctl.model import load_program
    from cellctl.simulate import simulate
    from cellctl.validate import build_report

    cell = ROOT / "tests" / "good" / "cells" / "pallet_cell.yaml"
    prog = tmp_path / "p.yaml"
    prog.write_text(f"program: p\ncell: {cell}\ntasks:\n  - {{id: load, robot: arm, pick: bracket, place: nest_fixture.nest}}\n")
    run = simulate(load_program(prog))
    assert build_report(run).passed
    knocked = copy.deepcopy(run)
    last = np.array(knocked.trace.parts["pallet"][-1])
    last[1, 3] += 0.05
    knocked.trace.parts["pallet"][-1] = last
    check = build_report(knocked).check("placement")
    assert not check.passed and "'pallet' was 50.0 mm" in check.detail and "no task handles it" in check.detail


@pytest.fixture(scope="module")
def bolt_run():
    from cellctl.model import load_program
    from cellctl.simulate import simulate

    return simulate(load_program(ROOT / "tests" / "good" / "bolt_down.yaml"))


def test_fasten_passes_with_torque_and_angle_read_from_the_spindle(bolt_run):
    from cellctl.validate import build_report

    report = build_report(bolt_run)
    assert report.passed, [c.detail for c in report.failures]
    fasten = report.check("fasten")
    assert [f["hole"] for f in fasten.findings] == ["bracket.hole_a", "bracket.hole_b"]
    assert all(f["torque_nm"] >= 12.0 and 5 <= f["angle_deg"] <= 90 for f in fasten.findings)


def test_fasten_check_reads_the_recorded_spindle_not_the_program(bolt_run):
    def weak_bolt(trace):
        last = [f for f in trace.fastenings if f["hole"] == "bracket.hole_b"][-1]
        last["torque_nm"] = 7.5

    check = _with_trace_edit(bolt_run, weak_bolt).check("fasten")
    assert not check.passed and "bracket.hole_b: 7.5 N m of 12.0 N m" in check.detail


@pytest.fixture(scope="module")
def weld_run():
    from cellctl.model import load_program
    from cellctl.simulate import simulate

    return simulate(load_program(ROOT / "programs" / "weld_station.yaml"))


def test_weld_check_reads_the_simulated_wire_tip(weld_run):
    from cellctl.validate import build_report

    good = build_report(weld_run).check("weld")
    assert good.passed and good.findings[0]["coverage_pct"] > 95 and good.findings[0]["deviation_mm"] < 1.0

    def drift(trace):  # the wire tip wanders 2 mm sideways for the middle of the arc time
        t_on = next(t for t, r, on in trace.arcs if on)
        for i in range(trace.index_at(t_on + 0.8), trace.index_at(t_on + 1.6)):
            T = np.array(trace.robots["welder"].tcp[i])
            T[0, 3] += 0.002
            trace.robots["welder"].tcp[i] = T

    bad = _with_trace_edit(weld_run, drift).check("weld")
    assert not bad.passed and "the wire tip strayed" in bad.detail and "of the seam welded" in bad.detail


def test_interlocks_check_reads_who_was_in_the_zone(weld_run):
    def intruder(trace):
        t, zone, robots = trace.zone_changes[1]
        trace.zone_changes.insert(2, (t + 0.1, zone, ("handler", "welder")))

    check = _with_trace_edit(weld_run, intruder).check("interlocks")
    assert not check.passed and "handler and welder were inside zone 'nest_area' together" in check.detail


def test_a_seam_that_was_never_welded_fails_the_weld_check():
    """A weld task that never ran (here: the cell refused a deadlocking program) is no pass for `weld`."""
    weld = validate_file(str(FAULTY / "zone_deadlock.yaml")).check("weld")
    assert not weld.passed and "seam bracket.boss_seam was not welded (the task not run)" in weld.detail


def test_a_weld_in_a_fixture_fuses_nothing_when_its_bead_stays_on_the_part(weld_run):
    """The weld station's boss seam lies on the bracket alone: welded in the nest, the bracket still comes out."""
    assert weld_run.trace.joins == [] and weld_run.trace.bolted == []
