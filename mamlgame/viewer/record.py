"""Recording frames to an animated GIF or a single PNG (Pillow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mamlgame.errors import MamlgameError

FORMATS = (".gif", ".png")


def check_record_path(path: str | Path) -> Path:
    """The path, if it ends in .gif or .png; MamlgameError otherwise."""
    p = Path(path)
    if p.suffix.lower() not in FORMATS:
        raise MamlgameError(f"{p}: --record expects a .gif or .png file")
    return p


class Recorder:
    """Collects RGB frames; `save()` writes a GIF of all of them or a PNG of the last one."""

    def __init__(self, path: str | Path, fps: int = 30):
        self.path, self.fps = check_record_path(path), fps
        self.frames: list[np.ndarray] = []
        self.gif = self.path.suffix.lower() == ".gif"

    def add(self, frame: np.ndarray) -> None:
        if self.gif:
            self.frames.append(frame)
        else:
            self.frames = [frame]

    def save(self) -> Path:
        from PIL import Image

        if not self.frames:
            raise MamlgameError(f"{self.path}: nothing to record (no frames were drawn)")
        images = [Image.fromarray(f) for f in self.frames]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.gif:
                images[0].save(self.path, save_all=True, append_images=images[1:], loop=0,
                               duration=max(int(round(1000 / self.fps)), 20), optimize=False)
            else:
                images[-1].save(self.path)
        except OSError as e:
            raise MamlgameError(f"{self.path}: cannot write the recording ({e})") from None
        return self.path
