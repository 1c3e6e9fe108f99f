"""IK benchmark (TRAC-IK protocol): 10,000 random reachable poses per arm in urdf/robots/, from random joint
configurations, every solve seeded from mid-range. Prints success rate, median and p99 microseconds and worst
pose error for cellctl's Arm.ik (speed mode, and nearest-the-seed mode) and for raw roboticstoolbox ik_LM with
its defaults, in the same run; the last line is one JSON object.

    python benchmarks/ik.py [--n 10000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from cellctl.kinematics.arm import Arm

ROOT = Path(__file__).resolve().parents[1]


def pose_error(arm: Arm, q: np.ndarray, T: np.ndarray) -> float:
    """Largest element-wise difference between fk(q) and T (position in m, rotation matrix entries)."""
    return float(np.max(np.abs(arm.ets.fkine(q).A - T)))


def run(arm: Arm, targets: list[np.ndarray], solve) -> dict:
    times, errors, ok = [], [], 0
    for T in targets:
        t0 = time.perf_counter()
        q = solve(T)
        times.append(time.perf_counter() - t0)
        if q is not None and arm.within_limits(q):
            ok += 1
            errors.append(pose_error(arm, q, T))
    us = np.array(times) * 1e6
    return {"success": ok / len(targets), "median_us": float(np.median(us)), "p99_us": float(np.percentile(us, 99)),
            "max_error": float(max(errors)) if errors else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    figures = {}
    for urdf in sorted((ROOT / "urdf" / "robots").glob("*.urdf")):
        arm = Arm(urdf)
        rng = np.random.default_rng(args.seed)
        qs = rng.uniform(arm.limits.lower, arm.limits.upper, size=(args.n, arm.n))
        targets = [arm.ets.fkine(q).A for q in qs]  # flange poses in the base frame: reachable by construction
        mid = arm.mid
        restarts = np.random.default_rng(args.seed + 1)

        def ours(T, nearest):
            res = arm.ik_base(T, mid, rng=restarts, nearest=nearest)
            return res.q if res.success else None

        def raw(T):
            sol = arm.ets.ik_LM(T, q0=mid, joint_limits=True)
            return np.asarray(sol.q) if sol.success else None

        rows = {"cellctl_speed": run(arm, targets, lambda T: ours(T, False)),
                "cellctl_nearest": run(arm, targets, lambda T: ours(T, True)),
                "rtb_ik_LM": run(arm, targets, raw)}
        print(f"{urdf.name}: {args.n} random reachable poses, seeded from mid-range")
        for name, r in rows.items():
            err = f"{r['max_error']:.1e}" if r["max_error"] is not None else "-"
            print(f"  {name:16s} success {r['success'] * 100:7.3f} %   median {r['median_us']:7.1f} us   "
                  f"p99 {r['p99_us']:7.1f} us   worst pose error {err}")
        figures[urdf.stem] = rows
    goal = all(r["cellctl_speed"]["success"] >= 0.999 and r["cellctl_speed"]["median_us"] <= 150 for r in figures.values())
    print(f"goal (success >= 99.9 % at median <= 150 us): {'met' if goal else 'NOT met'}")
    print(json.dumps({"benchmark": "ik", "n": args.n, "seed": args.seed, "arms": figures, "goal_met": goal}))


if __name__ == "__main__":
    main()
