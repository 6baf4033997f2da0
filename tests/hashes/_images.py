"""Images built in memory for the hashes tests (nothing is written to disk)."""

from __future__ import annotations

import io
import struct
import zlib
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
# Meta's PDQ reference images, vendored (tests/data/pdq-reference/README.md)
PDQ_REFERENCE = REPO / "tests" / "data" / "pdq-reference"
# the team's shared folder beside a checkout: optional extras only (never in a lone clone)
SHARED = REPO.parent / "shared"


@cache
def skimage_photo(name: str) -> Image.Image:
    """A photo bundled in scikit-image's wheel (read from its file, never downloaded)."""
    import skimage.data

    path = Path(skimage.data.__file__).parent / name
    with Image.open(path) as img:
        return img.convert("RGB")


def synthetic(seed: int = 0, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A deterministic picture: smooth gradients plus a few coloured rectangles."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    rng = np.random.default_rng(seed)
    r = 127 + 120 * np.sin(x / (17 + 5 * seed)) * np.cos(y / 23)
    g = 255 * x / w
    b = 255 * y / h
    arr = np.stack([r, g, b], axis=2)
    for _ in range(4):
        x0, y0 = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 40))
        arr[y0 : y0 + 40, x0 : x0 + 60] = rng.integers(0, 256, 3)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def encode(img: Image.Image, fmt: str = "PNG", **kwargs: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int, height: int, rows: int = 200) -> bytes:
    """A 1-bit PNG claiming width x height pixels, a few KB long (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" * (1 + (width + 7) // 8)
    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(row) for _ in range(min(rows, height))) + comp.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", body)
        + png_chunk(b"IEND", b"")
    )


def pixels_png(arr: np.ndarray) -> bytes:
    return encode(Image.fromarray(arr), "PNG")
