"""Plane geometry shared by the cell model (arc seams) and the motion planner (CIRC moves)."""

from __future__ import annotations

import numpy as np


DEFINED = 1e-4  # m: points nearer each other, or a middle point nearer the line, do not define a circle


def circle(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray) -> tuple[np.ndarray, float, np.ndarray, np.ndarray, float]:
    """The circle through three points: centre, radius, in-plane axes u (towards p0) and v, and the angle swept
    from p0 through p1 to p2. ValueError when two points coincide or the three lie on one line (within DEFINED: a
    circle through points closer than that would be set by measuring noise, not by the points)."""
    a, b = p1 - p0, p2 - p0
    for x, y, which in ((p0, p1, "the middle point is the first"), (p0, p2, "the last point is the first"),
                        (p1, p2, "the last point is the middle one")):
        if np.linalg.norm(y - x) < DEFINED:
            raise ValueError(which)
    n = np.cross(a, b)
    nn = float(n @ n)
    if np.sqrt(nn) / np.linalg.norm(b) < DEFINED:  # the middle point's distance from the line through the others
        raise ValueError("the middle point lies on the line from the first to the last")
    centre = p0 + (np.cross(n, a) * float(b @ b) + np.cross(b, n) * float(a @ a)) / (2 * nn)
    radius = float(np.linalg.norm(p0 - centre))
    u = (p0 - centre) / radius
    v = np.cross(n / np.sqrt(nn), u)

    def angle(p: np.ndarray) -> float:
        d = p - centre
        return float(np.arctan2(d @ v, d @ u)) % (2 * np.pi)

    return centre, radius, u, v, angle(p2) if angle(p1) <= angle(p2) else angle(p2) - 2 * np.pi


def arc_points(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, step: float) -> np.ndarray:
    """Points along the arc from p0 through p1 to p2, at most `step` apart (both ends included)."""
    centre, radius, u, v, sweep = circle(p0, p1, p2)
    a = np.linspace(0.0, sweep, max(2, int(np.ceil(abs(sweep) * radius / step)) + 1))
    return centre + radius * (np.cos(a)[:, None] * u + np.sin(a)[:, None] * v)
