"""The named checks. Each reads the recorded simulated world (trace) and the controllers' timeline."""

from __future__ import annotations

import numpy as np

from cellctl.twin.trace import SimResult
from cellctl.validate.collision import check_collision
from cellctl.validate.result import CheckResult
from cellctl.validate.timeline import Timeline

JOINT_LIMIT_TOL = 1e-3  # rad
VELOCITY_TOL = 1.05  # simulated speed may exceed the limit by 5 % (servo overshoot) before it counts
TRACKING_TOL = 0.01  # rad between commanded and simulated joint position
PLACE_TOL_M = 0.003
PLACE_TOL_RAD = np.radians(2.0)
GRASP_SLIP_M = 0.002  # how far a held part may move relative to the TCP
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
    return [{"task": t["id"], "reason": t["reason"]} for t in _failed(result, check)]


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
    return _verdict("velocity_limits", findings,
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
            findings.append({"task": task.id, "part": task.part, "t_s": round(t_close, 4), "touching": touching,
                             "reason": f"fingers closed on air: {len(touching)} of 2 fingers touched '{task.part}'"
                                       if not touching else f"only {', '.join(touching)} touched '{task.part}'"})
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
        slip = float(drift.max())
        if slip > GRASP_SLIP_M:
            findings.append({"task": task.id, "part": task.part, "t_s": round(trace.t[i0 + int(np.argmax(drift > GRASP_SLIP_M))], 4),
                             "reason": f"'{task.part}' moved {slip * 1000:.1f} mm in the gripper while held"})
    findings += [f for f in _task_failures(result, "grasp") if not any(g["task"] == f["task"] for g in findings)]
    if findings:
        return CheckResult("grasp", False, "; ".join(f"task {f['task']}: {f['reason']}" for f in findings), findings[0]["task"], findings)
    n = len(_pick_tasks(result))
    if n == 0:
        return CheckResult("grasp", True, "no grasps in this program")
    return CheckResult("grasp", True, f"{n} grasp{'s' if n != 1 else ''}: both fingers on the part at least "
                                      f"{MIN_GRIP_DEPTH * 1000:.0f} mm deep, no slip in the hand")


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


def check_placement(result: SimResult) -> CheckResult:
    """Each place is judged where the part was when its task ended, and again at the end of the run when no
    later task handled the part (so a part that slides out of its nest later is caught). Parts no task
    handles must stay where the cell put them (a part knocked off the table is caught here)."""
    trace = result.trace
    records = {t["id"]: t for t in result.tasks}
    handlers = [t for t in result.program.tasks if t.part]
    findings, worst = [], (0.0, 0.0)

    def judge(task, part: str, target: str, when: str, i: int, dist: float, ang: float) -> bool:
        nonlocal worst
        worst = max(worst, (dist, ang))
        if dist <= PLACE_TOL_M and ang <= PLACE_TOL_RAD:
            return False
        status = records[task.id]["status"] if task else "done"
        why = "" if status == "done" else f" (task {status})"
        findings.append({"task": task.id if task else None, "part": part, "target": target, "when": when, "t_s": round(trace.t[i], 4),
                         "error_mm": round(dist * 1000, 2), "error_deg": round(float(np.degrees(ang)), 2),
                         "reason": f"'{part}' was {dist * 1000:.1f} mm and {np.degrees(ang):.1f} deg from {target} {when}{why}"})
        return True

    for task in (t for t in handlers if t.kind == "pick_place"):
        rec = records[task.id]
        later = [t for t in handlers if t.part == task.part and t is not task and records[t.id]["start_s"] is not None
                 and rec["end_s"] is not None and records[t.id]["start_s"] >= rec["end_s"]]
        moments = [("when the task ended", trace.index_at(rec["end_s"]))] if rec["status"] == "done" else []
        if not later:
            moments.append(("at the end of the run", len(trace.t) - 1))
        for when, i in moments:
            if judge(task, task.part, ".".join(task.place), when, i, *_placement_error(result, task, i)):
                break
    for part in result.program.cell.parts:
        if not any(t.part == part for t in handlers):
            first, last = np.array(trace.parts[part][0]), np.array(trace.parts[part][-1])
            cosang = (np.trace(first[:3, :3].T @ last[:3, :3]) - 1) / 2
            judge(None, part, "where the cell put it", "at the end of the run, though no task handles it", len(trace.t) - 1,
                  float(np.linalg.norm(last[:3, 3] - first[:3, 3])), float(np.arccos(np.clip(cosang, -1, 1))))
    findings += [f for f in _task_failures(result, "placement") if not any(g["task"] == f["task"] for g in findings)]
    if findings:
        findings.sort(key=lambda f: -f.get("error_mm", 0.0))
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
              check_grasp(result), check_placement(result)]
    from cellctl.validate.process import check_fasten, check_interlocks, check_weld

    kinds = {t.kind for t in result.program.tasks}
    if result.program.cell.zones:
        checks.append(check_interlocks(result))
    if "weld" in kinds:
        checks.append(check_weld(result))
    if "fasten" in kinds:
        checks.append(check_fasten(result))
    if result.program.takt_s is not None:
        checks.append(check_cycle_time(result))
    return checks
