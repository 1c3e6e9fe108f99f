"""The one place PyBullet's (x, y, z) + (x, y, z, w) poses meet spatialmath SE3 and 4x4 matrices."""

from __future__ import annotations

import numpy as np
from spatialmath import SE3


def matrix_from_pb(pos, quat_xyzw) -> np.ndarray:
    """4x4 homogeneous matrix of a PyBullet pose (fast: used every step by the recorder)."""
    x, y, z, w = quat_xyzw
    T = np.empty((4, 4))
    T[0, 0], T[0, 1], T[0, 2] = 1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)
    T[1, 0], T[1, 1], T[1, 2] = 2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)
    T[2, 0], T[2, 1], T[2, 2] = 2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)
    T[:3, 3] = pos
    T[3] = (0.0, 0.0, 0.0, 1.0)
    return T


def se3_from_pb(pos, quat_xyzw) -> SE3:
    return SE3(matrix_from_pb(pos, quat_xyzw), check=False)


def pb_from_se3(T: SE3) -> tuple[list[float], list[float]]:
    return pb_from_matrix(T.A)


def pb_from_matrix(A: np.ndarray) -> tuple[list[float], list[float]]:
    """PyBullet's position and (x, y, z, w) quaternion of a 4x4 homogeneous matrix."""
    R = A[:3, :3]
    # Shepperd's method: robust for every rotation
    tr = R[0, 0] + R[1, 1] + R[2, 2]
    if tr > 0:
        s = 2.0 * np.sqrt(tr + 1.0)
        w, x, y, z = 0.25 * s, (R[2, 1] - R[1, 2]) / s, (R[0, 2] - R[2, 0]) / s, (R[1, 0] - R[0, 1]) / s
    elif R[0, 0] > R[1, 1] and R[0, 0] > R[2, 2]:
        s = 2.0 * np.sqrt(1.0 + R[0, 0] - R[1, 1] - R[2, 2])
        w, x, y, z = (R[2, 1] - R[1, 2]) / s, 0.25 * s, (R[0, 1] + R[1, 0]) / s, (R[0, 2] + R[2, 0]) / s
    elif R[1, 1] > R[2, 2]:
        s = 2.0 * np.sqrt(1.0 + R[1, 1] - R[0, 0] - R[2, 2])
        w, x, y, z = (R[0, 2] - R[2, 0]) / s, (R[0, 1] + R[1, 0]) / s, 0.25 * s, (R[1, 2] + R[2, 1]) / s
    else:
        s = 2.0 * np.sqrt(1.0 + R[2, 2] - R[0, 0] - R[1, 1])
        w, x, y, z = (R[1, 0] - R[0, 1]) / s, (R[0, 2] + R[2, 0]) / s, (R[1, 2] + R[2, 1]) / s, 0.25 * s
    return list(map(float, A[:3, 3])), [float(x), float(y), float(z), float(w)]
