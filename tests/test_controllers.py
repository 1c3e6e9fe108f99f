"""Robot controller, weld, fasten and re-grasp, tick by tick against ideal drivers: no PyBullet."""

from __future__ import annotations

import numpy as np
import pytest
from spatialmath import SE3
from transitions import MachineError

from cellctl.control.context import PartBook, RobotContext
from cellctl.control.fasten import FastenMachine, FastenStep
from cellctl.control.move import MoveMachine, MoveStep
from cellctl.control.pick import PickMachine, PickStep
from cellctl.control.robot import Mode, RobotController
from cellctl.control.taskrun import TaskRun
from cellctl.control.weld import WeldMachine, WeldStep
from cellctl.drivers.ideal import IdealGripper, IdealNutrunner, IdealRobot, IdealWeldSource, SteppedClock
from cellctl.kinematics.arm import Arm
from cellctl.model.program import MoveTarget, Task
from conftest import ROOT

HOME = np.radians([0, -100, 65, -55, -90, 0])
DOWN = SE3.Rx(np.pi)  # tool z pointing down


@pytest.fixture
def cell():
    clock = SteppedClock(1 / 240)
    arm = Arm(ROOT / "urdf/robots/arm6.urdf", SE3.Rz(np.pi), SE3.Tz(0.14))
    robot = IdealRobot("arm", clock, HOME)
    ctx = RobotContext("arm", arm, robot, IdealGripper("arm", clock), clock, np.random.default_rng(0),
                       PartBook({"bracket": SE3.Trans(0.65, 0.3, 0.5)}), weld=IdealWeldSource("arm", clock),
                       nutrunner=IdealNutrunner("arm", clock, max_torque=40.0))
    return ctx, clock


def tick_until(machine, clock, limit=60.0):
    states = [machine.state]
    while not machine.finished and clock.t < limit:
        machine.tick()
        if machine.state != states[-1]:
            states.append(machine.state)
        clock.advance()
    return states


# ---------------------------------------------------------------- robot controller
def test_robot_controller_modes_and_invalid_triggers(cell):
    ctx, clock = cell
    events = []
    ctl = RobotController(ctx, events.append)
    assert ctl.state is Mode.DISABLED
    with pytest.raises(MachineError):
        ctl.start()  # a disabled robot cannot start work
    ctl.enable()
    task = Task("go", "arm", "move", 1, move=MoveTarget("joints", q=HOME + 0.3))
    ctl.start(run=TaskRun(task, None, ctx, events.append))
    for _ in range(30):
        ctl.tick()
        clock.advance()
    ctl.pause()
    with pytest.raises(MachineError):
        ctl.finish()
    ctl.resume()
    while ctl.state is Mode.BUSY:
        ctl.tick()
        clock.advance()
    assert ctl.state is Mode.IDLE and np.allclose(ctx.robot.q, HOME + 0.3)
    ctl.fault(reason="grasp: test")
    assert ctl.state is Mode.FAULTED and events[-1]["reason"] == "grasp: test"
    ctl.reset()
    ctl.estop()
    with pytest.raises(MachineError):
        ctl.enable()  # after an e-stop: reset first
    ctl.reset()
    assert ctl.state is Mode.DISABLED and not ctx.robot.estopped
    assert [e["to"] for e in events if e["machine"] == "robot"] == [
        "idle", "busy", "paused", "busy", "idle", "faulted", "idle", "estopped", "disabled"]


def test_estop_freezes_the_arm_within_one_tick(cell):
    ctx, clock = cell
    ctl = RobotController(ctx, lambda e: None)
    ctl.enable()
    task = Task("go", "arm", "move", 1, move=MoveTarget("joints", q=HOME + 1.0))
    run = TaskRun(task, None, ctx, lambda e: None)
    ctl.start(run=run)
    for _ in range(100):
        ctl.tick()
        clock.advance()
    assert np.abs(ctx.robot.qd).max() > 0.1  # moving fast
    ctl.estop()
    q = ctx.robot.q.copy()
    clock.advance()
    assert np.allclose(ctx.robot.q, q) and run.interrupted
    assert ctx.robot.execute(ctx.robot._traj or run.machine.ctx.robot.executed[0]).status().value == "failed"


def test_a_paused_step_does_not_time_out_and_resumes_the_same_motion(cell):
    ctx, clock = cell
    m = MoveMachine("go", ctx, lambda e: None, MoveTarget("joints", q=HOME + 0.8))
    m.STEP_TIMEOUT = 2.0
    for _ in range(60):
        m.tick()
        clock.advance()
    ctx.robot.hold()
    m.pause()
    for _ in range(240 * 10):  # 10 s paused, five times the step timeout
        m.tick()
        clock.advance()
    held = ctx.robot.q.copy()
    assert m.state is MoveStep.MOVE and np.abs(ctx.robot.qd).max() == 0.0
    ctx.robot.resume()
    m.resume()
    assert tick_until(m, clock, limit=60.0)[-1] is MoveStep.DONE
    assert len(ctx.robot.executed) == 1 and not np.allclose(held, HOME + 0.8)
    assert np.allclose(ctx.robot.q, HOME + 0.8)


# ---------------------------------------------------------------- pick retry
def test_a_failed_grasp_is_retried_once_then_fails(cell):
    ctx, clock = cell
    ctx.gripper.grasp_ok = False
    events = []
    m = PickMachine("load", ctx, events.append, "bracket", SE3.Tz(0.03) * DOWN, 0.1, 0.2)
    states = tick_until(m, clock)
    assert states[-1] is PickStep.FAILED and m.failure.check == "grasp"
    assert [s for s in states if s in (PickStep.CLOSE, PickStep.REGRASP)] == [PickStep.CLOSE, PickStep.REGRASP, PickStep.CLOSE]


def test_a_grasp_that_holds_on_the_retry_goes_on(cell):
    ctx, clock = cell
    ctx.gripper.grasp_ok = False
    m = PickMachine("load", ctx, lambda e: None, "bracket", SE3.Tz(0.03) * DOWN, 0.1, 0.2)
    while m.state is not PickStep.REGRASP:
        m.tick()
        clock.advance()
    ctx.gripper.grasp_ok = True
    assert tick_until(m, clock)[-1] is PickStep.DONE


# ---------------------------------------------------------------- weld
SEAM = np.array([[0.6, 0.1, 0.55], [0.6, 0.2, 0.55]])


def test_weld_walks_its_steps_and_travels_the_seam_at_speed(cell):
    ctx, clock = cell
    events = []
    m = WeldMachine("w", ctx, events.append, "plate.seam", SEAM, np.array([0, 0, 1.0]), 0.01, 0.0, np.radians(10), 0.1, 0.2)
    states = tick_until(m, clock)
    assert states == [WeldStep.IDLE, WeldStep.APPROACH, WeldStep.TOUCH, WeldStep.ARC_ON, WeldStep.TRAVERSE,
                      WeldStep.ARC_OFF, WeldStep.RETREAT, WeldStep.DONE]
    traverse = ctx.robot.executed[2]
    start, end = ctx.arm.fk(traverse.start), ctx.arm.fk(traverse.end)
    assert np.allclose(start.t, SEAM[0], atol=1e-6) and np.allclose(end.t, SEAM[1], atol=1e-6)
    assert traverse.duration == pytest.approx(0.1 / 0.01, rel=0.1)  # 100 mm at 10 mm/s, with its ramps
    # a 10 deg push angle: the wire leans forward, along the direction of travel (+y)
    z = start.A[:3, 2]
    assert np.degrees(np.arccos(-z[2])) == pytest.approx(10.0, abs=1e-6) and z[1] > 0
    assert not ctx.weld.on


def test_weld_fails_when_the_arc_does_not_strike(cell):
    ctx, clock = cell
    ctx.weld.arc_ok = False
    m = WeldMachine("w", ctx, lambda e: None, "plate.seam", SEAM, np.array([0, 0, 1.0]), 0.01, 0.0, 0.0, 0.1, 0.2)
    states = tick_until(m, clock)
    assert states[-2:] == [WeldStep.ARC_ON, WeldStep.FAILED] and m.failure.check == "weld"


# ---------------------------------------------------------------- fasten
HOLES = [("plate.h1", SE3.Trans(0.6, 0.1, 0.51) * DOWN), ("plate.h2", SE3.Trans(0.6, 0.2, 0.51) * DOWN)]


def test_fasten_runs_each_bolt_through_every_step(cell):
    ctx, clock = cell
    m = FastenMachine("f", ctx, lambda e: None, HOLES, 12.0, (np.radians(5), np.radians(90)), 0.1, 0.2)
    states = tick_until(m, clock)
    one = [FastenStep.APPROACH, FastenStep.ALIGN, FastenStep.ENGAGE, FastenStep.RUN_DOWN, FastenStep.TIGHTEN,
           FastenStep.VERIFY, FastenStep.RETREAT]
    assert states == [FastenStep.IDLE, *one, *one, FastenStep.DONE]
    assert [r["hole"] for r in m.results] == ["plate.h1", "plate.h2"] and all(r["torque_nm"] >= 12.0 for r in m.results)


def test_fasten_fails_when_the_bolt_never_seats(cell):
    ctx, clock = cell
    ctx.nutrunner.seated = False
    m = FastenMachine("f", ctx, lambda e: None, HOLES, 12.0, (0.0, np.radians(90)), 0.1, 0.2)
    states = tick_until(m, clock)
    assert states[-2:] == [FastenStep.RUN_DOWN, FastenStep.FAILED] and m.failure.check == "fasten"


def test_fasten_fails_above_the_nutrunners_torque(cell):
    ctx, clock = cell
    m = FastenMachine("f", ctx, lambda e: None, HOLES, 55.0, (0.0, np.radians(720)), 0.1, 0.2)
    states = tick_until(m, clock)
    assert states[-2:] == [FastenStep.TIGHTEN, FastenStep.FAILED] and m.failure.check == "fasten"
    assert "40.0 N m" in m.failure.message or "torque" in m.failure.message
