"""Benchmark: our PTP (ruckig) against roboticstoolbox's quintic jtraj under the same limits, and the
multi-waypoint retimer (toppra fly-by vs exact stop-at-corners). Run: python benchmarks/retime.py

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import numpy as np
import roboticstoolbox as rtb

from cellctl.kinematics.arm import Arm
from cellctl.motion.ptp import JERK_PER_ACCEL, ptp, ruckig_profile
from cellctl.motion.retime import BLEND_RADIUS, polyline_distance, retime_path

ROOT = Path(__file__).resolve().parents[1]
N = 500  # PTP moves per range
N_PATHS = 200  # multi-waypoint paths per range
SEED = 0
DT = 1.0 / 240.0  # s: the twin's step
GOAL = 0.8  # our PTP duration / limit-respecting jtraj duration
QUINTIC_V = 1.875  # peak |qd| of the rest-to-rest quintic = 1.875 D / T
QUINTIC_A = 10.0 / np.sqrt(3.0)  # peak |qdd| = 5.7735 D / T^2
WIDE_RADIUS = 0.2  # rad: a wider blend, to show how much the fly-by gain depends on the radius
JERK_SWEEP = [5.0, 10.0, 20.0, 30.0, 50.0, 100.0, 1e3, 1e6]  # JERK_PER_ACCEL values tried (1e6 ~ no jerk limit)


def ranges(arm: Arm) -> dict[str, tuple[str, Callable, float | None]]:
    """Where random configurations come from: name -> (description, sampler(rng, k) -> (k, n) configurations,
    hop: None for independent start and goal, else the goal is within +-hop rad of the start per joint)."""
    lo, hi = arm.limits.lower, arm.limits.upper
    wlo, whi = np.maximum(lo, -np.pi), np.minimum(hi, np.pi)

    def full(rng, k):
        return rng.uniform(lo, hi, size=(k, arm.n))

    def working(rng, k):
        return rng.uniform(wlo, whi, size=(k, arm.n))

    return {
        "limits": ("uniform within the joint limits (+-360 deg, elbow +-180 deg)", full, None),
        "working": ("uniform within one turn, +-180 deg on every joint", working, None),
        "short": ("short hops: start uniform in +-180 deg, goal within +-0.5 rad of it per joint", working, 0.5),
    }


def jtraj_time(q0: np.ndarray, q1: np.ndarray, v: np.ndarray, a: np.ndarray) -> float:
    """The shortest T for which the quintic from q0 to q1 keeps every joint within v and a."""
    D = np.abs(q1 - q0)
    return float(np.max(np.maximum(QUINTIC_V * D / v, np.sqrt(QUINTIC_A * D / a))))


def jtraj_check(q0: np.ndarray, q1: np.ndarray, T: float, v: np.ndarray, a: np.ndarray) -> tuple[float, float]:
    """Sample rtb.jtraj(q0, q1, t) over [0, T]: its largest |qd|/v and |qdd|/a over all joints."""
    tr = rtb.jtraj(q0, q1, np.linspace(0.0, T, 1001))
    return float(np.max(np.abs(tr.qd) / v)), float(np.max(np.abs(tr.qdd) / a))


def stats(x: np.ndarray) -> dict[str, float]:
    return {"median": float(np.median(x)), "mean": float(np.mean(x)), "p95": float(np.percentile(x, 95)),
            "max": float(np.max(x))}


def ptp_vs_jtraj(arm: Arm, sampler, hop: float | None, rng: np.random.Generator) -> dict:
    v, a = arm.limits.velocity, arm.max_accel
    q0s = sampler(rng, N)
    if hop is None:
        q1s = sampler(rng, N)
    else:
        q1s = np.clip(q0s + rng.uniform(-hop, hop, size=q0s.shape), arm.limits.lower, arm.limits.upper)
    ours, quint, ms, us, vr, ar, jv, ja = [], [], [], [], [], [], [], []
    for q0, q1 in zip(q0s, q1s):
        t0 = time.perf_counter()
        tr = ptp(q0, q1, v, a, DT)
        ms.append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        ruckig_profile(q0, q1, v, a)
        us.append((time.perf_counter() - t0) * 1e6)
        ours.append(tr.duration)
        vr.append(np.max(np.abs(tr.qd) / v))
        ar.append(np.max(np.abs(tr.qdd) / a))
        T = jtraj_time(q0, q1, v, a)
        quint.append(T)
        cv, ca = jtraj_check(q0, q1, T, v, a)
        jv.append(cv)
        ja.append(ca)
    ours, quint = np.array(ours), np.array(quint)
    ratio = ours / quint
    sweep = {}
    for k in JERK_SWEEP:
        d = np.array([ruckig_profile(q0, q1, v, a, k * a).duration for q0, q1 in zip(q0s, q1s)])
        r = d / quint
        sweep[k] = {"median": float(np.median(r)), "total": float(d.sum() / quint.sum()),
                    "share_met": float(np.mean(r <= GOAL))}
    return {
        "ratio": stats(ratio), "total_ratio": float(ours.sum() / quint.sum()), "share_met": float(np.mean(ratio <= GOAL)),
        "ours_s": stats(ours), "jtraj_s": stats(quint), "ptp_ms_median": float(np.median(ms)), "profile_us_median": float(np.median(us)),
        "ptp_max_v_ratio": float(max(vr)), "ptp_max_a_ratio": float(max(ar)),
        "jtraj_max_v_ratio": float(max(jv)), "jtraj_max_a_ratio": float(max(ja)),
        "jerk_sweep": sweep, "moves": len(ours),
    }


def multi_waypoint(arm: Arm, sampler, rng: np.random.Generator, m: int) -> dict:
    """m-waypoint paths: fly-by (toppra) vs exact (stop at each corner), and compute times."""
    v, a = arm.limits.velocity, arm.max_accel
    stop, fly, wide, ms_fly, ms_stop, dev, vr, ar = [], [], [], [], [], [], [], []
    for _ in range(N_PATHS):
        W = sampler(rng, m)
        t0 = time.perf_counter()
        ts = retime_path(W, v, a, DT, blend=False)
        t1 = time.perf_counter()
        tf = retime_path(W, v, a, DT, blend=True)
        t2 = time.perf_counter()
        ms_stop.append((t1 - t0) * 1e3)
        ms_fly.append((t2 - t1) * 1e3)
        tw = retime_path(W, v, a, DT, blend=True, blend_radius=WIDE_RADIUS)
        stop.append(ts.duration)
        fly.append(tf.duration)
        wide.append(tw.duration)
        dev.append(polyline_distance(tf.q, W).max())
        vr.append(max(np.max(np.abs(ts.qd) / v), np.max(np.abs(tf.qd) / v)))
        ar.append(max(np.max(np.abs(ts.qdd) / a), np.max(np.abs(tf.qdd) / a)))
    stop, fly, wide = np.array(stop), np.array(fly), np.array(wide)
    return {"blend_vs_stop": stats(fly / stop), "blend_vs_stop_total": float(fly.sum() / stop.sum()),
            "wide_vs_stop_median": float(np.median(wide / stop)),
            "blend_ms_median": float(np.median(ms_fly)), "stop_ms_median": float(np.median(ms_stop)),
            "max_deviation_rad": float(max(dev)), "max_v_ratio": float(max(vr)), "max_a_ratio": float(max(ar)),
            "stop_s_median": float(np.median(stop)), "blend_s_median": float(np.median(fly))}


def smallest_jerk_meeting(sweep: dict, key: str) -> float | None:
    ok = [k for k in JERK_SWEEP if sweep[k][key] <= GOAL]
    return min(ok) if ok else None


def main() -> None:
    arm = Arm(ROOT / "urdf/robots/arm6.urdf")
    v, a = arm.limits.velocity, arm.max_accel
    print("arm6: vmax [rad/s] =", np.round(v, 4).tolist(), " amax [rad/s^2] (Arm.max_accel) =", np.round(a, 4).tolist())
    print(f"ours: cellctl.motion.ptp.ptp (ruckig, jerk = {JERK_PER_ACCEL:g}/s x amax), sampled at dt = {DT:.5f} s")
    print(f"jtraj: rtb.jtraj quintic, T = max_j max(1.875 D_j/v_j, sqrt(5.7735 D_j/a_j)) (checked by sampling)")
    print(f"retime_path: blend=False stops at every waypoint (jerk-limited ruckig per segment); blend=True is toppra"
          f" over parabolic corner blends of radius {BLEND_RADIUS} rad (no jerk limit)")
    print(f"seed {SEED}; {N} PTP moves and {N_PATHS} 3- and 5-waypoint paths per range; goal: ours <= {GOAL} x jtraj\n")
    out: dict = {"seed": SEED, "moves": N, "paths": N_PATHS, "dt": DT, "goal": GOAL, "jerk_per_accel": JERK_PER_ACCEL,
                 "blend_radius": BLEND_RADIUS, "primary_range": "limits", "ranges": {}}
    for ri, (name, (desc, sampler, hop)) in enumerate(ranges(arm).items()):
        rng = np.random.default_rng([SEED, ri])
        p = ptp_vs_jtraj(arm, sampler, hop, rng)
        w3 = multi_waypoint(arm, sampler, rng, 3) if hop is None else None
        w5 = multi_waypoint(arm, sampler, rng, 5) if hop is None else None
        r = p["ratio"]
        print(f"== range '{name}': {desc}")
        print(f"  PTP durations: ours median {p['ours_s']['median']:.3f} s, jtraj median {p['jtraj_s']['median']:.3f} s")
        print(f"  ours/jtraj: median {r['median']:.3f}  mean {r['mean']:.3f}  p95 {r['p95']:.3f}  max {r['max']:.3f}"
              f"  total {p['total_ratio']:.3f};  moves meeting <= {GOAL}: {100 * p['share_met']:.1f}%")
        met = r["median"] <= GOAL and p["total_ratio"] <= GOAL
        print(f"  goal (median and total <= {GOAL}): {'MET' if met else 'NOT MET'}")
        print(f"  limits: ours max |qd|/v {p['ptp_max_v_ratio']:.4f}, |qdd|/a {p['ptp_max_a_ratio']:.4f};"
              f" jtraj max |qd|/v {p['jtraj_max_v_ratio']:.4f}, |qdd|/a {p['jtraj_max_a_ratio']:.4f}")
        print(f"  compute: ptp {p['ptp_ms_median']:.3f} ms median per trajectory (ruckig + sampling every dt),"
              f" of which the ruckig profile alone {p['profile_us_median']:.0f} us")
        print("  jerk sweep (JERK_PER_ACCEL -> median / total ratio, share of moves <= goal):")
        for k, s in p["jerk_sweep"].items():
            print(f"    {k:>9g}/s: {s['median']:.3f} / {s['total']:.3f}  {100 * s['share_met']:.1f}%")
        entry = {"ptp_vs_jtraj_median_ratio": r["median"], "ptp_vs_jtraj_mean_ratio": r["mean"],
                 "ptp_vs_jtraj_p95_ratio": r["p95"], "ptp_vs_jtraj_max_ratio": r["max"],
                 "ptp_vs_jtraj_total_ratio": p["total_ratio"], "ptp_vs_jtraj_share_met": p["share_met"], "goal_met": met,
                 "ptp_median_s": p["ours_s"]["median"], "jtraj_median_s": p["jtraj_s"]["median"],
                 "ptp_compute_ms_median": p["ptp_ms_median"],
                 "ptp_profile_compute_us_median": p["profile_us_median"], "ptp_max_v_ratio": p["ptp_max_v_ratio"],
                 "ptp_max_a_ratio": p["ptp_max_a_ratio"], "jtraj_max_v_ratio": p["jtraj_max_v_ratio"],
                 "jtraj_max_a_ratio": p["jtraj_max_a_ratio"],
                 "jerk_sweep_median_ratio": {f"{k:g}": s["median"] for k, s in p["jerk_sweep"].items()},
                 "jerk_sweep_total_ratio": {f"{k:g}": s["total"] for k, s in p["jerk_sweep"].items()},
                 "jerk_per_accel_meeting_median": smallest_jerk_meeting(p["jerk_sweep"], "median"),
                 "jerk_per_accel_meeting_total": smallest_jerk_meeting(p["jerk_sweep"], "total")}
        if entry["jerk_per_accel_meeting_median"] is None:
            print(f"  no jerk limit meets the goal here: these moves are acceleration-limited, and even with unlimited jerk"
                  f" a bang-bang move takes 2 sqrt(D/a) against the quintic's sqrt(5.7735 D/a), a ratio of"
                  f" {2 / np.sqrt(QUINTIC_A):.3f} > {GOAL} whatever the acceleration limit")
        if w3 is not None:
            print(f"  3-waypoint paths: retime_path blend=True (toppra) {w3['blend_ms_median']:.2f} ms median,"
                  f" blend=False {w3['stop_ms_median']:.2f} ms; blend/stop duration median {w3['blend_vs_stop']['median']:.3f}")
            print(f"  5-waypoint paths: blend/stop duration median {w5['blend_vs_stop']['median']:.3f}"
                  f" mean {w5['blend_vs_stop']['mean']:.3f} p95 {w5['blend_vs_stop']['p95']:.3f}"
                  f" total {w5['blend_vs_stop_total']:.3f} (median {w5['blend_s_median']:.2f} s vs {w5['stop_s_median']:.2f} s);"
                  f" compute {w5['blend_ms_median']:.2f} / {w5['stop_ms_median']:.2f} ms")
            print(f"  5-waypoint paths with blend_radius {WIDE_RADIUS} rad: blend/stop duration median {w5['wide_vs_stop_median']:.3f}")
            dv = max(w3["max_deviation_rad"], w5["max_deviation_rad"])
            print(f"  blended paths: max distance from the polyline {dv:.4f} rad (bound {BLEND_RADIUS} rad);"
                  f" max |qd|/v {max(w3['max_v_ratio'], w5['max_v_ratio']):.4f},"
                  f" |qdd|/a {max(w3['max_a_ratio'], w5['max_a_ratio']):.4f}")
            entry.update({"toppra_3wp_compute_ms_median": w3["blend_ms_median"],
                          "exact_3wp_compute_ms_median": w3["stop_ms_median"],
                          "blend_vs_stop_ratio_3wp": w3["blend_vs_stop"]["median"],
                          "blend_vs_stop_ratio": w5["blend_vs_stop"]["median"],
                          "blend_vs_stop_mean_ratio": w5["blend_vs_stop"]["mean"],
                          "blend_vs_stop_total_ratio": w5["blend_vs_stop_total"],
                          f"blend_vs_stop_ratio_r{WIDE_RADIUS:g}": w5["wide_vs_stop_median"],
                          "toppra_5wp_compute_ms_median": w5["blend_ms_median"],
                          "exact_5wp_compute_ms_median": w5["stop_ms_median"],
                          "blend_max_deviation_rad": dv,
                          "retime_max_v_ratio": max(w3["max_v_ratio"], w5["max_v_ratio"]),
                          "retime_max_a_ratio": max(w3["max_a_ratio"], w5["max_a_ratio"])})
        print()
        out["ranges"][name] = entry
    out.update({k: v for k, v in out["ranges"]["limits"].items()})  # the primary range's figures at top level
    print(json.dumps(out))


if __name__ == "__main__":
    main()
