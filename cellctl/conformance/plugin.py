"""pytest plugin of the conformance kit (registered as the `cellctl_conformance` pytest11 entry point): the
`--driver`, `--driver-option` and `--driver-cell` options, the `driver_spec` fixture they fill, and a summary of the
latencies the kit measured."""

from __future__ import annotations

from pathlib import Path

import pytest

FIGURES: list[tuple[str, str, float, float]] = []  # (driver set, what, measured s, promised s), filled by the kit


def pytest_addoption(parser) -> None:
    group = parser.getgroup("cellctl", "cellctl driver conformance kit")
    group.addoption("--driver", metavar="MODULE:FACTORY", default=None,
                    help="driver factory to put through the conformance kit, e.g. cellctl.drivers.ideal:conformance_factory")
    group.addoption("--driver-option", metavar="KEY=VALUE", action="append", default=[],
                    help="option passed to the driver factory (repeatable)")
    group.addoption("--driver-cell", metavar="CELL.yaml", default=None,
                    help="cell file the factory builds its drivers for (default: the factory's own choice)")


@pytest.fixture
def driver_spec(request) -> tuple[str, dict, Path | None]:
    """(factory spec, options, cell file) from the command line; the kit is skipped without --driver."""
    from cellctl.drivers.factory import parse_options

    spec = request.config.getoption("--driver")
    if not spec:
        pytest.skip("no driver under test: run with --driver package.module:factory")
    cell = request.config.getoption("--driver-cell")
    return spec, parse_options(request.config.getoption("--driver-option")), Path(cell) if cell else None


def pytest_sessionfinish(session) -> None:
    """Under pytest-xdist (-n): a worker hands the figures it measured to the controller, which prints them."""
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["cellctl_figures"] = list(FIGURES)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    FIGURES.extend(tuple(f) for f in getattr(node, "workeroutput", {}).get("cellctl_figures", []))


def pytest_terminal_summary(terminalreporter) -> None:
    if not FIGURES:
        return
    terminalreporter.section("driver conformance: measured latencies")
    for who, what, measured, promised in FIGURES:
        terminalreporter.write_line(f"{who:40s} {what:34s} {measured * 1000:8.1f} ms  (promised {promised * 1000:.1f} ms)")
