"""IK, PTP and LIN on the bundled arm: property tests, no PyBullet."""

from __future__ import annotations

import numpy as np
import pytest
from spatialmath import SE3

from cellctl.errors import PlanningError
from cellctl.kinematics.arm import Arm
from cellctl.motion.lin import lin
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
    with pytest.raises(PlanningError, match=r"LIN (stops|runs out of reach) \d+ mm along the line"):
        lin(arm, q0, SE3.Trans(2.2, 0.0, 0.8) * SE3.Rx(np.pi), 0.5, DT)


def test_ik_turns_joints_by_whole_revolutions_towards_the_seed(arm):
    seed = np.radians([0, -100, 65, -55, -90, -170])
    T = arm.fk(np.radians([0, -100, 65, -55, -90, 175]))
    res = arm.ik(T, seed)
    assert res.success and abs(np.degrees(res.q[5]) - (-185)) < 1e-3  # not +175: 15 deg away, not 345
