"""Arc seams: a seam given as an arc through three points is welded as one circular move, and checked against
the arc from the simulated wire tip."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import ROOT, validate_file


def test_arc_seam_is_welded_along_the_arc_at_speed():
    report = validate_file(str(ROOT / "tests" / "good" / "weld_arc.yaml"))
    assert report.passed, [(c.name, c.detail) for c in report.failures]
    seam = report.check("weld").findings[0]
    assert seam["seam"] == "bracket.ring" and seam["coverage_pct"] >= 99
    assert seam["deviation_mm"] < 0.2 and abs(seam["speed_mm_s"] - 8.0) < 0.8


def test_a_short_arc_at_a_brisk_speed_is_welded_at_that_speed(tmp_path):
    """42 mm of arc at 18 mm/s: the torch turns with the seam as fast as the speed asks, and the speed is read over
    the seam's middle (not its start and crater)."""
    program = tmp_path / "ring18.yaml"
    program.write_text((ROOT / "tests" / "good" / "weld_arc.yaml").read_text().replace("cells/", f"{ROOT}/tests/good/cells/")
                       .replace("speed_mm_s: 8", "speed_mm_s: 18"))
    report = validate_file(str(program))
    assert report.passed, [(c.name, c.detail) for c in report.failures]
    assert report.check("weld").findings[0]["speed_mm_s"] == pytest.approx(18.0, abs=0.5)


def test_arc_seam_samples_lie_on_its_circle():
    from cellctl.model.cell import load_cell

    ring = load_cell(ROOT / "tests" / "good" / "cells" / "arc_weld_cell.yaml").parts["bracket"].features["ring"]
    r = np.linalg.norm(ring.points[:, :2], axis=1)
    assert np.allclose(r, 0.02, atol=1e-6) and np.allclose(ring.points[:, 2], 0.04)
    assert np.max(np.linalg.norm(np.diff(ring.points, axis=0), axis=1)) <= 0.002 + 1e-9
    assert np.allclose(ring.points[[0, -1]], ring.arc[[0, 2]])


@pytest.mark.parametrize("arc, words", [
    ("[[0, 0, 40], [10, 0, 40], [20, 0, 40]]", "is a straight line"),
    ("[[20, 0, 40], [0, -20, 40], [-20, 1, 40]]", "sweeps more than 180 deg"),
    ("[[20, 0, 40], [0, 20, 40]]", "takes 3 points"),
])
def test_bad_arcs_name_the_line_and_the_fix(tmp_path, arc, words):
    from cellctl.errors import ProgramError
    from cellctl.model.cell import load_cell

    text = (ROOT / "tests" / "good" / "cells" / "arc_weld_cell.yaml").read_text().replace("../../../", str(ROOT) + "/")
    bad = tmp_path / "cell.yaml"
    bad.write_text(text.replace("[[10, -17.32, 40], [20, 0, 40], [10, 17.32, 40]]", arc))
    with pytest.raises(ProgramError, match=words) as exc:
        load_cell(bad)
    assert exc.value.line == text.splitlines().index(next(l for l in text.splitlines() if "ring:" in l)) + 1


def test_a_traverse_slower_than_programmed_fails_on_the_travel_speed(monkeypatch, tmp_path):
    """As if the robot's speed override stood at 60 %: the wire tip's simulated speed is what is judged."""
    from cellctl.control.weld import WeldMachine

    made = WeldMachine.for_task.__func__

    def slow(cls, task, ctx, on_event, cell):
        machine = made(cls, task, ctx, on_event, cell)
        machine.speed *= 0.6
        return machine

    monkeypatch.setattr(WeldMachine, "for_task", classmethod(slow))
    program = tmp_path / "slow.yaml"  # a file of its own: validate_file keeps the reports of the files it ran
    program.write_text((ROOT / "tests" / "good" / "weld_arc.yaml").read_text().replace("cells/", f"{ROOT}/tests/good/cells/"))
    weld = validate_file(str(program)).check("weld")
    assert not weld.passed and "travel speed 4.8 mm/s, programmed 8.0 mm/s" in weld.detail
