"""hash_video: a video file in, its MD5, SHA-256 and Meta's vPDQ out (with frame variants).

Decoding is PyAV (FFmpeg's libraries). Bytes and file-like objects are read by FFmpeg
from memory through PyAV's Python I/O: no temporary file, no spool. A path is the
user's own file, read in place.

**Sampling: Meta's vpdq rule** (``vpdq/cpp/hashing/filehasher.cpp``, 0.2.5). The frame
rate is the stream's average rate (else its base rate); every frame the decoder
outputs gets a number ``n`` from 0, in presentation order; frame ``n`` is sampled when
``n % int(rate / fps) == 0`` (at least 1); its time is ``float32(n) / float32(rate)``.
Meta hashes the frame converted to RGB at full size; so do we, with the same area
filter, up to 1080p (the hashes are Meta's bit for bit; larger frames are reduced first,
:data:`HASH_MAX_PIXELS`). The conformance test holds them within 10 bits for frames of
quality 80 or more (tests/hashes/test_vpdq_conformance.py).

**Skipped work.** Frames that are not sampled are decoded only when later samples need
them. H.264 in MP4/Matroska is read a group of pictures ahead (up to the next IDR frame,
after which no frame refers back): when the packets' times fall on whole, consecutive
frame numbers, the number of each packet is known before it is decoded, so a
non-reference packet (every slice ``nal_ref_idc == 0``) that is not a sample is not
decoded, and neither is anything after the group's last sample in decode order (a group
without a sample is not decoded at all). Elsewhere only non-reference packets away from
a sample are skipped. Skipped packets still count in the numbering (by their time), so
the samples, their times and hashes stay Meta's bit for bit. When timestamps and the
decoder's count ever disagree (variable frame rate), skipping stops for the rest of the
video.

**Refused input.** The container is recognised from its first bytes and opened with
that demuxer alone (MP4/MOV, Matroska/WebM, AVI, FLV, MPEG-TS, MPEG-PS, Ogg): FFmpeg's
playlist and concat demuxers, which open further files or URLs, are never reached.
Decoders are limited to :data:`CODECS`. Every failure is a :class:`VideoError`.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import itertools
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import IO, Any, Literal

import numpy as np
from PIL import Image

from hashes._decode import _BufferReader
from hashes._decode import wipe as wipe_buffer
from hashes._errors import CorruptVideo, UnsupportedVideo, VideoError, VideoTooLarge
from hashes._hex import hamming
from hashes._pdq import pdq_with_quality
from hashes._variants import (
    DENSITIES,
    VariantPlan,
    check_variants,
    light_variants,
    stored_variants,
    work_pixels,
)
from hashes._vpdq import QUALITY_FLOOR, VpdqFrame

__all__ = [
    "CHECK_BUDGET",
    "CODECS",
    "DISTINCT_DISTANCE",
    "HASH_MAX_PIXELS",
    "STORED_BUDGET",
    "FrameVariants",
    "VideoHashes",
    "VideoLimits",
    "hash_video",
    "sniff_video",
]

HASH_MAX_PIXELS = 1920 * 1088
"""Sampled frames are converted to RGB at full size up to 1080p, as Meta's vpdq does
(hashes equal bit for bit); larger frames are reduced by the smallest whole factor that
brings them under this (PDQ moves by some bits: an area reduction is not PDQ's filter)."""

DISTINCT_DISTANCE = 12
"""A sampled frame within this PDQ distance of the last frame given variants shares its
set (a still shot, a slow pan): consecutive near-identical frames cost one set."""

STORED_BUDGET = 4800
"""Most frame-variant hashes a reported video stores (200 distinct frames x 24)."""

CHECK_BUDGET = 4800
"""Most frame-variant hashes a checked video compares (400 distinct frames x 12)."""

VIDEO_PLAN = replace(
    DENSITIES["default"],
    turns=("flip_x",),
    centre_keeps=(0.92, 0.84, 0.77),
    aspects=(1.0, 0.5625, 0.8),
    frame_aspects=(),
    grid_steps=0,
    stored_keypoints=6,
    max_stored=24,
    band_keep=0.8,
    erode_share=0.0,
)
"""The report-side plan of a frame: mirrored, trimmed (letterbox), centred crops, the
portrait and square crops apps cut from landscape video, edge windows, band windows
(the top and bottom 80 %: a caption band or a corner watermark cut off), pair windows.
Quarter turns and the crop grid of image reports are left out (24 hashes, not 48)."""

VIDEO_CHECK_PLAN = replace(
    DENSITIES["default"],
    band_keep=VIDEO_PLAN.band_keep,
    check_aspects=(16 / 9, 9 / 16),
    erode_share=0.0,
)
"""The check-side plan of a frame: an image check's, plus the band windows the report
stores, and the centred 16:9 window of a portrait frame (a landscape video reposted
letterboxed) or 9:16 of a landscape one (pillarboxed)."""

HALF_STEP_HASHES = 4
"""A check of at most ``CHECK_BUDGET / (12 + 4)`` sampled frames (5 minutes at one a
second) also samples the frame half a sample after each one (Meta's numbering
unchanged: ``frames`` stays the vPDQ) and adds its PDQ, trimmed and band-window hashes
(``_variants.light_variants``, at most 4 new ones) to the set of the frame before it. A copy
trimmed at the start samples a moving camera up to half a second away from the
report's samples; with the half step, one of the check's two samples is within a
quarter of a second of one."""

CODECS = frozenset(
    {
        *("h264", "hevc", "vp8", "vp9", "av1", "libdav1d", "mpeg4", "mjpeg", "theora"),
        *("mpeg2video", "mpeg1video", "h263", "wmv3", "vc1"),
    }
)
"""The decoders hash_video uses; other codecs are refused (UnsupportedVideo)."""

_MAX_FRAME_RATE = 1000.0


@dataclass(frozen=True)
class VideoLimits:
    """Limits of :func:`hash_video`, checked before decoding and while decoding.

    ``max_bytes``: the file (512 MB: 10 minutes of 1080p at 6.5 Mb/s).
    ``max_seconds``: the duration (3 hours). ``max_frames``: sampled frames
    (10,800: 3 hours at one a second). ``max_pixels``: one frame's width x height (8K
    UHD, 7680 x 4320). ``max_decoded``: frames decoded in all (3 hours at 60 frames a
    second), which bounds the time a hostile stream of tiny frames can take.
    """

    max_bytes: int = 512 * 1024 * 1024
    max_seconds: float = 3 * 3600.0
    max_frames: int = 10_800
    max_pixels: int = 7680 * 4320
    max_decoded: int = 3 * 3600 * 60


@dataclass(frozen=True)
class FrameVariants:
    """The variant hashes of one distinct sampled frame; ``pdq[0]`` is its plain PDQ."""

    seconds: float
    pdq: tuple[str, ...]


@dataclass(frozen=True)
class VideoHashes:
    """What :func:`hash_video` derives from one video.

    ``frames`` is the plain vPDQ (Meta-compatible), one per sampled frame.
    ``frame_variants`` is empty unless variants were asked for; one entry per distinct
    sampled frame given variants, in time order. ``duration`` in seconds; ``width`` and
    ``height`` the coded size; ``format`` the demuxer (``mp4``, ``webm``, ...).
    """

    md5: str
    sha256: str
    duration: float
    width: int
    height: int
    format: str
    frames: tuple[VpdqFrame, ...]
    frame_variants: tuple[FrameVariants, ...] = ()


Source = bytes | bytearray | str | os.PathLike[str] | IO[bytes]

# first bytes -> FFmpeg demuxer; the only demuxers hash_video opens
_FORMATS = {"mov": "mp4", "matroska": "webm", "avi": "avi", "flv": "flv",
            "mpegts": "mpegts", "mpeg": "mpeg", "ogg": "ogg"}  # fmt: skip


def sniff_video(head: bytes | bytearray | memoryview) -> str | None:
    """The FFmpeg demuxer for a file starting with ``head`` (64 bytes are enough), or None.

    Recognises MP4/MOV/3GP (``mov``), Matroska/WebM, AVI, FLV, MPEG-TS, MPEG-PS and Ogg.
    """
    head = bytes(head[:400])
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return "mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head.startswith(b"FLV\x01"):
        return "flv"
    if len(head) >= 377 and head[0] == head[188] == 0x47:
        return "mpegts"
    if head.startswith(b"\x00\x00\x01\xba"):
        return "mpeg"
    if head.startswith(b"OggS"):
        return "ogg"
    return None


def _read_source(
    source: Source, limits: VideoLimits
) -> tuple[Any, str, str, bytearray | None, bytes]:
    """Open ``source`` for FFmpeg: (file or path, md5, sha256, buffer we own, head)."""
    if isinstance(source, bytes | bytearray):
        if len(source) > limits.max_bytes:
            raise VideoTooLarge(
                f"the video has {len(source)} bytes, the limit is {limits.max_bytes}"
            )
        md5 = hashlib.md5(source, usedforsecurity=False).hexdigest()
        sha = hashlib.sha256(source).hexdigest()
        return _BufferReader(source), md5, sha, None, bytes(source[:400])
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        md5h, shah = hashlib.md5(usedforsecurity=False), hashlib.sha256()
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > limits.max_bytes:
                raise VideoTooLarge(f"the video has {size} bytes, the limit is {limits.max_bytes}")
            head = fh.read(400)
            fh.seek(0)
            while chunk := fh.read(1 << 20):
                md5h.update(chunk)
                shah.update(chunk)
        return path, md5h.hexdigest(), shah.hexdigest(), None, head
    # a file-like object: read into memory we own (FFmpeg seeks), wiped afterwards
    buf = bytearray()
    while chunk := source.read(1 << 20):
        buf += chunk
        if len(buf) > limits.max_bytes:
            wipe_buffer(buf)
            raise VideoTooLarge(f"the video has more than {limits.max_bytes} bytes")
    md5 = hashlib.md5(buf, usedforsecurity=False).hexdigest()
    sha = hashlib.sha256(buf).hexdigest()
    return _BufferReader(buf), md5, sha, buf, bytes(buf[:400])


def _nal_kinds(data: memoryview, length_size: int) -> tuple[bool, bool]:
    """(every slice is a non-reference picture, a slice is an IDR) for an AVCC H.264 packet.

    Unparsable data answers (False, False): the packet is decoded, and no boundary is
    assumed."""
    pos, n, slices, idr = 0, len(data), 0, False
    while pos + length_size <= n:
        size = int.from_bytes(data[pos : pos + length_size], "big")
        pos += length_size
        if size <= 0 or pos + size > n:
            return False, False
        header = data[pos]
        kind = header & 0x1F
        if kind == 5:
            idr = True
        elif kind == 1:
            slices += 1 if not header & 0x60 else 1 << 20
        pos += size
    return (slices > 0 and slices < 1 << 20 and not idr), idr


@dataclass
class _Sampler:
    """Meta's numbering of output frames, with non-reference packets skipped."""

    rate: float
    mod: int
    start: int | None
    time_base: float
    skipped: list[int]
    output: int = 0
    skipping: bool = True
    half: int = 0  # also sample frames half a sample later (numbers n % mod == half)

    def wants(self, n: int) -> bool:
        off = n % self.mod
        return off == 0 or (self.half > 0 and off == self.half)

    def estimate(self, pts: int) -> float:
        assert self.start is not None
        return (pts - self.start) * self.time_base * self.rate

    def may_skip(self, pts: int | None) -> bool:
        if not self.skipping or self.start is None or pts is None or self.mod < 4:
            return False
        est = self.estimate(pts)
        off = est % self.mod
        if self.half and not 1.5 < (est - self.half) % self.mod < self.mod - 1.5:
            return False
        return 1.5 < off < self.mod - 1.5

    def steady(self, pts: list[int]) -> bool:
        """The times of a run of packets fall on whole, consecutive frame numbers."""
        est = sorted(self.estimate(p) for p in pts)
        return all(abs(e - round(e)) < 0.25 for e in est) and all(
            round(b - a) == 1 for a, b in itertools.pairwise(est)
        )

    def number(self, pts: int | None) -> int:
        """Meta's number of the next output frame (its presentation position)."""
        n = self.output
        if pts is not None:
            n += bisect.bisect_left(self.skipped, pts)
            if self.skipping and self.start is not None and abs(self.estimate(pts) - n) > 0.5:
                self.skipping = False  # timestamps and the count disagree: decode everything
        self.output += 1
        return n


def _target_size(width: int, height: int) -> tuple[int, int]:
    k = 1
    while (width // k) * (height // k) > HASH_MAX_PIXELS:
        k += 1
    return max(1, width // k), max(1, height // k)


_LOOKAHEAD = 1200
"""Most packets read ahead to find the next IDR frame (40 s at 30 frames a second)."""


def _decoded_frames(
    container: Any, stream: Any, sampler: _Sampler, limits: VideoLimits
) -> Iterator[tuple[int, Any]]:
    """(Meta's frame number, frame) for every sampled frame, in presentation order."""
    ctx = stream.codec_context
    extradata = ctx.extradata or b""
    avcc = ctx.name == "h264" and len(extradata) > 4 and extradata[0] == 1
    nal_len = (extradata[4] & 3) + 1 if avcc else 4
    counter = [0]
    if not avcc:
        for packet in container.demux(stream):
            yield from _decode(ctx, packet, sampler, limits, counter, False)
        return
    # H.264 in MP4/MKV: read a closed group of pictures (up to the next IDR frame) ahead;
    # what is decoded after its last possible sample feeds no sample: it is not decoded
    run: list[tuple[Any, bool]] = []
    for packet in container.demux(stream):
        disposable, idr = _nal_kinds(memoryview(packet), nal_len) if packet.size else (False, False)
        if packet.size == 0 or (idr and run) or len(run) >= _LOOKAHEAD:
            closed = packet.size == 0 or idr
            yield from _decode_run(ctx, run, closed, sampler, limits, counter)
            run = []
        if packet.size == 0:  # the last, empty packet flushes the decoder
            yield from _decode(ctx, packet, sampler, limits, counter, False)
        else:
            run.append((packet, disposable))
    yield from _decode_run(ctx, run, True, sampler, limits, counter)


def _decode_run(
    ctx: Any,
    run: list[tuple[Any, bool]],
    closed: bool,
    sampler: _Sampler,
    limits: VideoLimits,
    counter: list[int],
) -> Iterator[tuple[int, Any]]:
    """Decode a run of packets (decode order) that starts at an IDR frame.

    When the packets' times fall on whole, consecutive frame numbers, the number of each
    is known before decoding: a non-reference packet that is not a sample is skipped,
    and when the run ends at the next IDR frame or at the end (``closed``: nothing after
    it refers back), so is everything decoded after its last sample. Otherwise only
    non-reference packets away from a sample are skipped (:meth:`_Sampler.may_skip`).
    Skipped packets are numbered by their time (``sampler.skipped``).
    """
    if not (sampler.skipping and sampler.start is not None and run):
        for packet, disposable in run:
            yield from _decode(ctx, packet, sampler, limits, counter, disposable)
        return
    pts = [p.pts for p, _ in run]
    if any(t is None for t in pts) or not sampler.steady(pts):
        sampler.skipping = False  # irregular times: decode everything from here on
        for packet, _ in run:
            yield from _decode(ctx, packet, sampler, limits, counter, False)
        return
    sample = [sampler.wants(round(sampler.estimate(t))) for t in pts]
    last = max((i for i, s in enumerate(sample) if s), default=-1) if closed else len(run)
    for i, (packet, disposable) in enumerate(run):
        if (i > last or disposable or packet.is_disposable) and not sample[i]:
            bisect.insort(sampler.skipped, packet.pts)
            continue
        yield from _decode(ctx, packet, sampler, limits, counter, False)


def _decode(
    ctx: Any,
    packet: Any,
    sampler: _Sampler,
    limits: VideoLimits,
    counter: list[int],
    disposable: bool,
) -> Iterator[tuple[int, Any]]:
    """Decode one packet, unless it is ``disposable`` (non-reference) and not near a sample."""
    if (
        packet.size
        and packet.pts is not None
        and (disposable or packet.is_disposable)
        and sampler.may_skip(packet.pts)
    ):
        bisect.insort(sampler.skipped, packet.pts)
        return
    for frame in ctx.decode(packet):
        counter[0] += 1
        if counter[0] > limits.max_decoded:
            raise VideoTooLarge(f"the video has more than {limits.max_decoded} frames")
        n = sampler.number(frame.pts)
        if sampler.wants(n):
            yield n, frame


def _open(file: Any, head: bytes) -> Any:
    import av

    demuxer = sniff_video(head)
    if demuxer is None:
        raise UnsupportedVideo(
            "not a video format hashbank reads (MP4/MOV, WebM/Matroska, AVI, FLV, MPEG-TS/PS, Ogg)"
        )
    try:
        return av.open(
            file, "r", format=demuxer, options={"enable_drefs": "0"}, metadata_errors="replace"
        )
    except (av.FFmpegError, ValueError, OverflowError, MemoryError) as exc:
        raise CorruptVideo(f"the video cannot be opened ({exc.__class__.__name__})") from exc


def _rgb(frame: Any, width: int, height: int) -> np.ndarray:
    """The frame as ``(height, width, 3)`` RGB, with Meta's filter (area)."""
    rgb = frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA")
    pixels: np.ndarray = rgb.to_ndarray()
    return pixels


def _frame_hash(frame: Any, width: int, height: int) -> tuple[str, int, np.ndarray]:
    pixels = _rgb(frame, width, height)
    pdq, quality = pdq_with_quality(pixels)
    return pdq, quality, pixels


def _budgeted(items: list[FrameVariants], per_frame: int) -> list[FrameVariants]:
    return [FrameVariants(v.seconds, v.pdq[:per_frame]) for v in items]


def hash_video(
    source: Source,
    *,
    fps: float = 1.0,
    limits: VideoLimits | None = None,
    variants: Literal["none", "check", "stored"] = "none",
    progress: Callable[[float], None] | None = None,
) -> VideoHashes:
    """Hash a video: whole-file MD5 and SHA-256, and vPDQ at ``fps`` frames a second.

    Args:
        source: the video's bytes, a binary file object (read into memory) or a path.
        fps: frames sampled a second (Meta's ``1 / seconds_per_hash``).
        limits: :class:`VideoLimits` (defaults when None).
        variants: ``"stored"``: a report's frame variants (mirrored, trimmed, crops,
            windows) per distinct sampled frame of quality 50 or more, at most
            :data:`STORED_BUDGET` hashes;
            ``"check"``: a check's (trimmed, de-rotated, windows), at most
            :data:`CHECK_BUDGET`; ``"none"``: no variants.
        progress: called with the share of the video done (0.0 to 1.0).

    Returns:
        The :class:`VideoHashes`; ``frames`` as Meta's ``vpdq`` computes them.

    Raises:
        VideoTooLarge: over a limit of ``limits`` (the message names it).
        UnsupportedVideo: not a container or codec hashbank reads, or no video stream.
        CorruptVideo: empty, truncated or undecodable data, or no frame at all.
        OSError: ``source`` is a path that cannot be read.
        ValueError: ``fps`` not positive, or an unknown ``variants``.
    """
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError("fps must be a positive number")
    if variants not in ("none", "check", "stored"):
        raise ValueError("variants must be 'none', 'check' or 'stored'")
    limits = limits or VideoLimits()
    file, md5, sha, owned, head = _read_source(source, limits)
    try:
        return _hash(file, md5, sha, head, fps, limits, variants, progress)
    finally:
        if isinstance(file, io.IOBase):
            file.close()
        if owned is not None:
            wipe_buffer(owned)


def _hash(
    file: Any,
    md5: str,
    sha: str,
    head: bytes,
    fps: float,
    limits: VideoLimits,
    variants: str,
    progress: Callable[[float], None] | None,
) -> VideoHashes:
    import av

    if not head:
        raise CorruptVideo("the video is empty")
    container = _open(file, head)
    try:
        return _hash_container(container, md5, sha, fps, limits, variants, progress)
    except VideoError:
        raise
    except MemoryError as exc:
        raise VideoTooLarge("the video needs more memory than is available") from exc
    except (av.FFmpegError, ValueError, RuntimeError, OverflowError, ZeroDivisionError,
            IndexError, TypeError, AttributeError, AssertionError) as exc:  # fmt: skip
        raise CorruptVideo(f"the video cannot be decoded ({exc.__class__.__name__})") from exc
    finally:
        container.close()


def _hash_container(
    container: Any,
    md5: str,
    sha: str,
    fps: float,
    limits: VideoLimits,
    variants: str,
    progress: Callable[[float], None] | None,
) -> VideoHashes:
    streams = [s for s in container.streams if s.type == "video"]
    if not streams:
        raise UnsupportedVideo("the file has no video stream")
    stream = streams[0]  # Meta's vpdq hashes the first video stream
    ctx = stream.codec_context
    if ctx.name not in CODECS:
        raise UnsupportedVideo(f"the video codec {ctx.name!r} is not one hashbank reads")
    width, height = int(ctx.width or 0), int(ctx.height or 0)
    if width <= 0 or height <= 0:
        raise CorruptVideo("the video has no frame size")
    if width * height > limits.max_pixels:
        raise VideoTooLarge(
            f"the video's frames are {width} x {height}, the limit is {limits.max_pixels} pixels"
        )
    rate_q = stream.average_rate or stream.base_rate
    rate = float(rate_q) if rate_q else 0.0
    if not (0 < rate <= _MAX_FRAME_RATE):
        raise CorruptVideo("the video has no usable frame rate")
    duration = 0.0
    if container.duration:
        duration = container.duration / 1_000_000
    elif stream.duration and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    if duration > limits.max_seconds:
        raise VideoTooLarge(
            f"the video lasts {duration:.0f} s, the limit is {limits.max_seconds:.0f} s"
        )
    if duration * fps > limits.max_frames + 1:
        raise VideoTooLarge(
            f"the video would give {duration * fps:.0f} frames at {fps} a second, "
            f"the limit is {limits.max_frames}"
        )
    ctx.thread_type = "AUTO"  # frame and slice threads (vpdq: slice threads only)
    ctx.thread_count = 0
    mod = max(1, int((1.0 / fps) * rate))
    start = stream.start_time
    sampler = _Sampler(rate, mod, start, float(stream.time_base or 0), [])
    tw, th = _target_size(width, height)
    frames: list[VpdqFrame] = []
    expected = duration * fps if duration > 0 else limits.max_frames
    maker = _Variants(variants, expected) if variants != "none" else None
    if maker is not None and maker.half_step and mod >= 2:
        sampler.half = mod // 2
    last_pdq: str | None = None
    rate32 = np.float32(rate)
    for n, frame in _decoded_frames(container, stream, sampler, limits):
        seconds = float(np.float32(n) / rate32)
        if seconds > limits.max_seconds:
            raise VideoTooLarge(f"the video lasts over {limits.max_seconds:.0f} s")
        pdq, quality, pixels = _frame_hash(frame, tw, th)
        if n % mod:  # a half-step frame of a check: more hashes of the frame before it
            try:
                if maker is not None and frames and quality >= QUALITY_FLOOR:
                    maker.add_half(frames[-1].seconds, pdq, pixels)
            finally:
                wipe_buffer(pixels)
            continue
        try:
            frames.append(VpdqFrame(pdq, quality, round(seconds, 6)))
            if len(frames) > limits.max_frames:
                raise VideoTooLarge(f"the video gives over {limits.max_frames} sampled frames")
            if (
                maker is not None
                and quality >= QUALITY_FLOOR  # vPDQ ignores the frame: no variants either
                and (last_pdq is None or hamming(pdq, last_pdq) > DISTINCT_DISTANCE)
            ):
                maker.add(round(seconds, 6), pdq, pixels)
                last_pdq = pdq
        finally:
            wipe_buffer(pixels)
        if progress is not None and duration > 0:
            progress(min(1.0, seconds / duration))
    if not frames:
        raise CorruptVideo("the video has no decodable frame")
    frame_variants = maker.result() if maker is not None else []
    if progress is not None:
        progress(1.0)
    if duration <= 0:
        duration = frames[-1].seconds + 1 / rate
    return VideoHashes(
        md5=md5,
        sha256=sha,
        duration=duration,
        width=width,
        height=height,
        format=_FORMATS.get(container.format.name.split(",")[0], container.format.name),
        frames=tuple(frames),
        frame_variants=tuple(frame_variants),
    )


def _spread(n: int, k: int) -> list[int]:
    """``k`` indices of ``range(n)`` spread evenly, first and last included."""
    if k >= n:
        return list(range(n))
    if k <= 1:
        return [0]
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


class _Variants:
    """Variant hashes of distinct frames as they are decoded, within the side's budget.

    The budget is shared out from the frame count the duration announces (an upper
    bound of the distinct frames): each frame gets ``budget // frames`` hashes, at most
    the plan's and at least ``floor`` (its plain PDQ and the most useful variants);
    when even the floor does not fit, one distinct frame in ``stride`` gets variants.
    Only hashes are kept, so memory does not grow with the video; what is still over
    the budget at the end (a duration that lied) is spread evenly.
    """

    def __init__(self, side: str, expected: float) -> None:
        if side == "stored":
            self.plan: VariantPlan = VIDEO_PLAN
            self.budget, cap, floor = STORED_BUDGET, VIDEO_PLAN.max_stored, 8
        else:
            self.plan = VIDEO_CHECK_PLAN
            self.budget, cap, floor = CHECK_BUDGET, self.plan.max_check, 4
        self.side = side
        n = max(1, math.ceil(expected))
        self.per_frame = max(floor, min(cap, self.budget // n))
        self.stride = max(1, math.ceil(n * self.per_frame / self.budget))
        # a check whose budget pays every frame its full plan and the half-step hashes
        self.half_step = side == "check" and n * (cap + HALF_STEP_HASHES) <= self.budget
        self.distinct = 0
        self.out: list[FrameVariants] = []

    def add(self, seconds: float, pdq: str, pixels: np.ndarray) -> None:
        self.distinct += 1
        if (self.distinct - 1) % self.stride:
            return
        work = work_pixels(Image.fromarray(pixels))
        try:
            if self.side == "stored":
                hashes = stored_variants(pdq, work, self.plan)
            else:
                hashes = check_variants(pdq, work, self.plan)
        finally:
            wipe_buffer(work.pixels)
        self.out.append(FrameVariants(seconds, hashes[: self.per_frame]))

    def add_half(self, before: float, pdq: str, pixels: np.ndarray) -> None:
        """A check's frame half a sample after the sampled frame at ``before``: its PDQ,
        trimmed and band hashes join that frame's set, when the frame has a set of its
        own and this one differs from it (a still scene adds nothing)."""
        if not self.out or self.out[-1].seconds != before:
            return
        own = self.out[-1]
        if hamming(pdq, own.pdq[0]) <= DISTINCT_DISTANCE:
            return
        work = work_pixels(Image.fromarray(pixels))
        try:
            extra = light_variants(pdq, work, VIDEO_CHECK_PLAN)
        finally:
            wipe_buffer(work.pixels)
        added = tuple(h for h in extra if h not in own.pdq)[:HALF_STEP_HASHES]
        self.out[-1] = FrameVariants(own.seconds, own.pdq + added)

    def result(self) -> list[FrameVariants]:
        total = sum(len(v.pdq) for v in self.out)
        if total <= self.budget:
            return self.out
        return [self.out[i] for i in _spread(len(self.out), self.budget // self.per_frame)]
