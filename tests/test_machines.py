"""Task machines, tick by tick, against fake drivers: no PyBullet anywhere."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from spatialmath import SE3

from cellctl.control.context import PartBook, RobotContext
from cellctl.control.move import MoveMachine, MoveStep
from cellctl.control.pick import PickMachine, PickStep
from cellctl.control.place import PlaceMachine, PlaceStep
from cellctl.kinematics.arm import Arm
from cellctl.model.program import MoveTarget
from conftest import ROOT
from fakes import FakeClock, FakeGripper, FakeRobot

HOME = np.radians([0, -100, 65, -55, -90, 0])
PART_POSE = SE3.Trans(0.65, 0.3, 0.5)
GRASP = SE3.Trans(0, 0, 0.03) * SE3.Rx(np.pi)


@pytest.fixture
def rig():
    clock = FakeClock()
    arm = Arm(ROOT / "urdf/robots/arm6.urdf", SE3.Rz(np.pi), SE3.Tz(0.14))
    robot, gripper = FakeRobot(clock, HOME), FakeGripper(clock)
    ctx = RobotContext("arm", arm, robot, gripper, clock, np.random.default_rng(0), PartBook({"bracket": PART_POSE}))
    return ctx, clock, robot, gripper


def run(machine, clock, robot, limit=5000):
    states = [machine.state]
    for _ in range(limit):
        machine.tick()
        if machine.state != states[-1]:
            states.append(machine.state)
        if machine.finished:
            break
        clock.advance()
        robot.poll()
    return states


def test_pick_walks_every_step_and_ends_above_the_part(rig):
    ctx, clock, robot, gripper = rig
    events = []
    m = PickMachine("load", ctx, events.append, "bracket", GRASP, 0.1, 0.2)
    states = run(m, clock, robot)
    assert states == [PickStep.IDLE, PickStep.APPROACH, PickStep.PREGRASP, PickStep.CLOSE, PickStep.VERIFY_GRASP,
                      PickStep.LIFT, PickStep.DONE]
    assert [e["to"] for e in events] == ["approach", "pregrasp", "close", "verify_grasp", "lift", "done"]
    assert all(e["t"] <= f["t"] for e, f in zip(events, events[1:]))
    # it went to the grasp pose and came back up by the approach distance
    assert np.allclose(ctx.arm.fk(robot.executed[1].end).A, (PART_POSE * GRASP).A, atol=1e-5)
    assert np.allclose(ctx.arm.fk(robot.q).t, (PART_POSE * GRASP).t + [0, 0, 0.1], atol=1e-5)


def test_pick_fails_with_grasp_reason_when_fingers_close_on_air(rig):
    ctx, clock, robot, gripper = rig
    gripper.part_between_fingers = False
    m = PickMachine("load", ctx, lambda e: None, "bracket", GRASP, 0.1, 0.2)
    states = run(m, clock, robot)
    assert states[-1] is PickStep.FAILED and states[-2] is PickStep.VERIFY_GRASP
    assert m.failure.check == "grasp" and "not holding 'bracket'" in m.failure.message


def test_unreachable_part_fails_in_approach_with_reach(rig):
    ctx, clock, robot, _ = rig
    ctx.parts.poses["bracket"] = SE3.Trans(2.5, 0, 0.5)
    m = PickMachine("load", ctx, lambda e: None, "bracket", GRASP, 0.1, 0.2)
    assert run(m, clock, robot)[-1] is PickStep.FAILED
    assert m.failure.check == "reach" and "out of reach" in m.failure.message
    assert robot.executed == []  # nothing moved


def test_a_stuck_arm_times_out_in_clock_time(rig):
    ctx, clock, robot, _ = rig
    robot.stuck = True
    m = MoveMachine("go", ctx, lambda e: None, MoveTarget("joints", q=HOME + 0.5))
    m.STEP_TIMEOUT = 2.0
    states = run(m, clock, robot)
    assert states[-1] is MoveStep.FAILED and m.failure.check == "completion"
    motion = robot.executed[0].duration
    assert motion + 2.0 < clock.t < motion + 2.1  # counted on the clock, beyond the motion's own duration


def test_move_rejects_targets_outside_joint_limits(rig):
    ctx, clock, robot, _ = rig
    m = MoveMachine("go", ctx, lambda e: None, MoveTarget("joints", q=np.array([0, 0, 4.0, 0, 0, 0])))
    assert run(m, clock, robot)[-1] is MoveStep.FAILED
    assert m.failure.check == "joint_limits" and "joint 3" in m.failure.message


def test_place_releases_then_updates_where_the_part_is(rig):
    ctx, clock, robot, gripper = rig
    gripper.holding = True
    target = SE3.Trans(0.65, -0.3, 0.53)
    m = PlaceMachine("load", ctx, lambda e: None, "bracket", target, GRASP, 0.1, 0.2)
    states = run(m, clock, robot)
    assert states == [PlaceStep.IDLE, PlaceStep.TRANSFER, PlaceStep.LOWER, PlaceStep.RELEASE, PlaceStep.VERIFY_PLACE,
                      PlaceStep.RETREAT, PlaceStep.DONE]
    assert not gripper.holding and ctx.parts.poses["bracket"] is target


def test_invalid_trigger_raises(rig):
    from transitions import MachineError

    ctx, clock, robot, _ = rig
    m = MoveMachine("go", ctx, lambda e: None, MoveTarget("home", q=HOME))
    assert run(m, clock, robot)[-1] is MoveStep.DONE
    with pytest.raises(MachineError):
        m.advance()


def test_controllers_do_not_load_pybullet():
    import subprocess

    code = "import sys, cellctl.control.orchestrator, cellctl.validate; print('pybullet' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_pick_refuses_while_the_gripper_holds_a_part(rig):
    ctx, clock, robot, gripper = rig
    gripper.holding = True
    m = PickMachine("again", ctx, lambda e: None, "bracket", GRASP, 0.1, 0.2)
    assert run(m, clock, robot)[-1] is PickStep.FAILED
    assert m.failure.check == "grasp" and "already holds" in m.failure.message and robot.executed == []
