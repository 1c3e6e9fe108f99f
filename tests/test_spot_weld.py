"""Spot welding: the gun and spot features in the model, the spot machine tick by tick against fake drivers, and
whole programs in the twin (the good one with per-spot figures, faulty ones failing for their own reason)."""

from __future__ import annotations

import copy
import json
import re
import textwrap
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from spatialmath import SE3

from cellctl.control.context import PartBook, RobotContext
from cellctl.control.spot import TIP_GAP, SpotMachine, SpotStep
from cellctl.errors import ProgramError
from cellctl.kinematics.arm import Arm
from cellctl.model import load_cell, load_program
from cellctl.model.urdf_info import urdf_info
from conftest import FAULTY, ROOT, validate_file
from fakes import FakeClock, FakeRobot, FakeSpotGun

URDF = ROOT / "urdf"
GUN, GRIPPER, TORCH = URDF / "tools/spot_gun.urdf", URDF / "tools/parallel_gripper.urdf", URDF / "tools/weld_torch.urdf"
GOOD = ROOT / "tests/good/spot_weld.yaml"

CELL = f"""\
cell: spot
robots:
  welder: {{urdf: {URDF}/robots/arm6.urdf, base: {{rpy_deg: [0, 0, 180]}}, home_deg: [0, -100, 65, -55, -90, 0], tool: gun}}
  handler: {{urdf: {URDF}/robots/arm6.urdf, base: {{xyz: [2, 0, 0]}}, home_deg: [0, -100, 65, -55, -90, 0], tool: gripper}}
tools:
  gun: {{kind: spot_gun, urdf: {GUN}, tcp: {{xyz: [-0.0125, 0, 0.37], rpy_deg: [0, 90, 0]}}}}
  gripper: {{kind: gripper, urdf: {GRIPPER}, tcp: {{xyz: [0, 0, 0.14]}}}}
parts:
  panel:
    urdf: {URDF}/parts/flange_panel.urdf
    pose: {{xyz: [0.7, 0, 0.5]}}
    features:
      grasp: {{xyz: [0, 0, 0.03], rpy_deg: [180, 0, 0]}}
      spot_1: {{kind: spot, xyz: [-0.09, 0.075, 0.0615], normal: [0, 2, 0], edge: [0, 0, 1]}}
      spot_2: {{kind: spot, xyz: [-0.02, 0.075, 0.0615], normal: [0, 1, 0], edge: [0.5, 0, 1]}}
      hole_1: {{kind: hole, xyz: [0, 0, 0.0015], axis: [0, 0, -1]}}
"""


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def cell(tmp_path, old: str = "", new: str = ""):
    assert old in CELL
    return write(tmp_path, "cell.yaml", CELL.replace(old, new, 1))


def program(tmp_path, tasks: str, cell_path=None):
    return write(tmp_path, "prog.yaml", f"program: p\ncell: {cell_path or cell(tmp_path)}\ntasks:\n{textwrap.dedent(tasks)}")


def assert_error(exc, path, line_text: str, *words: str):
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if line_text in text)
    assert exc.value.file.endswith(path.name) and exc.value.line == line, exc.value
    for w in words:
        assert w in str(exc.value), str(exc.value)


# ---------------------------------------------------------------- model


def test_spot_gun_loads_with_its_electrode_and_rated_force(tmp_path):
    gun = load_cell(cell(tmp_path)).tools["gun"]
    assert gun.kind == "spot_gun" and gun.electrode == "electrode" and gun.max_force == 3000.0
    assert np.allclose(gun.T_flange_tcp.t, [-0.0125, 0, 0.37]) and np.allclose(gun.T_flange_tcp.R[:, 2], [1, 0, 0])


def test_spot_frame_z_into_the_sheet_and_x_towards_the_edge(tmp_path):
    features = load_cell(cell(tmp_path)).parts["panel"].features
    T = features["spot_1"].T_owner_feature
    assert features["spot_1"].kind == "spot" and np.allclose(T.t, [-0.09, 0.075, 0.0615])
    assert np.allclose(T.R[:, 2], [0, -1, 0]) and np.allclose(T.R[:, 0], [0, 0, 1])
    T2 = features["spot_2"].T_owner_feature  # an edge direction out of the sheet is made to lie in it
    assert np.allclose(T2.R[:, 0], np.array([0.5, 0, 1]) / np.linalg.norm([0.5, 0, 1]))
    assert np.allclose(T2.R @ T2.R.T, np.eye(3)) and np.isclose(np.linalg.det(T2.R), 1)


def test_spot_task_in_si_units_with_defaults(tmp_path):
    prog = load_program(program(tmp_path, """\
        - {id: a, robot: welder, spot: [panel.spot_1], dwell_s: 0.25, force_n: 2500, approach_mm: 80}
        - {id: b, robot: welder, spot: panel.spot_2}
    """))
    a, b = prog.tasks
    assert a.kind == "spot" and a.spots == [("panel", "spot_1")]
    assert (a.dwell, a.spot_force, a.approach) == (0.25, 2500.0, pytest.approx(0.08))
    assert b.spots == [("panel", "spot_2")] and (b.dwell, b.spot_force) == (0.3, 3000.0)  # the gun's rating


@pytest.mark.parametrize("old, new, at, words", [
    (f"{{kind: spot_gun, urdf: {GUN}", f"{{kind: spot_gun, urdf: {GRIPPER}", "gun:",
     ["spot_gun 'gun'", "must have exactly one prismatic joint, the moving electrode",
      "finger_left_joint (prismatic), finger_right_joint (prismatic)", "urdf/tools/spot_gun.urdf"]),
    (f"{{kind: spot_gun, urdf: {GUN}", f"{{kind: spot_gun, urdf: {TORCH}", "gun:", ["(it has no movable joints)"]),
    ("rpy_deg: [0, 90, 0]}}", "rpy_deg: [0, 0, 0]}}", "gun:",
     ["electrode 'electrode'", "opens along [1.0, 0.0, 0.0] in the TCP frame; it must open along the TCP z axis"]),
    ("tcp: {xyz: [-0.0125, 0, 0.37]", "tcp: {xyz: [-0.0125, 0.01, 0.37]", "gun:",
     ["the TCP is 10 mm off the axis of electrode 'electrode'", "the fixed electrode tip"]),
    (", edge: [0, 0, 1]}", "}", "spot_1:", ["spot 'panel.spot_1' needs the key 'edge'"]),
    ("edge: [0, 0, 1]}", "edge: [0, 0, 1], thickness_mm: 3}", "spot_1:",
     ["unknown key 'thickness_mm'", "known keys: edge, kind, normal, xyz"]),
    ("edge: [0, 0, 1]}", "edge: [0, 1, 0.05]}", "spot_1:", ["'edge' of spot 'panel.spot_1' runs along its normal"]),
    ("normal: [0, 2, 0]", "normal: [0, 0, 0]", "spot_1:", ["'normal' of spot 'panel.spot_1' is a direction and cannot be [0, 0, 0]"]),
])
def test_bad_gun_or_spot_names_file_line_and_fix(tmp_path, old, new, at, words):
    path = cell(tmp_path, old, new)
    with pytest.raises(ProgramError) as exc:
        load_cell(path)
    assert_error(exc, path, at, *words)


def test_a_gun_without_a_rated_force_is_refused(tmp_path):
    (tmp_path / "gun.urdf").write_text(GUN.read_text().replace('effort="3000"', 'effort="0"'))
    path = cell(tmp_path, f"urdf: {GUN}", f"urdf: {tmp_path / 'gun.urdf'}")
    with pytest.raises(ProgramError) as exc:
        load_cell(path)
    assert_error(exc, path, "gun:", "joint 'electrode'", "needs <limit effort=...> > 0, the gun's rated clamp force in N")


@pytest.mark.parametrize("task, words", [
    ("{id: a, robot: welder, spot: [panel.spot_1], force_n: 3500}",
     ["'force_n' of task 'a' is 3500 N, above the 3000 N that spot gun 'gun' is rated for", "clamp with at most 3000 N"]),
    ("{id: a, robot: welder, spot: [panel.spot_1], force_n: 2.8}",
     ["'force_n' of task 'a' is 2.8 N, under a tenth of the 3000 N", "2.8 kN is force_n: 2800"]),
    ("{id: a, robot: welder, spot: [panel.spot_1], force_n: 0}", ["'force_n' of task 'a' must be greater than 0"]),
    ("{id: a, robot: welder, spot: [panel.spot_1], dwell_s: -0.1}", ["'dwell_s' of task 'a' must be greater than 0"]),
    ("{id: a, robot: welder, spot: [panel.hole_1]}",
     ["'spot' of task 'a' names 'panel.hole_1', which is a hole feature, not a spot", "spots: panel.spot_1, panel.spot_2"]),
    ("{id: a, robot: welder, spot: [panel.spot_1, panel.spot_1]}", ["names panel.spot_1 twice; weld each spot once"]),
    ("{id: a, robot: welder, spot: []}", ["must be a spot or a non-empty list of spots, like [panel.spot_1, panel.spot_2]"]),
    ("{id: a, robot: welder, spot: spot_1}", ["'spot' of task 'a' must be OWNER.FEATURE, like panel.spot_1"]),
    ("{id: a, robot: handler, spot: panel.spot_1}",
     ["task 'a' spot-welds, but robot 'handler' carries no spot_gun", "it carries gripper 'gripper'", "robots with a spot_gun: welder"]),
    ("{id: a, robot: welder, move: home, dwell_s: 0.3}", ["'dwell_s' of task 'a' is for spot tasks; remove it", "does 'move'"]),
    ("{id: a, robot: welder, spot: panel.spot_1, dwel_s: 0.3}", ["unknown key 'dwel_s'", "known keys:", "dwell_s", "force_n", "spot"]),
])
def test_bad_spot_task_names_file_line_and_fix(tmp_path, task, words):
    path = program(tmp_path, f"  - {task}\n")
    with pytest.raises(ProgramError) as exc:
        load_program(path)
    assert_error(exc, path, "{id: a", *words)


def test_spot_gun_urdf():
    info = urdf_info(GUN)
    (electrode,) = info.movable
    assert (electrode.name, electrode.type, electrode.child) == ("electrode", "prismatic", "moving_electrode")
    assert (electrode.lower, electrode.upper, electrode.effort) == (0.0, 0.025, 3000.0) and electrode.velocity > 0
    shapes = {s.tag for g in ET.parse(GUN).getroot().iter("geometry") for s in g}
    mass = sum(float(m.get("value")) for m in ET.parse(GUN).getroot().iter("mass"))
    assert shapes <= {"box", "cylinder", "sphere"} and 4.0 <= mass <= 8.0
    arm = ET.parse(URDF / "robots/arm6.urdf").getroot()  # the twin joins gun and arm: no name may repeat
    names = {e.get("name") for e in ET.parse(GUN).getroot() if e.tag in ("link", "joint")}
    assert not names & {e.get("name") for e in arm if e.tag in ("link", "joint")}


def test_spot_gun_recommended_tcp_is_the_fixed_electrode_tip():
    """The TCP in the URDF's comment is the apex of the fixed electrode's cap, on the moving electrode's axis, which
    is the TCP z; the open gun leaves the full stroke between the tips."""
    xyz, rpy = re.search(r"tcp: \{xyz: \[([^\]]*)\], rpy_deg: \[([^\]]*)\]\}", GUN.read_text()).groups()
    T_tcp = SE3.Trans([float(v) for v in xyz.split(",")]) * SE3.RPY(np.radians([float(v) for v in rpy.split(",")]), order="zyx")
    root = ET.parse(GUN).getroot()
    frame = [float(v) for v in root.find("joint[@name='fixed_electrode_joint']/origin").get("xyz").split()]
    cap = next(c for c in root.findall("link[@name='fixed_electrode']/collision") if c.find("geometry/sphere") is not None)
    centre = np.array(frame) + [float(v) for v in cap.find("origin").get("xyz").split()]
    apex = centre + [float(cap.find("geometry/sphere").get("radius")), 0, 0]
    assert np.allclose(T_tcp.t, apex, atol=1e-9) and np.allclose(T_tcp.R[:, 2], [1, 0, 0])
    joint = root.find("joint[@name='electrode']")
    assert np.allclose([float(v) for v in joint.find("origin").get("xyz").split()], T_tcp.t)
    assert joint.find("axis").get("xyz") == "1 0 0"


# ---------------------------------------------------------------- the machine, tick by tick


@pytest.fixture
def rig():
    c = load_cell(ROOT / "tests/good/cells/spot_cell.yaml")
    clock = FakeClock()
    r = c.robots["welder"]
    arm = Arm(r.urdf, r.T_world_base, r.tool.T_flange_tcp)
    robot, gun = FakeRobot(clock, r.home), FakeSpotGun(clock)
    ctx = RobotContext("welder", arm, robot, None, clock, np.random.default_rng(0), PartBook({"panel": c.parts["panel"].T_world_part}),
                       spot=gun)
    panel = c.parts["panel"]
    spots = [(f"panel.{n}", panel.T_world_part * panel.features[n].T_owner_feature) for n in ("spot_1", "spot_2")]
    return ctx, clock, robot, gun, spots


def run(machine, clock, robot, limit=5000):
    states = [machine.state]
    for _ in range(limit):
        machine.tick()
        if machine.state != states[-1]:
            states.append(machine.state)
        if machine.finished:
            break
        clock.advance()
        robot.poll()
    return states


def test_spot_walks_every_step_for_each_spot(rig):
    ctx, clock, robot, gun, spots = rig
    events = []
    m = SpotMachine("w", ctx, events.append, spots, 2500.0, 0.25, 0.1, 0.2)
    states = run(m, clock, robot)
    once = [SpotStep.APPROACH, SpotStep.POSITION, SpotStep.CLOSE, SpotStep.DWELL, SpotStep.OPEN, SpotStep.RETREAT]
    assert states == [SpotStep.IDLE, *once, *once, SpotStep.DONE]
    assert [e["to"] for e in events][:7] == ["approach", "position", "close", "dwell", "open", "retreat", "approach"]
    assert gun.commands == [("open",), ("close", 2500.0), ("weld", 0.25), ("open",)] * 2
    # per spot: out beyond the edge, the fixed tip just off the spot, onto it, off again, back out
    ends = [ctx.arm.fk(t.end) for t in robot.executed[:5]]
    T = spots[0][1]
    for got, want in zip(ends, [T * SE3.Tx(0.1) * SE3.Tz(-TIP_GAP), T * SE3.Tz(-TIP_GAP), T, T * SE3.Tz(-TIP_GAP),
                                T * SE3.Tx(0.1) * SE3.Tz(-TIP_GAP)]):
        assert np.allclose(got.t, want.t, atol=1e-5) and np.allclose(got.R, want.R, atol=1e-5)
    assert np.allclose(ctx.arm.fk(robot.q).t, (spots[1][1] * SE3.Tx(0.1) * SE3.Tz(-TIP_GAP)).t, atol=1e-5)


def test_spot_fails_for_weld_when_the_electrodes_close_on_air(rig):
    ctx, clock, robot, gun, spots = rig
    gun.part_between = False
    m = SpotMachine("w", ctx, lambda e: None, spots, 3000.0, 0.3, 0.1, 0.2)
    states = run(m, clock, robot)
    assert states[-2:] == [SpotStep.CLOSE, SpotStep.FAILED] and m.failure.check == "weld"
    assert m.failure.message == "spot panel.spot_1: close: no part between the electrodes: they closed on air"
    assert ("weld", 0.3) not in gun.commands  # no current without a clamp


def test_spot_out_of_reach_fails_for_reach_naming_the_spot(rig):
    ctx, clock, robot, gun, spots = rig
    far = [("panel.far", SE3.Trans(2.5, 0, 0.5) * spots[0][1])]
    events = []
    m = SpotMachine("w", ctx, events.append, far, 3000.0, 0.3, 0.1, 0.2)
    assert run(m, clock, robot)[-1] is SpotStep.FAILED and m.failure.check == "reach"
    assert [(e["from"], e["to"]) for e in events] == [("idle", "approach"), ("approach", "failed")]
    assert m.failure.message.startswith("approach to spot panel.far at") and not robot.executed


def test_a_spot_interrupted_in_its_dwell_is_clamped_and_welded_again(rig):
    ctx, clock, robot, gun, spots = rig
    m = SpotMachine("w", ctx, lambda e: None, spots[:1], 3000.0, 0.3, 0.1, 0.2)
    for _ in range(2000):
        m.tick()
        if m.state is SpotStep.DWELL:
            break
        clock.advance()
        robot.poll()
    m.interrupt()
    assert m.resume_step() is SpotStep.CLOSE


def test_spot_task_runs_on_ideal_drivers_as_in_the_preflight_dry_run():
    from cellctl.control.taskrun import TaskRun
    from cellctl.drivers.ideal import SteppedClock
    from fakes import ideal_contexts

    prog = load_program(GOOD)
    clock = SteppedClock(0.01)
    ctx = ideal_contexts(prog, clock)["welder"]
    run = TaskRun(prog.tasks[0], prog, ctx, lambda e: None)
    for _ in range(20000):
        run.tick()
        if run.done:
            break
        clock.advance()
    assert run.done and run.failure is None
    assert [(f, d) for _, f, d in ctx.spot.welds] == [(2800.0, 0.3)] * 3


# ---------------------------------------------------------------- in the twin


@pytest.fixture(scope="module")
def good_run():
    from cellctl.simulate import simulate

    return simulate(load_program(GOOD))


def _report(run):
    from cellctl.validate import build_report

    return build_report(run)


def test_good_spot_program_passes_with_per_spot_figures(good_run):
    report = _report(good_run)
    assert report.passed, [(c.name, c.detail) for c in report.failures]
    weld = report.check("weld")
    assert [f["spot"] for f in weld.findings] == ["panel.spot_1", "panel.spot_2", "panel.spot_3"]
    for f in weld.findings:
        assert f["welded"] and f["position_error_mm"] < 0.5 and f["axis_angle_deg"] < 1.0
        assert 2780 <= f["force_n"] <= 2820 and f["dwell_s"] == pytest.approx(0.3, abs=0.005)
    assert "panel.spot_2: 2800 N for 0.30 s, within" in weld.detail
    steps = [e["to"] for e in report.events if e["task"] == "weld_flange" and e["machine"] == "spot"]
    assert steps[:6] == ["approach", "position", "close", "dwell", "open", "retreat"] and steps[-1] == "done"


def test_the_clamp_is_read_from_the_world(good_run):
    """Both electrodes really pressed on the panel while the current flowed, and only while the task's
    close, dwell and open steps allowed it."""
    from cellctl.validate.timeline import Timeline

    trace, tl = good_run.trace, Timeline(good_run.events)
    touching = [c for c in trace.contacts if {c.a, c.b} & {"welder/fixed_electrode", "welder/moving_electrode"}]
    for w in trace.spots:
        mid = w["t_s"] + w["dwell_s"] / 2
        near = {c.a if c.b == "panel" else c.b for c in touching if abs(c.t - mid) < trace.dt / 2}
        assert near == {"welder/fixed_electrode", "welder/moving_electrode"}
        assert sum(c.force for c in touching if abs(c.t - mid) < trace.dt / 2) > 2 * 2700  # both sides, ~2800 N each
    assert {tl.at("welder", c.t)[1:] for c in touching} <= {("spot", "close"), ("spot", "dwell"), ("spot", "open")}


def test_weld_check_reads_the_recorded_tcp_and_the_guns_measurements(good_run):
    def edited(edit):
        run = copy.deepcopy(good_run)
        edit(run.trace)
        return _report(run).check("weld")

    def drift(trace):  # the gun 2 mm off spot_2 while its current flowed
        w = trace.spots[1]
        for i in range(trace.index_at(w["t_s"]), trace.index_at(w["t_s"] + w["dwell_s"]) + 1):
            T = np.array(trace.robots["welder"].tcp[i])
            T[2, 3] += 0.002
            trace.robots["welder"].tcp[i] = T

    bad = edited(drift)
    assert not bad.passed and bad.task == "weld_flange"
    assert "spot panel.spot_2: the fixed electrode was 2.0 mm off the spot (at most 1.5 mm)" in bad.detail

    def weak(trace):
        trace.spots[2]["force_n"] = 2000.0

    assert "spot panel.spot_3: clamped with 2000 N of the 2800 N programmed" in edited(weak).detail

    def short(trace):
        trace.spots[0]["dwell_s"] = 0.1

    assert "spot panel.spot_1: weld current for 0.10 s of the 0.30 s programmed" in edited(short).detail

    def missing(trace):
        del trace.spots[0]

    assert "spot panel.spot_1: the gun never welded it" in edited(missing).detail


def test_electrodes_on_the_part_outside_close_dwell_and_open_are_a_collision(good_run):
    from cellctl.twin.trace import Contact
    from cellctl.validate.collision import check_collision
    from cellctl.validate.timeline import Timeline

    trace = copy.deepcopy(good_run.trace)
    retreat = Timeline(good_run.events).step_times("welder", "weld_flange", "spot", "retreat")
    c = next(c for c in trace.contacts if "welder/fixed_electrode" in (c.a, c.b))
    trace.contacts.append(Contact(retreat[0] + 0.1, c.a, c.b, c.depth, c.force, c.where))
    check = check_collision(good_run.program, trace, Timeline(good_run.events))
    assert not check.passed and "welder/fixed_electrode" in check.detail and "spot.retreat" in check.detail


@pytest.mark.parametrize("program, check, words", [
    ("spot_off_edge.yaml", "weld", ["spot panel.spot_2: close: no part between the electrodes: they closed on air"]),
    ("spot_stack_too_thick.yaml", "collision", ["welder/moving_electrode hit panel", "in task weld_flange (spot.position)"]),
])
def test_faulty_spot_program_fails_for_its_own_reason(program, check, words):
    report = validate_file(str(FAULTY / program))
    assert not report.passed
    result = report.check(check)
    assert not result.passed and result.task == "weld_flange"
    for w in words:
        assert w in result.detail, result.detail
    assert report.failures[0].name == check  # the root cause is listed first


def test_spot_off_edge_welds_the_good_spot_and_never_the_bad_one():
    report = validate_file(str(FAULTY / "spot_off_edge.yaml"))
    assert len(report.check("weld").findings) == 1 and report.check("collision").passed
    steps = [e["to"] for e in report.events if e["task"] == "weld_flange" and e["machine"] == "spot"]
    assert steps.count("dwell") == 1 and steps[-2:] == ["close", "failed"]  # spot_1 welded, then closed on air


def test_same_spot_program_and_seed_give_the_same_report_bit_for_bit():
    from cellctl.simulate import simulate

    a = json.dumps(_report(simulate(load_program(GOOD), seed=3)).to_json())
    b = json.dumps(_report(simulate(load_program(GOOD), seed=3)).to_json())
    assert a == b
