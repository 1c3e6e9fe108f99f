"""The clearance check: how close each robot (links, tool, held part) came to what it must not touch, as simulated,
against the cell's margin; the closeness each task phase brings by its nature (a gripper at its part) is allowed."""

from __future__ import annotations

import numpy as np

from cellctl.model.program import Program
from cellctl.twin.trace import Trace
from cellctl.validate.holding import body as _body, held_by, holdings, link as _link, riding as _riding
from cellctl.validate.result import CheckResult
from cellctl.validate.timeline import Timeline

WORK_RADIUS = 0.05  # m round a seam, hole or spot within which what touches its owner is worked with it
# The steps in which a robot's tool works at its task's workpiece (and what that rests on): approaching, holding,
# letting go, retreating from it; a weld torch from the touch to the retreat, a socket on its hole's owner.
TOOL_AT_WORK = {("pick", s) for s in ("pregrasp", "close", "verify_grasp", "lift", "regrasp")} \
    | {("place", s) for s in ("lower", "release", "verify_place", "retreat")} \
    | {("weld", s) for s in ("touch", "arc_on", "traverse", "arc_off", "retreat")} \
    | {("fasten", s) for s in ("align", "engage", "run_down", "tighten", "verify", "retreat")} \
    | {("spot", s) for s in ("position", "close", "dwell", "open", "retreat")}
# The steps in which a held part is near what it is taken from (pick) or set down on (place).
PART_AT_SUPPORT = {("pick", "close"), ("pick", "verify_grasp"), ("pick", "lift"),
                   ("place", "lower"), ("place", "release"), ("place", "verify_place")}


class _World:
    """What the trace says about holding and resting, asked by time."""

    def __init__(self, trace: Trace):
        self.trace = trace
        self.holds = holdings(trace)
        self._touching: dict[float, list] = {}
        for c in trace.contacts:
            self._touching.setdefault(c.t, []).append(c)

    def holder(self, part: str, t: float) -> str | None:
        h = held_by(self.holds, part, t)
        return h.robot if h else None

    def touching_near(self, owner: str, t: float, where: np.ndarray, radius: float) -> set[str]:
        """The bodies touching `owner` at the step at or before t within `radius` of the point `where`."""
        contacts = self._touching.get(self.trace.t[self.trace.index_at(t)], [])
        return {_body(c.b) if _body(c.a) == owner else _body(c.a) for c in contacts if owner in (_body(c.a), _body(c.b))
                and float(np.linalg.norm(np.subtract(c.where, where))) <= radius} - {owner}

    def resting_on(self, part: str, t: float) -> set[str]:
        """The bodies other than robots that part touched at the recorded step at or before t, and the fixtures
        those rest on in turn: work on a thin sheet is near the jig under it by nature. Other parts that merely
        share a support (a bracket beside the one being placed on the same panel) are not the work."""
        contacts = self._touching.get(self.trace.t[self.trace.index_at(t)], [])
        kinds = self.trace.bodies
        out, todo = set(), [part]
        while todo:
            x = todo.pop()
            for c in contacts:
                if x in (_body(c.a), _body(c.b)):
                    other = _body(c.b) if _body(c.a) == x else _body(c.a)
                    if other == part or other in out or kinds.get(other) == "robot":
                        continue
                    if x != part and kinds.get(other) in ("part", "bolt"):
                        continue  # beyond what the part itself touches, only the fixtures and floor below
                    out.add(other)
                    todo.append(other)
        return out


def _extent(program: Program, owner: str, name: str) -> float:
    """How far a feature reaches from its frame: a seam's length; 0 for a hole or a spot."""
    pts = program.cell.parts[owner].features[name].points
    return float(np.linalg.norm(pts - pts[0], axis=1).max()) if pts is not None else 0.0


def _work(program: Program, world: _World, timeline: Timeline) -> dict[tuple[str, str], set[str]]:
    """(task, machine) -> the bodies its tool works at: the part it picks or places, the place's owner, a seam's or
    hole's owner, and what each of these rests on when the work starts or ends."""
    out = {}
    for task in program.tasks:
        if task.part:
            t0 = timeline.step_times(task.robot, task.id, "pick", "close")
            out[(task.id, "pick")] = {task.part} | (world.resting_on(task.part, t0[0]) if t0 else set())
            if task.place:
                t1 = timeline.step_times(task.robot, task.id, "place", "verify_place")
                placed = world.resting_on(task.part, min(t1[1], world.trace.t[-1])) if t1 else set()
                out[(task.id, "place")] = {task.part, task.place[0]} | placed
        welded = [task.feature] if task.kind == "weld" else []
        for machine, features in (("weld", welded), ("fasten", task.holes), ("spot", task.spots)):
            if features:
                first = {"weld": "touch", "fasten": "align", "spot": "position"}[machine]
                t0 = timeline.step_times(task.robot, task.id, machine, first)
                work = {o for o, _ in features}
                for owner, name in features if t0 else ():
                    if owner not in program.cell.parts:
                        continue  # a fixture's own feature: what lies on the fixture is not the work
                    work |= world.resting_on(owner, t0[0])
                    # what touches the owner near the feature is worked with it (a bracket on the panel it is welded
                    # to); other parts elsewhere on the same panel are not
                    T = np.array(world.trace.parts[owner][world.trace.index_at(t0[0])]) @ \
                        program.cell.parts[owner].features[name].T_owner_feature.A
                    near = world.touching_near(owner, t0[0], T[:3, 3], WORK_RADIUS + _extent(program, owner, name))
                    work = {b for b in work if world.trace.bodies.get(b) != "part" or b in near or b == owner}
                out[(task.id, machine)] = work
    return out


def check_clearance(program: Program, trace: Trace, timeline: Timeline) -> CheckResult:
    """Per pair, the smallest distance outside the phases that bring it close by nature; below the margin fails."""
    margin, kinds, world = program.cell.clearance, trace.bodies, _World(trace)
    work = _work(program, world, timeline)

    def riding(passenger: str, part: str, robot: str, t: float) -> bool:
        """A part that sat on the carried part when it was grasped and has kept its place on it."""
        h = held_by(world.holds, part, t)
        return h is not None and h.robot == robot and not world.holder(passenger, t) and _riding(trace, passenger, h, t)

    def allowed(a: str, b: str, t: float) -> bool:
        if all(kinds.get(_body(x)) != "robot" and not world.holder(_body(x), t) for x in (a, b)):
            return True  # nothing under a robot's control: a part resting on a table
        for x, y in ((a, b), (b, a)):
            bx, by = _body(x), _body(y)
            if kinds.get(bx) == "robot":
                if _link(x) == trace.mounts.get(bx) and kinds.get(by) in ("floor", "fixture"):
                    return True  # the robot's base on what it stands on
                if _link(x) in trace.tool_links.get(bx, ()):
                    if world.holder(by, t) == bx:
                        return True  # the part in the hand
                    task, machine, step = timeline.at(bx, t)
                    if (machine, step) in TOOL_AT_WORK and by in work.get((task, machine), ()):
                        return True  # the tool at its work
            elif kinds.get(bx) == "part" and (robot := world.holder(bx, t)) and kinds.get(by) != "robot":
                task, machine, step = timeline.at(robot, t)
                if (machine, step) in PART_AT_SUPPORT and by in work.get((task, machine), ()):
                    return True  # the part taken from or set down on its support
                if kinds.get(by) == "part" and riding(by, bx, robot, t):
                    return True  # a part carried on top of the held one
        return False

    pairs: dict[tuple[str, str], dict] = {}
    for p in trace.proximities:
        worst = pairs.get((p.a, p.b))
        if (worst is None or p.distance < worst["distance"]) and not allowed(p.a, p.b, p.t):
            pairs[(p.a, p.b)] = {"a": p.a, "b": p.b, "distance": p.distance, "t": p.t}
    # a pair that touched is a collision: it is dated by its first contact, as the collision check dates it (a near
    # miss just before the contact is the same event, not an earlier one)
    unordered = {frozenset(k): k for k in pairs}
    for c in trace.contacts:
        k = unordered.get(frozenset((c.a, c.b)))
        if k and "touched_t" not in pairs[k] and not allowed(c.a, c.b, c.t):
            pairs[k].update(distance=min(pairs[k]["distance"], 0.0), touched_t=c.t)
    findings = []
    for (a, b), w in sorted(pairs.items(), key=lambda kv: (kv[1]["distance"], kv[1].get("touched_t", kv[1]["t"]), kv[0])):
        t = w.get("touched_t", w["t"])
        robots = [r for r in (_body(a), _body(b)) if kinds.get(r) == "robot"] + \
                 [r for x in (_body(a), _body(b)) if (r := world.holder(x, t))]
        task, machine, step = next((ph for ph in (timeline.at(r, t) for r in robots) if ph[0]), (None, None, None))
        findings.append({"a": a, "b": b, "clearance_mm": round(max(w["distance"], 0.0) * 1000, 2), "t_s": round(t, 4),
                         "task": task, "step": f"{machine}.{step}" if machine else None, "touched": "touched_t" in w})
    bad = [f for f in findings if f["clearance_mm"] < margin * 1000]
    if bad:
        more = f"; and {len(bad) - 3} more pairs" if len(bad) > 3 else ""
        detail = "; ".join(_describe(f) for f in bad[:3]) + more + f" (margin {margin * 1000:.0f} mm)"
        return CheckResult("clearance", False, detail, bad[0]["task"], bad)
    if not trace.clearance_cap:
        return CheckResult("clearance", True, "clearance was not measured")
    if not findings:
        return CheckResult("clearance", True, f"every robot, with its tool and held part, stayed more than "
                                              f"{trace.clearance_cap * 1000:.0f} mm from everything but its work (the part it handles, "
                                              f"what it welds or fastens and what that rests on, which collision "
                                              f"judges) (margin {margin * 1000:.0f} mm)")
    return CheckResult("clearance", True, f"every robot kept at least {margin * 1000:.0f} mm from what it must not touch (closest: "
                                          f"{_describe(findings[0])})", None, findings[:5])


def _describe(f: dict) -> str:
    where = f" in task {f['task']} ({f['step']})" if f["task"] else ""
    if f["touched"]:
        return f"{f['a']} touched {f['b']} at t={f['t_s']:.2f} s{where} (see collision)"
    return f"{f['a']} passed {f['clearance_mm']:.1f} mm from {f['b']} at t={f['t_s']:.2f} s{where}"
