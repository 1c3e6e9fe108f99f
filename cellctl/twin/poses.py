"""The one place PyBullet's (x, y, z) + (x, y, z, w) poses meet spatialmath SE3."""

from __future__ import annotations

import numpy as np
from spatialmath import SE3, UnitQuaternion


def se3_from_pb(pos, quat_xyzw) -> SE3:
    x, y, z, w = quat_xyzw
    T = UnitQuaternion([w, x, y, z]).SE3()
    T.t = np.asarray(pos, float)
    return T


def pb_from_se3(T: SE3) -> tuple[list[float], list[float]]:
    w, x, y, z = UnitQuaternion(T.R).vec
    return list(map(float, T.t)), [float(x), float(y), float(z), float(w)]
