"""The real ``hashbank hash`` command, run as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import hashes
from tests.hashes._images import encode, skimage_photo, synthetic

HASHBANK = Path(sys.executable).parent / "hashbank"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [str(HASHBANK)] if HASHBANK.exists() else [sys.executable, "-m", "app.cli"]
    return subprocess.run(
        [*cmd, "hash", *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("images")
    (root / "a.jpg").write_bytes(encode(skimage_photo("coffee.png"), "JPEG"))
    (root / "b.png").write_bytes(encode(synthetic(1), "PNG"))
    (root / "fake.jpg").write_text("this is not a picture")
    (root / "notes.txt").write_text("not an image suffix: skipped in folders")
    (root / "sub").mkdir()
    (root / "sub" / "c.webp").write_bytes(encode(synthetic(2), "WEBP"))
    return root


def _lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_one_json_line_per_image_and_errors_do_not_stop(folder: Path) -> None:
    proc = _run(str(folder / "a.jpg"), str(folder / "fake.jpg"), str(folder / "b.png"))
    assert proc.returncode == 1, proc.stderr
    lines = _lines(proc.stdout)
    assert [line["path"] for line in lines] == [
        str(folder / "a.jpg"), str(folder / "fake.jpg"), str(folder / "b.png")
    ]  # fmt: skip
    good = lines[0]
    expected = hashes.hash_file(folder / "a.jpg")
    assert good["pdq"] == expected.pdq and good["md5"] == expected.md5
    assert good["pdq_variants"] == list(expected.pdq_variants)
    assert good["pdq_stored"] == list(expected.pdq_stored)
    assert set(good) >= {"pdq_quality", "phash", "sha256", "width", "height", "format"}
    assert set(lines[1]) == {"path", "error"} and "UnsupportedImage" in str(lines[1]["error"])
    assert "pdq" in lines[2]


def test_folders_recursive_and_workers(folder: Path) -> None:
    flat = _lines(_run(str(folder)).stdout)
    assert sorted(Path(str(r["path"])).name for r in flat) == ["a.jpg", "b.png", "fake.jpg"]
    deep = _run(str(folder), "--recursive", "--workers", "2")
    names = sorted(Path(str(r["path"])).name for r in _lines(deep.stdout))
    assert names == ["a.jpg", "b.png", "c.webp", "fake.jpg"]
    assert "hashed 3 of 4 files" in deep.stderr  # the summary goes to stderr, not stdout
    by_name = {Path(str(r["path"])).name: r for r in _lines(deep.stdout)}
    assert by_name["c.webp"]["format"] == "WEBP"


def test_all_good_exits_zero_and_missing_paths_are_errors(folder: Path) -> None:
    ok = _run(str(folder / "b.png"))
    assert ok.returncode == 0 and len(_lines(ok.stdout)) == 1
    missing = _run(str(folder / "nope.png"))
    assert missing.returncode == 1
    assert "error" in _lines(missing.stdout)[0]
