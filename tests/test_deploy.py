"""`cellctl deploy`: the gate (a passing validation of exactly these files), a whole program run end to end on
drivers that are not the validator's twin (ideal drivers), and a watchdog that stops the cell on a following error
or a fault mid-run, with the reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cellctl.cli import main
from cellctl.deploy import Refused, deploy
from cellctl.drivers.ideal import factory as ideal_factory
from cellctl.model import load_program
from conftest import ROOT, validate_file

PROGRAM = ROOT / "programs/pick_place.yaml"


def write_report(path: Path, program: Path = PROGRAM, **changes) -> Path:
    report = {**validate_file(str(program)).to_json(), **changes}
    path.write_text(json.dumps(report))
    return path


@pytest.fixture
def report(tmp_path) -> Path:
    return write_report(tmp_path / "report.json")


# ------------------------------------------------------------------------ faulty drivers, named by --driver
def _after(drivers, t: float, act) -> object:
    """Drivers whose advance() does `act(drivers)` once, when the clock passes t."""
    inner, done = drivers.advance, []

    def advance() -> None:
        inner()
        if not done and drivers.clock.now() >= t:
            done.append(True)
            act(drivers)

    drivers.advance = advance
    return drivers


def lagging_factory(cell=None):
    """Ideal drivers whose arm stops following its reference 2 s into the run (a blocked or overloaded arm)."""
    return _after(ideal_factory(cell), 2.0, lambda d: setattr(d.robots["arm"], "stuck", True))


def tripping_factory(cell=None):
    """Ideal drivers whose gripper reports a device fault 3 s into the run."""
    return _after(ideal_factory(cell), 3.0, lambda d: d.tools["arm"].inject_fault("gripper air pressure low"))


def coasting_factory(cell=None):
    """Ideal drivers whose arm stops following 2 s into the run and then never comes to rest (a brake that failed):
    it reports joint 1 turning at 0.5 rad/s from then on."""
    import dataclasses

    drivers = lagging_factory(cell)
    robot, inner = drivers.robots["arm"], drivers.robots["arm"].state

    def state():
        s = inner()
        return dataclasses.replace(s, qd=np.array([0.5, 0, 0, 0, 0, 0])) if s.t >= 2.0 else s

    robot.state = state
    return drivers


def away_factory(cell=None):
    """Ideal drivers with the arm standing away from its home."""
    drivers = ideal_factory(cell)
    drivers.robots["arm"].q[1] += 0.2
    return drivers


def loaded_factory(cell=None):
    """Ideal drivers whose gripper still holds a part from an earlier, aborted cycle."""
    drivers = ideal_factory(cell)
    drivers.tools["arm"].holding = True
    return drivers


def faulted_factory(cell=None):
    """Ideal drivers whose gripper reports a latched fault before the cycle starts."""
    drivers = ideal_factory(cell)
    drivers.tools["arm"].inject_fault("gripper air pressure low")
    return drivers


# ------------------------------------------------------------------------ the gate
def test_a_validated_program_runs_to_the_end_on_ideal_drivers(report):
    result = deploy(load_program(PROGRAM), report, "cellctl.drivers.ideal:factory")
    assert result.passed and result.reason == ""
    assert [t["status"] for t in result.tasks] == ["done", "done"]
    validated = validate_file(str(PROGRAM))
    assert abs(result.cycle_time - validated.cycle_time_s) < 0.2  # the same motions as the twin's, on other drivers
    assert [e["to"] for e in result.events if e["machine"] == "pick"] == \
        [e["to"] for e in validated.events if e["machine"] == "pick"]


def test_no_report_a_failed_one_or_another_programs_is_refused(tmp_path):
    program = load_program(PROGRAM)
    with pytest.raises(Refused, match="no validation report at .*cellctl validate"):
        deploy(program, tmp_path / "missing.json", "cellctl.drivers.ideal:factory")
    failed = write_report(tmp_path / "failed.json", passed=False)
    with pytest.raises(Refused, match="failed validation"):
        deploy(program, failed, "cellctl.drivers.ideal:factory")
    other = write_report(tmp_path / "other.json", ROOT / "tests/faulty/collision_nest_too_low.yaml")
    with pytest.raises(Refused, match="report of program 'collision-nest-too-low', not of 'pick-place'"):
        deploy(program, other, "cellctl.drivers.ideal:factory")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(Refused, match="not a readable validation report"):
        deploy(program, tmp_path / "junk.json", "cellctl.drivers.ideal:factory")


def test_a_changed_urdf_is_refused_naming_the_file(tmp_path):
    for folder in ("programs", "sim", "urdf"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    copy = tmp_path / "programs/pick_place.yaml"
    report = write_report(tmp_path / "report.json")  # validated from the original tree: same contents, other place
    deploy(load_program(copy), report, "cellctl.drivers.ideal:factory")  # the same files elsewhere pass the gate
    urdf = tmp_path / "urdf/robots/arm6.urdf"
    urdf.write_text(urdf.read_text().replace("</robot>", "<!-- edited --></robot>"))
    with pytest.raises(Refused, match=r"\.\./urdf/robots/arm6\.urdf changed since it was validated"):
        deploy(load_program(copy), report, "cellctl.drivers.ideal:factory")


def test_the_fingerprint_is_in_the_report_and_deterministic():
    from cellctl.fingerprint import fingerprint

    recorded = validate_file(str(PROGRAM)).to_json()["fingerprint"]
    assert recorded == fingerprint(load_program(PROGRAM))
    assert set(recorded["files"]) >= {"pick_place.yaml", "../sim/pick_place_cell.yaml", "../urdf/robots/arm6.urdf",
                                      "../urdf/tools/parallel_gripper.urdf", "../urdf/parts/bracket.urdf"}


def test_a_robot_away_from_home_is_refused(report):
    with pytest.raises(Refused, match="robot 'arm' stands 11.46 deg from its home on joint 2"):
        deploy(load_program(PROGRAM), report, "test_deploy:away_factory")


def test_a_part_left_in_the_gripper_or_a_latched_fault_is_refused_before_the_cycle(report):
    with pytest.raises(Refused, match="the tool of robot 'arm' holds a part: .*take the part out"):
        deploy(load_program(PROGRAM), report, "test_deploy:loaded_factory")
    with pytest.raises(Refused, match=r"the tool of robot 'arm' reports a fault \(gripper air pressure low\)"):
        deploy(load_program(PROGRAM), report, "test_deploy:faulted_factory")


# ------------------------------------------------------------------------ the watchdog
def test_a_following_error_mid_run_stops_the_cell_with_the_reason(report):
    result = deploy(load_program(PROGRAM), report, "test_deploy:lagging_factory")
    assert not result.passed
    assert result.reason.startswith("tracking: robot 'arm': following error") and "over its tolerance" in result.reason
    assert result.tasks[0]["status"] == "failed" and result.tasks[1]["status"] == "not_run"
    stop = next(e for e in result.events if e["machine"] == "robot" and e["to"] == "estopped")
    assert 2.0 <= stop["t"] <= 2.5  # soon after the arm stopped following (its error grows with its speed)


def test_a_device_fault_mid_run_stops_the_cell_with_the_reason(report):
    result = deploy(load_program(PROGRAM), report, "test_deploy:tripping_factory")
    assert not result.passed and "gripper air pressure low" in result.reason
    assert result.tasks[0]["status"] == "failed" and result.tasks[1]["status"] == "not_run"


def test_deploy_says_so_when_a_robot_does_not_come_to_rest_after_the_stop(report):
    """A stopped cell is called safe only when every driver reports its robot at a standstill."""
    result = deploy(load_program(PROGRAM), report, "test_deploy:coasting_factory")
    assert not result.passed and result.moving == {"arm": 0.5}
    stopped = deploy(load_program(PROGRAM), report, "test_deploy:lagging_factory")
    assert stopped.moving == {}


# ------------------------------------------------------------------------ the command line
def test_cli_exit_codes_say_done_stopped_refused_and_bad_input(report, tmp_path, capsys):
    base = ["deploy", str(PROGRAM), "--report", str(report), "--driver"]
    assert main(base + ["cellctl.drivers.ideal:factory"]) == 0
    assert "DONE" in capsys.readouterr().out
    assert main(base + ["test_deploy:lagging_factory"]) == 1
    assert "the cell was stopped safely, every robot at standstill: tracking: robot 'arm': following error" in \
        capsys.readouterr().out
    assert main(base + ["test_deploy:coasting_factory"]) == 1
    assert "NOT at standstill: arm (0.5 rad/s) still moving" in capsys.readouterr().out
    assert main(["deploy", str(PROGRAM), "--report", str(tmp_path / "none.json"), "--driver", "cellctl.drivers.ideal:factory"]) == 4
    assert "refused" in capsys.readouterr().err
    assert main(base + ["cellctl.drivers.nothere:factory"]) == 2
    assert "cannot import 'cellctl.drivers.nothere'" in capsys.readouterr().err
    assert main(base + ["cellctl.drivers.ideal"]) == 2
    assert "package.module:callable" in capsys.readouterr().err


def test_the_run_can_be_recorded_and_replayed_through_the_same_gate(report, tmp_path):
    program = load_program(PROGRAM)
    run = tmp_path / "run.jsonl"
    original = deploy(program, report, "cellctl.drivers.ideal:factory", record_to=run)
    replayed = deploy(program, report, "cellctl.drivers.record:replay_factory", {"path": str(run)})
    assert replayed.events == original.events and replayed.passed
    assert np.isclose(replayed.cycle_time, original.cycle_time)
