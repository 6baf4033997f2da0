"""Every decoder path: accepted formats, refusals, limits, bombs, modes, frames."""

from __future__ import annotations

import io
import time
import warnings

import numpy as np
import pdqhash
import pytest
from PIL import Image

import hashes
from hashes._decode import MAX_EXACT_PIXELS, decode, sniff_format
from tests.hashes._images import bomb_png, encode, png_chunk, skimage_photo, synthetic


def _pdq(img: Image.Image) -> str:
    bits, _ = pdqhash.compute(np.asarray(img.convert("RGB")))
    return np.packbits(np.asarray(bits, np.uint8)).tobytes().hex()


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return skimage_photo("coffee.png")


@pytest.mark.parametrize(
    ("fmt", "kwargs", "name"),
    [
        ("JPEG", {"quality": 90}, "JPEG"),
        ("PNG", {}, "PNG"),
        ("WEBP", {"quality": 80}, "WEBP"),
        ("GIF", {}, "GIF"),
        ("BMP", {}, "BMP"),
        ("TIFF", {}, "TIFF"),
        ("TIFF", {"compression": "tiff_lzw"}, "TIFF"),
    ],
)
def test_allowed_formats_hash_alike(
    photo: Image.Image, fmt: str, kwargs: dict[str, object], name: str
) -> None:
    ref = hashes.hash_bytes(encode(photo, "PNG"))
    h = hashes.hash_bytes(encode(photo, fmt, **kwargs))
    assert h.format == name
    assert (h.width, h.height) == photo.size
    assert hashes.hamming(h.pdq, ref.pdq) <= 24  # GIF's 256-colour palette costs the most


def test_heif_is_decoded(photo: Image.Image) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    heif = pillow_heif.from_pillow(photo)
    buf = io.BytesIO()
    heif.save(buf, quality=90)
    h = hashes.hash_bytes(buf.getvalue())
    assert h.format == "HEIF"
    assert hashes.hamming(h.pdq, hashes.hash_bytes(encode(photo)).pdq) <= 16


def test_png_pixels_are_hashed_exactly_as_decoded(photo: Image.Image) -> None:
    # The contract of the browser's PDQ port: PNG pixels straight into pdqhash.compute.
    assert hashes.hash_bytes(encode(photo)).pdq == _pdq(photo)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", hashes.CorruptImage),
        (b"hello, this is text pretending to be an image\n" * 3, hashes.UnsupportedImage),
        (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF", hashes.UnsupportedImage),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"></svg>',
            hashes.UnsupportedImage,
        ),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1", hashes.UnsupportedImage),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 100, hashes.CorruptImage),
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 20, hashes.CorruptImage),
        (b"GIF89a" + b"\x01" * 30, hashes.CorruptImage),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 20, hashes.CorruptImage),
        (b"BM" + b"\x00" * 60, hashes.CorruptImage),
        (b"II*\x00" + b"\xff" * 60, hashes.CorruptImage),
    ],
    ids=[
        "empty",
        "text",
        "pdf",
        "svg",
        "avif",
        "jpeg-header",
        "png-junk",
        "gif",
        "webp",
        "bmp",
        "tiff",
    ],
)
def test_refused_data(data: bytes, error: type[hashes.ImageError]) -> None:
    with pytest.raises(error):
        hashes.hash_bytes(data)


def test_ico_is_unsupported(photo: Image.Image) -> None:
    with pytest.raises(hashes.UnsupportedImage):
        hashes.hash_bytes(encode(photo.resize((64, 64)), "ICO"))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "TIFF"])
@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9])
def test_truncated_files_are_corrupt(photo: Image.Image, fmt: str, keep: float) -> None:
    data = encode(photo, fmt)
    with pytest.raises(hashes.CorruptImage):
        hashes.hash_bytes(data[: int(len(data) * keep)])


def test_text_file_with_an_image_name(tmp_path) -> None:
    path = tmp_path / "holiday.jpg"
    path.write_text("not an image at all")
    with pytest.raises(hashes.UnsupportedImage):
        hashes.hash_file(path)


@pytest.mark.parametrize(
    ("size", "ok"),
    [
        ((15, 200), False),
        ((16, 200), True),
        ((16, 800), True),
        ((16, 801), False),
        ((900, 17), False),
        ((10, 10), False),
    ],
)
def test_geometry_limits(size: tuple[int, int], ok: bool) -> None:
    data = encode(synthetic(1).resize(size), "PNG")
    if ok:
        assert (hashes.hash_bytes(data).width, hashes.hash_bytes(data).height) == size
    else:
        with pytest.raises(hashes.UnsupportedImage):
            hashes.hash_bytes(data)


def test_byte_limit() -> None:
    data = encode(synthetic(), "PNG")
    with pytest.raises(hashes.ImageTooLarge, match="bytes"):
        hashes.hash_bytes(data, limits=hashes.DecodeLimits(max_bytes=len(data) - 1))
    assert hashes.hash_bytes(data, limits=hashes.DecodeLimits(max_bytes=len(data))).pdq


def test_byte_limit_is_checked_before_reading_a_file(tmp_path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(encode(synthetic(), "PNG"))
    with pytest.raises(hashes.ImageTooLarge):
        hashes.hash_file(path, limits=hashes.DecodeLimits(max_bytes=100))


def test_pixel_limit() -> None:
    data = encode(synthetic(size=(200, 100)), "PNG")
    with pytest.raises(hashes.ImageTooLarge, match="pixels"):
        hashes.hash_bytes(data, limits=hashes.DecodeLimits(max_pixels=19_999))
    assert hashes.hash_bytes(data, limits=hashes.DecodeLimits(max_pixels=20_000)).width == 200


@pytest.mark.parametrize(
    ("width", "height"), [(60_000, 60_000), (100_000, 1_000), (9_000, 9_000), (12_000, 8_000)]
)
def test_pixel_bombs_fail_fast(width: int, height: int) -> None:
    data = bomb_png(width, height)
    assert len(data) < 50_000
    start = time.perf_counter()
    with pytest.raises(hashes.ImageTooLarge):
        hashes.hash_bytes(data)
    assert time.perf_counter() - start < 2.0


def test_pillow_bomb_error_is_translated() -> None:
    # Over Pillow's own limit (2 x MAX_IMAGE_PIXELS) with a generous hashbank limit.
    data = bomb_png(20_000, 20_000)
    with pytest.raises(hashes.ImageTooLarge):
        hashes.hash_bytes(data, limits=hashes.DecodeLimits(max_pixels=10**9))


def test_pillow_warnings_do_not_escape() -> None:
    # 95 MP is over Pillow's DecompressionBombWarning threshold but within our limit.
    data = bomb_png(9_500, 10_000, rows=10_000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(hashes.ImageError):
            hashes.hash_bytes(data, limits=hashes.DecodeLimits(max_pixels=10**8))
    assert caught == []


def test_large_png_is_box_reduced_before_hashing() -> None:
    img = synthetic(3, (4200, 4200))
    decoded = decode(encode(img, "PNG"))
    assert decoded.scale == 2
    assert decoded.image.size == (2100, 2100)
    assert decoded.image.width * decoded.image.height <= MAX_EXACT_PIXELS
    assert (decoded.width, decoded.height) == (4200, 4200)


def test_jpeg_draft_keeps_the_hash_close(photo: Image.Image) -> None:
    big = photo.resize((photo.width * 6, photo.height * 6), Image.Resampling.BICUBIC)
    data = encode(big, "JPEG", quality=90)
    decoded = decode(data)
    assert decoded.scale == 2 and min(decoded.image.size) >= 720
    full = _pdq(Image.open(io.BytesIO(data)))
    assert hashes.hamming(hashes.hash_bytes(data).pdq, full) <= 12


def test_alpha_is_flattened_on_white() -> None:
    rgb = np.asarray(synthetic(4))
    alpha = np.zeros(rgb.shape[:2], np.uint8)
    alpha[40:200, 60:260] = 255
    alpha[100:140, :] = 128
    rgba = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    white = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    h = hashes.hash_bytes(encode(rgba, "PNG"))
    assert h.pdq == _pdq(white.convert("RGB"))
    # Transparent pixels of any colour count as white.
    black = np.dstack([np.zeros_like(rgb), alpha])
    black[alpha > 0, :3] = rgb[alpha > 0]
    assert hashes.hash_bytes(encode(Image.fromarray(black, "RGBA"), "PNG")).pdq == h.pdq


def test_palette_transparency_is_flattened_on_white() -> None:
    img = synthetic(5).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    data = encode(img, "PNG", transparency=0)
    rgba = Image.open(io.BytesIO(data)).convert("RGBA")
    assert (np.asarray(rgba)[:, :, 3] == 0).any()
    expected = Image.alpha_composite(Image.new("RGBA", img.size, (255, 255, 255, 255)), rgba)
    assert hashes.hash_bytes(data).pdq == _pdq(expected.convert("RGB"))


def test_sixteen_bit_grey_is_scaled() -> None:
    grey8 = np.asarray(synthetic(6).convert("L"))
    grey16 = grey8.astype(np.uint16) * 257
    data = encode(Image.fromarray(grey16), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    assert hashes.hash_bytes(data).pdq == hashes.hash_bytes(encode(Image.fromarray(grey8))).pdq


@pytest.mark.parametrize("mode", ["L", "1", "CMYK", "P", "LA"])
def test_other_modes_are_converted(mode: str) -> None:
    img = synthetic(7).convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    h = hashes.hash_bytes(encode(img, fmt))
    assert len(h.pdq) == 64


def test_only_the_first_frame_of_an_animation_is_hashed() -> None:
    first, second = synthetic(8), synthetic(9).transpose(Image.Transpose.ROTATE_180)
    for fmt, kwargs in (("GIF", {}), ("WEBP", {"lossless": True}), ("PNG", {})):
        data = encode(first, fmt, save_all=True, append_images=[second], duration=100, **kwargs)
        alone = encode(first, fmt, **kwargs)
        assert hashes.hash_bytes(data).pdq == hashes.hash_bytes(alone).pdq, fmt


def test_animation_frames_are_never_walked(monkeypatch: pytest.MonkeyPatch) -> None:
    frames = [synthetic(i, (64, 64)) for i in range(3)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    seeks: list[int] = []
    original = Image.Image.seek

    def seek(self: Image.Image, n: int) -> None:
        seeks.append(n)
        original(self, n)

    monkeypatch.setattr(Image.Image, "seek", seek)
    hashes.hash_bytes(data)
    assert all(n == 0 for n in seeks)


def test_sniffing() -> None:
    assert sniff_format(b"\xff\xd8\xff\xe0") == "JPEG"
    assert sniff_format(b"\x00\x00\x00\x18ftypheic") == "HEIF"
    assert sniff_format(b"\x00\x00\x00\x18ftypavif") is None
    assert sniff_format(b"%PDF") is None


def test_foreign_exceptions_are_chained() -> None:
    with pytest.raises(hashes.CorruptImage) as info:
        hashes.hash_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", b"\x00" * 13))
    assert info.value.__cause__ is not None or "size" in str(info.value)
