"""Recall of edited copies vs false matches between different photos, side by side.

Usage: .venv/bin/python benchmarks/accuracy.py [--quick] [--density NAME] [--write]

Each real photo (see ``_photos.py``) is edited the way re-uploaders do; every copy is
encoded to bytes and hashed from those bytes, as the service would. Compared methods:

* ``pdqhash``: Pillow full decode + ``pdqhash.compute``, one hash per image;
* ``pHash``: imagehash's 64-bit pHash on the same decode;
* ``dct-dihedral``: plain PDQ plus ``pdqhash.compute_dihedral`` of the copy (DCT-domain
  flips/rotations, not hashes of flipped pixels), for comparison;
* ``hashbank``: min distance between ``pdq_stored`` of the original and
  ``pdq_variants`` of the copy (what a report then a check does in the service).

Impostor pairs are every original against every copy of every *other* photo. Recall
is given at PDQ distance <= 31 (the service's default; pHash: <= 8, the same share of
its 64 bits) and at the largest distance where no impostor pair matches yet.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import imagehash
import numpy as np
import pdqhash
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hashes
from benchmarks._photos import Photo, photos
from benchmarks._report import write_section

PDQ_THRESHOLD = 31
NOTES = """
How hashbank gets there (`hashes/_variants.py`, `hashes/_windows.py`, `hashes/_trim.py`):

* Every hash besides `pdq` is a *window hash*: PDQ's DCT and median threshold applied to
  the 64x64 **area averages** of a rectangle of the image, read from one summed-area
  table (0.1-0.25 ms each). Plain PDQ samples images under 128 px without a low-pass filter,
  which is why it loses small photos to resize, blur, noise and JPEG q30 (brick,
  microaneurysms 102 px, the 256 px reference photos); area averages do not alias, and
  those rows go to 1.00 with the whole-image window alone.
* Flips and quarter turns: the report stores the 7 flips/turns of the whole-image block
  (exact: area averages commute with them), so a check spends none of its 12 hashes.
* Borders, letterbox, caption bands, screenshots: the photo inside flat surroundings
  (`content_box`) on both sides, as before.
* Turned photos (black corners on the same canvas, or a larger canvas of any flat
  colour): the check fits the fill's depth along the four borders to find the angle
  (~0.2 degrees) and hashes the photo turned back, cut to the largest stored centred
  crop it still covers. Misses: photos whose own corners are as dark as the fill.
* Crops: centred crops (92-64 %) and the 1:1 / 4:5 / 5:4 crops apps make; a 3x3 grid of
  96 % windows for small crops anywhere; *edge windows* (each side's full length, 60 %
  deep, on both sides) which a crop of the opposite side leaves whole, so one-side crops
  of any amount match; and *pair windows*: squares between two of the strongest corners
  (a Harris-type detector at 256 px), turned along the line joining them, stored for
  the 8 strongest corners of the original and checked for the 6 strongest of the copy.
  They follow the content through crops anywhere, resizes and small turns, which is
  what takes 20 % crops, 75 % windows and turned-then-cropped photos from 0 to most.
  The check finds the copy's corners as if it were a crop keeping 85 % of each side
  (detector at 0.85 x 256 px, maxima 8 % / 0.85 apart): a crop sampled to the fixed
  256 px is magnified, and at the report's own settings its strongest corners are ones
  the report never ranked. That took random 75 % windows 0.59 -> 0.78, inner-cut
  turns 0.74 -> 0.78, 20 % crops 0.74 -> 0.85 (random amounts 0.894 -> 0.931, even
  photos 0.908 -> 0.939, odd 0.879 -> 0.923), and costs less (a smaller grid). Its
  price: retina (a disc on black, matched by pair windows alone) loses its uncropped
  edits (crop 5 %, rotate 5 / 15, resize+JPEG+crop 3 %, one black-cornered turn).
* What is left: random 75 % windows (the copy keeps 56 % of the photo and with it only
  a few of the original's strongest corners) and turned photos cut to their inner
  rectangle (no fill to measure the angle from; pair windows catch ~4/5 of each).
  Texture photos (gravel, grass, brick) and tiny ones (102 px) are most of the misses.
* No different photos match: the closest unrelated pair stays 74 bits apart (plain PDQ:
  94), far from 31. Window hashes of plain parts (PDQ quality < 40: sky, walls) are
  never stored or checked, since such blocks hash alike across unrelated photos.
* Memory per reported image: up to 48 PDQ hashes plus pHash, MD5 and SHA-256 (51
  signals; 45 PDQ on average here). Each process's index holds ~90 B per PDQ hash and
  ~150-200 B of resident memory with its signal table (see "Service start-up" below),
  so **~4.3 KB of index and ~7-10 KB of RSS per reported image per process**: 100,000
  reported images are ~4.5M PDQ hashes, ~0.7-0.9 GB per process. A check searches its
  <= 12 hashes in one call (~0.4 ms at 1M hashes, see the index section). The density
  is a setting (`HASHBANK_PDQ_VARIANTS`): `light` stores ~10 hashes and keeps the mild
  edits, `none` stores `pdq` alone. The reporting page computes the same stored set in
  the browser (`app/portal/static/windows.js`, bit-exact with Python on lossless
  inputs); for JPEGs, which browsers decode their own way, each stored hash is within
  PDQ's usual few bits of the server's.
"""
PHASH_THRESHOLD = 8

Edit = Callable[[Image.Image, np.random.Generator], bytes]


def _jpeg(img: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _resize(img: Image.Image, f: float) -> Image.Image:
    return img.resize(
        (max(16, round(img.width * f)), max(16, round(img.height * f))), Image.Resampling.LANCZOS
    )


def _crop(img: Image.Image, cut: float, rng: np.random.Generator) -> Image.Image:
    """Cut ``cut`` of the width and of the height, split at random between the sides."""
    dw, dh = img.width * cut, img.height * cut
    fx, fy = rng.uniform(0, 1, 2)
    left, top = round(dw * fx), round(dh * fy)
    return img.crop((left, top, left + round(img.width - dw), top + round(img.height - dh)))


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, size))


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in rng.integers(0, 256, 3))
    return r, g, b


def _border(img: Image.Image, rng: np.random.Generator) -> bytes:
    pad = round(0.08 * max(img.size))
    return _jpeg(ImageOps.expand(img, border=pad, fill=_colour(rng)))


def _letterbox(img: Image.Image, rng: np.random.Generator) -> bytes:
    w, h = img.size
    size = (w, round(w * 16 / 9)) if w >= h else (round(h * 16 / 9), h)
    canvas = Image.new("RGB", size, (0, 0, 0))
    canvas.paste(img, ((size[0] - w) // 2, (size[1] - h) // 2))
    return _jpeg(canvas)


def _screenshot(img: Image.Image, rng: np.random.Generator) -> bytes:
    """A phone screenshot of a post: status bar, user line, photo, caption, buttons."""
    w, h = img.size
    cw, ch = round(w * 1.1), round(h * 1.7)
    canvas = Image.new("RGB", (cw, ch), (250, 250, 250))
    draw = ImageDraw.Draw(canvas)
    bar = round(0.05 * ch)
    draw.rectangle((0, 0, cw, bar), fill=(20, 20, 20))
    draw.text((10, bar // 5), "12:41      4G  87%", fill=(255, 255, 255), font=_font(bar // 2))
    draw.ellipse((10, bar + 10, 10 + bar, 2 * bar + 10), fill=(120, 160, 220))
    draw.text((bar + 20, bar + 15), "some_account · 2h", fill=(30, 30, 30), font=_font(bar // 2))
    top = 2 * bar + 30
    canvas.paste(img, ((cw - w) // 2, top))
    y = top + h + 15
    for line in ("♥ 1,024 likes", "look who i found lol #nsfw", "View all 87 comments"):
        draw.text((10, y), line, fill=(40, 40, 40), font=_font(bar // 2))
        y += round(bar * 0.8)
    return _jpeg(canvas, 85)


def _caption(img: Image.Image, rng: np.random.Generator) -> bytes:
    w, h = img.size
    band = round(0.18 * h)
    canvas = Image.new("RGB", (w, h + band), (255, 255, 255))
    canvas.paste(img, (0, band))
    draw = ImageDraw.Draw(canvas)
    draw.text((w // 20, band // 4), "when she sends the pic", fill=(0, 0, 0), font=_font(band // 3))
    return _jpeg(canvas)


def _watermark(img: Image.Image, rng: np.random.Generator) -> bytes:
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    size = max(10, img.height // 12)
    draw.text(
        (img.width // 3, img.height * 3 // 4),
        "@leaks_daily",
        fill=(255, 255, 255, 150),
        font=_font(size),
    )
    return _jpeg(Image.alpha_composite(img.convert("RGBA"), layer))


def _noise(img: Image.Image, rng: np.random.Generator) -> bytes:
    arr = np.asarray(img).astype(np.float32) + rng.normal(0, 10, (img.height, img.width, 3))
    return _jpeg(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)))


def _rotate(deg: float) -> Edit:
    return lambda img, rng: _jpeg(img.rotate(deg, resample=Image.Resampling.BICUBIC, expand=False))


def _webp(img: Image.Image, rng: np.random.Generator) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "WEBP", quality=75)
    return buf.getvalue()


def _stretch(img: Image.Image, rng: np.random.Generator) -> bytes:
    return _jpeg(img.resize((round(img.width * 1.3), img.height), Image.Resampling.LANCZOS))


def _centre_crop(img: Image.Image, rng: np.random.Generator) -> bytes:
    """The centred square crop apps make (4:5 portrait when the photo is square already)."""
    w, h = img.size
    if abs(w - h) <= 0.05 * max(w, h):
        cw = round(h * 0.8)
        return _jpeg(img.crop(((w - cw) // 2, 0, (w - cw) // 2 + cw, h)))
    s = min(w, h)
    return _jpeg(img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)))


def _centre_70(img: Image.Image, rng: np.random.Generator) -> bytes:
    w, h = img.size
    cw, ch = round(w * 0.7), round(h * 0.7)
    return _jpeg(img.crop(((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch)))


def _combo(img: Image.Image, rng: np.random.Generator) -> bytes:
    return _jpeg(_crop(_resize(img, 0.6), 0.03, rng), 75)


# Random amounts (issue 9): every copy draws its own amount, so no stored grid can be
# tuned to the benchmark's values.


def _side_crop(img: Image.Image, rng: np.random.Generator) -> bytes:
    """Cut 5-30 % off one side, chosen at random."""
    cut = rng.uniform(0.05, 0.30)
    w, h = img.size
    side = int(rng.integers(4))
    box = [
        (round(w * cut), 0, w, h),
        (0, 0, w - round(w * cut), h),
        (0, round(h * cut), w, h),
        (0, 0, w, h - round(h * cut)),
    ][side]
    return _jpeg(img.crop(box))


def _centre_keep(img: Image.Image, rng: np.random.Generator) -> bytes:
    """Keep a centred 60-95 % of each side."""
    keep = rng.uniform(0.60, 0.95)
    w, h = img.size
    cw, ch = round(w * keep), round(h * keep)
    left, top = (w - cw) // 2, (h - ch) // 2
    return _jpeg(img.crop((left, top, left + cw, top + ch)))


def _window(img: Image.Image, rng: np.random.Generator) -> bytes:
    """A 75 % window (of each side) anywhere in the photo."""
    return _jpeg(_crop(img, 0.25, rng))


def _angle(rng: np.random.Generator) -> float:
    return float(rng.uniform(2, 20) * rng.choice([-1, 1]))


def _rotate_black(img: Image.Image, rng: np.random.Generator) -> bytes:
    """Rotated 2-20 degrees either way on the same canvas, corners black."""
    return _jpeg(img.rotate(_angle(rng), resample=Image.Resampling.BICUBIC))


def _inner_rect(w: int, h: int, deg: float) -> tuple[int, int, int, int]:
    """The largest centred rectangle of aspect w:h inside a w x h image rotated by deg."""
    a = abs(np.radians(deg))
    # a centred k*w x k*h box fits inside the rotated rectangle when its corners do
    c, s = np.cos(a), np.sin(a)
    k = min(1.0, 1 / (c + s * h / w), 1 / (c + s * w / h))
    cw, ch = int(w * k), int(h * k)
    return (w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch


def _rotate_inner(img: Image.Image, rng: np.random.Generator) -> bytes:
    """Rotated 2-20 degrees, cropped to the inner rectangle (no corners left)."""
    deg = _angle(rng)
    return _jpeg(
        img.rotate(deg, resample=Image.Resampling.BICUBIC).crop(_inner_rect(*img.size, deg))
    )


def _rotate_white(img: Image.Image, rng: np.random.Generator) -> bytes:
    """Rotated 2-20 degrees on a white canvas expanded to hold it all."""
    return _jpeg(
        img.rotate(
            _angle(rng), resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255)
        )
    )


def _caption_bottom(img: Image.Image, rng: np.random.Generator) -> bytes:
    """A meme caption band of 10-25 % of the height under the photo, black or white."""
    w, h = img.size
    band = round(rng.uniform(0.10, 0.25) * h)
    light = bool(rng.integers(2))
    canvas = Image.new("RGB", (w, h + band), (255, 255, 255) if light else (0, 0, 0))
    canvas.paste(img, (0, 0))
    ImageDraw.Draw(canvas).text(
        (w // 20, h + band // 4),
        "nobody: / me at 3am",
        fill=(0, 0, 0) if light else (255, 255, 255),
        font=_font(band // 3),
    )
    return _jpeg(canvas)


@dataclass(frozen=True)
class Transform:
    name: str
    # "mild", "hard", "random" (issue 9's random amounts) or "extra" (the held-out set's
    # other edits, not in issue 2's goal)
    group: str
    edit: Edit


TRANSFORMS = [
    Transform("resize 50%", "mild", lambda i, r: _jpeg(_resize(i, 0.5))),
    Transform("resize 25%", "mild", lambda i, r: _jpeg(_resize(i, 0.25))),
    Transform("JPEG q70", "mild", lambda i, r: _jpeg(i, 70)),
    Transform("JPEG q30", "mild", lambda i, r: _jpeg(i, 30)),
    Transform("WebP q75", "mild", _webp),
    Transform("grayscale", "mild", lambda i, r: _jpeg(ImageOps.grayscale(i))),
    Transform(
        "brightness +20%", "mild", lambda i, r: _jpeg(ImageEnhance.Brightness(i).enhance(1.2))
    ),
    Transform(
        "brightness -20%", "mild", lambda i, r: _jpeg(ImageEnhance.Brightness(i).enhance(0.8))
    ),
    Transform(
        "blur",
        "mild",
        lambda i, r: _jpeg(i.filter(ImageFilter.GaussianBlur(max(1.0, min(i.size) / 250)))),
    ),
    Transform("noise sigma 10", "mild", _noise),
    Transform("crop 5%", "mild", lambda i, r: _jpeg(_crop(i, 0.05, r))),
    Transform("border 8%", "mild", _border),
    Transform("letterbox 16:9", "mild", _letterbox),
    Transform("flip", "mild", lambda i, r: _jpeg(ImageOps.mirror(i))),
    Transform("rotate 90", "mild", lambda i, r: _jpeg(i.transpose(Image.Transpose.ROTATE_90))),
    Transform("rotate 180", "mild", lambda i, r: _jpeg(i.transpose(Image.Transpose.ROTATE_180))),
    Transform("rotate 270", "mild", lambda i, r: _jpeg(i.transpose(Image.Transpose.ROTATE_270))),
    Transform("crop 20%", "hard", lambda i, r: _jpeg(_crop(i, 0.20, r))),
    Transform("centre crop 1:1 or 4:5", "hard", _centre_crop),
    Transform("rotate 5", "hard", _rotate(5)),
    Transform("rotate 15", "hard", _rotate(15)),
    Transform("centre crop 70%", "hard", _centre_70),
    Transform("caption band", "hard", _caption),
    Transform("screenshot", "hard", _screenshot),
    Transform("stretch 130%", "hard", _stretch),
    Transform("contrast +30%", "extra", lambda i, r: _jpeg(ImageEnhance.Contrast(i).enhance(1.3))),
    Transform("contrast -30%", "extra", lambda i, r: _jpeg(ImageEnhance.Contrast(i).enhance(0.7))),
    Transform("watermark", "hard", _watermark),
    Transform("resize+JPEG+crop 3%", "hard", _combo),
    Transform("side crop 5-30%", "random", _side_crop),
    Transform("centre crop 60-95%", "random", _centre_keep),
    Transform("75% window", "random", _window),
    Transform("rotate 2-20 black", "random", _rotate_black),
    Transform("rotate 2-20 inner", "random", _rotate_inner),
    Transform("rotate 2-20 white", "random", _rotate_white),
    Transform("caption bottom", "random", _caption_bottom),
]
QUICK = {
    *("resize 25%", "JPEG q30", "crop 5%", "letterbox 16:9", "flip", "rotate 90", "crop 20%"),
    *("rotate 15", "screenshot", "side crop 5-30%", "75% window", "rotate 2-20 inner"),
}


def _bits(hexes: list[str]) -> np.ndarray:
    return np.unpackbits(np.frombuffer(bytes.fromhex("".join(hexes)), np.uint8)).reshape(
        len(hexes), -1
    )


def _min_distance(a: np.ndarray, b: np.ndarray) -> int:
    """Min Hamming distance between any row of ``a`` and any of ``b`` (bit arrays)."""
    return int((a[:, None, :] != b[None, :, :]).sum(axis=2).min())


def _plain_decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as img:
        return ImageOps.exif_transpose(img).convert("RGB")


def _hex(bits: np.ndarray) -> str:
    return np.packbits(np.asarray(bits, np.uint8)).tobytes().hex()


@dataclass
class Signals:
    """Everything each method keeps of one image (original or copy), as bit arrays."""

    plain: np.ndarray
    dct_dihedral: np.ndarray
    phash: np.ndarray
    stored: np.ndarray  # only for originals (a report); empty for copies
    variants: np.ndarray
    plain_seconds: float  # CPU: Pillow full decode + one pdqhash.compute
    check_seconds: float  # CPU: the whole hash_bytes (what a check costs)
    stored_seconds: float  # CPU: pdq_stored on top of it (what a report adds)


def signals(data: bytes, density: str, *, original: bool) -> Signals:
    start = time.process_time()
    img = _plain_decode(data)
    px = np.asarray(img)
    plain = _hex(pdqhash.compute(px)[0])
    plain_seconds = time.process_time() - start
    dih, _ = pdqhash.compute_dihedral(px)
    start = time.process_time()
    h = hashes.hash_bytes(data, density=density)
    check_seconds = time.process_time() - start
    stored: list[str] = []
    if original:
        start = time.process_time()
        stored = list(h.pdq_stored)
    stored_seconds = time.process_time() - start if original else 0.0
    return Signals(
        plain=_bits([plain]),
        dct_dihedral=_bits([_hex(b) for b in dih]),
        phash=_bits([str(imagehash.phash(img))]),
        stored=_bits(stored) if stored else np.zeros((0, 256), np.uint8),
        variants=_bits(list(h.pdq_variants)),
        plain_seconds=plain_seconds,
        check_seconds=check_seconds,
        stored_seconds=stored_seconds,
    )


METHODS: dict[str, tuple[Callable[[Signals], np.ndarray], Callable[[Signals], np.ndarray], int]] = {
    # name: (original's hashes, copy's hashes, threshold)
    "pdqhash": (lambda s: s.plain, lambda s: s.plain, PDQ_THRESHOLD),
    "pHash": (lambda s: s.phash, lambda s: s.phash, PHASH_THRESHOLD),
    "dct-dihedral": (lambda s: s.plain, lambda s: s.dct_dihedral, PDQ_THRESHOLD),
    "hashbank": (lambda s: s.stored, lambda s: s.variants, PDQ_THRESHOLD),
}
GROUPS = ("mild", "hard", "random", "extra")


@dataclass(frozen=True)
class MethodResult:
    genuine: np.ndarray  # (photos, transforms) min distance original -> copy
    impostor_min: int  # min distance between an original and any copy of another photo
    impostor_pair: str  # which photos and edit that was
    threshold: int


@dataclass(frozen=True)
class Run:
    methods: dict[str, MethodResult]
    originals: list[Signals]
    copies: list[list[Signals]]
    names: list[str]


def run(ps: list[Photo], transforms: list[Transform], density: str) -> Run:
    rng = np.random.default_rng(20240601)
    originals = [signals(p.data, density, original=True) for p in ps]
    copies = [
        [signals(t.edit(p.image, rng), density, original=False) for t in transforms] for p in ps
    ]
    result: dict[str, MethodResult] = {}
    for name, (orig_of, copy_of, threshold) in METHODS.items():
        genuine = np.array(
            [
                [
                    _min_distance(orig_of(originals[i]), copy_of(copies[i][k]))
                    for k in range(len(transforms))
                ]
                for i in range(len(ps))
            ]
        )
        impostor, pair = 10**9, ""
        for i in range(len(ps)):
            for j in range(len(ps)):
                if i == j:
                    continue
                for label, c in (
                    ("original", originals[j]),
                    *zip((t.name for t in transforms), copies[j], strict=True),
                ):
                    d = _min_distance(orig_of(originals[i]), copy_of(c))
                    if d < impostor:
                        impostor, pair = d, f"{ps[i].name} vs {ps[j].name} ({label})"
        result[name] = MethodResult(genuine, impostor, pair, threshold)
    return Run(result, originals, copies, [p.name for p in ps])


def _recall(d: np.ndarray, threshold: int) -> float:
    return float((d <= threshold).mean()) if d.size else float("nan")


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f}"


def report(r: Run, transforms: list[Transform], density: str, seconds: float) -> str:
    names = list(METHODS)
    n_photos = len(r.names)
    result = r.methods
    lines = [
        "## Accuracy",
        "",
        f"`benchmarks/accuracy.py` (density `{density}`): {n_photos} real photos "
        f"(scikit-image's bundled photos and Meta's PDQ reference photos), "
        f"{len(transforms)} edits each (the `random` group draws its amounts per copy), every "
        "copy encoded and hashed from its bytes; "
        f"{n_photos * (n_photos - 1) * (len(transforms) + 1)} impostor pairs "
        "(each original against every copy of every other photo). "
        f"Recall at PDQ <= {PDQ_THRESHOLD} (pHash <= {PHASH_THRESHOLD}); *hashbank* is the min "
        "distance between `pdq_stored` of the original (a report) and `pdq_variants` of the "
        f"copy (a check). Run took {seconds:.0f} s.",
        "",
        "| edit | group | " + " | ".join(names) + " |",
        "|---|---|" + "---:|" * len(names),
    ]
    for k, t in enumerate(transforms):
        cells = [f"{_recall(result[n].genuine[:, k], result[n].threshold):.2f}" for n in names]
        lines.append(f"| {t.name} | {t.group} | " + " | ".join(cells) + " |")
    halves = (slice(0, None, 2), slice(1, None, 2))
    for group in GROUPS:
        cols = [k for k, t in enumerate(transforms) if t.group == group]
        if not cols:
            continue
        cells = [
            f"**{_recall(result[n].genuine[:, cols], result[n].threshold):.3f}**" for n in names
        ]
        lines.append(f"| **all {group}** | | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| method | threshold | impostor matches | closest unrelated pair (bits) "
        "| recall mild / hard / random just below it |",
        "|---|---:|---:|---|---|",
    ]
    for n in names:
        m = result[n]
        below = m.impostor_min - 1
        parts = []
        for group in GROUPS[:3]:
            cols = [k for k, t in enumerate(transforms) if t.group == group]
            if cols:
                parts.append(f"{_recall(m.genuine[:, cols], below):.3f}")
        lines.append(
            f"| {n} | <= {m.threshold} | {'none' if m.impostor_min > m.threshold else 'YES'} | "
            f"{m.impostor_min}: {m.impostor_pair} | " + " / ".join(parts) + f" (at <= {below}) |"
        )
    bank = result["hashbank"]
    split = []
    for half, label in zip(halves, ("even", "odd"), strict=True):
        parts = []
        for group in GROUPS[:3]:
            cols = [k for k, t in enumerate(transforms) if t.group == group]
            parts.append(f"{_recall(bank.genuine[half][:, cols], PDQ_THRESHOLD):.3f}")
        split.append(f"{label} photos {' / '.join(parts)}")
    stored = [len(s.stored) for s in r.originals]
    checks = [len(c.variants) for cs in r.copies for c in cs] + [
        len(s.variants) for s in r.originals
    ]
    lines += [
        "",
        "hashbank's cost, same run (CPU time, one core; medians over the originals):",
        "",
        "| stored hashes per reported image (mean / max) | hashes per check (mean / max) "
        "| plain decode + pdqhash ms | check: `hash_bytes` ms | report: `pdq_stored` extra ms |",
        "|---:|---:|---:|---:|---:|",
        f"| {statistics.mean(stored):.1f} / {max(stored)} "
        f"| {statistics.mean(checks):.1f} / {max(checks)} "
        f"| {_ms([s.plain_seconds for s in r.originals])} "
        f"| {_ms([s.check_seconds for s in r.originals])} "
        f"| {_ms([s.stored_seconds for s in r.originals])} |",
        "",
        "hashbank recall mild / hard / random on each half of the photos (a check that the "
        f"plan is not tuned to a few of them): {'; '.join(split)}.",
    ]
    return "\n".join(lines) + "\n" + NOTES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 photos, 12 edits")
    parser.add_argument("--density", default="default", help="variant plan (hashes._variants)")
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args()
    ps = photos(10 if args.quick else None)
    transforms = [t for t in TRANSFORMS if not args.quick or t.name in QUICK]
    start = time.perf_counter()
    result = run(ps, transforms, args.density)
    text = report(result, transforms, args.density, time.perf_counter() - start)
    print(text)
    if args.write:
        write_section("accuracy", text)


if __name__ == "__main__":
    main()
