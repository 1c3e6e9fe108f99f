"""Plane geometry shared by the cell model (arc seams) and the motion planner (CIRC moves)."""

from __future__ import annotations

import numpy as np


def circle(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray) -> tuple[np.ndarray, float, np.ndarray, np.ndarray, float]:
    """The circle through three points: centre, radius, in-plane axes u (towards p0) and v, and the angle swept
    from p0 through p1 to p2. ValueError when the points lie on one line."""
    a, b = p1 - p0, p2 - p0
    n = np.cross(a, b)
    nn = float(n @ n)
    if nn < 1e-12 * max(float(a @ a) * float(b @ b), 1e-12):
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
