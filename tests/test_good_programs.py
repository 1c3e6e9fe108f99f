"""Every program under tests/good/ passes: correct programs a cell engineer writes (staged parts, loaded pallets,
robots kept apart by zones, order or distance, thick bolted joints) must not be failed by a check."""

from __future__ import annotations

import pytest

from conftest import ROOT, validate_file

GOOD = sorted((ROOT / "tests" / "good").glob("*.yaml"))


@pytest.mark.parametrize("program", GOOD, ids=[p.stem for p in GOOD])
def test_a_correct_program_passes_every_check(program):
    report = validate_file(str(program))
    assert report.passed, "; ".join(f"{c.name}: {c.detail}" for c in report.failures)
