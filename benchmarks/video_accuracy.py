"""Video matching accuracy at vPDQ's defaults: plain vPDQ vs vPDQ with frame variants.

Usage: .venv/bin/python benchmarks/video_accuracy.py [--quick] [--real] [--write]

Clips are made from real photos (benchmarks/_photos.py) with camera motion: each shot
pans and zooms over one photo, shots are joined by hard cuts (benchmarks/_clips.py).
Edits are applied to the rendered frames before encoding (so a "low bitrate" copy is
one encode at 200 kb/s, not a second generation).

Defaults: frames of quality < 50 ignored, a frame matches at PDQ <= 31, a video matches
when >= 80 % of the query's frames match. *Plain*: ``hashes.match_percentages`` on the
two plain vPDQ lists. *Variants*: ``hashes.match_with_variants`` with the report's
stored frame variants (``hash_video(variants="stored")``) and the check's
(``variants="check"``).

Also: >= 50 unrelated clips (other photos) against every original (no match allowed);
stills (JPEG q85 at 60 % size) of frames at random times, matched against their video's
stored frames and variants (the answer names a frame time); a reported photo shown for
3 s inside another video (>= 2 sampled seconds must match the photo's stored hashes).
"""

from __future__ import annotations

import argparse
import io
import itertools
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hashes
from benchmarks._clips import Shot, _render, encode, frames_of, shots_from
from benchmarks._photos import photos
from benchmarks._report import write_section

W, H, FPS = 960, 540, 30
MATCH = 80.0
VARIANT_MATCH = hashes.variant_match_percent(MATCH)


def _resize(rgb: np.ndarray, w: int, h: int) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).resize((w, h), Image.Resampling.BILINEAR))


def _crop10(rgb: np.ndarray, t: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    dy, dx = int(h * 0.05), int(w * 0.05)
    return _resize(rgb[dy : h - dy, dx : w - dx], w, h)


def _letterbox(rgb: np.ndarray, t: float) -> np.ndarray:
    """A landscape video reposted in a portrait 9:16 frame, black bars above and below."""
    h, w = rgb.shape[:2]
    cw, ch = 540, 960
    small = _resize(rgb, cw, cw * h // w)
    canvas = np.zeros((ch, cw, 3), np.uint8)
    top = (ch - small.shape[0]) // 2
    canvas[top : top + small.shape[0]] = small
    return canvas


def _screen(rgb: np.ndarray, t: float) -> np.ndarray:
    """A screen recording: the video at 70 % inside a player page (grey, bars, text)."""
    h, w = rgb.shape[:2]
    canvas = Image.new("RGB", (w, h), (236, 236, 240))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, w, int(h * 0.08)), fill=(40, 44, 52))
    for i in range(6):
        y = int(h * (0.2 + 0.1 * i))
        draw.rectangle((int(w * 0.8), y, int(w * 0.97), y + int(h * 0.05)), fill=(200, 200, 210))
    inner = Image.fromarray(_resize(rgb, int(w * 0.7), int(h * 0.7)))
    canvas.paste(inner, (int(w * 0.05), int(h * 0.15)))
    draw.text((int(w * 0.05), int(h * 0.88)), "Trending now - 1.2M views", fill=(20, 20, 20))
    return np.asarray(canvas)


def _caption(rgb: np.ndarray, t: float) -> np.ndarray:
    out = rgb.copy()
    h, w = out.shape[:2]
    out[int(h * 0.85) :] = 0
    img = Image.fromarray(out)
    text = "caption: look at this " * 2
    ImageDraw.Draw(img).text((int(w * 0.1), int(h * 0.9)), text, fill=(255, 255, 255))
    return np.asarray(img)


def _watermark(rgb: np.ndarray, t: float) -> np.ndarray:
    img = Image.fromarray(rgb).convert("RGBA")
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    w, h = img.size
    draw = ImageDraw.Draw(layer)
    box = (int(w * 0.72), int(h * 0.86), int(w * 0.97), int(h * 0.96))
    draw.rectangle(box, fill=(255, 255, 255, 110))
    draw.text((int(w * 0.74), int(h * 0.89)), "@reposter  tiktok", fill=(0, 0, 0, 200))
    return np.asarray(Image.alpha_composite(img, layer).convert("RGB"))


def _mirror(rgb: np.ndarray, t: float) -> np.ndarray:
    return np.ascontiguousarray(rgb[:, ::-1])


@dataclass(frozen=True)
class Edit:
    name: str
    edit: Callable[[np.ndarray, float], np.ndarray] | None = None
    size: tuple[int, int] = (W, H)
    fps: int = FPS
    codec: str = "h264"
    bitrate: int | None = None
    trim: str | None = None


EDITS = (
    Edit("low bitrate (200 kb/s)", bitrate=200_000),
    Edit("other codec (VP9)", codec="vp9"),
    Edit("480p", size=(854, 480)),
    Edit("15 fps", fps=15),
    Edit("trimmed 20 % at the start", trim="start"),
    Edit("trimmed 20 % at the end", trim="end"),
    Edit("cropped 10 %", _crop10),
    Edit("letterboxed (portrait 9:16 frame)", _letterbox),
    Edit("inside a larger canvas (screen recording)", _screen),
    Edit("caption band", _caption),
    Edit("watermark", _watermark),
    Edit("mirrored", _mirror),
)


def _make(shots: list[Shot], e: Edit) -> bytes:
    frames: Iterator[np.ndarray] = frames_of(shots, e.size[0], e.size[1], e.fps, e.edit)
    total = sum(round(s.seconds * e.fps) for s in shots)
    if e.trim == "start":
        frames = itertools.islice(frames, total // 5, None)
    elif e.trim == "end":
        frames = itertools.islice(frames, total - total // 5)
    return encode(frames, e.fps, codec=e.codec, bitrate=e.bitrate)


def _real_frames(path: Path) -> tuple[list[np.ndarray], int]:
    """Every frame of a real clip (RGB, even sizes) and its rate, in memory."""
    import av

    with av.open(str(path)) as f:
        stream = f.streams.video[0]
        fps = round(float(stream.average_rate or 25))
        frames = [fr.to_ndarray(format="rgb24") for fr in f.decode(stream)]
    return frames, fps


def _make_real(frames: list[np.ndarray], fps: int, e: Edit) -> bytes:
    """An edit of a real clip: the same edits at the clip's own size; "480p" is a copy
    at 2/3 of the size, "15 fps" every other frame."""
    h, w = frames[0].shape[:2]
    out: list[np.ndarray] = frames
    if e.trim == "start":
        out = out[len(out) // 5 :]
    elif e.trim == "end":
        out = out[: len(out) - len(out) // 5]
    rate: Any = fps
    if e.fps != FPS:
        out, rate = out[::2], Fraction(fps, 2)  # half the rate, the same duration
    if e.size != (W, H):
        out = [_resize(f, (w * 2 // 3) & ~1, (h * 2 // 3) & ~1) for f in out]
    if e.edit is not None:
        out = [e.edit(f, i / fps) for i, f in enumerate(out)]
    return encode(out, rate, codec=e.codec, bitrate=e.bitrate)


def _real(unrelated: list[hashes.VideoHashes]) -> str:
    """The edits on the real clips of ``benchmarks/clip_set.py``; each clip against the
    other clips and ``unrelated`` (no match allowed)."""
    from benchmarks import clip_set

    listed = {c.sha256[:16]: c for c in clip_set.entries()}
    clips = [p for p in clip_set.load(kind=None)]
    rows, hits, total, names = [], 0, 0, []
    stored_all: list[tuple[str, hashes.VideoHashes]] = []
    for path in clips:
        c = listed[path.stem]
        name = f"{Path(c.file).name} ({c.kind}, {c.seconds:.0f} s, {c.width} x {c.height})"
        frames, fps = _real_frames(path)
        s = hashes.hash_video(path, variants="stored")
        stored_all.append((c.package + "/" + Path(c.file).name, s))
        cells = []
        for e in EDITS:
            q = hashes.hash_video(_make_real(frames, fps, e), variants="check")
            p, b = _matches(q, s)
            ok = b >= VARIANT_MATCH
            hits += ok
            total += 1
            cells.append(f"{'yes' if ok else '**no**'} ({p:.0f} / {b:.0f} %)")
        del frames
        names.append(name)
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
        print(rows[-1], flush=True)
    header = "| clip | " + " | ".join(e.name for e in EDITS) + " |"
    sep = "|---" * (len(EDITS) + 1) + "|"
    false = pairs = 0
    worst = 0.0
    for i, (a_name, a) in enumerate(stored_all):
        others = [
            v
            for j, (n, v) in enumerate(stored_all)
            if j != i and n.split("_")[0] != a_name.split("_")[0]
        ]  # carphone_distorted is carphone_pristine
        for q in [*others, *unrelated]:
            _, b = _matches(q, a)
            pairs += 1
            false += b >= VARIANT_MATCH
            worst = max(worst, b)
    return f"""
**Real clips** (`benchmarks/clip_set.py`: {len(clips)} clips from registry packages,
reported from their own file; each edit made from the decoded frames; cells: matched at
the rule, then plain / with variants query-match %): **{hits}/{total}
({100 * hits / max(1, total):.0f} %)**. Note that the set is small and short (see the
clip list); "480p" here is a copy at 2/3 of the clip's size.

{header}
{sep}
{chr(10).join(rows)}

Each real clip against the other real clips (the two carphone clips are one footage)
and the {len(unrelated)} generated unrelated clips: {false} false matches in {pairs}
pairs at {VARIANT_MATCH:.0f} % (highest query-match share with variants: {worst:.0f} %).
"""


def _matches(q: hashes.VideoHashes, s: hashes.VideoHashes) -> tuple[float, float]:
    plain = hashes.match_percentages(q.frames, s.frames).query_percent
    both = hashes.match_with_variants(
        q.frames, s.frames, query_variants=q.frame_variants, stored_variants=s.frame_variants
    ).query_percent
    return plain, both


def _bits(values: list[str]) -> np.ndarray:
    return np.frombuffer(bytes.fromhex("".join(values)), np.uint8).reshape(-1, 32)


def _distances(a: list[str], b: list[str]) -> np.ndarray:
    x, y = _bits(a), _bits(b)
    return np.unpackbits(x[:, None, :] ^ y[None, :, :], axis=2).sum(axis=2)


def _jpeg(rgb: np.ndarray, scale: float = 0.6) -> bytes:
    img = Image.fromarray(rgb)
    img = img.resize((int(img.width * scale), int(img.height * scale)), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 originals, 20 unrelated clips")
    parser.add_argument("--originals", type=int, default=6, help="original clips")
    parser.add_argument("--unrelated", type=int, default=54, help="unrelated clips (>= 50)")
    parser.add_argument("--photos", type=int, default=24, help="photos shown inside a video")
    parser.add_argument("--skip-edits", action="store_true", help="only the other measures")
    parser.add_argument(
        "--real",
        action="store_true",
        help="instead: the edits on the real clips of benchmarks/clip_set.py, and the real "
        "clips against each other and the unrelated clips (section video-accuracy-real)",
    )
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    started = time.perf_counter()
    rng = random.Random(7)
    pool = [p.image.convert("RGB") for p in photos()]
    order = list(range(len(pool)))
    rng.shuffle(order)
    a_photos = [pool[i] for i in order[:15]]
    b_photos = [pool[i] for i in order[15:]]
    n_orig = 3 if args.quick else args.originals
    n_unrelated = 20 if args.quick else args.unrelated
    if args.real:
        unrelated = []
        for k in range(n_unrelated):
            shots = shots_from(rng.sample(b_photos, 2), 3.0, seed=100 + k)
            data = encode(frames_of(shots, 640, 360, FPS), FPS)
            unrelated.append(hashes.hash_video(data, variants="check"))
        body = _real(unrelated) + f"\nRun time {time.perf_counter() - started:.0f} s.\n"
        print(body)
        if args.write:
            write_section("video-accuracy-real", body)
        return
    originals = [
        shots_from([a_photos[(3 * i + j) % len(a_photos)] for j in range(3)], 4.0, seed=i)
        for i in range(n_orig)
    ]
    stored = []
    for shots in originals:
        data = encode(frames_of(shots, W, H, FPS), FPS)
        stored.append(hashes.hash_video(data, variants="stored"))
    print(f"{n_orig} originals hashed ({time.perf_counter() - started:.0f} s)", flush=True)

    # edits
    recall: dict[str, tuple[int, int, int]] = {}
    for e in () if args.skip_edits else EDITS:
        plain = both = rule = 0
        shares = []
        for shots, s in zip(originals, stored, strict=True):
            q = hashes.hash_video(_make(shots, e), variants="check")
            p, b = _matches(q, s)
            plain += p >= MATCH
            both += b >= MATCH
            rule += b >= VARIANT_MATCH
            shares.append(f"{b:.0f}")
        recall[e.name] = (plain, both, rule)
        print(
            f"{e.name}: plain {plain}/{n_orig}, variants {both}/{n_orig} at {MATCH:.0f} %, "
            f"{rule}/{n_orig} at {VARIANT_MATCH:.0f} % (shares {' '.join(shares)})",
            flush=True,
        )

    # unrelated clips: no match allowed
    false_plain = false_both = false_rule = 0
    worst = 0.0
    for k in range(n_unrelated):
        picks = rng.sample(b_photos, 2)
        shots = shots_from(picks, 3.0, seed=100 + k)  # 640 x 360: cheaper, as telling
        q = hashes.hash_video(encode(frames_of(shots, 640, 360, FPS), FPS), variants="check")
        for s in stored:
            p, b = _matches(q, s)
            false_plain += p >= MATCH
            false_both += b >= MATCH
            false_rule += b >= VARIANT_MATCH
            worst = max(worst, b)
    print(
        f"unrelated: {false_plain} / {false_both} / {false_rule} false matches, "
        f"worst {worst:.0f} %",
        flush=True,
    )

    # stills at random times, and what denser sampling of the report buys
    clips = [encode(frames_of(sh, W, H, FPS), FPS) for sh in originals]
    denser = {fps: [hashes.hash_video(c, fps=fps) for c in clips] for fps in (2.0, 4.0)}
    stills = represented = matched_rep = matched_all = named_ok = 0
    dense_hits = {1.0: 0, 2.0: 0, 4.0: 0}
    for idx, (shots, s) in enumerate(zip(originals, stored, strict=True)):
        targets = [f.pdq for f in s.frames] + [h for v in s.frame_variants for h in v.pdq]
        times = [f.seconds for f in s.frames] + [v.seconds for v in s.frame_variants for _ in v.pdq]
        for _ in range(12 if args.quick else 25):
            shot_i = rng.randrange(len(shots))
            u = rng.random()
            t = shot_i * 4.0 + u * (4.0 - 1 / FPS)
            rgb = _render(shots[shot_i], u, W, H)
            h = hashes.hash_bytes(_jpeg(rgb))
            stills += 1
            near = _distances([h.pdq], [f.pdq for f in s.frames]).min()
            d = _distances(list(h.pdq_variants), targets)
            hit = bool((d <= 31).any())
            matched_all += hit
            if near <= 24:
                represented += 1
                matched_rep += hit
            if hit:
                j = int(np.argmin(d.min(axis=0)))
                named_ok += abs(times[j] - t) <= 1.0 + 1e-6
            for fps, videos in ((1.0, None), (2.0, denser[2.0]), (4.0, denser[4.0])):
                frames = s.frames if videos is None else videos[idx].frames
                dense_hits[fps] += bool((_distances([h.pdq], [f.pdq for f in frames]) <= 31).any())
    print(f"stills: {matched_rep}/{represented} represented, {matched_all}/{stills} all")

    # a reported photo shown for 3 s inside another video
    shown = shown_hits = host_false = 0
    for k in range(3 if args.quick else args.photos):
        photo = pool[order[k % len(pool)]]
        report = hashes.hash_bytes(_jpeg(np.asarray(photo), 1.0))
        stored_hashes = list(report.pdq_stored)
        others = [p for p in b_photos if p is not photo]
        host = shots_from(rng.sample(others, 2), 4.0, seed=300 + k)
        insert = Shot(photo, 3.0, (0.5, 0.5, 1.0), (0.5, 0.5, 1.1))
        for with_photo in (True, False):
            shots = [host[0], insert, host[1]] if with_photo else host
            q = hashes.hash_video(encode(frames_of(shots, W, H, FPS), FPS), variants="check")
            # match_with_variants' grouping: a frame uses the variants of the last
            # distinct frame at or before it
            seconds = 0
            by_time = {v.seconds: v.pdq for v in q.frame_variants}
            last: tuple[str, ...] = ()
            for f in q.frames:
                last = by_time.get(f.seconds, last)
                if f.quality < 50:
                    continue
                mine = list(dict.fromkeys((f.pdq, *last)))
                seconds += bool((_distances(mine, stored_hashes) <= 31).any())
            if with_photo:
                shown += 1
                shown_hits += seconds >= 2
            else:
                host_false += seconds >= 2
    print(f"photo in video: {shown_hits}/{shown}, host alone {host_false}", flush=True)

    rows = "\n".join(
        f"| {name} | {p}/{n_orig} | {b}/{n_orig} | {r}/{n_orig} |"
        for name, (p, b, r) in recall.items()
    )
    total_p = sum(p for p, _, _ in recall.values())
    total_b = sum(b for _, b, _ in recall.values())
    total_r = sum(r for _, _, r in recall.values())
    n = max(1, n_orig * len(recall))
    body = f"""
## Video accuracy (`benchmarks/video_accuracy.py`)

{n_orig} original clips (960 x 540, 30 frames/s, 12 s: three shots panning and zooming
over real photos, hard cuts), each edited {len(EDITS)} ways; defaults: quality >= 50,
frame PDQ <= 31, query-match >= 80 %. Plain: vPDQ's rule on the plain frame lists;
variants: `hashes.match_with_variants` (report: `variants="stored"`, check:
`variants="check"`), at 80 % and at the rule for checks with variants
(`hashes.variant_match_percent`: {VARIANT_MATCH:.0f} %). Real clips: none could be
used (no package in Debian or PyPI we found ships sample footage with people, apart from
opencv-doc's, kept for independent evaluation).

| edit | plain vPDQ (>= 80 %) | with variants, >= 80 % | with variants, >= \
{VARIANT_MATCH:.0f} % (the rule) |
|---|---|---|---|
{rows}
| **all edits** | **{total_p}/{n} ({100 * total_p / n:.0f} %)** | **{total_b}/{n} \
({100 * total_b / n:.0f} %)** | **{total_r}/{n} ({100 * total_r / n:.0f} %)** |

Unrelated clips: {n_unrelated} clips (640 x 360, 6 s, two shots) of other photos against
each original
({n_unrelated * n_orig} pairs): {false_plain} false matches plain, {false_both} with
variants at 80 %, {false_rule} at {VARIANT_MATCH:.0f} % (highest query-match share with
variants: {worst:.0f} %).

Stills (JPEG q85 at 60 % size) of frames at random times: {matched_rep}/{represented}
({100 * matched_rep / max(1, represented):.0f} %) of the stills within PDQ 24 of a
sampled frame match their video (stored frames and variants); {matched_all}/{stills}
({100 * matched_all / stills:.0f} %) of all random stills; the named frame time is
within 1 s of the still's for {named_ok}/{max(1, matched_all)}. Plain PDQ of a random
still against the report's plain frames, by the report's sampling rate: 1/s
{dense_hits[1.0]}/{stills}, 2/s {dense_hits[2.0]}/{stills}, 4/s {dense_hits[4.0]}/{stills}
(camera motion here is steady; footage of people moving is harder: not measured, no
real clips).

A reported photo shown for 3 s (a slow zoom) between two shots of another video:
{shown_hits}/{shown} matched (>= 2 sampled seconds within PDQ 31 of the photo's stored
hashes); the host video alone: {host_false}/{shown}.

Run time {time.perf_counter() - started:.0f} s.
"""
    print(body)
    if args.write:
        write_section("video-accuracy", body)


if __name__ == "__main__":
    main()
