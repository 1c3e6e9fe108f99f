"""Planning benchmark: random collision-free start/goal pairs for every robot of the bundled cells, planned in
the cell's planning scene the way the controllers plan a PTP move (straight if clear, else OMPL RRTConnect and
shortcutting, wide-berth tier first, fine tier second). Prints success rate, median and p95 planning time,
path length before and after simplification, and the share of queries that needed OMPL; last line one JSON.

    python benchmarks/plan.py [--pairs 200] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from cellctl.control.machine import PLAN_TIERS, PLAN_TIMEOUT
from cellctl.kinematics.occupancy import Occupancy
from cellctl.model.cell import load_cell
from cellctl.motion.plan import motion_step, plan_path, segment_free
from cellctl.twin.scene import PlanningScene

ROOT = Path(__file__).resolve().parents[1]
CELLS = ["sim/pick_place_cell.yaml", "sim/weld_station_cell.yaml", "tests/good/cells/screen_cell.yaml"]


def query(q0, q1, scene, robot, parts, occ, arm, seed) -> dict:
    """One PTP query as TaskMachine._clear_path makes it; returns what happened and how long it took."""
    levers, lim = occ.levers(), arm.limits
    t0 = time.perf_counter()
    out = {"ompl": False, "success": False, "raw": 0.0, "length": 0.0}
    for clearance, thin in PLAN_TIERS:
        valid = lambda q, m=clearance + thin / 2: scene.collision(robot, q, parts, None, margin=m) is None
        if not valid(q0) or not valid(q1):
            continue
        if segment_free(q0, q1, valid, motion_step(levers, thin)):
            d = float(np.linalg.norm(q1 - q0))
            out.update(success=True, raw=d, length=d)
            break
        out["ompl"] = True
        res = plan_path(q0, q1, valid, lim.lower, lim.upper, levers, seed=seed, timeout=PLAN_TIMEOUT, thin=thin)
        if res.success:
            out.update(success=True, raw=res.raw_length, length=res.length)
            break
    out["time"] = time.perf_counter() - t0
    return out


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
                # (the pre-grasp, approach and home poses a program plans between)
                ends = []
                while len(ends) < 2:
                    q = rng.uniform(np.maximum(arm.limits.lower, -np.pi), np.minimum(arm.limits.upper, np.pi))
                    if scene.collision(robot, q, parts, None, margin=PLAN_TIERS[0][0] + PLAN_TIERS[0][1] / 2) is None:
                        ends.append(q)
                cell_rows.append(query(ends[0], ends[1], scene, robot, parts, occ, arm, seed=1 + k))
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
