"""Driver factories: how `cellctl deploy` and the conformance kit get the drivers of a cell.

A factory is any callable `factory(cell, **options) -> CellDrivers`, named on the command line as
`package.module:callable` (options as `--driver-option KEY=VALUE`, passed as strings). `cell` is the program's
cell (a `cellctl.model.Cell`); the conformance kit passes None unless it is given `--driver-cell`, and a factory
then builds what it can test on its own.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np

from cellctl.drivers.base import Clock, RobotDriver, RobotLimits
from cellctl.errors import DriverError


@dataclass
class CellDrivers:
    """The drivers of a cell and the clock they run on.

    `advance()` lets one control period pass: a simulator steps, hardware drivers wait for the next period (wall
    time). `close()` releases connections and processes. `disconnect(driver)` and `fault(driver, reason)` are test
    hooks for the conformance kit (break that driver's connection, make its device fault); None where a driver set
    cannot do it (the kit then skips the test and says why: `untestable`)."""

    clock: Clock
    robots: dict[str, RobotDriver]
    tools: dict[str, Any] = field(default_factory=dict)  # keyed by the robot that carries the tool
    advance: Callable[[], None] = lambda: None
    close: Callable[[], None] = lambda: None
    disconnect: Callable[[Any], None] | None = None
    fault: Callable[[Any, str], None] | None = None
    untestable: dict[str, str] = field(default_factory=dict)  # hook name -> why it is not available
    interlock: Any = None  # a zone interlock with a PLC (cellctl.drivers.modbus.PlcInterlock), if the cell has one

    def all(self) -> list:
        """Every driver, robots first."""
        return [*self.robots.values(), *self.tools.values()]


class WallClock:
    """Wall time for drivers of real devices: `advance()` waits for the next period boundary, then steps every
    attached driver (ideal drivers running in real time) by the time that really passed."""

    def __init__(self, dt: float):
        self.dt = dt
        self._t0 = time.monotonic()
        self._next = self._t0
        self._last = 0.0
        self._drivers: list = []

    def now(self) -> float:
        return time.monotonic() - self._t0

    @property
    def t(self) -> float:
        return self.now()

    def attach(self, driver) -> None:
        self._drivers.append(driver)

    def advance(self) -> None:
        self._next += self.dt
        delay = self._next - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            self._next = time.monotonic()  # late: do not try to catch up with a burst of periods
        now = self.now()
        dt, self._last = now - self._last, now
        for d in self._drivers:
            d.step(dt)


def load_factory(spec: str) -> Callable[..., CellDrivers]:
    """The callable named by 'package.module:callable'; DriverError saying what is wrong otherwise."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise DriverError(f"--driver {spec!r} must name a factory as package.module:callable, "
                          "like cellctl.drivers.ideal:factory")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise DriverError(f"--driver {spec!r}: cannot import {module_name!r} ({exc}); is the driver package installed?") from exc
    factory = getattr(module, attr, None)
    if not callable(factory):
        names = sorted(n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n)))
        raise DriverError(f"--driver {spec!r}: {module_name} has no callable {attr!r}; it has: {', '.join(names)}")
    return factory


def parse_options(items: list[str] | None) -> dict[str, str]:
    """KEY=VALUE strings (from --driver-option) as a dict."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise DriverError(f"--driver-option {item!r} must be KEY=VALUE, like realtime=true")
        out[key.strip()] = value.strip()
    return out


def build_drivers(spec: str, cell, options: dict[str, str] | None = None) -> CellDrivers:
    """Call the factory named by `spec` for `cell` and check that it answered with CellDrivers."""
    factory = load_factory(spec)
    try:
        drivers = factory(cell, **(options or {}))
    except TypeError as exc:
        raise DriverError(f"--driver {spec!r} did not accept (cell, {', '.join(options or {}) or 'no options'}): {exc}") from exc
    if not isinstance(drivers, CellDrivers):
        raise DriverError(f"--driver {spec!r} returned {type(drivers).__name__}, not CellDrivers "
                          "(see cellctl.drivers.factory)")
    return drivers


@lru_cache(maxsize=16)
def _limits_of(urdf: Path) -> RobotLimits:
    from cellctl.model.cell import FLANGE
    from cellctl.model.urdf_info import chain

    joints = chain(urdf, FLANGE).joints
    return RobotLimits(np.array([j.lower for j in joints]), np.array([j.upper for j in joints]),
                       np.array([j.velocity for j in joints]))


def robot_limits(urdf: Path) -> RobotLimits:
    """The joint limits a robot's URDF declares (base to flange), as a driver enforces them."""
    return _limits_of(Path(urdf).resolve())
