"""Joint-space planning (cellctl.motion.plan) over injected collision functions: no PyBullet.

Obstacles are sets in joint space. The planner sees them padded by one motion step, and paths are checked
against the true sets ten times finer: sampling every `step` cannot see a corner clipped between two samples,
so a real collision function needs a margin too (see the module docstring of cellctl.motion.plan).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from cellctl.motion import plan
from cellctl.motion.plan import PlanResult, Probe, _shortcut, motion_step, path_length, plan_path, segment_free

LEVERS6 = np.array([1.0, 0.8, 0.6, 0.3, 0.2, 0.1])  # m: a 6-axis arm's reach beyond each joint
LOWER6, UPPER6 = np.full(6, -np.pi), np.full(6, np.pi)
STEP6 = motion_step(LEVERS6)


def box(lo: np.ndarray, hi: np.ndarray, pad: float = 0.0):
    """Validity function: q is valid unless lo - pad < q < hi + pad on every axis (NaN bounds = unbounded)."""
    lo, hi = np.where(np.isnan(lo), -np.inf, lo) - pad, np.where(np.isnan(hi), np.inf, hi) + pad
    return lambda q: not bool(np.all((q > lo) & (q < hi)))


def fine_free(path: np.ndarray, valid, step: float) -> bool:
    """Every segment of the path free when sampled every `step`."""
    return all(segment_free(path[i], path[i + 1], valid, step) for i in range(len(path) - 1))


def assert_good_path(res: PlanResult, q_start, q_goal, true_valid, step: float, lower, upper) -> None:
    assert res.success, res.reason
    assert res.path is not None and res.path.shape[1] == len(q_start)
    assert np.array_equal(res.path[0], q_start) and np.array_equal(res.path[-1], q_goal)
    assert np.all(res.path >= lower) and np.all(res.path <= upper)
    assert fine_free(res.path, true_valid, step / 10)
    assert res.length == pytest.approx(path_length(res.path))
    assert res.length <= res.raw_length + 1e-12


def test_motion_step_bounds_every_point_displacement():
    rng = np.random.default_rng(0)
    step = motion_step(LEVERS6, thin=0.01)
    assert step == pytest.approx(0.01 / np.linalg.norm(LEVERS6))
    for dq in rng.normal(size=(1000, 6)):
        dq *= step / np.linalg.norm(dq)
        assert LEVERS6 @ np.abs(dq) <= 0.01 + 1e-15
    with pytest.raises(ValueError):
        motion_step(np.zeros(3))


def test_segment_free_samples_qb_and_the_interior_never_farther_apart_than_step():
    qa, qb, step = np.zeros(3), np.array([1.0, -0.5, 0.25]), 0.01
    seen = []
    assert segment_free(qa, qb, lambda q: seen.append(q.copy()) or True, step)
    t = sorted(float(np.dot(q - qa, qb - qa) / np.dot(qb - qa, qb - qa)) for q in seen)
    assert t[0] > 0 and t[-1] == pytest.approx(1.0)  # qa excluded, qb included
    gaps = np.diff([0.0] + t) * np.linalg.norm(qb - qa)
    assert gaps.max() <= step + 1e-12
    assert not segment_free(qa, qb, box(np.array([0.49, np.nan, np.nan]), np.array([0.5, np.nan, np.nan])), step)


def test_shortcutting_checks_the_kept_pieces_of_cut_segments():
    # with a coarse step, a piece of a free segment can sample a corner its parent stepped over; OMPL's
    # partialShortcutPath keeps such pieces unchecked, ours must not
    step, valid = 0.3, box(np.array([-0.5, -1.0]), np.array([0.5, 1.0]))
    free = lambda a, b: segment_free(a, b, valid, step)  # noqa: E731
    path = np.array([[-2.0, 0.0], [-1.0, 1.25], [1.0, 1.25], [2.0, 0.0]])
    assert fine_free(path, valid, step)
    for seed in range(30):
        out = _shortcut(path, free, np.random.default_rng(seed), 50, 50)
        assert fine_free(out, valid, step)
        assert np.array_equal(out[0], path[0]) and np.array_equal(out[-1], path[-1])
        assert path_length(out) <= path_length(path)


def test_planar_detour_around_a_box():
    lo, hi = np.array([-0.5, -2.0]), np.array([0.5, 2.0])
    lower, upper, levers = np.full(2, -3.0), np.full(2, 3.0), np.array([0.5, 0.5])
    step = motion_step(levers)
    q0, q1 = np.array([-2.0, 0.0]), np.array([2.0, 0.3])
    assert not segment_free(q0, q1, box(lo, hi), step / 10)
    res = plan_path(q0, q1, box(lo, hi, pad=step), lower, upper, levers, seed=1)
    assert_good_path(res, q0, q1, box(lo, hi), step, lower, upper)
    assert len(res.path) >= 3 and res.length < res.raw_length


@pytest.mark.parametrize("seed", range(6))
def test_six_joint_detour_around_a_joint_space_box(seed):
    lo, hi = np.array([-1.0, -1.0, -1.0, np.nan, np.nan, np.nan]), np.array([1.0, 1.0, 1.0, np.nan, np.nan, np.nan])
    q0, q1 = np.array([-2.0, 0.0, 0.0, 0.3, 0.0, 0.0]), np.array([2.0, 0.5, 0.0, -0.3, 0.5, 0.0])
    res = plan_path(q0, q1, box(lo, hi, pad=STEP6), LOWER6, UPPER6, LEVERS6, seed=seed)
    assert_good_path(res, q0, q1, box(lo, hi), STEP6, LOWER6, UPPER6)


def test_a_one_centimetre_wall_is_never_passed_through():
    # joint 1 swings a 1 m lever: a 0.01 rad slab of it is a 1 cm wall, far thinner than OMPL's default
    # resolution (1 % of the space's extent); it spans |q2| <= 1.5, so paths must go round its ends
    h = 0.01 / LEVERS6[0]
    lo, hi = np.array([0.0, -1.5, np.nan, np.nan, np.nan, np.nan]), np.array([h, 1.5, np.nan, np.nan, np.nan, np.nan])
    wall = box(lo, hi)
    pad_ends = box(lo - np.r_[0, STEP6, 0, 0, 0, 0], hi + np.r_[0, STEP6, 0, 0, 0, 0])  # ends padded, thickness not
    assert STEP6 <= h < 0.01 * np.linalg.norm(UPPER6 - LOWER6)
    q0, q1 = np.array([-1.0, 0.0, 0.2, 0.0, 0.0, 0.0]), np.array([1.0, 0.0, -0.2, 0.0, 0.0, 0.0])

    coarse = plan_path(q0, q1, pad_ends, LOWER6, UPPER6, LEVERS6, seed=0, thin=0.2)
    assert len(coarse.path) == 2 and not fine_free(coarse.path, wall, STEP6 / 10)  # a coarse step jumps it

    res = plan_path(q0, q1, pad_ends, LOWER6, UPPER6, LEVERS6, seed=0)
    assert_good_path(res, q0, q1, wall, STEP6, LOWER6, UPPER6)
    assert np.abs(res.path[:, 1]).max() > 1.5  # went round an end


def test_start_or_goal_in_collision_or_outside_limits_fails_at_once():
    blocked = box(np.array([-0.1, -0.1]), np.array([0.1, 0.1]))
    lower, upper, levers = np.full(2, -1.0), np.full(2, 1.0), np.ones(2)
    res = plan_path([0.0, 0.0], [0.5, 0.5], blocked, lower, upper, levers, seed=0)
    assert not res.success and res.path is None
    assert "start" in res.reason and "collision" in res.reason and res.checks == 1
    res = plan_path([0.5, 0.5], [0.05, 0.0], blocked, lower, upper, levers, seed=0)
    assert not res.success and "goal" in res.reason and "collision" in res.reason and res.checks == 2
    res = plan_path([0.5, 0.5], [0.5, 1.2], blocked, lower, upper, levers, seed=0)
    assert not res.success and "goal" in res.reason and "joint limits" in res.reason and "joint 2" in res.reason


def test_enclosed_goal_fails_within_the_timeout():
    goal = np.array([0.5, 0.5])
    shell = lambda q: not 0.2 < np.linalg.norm(q - goal) < 0.4  # noqa: E731
    res = plan_path([-0.8, -0.8], goal, shell, np.full(2, -1.0), np.full(2, 1.0), np.ones(2), seed=0, timeout=0.3)
    assert not res.success and res.path is None
    assert "no collision-free path" in res.reason and "0.3 s" in res.reason and "enclosed" in res.reason
    assert res.planning_time < 1.5


def test_same_query_and_seed_give_the_same_path_bit_for_bit():
    lo, hi = np.array([-1.0, -1.0, -1.0, np.nan, np.nan, np.nan]), np.array([1.0, 1.0, 1.0, np.nan, np.nan, np.nan])
    valid = box(lo, hi, pad=STEP6)
    q0, q1 = np.array([-2.0, 0.0, 0.0, 0.0, 0.0, 0.0]), np.array([2.0, 0.5, 0.0, 0.0, 0.0, 0.0])
    runs = []
    for other_seed in (11, 12, 13):  # other planning in between must not disturb the stream
        runs.append(plan_path(q0, q1, valid, LOWER6, UPPER6, LEVERS6, seed=7))
        plan_path(q1, q0, valid, LOWER6, UPPER6, LEVERS6, seed=other_seed)
    for r in runs[1:]:
        assert np.array_equal(r.path, runs[0].path)
        assert (r.raw_length, r.length, r.checks) == (runs[0].raw_length, runs[0].length, runs[0].checks)


class _NoOMPL:
    def __getattr__(self, name: str):
        raise AssertionError(f"OMPL was used ({name})")


def test_free_straight_line_returns_start_and_goal_without_ompl(monkeypatch):
    for module in ("ob", "og", "ou"):
        monkeypatch.setattr(plan, module, _NoOMPL())
    q0, q1 = np.zeros(6), np.array([0.5, -0.4, 0.3, 0.2, -0.1, 1.0])
    res = plan_path(q0, q1, lambda q: True, LOWER6, UPPER6, LEVERS6, seed=0)
    assert res.success and np.array_equal(res.path, np.stack([q0, q1]))
    n_segment = int(np.ceil(np.linalg.norm(q1 - q0) / STEP6))
    assert res.checks == 1 + n_segment  # start, goal, then the segment's interior (the goal is not asked twice)
    assert res.length == res.raw_length == pytest.approx(np.linalg.norm(q1 - q0))


def box_distance(lo: np.ndarray, hi: np.ndarray, weights: np.ndarray):
    """A signed distance to a joint-space box (NaN bounds = unbounded), weights[j] m per rad: max over bounded axes
    of weights[j] * (how far q_j is outside [lo_j, hi_j]); it changes by at most weights @ |dq|."""
    axes = ~np.isnan(lo)
    return lambda q: float(np.max(weights[axes] * np.maximum(lo[axes] - q[axes], q[axes] - hi[axes])))


def box_probe(*boxes, cell: tuple[bool, ...] = (True,)) -> tuple[Probe, list]:
    """A Probe over (lo, hi, weights) boxes, one entry each, and the record of (q, entries) it was asked."""
    asked = []
    dist = [box_distance(*b) for b in boxes]

    def distances(q, which, cap):
        asked.append((q.copy(), None if which is None else list(which)))
        return np.minimum([d(q) for d in dist], cap)

    return Probe(distances, np.array([b[2] for b in boxes]), np.array(cell)), asked


def test_with_a_probe_the_clearance_holds_along_the_whole_path_for_fewer_checks():
    lo, hi = np.array([-1.0, -1.0, -1.0, np.nan, np.nan, np.nan]), np.array([1.0, 1.0, 1.0, np.nan, np.nan, np.nan])
    q0, q1 = np.array([-2.0, 0.0, 0.0, 0.3, 0.0, 0.0]), np.array([2.0, 0.5, 0.0, -0.3, 0.5, 0.0])
    keep, thin = 0.02, 0.01
    dist = box_distance(lo, hi, LEVERS6)
    valid = lambda q: dist(q) >= keep + thin / 2  # noqa: E731  (what `collision` at the tier's margin says)
    plain = plan_path(q0, q1, valid, LOWER6, UPPER6, LEVERS6, seed=3, thin=thin)
    probe, asked = box_probe((lo, hi, LEVERS6))
    res = plan_path(q0, q1, valid, LOWER6, UPPER6, LEVERS6, seed=3, thin=thin, probe=probe, keep=keep)
    assert_good_path(res, q0, q1, lambda q: dist(q) >= keep, STEP6, LOWER6, UPPER6)
    assert res.checks < plain.checks / 3 and len(asked) < res.checks
    again = plan_path(q0, q1, valid, LOWER6, UPPER6, LEVERS6, seed=3, thin=thin, probe=box_probe((lo, hi, LEVERS6))[0],
                      keep=keep)
    assert np.array_equal(again.path, res.path) and again.checks == res.checks


def test_with_a_probe_a_one_centimetre_wall_is_never_passed_through():
    h = 0.01 / LEVERS6[0]  # as in the test without a probe: a 1 cm wall, its ends padded for `valid`
    lo, hi = np.array([0.0, -1.5, np.nan, np.nan, np.nan, np.nan]), np.array([h, 1.5, np.nan, np.nan, np.nan, np.nan])
    dist = box_distance(lo, hi, LEVERS6)
    valid = lambda q: dist(q) >= 0.005  # noqa: E731
    q0, q1 = np.array([-1.0, 0.0, 0.2, 0.0, 0.0, 0.0]), np.array([1.0, 0.0, -0.2, 0.0, 0.0, 0.0])
    res = plan_path(q0, q1, valid, LOWER6, UPPER6, LEVERS6, seed=0, probe=box_probe((lo, hi, LEVERS6))[0])
    assert_good_path(res, q0, q1, lambda q: dist(q) >= 0.0, STEP6, LOWER6, UPPER6)
    assert np.abs(res.path[:, 1]).max() > 1.5  # went round an end


def test_a_probe_entry_is_asked_about_only_where_its_joints_move():
    # entry 1 (the robot against itself, kept 0 from) depends on joints 5 and 6 only, which this detour never moves
    lo, hi = np.array([-1.0, -1.0, -1.0, np.nan, np.nan, np.nan]), np.array([1.0, 1.0, 1.0, np.nan, np.nan, np.nan])
    wrist = np.array([0.0, 0.0, 0.0, 0.0, 0.2, 0.1])
    far = (np.array([np.nan] * 4 + [2.0, 2.0]), np.array([np.nan] * 4 + [3.0, 3.0]), wrist)
    probe, asked = box_probe((lo, hi, LEVERS6), far, cell=(True, False))
    q0, q1 = np.array([-2.0, 0.0, 0.0, 0.0, 0.0, 0.0]), np.array([2.0, 0.5, 0.0, 0.0, 0.0, 0.0])
    valid = lambda q: box_distance(lo, hi, LEVERS6)(q) >= 0.035  # noqa: E731
    res = plan_path(q0, q1, valid, LOWER6, UPPER6, LEVERS6, seed=1, thin=0.05, probe=probe, keep=0.01)
    assert res.success and res.planned
    assert all(which is None or 1 not in which for _, which in asked)  # mid-motion, only the moving entry


def test_planning_module_does_not_load_pybullet():
    code = "import sys, cellctl.motion.plan; assert 'pybullet' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
