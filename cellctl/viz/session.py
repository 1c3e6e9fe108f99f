"""A cycle run with something watching it: the GUI, a recording, key frames for the report page; then the plots
and the page. Everything here only reads the world and the controllers (except the operator's keys in the GUI), so
the validation report is the same, bit for bit, with or without it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from cellctl.errors import ProgramError
from cellctl.model.program import Program
from cellctl.validate.result import Report
from cellctl.twin.trace import SimResult

DEFAULT_FPS = 20.0
DEFAULT_SIZE = (640, 480)


@dataclass
class Watch:
    """What to show or write about a run (None: not wanted)."""

    record: Path | None = None
    fps: float = DEFAULT_FPS
    size: tuple[int, int] = DEFAULT_SIZE
    camera: str | None = None
    plots: Path | None = None
    html: Path | None = None
    gui: bool = False
    speed: float = 1.0
    wait_at_end: bool = True

    @property
    def wanted(self) -> bool:
        return bool(self.record or self.plots or self.html or self.gui)


@dataclass
class Outcome:
    result: SimResult
    report: Report
    written: list[str] = field(default_factory=list)  # lines saying what was written where
    wall_s: float = 0.0


def check(program: Program, watch: Watch) -> None:
    """Refuse, before anything is simulated, what could not be written or shown (exit 2 with the fix)."""
    from cellctl.viz.camera import check_camera
    from cellctl.viz.record import FORMATS, check_output

    check_camera(program.cell, watch.camera)
    if watch.gui:
        from cellctl.viz.gui import check_screen

        check_screen()
    if watch.record:
        check_output(watch.record, "a recording", FORMATS, "--record")
    if watch.html:
        check_output(watch.html, "the report page", (".html", ".htm"), "--html")
    if watch.plots and watch.plots.exists() and not watch.plots.is_dir():
        raise ProgramError("this is a file, not a folder; name a folder for the plots with --plots", str(watch.plots))
    if watch.plots and not watch.plots.parent.is_dir():
        raise ProgramError(f"the folder '{watch.plots.parent}' does not exist; create it or choose another --plots folder",
                           str(watch.plots))


def _chain(hooks: list[Callable]) -> Callable | None:
    if not hooks:
        return None

    def on_tick(world, orch) -> None:
        for hook in hooks:
            hook(world, orch)

    return on_tick


def run_watched(program: Program, seed: int, watch: Watch, console: Console) -> Outcome:
    """Simulate the program with the GUI, recorder and key frames `watch` asks for; then write its plots and page."""
    from cellctl.simulate import simulate
    from cellctl.twin.world import DT
    from cellctl.validate import build_report
    from cellctl.viz.record import Frames, KeyFrames, Recorder

    check(program, watch)
    frames = Frames(program, watch.camera, watch.size) if watch.record or watch.html else None
    recorder = Recorder(frames, watch.record, watch.fps, DT) if watch.record else None
    keyframes = KeyFrames(frames) if watch.html else None
    hooks: list[Callable] = [frames.observe] if frames else []
    hooks += [h for h in (recorder, keyframes) if h is not None]
    viewer = None
    if watch.gui:
        from cellctl.viz.gui import Viewer

        viewer = Viewer(program, watch.speed, watch.camera, watch.wait_at_end)
        hooks.append(viewer)
    start = time.perf_counter()
    what = f"recording {watch.record.name}" if recorder else f"simulating {program.name}"
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("tasks  t = {task.fields[t]:.1f} s{task.fields[frames]}"), TimeElapsedColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as progress:
        bar = progress.add_task(what, total=len(program.tasks), t=0.0, frames="")

        def show(world, orch) -> None:
            if world.steps % 24 == 0 or orch.finished:
                done = sum(t["status"] not in ("pending", "running") for t in orch.tasks.values())
                progress.update(bar, completed=done, t=world.t,
                                frames=f"  frames {recorder.count}" if recorder else "")

        try:
            result = simulate(program, seed=seed, on_tick=_chain([*hooks, show]))
        finally:
            for done in (recorder, viewer):
                if done is not None:
                    done.close()
    outcome = Outcome(result, build_report(result), wall_s=time.perf_counter() - start)
    if recorder is not None:
        outcome.written.append(f"recording written to {watch.record} ({recorder.count} frames, {watch.size[0]}x"
                               f"{watch.size[1]}, {recorder.fps:g} fps)")
    _write_pictures(outcome, watch, keyframes)
    return outcome


def _write_pictures(outcome: Outcome, watch: Watch, keyframes) -> None:
    from cellctl.viz.html import write_html
    from cellctl.viz.plots import plot_pngs, write_plots

    if not (watch.plots or watch.html):
        return
    pngs = plot_pngs(outcome.result, outcome.report)
    try:
        if watch.plots:
            written = write_plots(watch.plots, pngs)
            outcome.written.append(f"plots written to {watch.plots}: {', '.join(p.name for p in written)}")
        if watch.html:
            write_html(watch.html, outcome.report, pngs, keyframes.chosen() if keyframes else [])
            outcome.written.append(f"report page written to {watch.html}")
    except OSError as exc:
        raise ProgramError(f"cannot write the pictures: {exc.strerror}; choose a writable path",
                           str(exc.filename or watch.plots or watch.html))
