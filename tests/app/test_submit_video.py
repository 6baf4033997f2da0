"""``hashbank submit`` on videos: hashed here (variants="stored"), only hashes reported."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

import hashes
from app.cli.submit import Image, fit_video, requests, vpdq_parts
from tests.hashes._videos import photo_clip
from tests.servers import HASHBANK, Server, eventually

_VIDEO_TYPES = any(spec.name == "vpdq" for spec in hashes.BUILTINS)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("HASHBANK_")}
    return subprocess.run(
        [HASHBANK, "submit", *args], capture_output=True, text=True, timeout=300, env=base
    )


@pytest.mark.skipif(not _VIDEO_TYPES, reason="the service enables the video types (i20-service)")
def test_a_video_becomes_one_case_of_its_hashes(
    server_factory: Callable[..., Server], tmp_path: Path
) -> None:
    server = server_factory(extra_env={"HASHBANK_MAX_HASHES_ANONYMOUS": "120"})
    video = tmp_path / "clip.mp4"
    video.write_bytes(photo_clip("h264", 30, 1.0))
    result = _run(str(video), "--server", server.url, "--json")
    assert result.returncode == 0, result.stderr
    (case,) = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    local = hashes.hash_video(video, variants="stored")
    n_variants = len({h for fv in local.frame_variants for h in fv.pdq})
    assert case["hashes"] == min(120, 3 + n_variants)
    with server.client() as c:
        r = c.get(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]})
    assert r.status_code == 200 and r.json()["hashes"] == case["hashes"]


def _video(n_frames: int, per_frame: int) -> Image:
    head = [{"type": t, "value": t} for t in ("vpdq", "video_md5", "video_sha256")]
    plain = [{"type": "pdq", "value": f"p{i}", "seconds": float(i)} for i in range(n_frames)]
    variants = [
        {"type": "pdq", "value": f"v{i}-{j}", "seconds": float(i)}
        for i in range(n_frames)
        for j in range(per_frame)
    ]
    return Image("clip.mp4", head + plain + variants, video=True)


def test_fitting_keeps_exact_hashes_then_frames_then_variants() -> None:
    video = _video(100, 10)
    assert fit_video(video, 5000) is video
    some = fit_video(video, 53)  # room for half the frames' plain hashes
    assert [h["type"] for h in some.hashes[:3]] == ["vpdq", "video_md5", "video_sha256"]
    assert len(some.hashes) == 53
    times = [h["seconds"] for h in some.hashes[3:]]
    assert all(str(h["value"]).startswith("p") for h in some.hashes[3:])
    assert times[0] == 0.0 and times[-1] >= 98 and times == sorted(times)  # spread
    more = fit_video(video, 603)  # every frame, then 500 of 1000 variants, spread
    values = [str(h["value"]) for h in more.hashes[3:]]
    assert sum(v.startswith("p") for v in values) == 100 and len(values) == 600
    assert {v.split("-")[0] for v in values if v.startswith("v")} == {f"v{i}" for i in range(100)}
    assert fit_video(Image("a.jpg", video.hashes), 10).hashes == video.hashes  # images untouched


def test_a_video_sent_in_parts_is_one_stored_video_that_matches_whole(
    server_factory: Callable[..., Server], tmp_path: Path
) -> None:
    """``--vpdq-part-frames 5``: a 12 s clip's vPDQ goes in three parts naming the video;
    the server stores one video of all 12 frames, which the whole clip matches."""
    server = server_factory()
    key = server.create_client("platform", "check,feed")
    video = tmp_path / "clip.mp4"
    data = photo_clip("h264", 30, 3.0)
    video.write_bytes(data)
    result = _run(str(video), "--server", server.url, "--json", "--vpdq-part-frames", "5")
    assert result.returncode == 0, result.stderr
    (case,) = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    with server.client() as c:
        r = c.get(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]})
    assert r.status_code == 200 and r.json()["hashes"] == case["hashes"]
    local = hashes.hash_video(data)
    assert len(local.frames) == 12
    whole = hashes.format_vpdq(local.frames)
    stored = [i["value"] for i in server.feed(key) if i["type"] == "vpdq" and i["op"] == "add"]
    assert set(stored) == {whole}  # one video, every frame, Meta's serialisation
    with server.client(key) as c:
        body = eventually(
            lambda: (
                (b := c.post("/v1/check", files={"video": ("v.mp4", data, "video/mp4")})).json()[
                    "match"
                ]
                and b.json()
            )
        )
    [m] = [m for m in body["matches"] if m["signal_type"] == "vpdq"]
    assert (m["query_percent"], m["stored_percent"]) == (100.0, 100.0)


def test_requests_keep_order_and_size() -> None:
    frames = [f"{i:064x},90,{i}" for i in range(100)]
    parts = vpdq_parts(frames, "ab" * 32, 30)
    assert [len(p["value"]) for p in parts] == [30, 30, 30, 10]
    assert {p["part_of"] for p in parts} == {"ab" * 32}
    entries = [{"type": "video_sha256", "value": "ab" * 32}, *parts]
    cut = requests(entries, max_hashes=1000, max_bytes=3000)
    assert [h for r in cut for h in r] == entries  # the order kept
    assert len(cut) == 4 and all(len(json.dumps(r)) <= 3000 for r in cut)
    assert [len(r) for r in requests(entries, max_hashes=2)] == [2, 2, 1]
