"""Extra PDQ hashes of edited versions of an image, so that edited re-uploads still match.

Two sides meet in the bank: a **report** stores ``pdq_stored`` (what an uploader may cut
the image down to), a **check** compares ``pdq_variants`` (the upload undone in every
way we can guess) with it, at PDQ distance <= 31. Besides ``pdq`` itself (Meta's PDQ of
the decoded image, first on both sides), every hash is a *window* hash
(``_windows``): PDQ's DCT of the 64x64 area averages of a rectangle of the image.

Report side (``stored_variants``):

* the whole image, and its 7 flips and quarter turns (so a check needs none);
* the photo inside uniform borders, bars or frames (``_trim.content_box``);
* the *eroded* whole image (``_windows.eroded``): the luma's minimum over a square ~6 %
  of the shorter side wide, which wipes out white text laid over the photo, so that a
  copy under a tiled watermark, eroded alike by the check, matches it;
* centred crops keeping 92 % down to 64 % of each side, the centred 1:1, 4:5 and 5:4
  crops apps make, and a 3 x 3 grid of 96 % windows (small crops anywhere);
* *frame windows*: the photo as a video shows it, its centred 16:9 and 9:16 windows,
  whole and keeping 93 % and 86 % (a camera zooming in), so that a reported photo filmed
  or shown inside a video matches there (``hashes.hash_video``'s check variants);
* *edge windows*: along each side, the full length of that side and 60 % of it deep.
  A crop that cuts only the opposite side (the commonest crop) keeps the window whole;
* *pair windows* (``_windows.pair_windows``) between the 8 strongest corners: windows
  placed and turned by the content, found again in a crop wherever it was made, or in
  a photo turned by a few degrees and cut to its inner rectangle.

Check side (``check_variants``), at most :attr:`VariantPlan.max_check` hashes: the whole
image, the trimmed photo, a photo turned by a few degrees turned back
(``_trim.rotated_photo``; its corners are gone, so it is cut to the largest stored
centred crop it still covers), the eroded whole image, the 4 edge windows, then pair
windows between its 6 strongest corners. The check looks for those corners as if the
upload were a crop keeping 85 % of each side (detector at 0.85 x the report's size,
maxima spaced as the report spaced them): a crop sampled to the detector's fixed size is
magnified, so at the report's own settings it finds corners the report never ranked
(random 75 % windows: 0.59 -> 0.78 of them matched; it is also cheaper). It looks twice,
as a crop keeping 85 % and one keeping 75 % (``check_scales``), and takes the pair
windows of both in turn: a 75 % window or a photo turned and cut to its inner rectangle
is that much smaller again, and the corners found at 0.75 are often the original's where
those at 0.85 are not (issue 23: off-centre 75 % windows 0.88 -> 0.95, cut-in turns 0.86
-> 0.91 on the tuned families). The slot this takes was a 96 % centred crop, which no
copy matched by itself alone (every copy it matched, another variant did).

Parts of the photo (crops, edge and pair windows) under PDQ quality 40 (flat sky, blank
walls) are dropped on both sides: such blocks hash alike across unrelated photos. The
whole photo is always kept (the service refuses reports of plain images anyway).

A :class:`VariantPlan` lists the variants of each side; :data:`DENSITIES` names the
plans, ``"default"`` chosen with ``benchmarks/accuracy.py``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from hashes._pdq import block_hash, block_quality
from hashes._trim import content_box, rotated_photo
from hashes._windows import Plane, eroded, keypoints, pair_windows

__all__ = [
    "DENSITIES",
    "DIHEDRAL",
    "WORK_MAX_SIDE",
    "VariantPlan",
    "Work",
    "check_parts",
    "check_variants",
    "light_variants",
    "quality_floor",
    "scored_check_variants",
    "stored_parts",
    "stored_variants",
    "work_pixels",
]

WORK_MAX_SIDE = 512

DIHEDRAL = {
    "identity": lambda a: a,
    "rotate90": lambda a: np.rot90(a, 1),
    "rotate180": lambda a: np.rot90(a, 2),
    "rotate270": lambda a: np.rot90(a, 3),
    "flip_x": lambda a: a[:, ::-1],
    "flip_y": lambda a: a[::-1],
    "transpose": lambda a: a.transpose(1, 0, *range(2, a.ndim)),
    "transverse": lambda a: np.rot90(a, 2).transpose(1, 0, *range(2, a.ndim)),
}
"""The 8 symmetries of the rectangle, for ``(h, w, ...)`` arrays (pixels or blocks)."""

_STORED_TURNS = tuple(t for t in DIHEDRAL if t != "identity")

Window = tuple[float, float, float, float]
"""``(top, bottom, left, right)`` in working pixels, fractional."""


@dataclass(frozen=True)
class VariantPlan:
    """Which variants each side hashes (see the module docstring).

    ``windows``: False leaves ``pdq`` alone on both sides. ``dihedral``: report side,
    the flips and quarter turns (``turns``: which of them, keys of :data:`DIHEDRAL`).
    ``trim``: both sides. ``derotate``: check side.
    ``centre_keeps``, ``aspects``, ``grid_keep`` x ``grid_steps``: report side crops.
    ``edge_depth``: both sides, the edge windows' depth (0: none).
    ``stored_keypoints`` / ``check_keypoints``: corners paired into windows on each side.
    ``check_scales``: the check finds its corners as in a crop keeping each of these
    shares of each side (``_windows.keypoints``) and takes the pair windows of each in
    turn. ``max_check`` / ``max_stored``: most hashes per check / per report (the last
    pair windows give way).
    ``min_quality``: windows of lower PDQ quality are dropped.
    ``check_min_quality``: check side, derived windows (all but ``pdq``) of lower PDQ
    quality are dropped *after* the check has chosen its hashes, their slots left empty
    (0: none dropped): a floor that removes plain graphics' windows, whose hashes meet
    by chance, without adding any hash the check would not send at a lower floor.
    ``frame_aspects`` x ``frame_keeps``: report side, a photo shown in a video: the
    largest centred window of each video frame aspect (16:9, 9:16) the photo does not
    have, whole and centred crops of it keeping these shares (a camera's slow zoom).
    ``band_keep``: both sides, *band windows*: the full width and the top, then the
    bottom, ``band_keep`` of the height (0: none), kept whatever their quality (they are
    most of the frame). A caption band or a corner watermark under ``1 - band_keep`` of
    the height leaves one of them untouched, and both sides cut the same window, so no
    detection is needed. ``check_aspects``: check side, the largest centred window of
    each of these width/height ratios, when the image's own ratio differs by over 20 %
    (a landscape video letterboxed in a portrait frame, found even where its dark
    content runs into the bars and trimming stops short).
    ``erode_share``: both sides, the *eroded* whole image: its luma's minimum over a
    square about ``erode_share`` of the shorter side wide (``_windows.eroded``), which
    wipes out white text laid over the photo (a tiled watermark) on the copy and leaves
    the original's hash alike (0: none). Dropped under ``min_quality``.
    """

    windows: bool = True
    dihedral: bool = True
    turns: tuple[str, ...] = _STORED_TURNS
    trim: bool = True
    derotate: bool = True
    centre_keeps: tuple[float, ...] = ()
    aspects: tuple[float, ...] = ()
    grid_keep: float = 0.0
    grid_steps: int = 0
    edge_depth: float = 0.0
    stored_keypoints: int = 0
    check_keypoints: int = 0
    check_scales: tuple[float, ...] = (1.0,)
    max_check: int = 12
    max_stored: int = 48
    min_quality: int = 40
    band_keep: float = 0.0
    check_aspects: tuple[float, ...] = ()
    frame_aspects: tuple[float, ...] = ()
    frame_keeps: tuple[float, ...] = ()
    check_min_quality: int = 0
    erode_share: float = 0.0


_DEFAULT = VariantPlan(
    centre_keeps=(0.92, 0.84, 0.77, 0.70, 0.64),
    aspects=(1.0, 0.8, 1.25),
    frame_aspects=(16 / 9, 9 / 16),
    frame_keeps=(1.0, 0.93, 0.86),
    grid_keep=0.96,
    grid_steps=3,
    edge_depth=0.6,
    stored_keypoints=8,
    check_keypoints=6,
    check_scales=(0.85, 0.75),
    erode_share=0.06,
)

DENSITIES: dict[str, VariantPlan] = {
    "none": VariantPlan(windows=False, dihedral=False, trim=False, derotate=False),
    "light": VariantPlan(centre_keeps=(0.84, 0.70)),
    "default": _DEFAULT,
    "dense": replace(
        _DEFAULT,
        centre_keeps=(0.94, 0.88, 0.84, 0.80, 0.76, 0.72, 0.68, 0.64, 0.60),
        grid_steps=5,
        stored_keypoints=10,
        check_keypoints=7,
        max_check=16,
        max_stored=64,
    ),
}
"""Named plans, from ``pdq`` alone to many windows (more recall, more hashes)."""


class Work:
    """The working pixels variants are hashed from, with what is derived from them once."""

    def __init__(self, pixels: np.ndarray) -> None:
        self.pixels = pixels
        self._keypoints: dict[tuple[int, float], list[tuple[float, float]]] = {}
        self._eroded: dict[float, Plane] = {}

    @functools.cached_property
    def plane(self) -> Plane:
        """Luma and summed-area table of the working pixels."""
        return Plane(self.pixels)

    def eroded(self, share: float) -> Plane:
        """The plane of the working luma eroded at ``share`` (``_windows.eroded``)."""
        found = self._eroded.get(share)
        if found is None:
            found = self._eroded[share] = Plane.of_luma(eroded(self.plane.luma, share))
        return found

    @functools.cached_property
    def box(self) -> Window | None:
        """The photo inside uniform surroundings, or None when there is nothing to trim."""
        box = content_box(self.pixels)
        if box is None:
            return None
        top, bottom, left, right = box
        return float(top), float(bottom), float(left), float(right)

    def keypoints(self, n: int, scale: float = 1.0) -> list[tuple[float, float]]:
        """The ``n`` strongest corners (``_windows.keypoints``), found once per ``n`` and
        ``scale``. Kept on the instance, so they go with it (``functools.cache`` here kept
        every image's ``Work`` alive for good)."""
        found = self._keypoints.get((n, scale))
        if found is None:
            found = self._keypoints[(n, scale)] = keypoints(self.plane, n, scale)
        return found


def work_pixels(image: Image.Image) -> Work:
    """Box-reduce ``image`` by an integer factor to at most :data:`WORK_MAX_SIDE` px.

    Returns:
        The working pixels, ``(h, w, 3)`` uint8 (the image's own when small enough).
    """
    k = math.ceil(max(image.size) / WORK_MAX_SIDE)
    return Work(np.asarray(image.reduce(k) if k > 1 else image))


def _centred(h: float, w: float, keep: float) -> Window:
    return h * (1 - keep) / 2, h * (1 + keep) / 2, w * (1 - keep) / 2, w * (1 + keep) / 2


def _aspect(h: float, w: float, aspect: float) -> Window | None:
    """The largest centred window of ``w / h == aspect``; None when the image has it."""
    if abs(w / h - aspect) <= 0.03 * aspect:
        return None
    if w / h > aspect:
        cw = h * aspect
        return 0.0, h, (w - cw) / 2, (w + cw) / 2
    ch = w / aspect
    return (h - ch) / 2, (h + ch) / 2, 0.0, w


def _zoomed(b: Window, keep: float) -> Window:
    """The centred part of window ``b`` keeping ``keep`` of each side."""
    top, bottom, left, right = b
    dy, dx = (bottom - top) * (1 - keep) / 2, (right - left) * (1 - keep) / 2
    return top + dy, bottom - dy, left + dx, right - dx


def _grid(h: float, w: float, keep: float, steps: int) -> list[Window]:
    """``steps x steps`` windows keeping ``keep`` of each side, corners included."""
    out = []
    for i in range(steps):
        for j in range(steps):
            fy, fx = i / (steps - 1), j / (steps - 1)
            top, left = h * (1 - keep) * fy, w * (1 - keep) * fx
            out.append((top, top + h * keep, left, left + w * keep))
    return out


def _edges(h: float, w: float, depth: float) -> list[Window]:
    """Windows along each side: its full length, ``depth`` times that length deep."""
    out: list[Window] = []
    d = depth * h
    if d <= 0.98 * w:
        out += [(0.0, h, 0.0, d), (0.0, h, w - d, w)]
    d = depth * w
    if d <= 0.98 * h:
        out += [(0.0, d, 0.0, w), (h - d, h, 0.0, w)]
    return out


def _bands(h: float, w: float, keep: float) -> list[Window]:
    """The full-width windows keeping the top, then the bottom, ``keep`` of the height."""
    return [(0.0, h * keep, 0.0, w), (h * (1 - keep), h, 0.0, w)] if keep else []


def _check_aspects(h: float, w: float, aspects: Iterable[float]) -> list[Window]:
    """Centred windows of ``aspects`` (w / h) where the image's ratio is far from them."""
    out = []
    for a in aspects:
        if max(w / h, a) / min(w / h, a) > 1.2 and (b := _aspect(h, w, a)) is not None:
            out.append(b)
    return out


def _hash(block: np.ndarray, plan: VariantPlan) -> str | None:
    """The hash of a part of the image, None when the part is too plain to tell apart."""
    return block_hash(block) if block_quality(block) >= plan.min_quality else None


def _pairs(work: Work, n: int, plan: VariantPlan) -> list[str | None]:
    """Hashes of the pair windows between the ``n`` strongest corners."""
    plane = work.plane
    windows = pair_windows(work.keypoints(n), plane.height, plane.width)
    return [_hash(plane.rotated(cy, cx, r, r, theta), plan) for cy, cx, r, theta in windows]


def _eroded(work: Work, plan: VariantPlan) -> tuple[str, int] | None:
    """The hash and quality of the eroded whole image, None when the plan has none or
    it is under ``plan.min_quality``."""
    if not plan.erode_share:
        return None
    plane = work.eroded(plan.erode_share)
    return _scored(plane.box(0, plane.height, 0, plane.width), plan.min_quality)


def _unique(hashes: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(h for h in hashes if h is not None))


def _unique_parts(parts: Iterable[tuple[str, str | None]]) -> list[tuple[str, str]]:
    """``(kind, hash)`` pairs without missing hashes or repeats (the first kind stays)."""
    out: dict[str, str] = {}
    for kind, value in parts:
        if value is not None and value not in out:
            out[value] = kind
    return [(kind, value) for value, kind in out.items()]


def check_variants(pdq: str, work: Work, plan: VariantPlan) -> tuple[str, ...]:
    """The PDQ hashes a check compares with the bank, ``pdq`` first, without repeats.

    Args:
        pdq: the image's own PDQ (hashed at full hashing size).
        work: the working pixels from :func:`work_pixels`.
        plan: which variants to hash.

    Returns:
        At most ``plan.max_check`` hashes: :func:`scored_check_variants` less the
        derived windows under ``plan.check_min_quality`` (:func:`quality_floor`).
    """
    return tuple(value for _, value in check_parts(pdq, work, plan))


def check_parts(pdq: str, work: Work, plan: VariantPlan) -> tuple[tuple[str, str], ...]:
    """:func:`check_variants` with the kind of each hash (``"pdq"``, ``"whole"``,
    ``"trim"``, ``"derotate"``, ``"eroded"``, ``"edge"``, ``"band"``, ``"aspect"``,
    ``"pair@0.85"``:
    a pair window from the corners found at that scale), for benchmarks that count what
    each kind matches (``benchmarks/variant_kinds.py``)."""
    chosen = _check_choice(pdq, work, plan)
    kept = set(quality_floor(((h, q) for _, h, q in chosen), plan.check_min_quality))
    return tuple((kind, h) for kind, h, _ in chosen if h in kept)


def quality_floor(scored: Iterable[tuple[str, int | None]], floor: int) -> tuple[str, ...]:
    """The hashes of ``scored`` whose quality is at least ``floor`` (``None``: ``pdq``
    itself, always kept). What is dropped leaves its slot empty: no later window takes
    it, so the result is a subset of the hashes at any lower floor."""
    return tuple(h for h, q in scored if q is None or q >= floor)


def _scored(block: np.ndarray, floor: int) -> tuple[str, int] | None:
    """A block's hash and PDQ quality, None under ``floor``."""
    quality = block_quality(block)
    return (block_hash(block), quality) if quality >= floor else None


def scored_check_variants(
    pdq: str, work: Work, plan: VariantPlan
) -> tuple[tuple[str, int | None], ...]:
    """The hashes a check chooses before ``plan.check_min_quality`` applies, each with
    its window's PDQ quality (``None`` for ``pdq``), at most ``plan.max_check``."""
    return tuple((h, q) for _, h, q in _check_choice(pdq, work, plan))


def _check_choice(pdq: str, work: Work, plan: VariantPlan) -> list[tuple[str, str, int | None]]:
    """``(kind, hash, quality)`` of the hashes a check chooses, before the floor."""
    if not plan.windows:
        return [("pdq", pdq, None)]
    plane = work.plane
    h, w = float(plane.height), float(plane.width)
    out: list[tuple[str, tuple[str, int | None] | None]] = [
        ("pdq", (pdq, None)),
        ("whole", _scored(plane.box(0, h, 0, w), 0)),
    ]
    if plan.trim and work.box is not None:
        out.append(("trim", _scored(plane.box(*work.box), 0)))
    if plan.derotate:
        out.append(("derotate", _derotated(work, plan)))
    if plan.erode_share:
        out.append(("eroded", _eroded(work, plan)))
    if plan.edge_depth:
        out += [
            ("edge", _scored(plane.box(*b), plan.min_quality))
            for b in _edges(h, w, plan.edge_depth)
        ]
    out += [("band", _scored(plane.box(*b), 0)) for b in _bands(h, w, plan.band_keep)]
    out += [("aspect", _scored(plane.box(*b), 0)) for b in _check_aspects(h, w, plan.check_aspects)]
    chosen: dict[str, tuple[str, int | None]] = {}  # hash -> (kind, quality), in order
    for kind, found in out:
        if found is not None and found[0] not in chosen:
            chosen[found[0]] = (kind, found[1])
    for scale, (cy, cx, r, theta) in _check_pairs(work, plan):
        if len(chosen) >= plan.max_check:
            break
        pair = _scored(plane.rotated(cy, cx, r, r, theta), plan.min_quality)
        if pair is not None and pair[0] not in chosen:
            chosen[pair[0]] = (f"pair@{scale:g}", pair[1])
    return [(kind, value, q) for value, (kind, q) in chosen.items()][: plan.max_check]


def light_variants(pdq: str, work: Work, plan: VariantPlan) -> tuple[str, ...]:
    """``pdq``, the trimmed photo and the band windows: the few hashes a check adds for
    a video frame between its samples (``hashes._video.HALF_STEP_HASHES``)."""
    plane = work.plane
    h, w = float(plane.height), float(plane.width)
    out: list[str | None] = [pdq]
    if plan.trim and work.box is not None:
        out.append(block_hash(plane.box(*work.box)))
    out += [block_hash(plane.box(*b)) for b in _bands(h, w, plan.band_keep)]
    return _unique(out)


def _check_pairs(
    work: Work, plan: VariantPlan
) -> Iterable[tuple[float, tuple[float, float, float, float]]]:
    """The check's pair windows, each with the scale its corners were found at: the
    first of each scale's, then the second of each..."""
    plane = work.plane
    lists = [
        pair_windows(work.keypoints(plan.check_keypoints, scale), plane.height, plane.width)
        for scale in plan.check_scales
    ]
    for k in range(max((len(found) for found in lists), default=0)):
        yield from (
            (scale, found[k])
            for scale, found in zip(plan.check_scales, lists, strict=True)
            if k < len(found)
        )


def _derotated(work: Work, plan: VariantPlan) -> tuple[str, int] | None:
    """The hash and quality of a turned photo turned back, or None when the image is
    not one."""
    turn = rotated_photo(work.plane.luma)
    if turn is None:
        return None
    plane = work.plane
    cy, cx = plane.height / 2, plane.width / 2
    if turn.expanded:  # the whole photo is there
        return _scored(plane.rotated(cy, cx, turn.height / 2, turn.width / 2, turn.theta), 0)
    # Same canvas: the corners are cut. Hash the largest stored centred crop that the
    # turned photo still covers whole.
    c, s = abs(math.cos(turn.theta)), abs(math.sin(turn.theta))
    covered = min(1 / (c + s * turn.height / turn.width), 1 / (c + s * turn.width / turn.height))
    keep = max((k for k in plan.centre_keeps if k <= 0.995 * covered), default=None)
    if keep is None:
        return None
    half_h, half_w = keep * turn.height / 2, keep * turn.width / 2
    return _scored(plane.rotated(cy, cx, half_h, half_w, turn.theta), plan.min_quality)


def stored_variants(pdq: str, work: Work, plan: VariantPlan) -> tuple[str, ...]:
    """The PDQ hashes a report puts in the bank, ``pdq`` first, without repeats."""
    return tuple(value for _, value in stored_parts(pdq, work, plan))


def stored_parts(pdq: str, work: Work, plan: VariantPlan) -> tuple[tuple[str, str], ...]:
    """:func:`stored_variants` with the kind of each hash (``"pdq"``, ``"whole"``,
    ``"turn"``, ``"trim"``, ``"eroded"``, ``"centre"``, ``"aspect"``, ``"frame"``, ``"grid"``,
    ``"edge"``, ``"band"``, ``"pair"``), for benchmarks (see :func:`check_parts`)."""
    if not plan.windows:
        return (("pdq", pdq),)
    plane = work.plane
    h, w = float(plane.height), float(plane.width)
    whole = plane.box(0, h, 0, w)
    out: list[tuple[str, str | None]] = [("pdq", pdq), ("whole", block_hash(whole))]
    if plan.dihedral:
        out += [("turn", block_hash(np.ascontiguousarray(DIHEDRAL[t](whole)))) for t in plan.turns]
    if plan.trim and work.box is not None:
        out.append(("trim", block_hash(plane.box(*work.box))))
    if plan.erode_share and (found := _eroded(work, plan)) is not None:
        out.append(("eroded", found[0]))
    windows = [("centre", _centred(h, w, k)) for k in plan.centre_keeps]
    windows += [("aspect", b) for a in plan.aspects if (b := _aspect(h, w, a)) is not None]
    windows += [
        ("frame", _zoomed(b, k))
        for a in plan.frame_aspects
        if (b := _aspect(h, w, a)) is not None
        for k in plan.frame_keeps
    ]
    if plan.grid_steps > 1:
        windows += [("grid", b) for b in _grid(h, w, plan.grid_keep, plan.grid_steps)]
    if plan.edge_depth:
        windows += [("edge", b) for b in _edges(h, w, plan.edge_depth)]
    # Windows of at least 90 % of each side are the photo nearly whole: kept as it is.
    out += [
        (
            kind,
            block_hash(block)
            if (b[1] - b[0]) >= 0.9 * h and (b[3] - b[2]) >= 0.9 * w
            else _hash(block, plan),
        )
        for kind, b in windows
        if (block := plane.box(*b)) is not None
    ]
    out += [("band", block_hash(plane.box(*b))) for b in _bands(h, w, plan.band_keep)]
    out += [("pair", value) for value in _pairs(work, plan.stored_keypoints, plan)]
    return tuple(_unique_parts(out)[: plan.max_stored])
