"""The overlays follow what happens in the twin: seams turn orange under the arc and green once welded, bolts orange
while turned and green when torqued, zones take the colour of the robot inside, the planned TCP path ends where the
TCP arrives, and collisions are flagged where and when the collision check finds them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cellctl.model import load_program
from cellctl.simulate import simulate
from cellctl.validate import build_report
from cellctl.viz.overlays import GREEN, GREY, ORANGE, Overlays
from conftest import FAULTY, ROOT


def watch(path: Path, every: int = 12):
    """Simulate a program, taking the overlays' scene every `every` steps and when the cycle ends."""
    program = load_program(path)
    seen, box = [], {}

    def tick(world, orch) -> None:
        if "o" not in box:
            box["o"] = Overlays(program, world)
        box["o"].observe(world, orch)
        if world.steps % every == 0 or orch.finished:
            seen.append((box["o"].scene(world, orch), world.tcp_matrix(next(iter(world.robots)))[:3, 3].copy()))

    result = simulate(program, on_tick=tick)
    return seen, result


def test_seam_turns_orange_under_the_arc_then_green():
    seen, result = watch(ROOT / "tests" / "good" / "weld_arc.yaml")
    colours = [set(s.seams["bracket.ring"][1]) for s, _ in seen]
    assert colours[0] == {GREY}
    assert any(ORANGE in c for c in colours)
    assert colours[-1] == {GREEN}  # the whole arc welded, as the weld check measured (100 % coverage)
    first_orange = next(i for i, c in enumerate(colours) if ORANGE in c)
    arc_on = next(t for t, robot, on in result.trace.arcs if on)
    assert abs(seen[first_orange][0].t - arc_on) < 13 / 240  # within a sample of the arc striking
    assert "weld_ring  weld." in seen[first_orange][0].robots[0].text


def test_bolts_turn_orange_while_turned_and_green_when_torqued():
    seen, _ = watch(ROOT / "tests" / "good" / "bolt_down.yaml")
    assert set(seen[0][0].bolts.values()) == {GREY}
    assert any(ORANGE in s.bolts.values() for s, _ in seen)
    assert set(seen[-1][0].bolts.values()) == {GREEN} and len(seen[-1][0].bolts) == 2


def test_zone_coloured_while_a_robot_is_inside():
    seen, _ = watch(ROOT / "programs" / "weld_station.yaml", every=24)
    zones = [s.zones[0] for s, _ in seen]
    colours = {r.name: r.colour for r in seen[0][0].robots}
    assert any(z.occupied for z in zones) and any(not z.occupied for z in zones)
    for z in zones:
        holder = z.label.split(": ")[1].split(",")[0] if ": " in z.label else None
        assert z.colour == (colours[holder] if z.occupied else GREY)
    assert {z.label for z in zones} >= {"nest_area", "nest_area: handler", "nest_area: welder"}


def test_planned_path_ends_where_the_tcp_arrives():
    seen, _ = watch(ROOT / "programs" / "pick_place.yaml", every=6)
    ends, checked = None, 0
    for scene, tcp in seen:  # each path, when the next one replaces it, ends where the simulated TCP then is
        path = scene.paths.get("arm")
        if path is not None and ends is not None and not np.allclose(path[-1], ends):
            assert np.linalg.norm(tcp - ends) < 0.01
            checked += 1
        if path is not None:
            ends = path[-1]
    assert checked >= 4


def test_collisions_flagged_where_and_when_the_check_finds_them():
    seen, result = watch(FAULTY / "collision_nest_too_low.yaml")
    first = build_report(result).check("collision").findings[0]
    flags = seen[-1][0].flags
    assert flags and not seen[0][0].flags
    assert round(flags[0].t, 4) == first["t_first_s"] and "nest_fixture" in flags[0].text and "bracket" in flags[0].text
    assert np.allclose(flags[0].where, first["where"], atol=0.02)


def test_a_good_program_has_no_collision_flags():
    seen, _ = watch(ROOT / "tests" / "good" / "pick_over_screen.yaml", every=48)
    assert not seen[-1][0].flags
