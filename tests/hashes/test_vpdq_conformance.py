"""hash_video against Meta's vpdq (PyPI 0.2.5, C++ over FFmpeg) on the same clips.

Same frame times, PDQ within 10 bits for frames of quality >= 80 (PDQ's tolerance for
ports). vpdq.computeHash takes a path: the synthetic clip is written to tmp_path here
(a test clip, never user content).
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

import hashes
from benchmarks._clips import frames_of, shots_from
from tests.hashes._images import skimage_photo
from tests.hashes._videos import PHOTOS, photo_clip

vpdq = pytest.importorskip("vpdq", reason="Meta's vpdq (test extra) is not installed")


@pytest.mark.parametrize(
    ("codec", "fps", "per_second"),
    [("h264", 30, 1.0), ("vp9", 30, 1.0), ("h264", 25, 1.0), ("h264", 24, 2.0)],
)
def test_frames_equal_metas(tmp_path: Path, codec: str, fps: int, per_second: float) -> None:
    data = photo_clip(codec, fps)
    path = tmp_path / ("clip.webm" if codec == "vp9" else "clip.mp4")
    path.write_bytes(data)
    ours = hashes.hash_video(data, fps=per_second).frames
    theirs = vpdq.computeHash(str(path), seconds_per_hash=1 / per_second)
    assert len(ours) == len(theirs) >= 12 * per_second
    for mine, meta in zip(ours, theirs, strict=True):
        assert mine.seconds == pytest.approx(meta.timestamp, abs=1e-3)
        assert abs(mine.quality - meta.quality) <= 2
        if meta.quality >= 80:
            assert hashes.hamming(mine.pdq, meta.hex) <= 10, mine.seconds


def test_b_frames_skipped_without_changing_the_numbering(tmp_path: Path) -> None:
    """x264's default clip has non-reference B-frames, which hash_video does not decode:
    the numbering (hence the times and frames) must still be Meta's, bit for bit."""
    data = photo_clip("h264", 30)
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    ours = [(f.pdq, f.seconds) for f in hashes.hash_video(data).frames]
    theirs = [(f.hex, round(f.timestamp, 6)) for f in vpdq.computeHash(str(path))]
    assert ours == theirs


def test_pytx_hash_from_file_round_trips(tmp_path: Path) -> None:
    from threatexchange.extensions.vpdq.vpdq import VPDQSignal

    path = tmp_path / "clip.mp4"
    path.write_bytes(photo_clip("h264", 30))
    value = VPDQSignal.hash_from_file(path)
    frames = hashes.parse_vpdq(value)
    assert hashes.format_vpdq(frames) == value
    ours = hashes.hash_video(path).frames
    assert hashes.format_vpdq(ours) == value  # bit for bit at this size (640 x 360)


@cache
def gop_clip(keyint: int, fps: int, open_gop: bool = False) -> bytes:
    """Four 3 s shots (320 x 180) with an IDR frame every ``keyint`` frames (no scene-cut
    detection), or with open groups of pictures (recovery points, not IDR frames)."""
    photos = [skimage_photo(name) for name in PHOTOS]
    params = f"keyint={keyint}:min-keyint={keyint}:scenecut=0"
    if open_gop:
        params += ":open-gop=1"
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream: Any = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        stream.options = {"preset": "veryfast", "x264-params": params}
        for rgb in frames_of(shots_from(photos, 3.0), 320, 180, fps):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb))))
        out.mux(stream.encode(None))
    return buf.getvalue()


@pytest.mark.parametrize(
    ("keyint", "fps", "per_second", "open_gop"),
    [(15, 30, 1.0, False), (45, 30, 1.0, False), (20, 25, 2.0, False), (30, 30, 1.0, True)],
)
def test_groups_of_pictures_skipped_without_changing_the_frames(
    tmp_path: Path, keyint: int, fps: int, per_second: float, open_gop: bool
) -> None:
    """hash_video does not decode what follows the last sample of a closed group of
    pictures (up to the next IDR frame); samples, their times and hashes stay Meta's, bit
    for bit, whether samples fall on IDR frames, inside groups or in open groups."""
    data = gop_clip(keyint, fps, open_gop)
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    ours = [(f.pdq, f.quality, f.seconds) for f in hashes.hash_video(data, fps=per_second).frames]
    theirs = [
        (f.hex, f.quality, round(f.timestamp, 6))
        for f in vpdq.computeHash(str(path), seconds_per_hash=1 / per_second)
    ]
    assert ours == theirs
    assert len(ours) >= 12 * per_second


def test_only_what_samples_need_is_decoded() -> None:
    """An IDR frame every half second, a sample every second: the samples are IDR frames
    and nothing else is needed; 360 frames, 12 samples. A limit of 40 decoded frames is
    met only when the groups without a sample are not decoded at all."""
    data = gop_clip(15, 30)
    full = hashes.hash_video(data).frames
    with pytest.raises(hashes.VideoTooLarge):  # the limit is real: 12 frames hit it
        hashes.hash_video(data, limits=hashes.VideoLimits(max_decoded=11))
    assert hashes.hash_video(data, limits=hashes.VideoLimits(max_decoded=40)).frames == full
    assert len(full) == 12
