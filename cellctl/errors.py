"""One root for every broken contract, so the CLI can turn any of them into a clear message."""

from __future__ import annotations


class CellctlError(Exception):
    """Base of every error cellctl raises on purpose."""


class ProgramError(CellctlError):
    """Bad input in a cell or program file: carries the file and line, and says what would be valid."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        self.message = message
        self.file = file
        self.line = line
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        super().__init__(where + message)


class PlanningError(CellctlError):
    """A motion could not be planned (the reason says why: reach, limits, singularity, collision); `check` names
    the validation check the fault belongs to."""

    def __init__(self, message: str, check: str = "reach"):
        self.check = check
        super().__init__(message)


class DriverError(CellctlError):
    """A driver broke its contract or lost its device."""
