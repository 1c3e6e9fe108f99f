"""Camera presets and the pinhole view they give: the cell's own `cameras:` and an overview framed from the cell's
extent, the view and projection matrices PyBullet renders with, and world points projected to pixels (for the
overlays drawn on recorded frames)."""

from __future__ import annotations

import numpy as np

from cellctl.errors import ProgramError
from cellctl.model.cell import CAMERA_PITCH_DEG, CAMERA_YAW_DEG, Camera, Cell
from cellctl.twin._pybullet import pb

OVERVIEW = "overview"  # the preset every cell has: the whole cell in view
FOV_DEG = 50.0  # vertical field of view of recordings
NEAR, FAR = 0.05, 40.0  # m: clipping planes
FILL = 0.85  # of the half-height and half-width the cell's extent may fill in the overview


def camera_names(cell: Cell) -> list[str]:
    """The presets of a cell, the default first: the cell file's own, then the overview."""
    return [*cell.cameras, *([] if OVERVIEW in cell.cameras else [OVERVIEW])]


def check_camera(cell: Cell, name: str | None) -> None:
    """Raise ProgramError, naming the presets there are, when `name` is not one of the cell's."""
    if name is not None and name not in camera_names(cell):
        raise ProgramError(f"camera '{name}' is not in {cell.shown}; cameras: {', '.join(camera_names(cell))} "
                           f"(add presets under 'cameras:' in the cell file)")


def extent(world) -> tuple[np.ndarray, np.ndarray]:
    """The world box (lo, hi, m) around every body of the twin but the floor, as it stands now."""
    c, lo, hi = world.client, np.full(3, np.inf), np.full(3, -np.inf)
    for name, body in world.ids.items():
        if world.kinds[name] == "floor":
            continue
        for link in range(-1, pb.getNumJoints(body, physicsClientId=c)):
            a, b = pb.getAABB(body, link, physicsClientId=c)
            lo, hi = np.minimum(lo, a), np.maximum(hi, b)
    if not np.all(np.isfinite(lo)):
        return np.array([-1.0, -1.0, 0.0]), np.array([1.0, 1.0, 1.0])
    return lo, hi


def overview(world, aspect: float = 4 / 3) -> Camera:
    """A camera at the default yaw and pitch on the centre of the cell, as close as keeps all of it in view."""
    lo, hi = extent(world)
    lo[2] = 0.0  # down to the floor the cell stands on
    cam = Camera(OVERVIEW, (lo + hi) / 2, 1.0, np.radians(CAMERA_YAW_DEG), np.radians(CAMERA_PITCH_DEG))
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    near, far = 0.1, 50.0
    for _ in range(40):  # bisect the distance at which the corners just fit
        cam.distance = (near + far) / 2
        ndc, ahead = View(cam, aspect).ndc(corners)
        fits = ahead.all() and np.abs(ndc).max() <= FILL
        near, far = (near, cam.distance) if fits else (cam.distance, far)
    cam.distance = far
    return cam


def choose(world, name: str | None, aspect: float = 4 / 3) -> Camera:
    """The named preset of the world's cell (None: its default)."""
    cell = world.cell
    check_camera(cell, name)
    name = name or camera_names(cell)[0]
    return cell.cameras[name] if name in cell.cameras else overview(world, aspect)


class View:
    """A camera's view at an aspect ratio: PyBullet's matrices, and world points projected into the image."""

    def __init__(self, camera: Camera, aspect: float, fov_deg: float = FOV_DEG):
        self.camera = camera
        self.view = pb.computeViewMatrixFromYawPitchRoll(list(map(float, camera.target)), float(camera.distance),
                                                         float(np.degrees(camera.yaw)), float(np.degrees(camera.pitch)), 0.0, 2)
        self.projection = pb.computeProjectionMatrixFOV(fov_deg, aspect, NEAR, FAR)
        # PyBullet's matrices are column-major: as rows they are the transposes
        self._m = np.array(self.projection).reshape(4, 4).T @ np.array(self.view).reshape(4, 4).T

    def ndc(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalised device coordinates (x, y in -1..1 inside the image) of (N, 3) world points, and whether each
        lies in front of the camera."""
        p = np.asarray(points, float).reshape(-1, 3)
        clip = np.column_stack([p, np.ones(len(p))]) @ self._m.T
        w = clip[:, 3]
        ahead = w > NEAR
        return clip[:, :2] / np.where(ahead, w, 1.0)[:, None], ahead

    def pixels(self, points: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates (x right, y down) of (N, 3) world points in a width x height image, and whether each
        lies in front of the camera."""
        ndc, ahead = self.ndc(points)
        return np.column_stack([(ndc[:, 0] + 1) * width / 2, (1 - ndc[:, 1]) * height / 2]), ahead
