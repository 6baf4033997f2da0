"""hashes.hash_video: sources, exact hashes, limits, progress, frame variants, matching."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

import hashes
from benchmarks._clips import Shot, _render, encode, render, shots_from
from tests.hashes._images import skimage_photo
from tests.hashes._videos import PHOTOS, photo_clip


@pytest.fixture(scope="module")
def clip() -> bytes:
    return photo_clip("h264", 30)


def test_every_source_gives_the_same_hashes(clip: bytes, tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(clip)
    got = [
        hashes.hash_video(clip),
        hashes.hash_video(bytearray(clip)),
        hashes.hash_video(io.BytesIO(clip)),
        hashes.hash_video(path),
        hashes.hash_video(str(path)),
    ]
    assert all(g == got[0] for g in got)
    h = got[0]
    assert h.md5 == hashlib.md5(clip).hexdigest()
    assert h.sha256 == hashlib.sha256(clip).hexdigest()
    assert (h.width, h.height, h.format) == (640, 360, "mp4")
    assert h.duration == pytest.approx(12.0, abs=0.1)
    assert [f.seconds for f in h.frames] == [float(s) for s in range(12)]
    assert h.frame_variants == ()
    # a cut every 3 s: frames of different shots are far apart, of one shot close
    assert hashes.hamming(h.frames[2].pdq, h.frames[3].pdq) > 64


def test_fps_samples_more_frames(clip: bytes) -> None:
    assert len(hashes.hash_video(clip, fps=3.0).frames) == 36
    assert len(hashes.hash_video(clip, fps=0.5).frames) == 6
    with pytest.raises(ValueError, match="fps"):
        hashes.hash_video(clip, fps=0)


def test_progress_rises_to_one(clip: bytes) -> None:
    seen: list[float] = []
    hashes.hash_video(clip, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 12


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (hashes.VideoLimits(max_bytes=1000), "bytes"),
        (hashes.VideoLimits(max_seconds=5), "lasts"),
        (hashes.VideoLimits(max_frames=5), "frames"),
        (hashes.VideoLimits(max_pixels=320 * 240), "pixels"),
        (hashes.VideoLimits(max_decoded=50), "frames"),
    ],
)
def test_limits(clip: bytes, limits: hashes.VideoLimits, message: str) -> None:
    with pytest.raises(hashes.VideoTooLarge, match=message):
        hashes.hash_video(clip, limits=limits)
    with pytest.raises(hashes.VideoTooLarge):
        hashes.hash_video(io.BytesIO(clip), limits=limits)


def test_hostile_and_broken_inputs(clip: bytes) -> None:
    playlist = b"#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n"
    concat = b"ffconcat version 1.0\nfile '/etc/passwd'\n"
    for data in (playlist, concat, b"GIF89a" + bytes(100), b"hello"):
        with pytest.raises(hashes.UnsupportedVideo):
            hashes.hash_video(data)
    for data in (b"", clip[:2000], clip[: len(clip) // 2], bytes(64) + clip):
        with pytest.raises(hashes.VideoError):
            hashes.hash_video(data)


def test_audio_only_file_is_unsupported() -> None:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), "fltp", "mono")
        frame.sample_rate = 8000
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with pytest.raises(hashes.UnsupportedVideo, match="no video stream"):
        hashes.hash_video(buf.getvalue())


def test_stored_and_check_variants(clip: bytes) -> None:
    plain = hashes.hash_video(clip)
    stored = hashes.hash_video(clip, variants="stored")
    check = hashes.hash_video(clip, variants="check")
    assert stored.frames == check.frames == plain.frames
    by_time = {f.seconds: f.pdq for f in plain.frames}
    for side, cap in ((stored, 24), (check, 12 + 4)):  # a check: + the half-step hashes
        assert 4 <= len(side.frame_variants) <= 12
        times = [v.seconds for v in side.frame_variants]
        assert times == sorted(times) and times[0] == 0.0
        for v in side.frame_variants:
            assert v.pdq[0] == by_time[v.seconds] and 1 < len(v.pdq) <= cap
    # the mirrored frame is among a report's variants
    mirrored = hashes.hash_video(_mirrored_clip())
    first = stored.frame_variants[0].pdq
    assert hashes.hamming(mirrored.frames[0].pdq, first[0]) > 31
    assert min(hashes.hamming(mirrored.frames[0].pdq, h) for h in first) <= 31


def _mirrored_clip() -> bytes:
    photos = [skimage_photo(name) for name in PHOTOS]
    frames = render(shots_from(photos, 3.0), 640, 360, 30, lambda rgb, t: rgb[:, ::-1])
    return encode(frames, 30)


def test_mirrored_copy_matches_only_with_variants(clip: bytes) -> None:
    stored = hashes.hash_video(clip, variants="stored")
    query = hashes.hash_video(_mirrored_clip(), variants="check")
    plain = hashes.match_percentages(query.frames, stored.frames)
    both = hashes.match_with_variants(
        query.frames,
        stored.frames,
        query_variants=query.frame_variants,
        stored_variants=stored.frame_variants,
    )
    assert plain.query_percent < 20
    assert both.query_percent >= 80


def test_unrelated_clips_do_not_match(clip: bytes) -> None:
    other = encode(render(shots_from([skimage_photo("camera.png")] * 2, 3.0, seed=5),
                          640, 360, 30), 30)  # fmt: skip
    a = hashes.hash_video(clip, variants="stored")
    b = hashes.hash_video(other, variants="check")
    got = hashes.match_with_variants(
        b.frames, a.frames, query_variants=b.frame_variants, stored_variants=a.frame_variants
    )
    assert got.query_percent == 0.0


_hex = st.text("0123456789abcdef", min_size=64, max_size=64)
_frames = st.lists(
    st.builds(
        hashes.VpdqFrame,
        st.one_of(_hex, st.sampled_from(["0" * 64, "f" * 64, "0f" * 32])),
        st.integers(0, 100),
        st.integers(0, 50).map(float),
    ),
    max_size=8,
)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(_frames, _frames)
def test_without_variants_it_is_vpdqs_rule(
    q: list[hashes.VpdqFrame], s: list[hashes.VpdqFrame]
) -> None:
    assert hashes.match_with_variants(q, s) == hashes.match_percentages(q, s)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(_frames, _frames, st.lists(_hex, min_size=1, max_size=4))
def test_variants_only_add_matches(
    q: list[hashes.VpdqFrame], s: list[hashes.VpdqFrame], extra: list[str]
) -> None:
    variants = [hashes.FrameVariants(0.0, tuple(extra))]
    base = hashes.match_percentages(q, s)
    more = hashes.match_with_variants(q, s, query_variants=variants, stored_variants=variants)
    assert more.query_percent >= base.query_percent
    assert more.stored_percent >= base.stored_percent


def test_variant_budget(clip: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """30 frames a second: the budget is shared out per frame, then frames are strided."""
    dense = hashes.hash_video(clip, fps=30, variants="stored")
    assert len(dense.frames) == 360
    per_frame = 4800 // 360  # STORED_BUDGET shared over the announced frames
    assert max(len(v.pdq) for v in dense.frame_variants) == per_frame
    import hashes._video as video

    monkeypatch.setattr(video, "STORED_BUDGET", 400)  # 50 frames at the floor of 8
    tight = hashes.hash_video(clip, fps=30, variants="stored")
    assert sum(len(v.pdq) for v in tight.frame_variants) <= 400
    assert max(len(v.pdq) for v in tight.frame_variants) == 8
    times = [v.seconds for v in tight.frame_variants]
    assert times[0] == 0.0 and times[-1] > 9  # spread over the whole clip


def _edited_clip(edit: str) -> bytes:
    """The test clip (``photo_clip``'s shots) edited as reposts are, then encoded."""
    photos = [skimage_photo(name) for name in PHOTOS]
    shots = shots_from(photos, 3.0)

    def caption(rgb: np.ndarray, t: float) -> np.ndarray:  # a black band, white text
        out = rgb.copy()
        out[int(out.shape[0] * 0.85) :] = 0
        img = Image.fromarray(out)
        ImageDraw.Draw(img).text((60, int(out.shape[0] * 0.9)), "look at this " * 3, fill="white")
        return np.asarray(img)

    def watermark(rgb: np.ndarray, t: float) -> np.ndarray:  # a corner label, see-through
        img = Image.fromarray(rgb).convert("RGBA")
        layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
        ImageDraw.Draw(layer).rectangle((460, 310, 620, 345), fill=(255, 255, 255, 110))
        ImageDraw.Draw(layer).text((470, 320), "@reposter", fill=(0, 0, 0, 200))
        return np.asarray(Image.alpha_composite(img, layer).convert("RGB"))

    def letterbox(rgb: np.ndarray, t: float) -> np.ndarray:  # in a portrait 9:16 frame
        canvas = np.zeros((640, 360, 3), np.uint8)
        canvas[219:421] = np.asarray(Image.fromarray(rgb).resize((360, 202)))
        return canvas

    if edit == "trimmed at the start":  # 20 %: samples 0.4 s off the report's
        return encode(render(shots, 640, 360, 30)[72:], 30)
    fn = {"caption band": caption, "watermark": watermark, "letterboxed": letterbox}[edit]
    return encode(render(shots, 640, 360, 30, fn), 30)


@pytest.mark.parametrize(
    "edit", ["caption band", "watermark", "letterboxed", "trimmed at the start"]
)
def test_edited_copies_match_with_variants(clip: bytes, edit: str) -> None:
    """Band windows (captions, watermarks), the check's 16:9 window of a portrait frame
    and its half-step frames: each edit matches at the rule for checks with variants."""
    stored = hashes.hash_video(clip, variants="stored")
    query = hashes.hash_video(_edited_clip(edit), variants="check")
    plain = hashes.match_percentages(query.frames, stored.frames)
    both = hashes.match_with_variants(
        query.frames,
        stored.frames,
        query_variants=query.frame_variants,
        stored_variants=stored.frame_variants,
    )
    assert plain.query_percent < 80
    assert both.query_percent >= hashes.variant_match_percent(hashes.QUERY_MATCH_PERCENT)
    if edit == "caption band":  # every frame, by the band windows (without them: 83 %)
        assert both.query_percent == 100.0


def test_a_check_adds_the_frame_half_a_sample_later(clip: bytes) -> None:
    check = hashes.hash_video(clip, variants="check")
    assert check.frames == hashes.hash_video(clip).frames  # Meta's vPDQ, unchanged
    halves = {f.seconds: f.pdq for f in hashes.hash_video(clip, fps=2.0).frames}
    added = 0
    for v in check.frame_variants:
        half = halves[v.seconds + 0.5]
        if hashes.hamming(half, v.pdq[0]) > 12:  # a moving camera: the half step is there
            assert half in v.pdq
            added += 1
    assert added >= 6
    assert max(len(v.pdq) for v in check.frame_variants) <= 16  # the API's per-frame limit


def test_the_half_step_is_within_the_check_budget() -> None:
    import hashes._video as video

    per = video.DENSITIES["default"].max_check + video.HALF_STEP_HASHES
    longest = video.CHECK_BUDGET // per
    assert video._Variants("check", longest).half_step
    assert not video._Variants("check", longest + 1).half_step
    assert not video._Variants("stored", 10).half_step


def test_variant_match_percent() -> None:
    assert hashes.variant_match_percent(80.0) == 60.0
    assert hashes.variant_match_percent(100.0) == 100 * hashes.VARIANT_SHARE


@pytest.mark.parametrize("name", ["astronaut.png", "camera.png", "coffee.png"])
def test_a_photo_filmed_in_a_video_matches_its_report(name: str) -> None:
    """A reported photo shown in a 16:9 video (the camera crops it and zooms in by up to
    10 %): each sampled frame's check variants reach the photo's stored hashes."""
    photo = skimage_photo(name)
    buf = io.BytesIO()
    photo.save(buf, "PNG")
    stored = hashes.hash_bytes(buf.getvalue()).pdq_stored
    shot = Shot(photo, 3.0, (0.5, 0.5, 1.0), (0.5, 0.5, 1.1))
    for t in (0.0, 0.5, 1.0):
        frame = io.BytesIO()
        Image.fromarray(_render(shot, t, 640, 360)).save(frame, "PNG")
        check = hashes.hash_bytes(frame.getvalue()).pdq_variants
        assert min(hashes.hamming(a, b) for a in check for b in stored) <= 31, t
