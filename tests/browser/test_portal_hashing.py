"""The page's JavaScript hashes agree with Python's ``hashes`` on the same files.

Every image goes through the real page (file input, worker, decoder, PDQ port) in real
Chromium and is compared with ``hashes.hash_bytes`` on the same bytes:

* PNG and other lossless inputs: PDQ within 2 bits (measured: 0, bit-exact), the stored
  variants too, one for one;
* JPEG: PDQ within 10 bits (browsers decode JPEG their own way, and the server decodes
  large JPEGs at a reduced libjpeg scale, which the page approximates with a box filter);
* MD5 and SHA-256: equal, always.

The inputs include Meta's PDQ reference images (vendored in tests/data/pdq-reference),
whose published hashes the page must also stay close to, as hashbank's Python does.
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps
from playwright.sync_api import Page

import hashes
from tests.browser.test_portal_common import (
    PDQ_REFERENCE,
    encode,
    open_page,
    pick,
    synthetic,
    write,
)
from tests.servers import Server

PNG_BITS = 2
JPEG_BITS = 10
REFERENCE_IMAGES = PDQ_REFERENCE / "images"
SKIMAGE_FILES = ("astronaut.png", "camera.png", "coffee.png", "rocket.jpg", "motorcycle_left.png")


def _skimage(name: str) -> Path:
    import skimage.data

    return Path(skimage.data.__file__).parent / name


def _reference() -> list[Path]:
    return sorted(REFERENCE_IMAGES.rglob("*.jpg")) + sorted(REFERENCE_IMAGES.rglob("*.png"))


def _upscaled(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    return ImageOps.fit(img, size, Image.Resampling.BICUBIC)


def _inputs(folder: Path) -> Iterator[tuple[str, Path]]:
    """(kind, file): kind is "lossless" or "jpeg"."""
    photo = Image.open(_skimage("coffee.png")).convert("RGB")
    for path in _reference():
        yield ("jpeg" if path.suffix == ".jpg" else "lossless"), path
        if path.suffix == ".jpg" and "exif-rotn" not in path.parts:
            # the same pictures as PNG: lossless, so the page must agree bit for bit
            with Image.open(path) as img:
                rgb = ImageOps.exif_transpose(img).convert("RGB")
            yield "lossless", write(folder, f"ref-{path.stem}.png", encode(rgb))
    for name in SKIMAGE_FILES:
        yield ("jpeg" if name.endswith(".jpg") else "lossless"), _skimage(name)
    # a 12 MP phone-sized JPEG (decoded at 1/4 scale by the server) and a smaller one
    twelve = _upscaled(photo, (4000, 3000))
    yield "jpeg", write(folder, "twelve-mp.jpg", encode(twelve, "JPEG", quality=90))
    yield (
        "jpeg",
        write(folder, "progressive.jpg", encode(photo, "JPEG", quality=75, progressive=True)),
    )
    yield "jpeg", write(folder, "grey.jpg", encode(photo.convert("L"), "JPEG", quality=85))
    # a PNG over 16.7 MP: the server box-reduces it by 2, and so must the page
    yield (
        "lossless",
        write(folder, "seventeen-mp.png", encode(_upscaled(photo, (4800, 3600)), compress_level=1)),
    )
    # alpha composited over white, palettes, greys, and the other lossless formats
    rgba = synthetic(1).convert("RGBA")
    alpha = np.tile(np.linspace(0, 255, rgba.width, dtype=np.uint8), (rgba.height, 1))
    rgba.putalpha(Image.fromarray(alpha))
    yield "lossless", write(folder, "alpha.png", encode(rgba))
    yield "lossless", write(folder, "grey.png", encode(synthetic(2).convert("L")))
    palette = synthetic(3).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    yield "lossless", write(folder, "palette.png", encode(palette))
    yield (
        "lossless",
        write(folder, "border.png", encode(ImageOps.expand(synthetic(4), 60, (250, 250, 250)))),
    )
    yield "lossless", write(folder, "lossless.webp", encode(synthetic(5), "WEBP", lossless=True))
    yield "lossless", write(folder, "image.bmp", encode(synthetic(6), "BMP"))
    yield "lossless", write(folder, "image.gif", encode(synthetic(7).convert("P"), "GIF"))


@pytest.fixture(scope="module")
def agreement(
    live_server: Server, browser, tmp_path_factory: pytest.TempPathFactory
) -> list[dict[str, object]]:
    """Each input hashed by the page and by Python."""
    folder = tmp_path_factory.mktemp("agreement")
    inputs = list(_inputs(folder))
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    open_page(page, live_server)
    rows = []
    batch = 16  # a person picks a handful at a time; keeps the page's list short
    for start in range(0, len(inputs), batch):
        chunk = inputs[start : start + batch]
        shown = pick(page, [path for _, path in chunk])
        for (kind, path), js in zip(chunk, shown, strict=True):
            assert js["state"] == "ready", (path.name, js["text"])
            py = hashes.hash_bytes(path.read_bytes())
            rows.append({"name": path.name, "path": path, "kind": kind, "js": js, "py": py})
        for _ in chunk:
            page.click("#report-picker li.image button")
    context.close()
    assert not errors
    return rows


def _bits(row: dict[str, object]) -> int:
    js, py = row["js"], row["py"]
    assert isinstance(js, dict) and isinstance(py, hashes.Hashes)
    return hashes.hamming(js["pdq"], py.pdq)


def test_pdq_agrees_with_python(agreement: list[dict[str, object]]) -> None:
    lossless = {r["name"]: _bits(r) for r in agreement if r["kind"] == "lossless"}
    jpeg = {r["name"]: _bits(r) for r in agreement if r["kind"] == "jpeg"}
    print(
        f"\nPDQ bits JS vs Python: lossless n={len(lossless)} mean "
        f"{statistics.mean(lossless.values()):.2f} max {max(lossless.values())}; "
        f"JPEG n={len(jpeg)} mean {statistics.mean(jpeg.values()):.2f} max {max(jpeg.values())}"
    )
    assert len(lossless) >= 12 and len(jpeg) >= 5
    assert {k: v for k, v in lossless.items() if v > PNG_BITS} == {}
    assert {k: v for k, v in jpeg.items() if v > JPEG_BITS} == {}


def test_stored_variants_agree_with_python(agreement: list[dict[str, object]]) -> None:
    """The window hashes a report stores (hashes/_variants.py): on lossless inputs the
    same ones, in the same order, nearly all bit for bit (the DCT's float sums run in
    another order than numpy's); on JPEG (decoded by the browser) the same count is not
    guaranteed (a corner's rank can change), so each JS hash must have a Python one
    within the JPEG tolerance for most of them."""
    same = total = 0
    for row in agreement:
        js, py = row["js"], row["py"]
        assert isinstance(js, dict) and isinstance(py, hashes.Hashes)
        assert js["stored"][0] == js["pdq"], row["name"]
        if row["kind"] == "lossless":
            assert len(js["stored"]) == len(py.pdq_stored), row["name"]
            far = [hashes.hamming(a, b) for a, b in zip(js["stored"], py.pdq_stored, strict=True)]
            assert max(far) <= PNG_BITS, (row["name"], far)
            same += far.count(0)
            total += len(far)
        else:
            near = [min(hashes.hamming(a, b) for b in py.pdq_stored) for a in js["stored"]]
            share = sum(d <= JPEG_BITS for d in near) / len(near)
            print(
                f"\n{row['name']}: {len(js['stored'])} JS / {len(py.pdq_stored)} Python, "
                f"{share:.2f} within {JPEG_BITS} bits"
            )
            assert share >= 0.5, (row["name"], near)
    print(f"\nstored hashes on lossless inputs: {same}/{total} bit-exact")
    assert total and same >= 0.99 * total


def test_exact_hashes_are_equal(agreement: list[dict[str, object]]) -> None:
    for row in agreement:
        js, py = row["js"], row["py"]
        assert isinstance(js, dict) and isinstance(py, hashes.Hashes)
        assert (js["md5"], js["sha256"]) == (py.md5, py.sha256), row["name"]


def test_reference_hashes_within_upstream_tolerance(agreement: list[dict[str, object]]) -> None:
    """Meta's published hashes: the same tolerance as tests/hashes/test_conformance.py."""
    by_path = {r["path"]: r["js"] for r in agreement}
    with open(PDQ_REFERENCE / "expected.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["expected_pdq"]]
    distances = []
    for row in rows:
        js = by_path[REFERENCE_IMAGES / row["image"]]
        assert isinstance(js, dict)
        distances.append(hashes.hamming(js["pdq"], row["expected_pdq"]))
    assert len(distances) >= 30
    assert max(distances) <= 16
    assert statistics.mean(distances) <= 6.0


# Pixels to store so that a viewer applying EXIF orientation N shows the upright photo.
_STORE_FOR_ORIENTATION = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def test_exif_orientation_is_applied(live_server: Server, page: Page, tmp_path: Path) -> None:
    """The same photo stored with each of the 8 EXIF orientations hashes alike."""
    photo = synthetic(11, (640, 400))
    files = []
    for orientation, transpose in _STORE_FOR_ORIENTATION.items():
        stored = photo if transpose is None else photo.transpose(transpose)
        exif = Image.Exif()
        exif[0x0112] = orientation
        data = encode(stored, "JPEG", quality=95, exif=exif.tobytes())
        files.append(write(tmp_path, f"orientation-{orientation}.jpg", data))
    open_page(page, live_server)
    shown = pick(page, files)
    upright = shown[0]["pdq"]
    for path, js in zip(files, shown, strict=True):
        assert hashes.hamming(js["pdq"], upright) <= JPEG_BITS, path.name
        assert hashes.hamming(js["pdq"], hashes.hash_file(path).pdq) <= JPEG_BITS, path.name


def test_hashing_a_file_twice_gives_the_same_hashes(
    live_server: Server, page: Page, tmp_path: Path
) -> None:
    path = write(tmp_path, "again.png", encode(synthetic(9)))
    open_page(page, live_server)
    first, second = pick(page, [path, path])
    assert first["pdq"] == second["pdq"] and first["stored"] == second["stored"]
