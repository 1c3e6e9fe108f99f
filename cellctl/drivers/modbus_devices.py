"""A Modbus TCP device simulator: a pymodbus server on loopback whose registers a small device model updates every
5 ms, following the register map of cellctl.drivers.modbus. It plays a gripper (unit 1: closes over 0.25 s onto a
part 40 mm wide), a weld source (unit 2: strikes in 0.1 s), a nutrunner (unit 3: runs a bolt down and ramps the
torque by 40 N m/rad once it seats, rated 50 N m) and a PLC interlock (unit 4: grants the zones asked for that
nothing else occupies). Writing a fault code to HR 20 of a unit latches that fault, as a device alarm would.

    python -m cellctl.drivers.modbus_devices --port 5020          # try the Modbus drivers without hardware

`DeviceServer` starts it as a separate process on a free port (the tests and the conformance kit do), and can kill
it to cut the connection. The model runs in a thread of the server process and reaches the registers through a
client of its own, so it depends only on pymodbus' public client and server API.
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from cellctl.drivers import modbus as mb
from cellctl.errors import DriverError

UNITS = {"gripper": 1, "weld_torch": 2, "nutrunner": 3, "plc": 4}
REGISTERS = 32
STEP = 0.005  # s between two updates of the device models
WATCHDOG = 0.5  # s: the PLC drops its grants when cellctl's watchdog counter has not changed for this long


class Device:
    """The command handshake of the register map; subclasses model what the command does."""

    MEASURED = 0

    def __init__(self) -> None:
        self.seq: int | None = None
        self.status, self.result, self.fault, self.beat = mb.IDLE, 0, 0, 0

    def update(self, regs: list[int], dt: float) -> list[int]:
        code, seq, args = regs[mb.HR_COMMAND], regs[mb.HR_SEQUENCE], regs[mb.HR_ARGS:mb.HR_ARGS + 4]
        if regs[mb.HR_SIM_FAULT]:
            self.fault = regs[mb.HR_SIM_FAULT]
            self.halt()
        if self.seq is None:
            self.seq = seq
        elif seq != self.seq:
            self.seq, self.result = seq, 0
            if code == mb.CMD_RESET:
                self.fault, self.status = 0, mb.DONE
            elif code == mb.CMD_STOP:
                self.halt()
                self.status = mb.DONE
            elif self.fault:
                self.status, self.result = mb.FAILED, 3
            else:
                self.status = mb.BUSY
                if not self.start(code, args):
                    self.status, self.result = mb.FAILED, 7
        if self.status == mb.BUSY:
            if self.fault:
                self.halt()
                self.status, self.result = mb.FAILED, 3
            else:
                self.work(dt)
        self.beat = (self.beat + 1) & 0xFFFF
        return [self.status, self.seq, self.result, self.fault, self.beat, *[int(v) for v in self.measured()]]

    def finish(self, ok: bool = True, result: int = 0) -> None:
        self.status, self.result = (mb.DONE, 0) if ok else (mb.FAILED, result)

    def start(self, code: int, args: list[int]) -> bool:
        return False

    def work(self, dt: float) -> None:
        pass

    def halt(self) -> None:
        pass

    def measured(self) -> list[float]:
        return []


class Gripper(Device):
    STROKE, PART, SPEED = 0.045, 0.02, 0.1  # m, m (each finger from the centre), m/s

    def __init__(self) -> None:
        super().__init__()
        self.opening, self.target, self.holding = self.STROKE, self.STROKE, False

    def start(self, code: int, args: list[int]) -> bool:
        if code not in (mb.GRIPPER_OPEN, mb.GRIPPER_CLOSE):
            return False
        self.target = self.PART if code == mb.GRIPPER_CLOSE else self.STROKE
        self.holding = False
        return True

    def work(self, dt: float) -> None:
        step = float(np.clip(self.target - self.opening, -self.SPEED * dt, self.SPEED * dt))
        self.opening += step
        if abs(self.target - self.opening) < 1e-9:
            self.holding = self.target == self.PART
            self.finish()

    def halt(self) -> None:
        self.target = self.opening

    def measured(self) -> list[float]:
        moving = self.status == mb.BUSY and self.opening != self.target
        return [round(self.opening / mb.SCALE_OPENING), int(moving) | int(self.holding) << 1]


class WeldSource(Device):
    STRIKE = 0.1  # s

    def __init__(self) -> None:
        super().__init__()
        self.on = self.established = False
        self.t = 0.0

    def start(self, code: int, args: list[int]) -> bool:
        if code == mb.ARC_ON:
            self.on, self.t = True, 0.0
        elif code == mb.ARC_OFF:
            self.halt()
            self.finish()
        else:
            return False
        return True

    def work(self, dt: float) -> None:
        self.t += dt
        if self.t >= self.STRIKE:
            self.established = True
            self.finish()

    def halt(self) -> None:
        self.on = self.established = False

    def measured(self) -> list[float]:
        return [int(self.on) | int(self.established) << 1, 180 if self.established else 0, 215 if self.established else 0]


class Nutrunner(Device):
    RATED, SEAT_AFTER, STIFFNESS = 50.0, 2.0, 40.0  # N m, rad run down before the head seats, N m/rad after

    def __init__(self) -> None:
        super().__init__()
        self.torque = self.angle = 0.0
        self.bolt = 0.0  # rad this bolt has turned in all
        self.job: tuple[float, float, float] | None = None

    def start(self, code: int, args: list[int]) -> bool:
        if code != mb.NUTRUNNER_RUN:
            return False
        target, angle_max, speed = args[0] * mb.SCALE_TORQUE, args[1] * mb.SCALE_ANGLE, args[2] * mb.SCALE_SPEED
        if target < self.torque:
            self.bolt = 0.0  # less torque than this bolt already has: the next bolt
        self.angle, self.job = 0.0, (target, angle_max, speed)
        return True

    def work(self, dt: float) -> None:
        target, angle_max, speed = self.job
        step = speed * dt
        to_target = self.SEAT_AFTER + target / self.STIFFNESS - self.bolt  # the transducer shuts the drive off at torque
        step = min(step, max(to_target, 0.0)) if to_target > 0 and target < self.RATED else step
        self.angle += step
        self.bolt += step
        self.torque = min(self.RATED, max(0.0, self.STIFFNESS * (self.bolt - self.SEAT_AFTER)))
        if self.torque >= target - 1e-6:
            self.finish()
        elif self.angle >= angle_max:
            self.finish(False, 5)
        elif self.torque >= self.RATED:
            self.finish(False, 6)

    def halt(self) -> None:
        self.job = None

    def measured(self) -> list[float]:
        return [round(self.torque / mb.SCALE_TORQUE), round(self.angle / mb.SCALE_ANGLE), int(self.status == mb.BUSY),
                round(self.RATED / mb.SCALE_TORQUE)]


class Plc:
    """Grants the zones asked for that nothing outside the cell occupies, while cellctl's watchdog counts."""

    def __init__(self) -> None:
        self.count, self.since, self.beat, self.fault = -1, 0.0, 0, 0

    def update(self, regs: list[int], dt: float) -> list[int]:
        now = time.monotonic()
        if regs[mb.PLC_WATCHDOG] != self.count:
            self.count, self.since = regs[mb.PLC_WATCHDOG], now
        if regs[mb.HR_SIM_FAULT]:
            self.fault = regs[mb.HR_SIM_FAULT]
        alive = now - self.since < WATCHDOG and not self.fault
        blocked = regs[mb.HR_SIM_BLOCK]
        self.beat = (self.beat + 1) & 0xFFFF
        return [regs[mb.PLC_REQUEST] & ~blocked & 0xFFFF if alive else 0, blocked, 0, self.fault, self.beat]


def run_models(port: int, ready: threading.Event) -> None:
    """The device models: every STEP, read each unit's registers, update it, write its status block back."""
    from pymodbus.client import ModbusTcpClient

    client = ModbusTcpClient("127.0.0.1", port=port, timeout=1.0, retries=0)
    for _ in range(400):
        if client.connect():
            break
        time.sleep(0.01)
    else:
        os._exit(3)
    devices = {UNITS["gripper"]: Gripper(), UNITS["weld_torch"]: WeldSource(), UNITS["nutrunner"]: Nutrunner(),
               UNITS["plc"]: Plc()}
    last = time.monotonic()
    while True:
        now = time.monotonic()
        dt, last = now - last, now
        for unit, device in devices.items():
            regs = client.read_holding_registers(0, count=REGISTERS, device_id=unit).registers
            client.write_registers(mb.HR_STATUS, device.update(list(regs), dt), device_id=unit)
            if regs[mb.HR_SIM_FAULT] and not isinstance(device, Plc):
                client.write_register(mb.HR_SIM_FAULT, 0, device_id=unit)  # latched: the alarm's cause is gone
        ready.set()
        time.sleep(max(0.0, STEP - (time.monotonic() - now)))


def serve(port: int) -> None:
    """Serve the simulated devices on 127.0.0.1:port; print 'ready' once they answer."""
    import logging

    from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext
    from pymodbus.server import StartTcpServer

    logging.getLogger("pymodbus").setLevel(logging.ERROR)
    context = ModbusServerContext(devices={unit: ModbusDeviceContext(hr=ModbusSequentialDataBlock(1, [0] * REGISTERS))
                                           for unit in UNITS.values()}, single=False)
    ready = threading.Event()

    def announce() -> None:
        ready.wait()
        print("ready", flush=True)

    threading.Thread(target=run_models, args=(port, ready), daemon=True).start()
    threading.Thread(target=announce, daemon=True).start()
    StartTcpServer(context=context, address=("127.0.0.1", port))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DeviceServer:
    """The device simulator as a separate process on a free loopback port; `kill()` cuts every connection to it."""

    START_TIMEOUT = 15.0  # s

    def __init__(self) -> None:
        self._log = tempfile.TemporaryFile(mode="w+")
        self.proc: subprocess.Popen | None = None
        problem = ""
        for _ in range(3):  # a port found free can be taken by someone else before the server binds it
            self.port = free_port()
            self.proc = subprocess.Popen([sys.executable, "-m", "cellctl.drivers.modbus_devices", "--port", str(self.port)],
                                         stdout=subprocess.PIPE, stderr=self._log, text=True)
            if self._wait_ready():
                break
            self.kill()
            self._log.seek(0)
            problem = self._log.read()[-2000:]
        else:
            self._log.close()
            raise DriverError(f"the Modbus device simulator did not start: {problem or 'no output'}")
        self._hooks = mb.ModbusLink(mb.Address("127.0.0.1", self.port))
        self._hooks.connect()

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.START_TIMEOUT
        while time.monotonic() < deadline and self.proc.poll() is None:
            readable, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if readable:
                return self.proc.stdout.readline().strip() == "ready"
        return False

    def _set(self, unit: int, register: int, value: int) -> None:
        link = self._hooks
        link.address = mb.Address("127.0.0.1", self.port, unit)
        if not link.write(register, [value]):
            raise DriverError(f"the device simulator did not take register {register} of unit {unit}: {link.lost}")

    def inject_fault(self, unit: int, code: int) -> None:
        """Make a simulated device latch fault `code` (FAULTS), as its alarm would."""
        self._set(unit, mb.HR_SIM_FAULT, code)

    def block_zones(self, mask: int, timeout: float = 1.0) -> None:
        """Zones (bits) something outside the cell occupies: the simulated PLC will not grant them. Returns once the
        PLC reports them blocked (its status block echoes the mask), so a caller need not wait a guessed time."""
        self._set(UNITS["plc"], mb.HR_SIM_BLOCK, mask)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (self._hooks.read(mb.HR_STATUS + 1, 1) or [None])[0] == mask:
                return
            time.sleep(0.002)
        raise DriverError(f"the simulated PLC did not report zones {mask:#b} blocked within {timeout} s")

    def kill(self) -> None:
        """End the process at once (SIGKILL), as a pulled cable or a dead device would end the connection."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc.stdout.close()

    def close(self) -> None:
        self.kill()
        if hasattr(self, "_hooks"):
            self._hooks.close()
        self._log.close()

    def __enter__(self) -> "DeviceServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Simulated Modbus TCP devices (gripper, weld source, nutrunner, PLC).")
    parser.add_argument("--port", type=int, default=5020)
    serve(parser.parse_args().port)
