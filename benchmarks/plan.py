"""Planning benchmark: random collision-free start/goal pairs for every robot of the bundled cells, planned in
the cell's planning scene the way the controllers plan a PTP move (straight if clear, else OMPL RRTConnect and
shortcutting with the scene's distances as probe, wide-berth tier first, fine tier second). Prints success rate,
median and p95 planning time, path length before and after simplification, and the share of queries that
needed OMPL; last line one JSON.

Joint 2 (shoulder lift) is drawn within [-3pi/2, pi/2) rather than [-pi, pi): every bundled robot is a six-axis
arm standing on the floor, and at both ends of that turn its upper arm points straight down into the floor,
which no path can pass, so shoulder angles a turn apart are different poses to a planner. Drawn within
[-pi, pi), about 6 % of pairs had one end lying back with q2 in (pi/2, pi] (reachable only from the upright at
3pi/2) and the other in the main turn: no path joins them, and every one failed. The poses drawn are the same
(one full turn of every joint, the same rejection near the cell); only the shoulder's turn is chosen so that
every pair can be joined. With the default seed one pose, drawn in every cell, is a pocket no path leaves (the
arm stretched under the table between its legs): those three pairs fail.

    python benchmarks/plan.py [--pairs 200] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from cellctl.kinematics.occupancy import Occupancy
from cellctl.model.cell import load_cell
from cellctl.motion.plan import PLAN_TIERS, clear_path
from cellctl.twin.scene import PlanningScene

ROOT = Path(__file__).resolve().parents[1]
CELLS = ["sim/pick_place_cell.yaml", "sim/weld_station_cell.yaml", "tests/good/cells/screen_cell.yaml"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=200, help="start/goal pairs per cell")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rows, per_cell = [], {}
    for cell_file in CELLS:
        cell = load_cell(ROOT / cell_file)
        scene = PlanningScene(cell)
        parts = {n: p.T_world_part for n, p in cell.parts.items()}
        rng = np.random.default_rng(args.seed)
        cell_rows = []
        try:
            robots = list(cell.robots)
            for k in range(args.pairs):
                robot = robots[k % len(robots)]
                arm = scene.world.robots[robot].arm
                occ = Occupancy(arm, cell.robots[robot].tool.urdf if cell.robots[robot].tool else None)
                # random configurations within one turn of every joint that keep the wide berth from the cell
                # (the pre-grasp, approach and home poses a program plans between); the shoulder's turn as above
                ends = []
                while len(ends) < 2:
                    q = rng.uniform(np.maximum(arm.limits.lower, -np.pi), np.minimum(arm.limits.upper, np.pi))
                    q[1] = (q[1] + 1.5 * np.pi) % (2 * np.pi) - 1.5 * np.pi
                    if scene.collision(robot, q, parts, None, margin=PLAN_TIERS[0][0] + PLAN_TIERS[0][1] / 2) is None:
                        ends.append(q)
                t0 = time.perf_counter()
                res = clear_path(ends[0], ends[1], lambda q, m: scene.collision(robot, q, parts, None, margin=m),
                                 arm.limits.lower, arm.limits.upper, occ.levers(), seed=1 + k,
                                 probe=scene.probe(robot, parts, None))
                cell_rows.append({"time": time.perf_counter() - t0, "success": res.success, "ompl": res.planned,
                                  "raw": res.raw_length, "length": res.length})
        finally:
            scene.close()
        rows += cell_rows
        per_cell[cell_file] = summarise(cell_rows)
        s = per_cell[cell_file]
        print(f"{cell_file}: {len(cell_rows)} pairs  success {s['success'] * 100:.1f} %  median {s['median_ms']:.1f} ms  "
              f"p95 {s['p95_ms']:.1f} ms  needed OMPL {s['ompl_share'] * 100:.0f} %  (OMPL queries: median "
              f"{s['ompl_median_ms']:.0f} ms, length {s['ompl_raw_rad']:.2f} -> {s['ompl_length_rad']:.2f} rad)")
    total = summarise(rows)
    goal = total["success"] >= 0.99 and total["median_ms"] <= 100
    print(f"all: {len(rows)} pairs  success {total['success'] * 100:.1f} %  median {total['median_ms']:.1f} ms  "
          f"p95 {total['p95_ms']:.1f} ms; goal (>= 99 % at median <= 100 ms): {'met' if goal else 'NOT met'}")
    print(json.dumps({"benchmark": "plan", "pairs_per_cell": args.pairs, "seed": args.seed, "cells": per_cell,
                      "all": total, "goal_met": goal}))


def summarise(rows: list[dict]) -> dict:
    ms = np.array([r["time"] for r in rows]) * 1000
    ompl = [r for r in rows if r["ompl"] and r["success"]]
    om = np.array([r["time"] for r in rows if r["ompl"]]) * 1000
    return {"pairs": len(rows), "success": float(np.mean([r["success"] for r in rows])),
            "median_ms": float(np.median(ms)), "p95_ms": float(np.percentile(ms, 95)),
            "ompl_share": float(np.mean([r["ompl"] for r in rows])),
            "ompl_median_ms": float(np.median(om)) if om.size else 0.0,
            "ompl_raw_rad": float(np.median([r["raw"] for r in ompl])) if ompl else 0.0,
            "ompl_length_rad": float(np.median([r["length"] for r in ompl])) if ompl else 0.0}


if __name__ == "__main__":
    main()
