"""The microfactory example: the door sub-assembly and its customised variant pass on the same three-robot cell,
with every kind of task and robots working at the same time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cellctl.model import load_program
from cellctl.simulate import simulate
from cellctl.validate import build_report

ROOT = Path(__file__).resolve().parents[1]
PROGRAMS = ["door_subassembly.yaml", "door_subassembly_variant.yaml"]


@pytest.fixture(scope="module", params=PROGRAMS)
def door_run(request):
    program = load_program(ROOT / "programs" / request.param)
    result = simulate(program)
    return program, result, build_report(result)


def test_door_programs_pass_within_their_takt(door_run):
    program, _, report = door_run
    assert report.passed, "; ".join(f"{c.name}: {c.detail}" for c in report.failures)
    assert report.takt_s == program.takt_s and 0 < report.cycle_time_s <= report.takt_s
    assert all(t["status"] == "done" for t in report.tasks)


def test_door_programs_use_every_task_kind_and_all_three_robots(door_run):
    _, _, report = door_run
    assert {"pick_place", "weld", "fasten", "move"} <= {t["kind"] for t in report.tasks}
    assert {t["robot"] for t in report.tasks} == {"handler", "welder", "fastener"}


def test_at_least_two_robots_move_at_the_same_time_in_the_twin(door_run):
    """Read from the simulated joints, not the task list: robots whose joints turn in the same steps (a weld
    traverse at 12 mm/s turns them at about 0.01 rad/s; an arm standing still, at under 1e-4)."""
    _, result, _ = door_run
    moving = {name: np.max(np.abs(np.array(r.qd)), axis=1) > 1e-3 for name, r in result.trace.robots.items()}
    together = np.sum(np.array(list(moving.values())), axis=0) >= 2
    assert together.sum() * result.trace.dt > 3.0  # seconds with two or more arms moving


def test_the_variant_is_a_second_product_on_the_same_hardware():
    base, variant = (load_program(ROOT / "programs" / p) for p in PROGRAMS)
    assert variant.cell.file == base.cell.file
    assert variant.cell.robots.keys() == base.cell.robots.keys() and variant.cell.tools.keys() == base.cell.tools.keys()
    assert variant.cell.fixtures.keys() == base.cell.fixtures.keys()
    holes = lambda p: sorted(h for t in p.tasks for h in t.holes)  # noqa: E731
    assert len(holes(variant)) == 8 and len(holes(base)) == 4
    assert variant.cell.parts["bracket_upper"].urdf != base.cell.parts["bracket_upper"].urdf


def test_each_weld_joins_its_bracket_to_the_panel_in_the_twin(door_run):
    """The bead fuses the parts it bridges (twin.beads): each bracket travels to the outfeed welded to the panel."""
    _, result, report = door_run
    joined = {(a, b) for _, robot, a, b in result.trace.joins if robot == "welder"}
    # the bead wets the panel and the bracket, not the jig under the 1.2 mm sheet (the sheet shields it)
    assert joined == {("bracket_lower", "panel"), ("bracket_upper", "panel")}
    # each tightened bolt holds its bracket to the panel its thread goes into, not to the jig below
    assert {(owner, body) for _, _, _, owner, body in result.trace.bolted} == {("bracket_upper", "panel"), ("bracket_lower", "panel")}
    assert all(s["joined"] == ["panel"] for s in report.check("weld").findings)
    panel_end = np.array(result.trace.parts["panel"][-1])
    for bracket in ("bracket_upper", "bracket_lower"):
        # at the outfeed each bracket sits where it was welded on the panel (the panel moved about 1.3 m)
        T = np.linalg.inv(panel_end) @ np.array(result.trace.parts[bracket][-1])
        assert T[2, 3] == pytest.approx(0.0012, abs=0.001)
