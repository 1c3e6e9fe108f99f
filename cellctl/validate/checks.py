"""The named checks. Each reads the recorded simulated world (trace) and the controllers' timeline."""

from __future__ import annotations

import numpy as np

from cellctl.twin.trace import SimResult
from cellctl.validate.clearance import check_clearance
from cellctl.validate.collision import check_collision
from cellctl.validate.holding import body as _body, holdings
from cellctl.validate.result import CheckResult
from cellctl.validate.timeline import Timeline


JOINT_LIMIT_TOL = 1e-3  # rad
VELOCITY_TOL = 1.05  # simulated speed may exceed the limit by 5 % (servo overshoot) before it counts
TRACKING_TOL = 0.01  # rad between commanded and simulated joint position
EFFORT_SATURATION = 0.99  # fraction of the rated torque at which a motor has nothing left to give
EFFORT_SATURATED_S = 0.025  # s at the limit beyond which it is no transient: the joint needed more than it has
PLACE_TOL_M = 0.003
PLACE_TOL_RAD = np.radians(2.0)
GRASP_SLIP_M = 0.002  # how far a held part may move relative to the TCP
GRASP_TURN_RAD = np.radians(2.0)  # how far it may turn relative to the TCP (beyond it, it cannot be placed within tolerance)
GRASP_WINDOW = 0.05  # s before the grasp is verified in which finger contacts count
MIN_GRIP_DEPTH = 0.005  # m of finger pad on the part, along the approach axis: less is a grasp that would drop it


def _failed(result: SimResult, check: str) -> list[dict]:
    return [t for t in result.tasks if t["status"] == "failed" and t.get("reason", "").startswith(check + ":")]


def check_reach(result: SimResult) -> CheckResult:
    bad = _failed(result, "reach")
    if bad:
        return CheckResult("reach", False, "; ".join(f"task {t['id']}: {t['reason'][7:]}" for t in bad), bad[0]["id"],
                           [{"task": t["id"], "reason": t["reason"]} for t in bad])
    return CheckResult("reach", True, "every target had a joint solution inside the limits, and every LIN path was solvable")


def _worst_per_joint(result: SimResult, measure, tol: float) -> tuple[list[dict], float]:
    """For each joint whose measure (an array: recorded steps x joints, per robot) goes above tol, its worst
    moment, worst first; and the largest value seen anywhere."""
    tl, findings, worst = Timeline(result.events), [], -np.inf
    for name, rt in result.trace.robots.items():
        m = measure(rt)
        worst = max(worst, float(m.max()))
        for j in range(m.shape[1]):
            i = int(m[:, j].argmax())
            if m[i, j] > tol:
                t, t_first = result.trace.t[i], result.trace.t[int(np.argmax(m[:, j] > tol))]
                findings.append({"robot": name, "joint": rt.joint_names[j], "t_s": round(t, 4), "t_first_s": round(t_first, 4),
                                 "task": tl.at(name, t)[0], "value": float(m[i, j]), "step": i})
    findings.sort(key=lambda f: -f["value"])
    return findings, worst


def _task_failures(result: SimResult, check: str) -> list[dict]:
    """Tasks that failed for this check, with the reason without the check's name."""
    return [{"task": t["id"], "reason": t["reason"].removeprefix(f"{check}: ")} for t in _failed(result, check)]


def _verdict(name: str, findings: list[dict], describe, passed_detail: str) -> CheckResult:
    if not findings:
        return CheckResult(name, True, passed_detail)
    f = findings[0]
    detail = describe(f) if "joint" in f else f"task {f['task']}: {f['reason']}"
    return CheckResult(name, False, detail, f.get("task"), findings)


def check_joint_limits(result: SimResult) -> CheckResult:
    findings, worst = _worst_per_joint(result, lambda rt: np.maximum(np.array(rt.q) - rt.upper, rt.lower - np.array(rt.q)),
                                       JOINT_LIMIT_TOL)
    for f in findings:
        rt = result.trace.robots[f["robot"]]
        f["q_deg"] = round(float(np.degrees(rt.q[f.pop("step")][rt.joint_names.index(f["joint"])])), 2)
        f["by_deg"] = round(float(np.degrees(f.pop("value"))), 2)
    return _verdict("joint_limits", findings + _task_failures(result, "joint_limits"),
                    lambda f: f"{f['robot']} {f['joint']} reached {f['q_deg']} deg at t={f['t_s']} s, {f['by_deg']} deg past its limit",
                    f"all joints stayed inside their limits (closest: {np.degrees(-worst):.1f} deg)")


def check_velocity_limits(result: SimResult) -> CheckResult:
    findings, worst = _worst_per_joint(result, lambda rt: np.abs(np.array(rt.qd)) / rt.velocity_limit, VELOCITY_TOL)
    for f in findings:
        f.pop("step")
        f["percent_of_limit"] = round(100 * f.pop("value"), 1)
    return _verdict("velocity_limits", findings + _task_failures(result, "velocity_limits"),
                    lambda f: f"{f['robot']} {f['joint']} ran at {f['percent_of_limit']} % of its speed limit at t={f['t_s']} s",
                    f"peak joint speed {100 * worst:.0f} % of its limit")


def check_tracking(result: SimResult) -> CheckResult:
    findings, worst = _worst_per_joint(result, lambda rt: np.abs(np.array(rt.q_cmd) - np.array(rt.q)), TRACKING_TOL)
    for f in findings:
        f.pop("step")
        f["error_deg"] = round(float(np.degrees(f.pop("value"))), 2)
    return _verdict("tracking", findings + _task_failures(result, "tracking"),
                    lambda f: f"{f['robot']} {f['joint']} was {f['error_deg']} deg from its command at t={f['t_s']} s (blocked or overloaded?)",
                    f"simulated joints followed their commands within {np.degrees(worst):.2f} deg")


def check_effort_limits(result: SimResult) -> CheckResult:
    """Motors that ran out of torque. The twin's motors are force-limited at their rating, so |tau| never exceeds it:
    a joint that needed more shows as its motor held at the limit for longer than a transient (then it lags or sags)."""
    trace, tl = result.trace, Timeline(result.events)
    need = max(2, int(np.ceil(EFFORT_SATURATED_S / trace.dt)))  # consecutive steps at the limit
    findings, peak = [], (-1.0, None, None, 0.0)
    for name, rt in trace.robots.items():
        load = np.abs(np.array(rt.tau)) / np.where(np.asarray(rt.effort_limit) > 0, rt.effort_limit, np.inf)
        for j in range(load.shape[1]):
            i = int(load[:, j].argmax())
            peak = max(peak, (float(load[i, j]), name, rt.joint_names[j], trace.t[i]), key=lambda p: p[0])
            at_limit = np.concatenate([[0], (load[:, j] >= EFFORT_SATURATION).astype(np.int8), [0]])
            edges = np.flatnonzero(np.diff(at_limit))
            runs = [(a, b) for a, b in zip(edges[::2], edges[1::2]) if b - a >= need]
            if runs:
                t_from = trace.t[runs[0][0]]
                task, machine, step = tl.at(name, t_from)
                # the fault is established once the motor has been at its limit longer than a transient
                findings.append({"robot": name, "joint": rt.joint_names[j], "peak_pct": round(100 * float(load[i, j]), 1),
                                 "t_s": round(trace.t[i], 4), "t_from_s": round(t_from, 4),
                                 "t_first_s": round(trace.t[runs[0][0] + need - 1], 4), "task": task,
                                 "step": f"{machine}.{step}" if machine else None,
                                 "saturated_s": round(float(sum(b - a for a, b in runs) * trace.dt), 4)})
    findings.sort(key=lambda f: (-f["saturated_s"], f["t_first_s"]))
    if findings:
        f = findings[0]
        detail = "; ".join(f"{f['robot']} {f['joint']} held at its torque limit for {f['saturated_s']:.2f} s from t={f['t_from_s']:.2f} s"
                           + (f" in task {f['task']} ({f['step']})" if f["task"] else "") + f" (peak {f['peak_pct']:.0f} % of rated)"
                           for f in findings[:3])
        return CheckResult("effort_limits", False, detail + (f"; and {len(findings) - 3} more joints" if len(findings) > 3 else ""),
                           next((f["task"] for f in findings if f["task"]), None), findings)
    value, robot, joint, t = peak
    if robot is None:
        return CheckResult("effort_limits", True, "no joint torques recorded")
    return CheckResult("effort_limits", True, f"peak joint torque {100 * value:.0f} % of its rating ({robot} {joint} at t={t:.2f} s)")


def _pick_tasks(result: SimResult) -> list:
    return [t for t in result.program.tasks if t.kind in ("pick", "pick_place")]


def check_grasp(result: SimResult) -> CheckResult:
    trace, tl = result.trace, Timeline(result.events)
    findings = []
    for task in _pick_tasks(result):
        verify = tl.step_times(task.robot, task.id, "pick", "verify_grasp")
        if verify is None:
            continue  # the pick never got to close its gripper: another check says why
        t_close = verify[0]
        # the fingers that touched the part in the last moments of closing (one step alone can miss a contact)
        window = [c for c in trace.contacts if t_close - GRASP_WINDOW <= c.t <= t_close + 1e-9 and task.part in (c.a, c.b)]
        fingers = {c.a if c.b == task.part else c.b for c in window}
        touching = sorted(f for f in fingers if f.startswith(task.robot + "/") and f.split("/", 1)[1] in trace.finger_links.get(task.robot, ()))
        held = [a for a in trace.attachments if a.part == task.part and a.robot == task.robot and a.action == "attach"
                and abs(a.t - t_close) < 0.05]
        if len(touching) < 2 or not held:
            fingers_of = {f"{task.robot}/{f}" for f in trace.finger_links.get(task.robot, ())}
            instead = sorted({c.b if c.a in fingers_of else c.a for c in trace.contacts
                              if t_close - GRASP_WINDOW <= c.t <= t_close + 1e-9 and (c.a in fingers_of or c.b in fingers_of)
                              and trace.bodies.get(c.b if c.a in fingers_of else c.a) == "part"} - {task.part})
            reason = (f"only {', '.join(touching)} touched '{task.part}'" if touching
                      else f"the fingers closed on '{instead[0]}', not on '{task.part}': is the grasp frame on the right part?"
                      if instead else f"fingers closed on air: 0 of 2 fingers touched '{task.part}'")
            findings.append({"task": task.id, "part": task.part, "t_s": round(t_close, 4), "touching": touching,
                             "reason": reason})
            continue
        fixed = _fixed_down(trace, task.part, t_close)
        if fixed:
            findings.append({"task": task.id, "part": task.part, "t_s": round(t_close, 4),
                             "reason": f"'{task.part}' was {fixed}, so it cannot come away with the gripper"})
            continue
        shallow = [d for d in held[0].grip_depths if d < MIN_GRIP_DEPTH]
        if shallow:
            findings.append({"task": task.id, "part": task.part, "t_s": round(held[0].t, 4), "grip_depth_mm": round(min(shallow) * 1000, 2),
                             "reason": f"the fingers grip only {min(shallow) * 1000:.1f} mm of '{task.part}' (at least "
                                       f"{MIN_GRIP_DEPTH * 1000:.0f} mm): lower the grasp frame"})
            continue
        # while held, the part must stay put in the hand
        i0 = trace.index_at(held[0].t)
        detach = next((a.t for a in trace.attachments if a.part == task.part and a.action == "detach" and a.t > held[0].t), trace.t[-1])
        i1 = trace.index_at(detach)
        tcp = np.array(trace.robots[task.robot].tcp[i0:i1 + 1])
        part = np.array(trace.parts[task.part][i0:i1 + 1])
        rel = np.einsum("nji,nj->ni", tcp[:, :3, :3], part[:, :3, 3] - tcp[:, :3, 3])
        drift = np.linalg.norm(rel - rel[0], axis=1) if len(rel) else np.zeros(1)
        # and how far it turned in the hand (a part swinging about the jaws may keep its frame's origin in place)
        R_rel = np.einsum("nji,njk->nik", tcp[:, :3, :3], part[:, :3, :3])
        cos = (np.einsum("ij,nij->n", R_rel[0], R_rel) - 1) / 2 if len(rel) else np.ones(1)
        turn = np.arccos(np.clip(cos, -1.0, 1.0))
        slip, turned = float(drift.max()), float(turn.max())
        if slip > GRASP_SLIP_M or turned > GRASP_TURN_RAD:
            how = ([f"moved {slip * 1000:.1f} mm"] if slip > GRASP_SLIP_M else []) + \
                  ([f"turned {np.degrees(turned):.1f} deg"] if turned > GRASP_TURN_RAD else [])
            first = int(np.argmax((drift > GRASP_SLIP_M) | (turn > GRASP_TURN_RAD)))
            findings.append({"task": task.id, "part": task.part, "t_s": round(trace.t[i0 + first], 4),
                             "slip_mm": round(slip * 1000, 2), "turn_deg": round(float(np.degrees(turned)), 2),
                             "reason": f"'{task.part}' {' and '.join(how)} in the gripper while held"})
    findings += [f for f in _task_failures(result, "grasp") if not any(g["task"] == f["task"] for g in findings)]
    if findings:
        return CheckResult("grasp", False, "; ".join(f"task {f['task']}: {f['reason']}" for f in findings), findings[0]["task"], findings)
    if not _pick_tasks(result):
        return CheckResult("grasp", True, "no grasps in this program")
    n = sum(1 for a in trace.attachments if a.action == "attach")
    return CheckResult("grasp", True, f"{n} grasp{'s' if n != 1 else ''}: both fingers on the part at least "
                                      f"{MIN_GRIP_DEPTH * 1000:.0f} mm deep, no slip in the hand")


def _fixed_down(trace, part: str, t: float) -> str:
    """How the part was fixed to the cell itself (a fixture or the floor) before t, by a weld bead or a tightened
    bolt, as the twin recorded it; "" when it was not."""
    static = ("fixture", "floor")
    for tj, robot, a, b in trace.joins:
        other = b if a == part else a if b == part else None
        if other and tj < t and trace.bodies.get(other) in static:
            return f"welded to {other} by {robot} at t={tj:.2f} s"
    for tb, robot, hole, owner, body in trace.bolted:
        if owner == part and tb < t and trace.bodies.get(body) in static:
            return f"bolted to {body} through {hole} by {robot} at t={tb:.2f} s"
    return ""


def _placement_error(result: SimResult, task, i: int) -> tuple[float, float]:
    """Distance (m) and angle (rad) between the part and its place target at trace step i."""
    trace, cell = result.trace, result.program.cell
    owner, feature = task.place
    owners = cell.fixtures if owner in cell.fixtures else cell.parts
    T_owner = cell.fixtures[owner].T_world_fixture.A if owner in cell.fixtures else np.array(trace.parts[owner][i])
    target = T_owner @ owners[owner].features[feature].T_owner_feature.A
    actual = np.array(trace.parts[task.part][i])
    cosang = (np.trace(target[:3, :3].T @ actual[:3, :3]) - 1) / 2
    return float(np.linalg.norm(actual[:3, 3] - target[:3, 3])), float(np.arccos(np.clip(cosang, -1.0, 1.0)))


def _within(dist: float, ang: float) -> bool:
    return dist <= PLACE_TOL_M and ang <= PLACE_TOL_RAD


def check_placement(result: SimResult) -> CheckResult:
    """Each place is judged where the part was when its task ended, and again at the end of the run when no
    later task handled the part (so a part that slides out of its nest later is caught). Parts no task
    handles must stay where the cell put them (a part knocked off the table is caught here); none may still be in a
    gripper when the cycle ends."""
    trace = result.trace
    records = {t["id"]: t for t in result.tasks}
    handlers = [t for t in result.program.tasks if t.part]
    findings, worst = [], (0.0, 0.0)

    def judge(task, part: str, target: str, when: str, i: int, error, since: int | None) -> bool:
        """error(k) -> (m, rad) off the target at trace step k; since: the step from which the part was free to
        settle (its release; the start of the run for parts no task handles), None if it never was."""
        nonlocal worst
        dist, ang = error(i)
        worst = max(worst, (dist, ang))
        if _within(dist, ang):
            return False
        # when the part went out of place for good: the step after the last one, back to `since`, it was in place
        # (a part that tips over as it is let go is wrong from then, before what it knocks on its way down)
        k = i
        while since is not None and k > since and not _within(*error(k - 1)):
            k -= 1
        status = records[task.id]["status"] if task else "done"
        why = "" if status == "done" else f" (task {status})"
        off = f"; out of place from t={trace.t[k]:.2f} s" if k < i else ""
        findings.append({"task": task.id if task else None, "part": part, "target": target, "when": when, "t_s": round(trace.t[i], 4),
                         "t_first_s": round(trace.t[k], 4), "error_mm": round(dist * 1000, 2), "error_deg": round(float(np.degrees(ang)), 2),
                         "reason": f"'{part}' was {dist * 1000:.1f} mm and {np.degrees(ang):.1f} deg from {target} {when}{why}{off}"})
        return True

    for task in (t for t in handlers if t.kind == "pick_place"):
        rec = records[task.id]
        later = [t for t in handlers if t.part == task.part and t is not task and records[t.id]["start_s"] is not None
                 and rec["end_s"] is not None and records[t.id]["start_s"] >= rec["end_s"]]
        moments = [("when the task ended", trace.index_at(rec["end_s"]))] if rec["status"] == "done" else []
        if not later:
            moments.append(("at the end of the run", len(trace.t) - 1))
        for when, i in moments:
            # the part was free to settle from the task's last release of it (a part still in the hand never was)
            lets_go = [a.t for a in trace.attachments if a.part == task.part and a.action == "detach" and a.robot == task.robot
                       and rec["start_s"] is not None and rec["start_s"] - 1e-9 <= a.t <= trace.t[i] + 1e-9]
            since = trace.index_at(lets_go[-1]) if lets_go else None
            if judge(task, task.part, ".".join(task.place), when, i, lambda k, task=task: _placement_error(result, task, k), since):
                break
    handled = {t.part for t in handlers}
    for part in result.program.cell.parts:
        if part not in handled:
            # a part the cell lays on another (a loaded pallet, a stack on it) belongs where it was on that part, which
            # is judged in turn
            carrier = trace.resting.get(part)

            def frame(k: int, part=part, carrier=carrier) -> np.ndarray:
                T = np.array(trace.parts[part][k])
                return np.linalg.solve(np.array(trace.parts[carrier][k]), T) if carrier else T

            first = frame(0)

            def moved(k: int, first=first, frame=frame) -> tuple[float, float]:
                now = frame(k)
                cosang = (np.trace(first[:3, :3].T @ now[:3, :3]) - 1) / 2
                return float(np.linalg.norm(now[:3, 3] - first[:3, 3])), float(np.arccos(np.clip(cosang, -1, 1)))

            judge(None, part, f"where the cell put it on {carrier}" if carrier else "where the cell put it",
                  "at the end of the run, though no task handles it", len(trace.t) - 1, moved, 0)
    for h in holdings(trace):
        if h.t1 > trace.t[-1]:  # still in the hand when the run ended
            task = next((t for t in reversed(handlers) if t.part == h.part and t.robot == h.robot
                         and records[t.id]["start_s"] is not None and records[t.id]["start_s"] <= h.t0 + 1e-9), None)
            if task is not None and records[task.id]["status"] == "done":
                findings.append({"task": task.id, "part": h.part, "t_s": round(trace.t[-1], 4),
                                 "reason": f"'{h.part}' is still in {h.robot}'s gripper at the end of the cycle: the task "
                                           f"picks it and no task puts it down, so the next cycle cannot start"})
    findings += [f for f in _task_failures(result, "placement") if not any(g["task"] == f["task"] for g in findings)]
    if findings:
        # tasks that were cut short or never ran (consequences of another failure) after those that ran
        cut = {t["id"] for t in result.tasks if t["status"] in ("stopped", "not_run")}
        findings.sort(key=lambda f: (f["task"] in cut, -f.get("error_mm", 0.0)))
        return CheckResult("placement", False, "; ".join((f"task {f['task']}: " if f["task"] else "") + f["reason"] for f in findings),
                           findings[0]["task"], findings)
    return CheckResult("placement", True, f"every part ended within {PLACE_TOL_M * 1000:.0f} mm / {np.degrees(PLACE_TOL_RAD):.0f} deg of "
                                          f"its target (worst {worst[0] * 1000:.2f} mm, {np.degrees(worst[1]):.2f} deg)")


def check_completion(result: SimResult) -> CheckResult:
    bad = [t for t in result.tasks if t["status"] != "done"]
    if result.timed_out:
        running = next((t for t in bad if t["status"] == "stopped"), bad[0] if bad else None)
        return CheckResult("completion", False, (running or {}).get("reason", "completion: the cycle did not finish")[12:]
                           + (f" (task {running['id']} was still running)" if running else ""), running and running["id"],
                           [{"task": t["id"], "status": t["status"], "reason": t.get("reason")} for t in bad])
    if bad:
        failed = [t for t in bad if t["status"] == "failed"]
        detail = "; ".join(f"task {t['id']} {t['status']}" + (f": {t['reason']}" if "reason" in t else "") for t in failed + [t for t in bad if t not in failed])
        return CheckResult("completion", False, detail, (failed or bad)[0]["id"], [{"task": t["id"], "status": t["status"], "reason": t.get("reason")} for t in bad])
    return CheckResult("completion", True, f"all {len(result.tasks)} tasks done")


def check_cycle_time(result: SimResult) -> CheckResult:
    takt, cycle = result.program.takt_s, result.cycle_time
    digits = 2
    while digits < 6 and f"{cycle:.{digits}f}" == f"{takt:.{digits}f}" and cycle != takt:
        digits += 1  # show enough digits that two different times never read the same
    if cycle > takt:
        return CheckResult("cycle_time", False, f"cycle {cycle:.{digits}f} s is over the takt time of {takt:.{digits}f} s")
    return CheckResult("cycle_time", True, f"cycle {cycle:.{digits}f} s within the takt time of {takt:.{digits}f} s")


def run_checks(result: SimResult) -> list[CheckResult]:
    """All checks, in a stable order."""
    checks = [check_completion(result), check_reach(result), check_joint_limits(result), check_velocity_limits(result),
              check_tracking(result), check_collision(result.program, result.trace, Timeline(result.events)),
              check_grasp(result), check_placement(result), check_effort_limits(result),
              check_clearance(result.program, result.trace, Timeline(result.events))]
    from cellctl.validate.process import check_fasten, check_interlocks, check_weld

    kinds = {t.kind for t in result.program.tasks}
    if result.program.cell.zones or len(result.program.cell.robots) > 1:
        checks.append(check_interlocks(result))
    if kinds & {"weld", "spot"}:
        checks.append(check_weld(result))
    if "fasten" in kinds:
        checks.append(check_fasten(result))
    if result.program.takt_s is not None:
        checks.append(check_cycle_time(result))
    return checks
