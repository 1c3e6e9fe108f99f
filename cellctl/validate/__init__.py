"""Validation: checks computed from the recorded simulated world, gathered into a Report."""

from __future__ import annotations

from cellctl.model.yamlsource import display_path
from cellctl.twin.trace import SimResult
from cellctl.validate.checks import run_checks
from cellctl.validate.result import CheckResult, Report

__all__ = ["CheckResult", "Report", "build_report"]

# Failed checks are listed in this order: what breaks hardware first, consequences last.
SEVERITY = ["collision", "reach", "joint_limits", "grasp", "placement", "velocity_limits", "tracking", "cycle_time",
            "completion"]


def build_report(result: SimResult) -> Report:
    """Run every check over a simulated run and gather the report, failures first, likeliest root causes first."""
    checks = sorted(run_checks(result), key=lambda c: (c.passed, SEVERITY.index(c.name)))
    prog = result.program
    return Report(prog.name, display_path(prog.file), prog.cell.name, prog.cell.shown, result.seed,
                  all(c.passed for c in checks), result.cycle_time, prog.takt_s, checks, result.tasks, result.events)
