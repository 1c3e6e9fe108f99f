"""The driver conformance kit: a pytest suite any driver runs against itself.

    python -m pytest --driver package.module:factory --pyargs cellctl.conformance
    python -m pytest --driver cellctl.drivers.ideal:conformance_factory cellctl/conformance     # from the repo

`--driver-option KEY=VALUE` (repeatable) passes options to the factory, `--driver-cell FILE.yaml` a cell. The factory
returns `cellctl.drivers.factory.CellDrivers`; the kit tests the first robot and every tool in it: the contract it
declares, state reporting, execution within its tolerance, refusal of trajectories beyond its limits, stop, e-stop
and feed-hold timing, fault reporting and reset, and a lost connection. Tests a driver set cannot be put through
(no way to make the device fault on purpose, no connection to lose) are skipped with the factory's reason. The
measured latencies are printed at the end of the run. See docs/drivers.md.
"""
