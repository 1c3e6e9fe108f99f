"""The conformance kit (cellctl/conformance) run against every driver set cellctl ships: the ideal drivers, the
twin's drivers (a gripper cell and a weld cell) and the Modbus TCP tool drivers against the device simulator
process on loopback. An integrator runs the same tests on theirs: python -m pytest --driver pkg.mod:factory
--pyargs cellctl.conformance."""

from __future__ import annotations

import pytest

from cellctl.conformance.test_kit import *  # noqa: F401,F403 -- the kit's tests, collected here for each driver set
from conftest import ROOT

SHIPPED = {
    "ideal": ("cellctl.drivers.ideal:conformance_factory", {}, None),
    "sim-gripper": ("cellctl.drivers.sim:factory", {}, ROOT / "sim/pick_place_cell.yaml"),
    "sim-weld": ("cellctl.drivers.sim:factory", {}, ROOT / "sim/weld_station_cell.yaml"),
    "modbus": ("cellctl.drivers.modbus:conformance_factory", {}, None),
}


@pytest.fixture(params=list(SHIPPED), ids=list(SHIPPED))
def driver_spec(request):
    """Overrides the kit plugin's --driver fixture: every shipped driver set in turn."""
    return SHIPPED[request.param]
