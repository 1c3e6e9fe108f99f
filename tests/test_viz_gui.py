"""The GUI: its keys press the cell's own panel triggers (pause, resume, e-stop, reset, start), tested headless; and
`cellctl run --gui` on a virtual screen (Xvfb) shows the cell: a screenshot of the window has the robots and the
overlay legend in it, not a blank window."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from cellctl.model import load_program
from cellctl.simulate import simulate
from cellctl.twin._pybullet import pb
from cellctl.validate import build_report
from cellctl.viz.gui import Viewer
from conftest import ROOT

SPACE, E, R = ord(" "), ord("e"), ord("r")


def run_with_keys(presses: dict[float, int]):
    """pick_place with keys pressed at given cell times, through the viewer's key handling (no window)."""
    program = load_program(ROOT / "programs" / "pick_place.yaml")
    viewer = Viewer(program)
    due = sorted(presses.items())
    speeds = []

    def tick(world, orch) -> None:
        while due and world.t >= due[0][0]:
            viewer.keys(world, orch, {due.pop(0)[1]: pb.KEY_WAS_TRIGGERED})
        speeds.append((world.t, float(np.abs(world.joint_state("arm")[1]).max())))

    result = simulate(program, on_tick=tick)
    cell = [(e["from"], e["to"]) for e in result.events if e["machine"] == "cell"]
    return result, build_report(result), cell, viewer.presses, speeds


def test_space_pauses_the_cell_on_its_path_and_resumes_it():
    result, report, cell, presses, speeds = run_with_keys({1.0: SPACE, 2.5: SPACE})
    assert ("running", "paused") in cell and ("paused", "running") in cell
    assert [p[1] for p in presses] == ["toggle", "toggle"] and presses[0][2].startswith("paused")
    assert max(v for t, v in speeds if 1.6 < t < 2.5) < 1e-3  # held still while paused
    assert report.passed and result.cycle_time > 7.33 + 1.0  # the same cycle, 1.5 s longer


def test_e_stop_then_reset_then_space_restarts_the_cycle():
    result, report, cell, presses, speeds = run_with_keys({1.0: E, 1.5: R, 2.0: SPACE})
    assert cell[:4] == [("ready", "running"), ("running", "estopped"), ("estopped", "ready"), ("ready", "running")]
    assert "E-STOP" in presses[0][2] and presses[1][2].startswith("reset") and presses[2][2] == "started"
    assert max(v for t, v in speeds if 1.3 < t < 2.0) < 1e-3  # stopped until started again
    assert all(t["status"] == "done" for t in report.tasks)


def test_reset_without_an_e_stop_is_refused_in_words():
    _, _, cell, presses, _ = run_with_keys({1.0: R})
    assert presses[0][2] == "the cell is running: nothing to reset" and ("running", "estopped") not in cell


def _virtual_screen():
    """Start Xvfb on a display it picks itself (-displayfd: it writes the number once it accepts connections, so no
    other session's server can be mistaken for ours); it does not reset when a client leaves. (process, ':N')."""
    from PIL import ImageGrab

    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb; .ci/run installs it): the GUI test needs a virtual screen")
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp",
                             "-noreset"], pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()  # blocks until the server is ready, or returns empty when it exits
    if not number.isdigit():
        proc.kill()
        pytest.fail(f"Xvfb did not start (exit code {proc.wait()})")
    display = f":{number}"
    assert ImageGrab.grab(xdisplay=display).size == (1280, 800)
    return proc, display


# `cellctl run --gui` as a user runs it, with a screenshot of the screen after each of the viewer's refreshes that
# begins a new quarter second of cell time: taken on the cell's clock, so a slow machine gets the same screenshots
SHOOT = """
import sys
from PIL import ImageGrab
from cellctl import cli
from cellctl.viz import gui

shots, refresh, taken = sys.argv[2], gui.Viewer.refresh, []

def refresh_and_shoot(self, world, orch):
    refresh(self, world, orch)
    if world.t >= 0.25 * len(taken):
        taken.append(world.t)
        ImageGrab.grab().save(f"{shots}/{len(taken):04d}.png")

gui.Viewer.refresh = refresh_and_shoot
sys.exit(cli.main(["run", sys.argv[1], "--gui", "--no-wait", "--speed", "0"]))
"""


def test_gui_shows_the_robots_and_the_overlays_on_a_virtual_screen(tmp_path):
    program = tmp_path / "wave.yaml"
    program.write_text(f"program: wave\ncell: {ROOT / 'sim' / 'pick_place_cell.yaml'}\ntasks:\n"
                       "  - {id: wave, robot: arm, move: {joints_deg: [40, -90, 70, -70, -90, 0]}}\n"
                       "  - {id: back, robot: arm, move: home}\n"
                       "  - {id: wave_again, robot: arm, move: {joints_deg: [40, -90, 70, -70, -90, 0]}}\n"
                       "  - {id: back_again, robot: arm, move: home}\n")
    (tmp_path / "shots").mkdir()
    screen, display = _virtual_screen()
    try:
        run = subprocess.run([sys.executable, "-c", SHOOT, str(program), str(tmp_path / "shots")],
                             env={**os.environ, "DISPLAY": display}, capture_output=True, text=True, timeout=180)
    finally:
        screen.terminate()
    out, err = run.stdout, run.stderr
    shots = [Image.open(p) for p in sorted((tmp_path / "shots").iterdir())]
    assert run.returncode == 0, out + err
    assert "PASS" in out and "wave" in out

    def share(shot: Image.Image) -> tuple[float, float, float]:
        """Of a screenshot: the share of the arm's blue, of dark legend text at the window's top left (on the sky),
        and of the arm's overlay colour (its zone box and planned path)."""
        rgb = np.asarray(shot.convert("RGB")).astype(int)
        robot = ((rgb[:, :, 2] > rgb[:, :, 0] + 60) & (rgb[:, :, 2] > rgb[:, :, 1] + 20)).mean()
        legend = (rgb[:120, :500].sum(axis=2) < 200).mean()
        magenta = (np.abs(rgb - [217, 28, 97]).sum(axis=2) < 60).mean()
        return float(robot), float(legend), float(magenta)

    assert shots and max(np.asarray(s).std() for s in shots) > 20, "a blank window"
    seen = [(share(s), s) for s in shots]
    showing = [s for (robot, legend, magenta), s in seen if robot > 5e-4 and legend > 1e-3 and magenta > 2e-4]
    assert showing, f"no screenshot shows the robot with its overlays: {[f for f, _ in seen]}"
    showing[len(showing) // 2].save(tmp_path / "gui.png")


def test_gui_without_a_screen_exits_2_with_the_fix():
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    proc = subprocess.run([sys.executable, "-m", "cellctl.cli", "run", "programs/pick_place.yaml", "--gui"], env=env,
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "the GUI needs a screen and DISPLAY is not set" in proc.stderr
    assert "xvfb-run -a cellctl run" in proc.stderr and "--record" in proc.stderr
