"""retime_path: exact (stop at corners) and fly-by (toppra) retiming of multi-waypoint joint paths. No PyBullet."""

from __future__ import annotations

import numpy as np
import pytest

from cellctl.motion.retime import BLEND_RADIUS, polyline_distance, retime_path

DT = 1 / 240
VMAX = np.array([2.0944, 2.0944, 3.1416, 3.1416, 3.1416, 3.1416])  # arm6's URDF velocity limits
AMAX = 2.0 * VMAX  # Arm.max_accel's default


def zigzag() -> np.ndarray:
    """A zig-zag in joints 1 and 2 (90 deg turns), with a small twist in joint 6."""
    W = np.zeros((6, 6))
    W[:, 0] = np.arange(6) * 0.3
    W[1::2, 1] = 0.3
    W[:, 5] = np.linspace(0.0, 0.2, 6)
    return W


def paths() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "zigzag": zigzag(),
        "random5": rng.uniform(-np.pi, np.pi, size=(5, 6)),
        "short_hops": rng.uniform(-0.2, 0.2, size=(6, 6)),
        "sharp_turn": np.array([[0, 0, 0, 0, 0, 0], [1.0, 0.5, 0, 0, 0, 0], [0.3, 0.1, 0.3, 0, 0, 0], [0.3, 0.1, 1, 0, 0, 0.]]),
        "collinear": np.array([[0.0] * 6, [0.5] * 6, [0.5] * 6, [1.0] * 6, [1.5] * 6]),  # a duplicate and a straight joint
    }


CASES = [(name, blend) for name in paths() for blend in (False, True)]


@pytest.fixture(scope="module")
def trajs():
    return {(name, blend): retime_path(W, VMAX, AMAX, DT, blend=blend) for name, W in paths().items() for blend in (False, True)}


@pytest.mark.parametrize("name,blend", CASES)
def test_limits_respected_at_every_sample(trajs, name, blend):
    tr = trajs[name, blend]
    assert np.max(np.abs(tr.qd) / VMAX) <= 1.01
    assert np.max(np.abs(tr.qdd) / AMAX) <= 1.05
    assert np.all(np.diff(tr.t) > 0) and np.all(np.diff(tr.t) <= DT + 1e-12)


@pytest.mark.parametrize("name,blend", CASES)
def test_exact_ends_at_rest(trajs, name, blend):
    W, tr = paths()[name], trajs[name, blend]
    assert np.array_equal(tr.q[0], W[0]) and np.array_equal(tr.q[-1], W[-1])
    assert np.array_equal(tr.qd[0], np.zeros(6)) and np.array_equal(tr.qd[-1], np.zeros(6))


@pytest.mark.parametrize("name,blend", CASES)
def test_samples_are_consistent(trajs, name, blend):
    """qd is the derivative of q and qdd that of qd (trapezoid rule between samples; toppra's path
    acceleration jumps between its gridpoints, so qd against qdd allows one jump inside a step)."""
    tr = trajs[name, blend]
    h = np.diff(tr.t)[:, None]
    assert np.max(np.abs(np.diff(tr.q, axis=0) / h - (tr.qd[1:] + tr.qd[:-1]) / 2)) < 0.01
    assert np.max(np.abs(np.diff(tr.qd, axis=0) / h - (tr.qdd[1:] + tr.qdd[:-1]) / 2)) < np.max(AMAX)


@pytest.mark.parametrize("name", list(paths()))
def test_exact_path_follows_the_segments_and_rests_at_every_waypoint(trajs, name):
    W, tr = paths()[name], trajs[name, False]
    assert np.max(polyline_distance(tr.q, W)) < 1e-9
    for w in W:
        i = int(np.argmin(np.linalg.norm(tr.q - w, axis=1)))
        assert np.linalg.norm(tr.q[i] - w) < 1e-12
        assert np.linalg.norm(tr.qd[i]) < 1e-9


@pytest.mark.parametrize("name", ["zigzag", "random5", "short_hops", "sharp_turn"])
@pytest.mark.parametrize("radius", [0.01, BLEND_RADIUS, 0.2])
def test_blend_flies_by_within_the_bound(name, radius):
    W = paths()[name]
    tr = retime_path(W, VMAX, AMAX, DT, blend=True, blend_radius=radius)
    dev = float(np.max(polyline_distance(tr.q, W)))
    print(f"{name} r={radius}: max deviation from the polyline {dev:.4f} rad")
    assert dev <= radius + 1e-9
    speed = np.linalg.norm(tr.qd, axis=1)
    for w in W[1:-1]:
        d = np.linalg.norm(tr.q - w, axis=1)
        i = int(np.argmin(d))
        assert d[i] <= radius + 0.5 * np.max(VMAX) * DT  # passes within the radius (up to one sample's travel)
        assert speed[i] > 0.05  # and does not stop there
    inner = (tr.t > 0.05 * tr.duration) & (tr.t < 0.95 * tr.duration)
    assert np.min(speed[inner]) > 0.01


def test_blend_at_a_reversal_stays_in_bound_and_stops_at_the_tip():
    """A segment that goes straight back is a cusp: even blended, the arm must stop at its tip."""
    W = np.array([[0.0] * 6, [0.8, 0.3, 0, 0, 0, 0], [0.0] * 6])
    tr = retime_path(W, VMAX, AMAX, DT, blend=True)
    assert np.max(polyline_distance(tr.q, W)) <= BLEND_RADIUS + 1e-9
    d = np.linalg.norm(tr.q - W[1], axis=1)
    i = int(np.argmin(d))
    assert d[i] <= BLEND_RADIUS + 1e-3  # the tip is exactly BLEND_RADIUS short of the waypoint; samples miss it by a hair
    assert np.linalg.norm(tr.qd[i]) < 0.05
    assert np.max(np.abs(tr.qd) / VMAX) <= 1.01 and np.max(np.abs(tr.qdd) / AMAX) <= 1.05


def test_blend_is_faster_on_a_zigzag(trajs):
    assert trajs["zigzag", True].duration < 0.85 * trajs["zigzag", False].duration


def test_single_segment_and_single_point():
    q0, q1 = np.zeros(6), np.array([1.0, -0.5, 0.2, 0, 0, 0.3])
    for blend in (False, True):
        tr = retime_path(np.array([q0, q1]), VMAX, AMAX, DT, blend=blend)
        assert np.array_equal(tr.q[-1], q1) and np.max(polyline_distance(tr.q, np.array([q0, q1]))) < 1e-9
        hold = retime_path(np.array([q1, q1]), VMAX, AMAX, DT, blend=blend)
        assert hold.duration == 0.0 and np.array_equal(hold.q[0], q1)


@pytest.mark.parametrize("blend", [False, True])
def test_deterministic(blend):
    W = paths()["random5"]
    a, b = retime_path(W, VMAX, AMAX, DT, blend=blend), retime_path(W.copy(), VMAX, AMAX, DT, blend=blend)
    for x, y in ((a.t, b.t), (a.q, b.q), (a.qd, b.qd), (a.qdd, b.qdd)):
        assert np.array_equal(x, y)
