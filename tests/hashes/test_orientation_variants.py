"""EXIF orientation, check variants and stored hashes on real photos."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

import hashes
from hashes._decode import decode
from hashes._trim import content_box
from hashes._variants import DENSITIES, DIHEDRAL
from tests.hashes._images import SHARED, encode, skimage_photo

# Meta's four phone photos are not vendored (13 MB): this one test runs beside ../shared
EXIF_ROTN = SHARED / "pdq-reference" / "images" / "reg-test-input" / "exif-rotn"
PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg")


def _best(original: hashes.Hashes, copy: hashes.Hashes) -> int:
    return min(hashes.hamming(a, b) for a in original.pdq_stored for b in copy.pdq_variants)


def _thumb(img: Image.Image) -> np.ndarray:
    a = np.asarray(img.convert("L").resize((24, 24), Image.Resampling.BOX), np.float64)
    a -= a.mean()
    return a / np.linalg.norm(a)


@pytest.mark.skipif(not EXIF_ROTN.exists(), reason="../shared/pdq-reference is not here")
def test_reference_exif_orientations_come_out_upright() -> None:
    # The four files are four shots of one scene with the phone held four ways (not
    # one image re-tagged): their PDQ hashes differ by ~110 bits whatever we do, so the
    # test checks what orientation controls: the size, and that the decoded image
    # agrees with the upright shot better than any other rotation of it does.
    upright = decode((EXIF_ROTN / "exif-rotn-1.jpg").read_bytes()).image
    for i, size in ((3, (4032, 3024)), (6, (3024, 4032)), (8, (3024, 4032))):
        decoded = decode((EXIF_ROTN / f"exif-rotn-{i}.jpg").read_bytes())
        assert (decoded.width, decoded.height) == size
        scores = {
            k: float((_thumb(upright) * _thumb(decoded.image.transpose(m))).sum())
            for k, m in (
                (90, Image.Transpose.ROTATE_90),
                (180, Image.Transpose.ROTATE_180),
                (270, Image.Transpose.ROTATE_270),
            )
        }
        assert float((_thumb(upright) * _thumb(decoded.image)).sum()) > max(scores.values())


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(orientation: int) -> None:
    photo = skimage_photo("chelsea.png")
    # Store the pixels so that a viewer applying ``orientation`` shows ``photo``.
    undo = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_90,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_270,
    }
    stored = photo.transpose(undo[orientation]) if orientation in undo else photo
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(stored, "PNG", exif=exif.tobytes())
    assert ImageOps.exif_transpose(Image.open(__import__("io").BytesIO(data))).size == photo.size
    h = hashes.hash_bytes(data)
    assert (h.width, h.height) == photo.size
    assert h.pdq == hashes.hash_bytes(encode(photo, "PNG")).pdq


@pytest.mark.parametrize("value", [0, 9, 65535])
def test_absurd_orientation_is_ignored(value: int) -> None:
    photo = skimage_photo("rocket.jpg")
    exif = Image.Exif()
    exif[0x0112] = value
    h = hashes.hash_bytes(encode(photo, "JPEG", quality=95, exif=exif.tobytes()))
    assert (h.width, h.height) == photo.size


def test_garbage_exif_is_ignored() -> None:
    photo = skimage_photo("rocket.jpg")
    data = encode(photo, "JPEG", quality=95, exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff")
    h = hashes.hash_bytes(data)
    assert (h.width, h.height) == photo.size


@pytest.mark.parametrize("name", PHOTOS)
@pytest.mark.parametrize("transform", [t for t in DIHEDRAL if t != "identity"])
def test_flipped_and_rotated_copies_match(name: str, transform: str) -> None:
    photo = skimage_photo(name)
    original = hashes.hash_bytes(encode(photo, "PNG"))
    moved = Image.fromarray(np.ascontiguousarray(DIHEDRAL[transform](np.asarray(photo))))
    copy = hashes.hash_bytes(encode(moved, "JPEG", quality=85))
    assert hashes.hamming(copy.pdq, original.pdq) > 31  # plain PDQ misses it...
    assert _best(original, copy) <= 31  # ...a report then a check does not


def _frame(photo: Image.Image, kind: str) -> Image.Image:
    w, h = photo.size
    if kind == "letterbox":
        canvas = Image.new("RGB", (w, round(w * 16 / 9)) if w >= h else (round(h * 16 / 9), h))
    elif kind == "border":
        canvas = Image.new("RGB", (w + 80, h + 80), (200, 30, 90))
    else:  # a screenshot-like frame: grey margin, a dark bar with some text-like marks
        canvas = Image.new("RGB", (w + 60, round(h * 1.5)), (245, 245, 245))
        bar = Image.new("RGB", (w + 60, 30), (20, 20, 20))
        bar.paste(Image.new("RGB", (120, 10), (255, 255, 255)), (10, 10))
        canvas.paste(bar, (0, 0))
    canvas.paste(photo, ((canvas.width - w) // 2, (canvas.height - h) // 2))
    return canvas


@pytest.mark.parametrize("name", PHOTOS)
@pytest.mark.parametrize("kind", ["letterbox", "border", "screenshot"])
def test_framed_copies_match(name: str, kind: str) -> None:
    photo = skimage_photo(name)
    original = hashes.hash_bytes(encode(photo, "PNG"))
    copy = hashes.hash_bytes(encode(_frame(photo, kind), "JPEG", quality=90))
    assert hashes.hamming(copy.pdq, original.pdq) > 31
    assert _best(original, copy) <= 31


def test_content_box_finds_the_photo_and_leaves_photos_alone() -> None:
    photo = skimage_photo("astronaut.png").resize((256, 256))
    assert content_box(np.asarray(photo)) is None
    framed = Image.new("RGB", (256, 400), (0, 0, 0))
    framed.paste(photo, (0, 72))
    top, bottom, left, right = content_box(np.asarray(framed)) or (0, 0, 0, 0)
    assert (left, right) == (0, 256)
    assert abs(top - 72) <= 2 and abs(bottom - 328) <= 2


@pytest.mark.parametrize("name", PHOTOS[:2])
def test_slightly_cropped_copies_match_the_stored_hashes(name: str) -> None:
    photo = skimage_photo(name)
    original = hashes.hash_bytes(encode(photo, "PNG"))
    w, h = photo.size
    copy = hashes.hash_bytes(encode(photo.crop((0, 0, round(w * 0.96), round(h * 0.96))), "JPEG"))
    assert hashes.hamming(copy.pdq, original.pdq) > 31
    assert _best(original, copy) <= 31


def test_variant_lists_are_well_formed() -> None:
    h = hashes.hash_bytes(encode(skimage_photo("coffee.png"), "PNG"))
    for hexes in (h.pdq_variants, h.pdq_stored):
        assert hexes[0] == h.pdq
        assert len(set(hexes)) == len(hexes)
        assert all(hashes.parse_hash("pdq", x) == x for x in hexes)
    assert 6 <= len(h.pdq_variants) <= DENSITIES["default"].max_check == 12
    assert 20 <= len(h.pdq_stored) <= DENSITIES["default"].max_stored == 48
    assert h.pdq_stored is h.pdq_stored  # computed once


def test_density_none_has_no_variants_and_unknown_density_fails() -> None:
    assert "default" in DENSITIES
    data = encode(skimage_photo("coffee.png"), "PNG")
    h = hashes.hash_bytes(data, density="none")
    assert h.pdq_variants == (h.pdq,) and h.pdq_stored == (h.pdq,)
    with pytest.raises(ValueError, match="density"):
        hashes.hash_bytes(data, density="extreme")
