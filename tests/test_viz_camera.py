"""Camera presets: the cell file's `cameras:` (checked like every other key) and the overview every cell has."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from cellctl.errors import ProgramError
from cellctl.model import load_cell
from conftest import ROOT

CELL = ROOT / "sim" / "pick_place_cell.yaml"


def cell_with(tmp_path, cameras: str):
    """The pick-place cell with its cameras section replaced by `cameras` (YAML lines)."""
    text = CELL.read_text().split("\ncameras:")[0].replace("../", f"{ROOT}/")
    path = tmp_path / "cell.yaml"
    path.write_text(text + "\n" + cameras + "\n")
    return path


def test_bundled_cell_presets_load_in_si_units():
    cell = load_cell(CELL)
    assert list(cell.cameras) == ["overview", "table"]
    top = cell.cameras["table"]
    assert np.allclose(top.target, [0.7, 0, 0.5]) and top.distance == 1.4
    assert np.isclose(top.yaw, np.radians(20)) and np.isclose(top.pitch, np.radians(-50))


def test_distance_alias_and_defaults(tmp_path):
    cell = load_cell(cell_with(tmp_path, "cameras:\n  side: {target: [1, 0, 0.5], distance: 2}"))
    side = cell.cameras["side"]
    assert side.distance == 2.0 and np.isclose(np.degrees(side.yaw), 50) and np.isclose(np.degrees(side.pitch), -35)


@pytest.mark.parametrize("entry, words", [
    ("side: {target: [1, 0, 0.5], distance_m: 2, zoom: 3}", ["unknown key 'zoom'", "known keys: distance, distance_m, "
                                                             "pitch_deg, target, yaw_deg"]),
    ("side: {target: [1, 0, 0.5]}", ["exactly one of 'distance_m' or 'distance'"]),
    ("side: {target: [1, 0, 0.5], distance_m: 2, distance: 2}", ["exactly one of 'distance_m' or 'distance'"]),
    ("side: {target: [1, 0, 0.5], distance_m: 2, pitch_deg: -90}", ["'pitch_deg' of camera 'side' must be between"]),
    ("side: {target: [1, 0], distance_m: 2}", ["'target' of camera 'side' must have 3 numbers"]),
    ("side: {target: [1, 0, 0.5], distance_m: -1}", ["must be greater than 0"]),
])
def test_bad_presets_name_file_line_and_fix(tmp_path, entry, words):
    path = cell_with(tmp_path, "cameras:\n  " + entry)
    with pytest.raises(ProgramError) as err:
        load_cell(path)
    line = path.read_text().splitlines().index("  " + entry) + 1
    assert err.value.line == line and str(path.name) in str(err.value.file)
    for w in words:
        assert w in err.value.message


def test_overview_frames_the_whole_cell():
    from cellctl.twin.world import World
    from cellctl.viz.camera import OVERVIEW, View, extent, overview

    cell = load_cell(CELL)
    with World(cell) as world:
        cam = overview(world)
        lo, hi = extent(world)
    assert cam.name == OVERVIEW and 1.0 < cam.distance < 10.0
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (0.0, hi[2])])
    ndc, ahead = View(cam, 4 / 3).ndc(corners)
    assert ahead.all() and np.abs(ndc).max() <= 0.86  # all in view ...
    assert np.abs(ndc).max() >= 0.8  # ... and filling it


def test_unknown_camera_exits_2_listing_the_presets(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "cellctl.cli", "validate", "programs/pick_place.yaml", "--record",
                           str(tmp_path / "x.mp4"), "--camera", "roof"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2, proc.stderr
    assert "camera 'roof' is not in sim/pick_place_cell.yaml; cameras: overview, table" in proc.stderr
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize("args, words", [
    (["--record", "cycle.avi"], "cannot write a recording as '.avi'; name a .mp4 or .gif file"),
    (["--record", "no/such/dir/cycle.mp4"], "the folder 'no/such/dir' does not exist"),
    (["--html", "page.pdf"], "cannot write the report page as '.pdf'"),
    (["--size", "641x480"], "the frame size must be WIDTHxHEIGHT in even pixels"),
    (["--fps", "0"], "the frame rate must be a number from 0.5 to 240"),
])
def test_bad_output_options_exit_2_before_simulating(tmp_path, args, words):
    proc = subprocess.run([sys.executable, "-m", "cellctl.cli", "validate", str(ROOT / "programs" / "pick_place.yaml"),
                           *args], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr
