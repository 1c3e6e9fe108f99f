"""Validation: checks computed from the recorded simulated world, gathered into a Report."""

from __future__ import annotations

from cellctl.model.yamlsource import display_path
from cellctl.twin.trace import SimResult
from cellctl.validate.checks import run_checks
from cellctl.fingerprint import fingerprint
from cellctl.validate.result import CheckResult, Report

__all__ = ["CheckResult", "Report", "build_report"]

# Failed checks are listed by the time of their first finding; at the same time, in this order: what
# breaks hardware first, consequences last.
SEVERITY = ["collision", "interlocks", "reach", "joint_limits", "velocity_limits", "effort_limits", "clearance", "grasp",
            "placement", "weld", "fasten", "tracking", "cycle_time", "completion"]


def _first_time(check: CheckResult, tasks: dict) -> float:
    """When the first thing this check found happened: the earliest fault is the likeliest root cause. What a task
    stopped by the cell (or never run) left undone dates from the stop: it is a consequence of another failure."""
    times = []
    for f in check.findings:
        task = tasks.get(f.get("task"), {})
        cut = task.get("status") in ("stopped", "not_run")
        t = f.get("t_first_s", None if cut else f.get("t_s"))
        if t is None:
            t = task.get("end_s")
        if t is not None:
            times.append(t)
    return min(times) if times else float("inf")


def build_report(result: SimResult) -> Report:
    """Run every check over a simulated run and gather the report, failures first, likeliest root causes first."""
    tasks = {t["id"]: t for t in result.tasks}
    checks = sorted(run_checks(result), key=lambda c: (c.passed, _first_time(c, tasks), SEVERITY.index(c.name)))
    prog = result.program
    return Report(prog.name, display_path(prog.file), prog.cell.name, prog.cell.shown, result.seed,
                  all(c.passed for c in checks), result.cycle_time, prog.takt_s, checks, result.tasks, result.events,
                  fingerprint(prog))
