"""Record and replay: a field run written to a file, and fed back so the problem can be reproduced at a desk.

`record(drivers, path)` wraps a CellDrivers: every command (with its arguments: whole trajectories, in SI units),
every state a controller read (when it changed) and every change of a command's status goes to a JSON-lines file,
with the driver's clock time and the control tick. `replay(path)` builds drivers that answer from the file: the
same controllers, run again over them, read the same states and see the same outcomes at the same points, and each
command they give is checked against the recorded one (a divergence raises DriverError naming the command). The
recorded trajectories can also be sent to the twin's drivers (`trajectories(path, robot)`).

    cellctl deploy PROGRAM --report R.json --driver ... --record run.jsonl           # in the field
    cellctl deploy PROGRAM --report R.json --driver cellctl.drivers.record:replay_factory --driver-option path=run.jsonl

Each line: {"header": {...}} per driver first (its kind and declared attributes), then {"tick", "t", "device",
"n"} with one of "call"+"args"(+"handle"), "state", or "handle"+"status"+"reason"; {"tick", "t", "advance": true}
for every control period. "n" counts the calls a driver received; replay keys answers on it. A PLC zone interlock is
not recorded, only noted ({"header": {"device": "interlock", "kind": "plc"}}): a replay grants zones at once.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import IO, Any

import numpy as np

from cellctl.drivers.base import (GripperState, Handle, MotionStatus, NutrunnerState, RobotLimits, RobotState, SpotGunState,
                                  WeldState, driver_kind)
from cellctl.drivers.factory import CellDrivers
from cellctl.errors import DriverError
from cellctl.motion.trajectory import JointTrajectory

COMMANDS = {"robot": ("execute", "hold", "resume", "stop", "estop", "reset"),
            "gripper": ("open", "close", "stop", "reset"),
            "weld_source": ("arc_on", "arc_off", "stop", "reset"),
            "nutrunner": ("run", "stop", "reset"),
            "spot_gun": ("close", "weld", "open", "stop", "reset")}
ATTRIBUTES = ("name", "period", "max_latency", "stop_time", "tolerance", "limits", "max_torque", "max_force")
STATES = {"robot": RobotState, "gripper": GripperState, "weld_source": WeldState, "nutrunner": NutrunnerState,
          "spot_gun": SpotGunState}
TRAJECTORY_MATCH = 1e-9  # rad: a replayed run must command the recorded trajectories to this (they are planned alike)


def _plain(value: Any) -> Any:
    """A value as JSON: arrays as lists, trajectories and dataclasses as dicts."""
    if isinstance(value, JointTrajectory):
        return {"t": value.t.tolist(), "q": value.q.tolist(), "qd": value.qd.tolist(), "qdd": value.qdd.tolist()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(v) for k, v in asdict(value).items()}
    return value


class Recorder:
    """The file a recording goes to, and the control tick."""

    def __init__(self, path: Path | str, clock):
        self.path, self.clock, self.tick = Path(path), clock, 0
        self._file: IO[str] = open(self.path, "w")

    def write(self, entry: dict) -> None:
        self._file.write(json.dumps({"tick": self.tick, "t": self.clock.now(), **entry}) + "\n")

    def advance(self) -> None:
        self.tick += 1
        self.write({"advance": True})

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


class RecordingDriver:
    """Wraps any driver; records its commands, the states read from it and the status changes of its handles."""

    def __init__(self, inner, recorder: Recorder, device: str):
        self._inner, self._rec, self._device = inner, recorder, device
        self._kind = driver_kind(inner)
        self._n, self._last_state, self._handles = 0, None, 0
        recorder.write({"header": {"device": device, "kind": self._kind,
                                   **{a: _plain(getattr(inner, a)) for a in ATTRIBUTES if hasattr(inner, a)}}})

    def __getattr__(self, name: str):
        value = getattr(self._inner, name)
        if name not in COMMANDS[self._kind]:
            return value

        def command(*args):
            self._n += 1
            result = value(*args)
            entry = {"device": self._device, "n": self._n, "call": name, "args": [_plain(a) for a in args]}
            if result is not None:
                self._handles += 1
                entry["handle"] = self._handles
                result = RecordedHandle(result, self, self._handles)
            self._rec.write(entry)
            if result is not None:
                result.observe(self._n)  # an outcome known at once (a refusal) is recorded with the command
            return result

        return command

    def state(self):
        self._n += 1
        s = self._inner.state()
        plain = _plain(s)
        if plain != self._last_state:
            self._last_state = plain
            self._rec.write({"device": self._device, "n": self._n, "state": plain})
        return s


class RecordedHandle:
    def __init__(self, inner, driver: RecordingDriver, number: int):
        self._inner, self._driver, self.number = inner, driver, number
        self._last = MotionStatus.RUNNING

    @property
    def reason(self) -> str:
        return self._inner.reason

    def status(self) -> MotionStatus:
        self._driver._n += 1
        return self.observe(self._driver._n)

    def observe(self, n: int) -> MotionStatus:
        """The inner handle's status, recorded (as of the driver's call n) when it changed."""
        d, status = self._driver, self._inner.status()
        if status is not self._last:
            self._last = status
            d._rec.write({"device": d._device, "n": n, "handle": self.number, "status": status.value,
                          "reason": self._inner.reason})
        return status


def record(drivers: CellDrivers, path: Path | str) -> CellDrivers:
    """The same drivers, recorded to `path` (closed with the drivers)."""
    rec = Recorder(path, drivers.clock)
    inner_advance, inner_close = drivers.advance, drivers.close
    if drivers.interlock is not None:  # not recorded: noted, so that a replay can say why it may diverge
        rec.write({"header": {"device": "interlock", "kind": "plc"}})

    def advance() -> None:
        inner_advance()
        rec.advance()

    def close() -> None:
        try:
            inner_close()
        finally:
            rec.close()

    return CellDrivers(drivers.clock, {n: RecordingDriver(d, rec, f"robots/{n}") for n, d in drivers.robots.items()},
                       {n: RecordingDriver(d, rec, f"tools/{n}") for n, d in drivers.tools.items()}, advance=advance, close=close,
                       interlock=drivers.interlock)


# ------------------------------------------------------------------------------------------------ replay
class ReplayClock:
    def __init__(self, times: list[float]):
        self.times, self.tick = times, 0

    def now(self) -> float:
        return self.times[min(self.tick, len(self.times) - 1)]

    def advance(self) -> None:
        self.tick += 1


class ReplayDriver:
    """Answers from a recording: the states and handle outcomes as they were at the same call, and checks that each
    command is the one recorded."""

    def __init__(self, header: dict, entries: list[dict]):
        self._kind = header["kind"]
        for a in ATTRIBUTES:
            if a in header:
                value = header[a]
                setattr(self, a, RobotLimits(*(np.array(value[f.name]) for f in fields(RobotLimits))) if a == "limits" else value)
        self._states = [(e["n"], e["state"]) for e in entries if "state" in e]
        self._calls = [e for e in entries if "call" in e]
        self._outcomes: dict[int, list[tuple[int, str, str]]] = {}
        for e in entries:
            if "status" in e:
                self._outcomes.setdefault(e["handle"], []).append((e["n"], e["status"], e["reason"]))
        self._n, self._next_call = 0, 0
        self._note = ""  # why a divergence may be no fault of the run (what the recording does not hold)

    def __getattr__(self, name: str):
        if name.startswith("_") or name not in COMMANDS[self.__dict__.get("_kind", "robot")]:
            raise AttributeError(name)
        return lambda *args: self._command(name, args)

    def _command(self, name: str, args: tuple):
        self._n += 1
        if self._next_call >= len(self._calls):
            raise DriverError(f"replay of '{self.name}' diverged: {name}() was called, but the recording has no more "
                              f"commands{self._note}")
        rec = self._calls[self._next_call]
        self._next_call += 1
        given, said = [_plain(a) for a in args], f"replay of '{self.name}' diverged at its call {self._n}: the recording has"
        if rec["call"] != name:
            raise DriverError(f"{said} {rec['call']}() as call {rec['n']}, now {name}() was given{self._note}")
        if not _same(rec["args"], given):
            raise DriverError(f"{said} {name}() as call {rec['n']} with other arguments ({_difference(rec['args'], given)})"
                              f"{self._note}")
        if rec["n"] != self._n:
            off = abs(rec["n"] - self._n)
            raise DriverError(f"{said} {name}() as call {rec['n']}, now it came {off} call{'s' if off > 1 else ''} "
                              f"{'earlier' if rec['n'] > self._n else 'later'} (the controllers polled the driver "
                              f"another number of times before: they saw other states or timing){self._note}")
        return ReplayHandle(self, rec["handle"]) if "handle" in rec else None

    def state(self):
        self._n += 1
        current = None
        for n, plain in self._states:
            if n > self._n:
                break
            current = plain
        if current is None:
            raise DriverError(f"the recording has no state of '{self.name}' as early as its call {self._n}")
        cls = STATES[self._kind]
        return cls(**{k: np.array(v) if isinstance(v, list) else v for k, v in current.items() if k in cls.__dataclass_fields__})


class ReplayHandle(Handle):
    def __init__(self, driver: ReplayDriver, number: int):
        super().__init__()
        self._driver, self._number = driver, number

    def status(self) -> MotionStatus:
        d = self._driver
        d._n += 1
        for n, status, reason in d._outcomes.get(self._number, []):
            if n <= d._n:
                self._status, self.reason = MotionStatus(status), reason
        return self._status


def _same(a: Any, b: Any) -> bool:
    """Recorded and given arguments agree (numbers to TRAJECTORY_MATCH)."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) <= TRAJECTORY_MATCH
    return a == b


def _difference(recorded: Any, given: Any, where: str = "") -> str:
    """Where recorded and given arguments first differ, in words."""
    if isinstance(recorded, dict) and isinstance(given, dict):
        if recorded.keys() != given.keys():
            return f"{where or 'argument'} has fields {sorted(given)}, recorded {sorted(recorded)}"
        if set(recorded) >= {"t", "q"}:  # a trajectory
            rt, gt = np.asarray(recorded["t"]), np.asarray(given["t"])
            if rt.shape != gt.shape:
                return (f"a trajectory of {len(gt)} samples over {gt[-1]:.3f} s, recorded {len(rt)} samples over "
                        f"{rt[-1]:.3f} s")
        for k in sorted(recorded, key=lambda k: k != "q"):  # a trajectory's positions first
            if not _same(recorded[k], given[k]):
                return _difference(recorded[k], given[k], f"{where}.{k}" if where else k)
    if isinstance(recorded, list) and isinstance(given, list):
        if len(recorded) != len(given):
            return f"{where or 'the arguments'}: {len(given)} values, recorded {len(recorded)}"
        if where:
            try:  # numbers: the largest difference
                a, b = np.asarray(recorded, float), np.asarray(given, float)
                i = np.unravel_index(int(np.abs(a - b).argmax()), a.shape)
                return (f"{where}[{', '.join(str(int(k)) for k in i)}] is {b[i]:.9g}, recorded {a[i]:.9g} "
                        f"(off by {abs(b[i] - a[i]):.2g})")
            except (TypeError, ValueError):
                pass
        for i, (x, y) in enumerate(zip(recorded, given)):
            if not _same(x, y):
                return _difference(x, y, f"{where}[{i}]" if where else f"argument {i + 1}")
    return f"{where or 'the argument'} is {given!r}, recorded {recorded!r}"


def load(path: Path | str) -> tuple[dict[str, dict], dict[str, list[dict]], list[float]]:
    """(headers by device ('robots/NAME', 'tools/NAME'), entries by device, the clock's time at every tick) of a recording."""
    headers: dict[str, dict] = {}
    entries: dict[str, list[dict]] = {}
    times = [0.0]
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise DriverError(f"cannot read the recording {path}: {exc.strerror}") from None
    for number, line in enumerate(lines, 1):
        try:
            e = json.loads(line)
        except ValueError:
            raise DriverError(f"{path}:{number}: not a line of a cellctl recording") from None
        if "header" in e:
            headers[e["header"]["device"]] = e["header"]
            times[0] = e["t"]
        elif e.get("advance"):
            times.append(e["t"])
        else:
            entries.setdefault(e["device"], []).append(e)
    return headers, entries, times


def replay(path: Path | str) -> CellDrivers:
    """Drivers that replay the recording at `path` (robots and tools as they were recorded)."""
    headers, entries, times = load(path)
    clock = ReplayClock(times)
    plc = headers.pop("interlock", None)
    drivers = {device: ReplayDriver(h, entries.get(device, [])) for device, h in headers.items()}
    if plc is not None:
        for d in drivers.values():
            d._note = (" (the recording was made with a PLC zone interlock, whose grants a replay does not play back: "
                       "where the controllers waited for the PLC, the replay goes on at once)")
    robots = {d.split("/", 1)[1]: r for d, r in drivers.items() if d.startswith("robots/")}
    tools = {d.split("/", 1)[1]: r for d, r in drivers.items() if d.startswith("tools/")}
    return CellDrivers(clock, robots, tools, advance=clock.advance)


def replay_factory(cell=None, path: str = "") -> CellDrivers:
    """`--driver cellctl.drivers.record:replay_factory --driver-option path=run.jsonl`."""
    if not path:
        raise DriverError("replay_factory needs the recording: --driver-option path=FILE.jsonl")
    return replay(path)


def trajectories(path: Path | str, robot: str) -> list[JointTrajectory]:
    """Every trajectory `robot` was given in a recording, in order (to run them again in the twin)."""
    _, entries, _ = load(path)
    out = []
    for e in entries.get(f"robots/{robot}", []):
        if e.get("call") == "execute":
            d = e["args"][0]
            out.append(JointTrajectory(*(np.array(d[k]) for k in ("t", "q", "qd", "qdd"))))
    return out
