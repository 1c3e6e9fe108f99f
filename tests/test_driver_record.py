"""Record and replay: a run on the ideal drivers written to JSON lines, replayed through the same orchestrator (the
same events), and a replay that commands something else is stopped naming the command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cellctl.control.orchestrator import Orchestrator
from cellctl.deploy import build_contexts
from cellctl.drivers.ideal import factory
from cellctl.drivers.record import record, replay, trajectories
from cellctl.errors import DriverError
from cellctl.model import load_program
from conftest import ROOT

PROGRAM = ROOT / "programs/pick_place.yaml"


def run(program, drivers):
    orch = Orchestrator(program, build_contexts(program, drivers, 0, None), drivers.clock)
    while not orch.finished and drivers.clock.now() < 60.0:
        orch.tick()
        drivers.advance()
    drivers.close()
    return orch


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    program = load_program(PROGRAM)
    path = tmp_path_factory.mktemp("rec") / "run.jsonl"
    return program, path, run(program, record(factory(program.cell), path))


def test_the_replay_gives_the_same_events(recorded):
    program, path, original = recorded
    again = run(program, replay(path))
    assert original.failure is None and again.events == original.events
    assert again.tasks == original.tasks


def test_the_recording_is_json_lines_in_si_units_with_whole_trajectories(recorded):
    program, path, original = recorded
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    kinds = {line["header"]["device"]: line["header"]["kind"] for line in lines if "header" in line}
    assert kinds == {"robots/arm": "robot", "tools/arm": "gripper"}
    calls = [line["call"] for line in lines if "call" in line]
    assert "execute" in calls and "close" in calls and "open" in calls
    trajs = trajectories(path, "arm")
    assert trajs and np.allclose(trajs[0].q[0], program.cell.robots["arm"].home)  # rad, from home
    assert trajs[-1].duration < 10.0  # s


def test_a_replay_that_commands_another_motion_stops_naming_the_command(recorded, tmp_path):
    program, path, _ = recorded
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        entry = json.loads(line)
        if entry.get("call") == "execute":
            entry["args"][0]["q"][-1][0] += 0.01  # the recorded motion ended elsewhere
            lines[i] = json.dumps(entry)
            break
    edited = tmp_path / "edited.jsonl"
    edited.write_text("\n".join(lines) + "\n")
    with pytest.raises(DriverError, match=r"replay of 'arm' diverged at its call \d+: the recording has execute\(\)"):
        run(program, replay(edited))
