"""Watching a cycle in PyBullet's GUI: played at real time (or a multiple of it), with the overlays drawn as debug
lines and texts, and keys that press the cell's panel buttons: the orchestrator's own pause, resume, e-stop and
reset triggers, the ones a hardware cell's panel fires.

The GUI shows a mirror: a second, never-stepped twin in a GUI client, posed like the simulated one at every refresh.
The cycle itself runs in the headless twin, exactly as `validate` runs it. (A PyBullet GUI client answers each call
only between the frames it draws, so the twin's own few dozen calls a step would slow the cycle to a crawl.)"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
import time

import numpy as np

from cellctl.control.orchestrator import CellMode
from cellctl.errors import ProgramError
from cellctl.model.cell import Camera
from cellctl.model.program import Program
from cellctl.twin._pybullet import pb
from cellctl.twin.world import World
from cellctl.viz.camera import View, camera_names, choose
from cellctl.viz.frames import paint_bolts
from cellctl.viz.overlays import RED, Colour, Overlays, Scene, box_edges

log = logging.getLogger(__name__)

KEY_HELP = "space: pause / resume (start again after a reset)   e: e-stop   r: reset   1-9: cameras   q: quit"
KEYS = {ord(" "): "toggle", ord("e"): "estop", ord("r"): "reset", ord("q"): "quit"}
REFRESH_S = 1 / 30  # s of wall time between refreshes of the picture (at the speed asked for)
UNPACED_REFRESH = 8.0  # with --speed 0, refresh as if playing at this speed
GUI_FOV_DEG, GUI_ASPECT = 90.0, 4 / 3  # PyBullet's GUI camera: its vertical field of view; its window, 1024 x 768
GUI_CLOSER = 0.65  # of a preset's distance: the GUI's 90 deg lens shows the cell small (framing it as recordings do,
#                   at 0.47, distorts what is near the camera)
KEYS_EVERY = 6  # physics steps between keyboard polls (40 Hz)
BEHIND_S = 0.25  # s the play may lag real time before it stops trying to catch up
MESSAGE_S = 3.0  # s an operator message stays up


class WindowClosed(Exception):
    """The GUI window was closed, or q pressed, before the cycle ended."""


def check_screen() -> None:
    """Raise ProgramError when there is no screen to open the GUI on (PyBullet would end the process instead)."""
    if not sys.platform.startswith("linux"):
        return
    hint = "run on a desktop, or under a virtual screen (xvfb-run -a cellctl run ...), or record headless with --record"
    display = os.environ.get("DISPLAY")
    if not display:
        raise ProgramError(f"the GUI needs a screen and DISPLAY is not set; {hint}")
    try:
        x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    except OSError:
        return  # PyBullet loads X11 itself; let it say what is missing
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    handle = x11.XOpenDisplay(display.encode())
    if not handle:
        raise ProgramError(f"the GUI cannot open the screen DISPLAY={display}; {hint}")
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    x11.XCloseDisplay(handle)


def press(orch, action: str) -> str:
    """Fire the cell trigger an operator's button stands for; what happened, in words."""
    C, mode = CellMode, orch.state
    if action == "toggle":
        if mode is C.RUNNING:
            orch.pause()
            return "paused: every robot holds on its path (space resumes)"
        if mode is C.PAUSED:
            orch.resume()
            return "resumed"
        if mode is C.READY:
            orch.start()
            return "started"
        return f"the cell is {mode.name.lower()}: nothing to pause or resume"
    if action == "estop":
        orch.estop()
        return "E-STOP: every robot and tool stopped (r resets)"
    if action == "reset":
        if mode is C.ESTOPPED:
            orch.reset()
            return "reset: space starts the cell again, each task where the world lets it continue"
        return f"the cell is {mode.name.lower()}: nothing to reset"
    raise ValueError(action)


class DebugDraw:
    """PyBullet debug items kept by key and changed only when what they show changes (each change is a round trip
    to the GUI thread; new items are made with rendering held, in one batch)."""

    def __init__(self, client: int):
        self.client = client
        self.items: dict[object, tuple[int, tuple]] = {}
        self._batch: list[tuple] = []

    def line(self, key, a, b, colour: Colour, width: float = 2.0) -> None:
        self._put(key, ("line", tuple(np.round(a, 4)), tuple(np.round(b, 4)), colour, width))

    def text(self, key, text: str, at, colour: Colour = (0, 0, 0), size: float = 1.2) -> None:
        self._put(key, ("text", text, tuple(np.round(at, 4)), colour, size))

    def hide(self, key) -> None:
        item = self.items.get(key)
        if item is not None and item[1][0] == "line" and item[1][1] != item[1][2]:
            self._put(key, ("line", item[1][1], item[1][1], item[1][3], item[1][4]))
        elif item is not None and item[1][0] == "text" and item[1][1]:
            self._put(key, ("text", "", item[1][2], item[1][3], item[1][4]))

    def _put(self, key, spec: tuple) -> None:
        item = self.items.get(key)
        if item is None or item[1] != spec:
            self._batch.append((key, spec))

    def flush(self) -> None:
        """Send the changes: replacing an item is cheap, making one waits for the GUI, so new ones go in one batch."""
        new = [k for k, _ in self._batch if k not in self.items]
        if new:
            pb.configureDebugVisualizer(pb.COV_ENABLE_RENDERING, 0, physicsClientId=self.client)
        for key, spec in self._batch:
            old = self.items.get(key)
            replace = {"replaceItemUniqueId": old[0]} if old else {}
            if spec[0] == "line":
                uid = pb.addUserDebugLine(list(spec[1]), list(spec[2]), list(spec[3]), spec[4], physicsClientId=self.client,
                                          **replace)
            else:
                uid = pb.addUserDebugText(spec[1], list(spec[2]), list(spec[3]), spec[4], physicsClientId=self.client,
                                          **replace)
            self.items[key] = (uid, spec)
        if new:
            pb.configureDebugVisualizer(pb.COV_ENABLE_RENDERING, 1, physicsClientId=self.client)
        self._batch = []


class Mirror(World):
    """The cell's twin in a GUI client, built with drawing held (each call would wait for a frame), never stepped:
    `pose_like(world)` puts its robots, parts and bolts where they are in the simulated world."""

    def __init__(self, cell):
        super().__init__(cell, gui=True)
        for flag, on in ((pb.COV_ENABLE_GUI, 0), (pb.COV_ENABLE_KEYBOARD_SHORTCUTS, 0), (pb.COV_ENABLE_RENDERING, 1)):
            pb.configureDebugVisualizer(flag, on, physicsClientId=self.client)
        self._sent: dict[int, tuple] = {}

    def _build(self) -> None:
        pb.configureDebugVisualizer(pb.COV_ENABLE_RENDERING, 0, physicsClientId=self.client)
        super()._build()

    def pose_like(self, world: World) -> None:
        """Copy the poses of whatever moved since the last call (robots' joints, parts' and bolts' bases)."""
        c, src = self.client, world.client
        for name, r in world.robots.items():
            joints = list(range(pb.getNumJoints(r.body, physicsClientId=src)))
            q = tuple(round(s[0], 5) for s in pb.getJointStates(r.body, joints, physicsClientId=src))
            body = self.robots[name].body
            if self._sent.get(body) != q:
                pb.resetJointStatesMultiDof(body, joints, [[v] for v in q], physicsClientId=c)
                self._sent[body] = q
        for name, kind in world.kinds.items():
            if kind in ("part", "bolt"):
                pos, orn = pb.getBasePositionAndOrientation(world.ids[name], physicsClientId=src)
                pose = tuple(round(v, 5) for v in (*pos, *orn))
                body = self.ids[name]
                if self._sent.get(body) != pose:
                    pb.resetBasePositionAndOrientation(body, pos, orn, physicsClientId=c)
                    self._sent[body] = pose


class Viewer:
    """on_tick for simulate(gui=True): paces the cycle to wall time, draws the overlays, answers the keys."""

    def __init__(self, program: Program, speed: float = 1.0, camera: str | None = None, wait_at_end: bool = True):
        self.program, self.speed, self.camera, self.wait_at_end = program, speed, camera, wait_at_end
        self.overlays: Overlays | None = None
        self.draw: DebugDraw | None = None
        self.mirror: Mirror | None = None
        self.presses: list[tuple[float, str, str]] = []  # (cell time, action, what happened)
        self._message = ("", 0.0)  # (text, until when, perf_counter s)
        self._wall0 = self._next_refresh = 0.0
        self._painted: dict[str, Colour] = {}
        self._legend = (np.zeros(3), np.zeros(3))  # where its first line stands, and the step to the next (m, world)

    # ------------------------------------------------------------------ the on_tick hook
    def __call__(self, world, orch) -> None:
        try:
            if self.overlays is None:
                self._setup(world)
            self.overlays.observe(world, orch)
            if world.steps % KEYS_EVERY == 0:
                self.keys(world, orch, pb.getKeyboardEvents(physicsClientId=self.mirror.client))
            self._pace(world)
            if world.t >= self._next_refresh or orch.finished:
                # in cell time: a GUI slow to draw slows the play down, it never starves the physics of steps
                self._next_refresh = world.t + REFRESH_S * (self.speed if self.speed > 0 else UNPACED_REFRESH)
                self.refresh(world, orch)
            if orch.finished and self.wait_at_end:
                self._wait(world, orch)
        except pb.error as exc:
            if self.mirror is not None and pb.isConnected(physicsClientId=self.mirror.client):
                raise
            raise WindowClosed(f"the GUI window was closed at t = {world.t:.2f} s") from exc

    def _setup(self, world) -> None:
        self.mirror = Mirror(world.cell)
        self.set_camera(world, self.camera)
        self.overlays = Overlays(self.program, world)
        self.draw = DebugDraw(self.mirror.client)
        self._wall0 = time.perf_counter() - world.t / self.speed if self.speed > 0 else 0.0

    def set_camera(self, world, name: str | None) -> None:
        """Look through a camera preset, a little closer than recordings do (the GUI's lens is wider)."""
        cam = choose(world, name)
        cam = Camera(cam.name, cam.target, cam.distance * GUI_CLOSER, cam.yaw, cam.pitch)
        pb.resetDebugVisualizerCamera(float(cam.distance), float(np.degrees(cam.yaw)), float(np.degrees(cam.pitch)),
                                      list(map(float, cam.target)), physicsClientId=self.mirror.client)
        # the legend's first line at the view's top left, in the plane of the target; the next ones below it
        rows = np.array(View(cam, GUI_ASPECT, GUI_FOV_DEG).view).reshape(4, 4)  # column-major: rows are the columns
        right, up = rows[:3, 0], rows[:3, 1]
        tan_v = np.tan(np.radians(GUI_FOV_DEG) / 2)
        self._legend = (cam.target + cam.distance * tan_v * (-0.95 * GUI_ASPECT * right + 0.92 * up),
                        -0.055 * cam.distance * tan_v * up)

    def _pace(self, world) -> None:
        """Hold the cycle to `speed` times real time; a viewer that falls behind does not race to catch up."""
        if self.speed <= 0:
            return
        ahead = self._wall0 + world.t / self.speed - time.perf_counter()
        if ahead > 0:
            time.sleep(ahead)
        elif ahead < -BEHIND_S:
            self._wall0 -= ahead + BEHIND_S

    # ------------------------------------------------------------------ keys
    def keys(self, world, orch, events: dict) -> None:
        """Act on the keys pressed since the last poll."""
        names = camera_names(world.cell)
        for code, state in events.items():
            if not state & pb.KEY_WAS_TRIGGERED:
                continue
            if ord("1") <= code <= ord("9") and code - ord("1") < len(names):
                self.set_camera(world, names[code - ord("1")])
                continue
            action = KEYS.get(code)
            if action == "quit":
                raise WindowClosed(f"quit at t = {world.t:.2f} s")
            if action is not None:
                self.operate(world, orch, action)

    def operate(self, world, orch, action: str) -> str:
        what = press(orch, action)
        self.presses.append((world.t, action, what))
        self._message = (what, time.perf_counter() + MESSAGE_S)
        log.info("t=%.2f s %s", world.t, what)
        return what

    def _wait(self, world, orch) -> None:
        """The cycle is over: keep the window up until q is pressed or the window is closed."""
        self._message = ("cycle over: q or closing the window ends the run", float("inf"))
        self._draw(self.overlays.scene(world, orch))
        self.draw.flush()
        while True:
            if not pb.isConnected(physicsClientId=self.mirror.client):
                return
            try:
                events = pb.getKeyboardEvents(physicsClientId=self.mirror.client)
                self.keys(world, orch, {k: v for k, v in events.items() if KEYS.get(k) not in ("toggle", "estop", "reset")})
            except WindowClosed:
                return
            except pb.error:
                return
            time.sleep(0.05)

    def close(self) -> None:
        if self.mirror is not None:
            self.mirror.close()
            self.mirror = None

    # ------------------------------------------------------------------ drawing
    def refresh(self, world, orch) -> None:
        scene = self.overlays.scene(world, orch)
        self.mirror.pose_like(world)
        paint_bolts(self.mirror, scene.bolts, self._painted)
        self._draw(scene)
        self.draw.flush()

    def _draw(self, scene: Scene) -> None:
        d, colours = self.draw, self.overlays.colours
        # a legend stacked down from above the cell: what the cell and each robot do, operator messages, the keys
        lines = [("headline", f"{self.program.name}   t = {np.floor(scene.t * 2) / 2:.1f} s   cell {scene.mode}", (0, 0, 0))]
        lines += [(("robot", r.name), f"{r.name}: {r.text}", r.colour) for r in scene.robots]
        message, until = self._message
        shown = message if time.perf_counter() < until else ""
        lines += [("message", shown, RED), ("keys", KEY_HELP, (0.3, 0.3, 0.3))]
        for i, (key, text, colour) in enumerate(lines):
            d.text(key, text, self._legend[0] + i * self._legend[1], colour, 1.0 if key == "keys" else 1.3)
        for z in scene.zones:
            for i, (a, b) in enumerate(box_edges(z.lo, z.hi)):
                d.line(("zone", z.name, i), a, b, z.colour, 4 if z.occupied else 1.5)
            d.text(("zone", z.name), z.label, [z.lo[0], z.hi[1], z.hi[2] + 0.03], z.colour, 1.1)
        for robot in colours:
            path = scene.paths.get(robot)
            for i in range(len(path) - 1 if path is not None else 0):
                d.line(("path", robot, i), path[i], path[i + 1], colours[robot], 2.5)
            for i in range(len(path) - 1 if path is not None else 0, 64):
                if ("path", robot, i) in d.items:
                    d.hide(("path", robot, i))
        for name, (points, segment_colours) in scene.seams.items():
            for i, colour in enumerate(segment_colours):
                d.line(("seam", name, i), points[i], points[i + 1], colour, 5)
        for name, (point, colour) in scene.spots.items():
            for i, axis in enumerate(np.eye(3) * 0.008):
                d.line(("spot", name, i), point - axis, point + axis, colour, 4)
        for k, flag in enumerate(scene.flags[:20]):
            for i, axis in enumerate(np.array([[1, 1, 0], [1, -1, 0], [0, 0, 1.4]]) * 0.025):
                d.line(("flag", k, i), flag.where - axis, flag.where + axis, RED, 4)
            d.text(("flag", k), f"collision: {flag.text} ({flag.t:.2f} s)", flag.where + [0, 0, 0.05], RED, 1.1)
