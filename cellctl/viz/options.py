"""The command-line options that watch a run (`validate` and `run`): GUI, recording, plots, report page."""

from __future__ import annotations

import argparse
from pathlib import Path

from cellctl.viz.session import DEFAULT_FPS, DEFAULT_SIZE, Watch


def _bounded(lo: float, hi: float, says: str):
    """An argparse type: a number from lo to hi, else an error that says what is wanted."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{says}, not {text!r}")
        return value

    return parse


_fps = _bounded(0.5, 240.0, "the frame rate must be a number from 0.5 to 240 frames per second")
_speed = _bounded(0.0, 1e6, "the speed must be 0 (as fast as the twin runs) or a positive multiple of real time, like "
                            "0.5 or 2")


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        w = h = -1
    if not (64 <= w <= 3840 and 64 <= h <= 2160 and w % 2 == 0 and h % 2 == 0):
        raise argparse.ArgumentTypeError(f"the frame size must be WIDTHxHEIGHT in even pixels from 64x64 to 3840x2160, "
                                         f"like 640x480, not {text!r}")
    return w, h


def add_watch_options(parser: argparse.ArgumentParser, gui: bool) -> None:
    """--record, --fps, --size, --camera, --plots, --html; and --gui, --speed, --no-wait when `gui`."""
    if gui:
        parser.add_argument("--gui", action="store_true", help="open the PyBullet GUI and play the cycle with overlays; "
                            "keys: space pause/resume, e e-stop, r reset, 1-9 cameras, q quit")
        parser.add_argument("--speed", type=_speed, default=1.0, help="play at this multiple of real time (default 1; 0: "
                            "as fast as the twin runs)")
        parser.add_argument("--no-wait", dest="wait_at_end", action="store_false",
                            help="close the GUI when the cycle ends instead of waiting for q")
    parser.add_argument("--record", metavar="FILE", help="record the cycle headless with overlays, as .mp4 or .gif")
    parser.add_argument("--fps", type=_fps, default=DEFAULT_FPS,
                        help=f"frames per second of cell time in the recording (default {DEFAULT_FPS:g}; a frame every "
                             f"round(240 / fps) physics steps)")
    parser.add_argument("--size", type=_size, default=DEFAULT_SIZE, metavar="WxH",
                        help=f"recorded frame size in pixels (default {DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]})")
    parser.add_argument("--camera", metavar="NAME", help="camera preset of the cell file (default: its first, else an "
                        "overview of the whole cell)")
    parser.add_argument("--plots", metavar="DIR", help="write gantt.png, joints_<robot>.png and clearance.png here")
    parser.add_argument("--html", metavar="FILE.html", help="write one self-contained report page: verdict, checks, "
                        "tasks, plots, key frames, events")


def watch_from(args: argparse.Namespace) -> Watch:
    """The Watch the parsed options ask for."""
    path = lambda v: Path(v) if v else None  # noqa: E731
    return Watch(path(args.record), args.fps, args.size, args.camera, path(args.plots), path(args.html),
                 getattr(args, "gui", False), getattr(args, "speed", 1.0), getattr(args, "wait_at_end", True))
