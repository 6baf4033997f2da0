"""Hashing never writes a file: every open/os.open/mkstemp is audited while hashing."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

import hashes
from tests.hashes._images import encode, skimage_photo, synthetic

_recording: list[tuple[str, tuple[object, ...]]] | None = None


def _hook(event: str, args: tuple[object, ...]) -> None:
    if _recording is not None and event in ("open", "os.open", "tempfile.mkstemp",
                                            "tempfile.mkdtemp", "shutil.copyfile"):  # fmt: skip
        _recording.append((event, args))


sys.addaudithook(_hook)  # audit hooks cannot be removed; it records only inside _audit()


def _writes(events: list[tuple[str, tuple[object, ...]]]) -> list[tuple[str, tuple[object, ...]]]:
    out = []
    for event, args in events:
        if event.startswith(("tempfile", "shutil")):
            out.append((event, args))
        elif event == "open":
            mode, flags = args[1], args[2]
            if (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
            ):
                out.append((event, args))
        elif event == "os.open":
            flags = args[2]
            if isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                out.append((event, args))
    return out


def _listing() -> set[str]:
    places = {Path(tempfile.gettempdir()), Path.cwd()}
    return {str(p) for place in places for p in place.iterdir()}


@pytest.fixture
def images() -> list[bytes]:
    photo = skimage_photo("coffee.png")
    big = photo.resize((4000, 3000))
    return [
        encode(photo, "PNG"),
        encode(big, "JPEG", quality=85),
        encode(photo, "WEBP"),
        encode(synthetic(2), "GIF", save_all=True, append_images=[synthetic(3)]),
        encode(photo, "TIFF"),
        b"\xff\xd8\xff\xe0corrupt",
    ]


def test_hashing_writes_no_file(images: list[bytes], tmp_path: Path) -> None:
    global _recording
    source = tmp_path / "photo.png"
    source.write_bytes(images[0])
    before = _listing()
    _recording = []
    try:
        for data in images:
            try:
                h = hashes.hash_bytes(data)
                _ = h.pdq_stored
            except hashes.ImageError:
                pass
        _ = hashes.hash_file(source).pdq_stored
        events = _recording
    finally:
        _recording = None
    assert any(e == "open" for e, _ in events)  # the hook does see hash_file's read
    assert _writes(events) == []
    assert _listing() == before


_VIDEO_CHILD = """
import io, sys
from tests.hashes._videos import photo_clip
import hashes
clips = [photo_clip("h264", 30, 1.0), photo_clip("vp9", 30, 1.0)]
for data in clips:  # numba loads (or writes) its kernel cache on first use: not content
    hashes.hash_video(data, variants="stored")
    hashes.hash_video(data, variants="check")
try:
    open("/nonexistent-hashing-starts")  # a mark in the trace
except OSError:
    pass
for data in clips:
    for source in (data, bytearray(data), io.BytesIO(data)):
        for variants in ("none", "stored", "check"):
            hashes.hash_video(source if not isinstance(source, io.BytesIO) else io.BytesIO(data),
                              variants=variants)
for bad in (clips[0][: len(clips[0]) // 3], b"#EXTM3U\\nfile:///etc/passwd\\n"):
    try:
        hashes.hash_video(bad)
    except hashes.VideoError:
        pass
print("DONE", flush=True)
"""


def test_video_hashing_writes_no_file_even_in_ffmpeg(tmp_path: Path) -> None:
    """FFmpeg's own file calls are not Python's: strace sees every openat of the process
    (and its decoding threads) while it hashes videos held in memory."""
    import shutil
    import subprocess

    strace = shutil.which("strace")
    assert strace, "strace is installed by scripts/install-video-build.sh"
    log = tmp_path / "trace.txt"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run(
        [
            strace,
            "-f",
            "-qq",
            "-e",
            "trace=open,openat,creat,rename,renameat2,link,mknod",
            "-o",
            str(log),
            sys.executable,
            "-c",
            _VIDEO_CHILD,
        ],  # fmt: skip
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert "DONE" in out.stdout
    calls = log.read_text().splitlines()
    marks = [i for i, c in enumerate(calls) if "/nonexistent-hashing-starts" in c]
    assert marks and marks[0] > 50  # strace recorded the child's opens (imports), then the mark
    calls = calls[marks[0] :]
    writes = [
        c
        for c in calls
        if any(f in c for f in ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TMPFILE", "creat(", "rename"))
        and "/dev/" not in c
    ]
    assert writes == []
