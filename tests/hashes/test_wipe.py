"""Image bytes the caller hands over in a ``bytearray`` are zeroed once hashed (or refused),
read in place without a whole copy; the hashes are those of the same bytes unwiped."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import hashes
from tests.hashes._images import encode, skimage_photo


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return skimage_photo("coffee.png")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "TIFF", "HEIF"])
def test_the_buffer_is_zeroed_after_hashing(photo: Image.Image, fmt: str) -> None:
    if fmt == "HEIF":  # an iPhone photo: sniffed by its brand, decoded by pillow-heif
        import pillow_heif

        pillow_heif.register_heif_opener()
    data = encode(photo, fmt)
    ref = hashes.hash_bytes(data)
    buf = bytearray(data)
    h = hashes.hash_bytes(buf, wipe=True)
    assert len(buf) == len(data) and buf.count(0) == len(buf)
    assert h == ref and h.pdq_stored == ref.pdq_stored  # nothing read after the wipe


def test_a_refused_image_is_zeroed_too(photo: Image.Image) -> None:
    truncated = bytearray(encode(photo, "PNG")[:5000])
    with pytest.raises(hashes.CorruptImage):
        hashes.hash_bytes(truncated, wipe=True)
    assert truncated.count(0) == len(truncated)
    not_an_image = bytearray(b"GIF89a" + b"\x01" * 100)
    with pytest.raises(hashes.ImageError):
        hashes.hash_bytes(not_an_image, wipe=True)
    assert not_an_image.count(0) == len(not_an_image)


def test_without_wipe_the_callers_bytes_are_left_alone(photo: Image.Image) -> None:
    data = encode(photo, "PNG")
    buf = bytearray(data)
    hashes.hash_bytes(buf)
    assert buf == data


def test_wipe_zeroes_writable_buffers_and_leaves_read_only_ones() -> None:
    pixels = np.full((4, 5, 3), 7, np.uint8)
    hashes.wipe(pixels)
    assert not pixels.any()
    frozen = np.full(3, 7, np.uint8)
    frozen.flags.writeable = False
    hashes.wipe(frozen)
    hashes.wipe(memoryview(b"abc"))  # bytes cannot be changed: nothing happens
    assert frozen.tolist() == [7, 7, 7]
