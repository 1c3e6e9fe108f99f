"""One faulty copy of the door sub-assembly program per kind of fault the validator knows: each must fail, with its
own check listed first (the likeliest root cause). Tracking and completion are left out: a program alone cannot
make them the root cause (they follow a collision, an overload or a failed task)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import validate_file

DOOR_FAULTS = Path(__file__).resolve().parent / "faulty" / "door"


FAULTS = [
    ("door_reach_far_target.yaml", "reach", "welder_ready", ["out of reach"]),
    ("door_joint_limits_elbow.yaml", "joint_limits", "fastener_ready", ["joint 3 at 200.0 deg"]),
    ("door_velocity_weld_too_fast.yaml", "velocity_limits", "weld_rail", ["LIN too fast for the arm", "1000 mm/s"]),
    ("door_effort_heavy_panel.yaml", "effort_limits", "load_panel", ["held at its torque limit"]),
    ("door_collision_gripper_into_jig.yaml", "collision", "handler_clear", ["handler/finger", "door_jig"]),
    ("door_clearance_over_panel.yaml", "clearance", None, ["handler/finger", "from panel", "margin 5 mm"]),  # parked: no task
    ("door_grasp_off_block.yaml", "grasp", "place_upper", ["closed on air"]),
    ("door_placement_above_panel.yaml", "placement", "place_upper", ["'bracket_upper' was 15.0 mm", "panel.hinge_upper"]),
    ("door_weld_seam_in_air.yaml", "weld", "weld_upper", ["no arc"]),
    ("door_fasten_torque_over_max.yaml", "fasten", "bolt_upper", ["stalled at its maximum of 40.0 N m", "55.0 N m"]),
    ("door_interlocks_deadlock.yaml", "interlocks", None, ["can deadlock (found before anything moved)", "hinge_lower_area"]),
    ("door_cycle_over_takt.yaml", "cycle_time", None, ["over the takt time of 50.00 s"]),
]


@pytest.mark.parametrize("program, check, task, words", FAULTS)
def test_each_door_fault_is_caught_by_its_own_check(program, check, task, words):
    report = validate_file(str(DOOR_FAULTS / program))
    assert not report.passed
    result = report.check(check)
    assert not result.passed, f"{check} stayed green: {result.detail}"
    assert report.failures[0].name == check, f"first failure is {report.failures[0].name}: {report.failures[0].detail}"
    if task is not None:
        assert result.task == task
    for w in words:
        assert w in result.detail, result.detail


def test_every_fault_category_but_the_consequences_has_a_door_copy():
    from cellctl.validate import SEVERITY

    assert {program for program, *_ in FAULTS} == {p.name for p in DOOR_FAULTS.glob("*.yaml")}  # every copy is run
    assert {check for _, check, *_ in FAULTS} == set(SEVERITY) - {"tracking", "completion"}
