"""PNG decoding: libpng through ``imagecodecs`` (hashbank's path for plain 8-bit RGB PNGs)
against Pillow alone, on 1 MP photos, and what each costs a whole image check.

Usage: .venv/bin/python benchmarks/png_decoders.py [--rounds N]

It also measures what zeroing the upload costs a check: ``hash_bytes(bytearray,
wipe=True)`` read in place (the service's path) against the former ``hash_bytes(bytes)``
read through ``io.BytesIO``, on 1 MP JPEGs and PNGs.

Decides whether the imagecodecs bundle (many native codecs, of which hashbank calls only
``png_decode``) is worth its attack surface: docs/security.md has the numbers. Both
paths run in one process, interleaved photo by photo, CPU time (``time.process_time``)
on one core; the allocator is tuned as each worker tunes it.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import imagecodecs
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hashes
from app import allocator
from benchmarks._photos import photos
from hashes import _decode

ONE_MP = (1155, 866)


def _pillow_pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data), formats=["PNG"]) as img:
        img.load()
        return np.asarray(img.convert("RGB"))


def _cpu(fn: object, data: bytes) -> float:
    start = time.process_time()
    fn(data)  # type: ignore[operator]
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    allocator.tune()
    hashes.warm_up()
    pngs = []
    for photo in photos():
        img = photo.image.convert("RGB").resize(ONE_MP, Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, "PNG")
        pngs.append((photo.name, buf.getvalue()))
    libpng = _decode._png_pixels
    decode = {"libpng": [], "pillow": []}
    check = {"libpng": [], "pillow": []}
    for _ in range(args.rounds):
        for _name, data in pngs:
            assert np.array_equal(imagecodecs.png_decode(data), _pillow_pixels(data))
            decode["libpng"].append(_cpu(imagecodecs.png_decode, data))
            decode["pillow"].append(_cpu(_pillow_pixels, data))
            _decode._png_pixels = libpng
            check["libpng"].append(_cpu(hashes.hash_bytes, data))
            _decode._png_pixels = lambda *a: None  # every PNG through Pillow
            check["pillow"].append(_cpu(hashes.hash_bytes, data))
            _decode._png_pixels = libpng
    wipe = {"JPEG": {"BytesIO": [], "wipe": []}, "PNG": {"BytesIO": [], "wipe": []}}
    reader = _decode._BufferReader
    for _ in range(args.rounds):
        for photo in photos():
            img = photo.image.convert("RGB").resize(ONE_MP, Image.Resampling.LANCZOS)
            for fmt in wipe:
                buf = io.BytesIO()
                img.save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
                data = buf.getvalue()
                _decode._BufferReader = io.BytesIO  # type: ignore[misc,assignment]
                wipe[fmt]["BytesIO"].append(_cpu(hashes.hash_bytes, data))
                _decode._BufferReader = reader  # type: ignore[misc]
                copy = bytearray(data)
                start = time.process_time()
                hashes.hash_bytes(copy, wipe=True)
                wipe[fmt]["wipe"].append(time.process_time() - start)
    print(f"{len(pngs)} photos at {ONE_MP[0]}x{ONE_MP[1]} PNG, {args.rounds} rounds, CPU ms:")
    for what, table in (("decode", decode), ("whole check", check)):
        med = {k: statistics.median(v) * 1000 for k, v in table.items()}
        ratio = med["pillow"] / med["libpng"]
        print(
            f"  {what:12s} libpng {med['libpng']:6.1f}  Pillow {med['pillow']:6.1f}  "
            f"Pillow/libpng {ratio:.2f}x"
        )
    print("whole check, zeroing the upload (read in place) vs BytesIO, CPU ms:")
    for fmt, table in wipe.items():
        med = {k: statistics.median(v) * 1000 for k, v in table.items()}
        print(
            f"  {fmt:5s} BytesIO {med['BytesIO']:6.1f}  in place + wipe {med['wipe']:6.1f}  "
            f"ratio {med['wipe'] / med['BytesIO']:.3f}"
        )


if __name__ == "__main__":
    main()
