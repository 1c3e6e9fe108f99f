"""Welding and fastening in the model: weld torches, nutrunners, seams, holes, weld and fasten tasks, and
the URDFs of the two tools. Every bad input names the file, the line and the fix. No PyBullet here."""

from __future__ import annotations

import re
import textwrap
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from spatialmath import SE3

from cellctl.errors import ProgramError
from cellctl.model import load_cell, load_program
from cellctl.model.urdf_info import urdf_info
from conftest import ROOT

URDF = ROOT / "urdf"
TORCH, NUTRUNNER, GRIPPER = URDF / "tools/weld_torch.urdf", URDF / "tools/nutrunner.urdf", URDF / "tools/parallel_gripper.urdf"

CELL = f"""\
cell: process
robots:
  handler: {{urdf: {URDF}/robots/arm6.urdf, home_deg: [0, -100, 65, -55, -90, 0], tool: gripper}}
  welder: {{urdf: {URDF}/robots/arm6.urdf, base: {{xyz: [2, 0, 0]}}, home_deg: [0, -100, 65, -55, -90, 0], tool: torch}}
  fastener: {{urdf: {URDF}/robots/arm6.urdf, base: {{xyz: [0, 2, 0]}}, home_deg: [0, -100, 65, -55, -90, 0], tool: driver}}
tools:
  gripper: {{kind: gripper, urdf: {GRIPPER}, tcp: {{xyz: [0, 0, 0.14]}}}}
  torch: {{kind: weld_torch, urdf: {TORCH}, tcp: {{xyz: [0.073, 0, 0.3608], rpy_deg: [0, 22, 0]}}}}
  driver: {{kind: nutrunner, urdf: {NUTRUNNER}, tcp: {{xyz: [0, 0, 0.365]}}, max_torque_nm: 40}}
fixtures:
  table:
    urdf: {URDF}/fixtures/table.urdf
    pose: {{xyz: [1, 0, 0]}}
    features:
      edge: {{kind: seam, points_mm: [[0, -500, 500], [0, 500, 500]]}}
      spot: {{xyz: [0, 0.3, 0.5]}}
parts:
  panel:
    urdf: {URDF}/parts/bracket.urdf
    pose: {{xyz: [1, 0, 0.5]}}
    features:
      grasp: {{xyz: [0, 0, 0.03], rpy_deg: [180, 0, 0]}}
      hinge_seam: {{kind: seam, points: [[-0.05, 0.02, 0.01], [0.05, 0.03, 0.01], [0.05, 0.03, 0.03]], normal: [0, 0, 2]}}
      side_seam: {{kind: seam, points: [[0.07, -0.02, 0.0], [0.07, 0.02, 0.0]], normal: [0, -1, 2]}}
      bolt_1: {{kind: hole, xyz: [0.04, 0, 0.04], axis: [0, 0, -2]}}
      bolt_2: {{kind: hole, xyz: [-0.04, 0, 0.04], axis: [1, 0, 0]}}
      bolt_3: {{kind: hole, xyz: [0, 0.04, 0.04], axis: [0, 0, -1]}}
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def cell(tmp_path, old: str = "", new: str = ""):
    assert old in CELL
    return write(tmp_path, "cell.yaml", CELL.replace(old, new, 1))


def program(tmp_path, tasks: str, cell_path=None):
    cell_path = cell_path or cell(tmp_path)
    return write(tmp_path, "prog.yaml", f"program: p\ncell: {cell_path}\ntasks:\n{textwrap.dedent(tasks)}")


def line_of(path, text: str) -> int:
    """The 1-based line of the file that holds this text."""
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def assert_error(exc, path, line_text: str, *words: str):
    assert exc.value.file.endswith(path.name), exc.value
    assert exc.value.line == line_of(path, line_text), exc.value
    for w in words:
        assert w in str(exc.value), str(exc.value)


# ---------------------------------------------------------------- loading in SI units


def test_tools_load_with_kind_torque_and_spindle(tmp_path):
    c = load_cell(cell(tmp_path))
    torch, driver, gripper = c.tools["torch"], c.tools["driver"], c.tools["gripper"]
    assert torch.kind == "weld_torch" and torch.max_torque is None and torch.spindle is None
    assert np.allclose(torch.T_flange_tcp.t, [0.073, 0, 0.3608])
    assert np.allclose(torch.T_flange_tcp.R[:, 2], [np.sin(np.radians(22)), 0, np.cos(np.radians(22))])
    assert driver.kind == "nutrunner" and driver.max_torque == 40.0 and driver.spindle == "spindle"
    assert gripper.kind == "gripper" and gripper.max_torque is None and gripper.spindle is None
    assert c.robots["welder"].tool is torch and c.robots["fastener"].tool is driver


def test_seam_frame_sits_on_the_surface(tmp_path):
    features = load_cell(cell(tmp_path)).parts["panel"].features
    seam = features["hinge_seam"]
    assert seam.kind == "seam" and seam.points.shape == (3, 3)
    assert np.allclose(seam.points[1], [0.05, 0.03, 0.01]) and np.allclose(seam.normal, [0, 0, 1])
    T = seam.T_owner_feature
    first = np.array([0.1, 0.01, 0.0]) / np.linalg.norm([0.1, 0.01, 0.0])
    assert np.allclose(T.t, [-0.05, 0.02, 0.01]) and np.allclose(T.R[:, 2], [0, 0, -1]) and np.allclose(T.R[:, 0], first)
    assert np.allclose(T.R @ T.R.T, np.eye(3)) and np.isclose(np.linalg.det(T.R), 1)

    side = features["side_seam"]  # the first segment is not perpendicular to the normal: x is made perpendicular to z
    assert np.allclose(side.normal, np.array([0, -1, 2]) / np.sqrt(5))
    assert np.allclose(side.T_owner_feature.R[:, 2], -side.normal)
    assert np.allclose(side.T_owner_feature.R[:, 0], np.array([0, 2, 1]) / np.sqrt(5))


def test_seam_in_mm_and_default_normal(tmp_path):
    edge = load_cell(cell(tmp_path)).fixtures["table"].features["edge"]
    assert np.allclose(edge.points, [[0, -0.5, 0.5], [0, 0.5, 0.5]]) and np.allclose(edge.normal, [0, 0, 1])
    assert np.allclose(edge.T_owner_feature.R[:, 2], [0, 0, -1]) and np.allclose(edge.T_owner_feature.R[:, 0], [0, 1, 0])


def test_hole_frame_z_is_the_bolt_travel(tmp_path):
    features = load_cell(cell(tmp_path)).parts["panel"].features
    for name, xyz, axis in (("bolt_1", [0.04, 0, 0.04], [0, 0, -1]), ("bolt_2", [-0.04, 0, 0.04], [1, 0, 0])):
        hole = features[name]
        T = hole.T_owner_feature
        assert hole.kind == "hole" and hole.points is None and hole.normal is None
        assert np.allclose(T.t, xyz) and np.allclose(T.R[:, 2], axis)
        assert np.allclose(T.R @ T.R.T, np.eye(3)) and np.isclose(np.linalg.det(T.R), 1)
    assert np.allclose(features["bolt_1"].T_owner_feature.R[:, 0], [1, 0, 0])  # deterministic: the owner's x
    assert np.allclose(features["bolt_2"].T_owner_feature.R[:, 0], [0, 1, 0])  # axis along x: the owner's y
    assert features["grasp"].kind == "frame" and features["grasp"].points is None


def test_weld_and_fasten_tasks_in_si_units(tmp_path):
    prog = load_program(program(tmp_path, """\
        - {id: load, robot: handler, pick: panel}
        - {id: weld_hinge, robot: welder, after: [load], weld: panel.hinge_seam, speed_mm_s: 10, work_angle_deg: -5,
           travel_angle_deg: 10, approach_mm: 50}
        - {id: weld_edge, robot: welder, weld: table.edge, speed_mm_s: 8}
        - {id: bolt, robot: fastener, after: [weld_hinge], fasten: [panel.bolt_1, panel.bolt_2], torque_nm: 12,
           angle_window_deg: [20, 720]}
        - {id: bolt_one, robot: fastener, fasten: panel.bolt_3, torque_nm: 100}
    """))
    load, weld, edge, bolt, one = prog.tasks
    assert load.kind == "pick" and load.feature is None and load.holes == [] and load.torque is None
    assert weld.kind == "weld" and weld.feature == ("panel", "hinge_seam") and weld.after == ["load"]
    assert np.isclose(weld.weld_speed, 0.010) and np.isclose(weld.approach, 0.05)
    assert np.isclose(weld.work_angle, np.radians(-5)) and np.isclose(weld.travel_angle, np.radians(10))
    assert edge.feature == ("table", "edge") and np.isclose(edge.weld_speed, 0.008)
    assert edge.work_angle == 0.0 and edge.travel_angle == 0.0
    assert bolt.kind == "fasten" and bolt.holes == [("panel", "bolt_1"), ("panel", "bolt_2")] and bolt.torque == 12.0
    assert np.allclose(bolt.angle_window, np.radians([20, 720])) and bolt.weld_speed is None
    # above the nutrunner's 40 N m: loads; the twin must catch it
    assert one.holes == [("panel", "bolt_3")] and one.torque == 100.0 and np.allclose(one.angle_window, (0, 4 * np.pi))


# ---------------------------------------------------------------- bad cells


@pytest.mark.parametrize("old, new, at, words", [
    ("bolt_2: {kind: hole", "bolt_2: {kind: slot", "bolt_2:", ["feature kind 'slot' is unknown; kinds: frame, seam, hole"]),
    ("points_mm: [[0, -500, 500], [0, 500, 500]]", "points_mm: [[0, -500, 500]]", "edge:",
     ["seam 'table.edge' has 1 point; a seam needs at least 2", "[[0, 0, 0], [100, 0, 0]]"]),
    ("{kind: seam, points_mm:", "{kind: seam, points: [[0, 0, 0], [0, 0.1, 0]], points_mm:", "edge:",
     ["needs exactly one of 'points' (m) or 'points_mm'"]),
    ("side_seam: {kind: seam, points: [[0.07, -0.02, 0.0], [0.07, 0.02, 0.0]]", "side_seam: {kind: seam", "side_seam:",
     ["needs exactly one of 'points' (m) or 'points_mm'"]),
    ("[0.07, 0.02, 0.0]]", "[0.07, -0.0195, 0.0]]", "side_seam:",
     ["points 1 and 2 of seam 'panel.side_seam' are 0.5 mm apart", "more than 1 mm apart"]),
    ("[0.07, 0.02, 0.0]]", "[0.07, 0.02]]", "side_seam:", ["point 2 of seam 'panel.side_seam' must be [x, y, z]"]),
    ("normal: [0, -1, 2]", "normal: [0, 0, 0]", "side_seam:", ["'normal' of seam 'panel.side_seam' is a direction and cannot be [0, 0, 0]"]),
    ("normal: [0, -1, 2]", "normal: [0, 1, 0]", "side_seam:", ["first segment of seam 'panel.side_seam' runs along its normal"]),
    ("normal: [0, -1, 2]", "normal: [0, -1, 2], width: 3", "side_seam:", ["unknown key 'width'", "known keys: arc, arc_mm, kind, normal, points, points_mm"]),
    ("axis: [0, 0, -2]", "axis: [0, 0, 0]", "bolt_1:", ["'axis' of hole 'panel.bolt_1' is a direction and cannot be [0, 0, 0]"]),
    (", axis: [0, 0, -2]", "", "bolt_1:", ["hole 'panel.bolt_1' needs the key 'axis'"]),
    (", max_torque_nm: 40", "", "driver:", ["nutrunner 'driver' needs 'max_torque_nm'", "max_torque_nm: 40"]),
    ("max_torque_nm: 40", "max_torque_nm: -5", "driver:", ["'max_torque_nm' of nutrunner 'driver' must be greater than 0"]),
    ("{kind: gripper,", "{kind: gripper, max_torque_nm: 5,", "gripper:", ["unknown key 'max_torque_nm' in tool 'gripper'"]),
    ("{kind: weld_torch,", "{kind: laser,", "torch:", ["tool kind 'laser' is unknown; kinds: gripper, weld_torch, nutrunner"]),
    (f"{{kind: nutrunner, urdf: {NUTRUNNER}", f"{{kind: nutrunner, urdf: {GRIPPER}", "driver:",
     ["nutrunner 'driver'", "must have exactly one revolute or continuous joint, the spindle",
      "finger_left_joint (prismatic), finger_right_joint (prismatic)", "urdf/tools/nutrunner.urdf"]),
    (f"{{kind: nutrunner, urdf: {NUTRUNNER}", f"{{kind: nutrunner, urdf: {TORCH}", "driver:", ["(it has no movable joints)"]),
    (f"{{kind: weld_torch, urdf: {TORCH}", f"{{kind: weld_torch, urdf: {GRIPPER}", "torch:",
     ["weld_torch 'torch'", "must have no movable joints", "make them fixed"]),
    (f"{{kind: weld_torch, urdf: {TORCH}", f"{{kind: weld_torch, urdf: {NUTRUNNER}", "torch:", ["(it has spindle (continuous))"]),
    ("tcp: {xyz: [0, 0, 0.365]}", "tcp: {xyz: [0, 0, 0.365], rpy_deg: [90, 0, 0]}", "driver:",
     ["spindle 'spindle'", "turns about [0.0, 1.0, 0.0] in the TCP frame; it must turn about the TCP z axis"]),
    ("tcp: {xyz: [0, 0, 0.365]}", "tcp: {xyz: [0.02, 0, 0.365]}", "driver:", ["the TCP is 20 mm off the axis of spindle 'spindle'"]),
])
def test_bad_cell_names_file_line_and_fix(tmp_path, old, new, at, words):
    path = cell(tmp_path, old, new)
    with pytest.raises(ProgramError) as exc:
        load_cell(path)
    assert_error(exc, path, at, *words)


def test_bad_seam_point_in_a_block_list_names_its_line(tmp_path):
    block = "edge:\n        kind: seam\n        points:\n          - [0, 0, 0.5]\n          - [0, 0, 0.5]\n      other:"
    path = cell(tmp_path, "edge: {kind: seam, points_mm: [[0, -500, 500], [0, 500, 500]]}", block + " {xyz: [0, 0, 0]}")
    with pytest.raises(ProgramError) as exc:
        load_cell(path)
    assert exc.value.line == line_of(path, "- [0, 0, 0.5]") + 1 and "0 mm apart" in str(exc.value)


def test_nutrunner_spindle_axis_is_read_through_fixed_joints(tmp_path):
    """A spindle behind a fixed joint turned 90 deg: the TCP must be turned the same way."""
    urdf = NUTRUNNER.read_text().replace('<joint name="spindle"', '<link name="angle_head"/>\n  <joint name="head" type="fixed">'
                                         '<parent link="nutrunner_base"/><child link="angle_head"/>'
                                         '<origin xyz="0 0 0.32" rpy="1.5707963267948966 0 0"/></joint>\n  <joint name="spindle"')
    urdf = urdf.replace('<parent link="nutrunner_base"/>\n    <child link="socket"/>\n    <origin xyz="0 0 0.32"',
                        '<parent link="angle_head"/>\n    <child link="socket"/>\n    <origin xyz="0 0 0"')
    (tmp_path / "angle.urdf").write_text(urdf)
    good = cell(tmp_path, f"urdf: {NUTRUNNER}, tcp: {{xyz: [0, 0, 0.365]}}",
                f"urdf: {tmp_path / 'angle.urdf'}, tcp: {{xyz: [0, -0.045, 0.32], rpy_deg: [90, 0, 0]}}")
    assert load_cell(good).tools["driver"].spindle == "spindle"
    bad = cell(tmp_path, f"urdf: {NUTRUNNER}", f"urdf: {tmp_path / 'angle.urdf'}")
    with pytest.raises(ProgramError, match="must turn about the TCP z axis"):
        load_cell(bad)


# ---------------------------------------------------------------- bad programs


@pytest.mark.parametrize("task, words", [
    ("{id: a, robot: welder, weld: panel.bolt_1, speed_mm_s: 10}",
     ["'weld' of task 'a' names 'panel.bolt_1', which is a hole feature, not a seam", "seams: table.edge, panel.hinge_seam, panel.side_seam"]),
    ("{id: a, robot: welder, weld: panel.grasp, speed_mm_s: 10}", ["which is a frame feature, not a seam"]),
    ("{id: a, robot: handler, weld: panel.hinge_seam, speed_mm_s: 10}",
     ["task 'a' welds, but robot 'handler' carries no weld_torch", "it carries gripper 'gripper'", "robots with a weld_torch: welder"]),
    ("{id: a, robot: welder, weld: panel.hinge_seam}", ["needs 'speed_mm_s'", "speed_mm_s: 10"]),
    ("{id: a, robot: welder, weld: panel.hinge_seam, speed_mm_s: 0}", ["'speed_mm_s' of task 'a' must be greater than 0"]),
    ("{id: a, robot: welder, weld: panel.seam9, speed_mm_s: 10}", ["'panel' has no feature 'seam9'", "features: grasp, hinge_seam"]),
    ("{id: a, robot: welder, weld: hinge_seam, speed_mm_s: 10}", ["'weld' of task 'a' must be OWNER.FEATURE, like panel.hinge_seam"]),
    ("{id: a, robot: welder, weld: panel.hinge_seam, speed_mm_s: 10, work_angle_deg: 95}", ["between -90 and 90 deg, not 95"]),
    ("{id: a, robot: welder, weld: panel.hinge_seam, speed_mm_s: 10, torque_nm: 5}",
     ["'torque_nm' of task 'a' is for fasten tasks; remove it"]),
    ("{id: a, robot: fastener, fasten: [panel.bolt_1]}", ["task 'a' fastens, so it needs 'torque_nm'", "torque_nm: 12"]),
    ("{id: a, robot: fastener, fasten: [panel.bolt_1], torque_nm: 0}", ["'torque_nm' of task 'a' must be greater than 0"]),
    ("{id: a, robot: fastener, fasten: [], torque_nm: 12}", ["must be a hole or a non-empty list of holes"]),
    ("{id: a, robot: fastener, fasten: [panel.bolt_1, panel.hinge_seam], torque_nm: 12}",
     ["names 'panel.hinge_seam', which is a seam feature, not a hole", "holes: panel.bolt_1, panel.bolt_2"]),
    ("{id: a, robot: fastener, fasten: [panel.bolt_1, panel.bolt_1], torque_nm: 12}", ["names panel.bolt_1 twice"]),
    ("{id: a, robot: welder, fasten: panel.bolt_1, torque_nm: 12}",
     ["task 'a' fastens, but robot 'welder' carries no nutrunner", "robots with a nutrunner: fastener"]),
    ("{id: a, robot: fastener, fasten: panel.bolt_1, torque_nm: 12, angle_window_deg: [30, 20]}", ["0 <= min < max"]),
    ("{id: a, robot: fastener, fasten: panel.bolt_1, torque_nm: 12, angle_window_deg: [-10, 20]}", ["0 <= min < max"]),
    ("{id: a, robot: fastener, fasten: panel.bolt_1, torque_nm: 12, angle_window_deg: [20]}",
     ["'angle_window_deg' of task 'a' must have 2 numbers"]),
    ("{id: a, robot: fastener, move: home, torque_nm: 12}", ["'torque_nm' of task 'a' is for fasten tasks", "does 'move'"]),
    ("{id: a, robot: welder, move: home, speed_mm_s: 10}", ["'speed_mm_s' of task 'a' is for weld tasks", "lin_speed_mm_s"]),
    ("{id: a, robot: welder, move: home, weld: panel.hinge_seam, speed_mm_s: 10}",
     ["exactly one of 'pick' (with optional 'place'), 'move', 'weld', 'fasten' or 'spot'"]),
    ("{id: a, robot: welder}", ["exactly one of 'pick' (with optional 'place'), 'move', 'weld', 'fasten' or 'spot'"]),
    ("{id: a, robot: fastener, fasten: panel.bolt_1, torq_nm: 12}",
     ["unknown key 'torq_nm'", "known keys:", "angle_window_deg", "fasten", "speed_mm_s", "torque_nm", "travel_angle_deg",
      "weld", "work_angle_deg"]),
])
def test_bad_task_names_file_line_and_fix(tmp_path, task, words):
    path = program(tmp_path, f"  - {task}\n")
    with pytest.raises(ProgramError) as exc:
        load_program(path)
    assert_error(exc, path, "{id: a", *words)


def test_bad_hole_in_a_block_list_names_its_line(tmp_path):
    path = program(tmp_path, """\
        - id: bolt
          robot: fastener
          torque_nm: 12
          fasten:
            - panel.bolt_1
            - panel.edge
    """)
    with pytest.raises(ProgramError) as exc:
        load_program(path)
    assert_error(exc, path, "- panel.edge", "'panel' has no feature 'edge'")


def test_existing_tasks_still_load_in_a_process_cell(tmp_path):
    prog = load_program(program(tmp_path, "  - {id: a, robot: handler, pick: panel, place: table.spot}\n  - {id: b, robot: welder, move: home}\n"))
    assert [t.kind for t in prog.tasks] == ["pick_place", "move"] and prog.tasks[0].place == ("table", "spot")


# ---------------------------------------------------------------- the tool URDFs


def masses(urdf) -> dict[str, float]:
    root = ET.parse(urdf).getroot()
    return {link.get("name"): float(link.find("inertial/mass").get("value")) for link in root.findall("link")}


def geometry_tags(urdf) -> set[str]:
    return {shape.tag for g in ET.parse(urdf).getroot().iter("geometry") for shape in g}


def test_weld_torch_urdf():
    info = urdf_info(TORCH)
    assert info.root == "torch_base" and info.movable == () and info.collisions >= 5
    assert [(j.name, j.type) for j in info.joints] == [("torch_neck_joint", "fixed")]
    assert geometry_tags(TORCH) <= {"box", "cylinder", "sphere"}
    assert 1.5 <= sum(masses(TORCH).values()) <= 2.5


def test_weld_torch_recommended_tcp_is_the_wire_tip():
    """The TCP in the URDF's comment: 15 mm beyond the nozzle's end, along the nozzle's axis."""
    text = TORCH.read_text()
    xyz, rpy = re.search(r"tcp: \{xyz: \[([^\]]*)\], rpy_deg: \[([^\]]*)\]\}", text).groups()
    T_tcp = SE3.Trans([float(v) for v in xyz.split(",")]) * SE3.RPY(np.radians([float(v) for v in rpy.split(",")]), order="zyx")
    joint = ET.parse(TORCH).getroot().find("joint/origin")
    T_neck = SE3.Trans([float(v) for v in joint.get("xyz").split()]) * SE3.RPY([float(v) for v in joint.get("rpy").split()], order="zyx")
    nozzle = ET.parse(TORCH).getroot().findall("link[@name='torch_neck']/collision")[-1]
    end = float(nozzle.find("origin").get("xyz").split()[2]) + float(nozzle.find("geometry/cylinder").get("length")) / 2
    assert np.allclose(T_tcp.t, (T_neck * SE3.Trans(0, 0, end + 0.015)).t, atol=1e-4)
    assert np.allclose(T_tcp.R[:, 2], T_neck.R[:, 2], atol=1e-6)
    assert 0.30 <= T_tcp.t[2] <= 0.40


def test_nutrunner_urdf():
    info = urdf_info(NUTRUNNER)
    assert info.root == "nutrunner_base" and info.collisions >= 3
    (spindle,) = info.movable
    assert (spindle.name, spindle.type, spindle.parent, spindle.child) == ("spindle", "continuous", "nutrunner_base", "socket")
    assert spindle.effort == 60 and spindle.velocity == 30
    joint = ET.parse(NUTRUNNER).getroot().find("joint[@name='spindle']")
    assert joint.find("axis").get("xyz") == "0 0 1" and float(joint.find("dynamics").get("damping")) > 0
    assert geometry_tags(NUTRUNNER) <= {"box", "cylinder", "sphere"}
    assert 3.5 <= masses(NUTRUNNER)["nutrunner_base"] <= 4.5


@pytest.mark.parametrize("tool", [TORCH, NUTRUNNER])
def test_tools_mount_on_the_arm_like_the_gripper(tool):
    """The twin joins tool and arm into one URDF, so no link or joint name may repeat the arm's."""
    arm = ET.parse(URDF / "robots/arm6.urdf").getroot()
    names = {e.get("name") for e in ET.parse(tool).getroot() if e.tag in ("link", "joint")}
    assert not names & {e.get("name") for e in arm if e.tag in ("link", "joint")}
