"""Check results and the report: what validation found, as JSON (stable names) and as readable text."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CheckResult:
    name: str
    passed: bool
    detail: str
    task: str | None = None
    findings: list[dict] = field(default_factory=list)  # worst first

    def to_json(self) -> dict:
        return {"name": self.name, "passed": self.passed, "detail": self.detail, "task": self.task,
                "findings": self.findings}


@dataclass
class Report:
    program: str
    program_file: str
    cell: str
    cell_file: str
    seed: int
    passed: bool
    cycle_time_s: float
    takt_s: float | None
    checks: list[CheckResult]
    tasks: list[dict]
    events: list[dict]
    fingerprint: dict | None = None  # what was validated, by content (cellctl.fingerprint); deploy checks it

    def to_json(self) -> dict:
        return {"program": self.program, "program_file": self.program_file, "cell": self.cell,
                "cell_file": self.cell_file, "passed": self.passed, "cycle_time_s": self.cycle_time_s,
                "takt_s": self.takt_s, "seed": self.seed, "checks": [c.to_json() for c in self.checks],
                "tasks": self.tasks, "events": self.events,
                **({"fingerprint": self.fingerprint} if self.fingerprint else {})}

    def check(self, name: str) -> CheckResult:
        return next(c for c in self.checks if c.name == name)

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]
