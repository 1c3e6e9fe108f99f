"""Recording a cycle without a screen: a frame every N physics steps (N from the frame rate), rendered headless with
the overlays, written as MP4 (H.264 through the ffmpeg that imageio-ffmpeg ships) or GIF (Pillow); and the few key
frames a report page shows (one as each task starts, one at the end)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image

from cellctl.errors import ProgramError
from cellctl.viz.frames import FrameRenderer

log = logging.getLogger(__name__)

FORMATS = (".mp4", ".gif")
MAX_KEY_FRAMES = 8


def frame_every(fps: float, dt: float) -> int:
    """Physics steps between recorded frames at `fps` frames per second of cell time."""
    return max(1, int(round(1.0 / (fps * dt))))


def check_output(path: Path, what: str, suffixes: tuple[str, ...], option: str) -> None:
    """Raise ProgramError unless `path` has a known suffix and its folder exists (before anything is simulated)."""
    if path.suffix.lower() not in suffixes:
        raise ProgramError(f"cannot write {what} as '{path.suffix or 'no suffix'}'; name a {' or '.join(suffixes)} file "
                           f"with {option}", str(path))
    if not path.parent.is_dir():
        raise ProgramError(f"the folder '{path.parent}' does not exist; create it or choose another path with {option}",
                           str(path))


class VideoWriter:
    """Frames into an MP4 (streamed to ffmpeg) or an animated GIF (kept as palette images until closed)."""

    def __init__(self, path: Path, fps: float):
        self.path, self.fps, self.frames = Path(path), fps, 0
        self._gif: list[Image.Image] = []
        self._mp4 = None

    def add(self, frame: Image.Image) -> None:
        if self.path.suffix.lower() == ".mp4":
            if self._mp4 is None:  # opened with the first frame: a run that fails to start leaves no empty file
                import imageio.v2 as imageio

                try:
                    self._mp4 = imageio.get_writer(self.path, fps=self.fps, codec="libx264", quality=7,
                                                   pixelformat="yuv420p", macro_block_size=2, ffmpeg_log_level="error")
                except OSError as exc:
                    raise ProgramError(f"cannot write the recording: {exc}; choose a writable path with --record",
                                       str(self.path))
            self._mp4.append_data(np.asarray(frame))
        else:
            self._gif.append(frame.quantize(colors=255, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE))
        self.frames += 1

    def close(self) -> None:
        if self._mp4 is not None:
            self._mp4.close()
            self._mp4 = None
        elif self._gif:
            try:
                self._gif[0].save(self.path, save_all=True, append_images=self._gif[1:], duration=1000.0 / self.fps,
                                  loop=0, disposal=1)
            except OSError as exc:
                raise ProgramError(f"cannot write the recording: {exc.strerror}; choose a writable path with --record",
                                   str(self.path))
            self._gif = []


class Recorder:
    """on_tick for simulate(): renders a frame every `every` steps into a VideoWriter."""

    def __init__(self, renderer: "Frames", path: Path, fps: float, dt: float):
        self.frames, self.every = renderer, frame_every(fps, dt)
        self.fps = 1.0 / (self.every * dt)  # the frame rate the video plays at: cell time in real time
        self.writer = VideoWriter(path, self.fps)

    def __call__(self, world, orch) -> None:
        if world.steps % self.every == 0:
            self.writer.add(self.frames.render(world, orch))

    @property
    def count(self) -> int:
        return self.writer.frames

    def close(self) -> None:
        self.writer.close()


class KeyFrames:
    """on_tick for simulate(): a frame as each task starts and one when the cycle ends, for the report page."""

    def __init__(self, renderer: "Frames"):
        self.frames = renderer
        self.shots: list[tuple[float, str, Image.Image]] = []  # (t, caption, picture)
        self._started: set[str] = set()

    def __call__(self, world, orch) -> None:
        started = [t["id"] for t in orch.tasks.values() if t["start_s"] is not None and t["id"] not in self._started]
        if started or orch.finished:
            self._started.update(started)
            caption = f"{', '.join(started)} started" if started else f"cycle {orch.state.name.lower()}"
            self.shots.append((world.t, caption, self.frames.render(world, orch)))

    def chosen(self) -> list[tuple[float, str, Image.Image]]:
        """At most MAX_KEY_FRAMES, spread over the cycle, the last one always."""
        if len(self.shots) <= MAX_KEY_FRAMES:
            return list(self.shots)
        idx = np.unique(np.linspace(0, len(self.shots) - 1, MAX_KEY_FRAMES).round().astype(int))
        return [self.shots[i] for i in idx]


class Frames:
    """One FrameRenderer for the run, made when the world exists (at the first tick), observing every step."""

    def __init__(self, program, camera: str | None, size: tuple[int, int]):
        self.program, self.camera, self.size = program, camera, size
        self.renderer: FrameRenderer | None = None

    def observe(self, world, orch) -> None:
        if self.renderer is None:
            self.renderer = FrameRenderer(self.program, world, self.camera, self.size)
        self.renderer.observe(world, orch)

    def render(self, world, orch) -> Image.Image:
        return self.renderer.render(world, orch)
