"""Run a program in the twin: build the world and sim drivers, tick the orchestrator with the physics."""

from __future__ import annotations

import numpy as np

from cellctl.control.context import PartBook, RobotContext
from cellctl.control.orchestrator import Orchestrator
from cellctl.drivers.sim import SimGripperDriver, SimRobotDriver, WorldClock
from cellctl.model.program import Program
from cellctl.twin.trace import SimResult
from cellctl.twin.world import World

SETTLE_AFTER = 0.5  # s simulated after the last task, so parts come to rest before they are judged
TIME_LIMIT = 3600.0  # s of simulated time: a cycle still running then is stopped and reported


def simulate(program: Program, seed: int = 0, gui: bool = False, on_tick=None) -> SimResult:
    """Run the whole program in a fresh twin and return what happened."""
    world = World(program.cell, gui=gui)
    try:
        clock = WorldClock(world)
        # each robot draws from its own stream, so adding a task for one robot never changes another's motions
        streams = dict(zip(program.cell.robots, np.random.SeedSequence(seed).spawn(len(program.cell.robots))))
        book = PartBook({name: part.T_world_part for name, part in program.cell.parts.items()})
        contexts = {}
        for name, robot in program.cell.robots.items():
            gripper = SimGripperDriver(world, name) if robot.tool and robot.tool.kind == "gripper" else None
            contexts[name] = RobotContext(name, world.robots[name].arm, SimRobotDriver(world, name), gripper, clock,
                                          np.random.default_rng(streams[name]), book)
        orch = Orchestrator(program, contexts, clock)
        while not orch.finished and world.t < TIME_LIMIT:
            orch.tick()
            world.step()
            if on_tick is not None:
                on_tick(world)
        if not orch.finished:
            orch.time_out(f"the simulation stopped at its limit of {TIME_LIMIT:.0f} s of cell time")
        end = world.t
        while world.t < end + SETTLE_AFTER:
            world.step()
        return SimResult(program, seed, world.trace, list(orch.tasks.values()), orch.events, orch.failure,
                         orch.cycle_time, orch.timed_out)
    finally:
        world.close()
