"""Real photographs (scikit-image ships them) encoded in memory, and edits of them."""

from __future__ import annotations

import io
from functools import cache

import numpy as np
from PIL import Image, ImageOps

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "immunohistochemistry")


@cache
def photo(name: str) -> Image.Image:
    from skimage import data

    arr = getattr(data, name)()
    img = Image.fromarray(arr)
    return img.convert("RGB")


def encode(img: Image.Image, fmt: str = "PNG", **kwargs: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def jpeg(name: str, quality: int = 90) -> bytes:
    return encode(photo(name), "JPEG", quality=quality)


def png(name: str) -> bytes:
    return encode(photo(name), "PNG")


def resized_reencoded(name: str) -> bytes:
    img = photo(name)
    return encode(
        img.resize((img.width // 2, img.height // 2), Image.Resampling.LANCZOS), "JPEG", quality=70
    )


def flipped(name: str) -> bytes:
    return encode(ImageOps.mirror(photo(name)), "JPEG", quality=85)


def noise_png(seed: int, size: tuple[int, int] = (256, 256)) -> bytes:
    rng = np.random.default_rng(seed)
    return encode(Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)), "PNG")


def bomb_png(side: int = 60_000) -> bytes:
    """A PNG that claims side x side pixels and compresses to a few KB."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit grayscale
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(row) for _ in range(200)) + comp.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )
