"""Validation speed: for each bundled program (programs/*.yaml), the real-time factor (simulated seconds per wall
second) of the whole validation as `cellctl validate` runs it (load, plan, simulate, record, check), beside the
real-time factor of raw PyBullet stepping the same world (the cell's World, the same bodies, only
stepSimulation, as many steps) in the same run: the limit of simulating a cell this way. Also the time the
validation spent inside stepSimulation (moving arms and contacts cost more than the idle world). Each figure is the
best of --repeat runs, interleaved (the first run also loads the URDFs into the caches); last line one JSON.

    python benchmarks/validate.py [--repeat 3] [--seed 0] [programs/three_robots.yaml ...]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from cellctl.model import load_program
from cellctl.simulate import simulate
from cellctl.twin._pybullet import pb
from cellctl.twin.world import World
from cellctl.validate import build_report

ROOT = Path(__file__).resolve().parents[1]
GOAL_RATIO = 0.5  # of the raw stepping figure
GOAL_THREE = 50.0  # x real time for a three-robot cell


def validate_once(path: Path, seed: int) -> tuple[float, float, int, float, bool]:
    """Wall seconds of one whole validation and of its stepSimulation calls, the physics steps it took, their
    simulated seconds, and the verdict."""
    step, physics = pb.stepSimulation, [0.0]

    def timed_step(*args, **kwargs):
        t = time.perf_counter()
        step(*args, **kwargs)
        physics[0] += time.perf_counter() - t

    pb.stepSimulation = timed_step
    try:
        t0 = time.perf_counter()
        program = load_program(path)
        result = simulate(program, seed=seed)
        report = build_report(result)
        wall = time.perf_counter() - t0
    finally:
        pb.stepSimulation = step
    return wall, physics[0], len(result.trace.t) - 1, result.trace.t[-1], report.passed


def raw_once(path: Path, steps: int) -> float:
    """Wall seconds of `steps` bare stepSimulation calls on a fresh World of the program's cell."""
    world = World(load_program(path).cell)
    try:
        t0 = time.perf_counter()
        for _ in range(steps):
            pb.stepSimulation(physicsClientId=world.client)
        return time.perf_counter() - t0
    finally:
        world.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("programs", nargs="*", help="program files (default: programs/*.yaml)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each figure; the best is kept")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    paths = [Path(p) for p in args.programs] or sorted((ROOT / "programs").glob("*.yaml"))
    rows = {}
    for path in paths:
        walls, physics, raws = [], [], []
        for _ in range(args.repeat):
            wall, in_run, steps, sim_s, passed = validate_once(path, args.seed)
            walls.append(wall)
            physics.append(in_run)
            raws.append(raw_once(path, steps))
        program = load_program(path)
        row = {"robots": len(program.cell.robots), "passed": passed, "steps": steps, "sim_s": round(sim_s, 3),
               "wall_s": round(min(walls), 3), "rtf": round(sim_s / min(walls), 1),
               "physics_in_run_s": round(min(physics), 3), "raw_wall_s": round(min(raws), 3), "raw_rtf": round(sim_s / min(raws), 1)}
        row["ratio"] = round(row["rtf"] / row["raw_rtf"], 2)
        rows[path.name] = row
        print(f"{path.name}: {row['robots']} robots, {'PASS' if passed else 'FAIL'}, {sim_s:.1f} s simulated in "
              f"{row['wall_s']:.2f} s: {row['rtf']:.1f}x real time; raw stepping {row['raw_wall_s']:.2f} s: "
              f"{row['raw_rtf']:.1f}x; ratio {row['ratio']:.2f} (stepSimulation inside the validation {row['physics_in_run_s']:.2f} s)")
    three = [r["rtf"] for r in rows.values() if r["robots"] >= 3]
    ratio_met = all(r["ratio"] >= GOAL_RATIO for r in rows.values())
    three_met = bool(three) and min(three) >= GOAL_THREE
    print(f"goal (>= {GOAL_RATIO}x the raw figure for every program: {'met' if ratio_met else 'NOT met'}; "
          f">= {GOAL_THREE:.0f}x real time for a three-robot cell: "
          f"{'met' if three_met else 'NOT met' if three else 'no three-robot program'})")
    print(json.dumps({"benchmark": "validate", "repeat": args.repeat, "seed": args.seed, "programs": rows,
                      "goal_ratio_met": ratio_met, "goal_three_robots_met": three_met}))


if __name__ == "__main__":
    main()
