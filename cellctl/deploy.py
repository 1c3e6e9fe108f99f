"""`cellctl deploy`: run a validated program on real drivers.

The gate: a program runs only with a passing validation report whose fingerprint (cellctl.fingerprint: the program,
cell and URDF contents, and cellctl's source) matches the files now, with every robot standing at the home the
validated cycle started from. The run plans with the report's seed and the same planning scene, so it plans the
motions the twin proved. The same orchestrator and task machines as in the twin then drive the factory's drivers
on their clock, and a watchdog reads every driver each tick: a following error over a robot's tolerance, a fault or
a lost connection e-stops that robot and stops the cell safely (the other robots hold on their paths, every tool
stops), with the reason.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from cellctl.control.machine import Failure
from cellctl.drivers.base import GripperDriver, NutrunnerDriver, SpotGunDriver, WeldSourceDriver
from cellctl.drivers.factory import CellDrivers, build_drivers
from cellctl.errors import CellctlError, DriverError
from cellctl.fingerprint import differences, fingerprint

log = logging.getLogger(__name__)

TIME_LIMIT = 3600.0  # s of the drivers' clock a cycle may take
SETTLE = 0.5  # s the drivers keep running after the cell stopped, beyond the robots' stop times
STILL = 0.01  # rad/s: every joint slower than this is at standstill
STANDSTILL_WAIT = 2.0  # s more deploy waits for a robot to come to a standstill before it says it did not
TOOL_FIELDS = {"gripper": ("gripper", GripperDriver), "weld_torch": ("weld", WeldSourceDriver),
               "nutrunner": ("nutrunner", NutrunnerDriver), "spot_gun": ("spot", SpotGunDriver)}


class Refused(CellctlError):
    """The deployment gate said no: no passing validation of exactly these files, or the cell is not as validated."""


@dataclass
class DeployResult:
    program: str
    passed: bool  # every task done, nothing stopped the cell
    reason: str  # why the cell stopped ("" when it finished)
    cycle_time: float
    tasks: list[dict]
    events: list[dict] = field(default_factory=list)
    moving: dict[str, float] = field(default_factory=dict)  # robot -> rad/s it still turned at when deploy gave up


# ------------------------------------------------------------------------------------------------ the gate
def check_gate(program, report_path: Path) -> dict:
    """The validation report for exactly this program, cell and URDFs, if it passed; Refused saying why otherwise."""
    again = f"run `cellctl validate {program.shown} --report {report_path}` first"
    if not report_path.is_file():
        raise Refused(f"no validation report at {report_path}: {again}")
    try:
        report = json.loads(report_path.read_text())
    except (OSError, ValueError) as exc:
        raise Refused(f"{report_path} is not a readable validation report ({exc}): {again}") from None
    if not isinstance(report, dict) or "passed" not in report:
        raise Refused(f"{report_path} is not a validation report (no 'passed'): {again}")
    if report.get("program") != program.name:
        raise Refused(f"{report_path} is the report of program {report.get('program')!r}, not of {program.name!r} "
                      f"({program.shown}): {again}")
    if report["passed"] is not True:
        failed = [c.get("name", "?") for c in report.get("checks", []) if not c.get("passed", True)]
        raise Refused(f"{report_path} says the program failed validation ({', '.join(failed) or 'see the report'}): "
                      "fix it and validate again; a program that failed in the twin never runs on hardware")
    recorded = report.get("fingerprint")
    if not isinstance(recorded, dict) or "sha256" not in recorded:
        raise Refused(f"{report_path} has no fingerprint of what it validated (an older cellctl wrote it): {again}")
    changes = differences(recorded, fingerprint(program))
    if changes:
        raise Refused(f"{report_path} validated other files than these: " + "; ".join(changes) + f"; {again}")
    if not isinstance(report.get("seed"), int):
        raise Refused(f"{report_path} has no seed: {again}")
    return report


def check_drivers(program, drivers: CellDrivers) -> None:
    """Every robot of the cell has a robot driver, and its tool a driver of the tool's kind (DriverError if not)."""
    cell = program.cell
    for name, robot in cell.robots.items():
        if name not in drivers.robots:
            raise DriverError(f"the driver factory gave no driver for robot '{name}' of {cell.shown}; it gave: "
                              f"{', '.join(drivers.robots) or 'none'}")
        if robot.tool is not None:
            attr, protocol = TOOL_FIELDS[robot.tool.kind]
            tool = drivers.tools.get(name)
            if tool is None or not isinstance(tool, protocol):
                raise DriverError(f"robot '{name}' carries a {robot.tool.kind}; the driver factory gave "
                                  f"{type(tool).__name__ if tool is not None else 'no tool driver'} for it, not a "
                                  f"{protocol.__name__}")
        if drivers.robots[name].state().q_ref is None:
            raise DriverError(f"the driver of robot '{name}' reports no commanded position (RobotState.q_ref): deploy "
                              "needs it to watch the following error")


def check_home(program, drivers: CellDrivers) -> None:
    """The validated cycle starts with every robot at its home and every tool idle and empty: refuse otherwise
    (a part left in the gripper, a spindle still turning or a latched fault would fail the cycle seconds in)."""
    for name, robot in program.cell.robots.items():
        driver = drivers.robots[name]
        s = driver.state()
        if not s.connected or s.fault or s.estopped:
            why = "is not connected" if not s.connected else f"reports a fault ({s.fault})" if s.fault else "is e-stopped"
            raise Refused(f"robot '{name}' {why}: clear it and reset the driver before deploying")
        off = np.abs(s.q - robot.home)
        if off.max() > driver.tolerance:
            j = int(off.argmax())
            raise Refused(f"robot '{name}' stands {np.degrees(off[j]):.2f} deg from its home on joint {j + 1} (at most "
                          f"{np.degrees(driver.tolerance):.2f} deg): the validated cycle starts at home; jog it home first")
    for name, tool in drivers.tools.items():
        s = tool.state()
        busy = ("is not connected" if not s.connected else f"reports a fault ({s.fault})" if s.fault
                else "holds a part: the validated cycle starts with an empty gripper; take the part out" if getattr(s, "holding", False)
                else "has its arc on" if getattr(s, "arc_on", False)
                else "is running its spindle" if getattr(s, "running", False)
                else "has its weld current on" if getattr(s, "current_on", False) else "")
        if busy:
            raise Refused(f"the tool of robot '{name}' {busy}" + ("" if "take the part" in busy else
                          "; the validated cycle starts with every tool idle: clear it and reset the driver first"))


# ------------------------------------------------------------------------------------------------ the run
class Watchdog:
    """Reads every driver once a tick: the first following error over a robot's tolerance, fault or lost connection
    is (robot or None, Failure)."""

    def __init__(self, drivers: CellDrivers):
        self.drivers = drivers
        self.worst: dict[str, float] = {name: 0.0 for name in drivers.robots}  # rad, largest following error seen

    def check(self) -> tuple[str | None, Failure] | None:
        for name, robot in self.drivers.robots.items():
            s = robot.state()
            if s.fault or not s.connected:
                return name, Failure("driver", f"robot '{name}': {s.fault or 'connection lost'}")
            error = np.abs(s.q - s.q_ref)
            self.worst[name] = max(self.worst[name], float(error.max()))
            if error.max() > robot.tolerance:
                j = int(error.argmax())
                return name, Failure("tracking", f"robot '{name}': following error {np.degrees(error[j]):.3f} deg on joint "
                                                 f"{j + 1} at t={s.t:.2f} s, over its tolerance of "
                                                 f"{np.degrees(robot.tolerance):.3f} deg (blocked, overloaded or hit?)")
        for name, tool in self.drivers.tools.items():
            s = tool.state()
            if s.fault or not s.connected:
                return name, Failure("driver", f"the tool of robot '{name}' ({tool.name}): {s.fault or 'connection lost'}")
        plc = self.drivers.interlock
        if plc is not None:
            plc.poll()
            if plc.trouble:
                return None, Failure("interlocks", f"the zone interlock PLC: {plc.trouble}")
        return None


def build_contexts(program, drivers: CellDrivers, seed: int, scene) -> dict:
    """A RobotContext per robot on the factory's drivers, with the kinematics, random streams, zone model and
    planning scene the validation used (so the same motions are planned)."""
    from spatialmath import SE3

    from cellctl.control.context import PartBook, RobotContext
    from cellctl.kinematics.arm import Arm
    from cellctl.kinematics.occupancy import Occupancy
    from cellctl.model.cell import FLANGE

    cell = program.cell
    streams = dict(zip(cell.robots, np.random.SeedSequence(seed).spawn(len(cell.robots))))  # as the validation did
    book = PartBook({n: p.T_world_part for n, p in cell.parts.items()}, {n: p.urdf for n, p in cell.parts.items()})
    if scene is not None:
        book.on = dict(scene.world.trace.resting)  # what the cell lays on which part, as its planning twin lays it out
    contexts = {}
    for name, robot in cell.robots.items():
        tool = robot.tool
        arm = Arm(robot.urdf, robot.T_world_base, tool.T_flange_tcp if tool else SE3(), FLANGE, robot.max_accel)
        ctx = RobotContext(name, arm, drivers.robots[name], None, drivers.clock, np.random.default_rng(streams[name]), book,
                           occupancy=Occupancy(arm, tool.urdf if tool else None), scene=scene)
        if tool is not None:
            setattr(ctx, TOOL_FIELDS[tool.kind][0], drivers.tools[name])
        contexts[name] = ctx
    return contexts


def _moving(drivers: CellDrivers) -> dict[str, float]:
    """The robots not at standstill, read from their drivers (a robot that cannot say is not still), with the fastest
    joint speed (rad/s; inf when the state cannot be read)."""
    out = {}
    for name, robot in drivers.robots.items():
        s = robot.state()
        speed = float(np.abs(s.qd).max()) if s.connected and not s.fault else float("inf")
        if speed > STILL:
            out[name] = speed
    return out


def stop_cell(orch, robot: str | None, failure: Failure) -> None:
    """E-stop the robot in trouble; the orchestrator then stops the cell: the others hold on their paths, every tool
    stops, running tasks end 'stopped'."""
    if robot in orch.controllers:
        orch.controllers[robot].estop()
    task = orch.active[robot].task.id if robot in orch.active else None
    orch.failure = (task, failure)
    if task is not None:
        orch.tasks[task].update(status="failed", end_s=orch.clock.now(), reason=f"{failure.check}: {failure.message}")
        del orch.active[robot]
    orch.fail()


def deploy(program, report_path: Path, driver: str, options: dict[str, str] | None = None,
           on_tick: Callable | None = None, time_limit: float = TIME_LIMIT, record_to: Path | None = None) -> DeployResult:
    """Run `program` on the drivers of the factory `driver` if the gate lets it (Refused otherwise); `record_to`
    records every command and state to a file (cellctl.drivers.record)."""
    from cellctl.control.orchestrator import Orchestrator
    from cellctl.control.preflight import check_interlocks
    from cellctl.twin.scene import PlanningScene

    report = check_gate(program, Path(report_path))
    drivers = build_drivers(driver, program.cell, options)
    if record_to is not None:
        from cellctl.drivers.record import record

        drivers = record(drivers, record_to)
    scene = None
    try:
        check_drivers(program, drivers)
        check_home(program, drivers)
        scene = PlanningScene(program.cell)
        contexts = build_contexts(program, drivers, report["seed"], scene)
        orch = Orchestrator(program, contexts, drivers.clock, preflight=check_interlocks)
        if drivers.interlock is not None and orch.zones is not None:
            from cellctl.drivers.modbus import PlcZoneBook

            orch.zones = PlcZoneBook(orch.zones, drivers.interlock)
            for ctx in contexts.values():
                ctx.zones = orch.zones if ctx.zones is not None else None
        watchdog = Watchdog(drivers)
        start = drivers.clock.now()
        while not orch.finished and drivers.clock.now() - start < time_limit:
            # the drivers are read before the task machines are ticked: a fault or lost connection e-stops its robot as
            # what it is, before a task machine sees its motion fail and reports the consequence
            problem = watchdog.check()
            if problem is not None:
                log.warning("stopping the cell: %s", problem[1].message)
                stop_cell(orch, *problem)
            else:
                orch.tick()
            drivers.advance()
            if on_tick is not None:
                on_tick(drivers, orch)
        if not orch.finished:
            orch.time_out(f"the cycle was still running after {time_limit:.0f} s")
        settle = max(d.stop_time for d in drivers.robots.values()) + SETTLE
        end = drivers.clock.now()
        while drivers.clock.now() - end < settle:
            drivers.advance()
        moving = _moving(drivers)
        while moving and drivers.clock.now() - end < settle + STANDSTILL_WAIT:
            drivers.advance()
            moving = _moving(drivers)
        for robot in drivers.robots.values():
            robot.stop()  # end held trajectories: the cell stays where it stopped
        failure = orch.failure[1] if orch.failure else None
        reason = f"{failure.check}: {failure.message}" if failure else ""
        return DeployResult(program.name, failure is None and not orch.timed_out and not moving, reason, orch.cycle_time,
                            list(orch.tasks.values()), orch.events, moving)
    finally:
        if scene is not None:
            scene.close()
        drivers.close()
