"""Modbus TCP cell I/O against the device simulator: a pymodbus server in a separate process on loopback that plays
a gripper, a weld source, a nutrunner and a PLC. A killed server (a lost connection) and a device alarm must fail the
command, and the task using the tool, with a clear reason."""

from __future__ import annotations

import time

import numpy as np
import pytest

from cellctl.control.orchestrator import CellMode, Orchestrator
from cellctl.drivers.base import MotionStatus
from cellctl.drivers.ideal import SteppedClock
from cellctl.drivers.modbus import (Address, ModbusGripper, ModbusNutrunner, ModbusWeldSource, PlcInterlock, PlcZoneBook,
                                    factory)
from cellctl.drivers.modbus_devices import UNITS, DeviceServer
from cellctl.errors import DriverError
from cellctl.model import load_program
from conftest import ROOT
from fakes import ideal_contexts

BOLT_DOWN = ROOT / "tests/good/bolt_down.yaml"


@pytest.fixture
def server():
    with DeviceServer() as s:
        yield s


def at(server, kind: str) -> Address:
    return Address("127.0.0.1", server.port, UNITS[kind])


def poll(handle, seconds: float = 3.0, each=None) -> MotionStatus:
    deadline = time.monotonic() + seconds
    while handle.status() is MotionStatus.RUNNING and time.monotonic() < deadline:
        if each is not None:
            each()
        time.sleep(0.002)
    return handle.status()


def test_the_gripper_closes_over_time_onto_the_part(server):
    gripper = ModbusGripper("hand", at(server, "gripper"))
    assert gripper.state().opening == pytest.approx(0.045)
    openings = []
    handle = gripper.close()
    assert poll(handle, each=lambda: openings.append(gripper.state().opening)) is MotionStatus.DONE, handle.reason
    s = gripper.state()
    assert s.holding and s.opening == pytest.approx(0.02) and not s.moving
    assert len({round(o, 4) for o in openings}) > 5  # it travelled, it did not jump
    assert poll(gripper.open()) is MotionStatus.DONE and not gripper.state().holding


def test_the_nutrunner_ramps_the_torque_to_the_target(server):
    runner = ModbusNutrunner("runner", at(server, "nutrunner"))
    assert runner.max_torque == pytest.approx(50.0)
    torques = []
    handle = runner.run(12.0, np.radians(3600), 20.0)
    assert poll(handle, each=lambda: torques.append(runner.state().torque)) is MotionStatus.DONE, handle.reason
    assert runner.state().torque == pytest.approx(12.0, abs=0.5) and np.all(np.diff(torques) >= 0)
    assert runner.run(60.0, 1.0, 3.0).reason.startswith("refused: 60.0 N m is over the nutrunner's rating")
    short = runner.run(45.0, np.radians(5), 3.0)  # a window too small to reach the torque in
    assert poll(short) is MotionStatus.FAILED and "angle window was used up" in short.reason


def test_a_killed_device_fails_the_command_as_a_lost_connection(server):
    runner = ModbusNutrunner("runner", at(server, "nutrunner"))
    handle = runner.run(12.0, np.radians(3600), 1.0)  # slow: still running when the device dies
    deadline = time.monotonic() + 1.0
    while not runner.state().running and time.monotonic() < deadline:  # the device has taken the command
        time.sleep(0.002)
    assert handle.status() is MotionStatus.RUNNING
    server.kill()
    started = time.monotonic()
    assert poll(handle) is MotionStatus.FAILED
    assert time.monotonic() - started < 0.5
    assert handle.reason.startswith(f"connection lost to 127.0.0.1:{server.port}/3")
    s = runner.state()  # still answers, with the last values
    assert not s.connected and s.fault.startswith("connection lost") and s.torque >= 0
    refused = runner.run(12.0, 1.0, 1.0)
    assert refused.status() is MotionStatus.FAILED and "connection lost" in refused.reason
    runner.reset()  # the device is still gone: the fault stays
    assert not runner.state().connected


def test_a_device_fault_fails_the_command_until_reset(server):
    weld = ModbusWeldSource("torch", at(server, "weld_torch"))
    assert poll(weld.arc_on()) is MotionStatus.DONE and weld.state().arc_established
    gripper = ModbusGripper("hand", at(server, "gripper"))
    handle = gripper.close()
    server.inject_fault(UNITS["gripper"], 4)
    assert poll(handle) is MotionStatus.FAILED
    assert handle.reason == "hand: device fault 4: safety circuit open"
    assert gripper.state().fault == "device fault 4: safety circuit open"
    assert gripper.open().status() is MotionStatus.FAILED  # refused while faulted
    gripper.reset()
    assert gripper.state().fault == "" and poll(gripper.open()) is MotionStatus.DONE
    assert weld.state().arc_established and not weld.state().fault  # the other device on the server was not touched


def test_an_unreachable_device_is_a_driver_error_naming_the_address(server):
    port = server.port
    server.kill()
    with pytest.raises(DriverError, match=f"gripper 'hand': cannot reach the device at 127.0.0.1:{port}/1"):
        ModbusGripper("hand", Address("127.0.0.1", port, 1), timeout=0.2)


def fasten_rig(server):
    program = load_program(BOLT_DOWN)
    clock = SteppedClock(1 / 240)
    contexts = ideal_contexts(program, clock)
    contexts["runner"].nutrunner = ModbusNutrunner("runner", at(server, "nutrunner"))
    return Orchestrator(program, contexts, clock), contexts["runner"].nutrunner, clock


def run_fasten(orch, runner, clock, trouble) -> None:
    """Tick until the cell finishes; `trouble()` once the spindle turns (the device runs on wall time, so the ticks
    wait for it while it does)."""
    fired = False
    while not orch.finished and clock.t < 120.0:
        orch.tick()
        clock.advance()
        if runner._job is not None:
            if not fired and runner.state().running:
                trouble()
                fired = True
            time.sleep(0.002)


def test_a_fasten_task_fails_with_the_device_fault(server):
    orch, runner, clock = fasten_rig(server)
    run_fasten(orch, runner, clock, lambda: server.inject_fault(UNITS["nutrunner"], 1))
    assert orch.state is CellMode.FAILED
    task, failure = orch.failure
    assert task == "bolt_plate" and failure.check == "fasten"
    assert failure.message == "run_down: runner: device fault 1: drive overload"
    assert orch.tasks["bolt_plate"]["reason"] == "fasten: run_down: runner: device fault 1: drive overload"


def test_a_fasten_task_fails_with_the_lost_connection(server):
    orch, runner, clock = fasten_rig(server)
    run_fasten(orch, runner, clock, server.kill)
    assert orch.state is CellMode.FAILED
    _, failure = orch.failure
    assert failure.check == "fasten"
    assert failure.message.startswith(f"run_down: connection lost to 127.0.0.1:{server.port}/3")


def test_the_fasten_task_finishes_on_a_healthy_device(server):
    orch, runner, clock = fasten_rig(server)
    run_fasten(orch, runner, clock, lambda: None)
    assert orch.state is CellMode.DONE, orch.failure
    assert runner.state().torque >= 12.0


def test_the_plc_grants_free_zones_and_withholds_occupied_ones(server):
    plc = PlcInterlock(["cell_a", "cell_b"], at(server, "plc"))
    assert plc.request({"cell_a"}) == {"cell_a"}  # asked; the grant comes on a later poll
    deadline = time.monotonic() + 1.0
    while "cell_a" not in plc.granted and time.monotonic() < deadline:
        time.sleep(0.01)
        plc.poll()
    assert plc.granted == {"cell_a"}
    server.block_zones(0b10)  # an operator is in cell_b
    assert plc.request({"cell_b"}) == {"cell_b"}
    for _ in range(20):
        time.sleep(0.01)
        plc.poll()
    assert "cell_b" not in plc.granted and plc.blocked == {"cell_b"}
    plc.release({"cell_a"})
    assert plc.granted == set()
    time.sleep(0.7)  # no polls: the PLC's watchdog drops every grant
    plc.requested = {"cell_a"}
    regs = plc.link.read(10, 1)
    assert regs == [0]
    plc.close()


def test_a_zone_book_with_a_plc_waits_for_the_grant(server):
    from cellctl.control.zones import ZoneBook

    events = []
    book = PlcZoneBook(ZoneBook({"nest": None}, SteppedClock(), events.append), PlcInterlock(["nest"], at(server, "plc")))
    server.block_zones(0b1)
    assert book.acquire("arm", {"nest"}, "load") == {"nest"} and book.holder["nest"] is None
    assert events[-1]["to"] == "waiting" and events[-1]["held_by"] == "plc"
    server.block_zones(0)
    deadline = time.monotonic() + 1.0
    while book.acquire("arm", {"nest"}, "load") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert book.holder["nest"] == "arm"
    book.release_all_but("arm", set(), "load")
    assert book.holder["nest"] is None and book.plc.requested == set()


def test_the_factory_puts_modbus_tools_on_the_cell_s_robots(server):
    program = load_program(BOLT_DOWN)
    with pytest.raises(DriverError, match="the cell has no robot 'ghost'; robots: runner"):
        factory(program.cell, ghost=f"127.0.0.1:{server.port}/3")
    drivers = factory(program.cell, runner=f"127.0.0.1:{server.port}/3", plc=f"127.0.0.1:{server.port}/4")
    try:
        assert isinstance(drivers.tools["runner"], ModbusNutrunner) and drivers.interlock is not None
        assert drivers.robots["runner"].clock.__class__.__name__ == "WallClock"
    finally:
        drivers.close()
