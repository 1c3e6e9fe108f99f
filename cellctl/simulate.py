"""Run a program in the twin: build the world and sim drivers, tick the orchestrator with the physics."""

from __future__ import annotations

from typing import Callable

import numpy as np

from cellctl.control.context import PartBook, RobotContext
from cellctl.control.orchestrator import Orchestrator
from cellctl.control.preflight import check_interlocks
from cellctl.drivers.sim import SimGripperDriver, SimRobotDriver, WorldClock
from cellctl.kinematics.occupancy import Occupancy
from cellctl.model.program import Program
from cellctl.twin.clearance import watch_clearance
from cellctl.twin.trace import SimResult
from cellctl.twin.scene import PlanningScene
from cellctl.twin.world import World

SETTLE_AFTER = 0.5  # s simulated after the last task, so parts come to rest before they are judged
TIME_LIMIT = 3600.0  # s of simulated time: a cycle still running then is stopped and reported


def build_contexts(program: Program, world: World, clock, seed: int, scene: PlanningScene | None = None) -> dict[str, RobotContext]:
    """One RobotContext per robot: sim drivers for its arm and tool, its kinematics, its own random stream."""
    cell = program.cell
    # each robot draws from its own stream, so adding a task for one robot never changes another's motions
    streams = dict(zip(cell.robots, np.random.SeedSequence(seed).spawn(len(cell.robots))))
    book = PartBook({name: part.T_world_part for name, part in cell.parts.items()},
                    {name: part.urdf for name, part in cell.parts.items()})
    book.on = dict(world.trace.resting)  # what the cell lays on which part
    contexts = {}
    for name, robot in cell.robots.items():
        kind = robot.tool.kind if robot.tool else None
        arm = world.robots[name].arm
        ctx = RobotContext(name, arm, SimRobotDriver(world, name), SimGripperDriver(world, name) if kind == "gripper" else None,
                           clock, np.random.default_rng(streams[name]), book,
                           occupancy=Occupancy(arm, robot.tool.urdf if robot.tool else None), scene=scene)
        if kind == "weld_torch":
            from cellctl.drivers.sim_tools import SimWeldSource

            ctx.weld = SimWeldSource(world, name)
        elif kind == "nutrunner":
            from cellctl.drivers.sim_tools import SimNutrunner

            ctx.nutrunner = SimNutrunner(world, name)
        elif kind == "spot_gun":
            from cellctl.drivers.sim_tools import SimSpotGun

            ctx.spot = SimSpotGun(world, name)
        contexts[name] = ctx
    return contexts


def simulate(program: Program, seed: int = 0, gui: bool = False, on_tick: Callable | None = None) -> SimResult:
    """Run the whole program in a fresh twin and return what happened. on_tick(world, orchestrator) is called
    after every step: a viewer, or an operator pressing pause or e-stop."""
    world = World(program.cell, gui=gui)
    watch_clearance(world)
    scene = PlanningScene(program.cell)
    try:
        clock = WorldClock(world)
        contexts = build_contexts(program, world, clock, seed, scene)
        orch = Orchestrator(program, contexts, clock, preflight=check_interlocks)
        while not orch.finished and world.t < TIME_LIMIT:
            orch.tick()
            world.step()
            if on_tick is not None:
                on_tick(world, orch)
        if not orch.finished:
            orch.time_out(f"the simulation stopped at its limit of {TIME_LIMIT:.0f} s of cell time")
        end = world.t
        while world.t < end + SETTLE_AFTER:
            world.step()
        return SimResult(program, seed, world.trace, list(orch.tasks.values()), orch.events, orch.failure,
                         orch.cycle_time, orch.timed_out, orch.interlock_proof, orch.crossings)
    finally:
        scene.close()
        world.close()
