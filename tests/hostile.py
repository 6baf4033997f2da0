"""A corpus of hostile image files, built in memory by the project itself (nothing committed).

Each :class:`Hostile` names a file an attacker (or a broken client) could send, and the
documented answer hashbank gives: ``"ok"`` (hashed), ``413`` (refused as too large: a
pixel bomb, from the header) or ``422`` (refused as not an image hashbank accepts).
Some corruptions may legitimately decode (libjpeg is forgiving), so ``expect`` is a set.
The table in ``docs/security.md`` lists the same files and answers.

Used by ``tests/app/test_hostile.py`` (library and live API, time and memory) and as
seeds by the atheris harnesses in ``tests/fuzz/``. :data:`HOSTILE_TEXT` is the text every
route is sent by ``tests/app/test_bad_input.py``.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image

__all__ = ["CORPUS", "HOSTILE_TEXT", "Hostile", "base_image", "by_name", "encode"]

Answer = int | str  # 413, 422 or "ok"


@dataclass(frozen=True)
class Hostile:
    name: str
    build: Callable[[], bytes]
    expect: frozenset[Answer]
    why: str

    @property
    def data(self) -> bytes:
        return _built(self.name)


def encode(img: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


@cache
def base_image(size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A deterministic picture with real structure (gradients, shapes, noise)."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    rng = np.random.default_rng(7)
    r = 127 + 120 * np.sin(x / 19) * np.cos(y / 23)
    g = 255 * x / w
    b = 255 * y / h
    arr = np.stack([r, g, b], axis=2)
    for _ in range(5):
        x0, y0 = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 40))
        arr[y0 : y0 + 40, x0 : x0 + 60] = rng.integers(0, 256, 3)
    arr += rng.normal(0, 6, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


@cache
def _valid(fmt: str) -> bytes:
    kwargs: dict[str, object] = {"quality": 85} if fmt in ("JPEG", "WEBP") else {}
    return encode(base_image(), fmt, **kwargs)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int, idat: bytes, *, depth: int = 1, colour: int = 0,
         extra: bytes = b"") -> bytes:  # fmt: skip
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + extra
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


def png_bomb(side: int = 60_000) -> bytes:
    """A 1-bit PNG claiming side x side pixels (3.6 G) whose few rows compress to a few KB."""
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(row) for _ in range(200)) + comp.flush()
    return _png(side, side, body)


def png_strip(width: int = 200_000, height: int = 1) -> bytes:
    """A complete, valid 200,000 x 1 greyscale PNG."""
    rows = b"".join(b"\x00" + bytes((i * 7) % 256 for i in range(width)) for _ in range(height))
    return _png(width, height, zlib.compress(rows, 9), depth=8)


def png_text_bomb() -> bytes:
    """A valid small PNG carrying a zTXt chunk that inflates to 256 MB."""
    payload = zlib.compressobj(9)
    blob = b"".join(payload.compress(b"\x00" * (1 << 20)) for _ in range(256)) + payload.flush()
    text = _chunk(b"zTXt", b"Comment\x00\x00" + blob)
    valid = _valid("PNG")
    return valid[:33] + text + valid[33:]  # after the 8-byte signature + 25-byte IHDR


def _gif_blocks(data: bytes) -> tuple[bytes, bytes]:
    """Split a one-frame GIF into (header + colour table, the frame's blocks)."""
    flags = data[10]
    pos = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    head = data[:pos]
    start = pos
    while data[pos] != 0x3B:
        if data[pos] == 0x21:  # extension: label, then sub-blocks
            pos += 2
        else:  # image descriptor (+ local colour table) + LZW code size, then sub-blocks
            lflags = data[pos + 9]
            pos += 10 + (3 * 2 ** ((lflags & 7) + 1) if lflags & 0x80 else 0) + 1
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
    return head, data[start:pos]


def gif_many_frames(frames: int = 10_000) -> bytes:
    """An animated GIF of ``frames`` frames: a real first frame, then 1 x 1 sub-frames
    (a decoder that walks every frame does 10,000 decodes; hashbank reads the first)."""
    one = encode(base_image((64, 48)).convert("P", palette=Image.Palette.ADAPTIVE), "GIF")
    head, frame = _gif_blocks(one)
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    delay = b"\x21\xf9\x04\x00\x01\x00\x00\x00"  # 10 ms per frame
    # a 1 x 1 frame at (0, 0): LZW code size 2, codes clear(4) 0 end(5) packed LSB first
    dot = b"\x2c" + struct.pack("<HHHH", 0, 0, 1, 1) + b"\x00" + b"\x02\x02\x44\x01\x00"
    return head + loop + delay + frame + (delay + dot) * (frames - 1) + b"\x3b"


def gif_huge_screen() -> bytes:
    """A small GIF frame on a 65,535 x 65,535 logical screen."""
    data = bytearray(_valid("GIF"))
    data[6:10] = struct.pack("<HH", 65_535, 65_535)
    return bytes(data)


def tiff_bomb(side: int = 50_000) -> bytes:
    """A TIFF header claiming side x side pixels with one tiny strip."""
    img = Image.new("L", (16, 16), 0)
    data = bytearray(encode(img, "TIFF"))
    # rewrite ImageWidth (256) and ImageLength (257) in the first IFD
    (ifd,) = struct.unpack("<I", data[4:8])
    (count,) = struct.unpack("<H", data[ifd : ifd + 2])
    for i in range(count):
        at = ifd + 2 + 12 * i
        tag, kind = struct.unpack("<HH", data[at : at + 4])
        if tag in (256, 257):
            value = struct.pack("<H", side) + b"\x00\x00" if kind == 3 else struct.pack("<I", side)
            data[at + 8 : at + 12] = value
    return bytes(data)


def webp_huge_canvas() -> bytes:
    """A small extended WebP whose VP8X canvas claims 16,384 x 16,384 pixels."""
    exif = Image.Exif()
    exif[0x010E] = "x"
    data = bytearray(encode(base_image(), "WEBP", quality=80, exif=exif.tobytes()))
    at = data.index(b"VP8X")
    side = (16_384 - 1).to_bytes(3, "little")
    data[at + 12 : at + 15] = side
    data[at + 15 : at + 18] = side
    return bytes(data)


def jpeg_header_bomb() -> bytes:
    """A JPEG whose SOF claims 65,500 x 65,500 pixels, followed by almost nothing."""
    data = bytearray(_valid("JPEG"))
    at = data.index(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", 65_500, 65_500)
    return bytes(data[: at + 600])


def _exif_app1(entries: list[tuple[int, int, int, bytes]], next_ifd: int) -> bytes:
    """An APP1 Exif segment with one little-endian IFD at offset 8."""
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        ifd += struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\x00")
    ifd += struct.pack("<I", next_ifd)
    tiff = b"II*\x00" + struct.pack("<I", 8) + ifd
    body = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def jpeg_absurd_exif() -> bytes:
    """A valid JPEG whose EXIF has an orientation of 9999, a 4-billion-entry tag, an
    offset far outside the file, and IFDs that point back at themselves (a loop)."""
    segment = _exif_app1(
        [
            (0x0112, 3, 1, struct.pack("<H", 9999)),  # orientation: no such value
            (0x010F, 2, 0xFFFFFFFF, struct.pack("<I", 0x7FFFFFF0)),  # make: absurd count
            (0x8769, 4, 1, struct.pack("<I", 8)),  # Exif IFD pointer -> this IFD again
            (0x8825, 4, 1, struct.pack("<I", 0xFFFFFFF0)),  # GPS IFD far outside
            (0x0132, 2, 20, struct.pack("<I", 0xFFFFFF00)),  # date: offset outside
        ],
        next_ifd=8,  # the next IFD is this one again
    )
    valid = _valid("JPEG")
    return valid[:2] + segment + valid[2:]


def jpeg_orientation_huge() -> bytes:
    """A valid JPEG whose orientation tag is a LONG of 2**32 - 1."""
    segment = _exif_app1([(0x0112, 4, 1, struct.pack("<I", 0xFFFFFFFF))], next_ifd=0)
    valid = _valid("JPEG")
    return valid[:2] + segment + valid[2:]


def _truncate(fmt: str, fraction: float) -> Callable[[], bytes]:
    def build() -> bytes:
        data = _valid(fmt)
        return data[: max(1, int(len(data) * fraction))]

    return build


def _header_only(fmt: str, n: int = 40) -> Callable[[], bytes]:
    return lambda: _valid(fmt)[:n]


def _corrupt(fmt: str) -> Callable[[], bytes]:
    """Overwrite 64 bytes spread over the second half of the file (seeded)."""

    def build() -> bytes:
        data = bytearray(_valid(fmt))
        rng = random.Random(fmt)
        for _ in range(64):
            data[rng.randrange(len(data) // 2, len(data))] = rng.randrange(256)
        return bytes(data)

    return build


def _f(*answers: Answer) -> frozenset[Answer]:
    return frozenset(answers)


FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "TIFF")
CORPUS: list[Hostile] = [
    Hostile("zero-bytes", lambda: b"", _f(422), "an empty upload"),
    Hostile("nul-bytes", lambda: b"\x00" * 4096, _f(422), "no known magic number"),
    Hostile(
        "text-named-jpg",
        lambda: b"this is just text in a file called photo.jpg\n" * 20,
        _f(422),
        "the extension and Content-Type are ignored; the bytes are sniffed",
    ),
    Hostile("html-named-png", lambda: b"<html><script>alert(1)</script></html>", _f(422), "ditto"),
    *[
        Hostile(f"truncated-half-{f.lower()}", _truncate(f, 0.5), _f(422), "half the file")
        for f in FORMATS
    ],
    *[
        Hostile(f"header-only-{f.lower()}", _header_only(f), _f(422), "40 bytes: magic + header")
        for f in FORMATS
    ],
    *[
        Hostile(
            f"corrupt-{f.lower()}",
            _corrupt(f),
            _f(422, "ok"),
            "64 random bytes in the image data: refused, or decoded as damaged pixels",
        )
        for f in FORMATS
    ],
    Hostile("png-bomb-60000x60000", png_bomb, _f(413), "3.6 Gpixel in a few KB: from the header"),
    Hostile("png-strip-200000x1", png_strip, _f(422), "shorter side under 16 px"),
    Hostile("png-ztxt-256mb", png_text_bomb, _f(422, "ok"), "a text chunk that inflates to 256 MB"),
    Hostile(
        "gif-10000-frames", gif_many_frames, _f("ok"), "answered from its first frame, at once"
    ),
    Hostile("gif-65535-screen", gif_huge_screen, _f(413), "a 4.3 Gpixel logical screen"),
    Hostile("tiff-bomb-50000x50000", tiff_bomb, _f(413), "2.5 Gpixel claimed in a few bytes"),
    Hostile("webp-canvas-16384", webp_huge_canvas, _f(413, 422), "268 Mpixel canvas claimed"),
    Hostile("jpeg-sof-65500", jpeg_header_bomb, _f(413), "4.3 Gpixel claimed by the SOF header"),
    Hostile("jpeg-absurd-exif", jpeg_absurd_exif, _f("ok"), "EXIF loops, counts, offsets"),
    Hostile("jpeg-orientation-2e32", jpeg_orientation_huge, _f("ok"), "orientation out of range"),
]


@cache
def _built(name: str) -> bytes:
    return by_name(name).build()


def by_name(name: str) -> Hostile:
    for item in CORPUS:
        if item.name == name:
            return item
    raise KeyError(name)


# -- hostile text: what every route's path, query, form and JSON fields are sent ---------
# A NUL character (PostgreSQL cannot hold one; psycopg refuses to send it), an integer past
# 64 bits (SQLite: OverflowError; PostgreSQL: out of range), one past 32 bits (PostgreSQL's
# INTEGER ids), and text far longer than any column.
HOSTILE_TEXT = {
    "nul": "HB\x00X",
    "int-2e20": "99999999999999999999",
    "int-2e31": str(2**31),
    "long": "x" * 5000,
}
