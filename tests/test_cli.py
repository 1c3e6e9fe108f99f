"""The `cellctl` command as a user meets it: exit codes, messages without tracebacks, the JSON report."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import FAULTY, ROOT


def cellctl(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "cellctl.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_validate_good_program_exits_0_and_writes_the_design_json(tmp_path):
    out = tmp_path / "report.json"
    proc = cellctl("validate", "programs/pick_place.yaml", "--report", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS" in proc.stdout and "pybullet build time" not in proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    for key in ("program", "cell", "passed", "cycle_time_s", "seed", "checks", "tasks", "events"):
        assert key in report
    assert report["passed"] is True and report["seed"] == 0
    assert {"name", "passed", "detail", "task"} <= set(report["checks"][0])
    assert {"id", "robot", "kind", "start_s", "end_s", "status"} <= set(report["tasks"][0])
    assert {"t", "robot", "machine", "from", "to"} <= set(report["events"][0])


def test_failed_validation_exits_1_with_the_reason():
    proc = cellctl("validate", str(FAULTY / "reach_far_target.yaml"))
    assert proc.returncode == 1
    assert "FAIL" in proc.stdout and "reach" in proc.stdout and "out of reach" in proc.stdout


def test_yaml_error_exits_2_with_file_and_line_and_no_traceback():
    proc = cellctl("validate", "tests/faulty/yaml_syntax_error.yaml")
    assert proc.returncode == 2
    assert "tests/faulty/yaml_syntax_error.yaml:6:" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_unknown_robot_exits_2_listing_the_robots():
    proc = cellctl("validate", "tests/faulty/unknown_robot.yaml")
    assert proc.returncode == 2
    assert "unknown_robot.yaml:6:" in proc.stderr and "robot 'welder2'" in proc.stderr and "robots: arm" in proc.stderr


def test_missing_program_file_exits_2():
    proc = cellctl("validate", "programs/nope.yaml")
    assert proc.returncode == 2 and "programs/nope.yaml" in proc.stderr and "not found" in proc.stderr


def test_unwritable_report_path_exits_2(tmp_path):
    proc = cellctl("validate", "programs/pick_place.yaml", "--report", str(tmp_path / "no" / "such" / "dir.json"))
    assert proc.returncode == 2 and "cannot write the report" in proc.stderr


def test_graph_writes_every_machine_as_mermaid(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "machines.md"
    proc = subprocess.run([sys.executable, "-m", "cellctl.cli", "graph", "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert text.count("```mermaid") == 8
    for edge in ("busy --> paused: pause", "estopped --> disabled: reset", "verify_grasp --> regrasp: retry",
                 "arc_on --> traverse: advance", "retreat --> approach: next_hole", "retreat --> approach: next_spot", "running --> estopped: estop"):
        assert edge in text, edge


def test_a_task_waiting_on_a_later_task_of_its_own_robot_is_exit_2(tmp_path, root):
    import subprocess
    import sys

    prog = tmp_path / "order.yaml"
    prog.write_text(f"program: x\ncell: {root / 'sim/weld_station_cell.yaml'}\ntasks:\n"
                    "  - {id: a, robot: handler, after: [c], move: home}\n"
                    "  - {id: b, robot: welder, move: home}\n"
                    "  - {id: c, robot: handler, move: home}\n")
    proc = subprocess.run([sys.executable, "-m", "cellctl.cli", "validate", str(prog)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "order.yaml:4" in proc.stderr and "program order" in proc.stderr and "move 'a' below" in proc.stderr


def test_hints_in_brackets_reach_the_user_and_brackets_in_names_do_not_break_the_output(tmp_path):
    """Messages are printed as text, not terminal markup: '[min, max]' stays, '[/place]' in a name is no crash."""
    cell = ROOT / "sim" / "pick_place_cell.yaml"
    bad = tmp_path / "window.yaml"
    three = ROOT / "sim" / "three_robot_cell.yaml"
    bad.write_text(f"program: p\ncell: {three}\ntasks:\n  - {{id: a, robot: runner, fasten: [base_plate.hole_a], torque_nm: 12, "
                   "angle_window_deg: [120, 10]}\n")
    proc = cellctl("validate", str(bad))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "[min, max]" in proc.stderr, proc.stderr
    odd = tmp_path / "odd.yaml"
    odd.write_text(f"program: 'pick [/place]'\ncell: {cell}\ntasks:\n  - {{id: a, robot: arm, move: home}}\n")
    proc = cellctl("validate", str(odd))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pick [/place]" in proc.stdout
