"""Plain 8-bit RGB PNGs go through libpng (imagecodecs): the same pixels as Pillow's.

Every other PNG (alpha, palette, grey, 16-bit, transparency, animation, EXIF or text
after the pixels, over the exact-size limit) goes through Pillow, and so does a plain
one that libpng refuses. ``Decoded.array`` is set only on the libpng path, so each
test also shows which path it took.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

import hashes
from hashes._decode import decode
from tests.hashes._images import encode, png_chunk, skimage_photo, synthetic

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _pillow_pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(ImageOps.exif_transpose(img).convert("RGB"))


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        out.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return out


def _assemble(chunks: list[tuple[bytes, bytes]]) -> bytes:
    return SIGNATURE + b"".join(png_chunk(kind, body) for kind, body in chunks)


def _with_chunk(data: bytes, kind: bytes, body: bytes, *, after_pixels: bool) -> bytes:
    """``data`` with one more chunk, just before the first IDAT or just before IEND."""
    chunks = _chunks(data)
    at = len(chunks) - 1 if after_pixels else [k for k, _ in chunks].index(b"IDAT")
    return _assemble([*chunks[:at], (kind, body), *chunks[at:]])


def _interlaced(pixels: np.ndarray) -> bytes:
    """An Adam7-interlaced 8-bit RGB PNG (Pillow writes none), every row unfiltered."""
    h, w, _ = pixels.shape
    passes = [(0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2)]
    passes += [(0, 1, 2, 2), (1, 0, 2, 1)]
    raw = b""
    for y0, x0, dy, dx in passes:
        sub = pixels[y0::dy, x0::dx]
        if sub.size:
            raw += b"".join(b"\x00" + row.tobytes() for row in sub)
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1)
    return _assemble([(b"IHDR", header), (b"IDAT", zlib.compress(raw)), (b"IEND", b"")])


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def _xmp(orientation: int) -> bytes:
    packet = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        f'xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="{orientation}"/>'
        "</rdf:RDF></x:xmpmeta>"
    )
    return b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + packet.encode()


@settings(max_examples=40, deadline=None)
@given(
    st.integers(16, 300),
    st.integers(16, 300),
    st.integers(0, 2**32 - 1),
    st.integers(0, 9),
    st.booleans(),
)
def test_plain_pngs_decode_to_pillows_pixels(
    h: int, w: int, seed: int, level: int, smooth: bool
) -> None:
    rng = np.random.default_rng(seed)
    if smooth:  # Pillow's adaptive filtering picks other filters for these
        small = rng.integers(0, 256, (h // 8 + 2, w // 8 + 2, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)
    else:
        img = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    data = encode(img, "PNG", compress_level=level)
    decoded = decode(data)
    assert decoded.array is not None
    assert decoded.pixels.tobytes() == _pillow_pixels(data).tobytes()


def test_photos_interlacing_and_ancillary_chunks() -> None:
    photo = np.asarray(skimage_photo("astronaut.png"))
    data = encode(Image.fromarray(photo), "PNG")
    variants = {
        "photo": data,
        "optimised": encode(Image.fromarray(photo), "PNG", optimize=True),
        "interlaced": _interlaced(photo[:301, :257]),
        "gamma": _with_chunk(data, b"gAMA", struct.pack(">I", 22727), after_pixels=False),
        "text before the pixels": _with_chunk(
            data, b"tEXt", b"Software\x00test", after_pixels=False
        ),
    }
    for name, png in variants.items():
        decoded = decode(png)
        assert decoded.array is not None, name
        assert decoded.pixels.tobytes() == _pillow_pixels(png).tobytes(), name
        assert decoded.image.size == (decoded.width, decoded.height), name


def test_xmp_orientation_before_the_pixels_is_applied() -> None:
    img = synthetic(3, (200, 120))
    png = _with_chunk(encode(img, "PNG"), b"iTXt", _xmp(6), after_pixels=False)
    decoded = decode(png)
    assert (decoded.width, decoded.height) == (120, 200)
    assert np.asarray(decoded.image).tobytes() == _pillow_pixels(png).tobytes()
    assert decoded.array is None  # turned: the array no longer matches


@pytest.mark.parametrize(
    "name",
    ["rgba", "palette", "grey", "16-bit", "transparency", "exif", "text after", "animated"],
)
def test_other_pngs_go_through_pillow_and_match_it(name: str) -> None:
    img = synthetic(5, (160, 120))
    rgb = encode(img, "PNG")
    png = {
        "rgba": encode(img.convert("RGBA"), "PNG"),
        "palette": encode(img.convert("P"), "PNG"),
        "grey": encode(img.convert("L"), "PNG"),
        "16-bit": encode(Image.fromarray(np.asarray(img.convert("L")).astype(np.uint16) * 257)),
        "transparency": encode(img, "PNG", transparency=(0, 0, 0)),
        "exif": _with_chunk(rgb, b"eXIf", _exif(3), after_pixels=True),
        "text after": _with_chunk(rgb, b"iTXt", _xmp(8), after_pixels=True),
        "animated": encode(img, "PNG", save_all=True, append_images=[img.rotate(90)]),
    }[name]
    decoded = decode(png)
    assert decoded.array is None
    if name in ("exif", "text after"):  # the orientation found after the pixels is applied
        assert np.asarray(decoded.image).tobytes() == _pillow_pixels(png).tobytes()
        assert np.asarray(decoded.image).tobytes() != np.asarray(img).tobytes()


def test_a_plain_png_libpng_refuses_is_left_to_pillow() -> None:
    """A wrong IDAT checksum: libpng stops, Pillow (which does not check it) decodes."""
    img = synthetic(6, (160, 120))
    chunks = _chunks(encode(img, "PNG"))
    raw = bytearray(_assemble(chunks))
    idat = raw.index(b"IDAT")
    (length,) = struct.unpack_from(">I", raw, idat - 4)
    raw[idat + 4 + length] ^= 0xFF  # the CRC's first byte
    decoded = decode(bytes(raw))
    assert decoded.array is None
    assert np.asarray(decoded.image).tobytes() == np.asarray(img).tobytes()
    # and a broken stream inside a plain PNG is still just a corrupt image
    broken = bytearray(_assemble(chunks))
    broken[idat + 40 : idat + 60] = b"\x00" * 20
    with pytest.raises(hashes.CorruptImage):
        hashes.hash_bytes(bytes(broken))
