"""A program: tasks (pick, place, move, weld, fasten), which robot does each, and what must finish first."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from spatialmath import SE3

from cellctl.errors import ProgramError
from cellctl.model import fields
from cellctl.model.cell import Cell, load_cell, load_parts
from cellctl.model.yamlsource import YDict, YList, check_keys, display_path, load_yaml


@dataclass
class MoveTarget:
    """Where a move task goes: the robot's home, joint angles, or a TCP pose in the world."""

    kind: str  # "home" | "joints" | "pose"
    q: np.ndarray | None = None
    T_world_tcp: SE3 | None = None


@dataclass
class Task:
    """One task of a program, in SI units. A weld runs the robot's weld_torch along `feature` (a seam) at
    `weld_speed`; the torch's z leans from the seam frame's z (-normal, into the surface) by `work_angle` about
    the seam's direction of travel (x, right-hand rule), then by `travel_angle` about the resulting y, so a
    positive travel angle points the wire ahead (push) and a negative one behind (drag). A fasten runs the
    robot's nutrunner on each of `holes` in turn, to `torque`, the nut turning through between
    `angle_window[0]` and `angle_window[1]` rad from the threshold torque (10 % of the target, where run-down ends) to the final torque. A spot task runs the
    robot's spot gun on each of `spots` in turn: it clamps the sheets with `spot_force` N and lets the weld current
    flow for `dwell` s."""

    id: str
    robot: str
    kind: str  # "pick_place" | "pick" | "move" | "weld" | "fasten"
    line: int
    after: list[str] = field(default_factory=list)
    part: str | None = None
    grasp: str = "grasp"
    place: tuple[str, str] | None = None  # (fixture or part, feature)
    move: list[MoveTarget] = field(default_factory=list)  # a move task's targets, in order
    motion: str = "ptp"  # a move task's motion: "ptp" (joint), "lin" (straight lines), "circ" (arc via, to)
    via: list[MoveTarget] = field(default_factory=list)  # pick_place: transfer waypoints between lift and place
    blend: bool = False  # fly by interior PTP waypoints (move targets, transfer vias) instead of stopping
    approach: float = 0.10  # m, along the tool axis before grasp and place
    lin_speed: float = 0.20  # m/s, for approach, lower, lift and retreat
    speed_scale: float = 1.0  # fraction of the arm's joint velocity limits for free (PTP) moves
    feature: tuple[str, str] | None = None  # weld: (fixture or part, seam)
    weld_speed: float | None = None  # m/s, travel speed along the seam
    work_angle: float = 0.0  # rad, torch tilt about the seam's direction of travel
    travel_angle: float = 0.0  # rad, torch tilt along the seam: > 0 push, < 0 drag
    holes: list[tuple[str, str]] = field(default_factory=list)  # fasten: (fixture or part, hole), in order
    torque: float | None = None  # N m, final tightening torque
    angle_window: tuple[float, float] = (0.0, 4 * np.pi)  # rad, turn from the threshold torque to the final torque: (min, max)
    spots: list[tuple[str, str]] = field(default_factory=list)  # spot: (fixture or part, spot), in order
    dwell: float = 0.3  # s of weld current at each spot
    spot_force: float | None = None  # N the electrodes clamp with (default: the gun's rated force)


@dataclass
class Program:
    name: str
    file: Path
    cell: Cell
    tasks: list[Task]
    takt_s: float | None = None

    @property
    def shown(self) -> str:
        return display_path(self.file)



TASK_KEYS = ("id", "robot", "after", "pick", "place", "grasp", "move", "weld", "speed_mm_s", "work_angle_deg",
             "travel_angle_deg", "fasten", "torque_nm", "angle_window_deg", "approach_mm", "lin_speed_mm_s", "speed_pct",
             "motion", "via", "blend", "spot", "dwell_s", "force_n")
ACTIONS = ("pick", "move", "weld", "fasten", "spot")
ACTION_OF = {"speed_mm_s": "weld", "work_angle_deg": "weld", "travel_angle_deg": "weld",
             "torque_nm": "fasten", "angle_window_deg": "fasten", "dwell_s": "spot", "force_n": "spot"}  # keys that only one kind of task takes


def _known(names, what: str) -> str:
    return f"{what}: {', '.join(names)}" if names else f"no {what} are defined"


MOTIONS = ("ptp", "lin", "circ")
MIN_SPOT_FORCE_SHARE = 0.1  # of the gun's rating: a clamp force below it is a unit slip (kN typed as N), not a spot weld


def _targets(entry: YDict, key: str, cell: Cell, robot: str, what: str) -> list[MoveTarget]:
    """One target or a list of them (waypoints in order)."""
    value = entry[key]
    if isinstance(value, YList):
        if not value:
            raise entry.error(key, f"'{key}' of {what} is an empty list; give at least one target")
        return [_move_target(value, i, cell, robot, what, key) for i in range(len(value))]
    return [_move_target(entry, key, cell, robot, what, key)]


def _move_target(holder, key, cell: Cell, robot: str, what: str, name: str = "move") -> MoveTarget:
    value = holder[key]
    if value == "home":
        return MoveTarget("home", q=cell.robots[robot].home)
    if isinstance(value, YDict) and "joints_deg" in value:
        check_keys(value, f"move target of {what}", ("joints_deg",))
        q = np.radians(fields.vector(value, "joints_deg", f"move target of {what}", len(cell.robots[robot].home)))
        return MoveTarget("joints", q=q)
    if isinstance(value, YDict):
        return MoveTarget("pose", T_world_tcp=fields.pose(value, f"move target of {what}"))
    raise holder.error(key, f"a target in '{name}' of {what} must be home, {{joints_deg: [...]}} or a TCP pose "
                            f"{{xyz: [...], rpy_deg: [...]}}")


def _motion(entry: YDict, task: Task, what: str) -> None:
    """A move task's motion kind and blending, checked against its targets."""
    if "motion" in entry:
        task.motion = entry["motion"]
        if task.motion not in MOTIONS:
            raise entry.error("motion", f"'motion' of {what} must be one of {', '.join(MOTIONS)}, not '{task.motion}'")
    if task.motion in ("lin", "circ") and any(t.kind != "pose" for t in task.move):
        raise entry.error("move", f"{what} moves {task.motion.upper()}, so its targets must be TCP poses {{xyz: [...], rpy_deg: [...]}}")
    if task.motion == "circ" and len(task.move) != 2:
        raise entry.error("move", f"{what} moves CIRC, so 'move' must be [via, to]: a pose the arc passes through and its end pose")



def _feature_ref(value, cell: Cell, what: str, key: str, like: str, error) -> tuple[str, str]:
    """An OWNER.FEATURE reference to a fixture's or part's feature; error(message) makes the ProgramError."""
    if not isinstance(value, str) or value.count(".") != 1:
        raise error(f"'{key}' of {what} must be OWNER.FEATURE, like {like}")
    owner, feature = value.split(".")
    owners = {**cell.fixtures, **cell.parts}
    if owner not in owners:
        raise error(f"'{owner}' is not a fixture or part of {cell.shown}; {_known(list(owners), 'fixtures and parts')}")
    if feature not in owners[owner].features:
        where = getattr(owners[owner], "defined_in", "") or cell.shown
        raise error(f"'{owner}' has no feature '{feature}' in {where}; {_known(list(owners[owner].features), 'features')}")
    return owner, feature


def _place_target(entry: YDict, cell: Cell, what: str) -> tuple[str, str]:
    """The feature a part is set down on: a frame (where the part's frame goes), not a seam, hole or spot."""
    owner, feature = _feature_ref(entry["place"], cell, what, "place", "nest_fixture.nest", lambda m: entry.error("place", m))
    owners = {**cell.fixtures, **cell.parts}
    kind = owners[owner].features[feature].kind
    if kind != "frame":
        frames = [n for n, f in owners[owner].features.items() if f.kind == "frame"]
        raise entry.error("place", f"{what} places onto '{owner}.{feature}', a {kind}; a place target is a frame feature (where "
                                   f"the part's frame goes); {_known(frames, 'frame features of ' + repr(owner))}")
    return owner, feature


def _of_kind(cell: Cell, kind: str) -> list[str]:
    """Every feature of this kind in the cell, as OWNER.FEATURE."""
    return [f"{o}.{f}" for o, owner in {**cell.fixtures, **cell.parts}.items() for f, feat in owner.features.items() if feat.kind == kind]


def _kind_feature(value, cell: Cell, what: str, key: str, kind: str, error) -> tuple[str, str]:
    """An OWNER.FEATURE reference that must name a feature of this kind (seam, hole)."""
    like = {"seam": "hinge_seam", "hole": "bolt_1", "spot": "spot_1"}[kind]
    owner, name = _feature_ref(value, cell, what, key, f"panel.{like}", error)
    actual = {**cell.fixtures, **cell.parts}[owner].features[name].kind
    if actual != kind:
        raise error(f"'{key}' of {what} names '{owner}.{name}', which is a {actual} feature, not a {kind}; "
                    f"{_known(_of_kind(cell, kind), f'{kind}s')}")
    return owner, name


def _require_tool(entry: YDict, cell: Cell, robot: str, what: str, verb: str, kind: str) -> None:
    tool = cell.robots[robot].tool
    if tool is None or tool.kind != kind:
        has = f"carries {tool.kind} '{tool.name}'" if tool else "carries no tool"
        able = [n for n, r in cell.robots.items() if r.tool is not None and r.tool.kind == kind]
        raise entry.error("robot", f"{what} {verb}, but robot '{robot}' carries no {kind} in {cell.shown} (it {has}); "
                                   f"give it a tool of kind {kind}, or pick another robot ({_known(able, f'robots with a {kind}')})")


def _weld(entry: YDict, cell: Cell, task: Task, what: str) -> None:
    """Fill a weld task: the seam, the travel speed and the torch angles."""
    _require_tool(entry, cell, task.robot, what, "welds", "weld_torch")
    task.kind = "weld"
    task.feature = _kind_feature(entry["weld"], cell, what, "weld", "seam", lambda m: entry.error("weld", m))
    if "speed_mm_s" not in entry:
        raise entry.error("weld", f"{what} welds, so it needs 'speed_mm_s', the travel speed along the seam (like speed_mm_s: 10)")
    task.weld_speed = fields.number(entry, "speed_mm_s", what, positive=True) / 1000.0
    for key in ("work_angle_deg", "travel_angle_deg"):
        if key in entry:
            angle = fields.number(entry, key, what)
            if abs(angle) >= 90:
                raise entry.error(key, f"'{key}' of {what} tilts the torch from the seam normal: between -90 and 90 deg, not {angle:g}")
            setattr(task, key.removesuffix("_deg"), float(np.radians(angle)))


def _feature_list(entry: YDict, cell: Cell, what: str, key: str, kind: str, like: str, once: str) -> list[tuple[str, str]]:
    """The features of one kind a task's `key` names (one, or a list), in order and each once."""
    value = entry[key]
    items = [value] if isinstance(value, str) else value
    if not isinstance(value, (str, YList)) or not items:
        raise entry.error(key, f"'{key}' of {what} must be a {kind} or a non-empty list of {kind}s, like {like}")
    out = []
    for i, item in enumerate(items):
        error = (lambda m: entry.error(key, m)) if isinstance(value, str) else (lambda m, i=i: items.error(i, m))
        feature = _kind_feature(item, cell, what, key, kind, error)
        if feature in out:
            raise error(f"'{key}' of {what} names {feature[0]}.{feature[1]} twice; {once}")
        out.append(feature)
    return out


def _fasten(entry: YDict, cell: Cell, task: Task, what: str) -> None:
    """Fill a fasten task: the holes in order, the torque and the angle window."""
    _require_tool(entry, cell, task.robot, what, "fastens", "nutrunner")
    task.kind = "fasten"
    task.holes = _feature_list(entry, cell, what, "fasten", "hole", "[panel.bolt_1, panel.bolt_2]", "fasten each hole once")
    if "torque_nm" not in entry:
        raise entry.error("fasten", f"{what} fastens, so it needs 'torque_nm', the final tightening torque (like torque_nm: 12)")
    task.torque = fields.number(entry, "torque_nm", what, positive=True)
    if "angle_window_deg" in entry:
        lo, hi = fields.vector(entry, "angle_window_deg", what, 2)
        if not 0 <= lo < hi:
            raise entry.error("angle_window_deg", f"'angle_window_deg' of {what} is [min, max] of the turn from the threshold "
                                                  f"torque (10 % of the target) to the final torque, with 0 <= min < max, like [20, 720]; got [{lo:g}, {hi:g}]")
        task.angle_window = (float(np.radians(lo)), float(np.radians(hi)))


def _spot(entry: YDict, cell: Cell, task: Task, what: str) -> None:
    """Fill a spot task: the spots in order, the weld time and the clamp force (at most the gun's rating)."""
    _require_tool(entry, cell, task.robot, what, "spot-welds", "spot_gun")
    task.kind = "spot"
    task.spots = _feature_list(entry, cell, what, "spot", "spot", "[panel.spot_1, panel.spot_2]", "weld each spot once")
    if "dwell_s" in entry:
        task.dwell = fields.number(entry, "dwell_s", what, positive=True)
    gun = cell.robots[task.robot].tool
    task.spot_force = gun.max_force
    if "force_n" in entry:
        task.spot_force = fields.number(entry, "force_n", what, positive=True)
        if task.spot_force > gun.max_force:
            raise entry.error("force_n", f"'force_n' of {what} is {task.spot_force:g} N, above the {gun.max_force:g} N that spot gun "
                                         f"'{gun.name}' is rated for; clamp with at most {gun.max_force:g} N (or use a stronger gun)")
        if task.spot_force < MIN_SPOT_FORCE_SHARE * gun.max_force:
            raise entry.error("force_n", f"'force_n' of {what} is {task.spot_force:g} N, under a tenth of the {gun.max_force:g} N "
                                         f"spot gun '{gun.name}' is rated for: a spot weld needs kilonewtons of clamp (is it kN? "
                                         f"{task.spot_force:g} kN is force_n: {task.spot_force * 1000:g})")


def _task(entry: YDict, cell: Cell, index: int) -> Task:
    check_keys(entry, f"task {index + 1}", ("id", "robot"), TASK_KEYS[2:])
    tid = entry["id"]
    if not isinstance(tid, str) or not tid:
        raise entry.error("id", "a task id must be a name, like load_bracket")
    what = f"task '{tid}'"
    robot = fields.name(entry, "robot", what)
    if robot not in cell.robots:
        raise entry.error("robot", f"robot '{robot}' is not in {cell.shown}; {_known(list(cell.robots), 'robots')}")
    if "place" in entry and "pick" not in entry:
        raise entry.error("place", f"{what}: 'place' needs a 'pick' in the same task (pick: PART, place: OWNER.FEATURE)")
    kinds = [k for k in ACTIONS if k in entry]
    if len(kinds) != 1:
        raise entry.error(None, f"{what} must say what to do with exactly one of 'pick' (with optional 'place'), 'move', "
                                f"'weld', 'fasten' or 'spot'")
    for key, action in ACTION_OF.items():
        if key in entry and action not in entry:
            hint = "; the speed of straight-line moves is lin_speed_mm_s" if key == "speed_mm_s" else ""
            raise entry.error(key, f"'{key}' of {what} is for {action} tasks; remove it (this task does '{kinds[0]}'){hint}")
    task = Task(tid, robot, "move", entry.line)
    if "after" in entry:
        task.after = fields.name_list(entry, "after", what)
    if "approach_mm" in entry:
        task.approach = fields.number(entry, "approach_mm", what, positive=True) / 1000.0
    if "lin_speed_mm_s" in entry:
        task.lin_speed = fields.number(entry, "lin_speed_mm_s", what, positive=True) / 1000.0
    if "speed_pct" in entry:
        pct = fields.number(entry, "speed_pct", what, positive=True)
        if pct > 100:
            raise entry.error("speed_pct", f"'speed_pct' of {what} is a percentage of the joint speed limits: above 0 and at most 100, not {pct}")
        task.speed_scale = pct / 100.0
    if "pick" in entry:
        part = fields.name(entry, "pick", what)
        if part not in cell.parts:
            raise entry.error("pick", f"part '{part}' is not in {cell.shown}; {_known(list(cell.parts), 'parts')}")
        tool = cell.robots[robot].tool
        if tool is None or tool.kind != "gripper":
            raise entry.error("robot", f"{what} picks, but robot '{robot}' carries no gripper in {cell.shown}")
        task.kind, task.part = "pick", part
        if "grasp" in entry:
            task.grasp = fields.name(entry, "grasp", what)
        if task.grasp not in cell.parts[part].features:
            raise entry.error("grasp" if "grasp" in entry else "pick",
                              f"part '{part}' has no feature '{task.grasp}' to grasp by; {_known(list(cell.parts[part].features), 'features')}")
        kind = cell.parts[part].features[task.grasp].kind
        if kind != "frame":
            frames = [n for n, f in cell.parts[part].features.items() if f.kind == "frame"]
            raise entry.error("grasp" if "grasp" in entry else "pick",
                              f"{what} grasps '{part}' by '{task.grasp}', a {kind}; a grasp is a frame feature (the TCP's pose "
                              f"at the grasp); {_known(frames, 'frame features of ' + repr(part))}")
        if "place" in entry:
            task.kind, task.place = "pick_place", _place_target(entry, cell, what)
            if task.place[0] == part:
                raise entry.error("place", f"{what} places '{part}' onto a feature of '{part}' itself; name a fixture or another part")
    elif "weld" in entry:
        _weld(entry, cell, task, what)
    elif "fasten" in entry:
        _fasten(entry, cell, task, what)
    elif "spot" in entry:
        _spot(entry, cell, task, what)
    else:
        task.move = _targets(entry, "move", cell, robot, what)
        _motion(entry, task, what)
    if task.kind != "move" and "motion" in entry:
        raise entry.error("motion", f"'motion' of {what} is for move tasks; this task does '{kinds[0]}'")
    if "via" in entry:
        if task.kind != "pick_place":
            raise entry.error("via", f"'via' of {what} lists transfer waypoints between a pick and its place; this task has no place")
        task.via = _targets(entry, "via", cell, robot, what)
    if "blend" in entry:
        task.blend = fields.boolean(entry, "blend", what)
        if task.kind == "move" and task.blend and task.motion != "ptp":
            raise entry.error("blend", f"'blend' of {what} flies by PTP waypoints; remove it from a {task.motion.upper()} move")
        if task.kind != "move" and not task.via:
            raise entry.error("blend", f"'blend' of {what} flies by the transfer's 'via' waypoints; give them, or remove 'blend'")
    return task


def _check_graph(tasks: list[Task], entries: YList) -> None:
    ids = [t.id for t in tasks]
    for i, t in enumerate(tasks):
        if ids.count(t.id) > 1:
            raise entries.error(i, f"task id '{t.id}' is used twice; ids must be unique")
        for dep in t.after:
            if dep not in ids:
                raise entries.error(i, f"task '{t.id}' runs after '{dep}', which is not a task; {_known(ids, 'tasks')}")
    state: dict[str, int] = {}
    by_id = {t.id: t for t in tasks}

    def visit(tid: str, stack: list[str]) -> None:
        if state.get(tid) == 2:
            return
        if state.get(tid) == 1:
            cycle = stack[stack.index(tid):] + [tid]
            raise entries.error(ids.index(tid), f"tasks wait on each other in a cycle: {' -> '.join(cycle)}; remove one 'after'")
        state[tid] = 1
        for dep in by_id[tid].after:
            visit(dep, stack + [tid])
        state[tid] = 2

    for t in tasks:
        visit(t.id, [])


def run_order(tasks: list[Task]) -> tuple[list[Task], list[Task]]:
    """An order the tasks can run in, each robot doing its own tasks in program order and every `after` met;
    and the tasks that can never start (they wait, through `after`s and program order, on each other)."""
    heads = {}
    for t in tasks:
        heads.setdefault(t.robot, []).append(t)
    order, done = [], set()
    while True:
        ready = [q.pop(0) for q in heads.values() if q and all(d in done for d in q[0].after)]
        if not ready:
            return order, [t for t in tasks if t.id not in done]
        order += ready
        done.update(t.id for t in ready)


def _check_robot_order(tasks: list[Task], entries: YList) -> None:
    """Each robot does its tasks in program order, so an `after` on a task that comes later for the same robot,
    directly or through other robots' tasks, can never be met."""
    _, never = run_order(tasks)
    if never:
        stuck = never[0]
        started = {t.id for t in tasks} - {t.id for t in never}
        later = sorted(d for d in stuck.after if d not in started)
        raise entries.error([t.id for t in tasks].index(stuck.id),
                            f"task '{stuck.id}' can never start: robot '{stuck.robot}' does its tasks in program order, and "
                            f"'{stuck.id}' waits for {', '.join(repr(d) for d in later) or 'a task'} that can only run after it; "
                            f"move '{stuck.id}' below what it waits for")


PROCESS_VERB = {"weld": ("welds", "weld each seam once; for another pass define the pass as a seam of its own"),
                "fasten": ("fastens", "fasten each hole once, or in stages to rising torques: a second run to the same "
                                          "torque on a tightened bolt is a double hit"),
                "spot": ("spot welds", "weld each spot once: a second spot on the same place is a double spot")}


def _processed(t: Task) -> list[tuple[str, str]]:
    """The features a process task works: its seam, holes or spots."""
    return [t.feature] if t.kind == "weld" and t.feature else t.holes if t.kind == "fasten" else t.spots if t.kind == "spot" else []


def happens_before(tasks: list[Task]) -> dict[str, set[str]]:
    """For each task, every task that must have ended before it starts: its `after`s and the robot's earlier tasks,
    transitively."""
    before: dict[str, set[str]] = {}
    last: dict[str, str] = {}
    for t in run_order(tasks)[0]:  # the graph is acyclic here: every task appears after all it waits for
        direct = set(t.after) | ({last[t.robot]} if t.robot in last else set())
        before[t.id] = direct.union(*(before[d] for d in direct)) if direct else set()
        last[t.robot] = t.id
    return before


def _check_process_order(tasks: list[Task], entries: YList) -> None:
    """Each seam, hole and spot is worked by one task; and a task working a part that another robot moves is ordered
    against that move (by `after`s, or program order through other tasks), or which comes first would depend on
    timing: the part could be worked where it lay, or snatched from under the tool."""
    ids = [t.id for t in tasks]
    first: dict[tuple[str, str], Task] = {}
    for i, t in enumerate(tasks):
        for feature in _processed(t):
            other = first.setdefault(feature, t)
            if other is not t and t.kind == "fasten" and other.kind == "fasten" and t.torque > other.torque:
                first[feature] = t  # a further tightening stage (to a higher torque), as joints are tightened in steps
            elif other is not t:
                verb, fix = PROCESS_VERB[t.kind]
                raise entries.error(i, f"task '{t.id}' {verb} {feature[0]}.{feature[1]}, which task '{other.id}' (line "
                                       f"{other.line}) works already; {fix}")
    before = happens_before(tasks)
    for i, t in enumerate(tasks):
        for owner in dict.fromkeys(o for o, _ in _processed(t)):
            for mover in tasks:
                if mover.part == owner and mover.robot != t.robot and mover.id not in before[t.id] and t.id not in before[mover.id]:
                    raise entries.error(i, f"task '{t.id}' works {owner}, which task '{mover.id}' (robot '{mover.robot}', line "
                                           f"{mover.line}) moves, and nothing orders the two: which runs first would depend on "
                                           f"timing; add after: [{mover.id}] to '{t.id}' (or after: [{t.id}] to '{mover.id}')")


def _with_product(cell: Cell, doc: YDict) -> Cell:
    """The cell with the parts the program brings (`parts:`, as in a cell file): a second product on the same
    hardware. A part named like one of the cell's replaces it (the infeed holds this product instead)."""
    if "parts" not in doc:
        return cell
    parts = load_parts(doc)
    for name in parts:
        if name in cell.robots or name in cell.fixtures:
            raise doc["parts"].error(name, f"'{name}' is a {'robot' if name in cell.robots else 'fixture'} of {cell.shown}; "
                                           "name the program's part otherwise")
    return replace(cell, parts={**cell.parts, **parts})


def _strings(node) -> set[str]:
    """Every string in a YAML subtree (task entries refer to parts only by name strings)."""
    if isinstance(node, str):
        return {node}
    items = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    return set().union(*map(_strings, items)) if items else set()


def _check_unused_parts(doc: YDict, cell: Cell, entries: YList) -> None:
    """A program's part that replaces none of the cell's and that no task names is almost always a misspelt
    replacement (the cell's part would silently stay): an error, with the near names."""
    if "parts" not in doc:
        return
    named = {s.split(".")[0] for s in _strings(entries)}
    for name in doc["parts"]:
        if name not in named and name not in cell.parts:
            near = difflib.get_close_matches(name, list(cell.parts), n=3, cutoff=0.6)
            hint = f"did you mean {' or '.join(repr(n) for n in near)}? " if near else ""
            raise doc["parts"].error(name, f"part '{name}' replaces no part of {cell.shown} and no task uses it; {hint}"
                                           "name it as the cell's part it replaces, or use it in a task")


def load_program(path: Path) -> Program:
    """Read a program file (programs/*.yaml) and its cell; every error names the file, line and fix."""
    doc = load_yaml(path)
    check_keys(doc, "a program file", ("program", "cell", "tasks"), ("takt_s", "parts"))
    hardware = load_cell(fields.file_path(doc, "cell", "the program", ".yaml"))
    cell = _with_product(hardware, doc)
    entries = doc["tasks"]
    if not isinstance(entries, YList) or not entries:
        raise doc.error("tasks", "'tasks' must be a non-empty list of tasks, each like {id: ..., robot: ..., pick: ...}")
    tasks = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, YDict):
            raise entries.error(i, "each task must be a mapping like {id: load, robot: arm, pick: bracket, place: nest_fixture.nest}")
        tasks.append(_task(entry, cell, i))
    _check_unused_parts(doc, hardware, entries)
    _check_graph(tasks, entries)
    _check_robot_order(tasks, entries)
    _check_process_order(tasks, entries)
    takt = fields.number(doc, "takt_s", "the program", positive=True) if "takt_s" in doc else None
    if not isinstance(doc["program"], str):
        raise doc.error("program", "'program' must be the program's name")
    return Program(doc["program"], path.resolve(), cell, tasks, takt)


__all__ = ["MoveTarget", "Program", "ProgramError", "Task", "load_program"]
