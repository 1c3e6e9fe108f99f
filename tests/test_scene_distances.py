"""The planning scene's distances (PlanningScene.distances, the planner's Probe) say what `collision` says, change
no faster than their weights allow, and let the planner go around the screen with its clearance kept throughout."""

from __future__ import annotations

import numpy as np
import pytest
from spatialmath import SE3

from cellctl.kinematics.occupancy import Occupancy
from cellctl.model.cell import load_cell
from cellctl.motion.plan import PLAN_TIERS, clear_path, motion_step, segment_free
from cellctl.twin.scene import PlanningScene
from conftest import ROOT


@pytest.fixture(scope="module")
def screen():
    cell = load_cell(ROOT / "tests/good/cells/screen_cell.yaml")
    scene = PlanningScene(cell)
    parts = {n: p.T_world_part for n, p in cell.parts.items()}
    held = ("bracket", cell.parts["bracket"].features["grasp"].T_owner_feature.inv())
    yield cell, scene, parts, held
    scene.close()


@pytest.mark.parametrize("holding", [False, True])
def test_distances_say_what_collision_says(screen, holding):
    cell, scene, parts, held = screen
    held = held if holding else None
    entries, weights, against_cell = scene.entries("arm", parts, held)
    assert (("held", None) in entries) == holding and weights.shape == (len(entries), 6)
    rng = np.random.default_rng(0)
    for q in rng.uniform(-np.pi, np.pi, (150, 6)):
        d = scene.distances("arm", q, parts, held, cap=0.3)
        for margin in (0.0, 0.008, 0.035):
            clear = bool(np.all(d[against_cell] >= margin) and np.all(d[~against_cell] >= 0.0))
            assert clear == (scene.collision("arm", q, parts, held, margin=margin) is None)


def test_distances_change_no_faster_than_their_weights(screen):
    cell, scene, parts, held = screen
    _, weights, _ = scene.entries("arm", parts, held)
    rng = np.random.default_rng(1)
    for q in rng.uniform(-np.pi, np.pi, (100, 6)):
        dq = rng.normal(size=6) * rng.choice([0.002, 0.02, 0.1])
        d0, d1 = (scene.distances("arm", x, parts, held, cap=1.0) for x in (q, q + dq))
        measured = (d0 < 1.0) & (d1 < 1.0)
        assert np.all(np.abs(d1 - d0)[measured] <= (weights @ np.abs(dq))[measured] + 1e-6)


def test_a_probed_plan_goes_round_the_screen_clear_all_the_way_and_repeats(screen):
    cell, scene, parts, held = screen
    arm = scene.world.robots["arm"].arm
    occ = Occupancy(arm, cell.robots["arm"].tool.urdf)
    occ.hold_part(cell.parts["bracket"].urdf, held[1])
    grasp = cell.parts["bracket"].features["grasp"].T_owner_feature
    nest = cell.fixtures["nest_fixture"]
    q_a = arm.ik(cell.parts["bracket"].T_world_part * grasp * SE3.Tz(-0.10), np.array(cell.robots["arm"].home)).q
    q_b = arm.ik(nest.T_world_fixture * nest.features["nest"].T_owner_feature * grasp * SE3.Tz(-0.10), q_a).q
    collision = lambda q, m: scene.collision("arm", q, parts, held, margin=m)  # noqa: E731
    assert not segment_free(q_a, q_b, lambda q: collision(q, 0.0) is None, motion_step(occ.levers(), 0.01))
    runs = [clear_path(q_a, q_b, collision, arm.limits.lower, arm.limits.upper, occ.levers(), seed=5,
                       probe=scene.probe("arm", parts, held)) for _ in range(2)]
    res = runs[0]
    assert res.success and res.planned, res.reason
    assert np.array_equal(runs[1].path, res.path)
    fine = motion_step(occ.levers(), 0.002)
    keep = PLAN_TIERS[-1][0]  # the least any tier keeps from the cell, held along the whole path
    for a, b in zip(res.path[:-1], res.path[1:]):
        assert segment_free(a, b, lambda q: collision(q, keep) is None, fine)
