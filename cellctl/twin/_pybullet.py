"""Import pybullet without its build-time banner (noise in every command's output)."""

from __future__ import annotations

import ctypes
import os
import sys


def _quiet_import():
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            os.dup2(devnull.fileno(), 2)
            import pybullet
            ctypes.CDLL(None).fflush(None)  # the banner sits in C's buffers until flushed
    finally:
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)
    return pybullet


pb = _quiet_import()
