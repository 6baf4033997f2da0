"""The real ``hashbank hash`` command on videos, run as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import hashes
from tests.hashes._images import encode, skimage_photo
from tests.hashes._videos import photo_clip

HASHBANK = Path(sys.executable).parent / "hashbank"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [str(HASHBANK)] if HASHBANK.exists() else [sys.executable, "-m", "app.cli"]
    return subprocess.run(
        [*cmd, "hash", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("videos")
    (root / "clip.mp4").write_bytes(photo_clip("h264", 30, 1.0))
    (root / "clip.webm").write_bytes(photo_clip("vp9", 30, 1.0))
    (root / "no-suffix").write_bytes(photo_clip("h264", 30, 1.0))  # recognised by its bytes
    (root / "photo.jpg").write_bytes(encode(skimage_photo("coffee.png"), "JPEG"))
    (root / "broken.mp4").write_text("this is not a video")
    return root


def _lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_one_json_line_per_video(folder: Path) -> None:
    names = ("clip.mp4", "photo.jpg", "no-suffix", "broken.mp4", "clip.webm")
    proc = _run(*(str(folder / n) for n in names), "--workers", "2")
    assert proc.returncode == 1, proc.stderr  # broken.mp4
    lines = _lines(proc.stdout)
    assert [Path(str(line["path"])).name for line in lines] == list(names)  # order kept
    mp4, photo, bare, broken, webm = lines
    expected = hashes.hash_video(folder / "clip.mp4")
    assert mp4["video_md5"] == expected.md5 and mp4["video_sha256"] == expected.sha256
    assert mp4["duration"] == pytest.approx(expected.duration, abs=1e-3)
    assert mp4["vpdq"] == [str(f) for f in expected.frames]
    assert hashes.parse_vpdq(mp4["vpdq"]) == expected.frames[:0] + hashes.parse_vpdq(
        hashes.format_vpdq(expected.frames)
    )
    assert bare["vpdq"] == mp4["vpdq"]
    assert webm["format"] == "webm" and len(webm["vpdq"]) == 4  # type: ignore[arg-type]
    assert "pdq" in photo and "vpdq" not in photo
    assert set(broken) == {"path", "error"} and "UnsupportedVideo" in str(broken["error"])


def test_folders_list_videos_and_a_progress_bar_shows(folder: Path) -> None:
    proc = _run(str(folder / "clip.mp4"), env={"FORCE_COLOR": "1", "COLUMNS": "100"})
    assert proc.returncode == 0
    assert "video clip.mp4" in proc.stderr  # Rich's bar, on stderr
    listed = _run(str(folder))
    names = sorted(Path(str(r["path"])).name for r in _lines(listed.stdout))
    assert names == ["broken.mp4", "clip.mp4", "clip.webm", "photo.jpg"]
