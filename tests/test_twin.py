"""The PyBullet twin: independent worlds, fixed-rate stepping, contacts, and grasps that must be physical."""

from __future__ import annotations

import numpy as np
import pytest
from spatialmath import SE3

from cellctl.drivers.base import MotionStatus
from cellctl.drivers.sim import SimGripperDriver, SimRobotDriver
from cellctl.model import load_cell
from cellctl.motion.lin import lin
from cellctl.motion.ptp import ptp
from cellctl.twin.world import World
from conftest import ROOT


@pytest.fixture
def cell():
    return load_cell(ROOT / "sim" / "pick_place_cell.yaml")


def run_until(world, handle, limit=2000):
    for _ in range(limit):
        world.step()
        if handle.status() is not MotionStatus.RUNNING:
            return handle.status()
    return handle.status()


def test_two_worlds_in_one_process_are_independent(cell):
    with World(cell) as a, World(cell) as b:
        assert a.client != b.client
        drv = SimRobotDriver(a, "arm")
        q0 = drv.state().q
        h = drv.execute(ptp(q0, q0 + [0.5, 0, 0, 0, 0, 0], a.robots["arm"].arm.limits.velocity, a.robots["arm"].arm.max_accel, a.dt))
        assert run_until(a, h) is MotionStatus.DONE
        for _ in range(10):
            b.step()
        assert abs(a.joint_state("arm")[0][0] - q0[0] - 0.5) < 2e-3
        assert np.allclose(b.joint_state("arm")[0], q0, atol=1e-4)
        assert a.t > b.t


def test_part_rests_on_table_and_contacts_are_named(cell):
    with World(cell) as w:
        for _ in range(120):
            w.step()
        assert np.allclose(w.part_pose("bracket").t, [0.65, 0.3, 0.5], atol=1e-3)
        last = [c for c in w.trace.contacts if c.t == w.t]
        assert any({c.a, c.b} == {"bracket", "table"} for c in last)


def _go_to_grasp(world, grasp_offset):
    robot, gripper = SimRobotDriver(world, "arm"), SimGripperDriver(world, "arm")
    arm = world.robots["arm"].arm
    T = SE3.Trans(0.65, 0.3, 0.5) * SE3.Trans(grasp_offset, 0, 0.03) * SE3.Rx(np.pi)
    above = arm.ik(SE3.Tz(0.1) * T, robot.state().q).q
    assert run_until(world, robot.execute(ptp(robot.state().q, above, arm.limits.velocity, arm.max_accel, world.dt))) is MotionStatus.DONE
    assert run_until(world, robot.execute(lin(arm, robot.state().q, T, 0.2, world.dt))) is MotionStatus.DONE
    return robot, gripper


def test_grasp_attaches_only_when_both_fingers_touch(cell):
    with World(cell) as w:
        robot, gripper = _go_to_grasp(w, 0.0)
        assert run_until(w, gripper.close()) is MotionStatus.DONE
        assert gripper.state().holding and w.held_part("arm") == "bracket"
        assert all("bracket" in touched for touched in w.finger_contacts("arm"))
        arm = w.robots["arm"].arm
        z0 = w.part_pose("bracket").t[2]
        run_until(w, robot.execute(lin(arm, robot.state().q, arm.fk(robot.state().q) * SE3.Tz(-0.1), 0.2, w.dt)))
        assert w.part_pose("bracket").t[2] > z0 + 0.09  # it came up with the gripper


def test_fingers_closing_on_air_hold_nothing(cell):
    with World(cell) as w:
        robot, gripper = _go_to_grasp(w, 0.10)
        assert run_until(w, gripper.close()) is MotionStatus.DONE
        assert not gripper.state().holding and w.held_part("arm") is None
        assert not any(a.action == "attach" for a in w.trace.attachments)


def test_a_blocked_move_fails_with_the_following_error(cell):
    with World(cell) as w:
        robot = SimRobotDriver(w, "arm")
        arm = w.robots["arm"].arm
        target = arm.ik(SE3.Trans(0.75, 0.0, 0.40) * SE3.Rx(np.pi), robot.state().q).q  # 100 mm into the table
        handle = robot.execute(ptp(robot.state().q, target, arm.limits.velocity, arm.max_accel, w.dt))
        assert run_until(w, handle) is MotionStatus.FAILED
        assert "did not reach the end of its move" in handle.reason
        assert any("table" in (c.a, c.b) and (c.a.startswith("arm/") or c.b.startswith("arm/")) for c in w.trace.contacts)


def test_self_collision_is_seen_but_neighbouring_links_are_not(cell):
    from cellctl.twin._pybullet import pb

    with World(cell) as w:
        for _ in range(5):
            w.step()
        assert not [c for c in w.trace.contacts if c.a.startswith("arm/") and c.b.startswith("arm/")]
        r = w.robots["arm"]
        folded = np.radians([83, -84, 179, 346, 134, 108])  # elbow folded: the wrist inside the upper arm
        for j, q in zip(r.joints, folded):
            pb.resetJointState(r.body, j, q, physicsClientId=w.client)
        w.command_joints("arm", folded, np.zeros(6))
        w.step()
        own = [(c.a, c.b) for c in w.trace.contacts if c.t == w.t and c.a.startswith("arm/") and c.b.startswith("arm/")]
        assert own, "a folded arm must touch itself"


def test_pose_conversions_round_trip():
    from cellctl.twin.poses import pb_from_se3, se3_from_pb

    for T in SE3.Rand(200):
        pos, quat = pb_from_se3(T)
        assert abs(np.linalg.norm(quat) - 1) < 1e-12
        assert np.allclose(se3_from_pb(pos, quat).A, T.A, atol=1e-12)


def test_distances_between_bodies(cell):
    with World(cell) as w:
        d, a, b = w.distance("arm", "table")
        tcp_height = w.tcp_pose("arm").t[2]
        assert 0.0 < d < tcp_height - 0.5  # the fingertips are closer to the top than the TCP is
        assert a.startswith("arm/") and b == "table"
        assert w.distance("bracket", "nest_fixture", within=0.01) is None
        assert w.distance("bracket", "table")[0] < 1e-3  # resting on it


def test_a_resting_part_stays_put_for_a_minute(cell):
    with World(cell) as w:
        T0 = w.part_pose("bracket")
        for _ in range(int(60 / w.dt)):
            w.step()
        T1 = w.part_pose("bracket")
        assert np.linalg.norm(T1.t - T0.t) < 2e-4
        assert np.degrees(np.linalg.norm((T0.inv() * T1).angvec()[0])) < 0.1
