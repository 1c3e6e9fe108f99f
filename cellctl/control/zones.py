"""Zone interlocks: a shared zone belongs to at most one robot at a time.

A robot acquires every zone a motion will enter before the motion starts (all of them or none, so it never
holds one zone while waiting for another it needs for the same motion), keeps them while it is inside, and
releases each as soon as a motion ends with the robot outside it.
"""

from __future__ import annotations

from typing import Callable


class ZoneBook:
    """Who holds each zone; every acquisition, wait and release goes to the event log."""

    def __init__(self, zones: dict, clock, on_event: Callable[[dict], None]):
        self.zones, self.clock, self._on_event = zones, clock, on_event
        self.holder: dict[str, str | None] = {name: None for name in zones}
        self.waiting: dict[str, set[str]] = {}  # robot -> zones it waits for

    def held_by(self, robot: str) -> set[str]:
        return {z for z, r in self.holder.items() if r == robot}

    def acquire(self, robot: str, zones: set[str], task: str | None = None) -> set[str]:
        """Take all of `zones` for robot, or none; returns the zones that are held by others (empty: granted)."""
        busy = {z for z in zones if self.holder[z] not in (None, robot)}
        if busy:
            before = self.waiting.get(robot, set())
            for z in sorted(before - busy):
                self._event(robot, task, z, "waiting", "free")
            for z in sorted(busy - before):
                self._event(robot, task, z, "free", "waiting", held_by=self.holder[z])
            self.waiting[robot] = busy
            return busy
        for z in sorted(zones):
            if self.holder[z] is None:
                self.holder[z] = robot
                self._event(robot, task, z, "waiting" if z in self.waiting.get(robot, ()) else "free", "held")
        self.waiting.pop(robot, None)
        return set()

    def release_all_but(self, robot: str, inside: set[str], task: str | None = None) -> None:
        """The robot is now inside `inside` only: it gives up every other zone it holds."""
        for z in sorted(self.held_by(robot) - inside):
            self.holder[z] = None
            self._event(robot, task, z, "held", "free")

    def cancel_wait(self, robot: str) -> None:
        for z in sorted(self.waiting.pop(robot, set())):
            self._event(robot, None, z, "waiting", "free")

    def _event(self, robot: str, task: str | None, zone: str, src: str, dst: str, **extra) -> None:
        """One robot's relation to one zone changed: free, waiting (for another holder) or held."""
        self._on_event({"t": self.clock.now(), "robot": robot, "task": task, "machine": "zone", "zone": zone,
                        "from": src, "to": dst, **extra})
