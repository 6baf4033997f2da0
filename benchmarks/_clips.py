"""Video clips made from real photos with camera motion (pan, zoom, cuts), in memory.

For the video tests and benchmarks: each *shot* shows one photo through a moving camera
(a window that pans across it and zooms in or out), shots are joined by hard cuts, and
the clip is encoded with PyAV (MP4/H.264 or WebM/VP9) into bytes. Nothing is written
to disk here; a caller that needs a file (Meta's vpdq takes a path) writes the clip.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
from PIL import Image

Frame = Callable[[np.ndarray, float], np.ndarray]
"""An edit applied to each rendered frame: (rgb, seconds) -> rgb."""


@dataclass(frozen=True)
class Shot:
    """One photo filmed for ``seconds``: the window moves from ``start`` to ``end``.

    A window is ``(centre_x, centre_y, zoom)`` in shares of the photo (zoom 1: the
    largest window of the clip's aspect that fits the photo; 2: half of that).
    """

    photo: Image.Image
    seconds: float
    start: tuple[float, float, float] = (0.4, 0.5, 1.0)
    end: tuple[float, float, float] = (0.6, 0.5, 1.3)


def shots_from(photos: Sequence[Image.Image], seconds: float, seed: int = 0) -> list[Shot]:
    """Shots of ``seconds`` each over ``photos``, with camera moves drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    out = []
    for photo in photos:
        z0, z1 = rng.uniform(1.0, 1.6, 2)
        x0, x1 = rng.uniform(0.3, 0.7, 2)
        y0, y1 = rng.uniform(0.35, 0.65, 2)
        out.append(Shot(photo, seconds, (x0, y0, z0), (x1, y1, z1)))
    return out


def _render(shot: Shot, t: float, width: int, height: int) -> np.ndarray:
    """The frame ``t`` (0-1) of a shot: the camera window cut and scaled to the clip."""
    pw, ph = shot.photo.size
    cx, cy, zoom = (a + (b - a) * t for a, b in zip(shot.start, shot.end, strict=True))
    aspect = width / height
    ww, wh = (pw, pw / aspect) if pw / ph < aspect else (ph * aspect, ph)
    ww, wh = ww / zoom, wh / zoom
    left = min(max(cx * pw - ww / 2, 0), pw - ww)
    top = min(max(cy * ph - wh / 2, 0), ph - wh)
    box = (left, top, left + ww, top + wh)
    return np.asarray(shot.photo.resize((width, height), Image.Resampling.BILINEAR, box=box))


def frames_of(
    shots: Sequence[Shot], width: int, height: int, fps: float, edit: Frame | None = None
) -> Iterator[np.ndarray]:
    """Every frame of the shots, one after the other (hard cuts), made as it is read."""
    k = 0
    for shot in shots:
        n = round(shot.seconds * fps)
        for i in range(n):
            rgb = _render(shot, i / max(1, n - 1), width, height)
            yield edit(rgb, k / fps) if edit else rgb
            k += 1


def render(
    shots: Sequence[Shot], width: int, height: int, fps: float, edit: Frame | None = None
) -> list[np.ndarray]:
    """Every frame of the shots, one after the other (hard cuts)."""
    return list(frames_of(shots, width, height, fps, edit))


def encode(
    frames: Iterable[np.ndarray],
    fps: int,
    *,
    codec: str = "h264",
    bitrate: int | None = None,
    crf: int | None = None,
    preset: str | None = "veryfast",
) -> bytes:
    """Encode RGB frames into an MP4 (h264, hevc, mpeg4) or WebM (vp9, vp8) clip."""
    fmt = "webm" if codec.startswith("vp") or codec == "libvpx-vp9" else "mp4"
    name = {"vp9": "libvpx-vp9", "vp8": "libvpx", "h264": "libx264"}.get(codec, codec)
    buf = io.BytesIO()
    it = iter(frames)
    first = next(it)
    h, w = first.shape[:2]
    with av.open(buf, "w", format=fmt) as out:
        stream: Any = out.add_stream(name, rate=fps)
        stream.width, stream.height = w - w % 2, h - h % 2
        stream.pix_fmt = "yuv420p"
        options: dict[str, str] = {}
        if name == "libx264" and preset:
            options["preset"] = preset
        if crf is not None:
            options["crf"] = str(crf)
        if name == "libvpx-vp9":
            options.update({"deadline": "realtime", "cpu-used": "8", "row-mt": "1"})
            if crf is None and bitrate is None:
                options.update({"crf": "32", "b": "0"})
        if bitrate is not None:
            stream.bit_rate = bitrate
        stream.options = options
        for rgb in itertools.chain([first], it):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[: h - h % 2, : w - w % 2]))
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buf.getvalue()


def clip(
    photos: Sequence[Image.Image],
    *,
    seconds_per_shot: float = 4.0,
    size: tuple[int, int] = (640, 360),
    fps: int = 30,
    codec: str = "h264",
    seed: int = 0,
    **options: object,
) -> bytes:
    """A clip of one shot per photo, camera moving, hard cuts between shots."""
    frames = frames_of(shots_from(photos, seconds_per_shot, seed), size[0], size[1], fps)
    return encode(frames, fps, codec=codec, **options)  # type: ignore[arg-type]
