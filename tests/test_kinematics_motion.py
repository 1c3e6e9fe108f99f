"""IK, PTP and LIN on the bundled arm: property tests, no PyBullet."""

from __future__ import annotations

import numpy as np
import pytest
from spatialmath import SE3

from cellctl.errors import PlanningError
from cellctl.kinematics.arm import Arm, JointLimits
from cellctl.motion.lin import circ, lin, polyline
from cellctl.motion.ptp import ptp
from conftest import ROOT

DT = 1 / 240


@pytest.fixture(scope="module")
def arm():
    return Arm(ROOT / "urdf/robots/arm6.urdf", SE3.Rz(np.pi), SE3.Tz(0.14))


def test_fk_of_ik_is_the_target(arm):
    rng = np.random.default_rng(3)
    for q in rng.uniform(arm.limits.lower, arm.limits.upper, size=(200, arm.n)):
        T = arm.fk(q)
        res = arm.ik(T, q + rng.normal(0, 0.3, arm.n), rng=rng)
        assert res.success, res.reason
        assert arm.within_limits(res.q)
        err = arm.fk(res.q).inv() * T
        assert np.linalg.norm(err.t) < 1e-6 and np.linalg.norm(err.angvec()[0]) < 1e-6


def test_ik_stays_near_its_seed(arm):
    q = np.radians([10, -100, 70, -60, -90, 20])
    res = arm.ik(arm.fk(q) * SE3.Tx(0.01), q)
    assert res.success and np.max(np.abs(res.q - q)) < 0.1


def test_ik_says_out_of_reach(arm):
    res = arm.ik(SE3.Trans(2.5, 0, 0.5) * SE3.Rx(np.pi), np.zeros(6))
    assert not res.success and "out of reach" in res.reason and "1.3" in res.reason


def test_ptp_is_time_optimal_within_limits_and_rests_at_both_ends(arm):
    q0, q1 = np.zeros(6), np.array([1.0, -0.5, 0.8, 0.0, 2.0, -1.0])
    vmax, amax = arm.limits.velocity, arm.max_accel
    tr = ptp(q0, q1, vmax, amax, DT)
    assert np.allclose(tr.q[0], q0) and np.allclose(tr.q[-1], q1)
    assert np.all(np.abs(tr.qd) <= vmax + 1e-9) and np.all(np.abs(tr.qdd) <= amax + 1e-9)
    assert np.allclose(tr.qd[[0, -1]], 0) and np.allclose(tr.qdd[[0, -1]], 0)
    # the slowest joint needs at least distance / vmax + vmax / amax; a time-optimal move is close to it
    lower_bound = max(abs(d) / v + v / a for d, v, a in zip(q1 - q0, vmax, amax) if abs(d) > v * v / a)
    assert tr.duration < 1.25 * lower_bound


def test_lin_keeps_the_tcp_on_the_line_without_flips(arm):
    q0 = arm.ik(SE3.Trans(0.6, 0.2, 0.8) * SE3.Rx(np.pi), np.radians([0, -100, 65, -55, -90, 0])).q
    T0 = arm.fk(q0)
    T1 = SE3.Trans(0.6, 0.2, 0.6) * SE3.Rx(np.pi)
    tr = lin(arm, q0, T1, 0.2, DT)
    for q in tr.q:
        p = arm.fk(q).t
        d = p - T0.t
        along = d @ (T1.t - T0.t) / np.linalg.norm(T1.t - T0.t)
        assert np.linalg.norm(d - along * (T1.t - T0.t) / np.linalg.norm(T1.t - T0.t)) < 1e-4
    assert np.max(np.abs(np.diff(tr.q, axis=0))) < 0.05  # continuity: no jumps between samples
    assert np.all(np.abs(tr.qd) <= arm.limits.velocity * 1.0001)
    assert tr.duration >= 0.2 / 0.2  # 200 mm at 200 mm/s


def test_lin_out_of_reach_is_a_planning_error(arm):
    q0 = arm.ik(SE3.Trans(0.6, 0.0, 0.8) * SE3.Rx(np.pi), np.radians([0, -100, 65, -55, -90, 0])).q
    with pytest.raises(PlanningError, match=r"LIN (stops|runs out of reach) \d+ mm along the LIN"):
        lin(arm, q0, SE3.Trans(2.2, 0.0, 0.8) * SE3.Rx(np.pi), 0.5, DT)


def test_ik_turns_joints_by_whole_revolutions_towards_the_seed(arm):
    seed = np.radians([0, -100, 65, -55, -90, -170])
    T = arm.fk(np.radians([0, -100, 65, -55, -90, 175]))
    res = arm.ik(T, seed)
    assert res.success and abs(np.degrees(res.q[5]) - (-185)) < 1e-3  # not +175: 15 deg away, not 345


def test_ik_from_mid_range_reaches_random_poses_to_a_micrometre(arm):
    """The TRAC-IK protocol of benchmarks/ik.py, small: random reachable poses, seeded from mid-range."""
    rng = np.random.default_rng(11)
    for q in rng.uniform(arm.limits.lower, arm.limits.upper, size=(100, arm.n)):
        T = arm.fk(q)
        res = arm.ik(T, rng=rng, nearest=False)
        assert res.success, res.reason
        assert np.max(np.abs(arm.fk(res.q).A - T.A)) < 1e-6


def test_ik_names_joint_limits_when_only_a_joint_limit_stands_in_the_way(arm):
    narrow = Arm(ROOT / "urdf/robots/arm6.urdf", SE3.Rz(np.pi), SE3.Tz(0.14))
    lim = narrow.limits
    lower, upper = lim.lower.copy(), lim.upper.copy()
    lower[0], upper[0] = -0.2, 0.2  # the base may turn only +-11 deg
    narrow.limits = JointLimits(lower, upper, lim.velocity, lim.effort)
    q = np.radians([120, -100, 70, -60, -90, 20])  # a pose straight out to the side
    res = narrow.ik(arm.fk(q), rng=np.random.default_rng(0))
    assert not res.success and res.reason.startswith("joint limits") and "joint 1" in res.reason


def test_collision_aware_ik_passes_over_solutions_in_collision(arm):
    q = np.radians([10, -100, 70, -60, -90, 20])  # elbow up (joint 3 > 0)
    T = arm.fk(q)
    elbow_up = lambda qq: "forearm and a fixture" if qq[2] > 0 else None
    res = arm.ik(T, q, rng=np.random.default_rng(0), collision=elbow_up)
    assert res.success and res.q[2] < 0
    assert np.max(np.abs(arm.fk(res.q).A - T.A)) < 1e-6
    everything = arm.ik(T, q, rng=np.random.default_rng(0), collision=lambda qq: "the arm and the table")
    assert not everything.success and everything.reason.startswith("collision") and "the arm and the table" in everything.reason


def _start(arm):
    return arm.ik(SE3.Trans(0.6, 0.2, 0.8) * SE3.Rx(np.pi), np.radians([0, -100, 65, -55, -90, 0])).q


def test_lin_keeps_position_and_orientation_on_the_path_at_every_sample(arm):
    q0 = _start(arm)
    T0, T1 = arm.fk(q0), SE3.Trans(0.45, 0.35, 0.6) * SE3.Rx(np.pi) * SE3.Rz(0.6) * SE3.Ry(0.2)
    tr = lin(arm, q0, T1, 0.25, DT)
    for q in tr.q:
        T = arm.fk(q)
        d = T.t - T0.t
        u = (T1.t - T0.t) / np.linalg.norm(T1.t - T0.t)
        assert np.linalg.norm(d - (d @ u) * u) < 1e-4
        s = (d @ u) / np.linalg.norm(T1.t - T0.t)  # where along the line: the orientation must be the slerp there
        ideal = T0.interp(T1, float(np.clip(s, 0, 1)))
        assert np.linalg.norm((ideal.inv() * T).angvec()[0]) < np.radians(0.1)
    assert np.max(np.abs(arm.fk(tr.q[-1]).A - T1.A)) < 1e-6


def test_circ_follows_the_circle_through_its_via_point(arm):
    q0 = _start(arm)
    T0 = arm.fk(q0)
    via, goal = SE3.Trans(0.5, 0.3, 0.8) * SE3.Rx(np.pi), SE3.Trans(0.4, 0.2, 0.8) * SE3.Rx(np.pi) * SE3.Rz(0.5)
    tr = circ(arm, q0, via, goal, 0.2, DT)
    centre, radius = np.array([0.5, 0.2, 0.8]), 0.1  # the circle through (0.6,.2), (.5,.3), (.4,.2) in z = 0.8
    p = np.array([arm.fk(q).t for q in tr.q])
    assert np.max(np.abs(np.linalg.norm(p - centre, axis=1) - radius)) < 1e-4
    assert np.max(np.abs(p[:, 2] - 0.8)) < 1e-4
    assert np.min(np.linalg.norm(p - via.t, axis=1)) < 1e-3  # it passes the via point
    assert np.linalg.norm(p[-1] - goal.t) < 1e-6 and np.linalg.norm(p[0] - T0.t) < 1e-9
    speed = np.linalg.norm(np.diff(p, axis=0), axis=1) / DT
    assert speed.max() < 0.2 * 1.01 and tr.duration > np.pi * radius / 0.2
    assert np.all(np.abs(tr.qd) <= arm.limits.velocity * 1.0001)


def test_circ_refuses_three_points_on_a_line(arm):
    q0 = _start(arm)
    with pytest.raises(PlanningError, match="on the line"):
        circ(arm, q0, SE3.Trans(0.6, 0.2, 0.7) * SE3.Rx(np.pi), SE3.Trans(0.6, 0.2, 0.6) * SE3.Rx(np.pi), 0.2, DT)


def test_circ_refuses_a_goal_or_via_at_its_start_whose_circle_noise_would_choose(arm):
    """A circle through a point given twice is set by micrometres of measuring noise: refused, not swept."""
    q0 = _start(arm)
    start = arm.fk(q0)
    with pytest.raises(PlanningError, match="the goal is where the move starts"):
        circ(arm, q0, SE3.Trans(0.6, 0.0, 0.9) * SE3.Rx(np.pi), start, 0.2, DT)
    with pytest.raises(PlanningError, match="the via point is where the move starts"):
        circ(arm, q0, start, SE3.Trans(0.6, 0.0, 0.9) * SE3.Rx(np.pi), 0.2, DT)


def test_lin_too_fast_for_the_joints_slows_down_or_fails_when_the_speed_is_the_process(arm):
    q0 = _start(arm)
    T1 = SE3.Trans(0.6, -0.4, 0.8) * SE3.Rx(np.pi)  # 600 mm at 3 m/s: more than the joints can do
    slowed = lin(arm, q0, T1, 3.0, DT)
    assert np.all(np.abs(slowed.qd) <= arm.limits.velocity * 1.0001)
    assert slowed.duration > 0.6 / 3.0 * 1.2  # it had to run slower than programmed
    with pytest.raises(PlanningError, match="too fast for the arm") as err:
        lin(arm, q0, T1, 3.0, DT, slowdown=False)
    assert err.value.check == "velocity_limits" and "at most" in str(err.value)


def test_lin_through_the_wrist_singularity_fails_clearly(arm):
    q0 = np.radians([0, -100, 90, -80, -10, 0])
    T1 = arm.fk(np.radians([0, -100, 90, -80, 10, 0]))  # across wrist_2 = 0, where wrists 1 and 3 line up
    T1 = SE3.Tx(0.05) * T1
    with pytest.raises(PlanningError, match="singularity") as err:
        lin(arm, q0, T1, 0.2, DT)
    assert err.value.check == "reach" and "mm along the LIN" in str(err.value)


def test_polyline_rounds_its_corners_and_keeps_its_speed_without_stopping(arm):
    """An L of 40 mm and 20 mm at 10 mm/s: never more than 0.3 mm off the corner, and at speed through it."""
    q0 = _start(arm)
    T0 = arm.fk(q0)
    corner, end = T0 * SE3.Tx(0.04), T0 * SE3.Tx(0.04) * SE3.Ty(0.02)
    tr = polyline(arm, q0, [T0, corner * SE3.Rz(0.3), end], 0.010, DT)
    tips = np.array([arm.fk(q).t for q in tr.q])
    a, b, c = T0.t, corner.t, end.t
    off = [min(np.linalg.norm(np.cross(p - a, b - a)) / np.linalg.norm(b - a) if (p - a) @ (b - a) <= (b - a) @ (b - a) else 1,
               np.linalg.norm(np.cross(p - b, c - b)) / np.linalg.norm(c - b) if (p - b) @ (c - b) >= 0 else 1) for p in tips]
    assert max(off) < 0.0003 + 1e-4
    speed = np.linalg.norm(np.diff(tips, axis=0), axis=1) / DT
    near = np.linalg.norm(tips[:-1] - b, axis=1) < 0.002  # round the corner
    assert speed[near].min() > 0.0095  # it does not stop there
    assert np.max(np.abs(arm.fk(tr.q[-1]).t - c)) < 1e-6


def test_polyline_that_turns_back_on_itself_is_refused(arm):
    q0 = _start(arm)
    T0 = arm.fk(q0)
    with pytest.raises(PlanningError, match="turns back on itself at its point 2"):
        polyline(arm, q0, [T0, T0 * SE3.Tx(0.04), T0 * SE3.Tx(0.01)], 0.010, DT)
