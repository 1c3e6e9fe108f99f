"""Faulty programs of handling and welding, one per fault, each a cell engineer's realistic mistake: each must fail
for its own named check, naming the task, with that check listed first (other failures are its consequences).
And the checks behind them read the recorded world: edit the world, and the check must see it."""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest

from conftest import FAULTY, ROOT, validate_file


@pytest.mark.parametrize("program, check, task, words", [
    ("reach_seam_beyond_welder.yaml", "reach", "weld_sill", ["seam sill.web_seam", "mm along the LIN"]),
    ("velocity_weld_too_fast.yaml", "velocity_limits", "weld_sill",
     ["seam sill.web_seam", "too fast for the arm", "at 1000 mm/s", "shoulder_pan_joint", "allows at most"]),
    ("collision_torch_into_part.yaml", "collision", "weld_boss", ["welder/torch_neck", "bracket", "(weld."]),
    ("grasp_off_centre.yaml", "grasp", "move_sill", ["'sill'", "in the gripper while held"]),
    ("placement_off_nest.yaml", "placement", "load_bracket", ["'bracket' was", "from nest_fixture.nest", "out of place from t="]),
    ("collision_robots_no_zone.yaml", "collision", "load_bracket", ["handler/", "hit welder/", "(place.transfer)"]),
])
def test_faulty_program_fails_for_its_own_reason(program, check, task, words):
    report = validate_file(str(FAULTY / program))
    assert not report.passed
    result = report.check(check)
    assert not result.passed, f"{check} stayed green: {result.detail}"
    assert result.task == task
    for w in words:
        assert w in result.detail, result.detail
    assert report.failures[0].name == check, [(c.name, c.detail) for c in report.failures]  # the root cause first


def test_a_seam_partly_out_of_reach_says_how_far_along_it_the_arm_gave_out():
    """The seam starts within the welder's reach (the torch got there) and the arm gives out part-way along it."""
    report = validate_file(str(FAULTY / "reach_seam_beyond_welder.yaml"))
    along = int(re.search(r"(\d+) mm along the LIN", report.check("reach").detail).group(1))
    assert 100 < along < 900  # of a 1000 mm seam
    steps = [e["to"] for e in report.events if e["task"] == "weld_sill" and e["machine"] == "weld"]
    assert steps[:2] == ["approach", "touch"] and "arc_on" not in steps  # no arc was struck on a seam it cannot finish


def test_a_torch_in_the_part_is_named_with_its_link_the_part_and_the_weld_step():
    finding = validate_file(str(FAULTY / "collision_torch_into_part.yaml")).check("collision").findings[0]
    torch = next(x for x in (finding["a"], finding["b"]) if x.startswith("welder/"))
    assert torch.split("/")[1].startswith("torch_") and "bracket" in (finding["a"], finding["b"])
    assert finding["step"].startswith("weld.") and finding["task"] == "weld_boss"


def test_two_robots_colliding_name_a_link_of_each():
    """The handler, loading the nest, runs into the welder waiting over it: named first, as the robot at work."""
    collision = validate_file(str(FAULTY / "collision_robots_no_zone.yaml")).check("collision")
    assert not collision.passed and collision.task == "load_bracket"
    finding = collision.findings[0]
    assert finding["a"].startswith("handler/") and finding["b"].startswith("welder/"), finding
    assert finding["step"] == "place.transfer" and finding["max_force_n"] > 0
    assert f"{finding['a']} hit {finding['b']}" in collision.detail
    # the bracket never left the handler's hand: it is far from the nest, but was never out of place on its own
    placement = validate_file(str(FAULTY / "collision_robots_no_zone.yaml")).check("placement")
    assert "(task failed)" in placement.detail and "out of place from" not in placement.detail


def test_a_weld_too_fast_for_the_arm_is_refused_not_slowed_down():
    """The traverse is planned at the programmed speed or not at all: the planner names the joint and the speed the
    seam allows, and no arc is struck; velocity_limits reports the refusal."""
    report = validate_file(str(FAULTY / "velocity_weld_too_fast.yaml"))
    task = next(t for t in report.tasks if t["id"] == "weld_sill")
    assert task["status"] == "failed" and task["reason"].startswith("velocity_limits: seam sill.web_seam: LIN too fast for the arm")
    allowed = float(re.search(r"allows at most ([\d.]+) mm/s", task["reason"]).group(1))
    assert 100 < allowed < 1000
    assert not any(e["task"] == "weld_sill" and e["to"] == "arc_on" for e in report.events)


def test_a_part_set_down_off_its_nest_is_out_of_place_from_when_it_was_let_go():
    report = validate_file(str(FAULTY / "placement_off_nest.yaml"))
    finding = report.check("placement").findings[0]
    assert finding["error_deg"] > 2.0 or finding["error_mm"] > 3.0
    released = next(e["t"] for e in report.events if e["task"] == "load_bracket" and e["to"] == "release")
    # it tipped as it was let go: out of place before the task ended, and before anything it fell against
    assert released <= finding["t_first_s"] < finding["t_s"]
    collision = report.check("collision")
    if not collision.passed:
        assert finding["t_first_s"] < collision.findings[0]["t_first_s"]


# ---------------------------------------------------------------- the checks read the recorded world
@pytest.fixture(scope="module")
def bracket_run():
    from cellctl.model import load_program
    from cellctl.simulate import simulate

    return simulate(load_program(ROOT / "programs" / "pick_place.yaml"))


def _edited(run, edit):
    from cellctl.validate import build_report

    run = copy.deepcopy(run)
    edit(run.trace)
    return build_report(run)


def _rot_y(deg: float) -> np.ndarray:
    a = np.radians(deg)
    R = np.eye(4)
    R[0, 0], R[0, 2], R[2, 0], R[2, 2] = np.cos(a), np.sin(a), -np.sin(a), np.cos(a)
    return R


def _turn_in_hand(trace, part: str, robot: str, deg_at, i0: int, i1: int) -> None:
    """Turn the recorded part about the jaws' axis (the TCP's y) by deg_at(k) degrees at steps i0..i1-1, keeping it
    at its grasp otherwise."""
    tcp = trace.robots[robot].tcp
    T_tcp_part = np.linalg.solve(tcp[i0], trace.parts[part][i0])
    for k in range(i0, i1):
        trace.parts[part][k] = tcp[k] @ _rot_y(deg_at(k)) @ T_tcp_part


def test_the_grasp_check_sees_a_part_swing_down_in_the_jaws(bracket_run):
    """What an off-centre part does: from the lift on it swings about the jaws' axis (the TCP's y) under its weight;
    the grasp check must see it in the recorded world (here an edited one)."""
    trace = bracket_run.trace
    attach = next(a for a in trace.attachments if a.action == "attach")
    detach = next(a for a in trace.attachments if a.action == "detach")
    i0, i1 = trace.index_at(attach.t + 0.01), trace.index_at(detach.t)
    report = _edited(bracket_run, lambda tr: _turn_in_hand(tr, "bracket", "arm", lambda k: min(30.0, 0.5 * (k - i0)), i0, i1))
    grasp = report.check("grasp")
    assert not grasp.passed and grasp.task == "load_bracket"
    assert "'bracket' moved" in grasp.detail and "turned 30.0 deg in the gripper while held" in grasp.detail
    assert grasp.findings[0]["t_s"] < detach.t and report.failures[0].name == "grasp"


def test_a_part_turning_in_the_hand_fails_grasp_though_its_origin_hardly_moves(bracket_run):
    """The bracket turns 3 deg about the jaws' axis through the TCP, 30 mm above its frame's origin: the origin moves
    1.6 mm (under the 2 mm slip tolerance), but the part turned beyond what it can be placed within."""
    trace = bracket_run.trace
    attach = next(a for a in trace.attachments if a.action == "attach")
    detach = next(a for a in trace.attachments if a.action == "detach")
    i0, i1 = trace.index_at(attach.t + 0.01), trace.index_at(detach.t)
    grasp = _edited(bracket_run, lambda tr: _turn_in_hand(tr, "bracket", "arm", lambda k: 3.0, i0 + 100, i1)).check("grasp")
    assert not grasp.passed and "'bracket' turned 3.0 deg in the gripper while held" in grasp.detail
    assert "moved" not in grasp.detail
    assert _edited(bracket_run, lambda tr: None).check("grasp").passed


def test_placement_says_when_a_part_went_out_of_place(bracket_run):
    """The placed bracket is knocked 10 mm along the nest 0.2 s after it was let go, and stays there."""
    trace = bracket_run.trace
    detach = next(a for a in trace.attachments if a.action == "detach")
    k = trace.index_at(detach.t + 0.2)

    def knock(tr):
        for i in range(k, len(tr.t)):
            T = np.array(tr.parts["bracket"][i])
            T[0, 3] += 0.01
            tr.parts["bracket"][i] = T

    placement = _edited(bracket_run, knock).check("placement")
    assert not placement.passed and f"out of place from t={trace.t[k]:.2f} s" in placement.detail
    assert placement.findings[0]["t_first_s"] == pytest.approx(trace.t[k], abs=1e-4)
