"""Who held which part when, read from the recorded attachments; shared by the collision and clearance checks."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np

from cellctl.twin.trace import Trace

PASSENGER_TOL = 0.005  # m: a part riding on a carried part may shift this much relative to it


@dataclass
class Holding:
    """One robot holding one part from t0 to t1, with what the part touched when it was grasped."""

    part: str
    robot: str
    t0: float
    t1: float
    touched: set = field(default_factory=set)  # bodies the part touched at the grasp, other than the robot
    i0: int = 0  # trace step of the grasp


def body(name: str) -> str:
    """The body of a recorded "body/link" name."""
    return name.split("/", 1)[0]


def touching(trace: Trace, name: str, t: float) -> set[str]:
    """The bodies touching body `name` at the recorded step t (contacts are recorded in time order)."""
    i, out = bisect.bisect_left(trace.contacts, t, key=lambda c: c.t), set()
    while i < len(trace.contacts) and trace.contacts[i].t == t:
        a, b = body(trace.contacts[i].a), body(trace.contacts[i].b)
        if name in (a, b):
            out.add(b if a == name else a)
        i += 1
    return out - {name}


def link(name: str) -> str:
    return name.split("/", 1)[1] if "/" in name else ""


def holdings(trace: Trace) -> list[Holding]:
    out, open_ = [], {}
    for a in trace.attachments:
        key = (a.part, a.robot)
        if a.action == "attach":
            open_[key] = a.t
        elif key in open_:
            out.append(Holding(a.part, a.robot, open_.pop(key), a.t))
    end = trace.t[-1] if trace.t else 0.0
    out += [Holding(p, r, t0, end + 1.0) for (p, r), t0 in open_.items()]
    for h in out:
        h.i0 = trace.index_at(h.t0)
        h.touched = {body(c.b if body(c.a) == h.part else c.a) for c in trace.contacts
                     if abs(c.t - h.t0) < 1e-9 and h.part in (body(c.a), body(c.b))} - {h.robot}
    return out


def held_by(held: list[Holding], part: str, t: float) -> Holding | None:
    return next((h for h in held if h.part == part and h.t0 - 1e-9 <= t <= h.t1 + 1e-9), None)


def riding(trace: Trace, passenger: str, h: Holding, t: float) -> bool:
    """A part that sat on the carried part at the grasp and has kept its place on it since."""
    if passenger not in h.touched:
        return False
    i = trace.index_at(t)
    A0, B0 = np.array(trace.parts[h.part][h.i0]), np.array(trace.parts[passenger][h.i0])
    A1, B1 = np.array(trace.parts[h.part][i]), np.array(trace.parts[passenger][i])
    rel0, rel1 = np.linalg.solve(A0, B0)[:3, 3], np.linalg.solve(A1, B1)[:3, 3]
    return float(np.linalg.norm(rel1 - rel0)) < PASSENGER_TOL
