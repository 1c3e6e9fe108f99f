"""Fastening in the twin: bolts stand in their holes, the spindle's torque and angle come from the simulated joint
turning a bolt that runs down, seats and resists, and each fastening fault fails for its own reason."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import FAULTY, ROOT, validate_file


@pytest.mark.parametrize("program, words", [
    ("fasten_cross_thread.yaml", ["cross-threaded", "deg off the spindle", "bound after"]),
    ("fasten_missing_bolt.yaml", ["no bolt under the socket"]),
    ("fasten_hole_off_part.yaml", ["hole bracket.hole_a: it is not on 'bracket' in the twin", "nothing of it lies within 5 mm"]),
    ("fasten_hole_at_edge.yaml", ["hole bracket.hole_a: the bolt's head (16 mm across) would overhang the edge of 'bracket'"]),
    ("fasten_hole_axis_skewed.yaml", ["hole base_plate.hole_a: the hole's axis is 10.0 deg off square to the face of 'base_plate'"]),
    ("fasten_angle_window.yaml", ["after 20 deg, the most it may turn", "the bolt did not tighten", "of 30.0 N m"]),
    ("bolt_torque_over_max.yaml", ["stalled at its maximum of 40.0 N m", "55.0 N m"]),
])
def test_fastening_faults_fail_fasten(program, words):
    report = validate_file(str(FAULTY / program))
    result = report.check("fasten")
    assert not result.passed and result.task == "bolt_plate"
    for w in words:
        assert w in result.detail, result.detail
    assert report.failures[0].name == "fasten"
    assert report.check("collision").passed  # the socket meets bolts, never the part


def _runs(trace, robot):
    """The spindle's recorded (angle, torque) per run, split where the angle restarts."""
    runs, current, last = [], [], np.inf
    for _, angle, torque in trace.spindles[robot]:
        if angle < last - 0.05 and current:  # a new run starts from zero
            runs.append(np.array(current))
            current = []
        current.append((angle, torque))
        last = angle
    return runs + [np.array(current)]


def test_bolt_runs_down_seats_then_resists():
    """Read from the simulated spindle: turns under 1 N m for about four turns, then the torque climbs with the
    turn to the target, inside the angle window."""
    from cellctl.model import load_program
    from cellctl.simulate import simulate

    result = simulate(load_program(ROOT / "tests" / "good" / "bolt_down.yaml"))
    rundown, tighten = _runs(result.trace, "runner")[:2]
    free = rundown[rundown[:, 0] < np.radians(1300)]
    assert len(free) > 100 and free[20:, 1].max() < 1.0  # running down (after spin-up) against the thread only
    assert 1440 < np.degrees(rundown[-1, 0]) < 1440 + 90  # snug once the head has met the part and beds in
    assert tighten[-1, 1] >= 12.0 and tighten[-1, 1] < 13.0  # stopped at torque, slow enough not to overshoot
    angle = np.degrees(tighten[-1, 0])
    from cellctl.twin.bolts import CLAMP_STIFFNESS, PREVAILING, SNUG_TORQUE, SNUG_TURN

    # from the threshold torque (1.2 N m, bedding in) to 12 N m: the rest of the bedding-in, then the clamp
    expected = SNUG_TURN * (1 - (1.2 - PREVAILING) / SNUG_TORQUE) + (12.0 - PREVAILING - SNUG_TORQUE) / CLAMP_STIFFNESS
    assert 5 <= angle <= 90 and angle == pytest.approx(np.degrees(expected), abs=5)
    rising = tighten[tighten[:, 0] > np.radians(3)]
    assert np.all(np.diff(rising[:, 1]) > -0.5)  # the clamp resists more the further it turns
    holes = {f["hole"]: f for f in result.trace.fastenings if f["done"]}
    assert set(holes) == {"bracket.hole_a", "bracket.hole_b"}
    assert all(f["misalignment_deg"] < 1.0 and not f["cross_threaded"] for f in holes.values())
    # the tool housing takes the tightening torque back, and the wrist's last joint (about the spindle) holds it
    t_peak = max(result.trace.spindles["runner"], key=lambda s: s[2])[0]
    wrist = np.array(result.trace.robots["runner"].tau)[result.trace.index_at(t_peak)]
    assert abs(wrist[5]) == pytest.approx(12.2, abs=0.6) and abs(wrist[4]) < 0.5


def test_a_nutrunner_without_a_reaction_arm_overloads_the_wrist():
    """70 N m on a wrist rated 56 N m: the housing's reaction is more than the arm can hold."""
    report = validate_file(str(FAULTY / "effort_nutrunner_reaction.yaml"))
    effort = report.check("effort_limits")
    assert report.failures[0].name == "effort_limits" and effort.task == "bolt_plate"
    assert "runner wrist_3_joint held at its torque limit" in effort.detail and "(fasten.tighten)" in effort.detail


def test_bolts_are_bodies_on_their_part():
    """Bolts stand in the twin as bodies riding on their part, and the planning scene keeps them with it."""
    from cellctl.model.cell import load_cell
    from cellctl.twin.world import World

    cell = load_cell(ROOT / "tests" / "good" / "cells" / "fasten_cell.yaml")
    with World(cell) as world:
        assert world.kinds["bracket.hole_a"] == "bolt" and world.kinds["bracket.hole_b"] == "bolt"
        before = world.bolts.pose("bracket.hole_a")
        for _ in range(240):
            world.step()
        after = world.bolts.pose("bracket.hole_a")
        assert np.linalg.norm(after[:3, 3] - before[:3, 3]) < 2e-4  # stands still, as the part does
        T_hole = world.part_matrix("bracket") @ cell.parts["bracket"].features["hole_a"].T_owner_feature.A
        assert np.allclose(after[:3, 3], T_hole[:3, 3], atol=5e-4) and after[:3, 2] @ T_hole[:3, 2] > 0.9999
        assert not world.trace.holes_off_owner and not world.trace.layout_overlaps


def test_hole_keys_are_checked(tmp_path):
    from cellctl.errors import ProgramError
    from cellctl.model.cell import load_cell

    text = (ROOT / "tests" / "good" / "cells" / "fasten_cell.yaml").read_text().replace("../../../", str(ROOT) + "/")
    bad = tmp_path / "cell.yaml"
    bad.write_text(text.replace("axis: [0, 0, -1]}", "axis: [0, 0, -1], bolt: false, bolt_tilt_deg: 5}", 1))
    with pytest.raises(ProgramError, match="has no bolt .bolt: false., so it cannot lean"):
        load_cell(bad)
    bad.write_text(text.replace("axis: [0, 0, -1]}", "axis: [0, 0, -1], bolts: 2}", 1))
    with pytest.raises(ProgramError, match="bolt_tilt_deg"):
        load_cell(bad)
