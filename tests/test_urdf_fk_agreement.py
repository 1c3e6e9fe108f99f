"""roboticstoolbox and PyBullet, loading the same URDF, must agree on forward kinematics."""

from __future__ import annotations

import numpy as np
import pytest
from spatialmath import SE3

from cellctl.kinematics.arm import Arm
from cellctl.twin._pybullet import pb
from conftest import ROOT

ROBOTS = sorted((ROOT / "urdf" / "robots").glob("*.urdf"))


@pytest.mark.parametrize("urdf", ROBOTS, ids=[p.stem for p in ROBOTS])
def test_rtb_and_pybullet_agree_on_1000_configurations(urdf):
    arm = Arm(urdf, SE3(), SE3())
    client = pb.connect(pb.DIRECT)
    try:
        body = pb.loadURDF(str(urdf), useFixedBase=True, physicsClientId=client)
        index = {pb.getJointInfo(body, j, physicsClientId=client)[1].decode(): j for j in range(pb.getNumJoints(body, physicsClientId=client))}
        joints = [index[n] for n in arm.joint_names]
        flange = next(j for j in range(pb.getNumJoints(body, physicsClientId=client))
                      if pb.getJointInfo(body, j, physicsClientId=client)[12].decode() == "tool0")
        rng = np.random.default_rng(1)
        worst_pos = worst_rot = 0.0
        for q in rng.uniform(arm.limits.lower, arm.limits.upper, size=(1000, arm.n)):
            for j, qj in zip(joints, q):
                pb.resetJointState(body, j, qj, physicsClientId=client)
            state = pb.getLinkState(body, flange, computeForwardKinematics=True, physicsClientId=client)
            R = np.array(pb.getMatrixFromQuaternion(state[5])).reshape(3, 3)
            T = arm.fk(q).A
            worst_pos = max(worst_pos, float(np.linalg.norm(T[:3, 3] - np.array(state[4]))))
            worst_rot = max(worst_rot, float(np.arccos(np.clip((np.trace(T[:3, :3].T @ R) - 1) / 2, -1, 1))))
    finally:
        pb.disconnect(physicsClientId=client)
    assert worst_pos < 1e-6, f"position disagreement {worst_pos:.2e} m"
    assert worst_rot < 1e-6, f"orientation disagreement {worst_rot:.2e} rad"


def test_arm_has_published_limits():
    arm = Arm(ROOT / "urdf/robots/arm6.urdf")
    assert arm.n == 6
    assert np.allclose(arm.limits.effort, [330, 330, 150, 56, 56, 56])
    assert 1.25 < arm.reach < 1.45  # a UR10e-class arm reaches 1.3 m
