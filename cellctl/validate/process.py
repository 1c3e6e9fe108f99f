"""Checks of the processes and the interlocks, read from the recorded world: who was inside each zone, where
the wire tip went while the arc burned, what torque and turn each bolt got."""

from __future__ import annotations

import numpy as np

from cellctl.control.weld import corner_blend, torch_frames
from cellctl.model.cell import BOLT_HEAD
from cellctl.model.urdf_info import spindle_radius
from cellctl.twin.bolts import HEAD_RADIUS
from cellctl.twin.trace import SimResult
from cellctl.validate.checks import _task_failures
from cellctl.validate.holding import touching
from cellctl.validate.result import CheckResult
from cellctl.validate.timeline import Timeline

WELD_DEVIATION_M = 0.001  # m the wire tip may stray from the seam while the arc burns
WELD_SPEED_TOL = 0.10  # fraction of the programmed travel speed
WELD_ANGLE_TOL = np.radians(3.0)
WELD_COVERAGE = 0.95  # fraction of the seam's length that must be welded
BEAD_OFF_PART_M = 0.003  # m of bead that may miss the seam's own part (a run-off at its end) ...
BEAD_OFF_PART = 0.05  # ... or this fraction of the seam's length, whichever is more
ARC_OFF_SEAM_M = 0.003  # an arc burning farther than this from the seam is a stray arc
SPOT_POSITION_TOL_M = 0.0015  # m the fixed electrode tip may be from the spot while the current flows
SPOT_ANGLE_TOL = np.radians(5.0)  # rad between the electrode axis and the spot's axis
SPOT_FORCE_TOL = 0.05  # fraction under the programmed clamp force
SPOT_EDGE_MIN = 0.006  # m of sheet all round a spot's axis: a nugget nearer the edge is cut by it (edge weld, expulsion)


def check_interlocks(result: SimResult) -> CheckResult:
    """No two robots (with tools and held parts, as simulated) inside one zone at once; no deadlock; no two robots
    whose paths only timing keeps apart (found by the preflight)."""
    failures = _task_failures(result, "interlocks")
    if result.failure is not None and result.failure[1].check == "interlocks":
        stopped = next((e["t"] for e in result.events if e["machine"] == "cell" and e["to"] == "failed"), 0.0)
        failures.append({"task": result.failure[0], "t_s": round(stopped, 4), "reason": result.failure[1].message})
    trace = result.trace
    findings, inside_time, current = [], {}, {}
    changes = sorted(trace.zone_changes, key=lambda c: c[0])
    end = trace.t[-1] if trace.t else 0.0
    for k, (t, zone, robots) in enumerate(changes):
        current[zone] = (t, robots)
        t_next = next((c[0] for c in changes[k + 1:] if c[1] == zone), end)
        for r in robots:
            inside_time[(zone, r)] = inside_time.get((zone, r), 0.0) + (t_next - t)
        if len(robots) > 1:
            findings.append({"zone": zone, "robots": list(robots), "t_s": round(t, 4), "duration_s": round(t_next - t, 4),
                             "task": None, "reason": f"{' and '.join(robots)} were inside zone '{zone}' together at "
                                                     f"t={t:.2f} s for {t_next - t:.2f} s"})
    # a crossing is a fault of every timing but perhaps not this one's: listed after what this run saw happen
    findings = failures + findings + [{"task": None, "t_s": round(end, 4), "reason": f"{c} (the preflight's proof over every "
                                       "timing); declare a zone there or order the tasks"} for c in result.crossings]
    if findings:
        return CheckResult("interlocks", False, "; ".join(f["reason"] for f in findings), findings[0].get("task"), findings)
    zones = result.program.cell.zones
    if not zones:
        return CheckResult("interlocks", True, result.interlock_proof or "no shared zones")
    use = ", ".join(f"{z}: " + (", ".join(f"{r} {s:.1f} s" for (zz, r), s in sorted(inside_time.items()) if zz == z) or "unused")
                    for z in zones)
    return CheckResult("interlocks", True, f"never two robots inside one zone ({use})"
                       + (f"; {result.interlock_proof}" if result.interlock_proof else ""))


def _polyline_distance(points: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row of p, the distance to the polyline and the arc length of its nearest point."""
    seg = np.diff(points, axis=0)
    lengths = np.linalg.norm(seg, axis=1)
    start = np.concatenate([[0.0], np.cumsum(lengths)])[:-1]
    rel = p[:, None, :] - points[None, :-1, :]
    s = np.clip(np.einsum("nki,ki->nk", rel, seg) / lengths ** 2, 0, 1)
    closest = points[None, :-1, :] + s[..., None] * seg[None]
    d = np.linalg.norm(p[:, None, :] - closest, axis=2)
    k = d.argmin(axis=1)
    rows = np.arange(len(p))
    return d[rows, k], start[k] + s[rows, k] * lengths[k]


def _arc_intervals(trace, robot: str) -> list[tuple[float, float]]:
    out, t_on = [], None
    for t, r, on in trace.arcs:
        if r != robot:
            continue
        if on and t_on is None:
            t_on = t
        elif not on and t_on is not None:
            out.append((t_on, t))
            t_on = None
    if t_on is not None:
        out.append((t_on, trace.t[-1]))
    return out


def check_weld(result: SimResult) -> CheckResult:
    """Per seam, from the wire tip's simulated path while the arc burned: deviation, travel speed, torch
    angles, coverage, and no arc away from the seam. Per spot (_spot_welds): position, axis, clamp force, weld time."""
    trace, cell = result.trace, result.program.cell
    findings = _task_failures(result, "weld")
    seams = []
    for task in [t for t in result.program.tasks if t.kind == "weld"]:
        owner, name = task.feature
        feature = {**cell.fixtures, **cell.parts}[owner].features[name]
        arcs = _arc_intervals(trace, task.robot)
        record = next(r for r in result.tasks if r["id"] == task.id)
        if record["start_s"] is None:
            findings.append({"task": task.id, "seam": f"{owner}.{name}", "reason": f"seam {owner}.{name} was not welded "
                                                                                 f"(the task {record['status'].replace('_', ' ')})"})
            continue
        mine = [(a, b) for a, b in arcs if record["start_s"] - 1e-9 <= a <= (record["end_s"] or trace.t[-1]) + 1e-9]
        if not mine:
            if not any(f["task"] == task.id for f in findings):
                findings.append({"task": task.id, "seam": f"{owner}.{name}", "reason": f"seam {owner}.{name}: the arc never burned"})
            continue
        # the wire tip in the owner's frame at each step (a part knocked or lifted during the weld moves its seam)
        pts, normal = feature.points, feature.normal
        length = float(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum())
        idx = [i for a, b in mine for i in range(trace.index_at(a), trace.index_at(b) + 1)]
        T_owner = np.array([trace.parts[owner][i] for i in idx]) if owner in cell.parts else \
            np.repeat(cell.fixtures[owner].T_world_fixture.A[None], len(idx), axis=0)
        tcp = np.linalg.solve(T_owner, np.array([trace.robots[task.robot].tcp[i] for i in idx]))
        d, s = _polyline_distance(pts, tcp[:, :3, 3])
        on_seam = d <= WELD_DEVIATION_M
        covered = np.unique(np.floor(s[on_seam] / 0.001)).size * 0.001 if on_seam.any() else 0.0
        coverage = min(1.0, covered / length)
        speed = _travel_speed(np.array([trace.t[i] for i in idx]), s, on_seam, length, covered, mine)
        angle = _torch_angle_error(pts, normal, task, s, tcp[:, :3, 2])
        info = {"task": task.id, "seam": f"{owner}.{name}", "deviation_mm": round(float(d.max()) * 1000, 3),
                "speed_mm_s": round(speed * 1000, 2), "coverage_pct": round(coverage * 100, 1),
                "angle_error_deg": round(float(np.degrees(angle)), 2), "t_s": round(mine[0][0], 4),
                # the parts this seam's bead joined (read from the twin: a bead that bridged two parts fused them)
                "joined": sorted({x for t, r, a, b in trace.joins if r == task.robot and mine[0][0] - 1e-9 <= t <= mine[-1][1] + 1e-9
                                  for x in (a, b)} - {owner})}
        seams.append(info)
        problems = []
        if d.max() > ARC_OFF_SEAM_M:
            problems.append(f"the arc burned {d.max() * 1000:.1f} mm off the seam")
        elif d.max() > WELD_DEVIATION_M:
            problems.append(f"the wire tip strayed {d.max() * 1000:.2f} mm from the seam (at most {WELD_DEVIATION_M * 1000:.1f} mm)")
        if abs(speed - task.weld_speed) > WELD_SPEED_TOL * task.weld_speed:
            problems.append(f"travel speed {speed * 1000:.1f} mm/s, programmed {task.weld_speed * 1000:.1f} mm/s")
        if angle > WELD_ANGLE_TOL:
            problems.append(f"torch angle off by up to {np.degrees(angle):.1f} deg")
        if coverage < WELD_COVERAGE:
            problems.append(f"only {coverage:.0%} of the seam welded")
        off = _bead_off_owner(trace, task.robot, owner, mine) if owner in cell.parts else (0.0, None)
        if off[0] > max(BEAD_OFF_PART_M, BEAD_OFF_PART * length):
            problems.append(f"{off[0] * 1000:.0f} mm of the bead missed '{owner}' (from t={off[1]:.2f} s): the seam runs "
                            f"off its part")
        # a part and a fixture joined by this bead, whichever of them the seam was drawn on
        welded_down = sorted((t, a, b) if trace.bodies.get(b) == "fixture" else (t, b, a) for t, r, a, b in trace.joins
                             if r == task.robot and mine[0][0] - 1e-9 <= t <= mine[-1][1] + 1e-9
                             and "fixture" in (trace.bodies.get(a), trace.bodies.get(b)))
        if welded_down:
            t_join, part, fixture = welded_down[0]
            findings.append({**info, "t_s": round(t_join, 4),
                             "reason": f"seam {owner}.{name}: the bead ran onto {fixture} and welded '{part}' to it at "
                                       f"t={t_join:.2f} s: a part welded to the fixture cannot be unloaded (keep the seam "
                                       f"clear of the fixture)"})
        # a bead that joined nothing though it ran right beside a joint: a seam drawn off the joint (a seam on one
        # part alone, a boss's fillet on its plate, is a weld of its own and may join nothing)
        beside = _bead_beside(trace, task.robot, owner, mine)
        if beside and not info["joined"] and not problems:
            gap, other = beside
            findings.append({**info, "reason": f"seam {owner}.{name}: the bead ran {gap * 1000:.1f} mm from '{other}', which "
                                               f"lies against '{owner}', and joined nothing (is the seam on the joint?)"})
        if problems:
            # dated where the wire tip first strayed, when it did: a knock during the traverse comes first
            strayed = d > WELD_DEVIATION_M
            when = round(trace.t[idx[int(np.argmax(strayed))]], 4) if strayed.any() else info["t_s"]
            findings.append({**info, "t_s": when, "reason": f"seam {owner}.{name}: " + "; ".join(problems)})
    spots = _spot_welds(result, findings)
    if findings:
        return CheckResult("weld", False, "; ".join(f"task {f['task']}: {f['reason']}" for f in findings), findings[0]["task"], findings)
    if not seams and not spots:
        return CheckResult("weld", True, "no seams or spots in this program")
    return CheckResult("weld", True, "; ".join([f"{s['seam']}: {s['coverage_pct']:.0f} % welded at {s['speed_mm_s']:.1f} mm/s, "
                                                f"within {s['deviation_mm']:.2f} mm and {s['angle_error_deg']:.1f} deg"
                                                + (f", joined to {', '.join(s['joined'])}" if s["joined"] else "") for s in seams]
                                               + [f"{s['spot']}: {s['force_n']:.0f} N for {s['dwell_s']:.2f} s, within "
                                                  f"{s['position_error_mm']:.2f} mm and {s['axis_angle_deg']:.1f} deg" for s in spots]),
                       None, seams + spots)


def _travel_speed(t: np.ndarray, s: np.ndarray, on_seam: np.ndarray, length: float, covered: float,
                  arcs: list[tuple[float, float]]) -> float:
    """The wire tip's travel speed (m/s) over the seam's middle, from 10 % to 90 % of its length (with the arc on):
    the steady bead, without the start's and the crater's speeding up and slowing down. A seam not covered that far
    is judged by its length welded over its arc time."""
    a, b = np.flatnonzero(on_seam & (s >= 0.1 * length)), np.flatnonzero(on_seam & (s >= 0.9 * length))
    if len(a) and len(b) and t[b[0]] > t[a[0]]:
        t0, t1 = t[a[0]], t[b[0]]
        burning = sum(max(0.0, min(t1, hi) - max(t0, lo)) for lo, hi in arcs)
        if burning > 0:
            return 0.8 * length / burning
    arc_time = sum(hi - lo for lo, hi in arcs)
    return covered / arc_time if arc_time > 0 else 0.0


def _torch_angle_error(pts: np.ndarray, normal: np.ndarray, task, s: np.ndarray, z: np.ndarray) -> float:
    """The largest angle (rad) between the torch's wire and its ideal direction where the tip was (s: m along the
    seam): the angles of the leg it was on; round a corner (control.weld.corner_blend either side), anywhere on the
    torch's turn from one leg's to the next's."""
    ideal = torch_frames(pts, normal, task.work_angle, task.travel_angle)
    legs = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    ends = np.cumsum(legs)
    seg = np.minimum(np.searchsorted(ends, s), len(pts) - 2)
    z_ideal = np.array([ideal[k].A[:3, 2] for k in seg])
    error = np.arccos(np.clip(np.einsum("ni,ni->n", z, z_ideal), -1, 1))
    for k in range(1, len(pts) - 1):  # the corner at point k, between leg k - 1 and leg k
        a, b = ideal[k - 1].A[:3, 2], ideal[k].A[:3, 2]
        blend = min(corner_blend(float(np.arccos(np.clip(a @ b, -1, 1)))), legs[k - 1] / 3, legs[k] / 3) + 1e-4
        near = np.abs(s - ends[k - 1]) <= blend
        if near.any():
            turn = np.array([(1 - f) * a + f * b for f in np.linspace(0, 1, 21)])
            turn /= np.linalg.norm(turn, axis=1)[:, None]
            error[near] = np.arccos(np.clip(z[near] @ turn.T, -1, 1)).min(axis=1)
    if len(pts) > 2 and np.linalg.norm(pts[-1] - pts[0]) < 1e-4:  # a closed seam: its start is also its end
        blend = min(corner_blend(float(np.arccos(np.clip(ideal[0].A[:3, 2] @ ideal[-1].A[:3, 2], -1, 1)))),
                    legs[0] / 3, legs[-1] / 3) + 1e-4
        near = (s <= blend) | (s >= ends[-1] - blend)
        ends_z = np.array([ideal[0].A[:3, 2], ideal[-1].A[:3, 2]])
        error[near] = np.arccos(np.clip(z[near] @ ends_z.T, -1, 1)).min(axis=1)
    return float(error.max())


def _bead_off_owner(trace, robot: str, owner: str, arcs: list[tuple[float, float]]) -> tuple[float, float | None]:
    """How much bead (m) the arc laid without wetting the seam's own part, and from when (twin.beads records what the
    weld pool wets at each step)."""
    off = [(grown, t) for t, r, grown, wet in trace.bead_wets if r == robot and owner not in wet
           and any(a - 1e-9 <= t <= b + 1e-9 for a, b in arcs)]
    return (sum(g for g, _ in off), off[0][1]) if off else (0.0, None)


def _bead_beside(trace, robot: str, owner: str, arcs: list[tuple[float, float]]) -> tuple[float, str] | None:
    """The part nearest the burning arc (m, name) that touched the seam's owner when the arc struck but was not
    wetted (twin.beads records parts within BEAD_NEAR of the wire tip); None when there was none."""
    against = touching(trace, owner, trace.t[trace.index_at(arcs[0][0])])
    gaps = [(d, p) for t, r, p, d in trace.bead_gaps if r == robot and p in against
            and any(a - 1e-9 <= t <= b + 1e-9 for a, b in arcs)]
    return min(gaps) if gaps else None


def _crowding(result: SimResult, robot: str, owner: str, hole: str, t: float) -> str:
    """Why the robot's socket cannot go over this hole's bolt head ("" when it can): another bolt's head stands
    nearer its axis than the socket's radius and that head's own, level with it (the socket would land on it)."""
    cell, trace = result.program.cell, result.trace
    radius = spindle_radius(cell.robots[robot].tool.urdf.resolve())
    if radius is None:
        return ""
    i = trace.index_at(t)

    def pose(o: str, h: str) -> np.ndarray:
        T_owner = np.array(trace.parts[o][i]) if o in cell.parts else cell.fixtures[o].T_world_fixture.A
        return T_owner @ {**cell.fixtures, **cell.parts}[o].features[h].T_owner_feature.A

    T = pose(owner, hole)
    z, p = T[:3, 2], T[:3, 3]
    worst = None
    for o, thing in {**cell.fixtures, **cell.parts}.items():
        for h, f in thing.features.items():
            if f.kind != "hole" or not f.bolt or (o, h) == (owner, hole):
                continue
            q = pose(o, h)[:3, 3] - p
            along = float(q @ z)
            across = float(np.linalg.norm(q - along * z))
            if abs(along) <= BOLT_HEAD and across < radius + HEAD_RADIUS and (worst is None or across < worst[0]):
                worst = (across, f"{o}.{h}")
    if worst is None:
        return ""
    return (f"the socket ({radius * 2000:.0f} mm across) cannot go over the bolt's head: the head of {worst[1]} stands "
            f"{worst[0] * 1000:.0f} mm from its axis (at least {(radius + HEAD_RADIUS) * 1000:.0f} mm is needed)")


def _runs_of(result: SimResult, task, runs: list[dict], features: list[tuple[str, str]], noun: str, done: str,
             findings: list[dict]) -> list[dict] | None:
    """The tool's recorded runs (dicts with robot and t_s) during a task; None, with a finding per feature, when the
    task never started."""
    record = next(r for r in result.tasks if r["id"] == task.id)
    if record["start_s"] is None:
        findings += [{"task": task.id, noun: f"{o}.{n}", "reason": f"{noun} {o}.{n} was not {done} (the task "
                                                                    f"{record['status'].replace('_', ' ')})"} for o, n in features]
        return None
    end = record["end_s"] if record["end_s"] is not None else result.trace.t[-1]
    return [w for w in runs if w["robot"] == task.robot and record["start_s"] - 1e-4 <= w["t_s"] <= end + 1e-4]  # t_s is rounded


def _spot_welds(result: SimResult, findings: list[dict]) -> list[dict]:
    """Per spot of every spot task, the weld the gun made on it (the last, if several), judged from the recorded world
    while its current flowed: the fixed electrode tip's distance from the spot and the electrode axis's angle to the
    spot's axis (simulated TCP and part), and the clamp force and weld time the gun measured. Problems are appended
    to findings; the spots' figures are returned."""
    trace, cell = result.trace, result.program.cell
    out = []
    for task in [t for t in result.program.tasks if t.kind == "spot"]:
        runs = _runs_of(result, task, trace.spots, task.spots, "spot", "welded", findings)
        if runs is None:
            continue
        for owner, name in task.spots:
            spot = f"{owner}.{name}"
            said = any(f["task"] == task.id and f"spot {spot}" in f["reason"] for f in findings)  # the failed task says why
            mine = [w for w in runs if w["spot"] == spot]
            if not mine:
                if not any(f["task"] == task.id for f in findings):
                    findings.append({"task": task.id, "spot": spot, "reason": f"spot {spot}: the gun never welded it"})
                continue
            weld = mine[-1]
            i0, i1 = trace.index_at(weld["t_s"]), trace.index_at(weld["t_s"] + weld["dwell_s"])
            T_feature = {**cell.fixtures, **cell.parts}[owner].features[name].T_owner_feature.A
            owners = np.array(trace.parts[owner][i0:i1 + 1]) if owner in cell.parts else \
                np.repeat(cell.fixtures[owner].T_world_fixture.A[None], i1 - i0 + 1, axis=0)
            T_spot = owners @ T_feature
            tcp = np.array(trace.robots[task.robot].tcp[i0:i1 + 1])
            d = float(np.linalg.norm(tcp[:, :3, 3] - T_spot[:, :3, 3], axis=1).max())
            angle = float(np.arccos(np.clip(np.einsum("ni,ni->n", tcp[:, :3, 2], T_spot[:, :3, 2]), -1, 1)).max())
            info = {"task": task.id, "spot": spot, "t_s": weld["t_s"], "position_error_mm": round(d * 1000, 3),
                    "axis_angle_deg": round(float(np.degrees(angle)), 2), "force_n": weld["force_n"], "dwell_s": weld["dwell_s"],
                    "welded": weld["welded"]}
            out.append(info)
            problems = []
            if not weld["welded"]:
                problems += [] if said else [weld.get("reason", "the weld was not made")]
            elif weld["force_n"] < (1 - SPOT_FORCE_TOL) * task.spot_force:
                problems.append(f"clamped with {weld['force_n']:.0f} N of the {task.spot_force:.0f} N programmed")
            if weld["welded"] and weld["dwell_s"] < task.dwell - trace.dt:
                problems.append(f"weld current for {weld['dwell_s']:.2f} s of the {task.dwell:.2f} s programmed")
            if weld.get("part") and weld["part"] != owner and owner in cell.parts:
                problems.append(f"the electrodes clamped '{weld['part']}', not '{owner}': the spot is not on its part")
            if weld.get("edge_mm") is not None and weld["edge_mm"] < SPOT_EDGE_MIN * 1000:
                problems.append(f"the sheet ends within {weld['edge_mm']:.0f} mm of the electrode axis (at least "
                                f"{SPOT_EDGE_MIN * 1000:.0f} mm of sheet all round a spot): an edge weld")
            if d > SPOT_POSITION_TOL_M:
                problems.append(f"the fixed electrode was {d * 1000:.1f} mm off the spot (at most {SPOT_POSITION_TOL_M * 1000:.1f} mm)")
            if angle > SPOT_ANGLE_TOL:
                problems.append(f"the electrode axis was {np.degrees(angle):.1f} deg off the spot's axis (at most "
                                f"{np.degrees(SPOT_ANGLE_TOL):.0f} deg)")
            if problems:
                findings.append({**info, "reason": f"spot {spot}: " + "; ".join(problems)})
    return out


def check_fasten(result: SimResult) -> CheckResult:
    """Per hole, from the simulated spindle and bolt: the final torque reached, the turn inside the angle window,
    and the spindle's alignment with the bolt it turned."""
    trace = result.trace
    findings, holes = _task_failures(result, "fasten"), []
    for task in [t for t in result.program.tasks if t.kind == "fasten"]:
        runs = _runs_of(result, task, trace.fastenings, task.holes, "hole", "fastened", findings)
        if runs is None:
            continue
        for owner, name in task.holes:
            hole = f"{owner}.{name}"
            if hole in trace.holes_off_owner:
                findings.insert(0, {"task": task.id, "hole": hole, "t_s": 0.0,
                                    "reason": f"hole {hole}: {trace.holes_off_owner[hole]}"})
                continue
            mine = [f for f in runs if f["hole"] == hole]
            if not mine:
                if not any(f["task"] == task.id for f in findings):  # a failed task already says why
                    findings.append({"task": task.id, "hole": hole, "reason": f"hole {hole}: the spindle never ran on it"})
                continue
            last = mine[-1]
            holes.append({"task": task.id, **last})
            lo, hi = np.degrees(task.angle_window)
            crowded = _crowding(result, task.robot, owner, name, last["t_s"])
            if crowded:
                findings.append({"task": task.id, "hole": hole, "t_s": last["t_s"], "reason": f"hole {hole}: {crowded}"})
            elif last.get("cross_threaded"):
                findings.append({"task": task.id, "hole": hole, "t_s": last["t_s"],
                                 "reason": f"hole {hole}: cross-threaded: the bolt stood {last['misalignment_deg']:.1f} deg off the "
                                           f"spindle and bound after {last['angle_deg']:.0f} deg at {last['torque_nm']:.1f} N m"})
            elif last.get("proud_mm"):
                findings.append({"task": task.id, "hole": hole, "t_s": last["t_s"],
                                 "reason": f"hole {hole}: the bolt's head stands {last['proud_mm']:.1f} mm proud of its seat at "
                                           f"{last['torque_nm']:.2f} N m: the torque asked was reached before the head met the part, "
                                           f"so the bolt clamps nothing; ask a torque well above the thread's run-down drag"})
            elif last.get("done") and "clamped_to" in last and last["clamped_to"] is None:
                findings.append({"task": task.id, "hole": hole, "t_s": last["t_s"],
                                 "reason": f"hole {hole}: the bolt reached {last['torque_nm']:.1f} N m but its thread goes into "
                                           f"nothing beyond '{owner}' (its shank meets no part, fixture or floor): it clamps "
                                           f"'{owner}' to nothing"})
            elif last["torque_nm"] < task.torque - 1e-6:
                findings.append({"task": task.id, "hole": hole, "t_s": last["t_s"],
                                 "reason": f"hole {hole}: {last['torque_nm']:.1f} N m of {task.torque:.1f} N m"})
            elif not lo <= last["angle_deg"] <= hi:
                findings.append({"task": task.id, "hole": hole, "t_s": last["t_s"],
                                 "reason": f"hole {hole}: {last['angle_deg']:.0f} deg of turn to torque, outside [{lo:.0f}, {hi:.0f}] deg"})
    seen = set()
    findings = [f for f in findings if not (f.get("hole"), f["task"]) in seen and not seen.add((f.get("hole"), f["task"]))]
    if findings:
        return CheckResult("fasten", False, "; ".join(f"task {f['task']}: {f['reason']}" for f in findings), findings[0]["task"], findings)
    if not holes:
        return CheckResult("fasten", True, "no bolts in this program")
    return CheckResult("fasten", True, "; ".join(f"{h['hole']}: {h['torque_nm']:.1f} N m after {h['angle_deg']:.0f} deg, "
                                                 f"{h['misalignment_deg']:.1f} deg off the bolt" for h in holes),
                       None, holes)
