"""Pictures of the twin without a screen: PyBullet's TinyRenderer draws the cell from a camera preset, then the
overlays (viz/overlays.py) are drawn onto the picture with Pillow, projected through the same camera."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cellctl.model.program import Program
from cellctl.twin._pybullet import pb
from cellctl.viz.camera import View, choose
from cellctl.viz.overlays import RED, Colour, Overlays, Scene, box_edges

LIGHT = [0.6, -0.4, 1.0]  # direction towards the light (world)


def rgb255(colour: Colour, alpha: int = 255) -> tuple[int, int, int, int]:
    return tuple(int(round(c * 255)) for c in colour) + (alpha,)


def paint_bolts(world, colours: dict[str, Colour], painted: dict[str, Colour]) -> None:
    """Colour the twin's bolt bodies (their look only) where their state changed since the last call."""
    for name, colour in colours.items():
        if painted.get(name) != colour:
            body = world.bolts.bolts[name].body
            pb.changeVisualShape(body, -1, rgbaColor=[*colour, 1.0], physicsClientId=world.client)
            painted[name] = colour


class FrameRenderer:
    """Renders frames of one running cell from one camera, with the overlays drawn on."""

    def __init__(self, program: Program, world, camera: str | None, size: tuple[int, int]):
        self.size = size
        self.overlays = Overlays(program, world)
        self.camera = choose(world, camera, size[0] / size[1])
        self.view = View(self.camera, size[0] / size[1])
        self.font = ImageFont.load_default(size=max(11, size[1] // 36))
        self.small = ImageFont.load_default(size=max(10, size[1] // 48))
        self._painted: dict[str, Colour] = {}

    def observe(self, world, orch) -> None:
        self.overlays.observe(world, orch)

    def render(self, world, orch) -> Image.Image:
        """The twin as it is now, with the overlays."""
        scene = self.overlays.scene(world, orch)
        paint_bolts(world, scene.bolts, self._painted)
        w, h = self.size
        img = pb.getCameraImage(w, h, self.view.view, self.view.projection, renderer=pb.ER_TINY_RENDERER,
                                lightDirection=LIGHT, shadow=0, flags=pb.ER_NO_SEGMENTATION_MASK,
                                physicsClientId=world.client)
        rgb = np.reshape(np.asarray(img[2], np.uint8), (h, w, 4))[:, :, :3]
        frame = Image.fromarray(rgb, "RGB")
        self.draw(frame, scene)
        return frame

    # ------------------------------------------------------------------ drawing the overlays
    def _px(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.view.pixels(points, *self.size)

    def _polyline(self, d: ImageDraw.ImageDraw, points: np.ndarray, colours: list, width: int) -> None:
        xy, ahead = self._px(points)
        for i, colour in enumerate(colours):
            if ahead[i] and ahead[i + 1]:
                d.line([tuple(xy[i]), tuple(xy[i + 1])], fill=colour, width=width)

    def draw(self, frame: Image.Image, scene: Scene) -> None:
        d = ImageDraw.Draw(frame, "RGBA")
        for z in scene.zones:
            colour = rgb255(z.colour, 255 if z.occupied else 150)
            for a, b in box_edges(z.lo, z.hi):
                self._polyline(d, np.array([a, b]), [colour], 3 if z.occupied else 1)
            top, ahead = self._px(np.array([[z.lo[0], z.hi[1], z.hi[2]]]))
            if ahead[0]:
                d.text(tuple(top[0] + [3, -14]), z.label, fill=colour, font=self.small)
        for robot, path in scene.paths.items():
            colour = rgb255(self.overlays.colours[robot], 220)
            self._polyline(d, path, [colour] * (len(path) - 1), 2)
        for points, colours in scene.seams.values():
            self._polyline(d, points, [rgb255(c) for c in colours], 5)
        for point, colour in scene.spots.values():
            xy, ahead = self._px(point[None])
            if ahead[0]:
                x, y = xy[0]
                d.ellipse([x - 4, y - 4, x + 4, y + 4], fill=rgb255(colour), outline=(0, 0, 0, 255))
        flagged = []
        for flag in scene.flags:
            xy, ahead = self._px(flag.where[None])
            if ahead[0]:
                x, y = xy[0]
                d.ellipse([x - 11, y - 11, x + 11, y + 11], outline=rgb255(RED), width=3)
                flagged.append((x, y, flag))
        labels: list[tuple[float, float, float, float]] = []
        for x, y, flag in flagged:
            # over the circles, on a light backing as the legend is (zone edges and arms behind would cross it out),
            # and below the labels already drawn where they would overlap (contacts found together lie mm apart)
            at = (x + 13, y - 6)
            box = d.textbbox(at, flag.text, font=self.small)
            while any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in labels):
                at = (at[0], at[1] + self.small.size + 2)
                box = d.textbbox(at, flag.text, font=self.small)
            labels.append(box)
            d.rectangle(box, fill=(255, 255, 255, 190))
            d.text(at, flag.text, fill=rgb255(RED), font=self.small)
        self._legend(d, scene)

    def _legend(self, d: ImageDraw.ImageDraw, scene: Scene) -> None:
        """Top left: the program, the time and the cell's mode; then each robot's task and step, in its colour."""
        lines = [(scene.headline, (0, 0, 0, 255))] + [(f"{r.name}: {r.text}", rgb255(r.colour)) for r in scene.robots]
        lines += [(f"collision: {f.text} at {f.t:.2f} s", rgb255(RED)) for f in scene.flags[:3]]
        pad, step = 6, self.font.size + 4
        width = max(d.textlength(text, font=self.font) for text, _ in lines) + 2 * pad
        d.rectangle([4, 4, 4 + width, 4 + pad + step * len(lines)], fill=(255, 255, 255, 190))
        for i, (text, colour) in enumerate(lines):
            d.text((4 + pad, 4 + pad // 2 + i * step), text, fill=colour, font=self.font)
