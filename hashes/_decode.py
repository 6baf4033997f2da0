"""Safe decoding: image bytes in memory to the RGB pixels every hash is computed from.

Nothing is written to disk: the bytes are read in memory only, through a reader over
the caller's buffer (``_BufferReader``: no whole copy of the file is made here).

The pixel pipeline (a port, e.g. the browser's JavaScript PDQ, must follow it to
reproduce hashbank's ``pdq`` for non-JPEG images bit for bit):

1. Sniff the format from the magic bytes; only JPEG, PNG (first frame of APNG), WebP
   and GIF (first frame), BMP, TIFF (first page) and HEIC/HEIF are opened, each with
   its own Pillow plugin only.
2. Read the size from the header and refuse, before decoding a pixel: more than
   ``DecodeLimits.max_pixels`` (``ImageTooLarge``), a shorter side under 16 px or an
   aspect ratio beyond 1:50 (``UnsupportedImage``), more than 16.7 MP packed over
   1000 pixels per byte (a decompression bomb: ``ImageTooLarge``).
3. JPEG only: decode at the smallest libjpeg DCT scale (1/2, 1/4 or 1/8) whose shorter
   side stays at least ``JPEG_DRAFT_MIN_SIDE`` (720) px, e.g. 4032x3024 decodes at
   1008x756. Measured on real photos (``benchmarks/hashing.py``): the PDQ hash stays
   within about 4 bits of the full decode on average. A port cannot match libjpeg's
   decoder bit for bit anyway, so JPEG hashes from elsewhere differ by a few bits.
   PNG only: a plain 8-bit RGB PNG (no transparency, not animated, no EXIF or text
   chunk after the pixels) is decoded by libpng (``imagecodecs``): the same samples
   as Pillow's decoder, in half its time on photos, with the GIL released. Anything
   else, or anything libpng refuses, goes through Pillow as every other format.
4. Apply the EXIF orientation (tag 0x0112, values 2-8; a missing, unreadable or
   absurd tag means no rotation).
5. Convert to 8-bit RGB: 16-bit grey is scaled by 1/257 and rounded; an alpha channel
   (or a palette transparency) is composited over opaque white,
   ``out = round((c * a + 255 * (255 - a)) / 255)``, as Pillow's ``alpha_composite``;
   other modes go through Pillow's ``convert("RGB")``.
6. Non-JPEG images larger than ``MAX_EXACT_PIXELS`` (4096 x 4096) are box-reduced by
   the smallest integer factor ``k`` that brings them under it (Pillow ``reduce(k)``:
   the mean of each k x k block, the last partial blocks over the pixels they have).
   Smaller ones, nearly all, are used exactly as decoded: no resize at all.
7. PDQ: Meta's reference PDQ on these pixels, bit for bit what ``pdqhash.compute``
   gives (luma = 0.299 R + 0.587 G + 0.114 B in float64 rounded to float32, then the
   Jarosz downsampling to 64x64, DCT, median threshold; ``_pdq_kernels``).
"""

from __future__ import annotations

import io
import math
import struct
import threading
import warnings
from dataclasses import dataclass
from typing import IO, cast

import imagecodecs
import numpy as np
from PIL import Image, UnidentifiedImageError

from hashes._errors import CorruptImage, ImageError, ImageTooLarge, UnsupportedImage

__all__ = [
    "BOMB_PIXELS_PER_BYTE",
    "JPEG_DRAFT_MIN_SIDE",
    "MAX_ASPECT",
    "MAX_EXACT_PIXELS",
    "MIN_SIDE",
    "DecodeLimits",
    "Decoded",
    "decode",
    "sniff_format",
    "wipe",
]

MIN_SIDE = 16
MAX_ASPECT = 50
JPEG_DRAFT_MIN_SIDE = 720
MAX_EXACT_PIXELS = 4096 * 4096
# A large image packed over this many pixels per byte is a decompression bomb: no real
# picture of more than MAX_EXACT_PIXELS compresses so well, and decoding it is slow.
BOMB_PIXELS_PER_BYTE = 1000

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1"}
_heif_lock = threading.Lock()
_heif_registered = False

# EXIF orientation -> the Pillow transpose that undoes it (as ImageOps.exif_transpose).
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class DecodeLimits:
    """Limits checked before decoding: bytes of the file, pixels of the image (w x h)."""

    max_bytes: int = 32 * 1024 * 1024
    max_pixels: int = 100_000_000


@dataclass(frozen=True)
class Decoded:
    """An image decoded for hashing.

    ``image`` is 8-bit RGB, oriented, at the hashing size (JPEG: the draft scale);
    ``width`` and ``height`` are the full oriented size; ``scale`` is the JPEG draft
    or box-reduce divisor (1 when the pixels are used as decoded).
    """

    image: Image.Image
    format: str
    width: int
    height: int
    scale: int
    array: np.ndarray | None = None  # the same pixels, when the decoder gave an array

    @property
    def pixels(self) -> np.ndarray:
        """The pixels as a ``(height, width, 3)`` uint8 array."""
        return self.array if self.array is not None else np.asarray(self.image)


Buffer = bytes | bytearray


def wipe(buffer: bytearray | memoryview | np.ndarray) -> None:
    """Overwrite a writable buffer (the bytes of an image, its decoded pixels) with zeros.

    For memory this process owns and is about to free: freed memory is reused unzeroed
    (``app.allocator`` keeps freed blocks of up to 16 MB), and could reach a swap or core
    file. Read-only buffers (``bytes``, a read-only array) are left alone: Python does not
    let them be changed.
    """
    if isinstance(buffer, np.ndarray):
        if buffer.flags.writeable:
            buffer.fill(0)
        return
    view = memoryview(buffer)
    if view.readonly or not view.nbytes:
        return
    view.cast("B")[:] = bytes(view.nbytes)


class _BufferReader(io.RawIOBase):
    """A seekable read-only file over a buffer, without copying it (``io.BytesIO`` copies a
    ``bytearray`` whole, a copy nobody could zero); reads copy small chunks only."""

    def __init__(self, data: Buffer) -> None:
        super().__init__()
        self._view = memoryview(data).cast("B")
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        out = memoryview(b).cast("B")
        n = max(0, min(len(out), len(self._view) - self._pos))
        out[:n] = self._view[self._pos : self._pos + n]
        self._pos += n
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._view.release()
        super().close()


def sniff_format(data: Buffer) -> str | None:
    """Return the Pillow format name of ``data`` from its magic bytes, or None if refused."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data.startswith(b"BM"):
        return "BMP"
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if data[4:8] == b"ftyp" and bytes(data[8:12]) in _HEIF_BRANDS:  # bytearray: unhashable
        return "HEIF"
    return None


def _register_heif() -> None:
    """Register pillow-heif's opener once, without thumbnails, depth or aux images."""
    global _heif_registered
    with _heif_lock:
        if _heif_registered:
            return
        try:
            import pillow_heif

            pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
        except Exception as exc:  # an import or registration failure of the optional codec
            raise UnsupportedImage("HEIC/HEIF support is not available here") from exc
        _heif_registered = True


def _check_geometry(width: int, height: int, n_bytes: int, limits: DecodeLimits) -> None:
    if width <= 0 or height <= 0:
        raise CorruptImage(f"the image header gives an impossible size {width}x{height}")
    pixels = width * height
    if pixels > limits.max_pixels:
        raise ImageTooLarge(
            f"the image has {width}x{height} = {pixels} pixels, the limit is {limits.max_pixels}"
        )
    if pixels > MAX_EXACT_PIXELS and pixels > BOMB_PIXELS_PER_BYTE * n_bytes:
        raise ImageTooLarge(
            f"the image claims {width}x{height} pixels in {n_bytes} bytes: a decompression bomb"
        )
    if min(width, height) < MIN_SIDE:
        raise UnsupportedImage(
            f"the image is {width}x{height}; the shorter side must be at least {MIN_SIDE} px"
        )
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise UnsupportedImage(
            f"the image is {width}x{height}; aspect ratios beyond 1:{MAX_ASPECT} are refused"
        )


def _draft_scale(width: int, height: int) -> int:
    for scale in (8, 4, 2):
        if min(width, height) // scale >= JPEG_DRAFT_MIN_SIDE:
            return scale
    return 1


def _orientation(img: Image.Image, *, decoded: bool = True) -> int:
    """The EXIF orientation, 1 when missing, unreadable or out of range.

    ``decoded=False`` reads only what ``Image.open`` collected: Pillow's own PNG
    ``getexif`` would decode the image to look for chunks after the pixels.
    """
    try:
        exif = img.getexif() if decoded else Image.Image.getexif(img)
        value = exif.get(0x0112, 1)
    except Exception:  # absurd EXIF must not stop hashing: treat it as no rotation
        return 1
    return value if isinstance(value, int) and value in _ORIENTATION else 1


def _orient(
    rgb: Image.Image, orientation: int, width: int, height: int
) -> tuple[Image.Image, int, int]:
    """Undo the EXIF ``orientation``; the image and its oriented width and height."""
    if orientation == 1:
        return rgb, width, height
    rgb = rgb.transpose(_ORIENTATION[orientation])
    return (rgb, height, width) if orientation >= 5 else (rgb, width, height)


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any decoded mode to 8-bit RGB, alpha composited over white."""
    mode = img.mode
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(img).astype(np.float64)
        if mode == "I" and arr.max(initial=0) <= 255 and arr.min(initial=0) >= 0:
            grey = arr.astype(np.uint8)
        else:
            grey = np.clip(np.rint(arr / 257.0), 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if mode == "F":
        grey = np.clip(np.rint(np.nan_to_num(np.asarray(img))), 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if has_alpha:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode == "RGB":
        return img
    try:
        return img.convert("RGB")
    except ValueError as exc:  # modes Pillow cannot convert (e.g. some LAB or HSV files)
        raise UnsupportedImage(f"images in the {mode} pixel mode are not supported") from exc


def _box_reduce(img: Image.Image, max_pixels: int) -> tuple[Image.Image, int]:
    pixels = img.width * img.height
    if pixels <= max_pixels:
        return img, 1
    k = math.ceil(math.sqrt(pixels / max_pixels))
    while math.ceil(img.width / k) * math.ceil(img.height / k) > max_pixels:
        k += 1
    return img.reduce(k), k


_PNG_NOT_PLAIN = {b"tRNS", b"acTL", b"fcTL", b"eXIf"}
_PNG_TEXT = {b"tEXt", b"zTXt", b"iTXt"}


def _plain_png(data: Buffer) -> bool:
    """True for an 8-bit RGB PNG whose pixels are all Pillow would use: no transparency,
    no animation, no EXIF chunk, no text chunk after the pixels (Pillow reads EXIF
    and XMP orientation from text chunks too; those before the pixels it has read at
    open). Reads the chunk headers only; a truncated walk is not plain."""
    if len(data) < 29 or data[12:16] != b"IHDR" or data[24:26] != b"\x08\x02":
        return False  # bit depth 8, colour type 2 (RGB)
    pos, seen_pixels = 8, False
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        if kind in _PNG_NOT_PLAIN or (seen_pixels and kind in _PNG_TEXT):
            return False
        if kind == b"IEND":
            return seen_pixels
        seen_pixels = seen_pixels or kind == b"IDAT"
        pos += 12 + length
    return False


def _png_pixels(data: Buffer, width: int, height: int) -> np.ndarray | None:
    """The pixels of a plain PNG through libpng, or None."""
    if not _plain_png(data):
        return None
    try:
        pixels = imagecodecs.png_decode(data)
    except Exception:  # libpng refused it: Pillow decides (and explains) instead
        return None
    if pixels.dtype != np.uint8 or pixels.shape != (height, width, 3):
        return None
    return pixels


def _open(data: Buffer, fmt: str, limits: DecodeLimits) -> Decoded:
    if fmt == "HEIF":
        _register_heif()
    with _BufferReader(data) as fp, Image.open(cast(IO[bytes], fp), formats=[fmt]) as img:
        width, height = img.size
        _check_geometry(width, height, len(data), limits)
        name = "JPEG" if img.format in ("JPEG", "MPO") else (img.format or fmt)
        plain = name == "PNG" and width * height <= MAX_EXACT_PIXELS
        pixels = _png_pixels(data, width, height) if plain else None
        if pixels is not None:
            # no chunk after the pixels (_plain_png): open() has read any EXIF or XMP
            orientation = _orientation(img, decoded=False)
            rgb, width, height = _orient(Image.fromarray(pixels), orientation, width, height)
            array = pixels if orientation == 1 else None  # a turn leaves it stale
            return Decoded(image=rgb, format=name, width=width, height=height, scale=1, array=array)
        scale = 1
        if name == "JPEG":
            want = _draft_scale(width, height)
            if want > 1:
                img.draft("RGB", (width // want, height // want))
                scale = max(1, round(width / img.size[0]))
        img.load()  # the first frame only: nothing ever seeks further
        orientation = _orientation(img)
        rgb = _to_rgb(img)
        if rgb is img:
            rgb = img.copy()
    rgb, width, height = _orient(rgb, orientation, width, height)
    if name != "JPEG":
        rgb, scale = _box_reduce(rgb, MAX_EXACT_PIXELS)
    return Decoded(image=rgb, format=name, width=width, height=height, scale=scale)


def decode(data: Buffer, limits: DecodeLimits | None = None) -> Decoded:
    """Decode image bytes held in memory into oriented 8-bit RGB pixels for hashing.

    Returns:
        The decoded image (see :class:`Decoded` and the pipeline in the module docstring).

    Raises:
        CorruptImage: empty, truncated or undecodable data.
        UnsupportedImage: not an allowed format, a shorter side under 16 px, an aspect
            ratio beyond 1:50, or a pixel mode that cannot be converted.
        ImageTooLarge: over ``limits.max_bytes`` bytes or ``limits.max_pixels`` pixels,
            including decompression bombs.
    """
    limits = limits or DecodeLimits()
    if not data:
        raise CorruptImage("the file is empty")
    if len(data) > limits.max_bytes:
        raise ImageTooLarge(f"the file has {len(data)} bytes, the limit is {limits.max_bytes}")
    fmt = sniff_format(data)
    if fmt is None:
        raise UnsupportedImage(
            "not a supported image: expected JPEG, PNG, WebP, GIF, BMP, TIFF or HEIC/HEIF"
        )
    try:
        with warnings.catch_warnings():
            # Pillow warns about large images, odd EXIF or truncated metadata; we decide
            # ourselves what is refused, and a warning must never escape as an error.
            warnings.simplefilter("ignore")
            return _open(data, fmt, limits)
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"the image is too large to decode safely: {exc}") from exc
    except MemoryError as exc:
        raise ImageTooLarge("the image needs more memory than is available") from exc
    except UnidentifiedImageError as exc:
        raise CorruptImage(f"the {fmt} data cannot be read") from exc
    except Exception as exc:  # any decoder failure: OSError, ValueError, SyntaxError, ...
        raise CorruptImage(
            f"the {fmt} data is corrupt or truncated ({type(exc).__name__})"
        ) from exc
