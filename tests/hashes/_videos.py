"""Video clips for the hashes tests: real photos filmed with camera motion, in memory."""

from __future__ import annotations

from functools import cache

from benchmarks._clips import clip
from tests.hashes._images import skimage_photo

PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg")


@cache
def photo_clip(codec: str = "h264", fps: int = 30, seconds_per_shot: float = 3.0) -> bytes:
    """Four shots (pan and zoom over a photo each, hard cuts), 640 x 360."""
    photos = [skimage_photo(name) for name in PHOTOS]
    return clip(photos, codec=codec, fps=fps, seconds_per_shot=seconds_per_shot)
