"""Cell and program files load into typed objects; every bad input names file, line and what is valid."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from cellctl.errors import ProgramError
from cellctl.model import load_cell, load_program
from conftest import ROOT

CELL = ROOT / "sim" / "pick_place_cell.yaml"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def program(tmp_path, tasks: str, extra: str = ""):
    return write(tmp_path, "prog.yaml", f"program: p\ncell: {CELL}\n{extra}tasks:\n{textwrap.dedent(tasks)}")


def test_bundled_program_loads_in_si_units():
    prog = load_program(ROOT / "programs" / "pick_place.yaml")
    cell = prog.cell
    assert prog.takt_s == 20 and [t.id for t in prog.tasks] == ["load_bracket", "go_home"]
    assert prog.tasks[0].kind == "pick_place" and prog.tasks[0].place == ("nest_fixture", "nest")
    assert np.allclose(cell.robots["arm"].home, np.radians([0, -100, 65, -55, -90, 0]))
    assert np.allclose(cell.tools["gripper"].T_flange_tcp.t, [0, 0, 0.14])
    assert np.allclose(cell.parts["bracket"].features["grasp"].T_owner_feature.t, [0, 0, 0.03])
    assert cell.robots["arm"].urdf.is_absolute() and cell.robots["arm"].urdf.exists()


def test_unknown_robot_lists_the_robots_with_file_and_line(tmp_path):
    path = program(tmp_path, """\
        - {id: a, robot: arm, move: home}
        - {id: b, robot: welder2, move: home}
    """)
    with pytest.raises(ProgramError) as exc:
        load_program(path)
    assert exc.value.line == 5 and exc.value.file.endswith("prog.yaml")
    assert "robot 'welder2'" in str(exc.value) and "robots: arm" in str(exc.value)


def test_unknown_key_lists_known_keys(tmp_path):
    path = program(tmp_path, "  - {id: a, robot: arm, move: home, sped: 3}\n")
    with pytest.raises(ProgramError, match=r"unknown key 'sped'.*known keys: .*speed_pct"):
        load_program(path)


def test_unknown_part_and_feature(tmp_path):
    with pytest.raises(ProgramError, match=r"part 'door' is not in .*parts: bracket"):
        load_program(program(tmp_path, "  - {id: a, robot: arm, pick: door}\n"))
    with pytest.raises(ProgramError, match=r"'nest_fixture' has no feature 'slot'.*features: nest"):
        load_program(program(tmp_path, "  - {id: a, robot: arm, pick: bracket, place: nest_fixture.slot}\n"))


def test_dependency_cycle_and_unknown_dependency(tmp_path):
    with pytest.raises(ProgramError, match=r"cycle: a -> b -> a"):
        load_program(program(tmp_path, "  - {id: a, robot: arm, after: b, move: home}\n  - {id: b, robot: arm, after: a, move: home}\n"))
    with pytest.raises(ProgramError, match=r"runs after 'zz', which is not a task"):
        load_program(program(tmp_path, "  - {id: a, robot: arm, after: zz, move: home}\n"))


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, "bad.yaml", "program: p\ncell: x\ntasks:\n  - {id: a, robot: arm\n  - {id: b}\n")
    with pytest.raises(ProgramError) as exc:
        load_program(path)
    assert exc.value.line in (4, 5) and "YAML syntax error" in str(exc.value)


def test_missing_urdf_names_the_resolved_path(tmp_path):
    text = CELL.read_text().replace("../urdf", str(ROOT / "urdf")).replace("parts/bracket.urdf", "parts/brakcet.urdf")
    path = write(tmp_path, "cell.yaml", text)
    with pytest.raises(ProgramError, match=r"brakcet.urdf' does not exist") as exc:
        load_cell(path)
    assert exc.value.line is not None


def test_wrong_vector_length_and_units(tmp_path):
    text = CELL.read_text().replace("../urdf", str(ROOT / "urdf")).replace("xyz: [0.65, 0.3, 0.5]", "xyz: [0.65, 0.3]")
    with pytest.raises(ProgramError, match=r"'xyz' of pose of part 'bracket' must have 3 numbers"):
        load_cell(write(tmp_path, "cell.yaml", text))
    mm = CELL.read_text().replace("../urdf", str(ROOT / "urdf")).replace("xyz: [0.65, 0.3, 0.5]", "xyz_mm: [650, 300, 500]")
    cell = load_cell(write(tmp_path, "cell_mm.yaml", mm))
    assert np.allclose(cell.parts["bracket"].T_world_part.t, [0.65, 0.3, 0.5])


def test_degrees_in_rpy_and_millimetres_in_xyz_are_caught_with_the_fix(tmp_path):
    """rpy is radians and xyz metres: a value only the other unit makes sense of is an error naming the fix."""
    base = CELL.read_text().replace("../urdf", str(ROOT / "urdf"))
    mm = base.replace("xyz: [0.65, 0.3, 0.5]", "xyz: [650, 300, 500]")
    with pytest.raises(ProgramError, match=r"650 m is beyond any cell: for millimetres write xyz_mm: \[650, 300, 500\]") as exc:
        load_cell(write(tmp_path, "cell_mm.yaml", mm))
    assert exc.value.line is not None
    deg = base.replace("xyz: [0.65, 0.3, 0.5], rpy_deg: [0, 0, 0]", "xyz: [0.65, 0.3, 0.5], rpy: [0, 0, 90]")
    with pytest.raises(ProgramError, match=r"90 rad is more than a turn: for degrees write rpy_deg: \[0, 0, 90\]") as exc:
        load_cell(write(tmp_path, "cell_deg.yaml", deg))
    assert exc.value.line is not None
    rad = base.replace("xyz: [0.65, 0.3, 0.5], rpy_deg: [0, 0, 0]", "xyz: [0.65, 0.3, 0.5], rpy: [0, 0, 3.14159]")
    assert np.allclose(load_cell(write(tmp_path, "cell_rad.yaml", rad)).parts["bracket"].T_world_part.rpy(order="zyx")[2] % (2 * np.pi), 3.14159)


def test_duplicate_key_is_an_error(tmp_path):
    path = write(tmp_path, "p.yaml", f"program: p\ncell: {CELL}\ncell: {CELL}\ntasks: []\n")
    with pytest.raises(ProgramError, match="appears twice") as exc:
        load_program(path)
    assert exc.value.line == 3


def test_home_must_have_one_angle_per_joint(tmp_path):
    text = CELL.read_text().replace("../urdf", str(ROOT / "urdf")).replace("home_deg: [0, -100, 65, -55, -90, 0]", "home_deg: [0, -100, 65]")
    with pytest.raises(ProgramError, match=r"home_deg' of robot 'arm' \(its arm has 6 joints\) must have 6 numbers") as exc:
        load_cell(write(tmp_path, "cell.yaml", text))
    assert exc.value.line == 10


def test_broken_urdf_is_named_with_its_line(tmp_path):
    broken = tmp_path / "broken.urdf"
    broken.write_text('<robot name="x">\n  <link name="a">\n</robot>\n')
    text = CELL.read_text().replace("../urdf", str(ROOT / "urdf")).replace(str(ROOT / "urdf/parts/bracket.urdf"), str(broken))
    with pytest.raises(ProgramError, match="not valid XML") as exc:
        load_cell(write(tmp_path, "cell.yaml", text))
    assert exc.value.file.endswith("broken.urdf") and exc.value.line == 3


@pytest.mark.parametrize("task, words", [
    ("{id: a, robot: [arm], move: home}", "'robot' of task 'a' must be a name"),
    ("{id: a, robot: arm, pick: {part: bracket}}", "'pick' of task 'a' must be a name"),
    ("{id: a, robot: arm, pick: bracket, grasp: [grasp]}", "'grasp' of task 'a' must be a name"),
    ("{id: a, robot: arm, pick: bracket, place: bracket.grasp}", "places 'bracket' onto a feature of 'bracket' itself"),
    ("{id: a, robot: arm, move: home, speed_pct: 150}", "above 0 and at most 100"),
    ("{id: a, robot: arm, place: nest_fixture.nest}", "'place' needs a 'pick'"),
])
def test_wrong_types_and_meanings_in_tasks(tmp_path, task, words):
    with pytest.raises(ProgramError) as exc:
        load_program(program(tmp_path, f"  - {task}\n"))
    assert words in str(exc.value) and exc.value.line == 4


def test_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"program: p\n# caf\xe9\ncell: x\n")
    with pytest.raises(ProgramError, match="not UTF-8") as exc:
        load_program(path)
    assert exc.value.line == 2


def test_home_outside_the_joint_limits(tmp_path):
    text = CELL.read_text().replace("../urdf", str(ROOT / "urdf")).replace("home_deg: [0, -100, 65, -55, -90, 0]", "home_deg: [0, -100, 200, -55, -90, 0]")
    with pytest.raises(ProgramError, match=r"puts elbow_joint at 200 deg, outside its limits \[-180, 180\] deg"):
        load_cell(write(tmp_path, "cell.yaml", text))


def test_robot_urdf_needs_a_flange_link(tmp_path):
    urdf = (ROOT / "urdf/robots/arm6.urdf").read_text().replace('"tool0"', '"flange_link"')
    (tmp_path / "arm.urdf").write_text(urdf)
    text = CELL.read_text().replace("../urdf", str(ROOT / "urdf")).replace(str(ROOT / "urdf/robots/arm6.urdf"), str(tmp_path / "arm.urdf"))
    with pytest.raises(ProgramError, match="has no link 'tool0'"):
        load_cell(write(tmp_path, "cell.yaml", text))


@pytest.mark.parametrize("urdf_text, words", [
    ('<robot name="x"><link name="a"/></robot>', "has no <collision> geometry"),
    ('<robot name="x"><link name="a"><collision><geometry><box size="0.1 0.1"/></geometry></collision></link></robot>',
     "link 'a': <box size=\"0.1 0.1\"> needs 3 positive numbers"),
    ('<robot name="x"><link name="a"><collision><geometry><mesh filename="nope.stl"/></geometry></collision></link></robot>',
     "mesh file 'nope.stl' does not exist"),
])
def test_part_urdf_geometry_is_checked(tmp_path, urdf_text, words):
    (tmp_path / "part.urdf").write_text(urdf_text)
    text = CELL.read_text().replace("../urdf", str(ROOT / "urdf")).replace(str(ROOT / "urdf/parts/bracket.urdf"), str(tmp_path / "part.urdf"))
    with pytest.raises(ProgramError) as exc:
        load_cell(write(tmp_path, "cell.yaml", text))
    assert words in str(exc.value)


def test_a_program_brings_its_product_parts_replacing_the_cells_by_name(tmp_path):
    urdf = ROOT / "urdf" / "parts" / "bracket.urdf"
    parts = f"""\
parts:
  bracket:
    urdf: {urdf}
    pose: {{xyz: [0.5, 0.1, 0.5]}}
    features:
      grasp: {{xyz: [0, 0, 0.02], rpy_deg: [180, 0, 0]}}
  spare:
    urdf: {urdf}
    pose: {{xyz: [0.5, -0.2, 0.5]}}
    features:
      grasp: {{xyz: [0, 0, 0.03], rpy_deg: [180, 0, 0]}}
"""
    prog = load_program(program(tmp_path, "- {id: a, robot: arm, pick: spare, place: nest_fixture.nest}\n", parts))
    assert prog.cell.parts["bracket"].T_world_part.t.tolist() == pytest.approx([0.5, 0.1, 0.5])
    assert prog.cell.parts["bracket"].features["grasp"].T_owner_feature.t.tolist() == pytest.approx([0, 0, 0.02])
    assert "spare" in prog.cell.parts and load_cell(CELL).parts.keys() == {"bracket"}  # the cell file is untouched


def test_a_program_part_may_not_take_a_fixtures_name(tmp_path):
    parts = f"parts:\n  nest_fixture:\n    urdf: {ROOT / 'urdf' / 'parts' / 'bracket.urdf'}\n    pose: {{xyz: [0, 0, 0]}}\n"
    with pytest.raises(ProgramError) as err:
        load_program(program(tmp_path, "- {id: a, robot: arm, move: home}\n", parts))
    assert "prog.yaml:4" in str(err.value) and "'nest_fixture' is a fixture" in str(err.value)


def test_a_misspelt_program_part_that_replaces_nothing_is_named_with_the_near_name(tmp_path):
    """'brakcet' would leave the cell's bracket in place and add a part nothing uses: the error says so."""
    parts = f"parts:\n  brakcet:\n    urdf: {ROOT / 'urdf' / 'parts' / 'bracket.urdf'}\n    pose: {{xyz: [0.5, 0.1, 0.5]}}\n"
    with pytest.raises(ProgramError) as err:
        load_program(program(tmp_path, "- {id: a, robot: arm, pick: bracket, place: nest_fixture.nest}\n", parts))
    assert "prog.yaml:4" in str(err.value) and "replaces no part" in str(err.value) and "did you mean 'bracket'" in str(err.value)


THREE = ROOT / "programs" / "three_robots.yaml"


def three_robots_with(tmp_path, old: str, new: str):
    text = THREE.read_text().replace("../sim/", str(ROOT / "sim") + "/")
    assert old in text
    return write(tmp_path, "three.yaml", text.replace(old, new))


def test_a_hole_seam_or_spot_worked_by_two_tasks_is_an_error(tmp_path):
    """A second run on a tightened bolt is a double hit; the program says which task worked it first."""
    twice = "  - {id: again, robot: runner, fasten: base_plate.hole_a, torque_nm: 12}\n  - {id: runner_home"
    with pytest.raises(ProgramError) as err:
        load_program(three_robots_with(tmp_path, "  - {id: runner_home", twice))
    assert "three.yaml:17" in str(err.value) and "'again' fastens base_plate.hole_a, which task 'bolt_plate' (line 16)" in str(err.value)
    assert "double hit" in str(err.value)
    staged = "  - {id: final, robot: runner, fasten: base_plate.hole_a, torque_nm: 20}\n  - {id: runner_home"
    assert load_program(three_robots_with(tmp_path, "  - {id: runner_home", staged)).tasks[-2].torque == 20  # a second stage
    seam = "  - {id: reweld, robot: welder, after: [weld_boss], weld: bracket.boss_seam, speed_mm_s: 10}\n  - {id: welder_clear"
    with pytest.raises(ProgramError, match="'reweld' welds bracket.boss_seam, which task 'weld_boss'"):
        load_program(three_robots_with(tmp_path, "  - {id: welder_clear", seam))


def test_working_a_part_another_robot_moves_without_an_order_between_them_is_an_error(tmp_path):
    """Without `after: [weld_boss]` the unload may take the bracket before, during or after the weld: timing decides."""
    with pytest.raises(ProgramError) as err:
        load_program(three_robots_with(tmp_path, "{id: unload, robot: handler, after: [weld_boss], ", "{id: unload, robot: handler, "))
    msg = str(err.value)
    assert "three.yaml:14" in msg and "'weld_boss' works bracket, which task 'unload' (robot 'handler', line 11) moves" in msg
    assert "add after: [unload] to 'weld_boss' (or after: [weld_boss] to 'unload')" in msg
    # ordered through other tasks is ordered: the unload waits for welder_clear, which follows the weld
    load_program(three_robots_with(tmp_path, "{id: unload, robot: handler, after: [weld_boss], ", "{id: unload, robot: handler, after: [welder_clear], "))


@pytest.mark.parametrize("inertial", ["", '<inertial><mass value="0"/><inertia ixx="0" iyy="0" izz="0" ixy="0" ixz="0" iyz="0"/></inertial>',
                                      '<inertial><mass value="nan"/><inertia ixx="1" iyy="1" izz="1" ixy="0" ixz="0" iyz="0"/></inertial>',
                                      '<inertial><mass value="inf"/><inertia ixx="1" iyy="1" izz="1" ixy="0" ixz="0" iyz="0"/></inertial>'])
def test_a_part_without_a_mass_is_refused_not_simulated_as_one_kilogram(tmp_path, inertial):
    urdf = tmp_path / "light.urdf"
    urdf.write_text(f'<robot name="light"><link name="body">{inertial}<collision><geometry><box size="0.1 0.1 0.1"/>'
                    '</geometry></collision></link></robot>')
    text = CELL.read_text().replace("../urdf", str(ROOT / "urdf")).replace(str(ROOT / "urdf/parts/bracket.urdf"), str(urdf))
    with pytest.raises(ProgramError) as exc:
        load_cell(write(tmp_path, "cell.yaml", text))
    assert "gives link 'body' no <inertial> with a <mass value> above 0" in str(exc.value) and exc.value.line == 33


def test_a_grasp_must_be_a_frame_not_a_seam(tmp_path):
    with pytest.raises(ProgramError) as err:
        load_program(three_robots_with(tmp_path, "pick: bracket, place: nest_fixture.nest}", "pick: bracket, grasp: boss_seam, place: nest_fixture.nest}"))
    assert "three.yaml:8" in str(err.value) and "grasps 'bracket' by 'boss_seam', a seam; a grasp is a frame feature" in str(err.value)


def test_a_place_target_must_be_a_frame_not_a_seam(tmp_path):
    with pytest.raises(ProgramError) as err:
        load_program(three_robots_with(tmp_path, "pick: spare, place: table.buffer}", "pick: spare, place: bracket.boss_seam}"))
    assert "places onto 'bracket.boss_seam', a seam; a place target is a frame feature" in str(err.value)
    assert "frame features of 'bracket': grasp" in str(err.value) and "three.yaml:" in str(err.value)
