"""The collision check: every contact in the simulated world, against the contacts each task phase allows."""

from __future__ import annotations

from cellctl.model.program import Program
from cellctl.model.urdf_info import urdf_info
from cellctl.twin.trace import Trace
from cellctl.validate.holding import body as _body, held_by as _held_by, holdings as _holdings, link as _link, riding as _riding
from cellctl.validate.result import CheckResult
from cellctl.validate.timeline import Timeline

# The steps in which a robot's tool may touch the part its task handles, beyond the time it holds it.
TOOL_ON_PART = {("pick", "close"), ("pick", "verify_grasp"), ("pick", "lift"),
                ("place", "release"), ("place", "verify_place"),
                ("fasten", "engage"), ("fasten", "run_down"), ("fasten", "tighten"), ("fasten", "verify"),
                ("spot", "close"), ("spot", "dwell"), ("spot", "open")}
# (A weld torch never may touch anything: the wire tip is the TCP and the arc bridges the gap.)
# The steps in which a part just grasped may still touch what it rested on.
LEAVING_SUPPORT = {("pick", "close"), ("pick", "verify_grasp"), ("pick", "lift")}
# Once it has come clear of where it was grasped, a part still sliding off a pin is pushed lightly; one dragged
# across a pin or a locator on its way up is pushed much harder. (At the first moment of the lift, before the part
# has moved, the grip's squeeze can press it on its support with a few times its weight.)
LIFT_CLEAR = 0.002  # m the part has moved from where it was grasped
LIFT_FORCE = 2.0  # x the part's weight, after that
LIFT_FORCE_MIN = 5.0  # N, for light parts
SETTING_DOWN = {("place", "lower"), ("place", "release"), ("place", "verify_place")}  # a part on its way onto its target
SET_DOWN_DEPTH = 0.001  # m: a part touching its target while still being lowered, this shallow and that lightly, is set down


def _describe(p: dict) -> str:
    if p["step"] == "cell layout":
        return f"{p['a']} and {p['b']} overlap {p['max_depth_mm']:.1f} mm as the cell file lays them out; move one of them"
    task = f" in task {p['task']} ({p['step']})" if p["task"] else ""
    return f"{p['a']} hit {p['b']} at t={p['t_first_s']:.2f} s{task}, {p['max_depth_mm']:.1f} mm deep, {p['max_force_n']:.0f} N"


def _moved(trace: Trace, part: str, i0: int, t: float) -> float:
    """How far (m) the part's frame has moved between trace step i0 and time t."""
    poses = trace.parts[part]
    return float(((poses[trace.index_at(t)][:3, 3] - poses[i0][:3, 3]) ** 2).sum() ** 0.5)


def check_collision(program: Program, trace: Trace, timeline: Timeline) -> CheckResult:
    holdings = _holdings(trace)
    # the bodies a task's tool works on: the part it picks, the parts or fixtures that hold its spots, the bolts
    # standing in its holes (named OWNER.HOLE; a socket turns the bolt and never touches the part around it)
    task_parts = {t.id: {t.part} if t.part else {owner for owner, _ in t.spots} | {f"{o}.{h}" for o, h in t.holes}
                  for t in program.tasks}
    kinds = trace.bodies

    def held_by(part: str, t: float):
        return _held_by(holdings, part, t)

    weight = {name: 9.81 * urdf_info(part.urdf).mass for name, part in program.cell.parts.items()}

    def ridden(part: str, t: float):
        """The holding whose part this one rides on (it sat on it at the grasp and kept its place), or None."""
        if kinds.get(part) != "part":
            return None
        return next((h for h in holdings if h.t0 - 1e-9 <= t <= h.t1 + 1e-9 and part in h.touched and h.part != part
                     and held_by(part, t) is None and _moved(trace, part, h.i0, t) > LIFT_CLEAR
                     and _riding(trace, part, h, t)), None)  # it rides once it has come up with the carrier: not what is under it

    def carried(part: str, t: float) -> bool:
        """Held, or riding on a held part."""
        return held_by(part, t) is not None or ridden(part, t) is not None

    holes_of = {t.id: [f"{o}.{h}" for o, h in t.holes] for t in program.tasks if t.holes}
    place_on = {t.id: t.place[0] for t in program.tasks if t.place}  # the fixture or part a task sets its part on

    def working_bolt(robot: str, task: str, t: float) -> str | None:
        """The bolt a fasten task is turning at t (one hole after the other, each begun by an approach)."""
        holes, k = holes_of.get(task, []), timeline.entered(robot, task, "approach", t) - 1
        return holes[k] if 0 <= k < len(holes) else None

    def allowed(a: str, b: str, t: float, force: float = 0.0, depth: float = 0.0) -> bool:
        ba, bb = _body(a), _body(b)
        ka, kb = kinds.get(ba), kinds.get(bb)
        if "robot" not in (ka, kb) and not any(k == "part" and carried(x, t) for k, x in ((ka, ba), (kb, bb))):
            return True  # nothing that moves under control: parts resting on tables, fixtures on the floor
        for (x, kx, y, ky) in ((a, ka, b, kb), (b, kb, a, ka)):
            bx, by = _body(x), _body(y)
            if kx == "robot" and _link(x) == trace.mounts.get(bx) and ky in ("floor", "fixture"):
                return True  # the robot's base on what it is mounted on
            if kx == "robot" and ky in ("part", "fixture", "bolt") and _link(x) in trace.tool_links.get(bx, ()):
                h = held_by(by, t)
                if h and h.robot == bx:
                    return True  # the part in the hand
                task, machine, step = timeline.at(bx, t)
                if task and by in task_parts.get(task, ()) and (machine, step) in TOOL_ON_PART and \
                        (ky != "bolt" or by == working_bolt(bx, task, t)):
                    return True  # fingers closing on or letting go of the task's part, a socket on the bolt it turns
            if kx == "part" and ky != "robot":
                h = held_by(bx, t)
                rides = ridden(bx, t) if h is None else None
                if rides is not None:  # a passenger: it may touch what carries it, and its old support as it leaves
                    if by == rides.part:
                        return True
                    task, machine, step = timeline.at(rides.robot, t)
                    if by in rides.touched and (machine, step) in LEAVING_SUPPORT and _moved(trace, bx, rides.i0, t) <= LIFT_CLEAR:
                        return True
                    continue
                if h is None and (ky != "part" or held_by(by, t) is None):
                    return True
                if h is not None and by in h.touched:
                    task, machine, step = timeline.at(h.robot, t)
                    if (machine, step) in LEAVING_SUPPORT and (step != "lift" or force <= max(LIFT_FORCE * weight.get(bx, 0.0), LIFT_FORCE_MIN)
                                                               or _moved(trace, bx, h.i0, t) <= LIFT_CLEAR):
                        return True  # the part leaving what it rested on
                    if ky == "part" and held_by(by, t) is None and _riding(trace, by, h, t):
                        return True  # a part carried on top of the held one
                if h is not None:
                    task, machine, step = timeline.at(h.robot, t)
                    if (machine, step) in SETTING_DOWN and by == place_on.get(task) and depth <= SET_DOWN_DEPTH:
                        load = weight.get(bx, 0.0) + sum(w for p, w in weight.items() if p != bx and ridden(p, t) is h)
                        if force <= max(LIFT_FORCE * load, LIFT_FORCE_MIN):
                            return True  # tilted a little in the hand (with what it carries), touching down early, lightly
        return False

    pairs: dict[tuple[str, str], dict] = {}
    for c in trace.contacts:
        if allowed(c.a, c.b, c.t, c.force, c.depth):
            continue
        key = (c.a, c.b)
        p = pairs.get(key)
        if p is None:
            robots = [r for r in (_body(c.a), _body(c.b)) if kinds.get(r) == "robot"]
            robots += [h.robot for x in (_body(c.a), _body(c.b)) if (h := held_by(x, c.t) or ridden(x, c.t))]
            # name the task of a robot that was working (a robot standing idle may be the one that was hit)
            phases = [timeline.at(r, c.t) for r in robots]
            task, machine, step = next((p for p in phases if p[0]), (None, None, None))
            # the working robot's side (its link, or the part in its hand) is named first: it is what hit the other
            working = next((r for r, p in zip(robots, phases) if p[0]), None)

            def owner(x: str) -> str | None:
                h = held_by(_body(x), c.t) or ridden(_body(x), c.t)
                return _body(x) if kinds.get(_body(x)) == "robot" else (h.robot if h else None)

            a, b = (c.b, c.a) if working and owner(c.b) == working and owner(c.a) != working else (c.a, c.b)
            pairs[key] = {"a": a, "b": b, "t_first_s": round(c.t, 4), "t_last_s": round(c.t, 4),
                          "max_depth_mm": round(c.depth * 1000, 2), "max_force_n": round(c.force, 1),
                          "where": list(c.where), "task": task, "step": f"{machine}.{step}" if machine else None}
        else:
            p["t_last_s"] = round(c.t, 4)
            p["max_depth_mm"] = max(p["max_depth_mm"], round(c.depth * 1000, 2))
            p["max_force_n"] = max(p["max_force_n"], round(c.force, 1))
    layout = [{"a": a, "b": b, "t_first_s": 0.0, "t_last_s": 0.0, "max_depth_mm": round(depth * 1000, 2), "max_force_n": 0.0,
               "where": None, "task": None, "step": "cell layout"} for a, b, depth in trace.layout_overlaps
              if not (b == "floor" and kinds.get(_body(a)) == "robot" and _link(a) == trace.mounts.get(_body(a)))]
    findings = layout + sorted(pairs.values(), key=lambda p: (p["t_first_s"], p["a"], p["b"]))
    if not findings:
        return CheckResult("collision", True, f"no contact outside those the task phases allow ({len(trace.t)} steps checked)")
    first = findings[0]
    detail = "; ".join(_describe(p) for p in findings[:3])
    more = f"; and {len(findings) - 3} more pairs" if len(findings) > 3 else ""
    return CheckResult("collision", False, detail + more, first["task"], findings)
