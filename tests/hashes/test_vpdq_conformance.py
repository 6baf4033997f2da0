"""hash_video against Meta's vpdq (PyPI 0.2.5, C++ over FFmpeg) on the same clips.

Same frame times, PDQ within 10 bits for frames of quality >= 80 (PDQ's tolerance for
ports). vpdq.computeHash takes a path: the synthetic clip is written to tmp_path here
(a test clip, never user content).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import hashes
from tests.hashes._videos import photo_clip

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
