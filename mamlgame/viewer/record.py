"""Recording the viewer's frames: an MP4 video (imageio + ffmpeg, the optional `video` extra),
an animated GIF or the last frame as a PNG (Pillow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mamlgame.errors import MamlgameError

FORMATS = (".mp4", ".gif", ".png")
VIDEO_HINT = "pip install mamlgame[video]"


def check_record_path(path: str | Path) -> Path:
    """The path, if it ends in .mp4, .gif or .png; MamlgameError otherwise."""
    p = Path(path)
    if p.suffix.lower() not in FORMATS:
        raise MamlgameError(f"{p}: --record expects a .mp4, .gif or .png file")
    if p.exists() and not p.is_file():
        raise MamlgameError(f"{p}: --record: is not a regular file (a folder, a device or a "
                            "fifo); name a file")
    return p


def video_writer_module():
    """`imageio.v2` with its ffmpeg plugin usable; a one-line MamlgameError when missing."""
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg

        imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as e:
        raise MamlgameError(f"--record FILE.mp4 needs imageio and imageio-ffmpeg ({e}): "
                            f"{VIDEO_HINT}") from None
    return imageio


def even(frame: np.ndarray) -> np.ndarray:
    """The frame padded by one edge row/column where its height/width is odd (H.264 with
    yuv420p needs even sizes)."""
    h, w = frame.shape[:2]
    if h % 2 or w % 2:
        frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return frame


class Recorder:
    """Collects RGB frames [H, W, 3] uint8; `save()` writes them.

    MP4 frames stream to the encoder as they come (memory stays flat), GIF frames are kept
    as palette images, a PNG keeps only the last frame. `count` is the number of frames
    added, `last` the latest one."""

    def __init__(self, path: str | Path, fps: int = 30):
        self.path, self.fps = check_record_path(path), fps
        self.kind = self.path.suffix.lower()[1:]
        self._imageio = video_writer_module() if self.kind == "mp4" else None
        self._writer = None
        self._images: list = []  # GIF frames (PIL, palette mode)
        self.count = 0
        self.last: np.ndarray | None = None

    def add(self, frame: np.ndarray) -> None:
        """Add one frame."""
        self.count += 1
        self.last = frame
        if self.kind == "gif":
            from PIL import Image

            self._images.append(Image.fromarray(frame).convert("P", palette=Image.ADAPTIVE))
        elif self.kind == "mp4":
            if self._writer is None:
                self._writer = self._open_video()
            self._writer.append_data(even(frame))

    def _open_video(self):
        assert self._imageio is not None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return self._imageio.get_writer(self.path, format="FFMPEG", mode="I", fps=self.fps,
                                            codec="libx264", pixelformat="yuv420p",
                                            macro_block_size=1, quality=7)
        except (OSError, RuntimeError) as e:
            raise MamlgameError(f"{self.path}: cannot write the recording ({e})") from None

    def save(self) -> Path:
        """Write (or finish writing) the file; returns its path."""
        from PIL import Image

        if self.last is None:
            raise MamlgameError(f"{self.path}: nothing to record (no frames were drawn)")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.kind == "mp4":
                self.close()
            elif self.kind == "gif":
                self._images[0].save(self.path, save_all=True, append_images=self._images[1:],
                                     loop=0, duration=max(int(round(1000 / self.fps)), 20),
                                     optimize=False)
            else:
                Image.fromarray(self.last).save(self.path)
        except OSError as e:
            raise MamlgameError(f"{self.path}: cannot write the recording ({e})") from None
        return self.path

    def close(self) -> None:
        """Finish the video stream, if one is open (safe to call twice)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()


def run_recorded(app, recorder: Recorder | None, frames: int | None = None,
                 episodes: int | None = None, events=None) -> int:
    """Run a viewer app (`App.run`) until `frames` frames or `episodes` ended episodes, into
    `recorder` if given, close it and save the recording: what `mamlgame play` does, and the
    screenshots script. Returns the number of frames run."""
    try:
        n = app.run(frames, events=events, recorder=recorder, max_episodes=episodes)
    finally:
        app.close()
        if recorder is not None:
            recorder.close()
    if recorder is not None:
        recorder.save()
    return n
