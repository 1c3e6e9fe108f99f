"""The conformance kit's tests: what every driver must do, measured on the driver's own clock.

Each test builds the drivers afresh from the factory under test (`driver_spec`, see plugin.py), works the first
robot (small motions about where it stands, inside its limits) and every tool, and closes the drivers again.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from cellctl.conformance.plugin import FIGURES
from cellctl.drivers.base import (GripperDriver, MotionStatus, NutrunnerDriver, RobotDriver, RobotState, SpotGunDriver,
                                  WeldSourceDriver, driver_kind)
from cellctl.drivers.factory import CellDrivers, build_drivers
from cellctl.errors import DriverError
from cellctl.motion.trajectory import JointTrajectory

WALL_LIMIT = 30.0  # s of wall time any one wait may take, whatever the driver's clock says
STILL = 0.02  # rad/s: every joint slower than this is standing still
SETTLE = 1.0  # s a driver may take beyond a trajectory's end to settle and report DONE
TOOL_TIMEOUT = 10.0  # s a tool command may take
TOOL_STOP = 0.2  # s from a tool's stop() to its process at rest (fingers still, arc off, spindle stopped, current off)
TERMINAL = (MotionStatus.DONE, MotionStatus.FAILED, MotionStatus.STOPPED)


# ---------------------------------------------------------------------------------------------- the rig
@pytest.fixture
def rig(driver_spec) -> CellDrivers:
    from cellctl.model.cell import load_cell

    spec, options, cell_file = driver_spec
    drivers = build_drivers(spec, load_cell(cell_file) if cell_file else None, options)
    drivers.spec = spec  # shown with the figures
    try:
        yield drivers
    finally:
        drivers.close()


NO_ROBOT: set[str] = set()  # driver sets found to have no robot: their robot tests skip without building them again


@pytest.fixture
def robot(request, driver_spec) -> RobotDriver:
    key = repr(driver_spec)
    if key not in NO_ROBOT:
        rig = request.getfixturevalue("rig")
        if rig.robots:
            return next(iter(rig.robots.values()))
        NO_ROBOT.add(key)
    pytest.skip("this driver set has no robot")


PROTOCOLS = {"spot_gun": SpotGunDriver, "nutrunner": NutrunnerDriver, "weld_source": WeldSourceDriver,
             "gripper": GripperDriver}


def kind_of(tool) -> type:
    """The tool protocol a driver implements."""
    kind = driver_kind(tool)
    assert kind in PROTOCOLS, f"{type(tool).__name__} is a {kind} driver, not a tool driver"
    return PROTOCOLS[kind]


def tools_of(rig: CellDrivers, protocol) -> list:
    found = [t for t in rig.tools.values() if kind_of(t) is protocol]
    if not found:
        pytest.skip(f"this driver set has no {protocol.__name__}")
    return found


def wait(rig: CellDrivers, done, timeout: float, what="the awaited condition") -> float:
    """Advance the drivers' clock until done() is true; the clock time that took (pytest.fail after `timeout`, saying
    `what`, a text or a callable giving one, did not happen)."""
    t0, wall0 = rig.clock.now(), time.monotonic()
    while not done():
        if rig.clock.now() - t0 > timeout or time.monotonic() - wall0 > WALL_LIMIT:
            pytest.fail(f"{what() if callable(what) else what}: not within {timeout:.3f} s of the driver's clock",
                        pytrace=False)
        rig.advance()
    return rig.clock.now() - t0


def run_for(rig: CellDrivers, seconds: float, each=None) -> None:
    t0 = rig.clock.now()
    while rig.clock.now() - t0 < seconds:
        rig.advance()
        if each is not None:
            each()


def figure(rig: CellDrivers, what: str, measured: float, promised: float) -> None:
    FIGURES.append((getattr(rig, "spec", "?"), what, measured, promised))


def hook(rig: CellDrivers, name: str):
    """The factory's test hook `name` (disconnect, fault), or a skip saying why it has none."""
    fn = getattr(rig, name)
    if fn is None:
        pytest.skip(rig.untestable.get(name, f"the factory gives no '{name}' hook"))

    def call(*args):
        try:
            fn(*args)
        except NotImplementedError as exc:
            pytest.skip(str(exc) or f"'{name}' is not possible for this driver")

    return call


# ---------------------------------------------------------------------------------------------- motions
def quintic(q0: np.ndarray, q1: np.ndarray, vmax: np.ndarray, period: float, fraction: float) -> JointTrajectory:
    """A rest-to-rest quintic from q0 to q1 whose fastest joint peaks at `fraction` of its speed limit."""
    delta = q1 - q0
    duration = max(0.3, 1.875 * float(np.max(np.abs(delta) / vmax)) / fraction)
    n = max(2, int(np.ceil(duration / period)) + 1)
    t = np.linspace(0.0, duration, n)
    s = t / duration
    p = 10 * s ** 3 - 15 * s ** 4 + 6 * s ** 5
    v = (30 * s ** 2 - 60 * s ** 3 + 30 * s ** 4) / duration
    a = (60 * s - 180 * s ** 2 + 120 * s ** 3) / duration ** 2
    return JointTrajectory(t, q0 + np.outer(p, delta), np.outer(v, delta), np.outer(a, delta))


def move_from_here(robot: RobotDriver, amplitude: float = 0.2, fraction: float = 0.5) -> JointTrajectory:
    """A motion of every joint by up to `amplitude` rad towards the middle of its range, at `fraction` of its
    speed limit."""
    lim, q0 = robot.limits, robot.state().q
    lower = np.where(np.isfinite(lim.lower), lim.lower, q0 - 10)
    upper = np.where(np.isfinite(lim.upper), lim.upper, q0 + 10)
    sign = np.where(q0 <= (lower + upper) / 2, 1.0, -1.0)
    room = np.where(sign > 0, upper - q0, q0 - lower)
    q1 = q0 + sign * np.minimum(amplitude, 0.5 * room)
    return quintic(q0, q1, np.where(np.isfinite(lim.velocity), lim.velocity, 1.0), robot.period, fraction)


def start(rig: CellDrivers, robot: RobotDriver, traj: JointTrajectory, seconds: float):
    """Execute `traj` and let it run `seconds` of the driver's clock (it must still be running then)."""
    handle = robot.execute(traj)
    run_for(rig, seconds)
    assert handle.status() is MotionStatus.RUNNING, f"the motion ended early: {handle.status()} {handle.reason}"
    return handle


def standstill_time(rig: CellDrivers, robot: RobotDriver, timeout: float, after: str) -> float:
    return wait(rig, lambda: bool(np.all(np.abs(robot.state().qd) < STILL)), timeout,
                f"the arm at standstill (every joint under {STILL} rad/s) after {after}")


def assert_refused(rig: CellDrivers, robot: RobotDriver, traj: JointTrajectory, words: str) -> None:
    q0 = robot.state().q
    handle = robot.execute(traj)
    wait(rig, lambda: handle.status() in TERMINAL, robot.max_latency + robot.period,
         f"execute() of a trajectory the driver must refuse ({words}) ended FAILED 'refused: ...'")
    assert handle.status() is MotionStatus.FAILED and handle.reason.startswith("refused:"), (handle.status(), handle.reason)
    assert words in handle.reason, handle.reason
    run_for(rig, 0.1)
    assert np.max(np.abs(robot.state().q - q0)) <= robot.tolerance, "the arm moved on a refused trajectory"


def stop_mid_move(rig: CellDrivers, robot: RobotDriver, how: str):
    """Start a fast move, call robot.<how>() half way, check the handle is STOPPED within the latency and the arm at
    rest within its stop time (latency included); the handle. The call comes, where the motion allows, while more
    than the stop time of motion is left, so an arm that does not stop would not be at rest in time."""
    traj = move_from_here(robot, 0.6, 0.9)
    late = traj.duration - robot.stop_time - robot.max_latency - 2 * robot.period
    handle = start(rig, robot, traj, min(traj.duration / 2, max(traj.duration / 4, late)))
    getattr(robot, how)()
    latency = wait(rig, lambda: handle.status() is not MotionStatus.RUNNING, robot.max_latency,
                   f"the motion's handle over after {how}()")
    assert handle.status() is MotionStatus.STOPPED, (handle.status(), handle.reason)
    took = latency + standstill_time(rig, robot, max(0.0, robot.stop_time - latency), f"{how}() (stop_time)")
    figure(rig, f"{how}(): handle STOPPED", latency, robot.max_latency)
    figure(rig, f"{how}(): standstill", took, robot.stop_time)
    return handle


def assert_refuses_commands(rig: CellDrivers, robot: RobotDriver, words: str = "") -> None:
    refused = robot.execute(move_from_here(robot, 0.05, 0.5))
    wait(rig, lambda: refused.status() in TERMINAL, robot.max_latency + robot.period,
         "a command given while the driver must refuse commands ended FAILED")
    assert refused.status() is MotionStatus.FAILED and words in refused.reason, (refused.status(), refused.reason)


def assert_moves_again(rig: CellDrivers, robot: RobotDriver) -> None:
    handle = robot.execute(move_from_here(robot, 0.05, 0.5))
    wait(rig, lambda: handle.status() in TERMINAL, 5.0, "a small motion (0.05 rad) over")
    assert handle.status() is MotionStatus.DONE, handle.reason


# ---------------------------------------------------------------------------------------------- the robot
def test_robot_declares_its_contract(robot):
    assert isinstance(robot, RobotDriver), "the driver lacks members of cellctl.drivers.base.RobotDriver"
    n = len(robot.state().q)
    lim = robot.limits
    assert lim.lower.shape == lim.upper.shape == lim.velocity.shape == (n,)
    assert np.all(lim.lower < lim.upper) and np.all(lim.velocity > 0)
    assert 0 < robot.period <= 0.1 and 0 < robot.max_latency <= 1.0 and 0 < robot.stop_time <= 5.0
    assert 0 < robot.tolerance < 0.1


def test_robot_reports_its_state(robot, rig):
    s0 = robot.state()
    assert isinstance(s0, RobotState)
    assert s0.connected and not s0.fault and not s0.estopped
    assert s0.q_ref is not None and s0.q_ref.shape == s0.q.shape, "state().q_ref (the commanded position) is required"
    assert np.all(np.isfinite(s0.q)) and np.all(np.isfinite(s0.qd))
    assert np.all(s0.q >= robot.limits.lower - robot.tolerance) and np.all(s0.q <= robot.limits.upper + robot.tolerance)
    assert np.all(np.abs(s0.qd) < STILL), "an idle arm reports motion"
    run_for(rig, 5 * robot.period)
    s1 = robot.state()
    assert s1.t > s0.t, "the state's time does not advance"
    assert np.max(np.abs(s1.q - s0.q)) <= robot.tolerance, "an idle arm drifts"


def test_robot_executes_within_its_tolerance(robot, rig):
    traj = move_from_here(robot, 0.3, 0.8)
    handle = robot.execute(traj)
    t0, worst_follow, worst_path = rig.clock.now(), 0.0, 0.0
    lag = np.max(robot.limits.velocity) * 0.8 * (robot.max_latency + robot.period)  # how far the arm moves in a latency

    def check():
        nonlocal worst_follow, worst_path
        s = robot.state()
        worst_follow = max(worst_follow, float(np.max(np.abs(s.q - s.q_ref))))
        if handle.status() is MotionStatus.RUNNING:
            expected, _ = traj.sample(rig.clock.now() - t0)
            worst_path = max(worst_path, float(np.max(np.abs(s.q - expected))))

    def over():
        check()
        return handle.status() in TERMINAL

    took = wait(rig, over, traj.duration + robot.max_latency + SETTLE, "the motion's handle DONE (or over)")
    assert handle.status() is MotionStatus.DONE, handle.reason
    assert worst_follow <= robot.tolerance, f"following error {worst_follow:.4f} rad over the tolerance {robot.tolerance}"
    assert worst_path <= robot.tolerance + lag, f"the arm left the trajectory by {worst_path:.4f} rad"
    assert np.max(np.abs(robot.state().q - traj.end)) <= robot.tolerance
    assert took >= traj.duration - robot.period, "DONE before the trajectory's time had passed"
    figure(rig, "DONE after the trajectory's end", took - traj.duration, robot.max_latency + SETTLE)


def test_robot_refuses_trajectories_beyond_its_limits(robot, rig):
    lim, q0 = robot.limits, robot.state().q
    j = int(np.argmax(np.isfinite(lim.upper)))
    beyond = q0.copy()
    beyond[j] = lim.upper[j] + 0.05
    assert_refused(rig, robot, quintic(q0, beyond, lim.velocity, robot.period, 0.5), "outside its limits")
    fast = move_from_here(robot, 0.2, 1.0)
    fast = JointTrajectory(fast.t / 3, fast.q, fast.qd * 3, fast.qdd * 9)  # three times as fast as the limit allows
    assert_refused(rig, robot, fast, "over its limit")
    elsewhere = move_from_here(robot, 0.2, 0.5)
    offset = 10 * robot.tolerance + 0.02
    elsewhere = JointTrajectory(elsewhere.t, elsewhere.q + offset, elsewhere.qd, elsewhere.qdd)
    assert_refused(rig, robot, elsewhere, "current position")
    wrong = JointTrajectory(np.array([0.0, 0.1]), np.zeros((2, len(q0) + 1)), np.zeros((2, len(q0) + 1)), np.zeros((2, len(q0) + 1)))
    with pytest.raises(DriverError):
        robot.execute(wrong)
    assert_moves_again(rig, robot)  # and it still takes a good one


def test_robot_stops_within_its_stop_time(robot, rig):
    stop_mid_move(rig, robot, "stop")
    q = robot.state().q
    run_for(rig, 0.2)
    assert np.max(np.abs(robot.state().q - q)) <= robot.tolerance, "a stopped arm did not stay where it stopped"


def test_robot_estop_freezes_refuses_and_resets(robot, rig):
    handle = stop_mid_move(rig, robot, "estop")
    assert "e-stop" in handle.reason and robot.state().estopped
    assert_refuses_commands(rig, robot, "e-stop")
    run_for(rig, 1.0)
    assert robot.state().estopped, "the e-stop cleared itself: it must hold until reset()"
    assert_refuses_commands(rig, robot, "e-stop")
    robot.reset()
    wait(rig, lambda: not robot.state().estopped, robot.max_latency + robot.period, "state().estopped False after reset()")
    assert_moves_again(rig, robot)


def test_robot_feed_hold_stops_on_the_path_and_resumes(robot, rig):
    traj = move_from_here(robot, 0.6, 0.9)
    handle = start(rig, robot, traj, traj.duration / 3)
    robot.hold()
    took = standstill_time(rig, robot, 2.0, "hold()")
    figure(rig, "hold(): standstill", took, 2.0)
    run_for(rig, 0.3)
    assert handle.status() is MotionStatus.RUNNING, "a held motion must stay RUNNING"
    q = robot.state().q
    distances = np.max(np.abs(traj.q - q), axis=1)
    assert distances.min() <= robot.tolerance + 1e-6, "the arm left its path in a feed hold"
    robot.resume()
    wait(rig, lambda: handle.status() in TERMINAL, traj.duration + 2.0 + SETTLE, "the resumed motion's handle DONE")
    assert handle.status() is MotionStatus.DONE, handle.reason
    assert np.max(np.abs(robot.state().q - traj.end)) <= robot.tolerance


def test_robot_fault_is_reported_fails_the_motion_and_reset_clears_it(robot, rig):
    inject = hook(rig, "fault")
    traj = move_from_here(robot, 0.6, 0.9)
    handle = start(rig, robot, traj, traj.duration / 2)
    inject(robot, "drive 3 overcurrent (conformance test)")
    latency = wait(rig, lambda: handle.status() is not MotionStatus.RUNNING, robot.max_latency + 1.0,
                   "the running motion FAILED after the fault hook made a device fault")
    figure(rig, "fault: motion FAILED", latency, robot.max_latency)
    assert handle.status() is MotionStatus.FAILED and "overcurrent" in handle.reason, (handle.status(), handle.reason)
    assert "overcurrent" in robot.state().fault
    standstill_time(rig, robot, robot.stop_time, "a fault (stop_time)")
    assert_refuses_commands(rig, robot, "overcurrent")
    robot.reset()
    wait(rig, lambda: not robot.state().fault, 1.0, "state().fault cleared by reset() (its cause has gone)")
    assert_moves_again(rig, robot)


def test_robot_lost_connection_fails_the_motion_and_keeps_answering(robot, rig):
    cut = hook(rig, "disconnect")
    traj = move_from_here(robot, 0.6, 0.9)
    handle = start(rig, robot, traj, traj.duration / 2)
    cut(robot)

    def answered():
        try:
            return robot.state()
        except Exception as exc:  # noqa: BLE001 -- any exception breaks the contract
            pytest.fail(f"state() raised {type(exc).__name__}: {exc} after the connection was lost; it must keep "
                        "answering (connected=False, the last values, the fault)", pytrace=False)

    def over():
        answered()
        return handle.status() is not MotionStatus.RUNNING

    latency = wait(rig, over, robot.max_latency + 1.0, "the running motion FAILED after the connection was cut")
    figure(rig, "lost connection: motion FAILED", latency, robot.max_latency)
    assert handle.status() is MotionStatus.FAILED and "connection" in handle.reason, (handle.status(), handle.reason)
    s = answered()
    assert not s.connected and "connection" in s.fault
    robot.stop()
    robot.estop()
    assert_refuses_commands(rig, robot)


# ---------------------------------------------------------------------------------------------- tools
def commands(tool) -> list[tuple[str, callable]]:
    """Commands each kind of tool takes, in a sensible order, each returning a handle."""
    kind = kind_of(tool)
    if kind is GripperDriver:
        return [("close", tool.close), ("open", tool.open)]
    if kind is WeldSourceDriver:
        return [("arc_on", tool.arc_on), ("arc_off", tool.arc_off)]
    if kind is NutrunnerDriver:
        torque = min(5.0, 0.5 * tool.max_torque)
        return [("run", lambda: tool.run(torque, np.radians(3600.0), 20.0))]
    return [("close", lambda: tool.close(0.5 * tool.max_force)), ("open", tool.open)]


def at_rest(tool) -> bool:
    """The tool's process has stopped: fingers still, arc off, spindle stopped, weld current off."""
    s, kind = tool.state(), kind_of(tool)
    if kind is GripperDriver:
        return not s.moving
    if kind is WeldSourceDriver:
        return not s.arc_on
    if kind is NutrunnerDriver:
        return not s.running
    return not s.current_on


def every_tool(rig: CellDrivers) -> list:
    if not rig.tools:
        pytest.skip("this driver set has no tools")
    return list(rig.tools.values())


def test_tools_report_their_state(rig):
    for tool in every_tool(rig):
        commands(tool)  # implements one of the protocols
        s0 = tool.state()
        assert s0.connected and not s0.fault, f"{tool.name}: {s0}"
        run_for(rig, 0.05)
        assert tool.state().t > s0.t, f"{tool.name}: the state's time does not advance"


def test_tool_commands_end_done_or_failed_with_a_reason(rig):
    for tool in every_tool(rig):
        for what, command in commands(tool):
            handle = command()
            wait(rig, lambda: handle.status() in TERMINAL, TOOL_TIMEOUT, f"{tool.name}.{what}() over (DONE or FAILED)")
            status = handle.status()
            assert status in (MotionStatus.DONE, MotionStatus.FAILED), f"{tool.name}.{what}: {status} {handle.reason}"
            if status is MotionStatus.FAILED:
                assert handle.reason, f"{tool.name}.{what} FAILED without a reason"
            if kind_of(tool) is NutrunnerDriver and status is MotionStatus.DONE:
                assert tool.state().torque >= 0.99 * min(5.0, 0.5 * tool.max_torque), "DONE below the torque asked"


def test_gripper_opens_wider_than_it_closes(rig):
    for gripper in tools_of(rig, GripperDriver):
        closing = gripper.close()
        wait(rig, lambda: closing.status() in TERMINAL, TOOL_TIMEOUT)
        closed = gripper.state().opening
        opening = gripper.open()
        wait(rig, lambda: opening.status() in TERMINAL, TOOL_TIMEOUT)
        assert opening.status() is MotionStatus.DONE, opening.reason
        assert gripper.state().opening > closed
        wait(rig, lambda: not gripper.state().moving, 0.5)  # DONE may come as the fingers arrive, still settling


def test_weld_source_arc_off_puts_the_arc_out(rig):
    for weld in tools_of(rig, WeldSourceDriver):
        on = weld.arc_on()
        wait(rig, lambda: on.status() in TERMINAL, TOOL_TIMEOUT)
        off = weld.arc_off()
        wait(rig, lambda: off.status() in TERMINAL, TOOL_TIMEOUT)
        assert off.status() is MotionStatus.DONE, off.reason
        s = weld.state()
        assert not s.arc_on and not s.arc_established


def test_tool_stop_ends_a_running_command(rig):
    for tool in every_tool(rig):
        what, command = commands(tool)[0]
        handle = command()
        if handle.status() is not MotionStatus.RUNNING:
            continue  # over at once (a refused or instant command): nothing to stop
        tool.stop()
        latency = wait(rig, lambda: handle.status() in TERMINAL, 1.0, f"{tool.name}.{what}() over after stop()")
        figure(rig, f"{tool.name}.stop(): command over", latency, 1.0)
        assert handle.status() in (MotionStatus.STOPPED, MotionStatus.DONE, MotionStatus.FAILED)
        wait(rig, lambda: at_rest(tool), TOOL_STOP,
             lambda: f"{tool.name}: the process stopped after stop() (state: {tool.state()})")


def test_tool_fault_fails_the_command_and_reset_clears_it(rig):
    inject = hook(rig, "fault")
    for tool in every_tool(rig):
        what, command = commands(tool)[0]
        handle = command()
        inject(tool, "device alarm (conformance test)")
        latency = wait(rig, lambda: bool(tool.state().fault) and handle.status() in TERMINAL, TOOL_TIMEOUT,
                       f"{tool.name}: the fault in state().fault and {what}() over after the fault hook")
        figure(rig, f"{tool.name}: fault seen", latency, TOOL_TIMEOUT)
        if handle.status() is not MotionStatus.DONE:  # a command already done when the fault came stays done
            assert handle.status() is MotionStatus.FAILED and handle.reason, (tool.name, handle.status(), handle.reason)
        assert tool.state().fault
        refused = command()
        wait(rig, lambda: refused.status() in TERMINAL, TOOL_TIMEOUT)
        assert refused.status() is MotionStatus.FAILED and refused.reason, f"{tool.name}.{what} ran while faulted"
        tool.reset()
        wait(rig, lambda: not tool.state().fault, TOOL_TIMEOUT, f"{tool.name}: state().fault cleared by reset()")
        tool.stop()


def test_tool_lost_connection_fails_the_command_and_keeps_answering(rig):
    cut = hook(rig, "disconnect")
    tools = every_tool(rig)
    handles = [(tool, commands(tool)[0][1]()) for tool in tools]
    for tool in tools:
        cut(tool)
    for tool, handle in handles:
        latency = wait(rig, lambda: not tool.state().connected, TOOL_TIMEOUT,
                       f"{tool.name}: state().connected False after the connection was cut")
        figure(rig, f"{tool.name}: lost connection seen", latency, TOOL_TIMEOUT)
        if handle.status() is MotionStatus.RUNNING:
            wait(rig, lambda: handle.status() in TERMINAL, TOOL_TIMEOUT)
        if handle.status() is not MotionStatus.DONE:
            assert handle.status() is MotionStatus.FAILED and "connection" in handle.reason, (tool.name, handle.reason)
        s = tool.state()
        assert not s.connected and "connection" in s.fault
        tool.stop()
        refused = commands(tool)[0][1]()
        wait(rig, lambda: refused.status() in TERMINAL, TOOL_TIMEOUT)
        assert refused.status() is MotionStatus.FAILED
