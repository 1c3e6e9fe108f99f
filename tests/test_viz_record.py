"""Recordings, plots and the report page, as a user gets them from the command line; and the validation report is
the same, bit for bit, whether or not any of them is made."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT

PROGRAM = ROOT / "tests" / "good" / "weld_arc.yaml"  # 9 s: a welder welding an arc seam, then home
DT = 1 / 240


def cellctl(*args, cwd):
    return subprocess.run([sys.executable, "-m", "cellctl.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same program validated plainly, with an MP4 + plots + page, and `run` headless with a GIF."""
    out = tmp_path_factory.mktemp("viz")
    plain = cellctl("validate", PROGRAM, "--report", out / "plain.json", cwd=out)
    full = cellctl("validate", PROGRAM, "--report", out / "full.json", "--record", out / "cycle.mp4", "--fps", 10,
                   "--size", "320x240", "--plots", out / "plots", "--html", out / "page.html", cwd=out)
    gif = cellctl("run", PROGRAM, "--report", out / "gif.json", "--record", out / "cycle.gif", "--fps", 5, "--size",
                  "160x120", "--camera", "overview", cwd=out)
    for proc in (plain, full, gif):
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return out, full, json.loads((out / "plain.json").read_text())


def expected_frames(cycle_time: float, fps: float) -> int:
    """A frame every round(240 / fps) steps of the cycle (the steps up to the tick that finished it)."""
    return (round(cycle_time / DT) + 1) // round(1 / (fps * DT))


def test_report_is_the_same_bit_for_bit_with_recording_plots_and_page(runs):
    out, _, _ = runs
    plain = (out / "plain.json").read_text()
    assert (out / "full.json").read_text() == plain
    assert (out / "gif.json").read_text() == plain


def test_mp4_has_a_frame_every_n_steps_at_the_asked_size(runs):
    import imageio.v2 as imageio

    out, full, report = runs
    reader = imageio.get_reader(out / "cycle.mp4")
    frames = [f for f in reader]
    assert reader.get_meta_data()["fps"] == pytest.approx(10.0)
    n = expected_frames(report["cycle_time_s"], 10)
    assert len(frames) == n and n > 80
    assert frames[0].shape == (240, 320, 3)
    assert f"recording written to {out / 'cycle.mp4'} ({n} frames, 320x240, 10 fps)" in " ".join(full.stdout.split())
    # the frames show the cell moving, not one picture over and over
    assert np.abs(frames[10].astype(int) - frames[60].astype(int)).mean() > 0.3


def test_gif_has_its_frames_and_timing(runs):
    out, _, report = runs
    gif = Image.open(out / "cycle.gif")
    assert gif.size == (160, 120)
    assert gif.n_frames == expected_frames(report["cycle_time_s"], 5)
    assert gif.info["duration"] == 200


def colour_share(path, hex_colour: str, tol: int = 30) -> float:
    """The share of a picture's pixels within tol of a colour."""
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
    target = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return float((np.abs(rgb - target).sum(axis=2) < tol).mean())


def test_plots_are_written_and_show_their_data(runs):
    out, full, _ = runs
    names = sorted(p.name for p in (out / "plots").iterdir())
    assert names == ["clearance.png", "gantt.png", "joints_welder.png"]
    assert "plots written to" in full.stdout
    gantt, joints, clearance = (Image.open(out / "plots" / n) for n in ("gantt.png", "joints_welder.png", "clearance.png"))
    assert gantt.size[0] >= 1000 and joints.size[1] >= 900 and clearance.size[0] >= 1000
    assert colour_share(out / "plots" / "gantt.png", "#f28e2b") > 0.02  # the weld task's bar
    assert colour_share(out / "plots" / "gantt.png", "#bab0ac") > 0.005  # the move home
    assert colour_share(out / "plots" / "joints_welder.png", "#1f5fa8") > 0.0005  # joint traces
    assert colour_share(out / "plots" / "joints_welder.png", "#c00000") > 0.0003  # their limits (where near)
    assert colour_share(out / "plots" / "clearance.png", "#e07b00") > 0.001  # the torch near its work


def test_report_page_is_self_contained_with_checks_plots_and_frames(runs):
    out, _, report = runs
    page = (out / "page.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "PASS" in page and report["program"] in page
    for check in report["checks"]:
        assert f"<td class=\"\">{check['name']}</td>" in page
    for task in report["tasks"]:
        assert task["id"] in page
    images = re.findall(r"<img [^>]*src='([^']*)'", page)
    assert len(images) >= 3 + 3  # gantt, joints, clearance; a frame as each of 2 tasks starts and one at the end
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert "http://" not in page and "https://" not in page
    assert "t = 0.00 s: weld_ring started" in page
    assert json.dumps(report["cycle_time_s"]) in page  # the JSON, in full


def test_gantt_gives_waits_for_several_zones_at_once_one_label():
    """A robot that waits for two zones at once (the door cell's welder) gets one readable label, not two drawn
    over each other; waits at other times keep their own."""
    from cellctl.viz.plots import _wait_labels

    waits = [("hinge_lower_area", 13.40, 14.35), ("hinge_upper_area", 13.40, 14.35), ("hinge_upper_area", 30.0, 31.0)]
    assert _wait_labels(waits, 0.7) == [(13.40, ["hinge_lower_area", "hinge_upper_area"]), (30.0, ["hinge_upper_area"])]


def test_a_spot_welding_cycle_records_with_its_spots_marked(tmp_path):
    proc = cellctl("validate", ROOT / "tests" / "good" / "spot_weld.yaml", "--record", tmp_path / "spots.gif", "--fps", 2,
                   "--size", "160x120", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    gif = Image.open(tmp_path / "spots.gif")
    assert gif.n_frames > 5 and "Traceback" not in proc.stderr
