"""Cell I/O over Modbus TCP: gripper, weld source and nutrunner drivers and a PLC zone interlock (pymodbus client).

Every device speaks the same handshake over holding registers (docs/drivers.md has the full map):

    HR 0      command code (the driver writes)            1 stop, 2 reset faults, 10.. the device's own
    HR 1      sequence: a new command each time it changes
    HR 2..5   arguments of the command (scaled integers)
    HR 10     status of the command `ack`: 0 idle, 1 busy, 2 done, 3 failed (the device writes)
    HR 11     ack: the sequence number the status is about
    HR 12     result: why that command failed (RESULTS)
    HR 13     fault: the device's latched fault (FAULTS), 0 none; cleared by a reset command once its cause is gone
    HR 14     heartbeat: the device counts it up at least every 100 ms
    HR 15..   measurements of the device

A command is one write of HR 0..5 (function 16), so the device never sees half of one; a poll is one read of
HR 10..(15 + measurements) (function 3). Drivers never block longer than one request: each poll is one round trip
with the client's timeout (default 0.2 s); they poll at most once per `poll_period` (default 5 ms), from `state()` and
from their handles' `status()`. A request that fails (refused, reset, timed out) is a lost connection: the running
command FAILS with the reason and the driver refuses commands until `reset()` reconnects. A device fault does the same
until a reset command clears it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from cellctl.drivers.base import GripperState, Handle, MotionStatus, NutrunnerState, WeldState
from cellctl.drivers.factory import CellDrivers, WallClock, build_drivers
from cellctl.errors import DriverError

# ----------------------------------------------------------------------------------------- the register map
HR_COMMAND, HR_SEQUENCE, HR_ARGS = 0, 1, 2
HR_STATUS, HR_ACK, HR_RESULT, HR_FAULT, HR_HEARTBEAT, HR_MEASURED = 10, 11, 12, 13, 14, 15
HR_SIM_FAULT = 20  # device simulator only: write a fault code here to make the simulated device fault
CMD_STOP, CMD_RESET = 1, 2
IDLE, BUSY, DONE, FAILED = 0, 1, 2, 3
GRIPPER_OPEN, GRIPPER_CLOSE = 10, 11
ARC_ON, ARC_OFF = 10, 11
NUTRUNNER_RUN = 10

RESULTS = {1: "timed out", 2: "stopped", 3: "refused: the device is faulted", 4: "no arc: the wire found no work to strike on",
           5: "the angle window was used up before the torque", 6: "the spindle stalled below the torque",
           7: "unknown command"}
FAULTS = {1: "drive overload", 2: "over-temperature", 3: "sensor or encoder error", 4: "safety circuit open",
          5: "internal error", 6: "supply voltage out of range", 7: "device watchdog: the controller's heartbeat stopped"}

# scales: register value = SI value / scale (unsigned 16-bit)
SCALE_OPENING = 1e-5  # m (0.01 mm)
SCALE_TORQUE = 0.01  # N m
SCALE_ANGLE = np.radians(0.1)  # rad (0.1 deg)
SCALE_SPEED = 0.01  # rad/s
SCALE_CURRENT = 1.0  # A
SCALE_VOLTAGE = 0.1  # V

# PLC zone interlock: bit z of a mask is zone z
PLC_REQUEST, PLC_WATCHDOG = 0, 1  # cellctl writes: zones it asks for; a counter it bumps every poll
PLC_GRANT, PLC_BLOCKED = 10, 11  # the PLC writes: zones granted to cellctl; zones held by something else
PLC_FAULT, PLC_HEARTBEAT = 13, 14
HR_SIM_BLOCK = 21  # device simulator only: zones something outside cellctl occupies (the PLC will not grant them)

DEFAULT_TIMEOUT = 0.2  # s a request may take before the connection counts as lost
DEFAULT_POLL = 0.005  # s: the least time between two polls of one device
HEARTBEAT_TIMEOUT = 0.5  # s without the device's heartbeat changing before it counts as lost


def encode(value: float, scale: float, what: str) -> int:
    """An SI value as an unsigned 16-bit register (DriverError if it does not fit)."""
    raw = int(round(value / scale))
    if not 0 <= raw <= 0xFFFF:
        raise DriverError(f"{what} {value:g} does not fit the register map (0 to {0xFFFF * scale:g} in steps of {scale:g})")
    return raw


@dataclass(frozen=True)
class Address:
    """Where a device answers: host, TCP port and Modbus unit (device) id."""

    host: str
    port: int = 502
    unit: int = 1

    @classmethod
    def parse(cls, text: str, what: str = "a Modbus device") -> "Address":
        """'host[:port][/unit]', like 192.168.0.20:502/3."""
        rest, _, unit = text.partition("/")
        host, _, port = rest.partition(":")
        try:
            return cls(host or "127.0.0.1", int(port) if port else 502, int(unit) if unit else 1)
        except ValueError:
            raise DriverError(f"{what}: {text!r} is not an address like 192.168.0.20:502/1 (host:port/unit)") from None

    def __str__(self) -> str:
        return f"{self.host}:{self.port}/{self.unit}"


class ModbusLink:
    """One TCP connection to a device (pymodbus' synchronous client, no retries): requests that fail mark it lost."""

    def __init__(self, address: Address, timeout: float = DEFAULT_TIMEOUT):
        from pymodbus.client import ModbusTcpClient

        self.address, self.timeout = address, timeout
        self.client = ModbusTcpClient(address.host, port=address.port, timeout=timeout, retries=0)
        self.lost = ""  # why the connection is lost ("" while it works)

    def connect(self) -> bool:
        self.client.close()
        if self.client.connect():
            self.lost = ""
            return True
        self.lost = f"connection lost: no answer from {self.address}"
        return False

    def read(self, start: int, count: int) -> list[int] | None:
        return self._request(lambda: self.client.read_holding_registers(start, count=count, device_id=self.address.unit),
                             count)

    def write(self, start: int, values: list[int]) -> bool:
        return self._request(lambda: self.client.write_registers(start, values, device_id=self.address.unit), 0) is not None

    def _request(self, call, count: int) -> list[int] | None:
        if self.lost:
            return None
        try:
            response = call()
        except Exception as exc:  # pymodbus raises ConnectionException, ModbusIOException, OSError, ...
            self.lost = f"connection lost to {self.address}: {exc}"
            self.client.close()
            return None
        if response.isError():
            self.lost = f"connection lost to {self.address}: the device answered {response}"
            return None
        return list(response.registers)[:count] if count else []

    def close(self) -> None:
        self.client.close()


class ModbusDevice:
    """The command/status handshake of one device, shared by every Modbus tool driver."""

    MEASURED = 0  # how many measurement registers from HR_MEASURED this device reports

    def __init__(self, name: str, address: Address | str, timeout: float = DEFAULT_TIMEOUT, poll_period: float = DEFAULT_POLL,
                 heartbeat_timeout: float | None = HEARTBEAT_TIMEOUT):
        self.name = name
        self.address = address if isinstance(address, Address) else Address.parse(address, name)
        self.poll_period, self.heartbeat_timeout = poll_period, heartbeat_timeout
        self.link = ModbusLink(self.address, timeout)
        self.t0 = time.monotonic()
        self.device_fault = ""
        self._seq = 0
        self._job: tuple[Handle, int] | None = None  # the running command's handle and sequence number
        self._polled = -np.inf
        self._beat: tuple[int, float] | None = None  # (heartbeat value, when it last changed)
        self.measured = [0] * self.MEASURED
        if not self.link.connect():
            raise DriverError(f"{self.kind} '{name}': cannot reach the device at {self.address}; is it on, and is the "
                              "address (host:port/unit) right?")
        self._poll(force=True)
        if self.link.lost:
            raise DriverError(f"{self.kind} '{name}' at {self.address}: {self.link.lost}")
        self._seq = self._ack

    kind = "Modbus device"

    # ------------------------------------------------------------------ what every driver reports
    @property
    def now(self) -> float:
        return time.monotonic() - self.t0

    @property
    def trouble(self) -> str:
        """Why the device cannot act now ("" when it can)."""
        return self.link.lost or self.device_fault

    def _reported(self) -> dict:
        self._poll()
        return {"fault": self.trouble, "connected": not self.link.lost}

    # ------------------------------------------------------------------ the handshake
    def _poll(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._polled < self.poll_period:
            return
        self._polled = now
        regs = self.link.read(HR_STATUS, HR_MEASURED - HR_STATUS + self.MEASURED)
        if regs is None:
            self._end(MotionStatus.FAILED, self.link.lost)
            return
        status, self._ack, result, fault, beat = regs[:5]
        self.measured = regs[5:]
        if self.heartbeat_timeout is not None:
            if self._beat is None or beat != self._beat[0]:
                self._beat = (beat, now)
            elif now - self._beat[1] > self.heartbeat_timeout:
                self.link.lost = f"connection lost: {self.address} stopped counting its heartbeat (the device hangs)"
                self._end(MotionStatus.FAILED, self.link.lost)
                return
        self.device_fault = f"device fault {fault}: {FAULTS.get(fault, 'see the device manual')}" if fault else ""
        if self.device_fault:
            self._end(MotionStatus.FAILED, f"{self.name}: {self.device_fault}")
        elif self._job is not None and self._ack == self._job[1]:
            if status == DONE:
                self._end(MotionStatus.DONE)
            elif status == FAILED:
                self._end(MotionStatus.STOPPED if result == 2 else MotionStatus.FAILED,
                          RESULTS.get(result, f"the device gave result code {result}"))

    def _end(self, status: MotionStatus, reason: str = "") -> None:
        if self._job is not None:
            self._job[0].end(status, reason)
            self._job = None

    def _send(self, code: int, args: tuple[int, ...] = ()) -> bool:
        self._seq = (self._seq + 1) & 0xFFFF
        return self.link.write(HR_COMMAND, [code, self._seq, *args, *[0] * (4 - len(args))])

    def _command(self, code: int, *args: int) -> Handle:
        """Send a command; its handle ends when the device reports it done or failed (polled lazily)."""
        self._end(MotionStatus.STOPPED, "replaced by a new command")
        self._poll(force=True)
        if self.trouble:
            return Handle.failed(self.trouble)
        if not self._send(code, args):
            return Handle.failed(self.link.lost)
        handle = _PolledHandle(self)
        self._job = (handle, self._seq)
        return handle

    def stop(self) -> None:
        self._end(MotionStatus.STOPPED, "stopped")
        if not self.link.lost:
            self._send(CMD_STOP)

    def reset(self) -> None:
        """Reconnect a lost link, then ask the device to clear its faults (one whose cause remains stays)."""
        self._end(MotionStatus.STOPPED, "reset")
        if self.link.lost and not self.link.connect():
            return
        self._beat = None
        self._send(CMD_RESET)
        deadline = time.monotonic() + 2 * self.link.timeout
        while time.monotonic() < deadline:  # the device acknowledges within a poll or two
            self._poll(force=True)
            if self.link.lost or self._ack == self._seq:
                break
            time.sleep(self.poll_period)

    def close(self) -> None:
        self.link.close()


class _PolledHandle(Handle):
    """A handle whose status() polls its device (at most once a poll period)."""

    def __init__(self, device: ModbusDevice):
        super().__init__()
        self._device = device

    def status(self) -> MotionStatus:
        if self._status is MotionStatus.RUNNING:
            self._device._poll()
        return self._status


class ModbusGripper(ModbusDevice):
    """A two-finger gripper: HR 15 opening (0.01 mm, each finger from the centre), HR 16 flags (bit 0 moving, bit 1
    holding). Commands: 10 open, 11 close (DONE when the fingers have stopped, on a part or fully closed)."""

    MEASURED = 2
    kind = "gripper"

    def state(self) -> GripperState:
        extra = self._reported()
        opening, flags = self.measured
        return GripperState(self.now, opening * SCALE_OPENING, bool(flags & 1), bool(flags & 2), **extra)

    def open(self) -> Handle:
        return self._command(GRIPPER_OPEN)

    def close(self) -> Handle:
        return self._command(GRIPPER_CLOSE)


class ModbusWeldSource(ModbusDevice):
    """An arc welding power source: HR 15 flags (bit 0 arc commanded on, bit 1 arc established), HR 16 current (A),
    HR 17 voltage (0.1 V). Commands: 10 arc on (DONE once the arc is established), 11 arc off."""

    MEASURED = 3
    kind = "weld source"

    def state(self) -> WeldState:
        extra = self._reported()
        flags = self.measured[0]
        return WeldState(self.now, bool(flags & 1), bool(flags & 2), **extra)

    def arc_on(self) -> Handle:
        return self._command(ARC_ON)

    def arc_off(self) -> Handle:
        return self._command(ARC_OFF)


class ModbusNutrunner(ModbusDevice):
    """A torque-controlled spindle: HR 15 torque (0.01 N m), HR 16 angle turned in this run (0.1 deg), HR 17 flags
    (bit 0 running), HR 18 rated torque (0.01 N m). Command 10 run: HR 2 target torque (0.01 N m), HR 3 angle
    window's end (0.1 deg), HR 4 speed (0.01 rad/s)."""

    MEASURED = 4
    kind = "nutrunner"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_torque = self.measured[3] * SCALE_TORQUE

    def state(self) -> NutrunnerState:
        extra = self._reported()
        torque, angle, flags, _ = self.measured
        return NutrunnerState(self.now, torque * SCALE_TORQUE, angle * SCALE_ANGLE, bool(flags & 1), **extra)

    def run(self, torque: float, angle_max: float, speed: float = 20.0) -> Handle:
        if torque > self.max_torque:
            return Handle.failed(f"refused: {torque:.1f} N m is over the nutrunner's rating of {self.max_torque:.1f} N m")
        return self._command(NUTRUNNER_RUN, encode(torque, SCALE_TORQUE, "torque (N m)"),
                             encode(angle_max, SCALE_ANGLE, "angle window (rad)"), encode(speed, SCALE_SPEED, "speed (rad/s)"))


class PlcInterlock:
    """Zone interlocks with a PLC: cellctl asks for zones (HR 0, bit z = zone z) and bumps a watchdog counter (HR 1)
    every poll; the PLC grants zones (HR 10) that nothing outside cellctl occupies (HR 11 blocked), and drops its
    grants when the watchdog stops. HR 13 fault, HR 14 heartbeat, as for every device."""

    kind = "PLC interlock"

    def __init__(self, zones: list[str], address: Address | str, timeout: float = DEFAULT_TIMEOUT,
                 poll_period: float = DEFAULT_POLL):
        if len(zones) > 16:
            raise DriverError(f"a PLC interlock maps at most 16 zones to its bits; the cell has {len(zones)}")
        self.name = "plc"
        self.bits = {z: i for i, z in enumerate(zones)}
        self.address = address if isinstance(address, Address) else Address.parse(address, "the PLC")
        self.link, self.poll_period = ModbusLink(self.address, timeout), poll_period
        self.requested: set[str] = set()
        self.granted: set[str] = set()
        self.blocked: set[str] = set()
        self.device_fault = ""
        self._count, self._polled = 0, -np.inf
        if not self.link.connect():
            raise DriverError(f"PLC interlock: cannot reach the PLC at {self.address}; is it on, and is the address right?")
        self.poll(force=True)

    def _zones(self, mask: int) -> set[str]:
        return {z for z, i in self.bits.items() if mask >> i & 1}

    def poll(self, force: bool = False) -> None:
        """Write the zones asked for and the watchdog, read the grants."""
        now = time.monotonic()
        if not force and now - self._polled < self.poll_period:
            return
        self._polled = now
        self._count = (self._count + 1) & 0xFFFF
        mask = sum(1 << self.bits[z] for z in self.requested)
        regs = self.link.read(PLC_GRANT, 4) if self.link.write(PLC_REQUEST, [mask, self._count]) else None
        if regs is None:
            self.granted = set()
            return
        self.granted, self.blocked = self._zones(regs[0]) & self.requested, self._zones(regs[1])
        self.device_fault = f"PLC fault {regs[3]}: {FAULTS.get(regs[3], 'see the PLC program')}" if regs[3] else ""

    @property
    def trouble(self) -> str:
        return self.link.lost or self.device_fault

    def request(self, zones: set[str]) -> set[str]:
        """Ask for `zones` (besides those already asked for); the ones the PLC has not granted yet."""
        self.requested |= set(zones)
        self.poll(force=True)
        return set(zones) - self.granted

    def release(self, zones: set[str]) -> None:
        self.requested -= set(zones)
        self.granted -= set(zones)
        self.poll(force=True)

    def reset(self) -> None:
        if self.link.lost:
            self.link.connect()
        self.poll(force=True)

    def close(self) -> None:
        self.requested = set()
        if not self.link.lost:
            self.poll(force=True)
        self.link.close()


class PlcZoneBook:
    """A ZoneBook whose zones are also interlocked with a PLC: a robot gets a zone only when no other robot of the
    cell holds it *and* the PLC grants it (nothing outside the cell is in it); released zones go back to the PLC."""

    def __init__(self, book, plc: PlcInterlock):
        self.book, self.plc = book, plc

    def __getattr__(self, name):
        return getattr(self.book, name)

    def acquire(self, robot: str, zones: set[str], task: str | None = None) -> set[str]:
        if any(self.book.holder[z] not in (None, robot) for z in zones):
            return self.book.acquire(robot, zones, task)  # another robot holds one: the book records the wait
        missing = self.plc.request({z for z in zones if self.book.holder[z] is None})
        if missing:
            for z in sorted(missing - self.book.waiting.get(robot, set())):
                self.book._event(robot, task, z, "free", "waiting", held_by="plc")
            self.book.waiting[robot] = missing
            return missing
        return self.book.acquire(robot, zones, task)

    def release_all_but(self, robot: str, inside: set[str], task: str | None = None) -> None:
        before = self.book.held_by(robot)
        self.book.release_all_but(robot, inside, task)
        self.plc.release(before - self.book.held_by(robot))


# ----------------------------------------------------------------------------------------- factories
TOOL_DRIVERS = {"gripper": ModbusGripper, "weld_torch": ModbusWeldSource, "nutrunner": ModbusNutrunner}


def factory(cell=None, robot: str = "cellctl.drivers.ideal:factory", plc: str = "", timeout: str | float = DEFAULT_TIMEOUT,
            **addresses: str) -> CellDrivers:
    """Robots from the factory `robot` (its options as `robot.KEY=VALUE`; an ideal robot runs in real time), and for
    each robot named in `addresses` (ROBOT=host:port/unit) its tool over Modbus TCP instead; `plc=host:port/unit`
    interlocks the cell's zones with a PLC (zone bits in the cell's zone order)."""
    if cell is None:
        raise DriverError("cellctl.drivers.modbus:factory builds a cell's drivers; give it a program's cell (deploy) or "
                          "use cellctl.drivers.modbus:conformance_factory")
    inner = {k.split(".", 1)[1]: v for k, v in addresses.items() if k.startswith("robot.")}
    tools = {k: v for k, v in addresses.items() if not k.startswith("robot.")}
    if robot == "cellctl.drivers.ideal:factory":
        inner.setdefault("realtime", "true")
    unknown = sorted(set(tools) - set(cell.robots))
    if unknown:
        raise DriverError(f"--driver-option {unknown[0]}=...: the cell has no robot '{unknown[0]}'; robots: "
                          f"{', '.join(cell.robots)}")
    drivers = build_drivers(robot, cell, inner)
    for name, text in tools.items():
        kind = cell.robots[name].tool.kind if cell.robots[name].tool else None
        if kind not in TOOL_DRIVERS:
            raise DriverError(f"robot '{name}' carries {kind or 'no tool'}; Modbus drivers exist for "
                              f"{', '.join(TOOL_DRIVERS)}")
        drivers.tools[name] = TOOL_DRIVERS[kind](name, Address.parse(text, f"robot '{name}'"), float(timeout))
    if plc:
        drivers.interlock = PlcInterlock(list(cell.zones), plc, float(timeout))
    close_inner = drivers.close

    def close() -> None:
        for name in tools:
            drivers.tools[name].close()
        if drivers.interlock is not None:
            drivers.interlock.close()
        close_inner()

    drivers.close = close
    return drivers


def conformance_factory(cell=None, dt: str | float = 0.01) -> CellDrivers:
    """For the conformance kit: a device simulator process on loopback (cellctl.drivers.modbus_devices) playing a
    gripper, a weld source and a nutrunner, and the Modbus drivers of all three on a wall clock. The hooks kill the
    process (a lost connection) and set a device's fault register."""
    from cellctl.drivers.modbus_devices import UNITS, DeviceServer

    server = DeviceServer()
    try:
        tools = {kind: cls(kind, Address("127.0.0.1", server.port, UNITS[kind])) for kind, cls in TOOL_DRIVERS.items()}
    except Exception:
        server.close()
        raise

    def close() -> None:
        for tool in tools.values():
            tool.close()
        server.close()

    clock = WallClock(float(dt))
    return CellDrivers(clock, {}, tools, advance=clock.advance, close=close, disconnect=lambda device: server.kill(),
                       fault=lambda device, reason: server.inject_fault(device.address.unit, 5))
