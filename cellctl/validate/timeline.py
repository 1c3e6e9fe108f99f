"""Which task and step each robot was in at any moment, rebuilt from the recorded state-change events."""

from __future__ import annotations

import bisect


NOT_TASKS = ("robot", "zone", "cell")  # events of the robot controllers, the interlocks and the cell


class Timeline:
    def __init__(self, events: list[dict]):
        self._t: dict[str, list[float]] = {}
        self._s: dict[str, list[tuple[str, str, str]]] = {}
        for e in events:
            if e["machine"] in NOT_TASKS:
                continue
            states = self._s.setdefault(e["robot"], [])
            self._t.setdefault(e["robot"], []).append(e["t"])
            if e["to"] in ("failed", "interrupted") and states:
                # a failed or e-stopped step stops the robot where it is: it stays in that step's phase (its fingers
                # may still rest on the part), so that phase's allowed contacts still apply
                states.append(states[-1])
            else:
                states.append((e["task"], e["machine"], e["to"]))

    def at(self, robot: str, t: float) -> tuple[str | None, str | None, str | None]:
        """(task, machine, step) of the robot at time t; (None, None, None) before its first task."""
        times = self._t.get(robot, [])
        i = bisect.bisect_right(times, t + 1e-9) - 1
        if i < 0:
            return None, None, None
        task, machine, step = self._s[robot][i]
        return (task, machine, step) if step not in ("done", "failed", "idle") else (None, None, None)

    def step_times(self, robot: str, task: str, machine: str, step: str) -> tuple[float, float] | None:
        """Start and end time of a step (end: the next state change of that robot)."""
        times, states = self._t.get(robot, []), self._s.get(robot, [])
        for i, (tk, m, s) in enumerate(states):
            if (tk, m, s) == (task, machine, step):
                return times[i], times[i + 1] if i + 1 < len(times) else float("inf")
        return None

    def entered(self, robot: str, task: str, step: str, t: float) -> int:
        """How many times the robot's task had entered `step` by time t (a fasten task enters `approach` once a hole)."""
        times, states = self._t.get(robot, []), self._s.get(robot, [])
        return sum(1 for tt, (tk, _, s) in zip(times, states) if tt <= t + 1e-9 and tk == task and s == step)
