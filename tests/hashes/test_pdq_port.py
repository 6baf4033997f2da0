"""hashbank's PDQ (``hashes._pdq_kernels``) is Meta's reference, float for float.

The reference here is ``pdqhash`` (Meta's C++ behind a Cython wrapper): its
``compute_float`` returns the 16x16 DCT output before thresholding, and the port must
give the same float32 values bit for bit, the same quality and the same hash, on real
photos, noise, flat and striped pictures, and sizes from 5 px up (narrow images sample
columns more than once, 64x64 skips the filter).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from hashes import _pdq_kernels as kernels
from hashes._pdq import pdq_with_quality
from tests.hashes._images import PDQ_REFERENCE, skimage_photo, synthetic


def _port_floats(pixels: np.ndarray) -> tuple[np.ndarray, int]:
    block = kernels.downsample(kernels.luma(pixels))
    # compute_float lists the coefficients from the last to the first
    return kernels.dct64to16(block, kernels.DCT_MATRIX).ravel()[::-1], int(kernels.quality(block))


def _assert_same(pixels: np.ndarray) -> None:
    ref, ref_quality = pdqhash.compute_float(np.ascontiguousarray(pixels))
    ours, quality = _port_floats(pixels)
    assert np.asarray(ref, np.float32).view(np.uint32).tolist() == ours.view(np.uint32).tolist()
    assert quality == ref_quality
    bits, _ = pdqhash.compute(np.ascontiguousarray(pixels))
    expected = np.packbits(np.asarray(bits, np.uint8)).tobytes().hex()
    assert pdq_with_quality(pixels) == (expected, ref_quality)


def _reference_images() -> list[Path]:
    folder = PDQ_REFERENCE / "images"
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".jpg", ".png", ".jpeg"})


def test_meta_reference_images() -> None:
    images = _reference_images()
    assert len(images) >= 29  # the vendored set (tests/data/pdq-reference)
    for path in images:
        with Image.open(path) as img:
            _assert_same(np.asarray(img.convert("RGB")))


@pytest.mark.parametrize("name", ["astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg"])
def test_photos(name: str) -> None:
    photo = skimage_photo(name)
    _assert_same(np.asarray(photo))
    _assert_same(np.asarray(photo)[::-1, 7:])  # a strided view, not a copy
    _assert_same(np.asarray(photo.resize((1155, 866))))


@pytest.mark.parametrize(
    "shape",
    [(5, 5), (5, 300), (17, 900), (63, 63), (64, 64), (64, 65), (65, 64), (128, 128), (866, 1155)],
)
def test_sizes(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    _assert_same(rng.integers(0, 256, (*shape, 3), dtype=np.uint8))
    if min(shape) >= 64:  # synthetic() draws 60 x 40 rectangles
        _assert_same(np.asarray(synthetic(seed=shape[0] % 5, size=(shape[1], shape[0]))))


def test_flat_and_striped() -> None:
    _assert_same(np.full((300, 200, 3), 128, np.uint8))
    stripes = np.zeros((300, 200, 3), np.uint8)
    stripes[:, ::2] = 255
    _assert_same(stripes)


def test_under_five_pixels_is_zero() -> None:
    assert pdq_with_quality(np.zeros((4, 100, 3), np.uint8)) == ("0" * 64, 0)
    assert pdq_with_quality(np.zeros((100, 4, 3), np.uint8)) == ("0" * 64, 0)


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(5, 260),
    w=st.integers(5, 260),
    seed=st.integers(0, 2**32 - 1),
    smooth=st.booleans(),
)
def test_any_size_and_content(h: int, w: int, seed: int, smooth: bool) -> None:
    rng = np.random.default_rng(seed)
    if smooth:  # ties and near-ties in the box sums
        y, x = np.mgrid[0:h, 0:w]
        base = (x * rng.integers(1, 5) + y * rng.integers(0, 5)) % 256
        pixels = np.repeat(base[:, :, None], 3, axis=2).astype(np.uint8)
    else:
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    _assert_same(pixels)


WARM_UP_PROBE = """
import io, numpy as np
from PIL import Image
import hashes
from hashes import _pdq_kernels, _window_kernels

def compiled():
    found = {}
    for module in (_pdq_kernels, _window_kernels):
        for name in dir(module):
            kernel = getattr(module, name)
            if hasattr(kernel, "signatures"):
                found[module.__name__ + "." + name] = len(kernel.signatures)
    return found

hashes.warm_up()
before = compiled()
rng = np.random.default_rng(1)
for fmt, shape in (("JPEG", (300, 500, 3)), ("PNG", (301, 499, 3)), ("PNG", (120, 90, 4))):
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(buf, fmt)
    hashes.hash_bytes(buf.getvalue()).pdq_stored
after = compiled()
print({k: (before.get(k), v) for k, v in after.items() if before.get(k) != v} or "same")
"""


def test_warm_up_compiles_every_kernel_a_check_or_report_uses() -> None:
    """A fresh process: after ``hashes.warm_up()`` no JPEG, PNG or report compiles more."""
    out = subprocess.run(
        [sys.executable, "-c", WARM_UP_PROBE], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "same", out.stdout


@pytest.mark.parametrize("shape", [(5, 5), (17, 900), (720, 1280)])
def test_contiguous_luma_is_luma(shape: tuple[int, int]) -> None:
    """The flat-loop luma pdq_with_quality uses equals the reference-order one, bit for bit
    (readonly or not)."""
    rng = np.random.default_rng(shape[0])
    pixels = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    assert np.array_equal(kernels.luma_contiguous(pixels), kernels.luma(pixels))
    pixels.flags.writeable = False
    assert np.array_equal(kernels.luma_contiguous(pixels), kernels.luma(pixels[:, ::1]))
