"""Shared helpers: paths, and a cached whole-program validation (each program is simulated once per session)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FAULTY = ROOT / "tests" / "faulty"


@lru_cache(maxsize=None)
def validate_file(path: str, seed: int = 0):
    from cellctl.model import load_program
    from cellctl.simulate import simulate
    from cellctl.validate import build_report

    return build_report(simulate(load_program(Path(path)), seed=seed))


@pytest.fixture
def root() -> Path:
    return ROOT
