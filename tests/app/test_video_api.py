"""Videos over the HTTP API, on a real server: a video case reported as hashes (vpdq,
video_md5, video_sha256, frame variants), checked as a video, as a screenshot of one of
its frames, and a reported image found inside a checked video; the feed hands vpdq out as
Meta's serialisation; bank settings turn each direction off."""

from __future__ import annotations

import json
import secrets

import hashes
from tests.servers import Server, eventually


def _frames(n: int, start: float = 0.0) -> list[hashes.VpdqFrame]:
    return [hashes.VpdqFrame(secrets.token_hex(32), 90, float(start + t)) for t in range(n)]


def _meta(frames: list[hashes.VpdqFrame]) -> str:
    return hashes.format_vpdq(frames)


def _check(server: Server, key: str, items: list[dict]) -> dict:
    with server.client(key) as c:
        r = c.post("/v1/check", json={"hashes": items})
    assert r.status_code == 200, r.text
    return r.json()


def _matches(body: dict, kind: str) -> list[dict]:
    return [m for m in body["matches"] if m["signal_type"] == kind]


def test_a_reported_video_matches_as_video_frame_and_exact_file(
    live_server: Server, api_key: str
) -> None:
    frames = _frames(20)
    variant = secrets.token_hex(32)  # e.g. the mirrored frame at 12 s, made by hashbank
    md5, sha = secrets.token_hex(16), secrets.token_hex(32)
    with live_server.client(api_key) as c:
        r = c.post(
            "/v1/cases",
            json={
                "hashes": [
                    {"type": "vpdq", "value": [str(f) for f in frames]},  # the list form
                    {"type": "video_md5", "value": md5},
                    {"type": "video_sha256", "value": sha},
                    {"type": "pdq", "value": variant, "quality": 90, "seconds": 12.0},
                ]
            },
        )
    assert r.status_code == 201, r.text

    # the same video, as Meta's string: vPDQ's percentages and the matched interval
    body = eventually(
        lambda: (
            _check(live_server, api_key, [{"type": "vpdq", "value": _meta(frames)}])
            if _check(live_server, api_key, [{"type": "vpdq", "value": _meta(frames)}])["match"]
            else None
        ),
        timeout=3.0,
    )
    [video] = _matches(body, "vpdq")
    assert body["action"] == "review"  # a pending case
    assert (video["query_percent"], video["stored_percent"]) == (100.0, 100.0)
    assert video["interval"] == [0.0, 19.0] and video["query_interval"] == [0.0, 19.0]

    # a 10 s clip of it (frames 5-14, at other times): all its frames match, half the video's
    clip = [hashes.VpdqFrame(f.pdq, f.quality, f.seconds - 5) for f in frames[5:15]]
    [m] = _matches(_check(live_server, api_key, [{"type": "vpdq", "value": _meta(clip)}]), "vpdq")
    assert (m["query_percent"], m["stored_percent"]) == (100.0, 50.0)
    assert m["interval"] == [5.0, 14.0] and m["query_interval"] == [0.0, 9.0]

    # 70 % of a clip's frames match: under vPDQ's 80 %, no match
    mixed = clip[:7] + _frames(3, 7)
    assert not _check(live_server, api_key, [{"type": "vpdq", "value": _meta(mixed)}])["match"]

    # a screenshot of the frame at 7 s (a few bits off): the case, and the frame's time
    shot = hashes.VpdqFrame(frames[7].pdq, 90, 0)
    near = f"{int(shot.pdq, 16) ^ 0b111:064x}"
    [m] = _matches(_check(live_server, api_key, [{"type": "pdq", "value": near}]), "vpdq")
    assert m["seconds"] == 7.0 and m["band"] == "near"
    # the stored frame variant (a mirrored frame, say): a pdq match at 12 s
    [m] = _matches(_check(live_server, api_key, [{"type": "pdq", "value": variant}]), "pdq")
    assert m["seconds"] == 12.0
    # the file itself
    for kind, value in (("video_md5", md5), ("video_sha256", sha)):
        assert _matches(_check(live_server, api_key, [{"type": kind, "value": value}]), kind)

    # the feed: vpdq as Meta's serialisation, unchanged; the frame variant as a pdq
    items = [i for i in live_server.feed(api_key) if i["op"] == "add"]
    values = {i["type"]: i["value"] for i in items if i["type"] == "vpdq"}
    assert _meta(frames) in [i["value"] for i in items if i["type"] == "vpdq"]
    assert json.loads(values["vpdq"])  # a JSON array as Meta writes it
    assert variant in [i["value"] for i in items if i["type"] == "pdq"]


def test_a_check_with_frame_variants_matches_at_three_quarters_of_the_share(
    live_server: Server, api_key: str
) -> None:
    """vPDQ's 80 % for plain frames; a check carrying frame variants (pdq with seconds,
    what hashbank's own hashing sends) needs hashes.variant_match_percent: 60 %."""
    frames = _frames(20)
    with live_server.client(api_key) as c:
        r = c.post("/v1/cases", json={"hashes": [{"type": "vpdq", "value": _meta(frames)}]})
    assert r.status_code == 201, r.text
    assert eventually(
        lambda: _check(live_server, api_key, [{"type": "vpdq", "value": _meta(frames)}])["match"],
        timeout=3.0,
    )

    def query(matching: int) -> list[dict]:
        clip = frames[:matching] + _frames(10 - matching, matching)
        variants = [  # one more hash per frame, matching nothing stored
            {"type": "pdq", "value": secrets.token_hex(32), "seconds": f.seconds} for f in clip
        ]
        return [{"type": "vpdq", "value": _meta(clip)}, *variants]

    plain = query(7)[:1]
    assert not _check(live_server, api_key, plain)["match"]  # 70 %: under vPDQ's 80 %
    [m] = _matches(_check(live_server, api_key, query(7)), "vpdq")
    assert m["query_percent"] == 70.0
    assert not _check(live_server, api_key, query(5))["match"]  # 50 %: under 60 %


def test_a_reported_image_shown_in_a_checked_video_for_two_seconds(
    live_server: Server, api_key: str
) -> None:
    photo = secrets.token_hex(32)
    with live_server.client(api_key) as c:
        r = c.post("/v1/cases", json={"hashes": [{"type": "pdq", "value": photo, "quality": 90}]})
    assert r.status_code == 201, r.text
    assert eventually(
        lambda: _check(live_server, api_key, [{"type": "pdq", "value": photo}])["match"],
        timeout=3.0,
    )

    def video_showing(seconds: int) -> str:
        frames = _frames(10)
        for t in range(3, 3 + seconds):  # the photo, a few bits off, from 3 s on
            frames[t] = hashes.VpdqFrame(f"{int(photo, 16) ^ (1 << t):064x}", 80, float(t))
        return _meta(frames)

    body = _check(live_server, api_key, [{"type": "vpdq", "value": video_showing(2)}])
    [m] = _matches(body, "pdq")
    assert m["query_interval"] == [3.0, 4.0]
    # one second of it is not enough (the bank's 2 s)
    assert not _check(live_server, api_key, [{"type": "vpdq", "value": video_showing(1)}])["match"]


def test_bank_settings_turn_each_direction_off(server_factory) -> None:
    server: Server = server_factory()
    key = server.create_client()
    frames = _frames(5)
    photo = secrets.token_hex(32)
    with server.client(key) as c:
        r = c.post(
            "/v1/banks",
            json={
                "name": "strict",
                "policy": "block",
                "video": {"image_in_video": False, "video_has_image": False},
            },
        )
        assert r.status_code == 201, r.text
        assert r.json()["video"] == {
            "quality_floor": 50,
            "match_percent": 80,
            "image_in_video": False,
            "video_has_image": False,
            "image_seconds": 2,
        }
    listing = server.workdir / "strict.jsonl"
    listing.write_text(
        json.dumps({"type": "vpdq", "value": _meta(frames)})
        + "\n"
        + json.dumps({"type": "pdq", "value": photo, "quality": 90})
        + "\n"
    )
    server.cli("import", str(listing), "--bank", "strict")
    # a video against a video still matches, and blocks (the bank's policy)
    body = eventually(
        lambda: (
            (b := _check(server, key, [{"type": "vpdq", "value": _meta(frames)}]))["match"] and b
        ),
        timeout=3.0,
    )
    assert body["action"] == "block"
    # neither an image inside a stored video nor a stored image inside a video
    assert not _check(server, key, [{"type": "pdq", "value": frames[2].pdq}])["match"]
    shows = [hashes.VpdqFrame(photo, 90, float(t)) for t in range(5)] + _frames(1, 5)
    assert not _check(server, key, [{"type": "vpdq", "value": _meta(shows)}])["match"]


def test_a_video_added_to_a_case_and_checked_in_a_batch(live_server: Server, api_key: str) -> None:
    photo = secrets.token_hex(32)
    with live_server.client() as c:  # an anonymous victim: a photo first, then the video
        case = c.post(
            "/v1/cases", json={"hashes": [{"type": "pdq", "value": photo, "quality": 90}]}
        ).json()
        frames = _frames(6)
        r = c.post(
            f"/v1/cases/{case['case_id']}/hashes",
            headers={"X-Case-Pin": case["pin"]},
            json={"hashes": [{"type": "vpdq", "value": _meta(frames)}]},
        )
        assert r.status_code == 200 and r.json()["hashes"] == 2, r.text
        # a frame variant with no vPDQ value to take its quality from: refused for anyone
        # without a key (a hash with no quality counts as the lowest)
        r = c.post(
            f"/v1/cases/{case['case_id']}/hashes",
            headers={"X-Case-Pin": case["pin"]},
            json={"hashes": [{"type": "pdq", "value": secrets.token_hex(32), "seconds": 3.0}]},
        )
        assert r.status_code == 422 and "quality" in r.json()["detail"], r.text

    def batch() -> list[dict]:
        with live_server.client(api_key) as c:
            r = c.post(
                "/v1/check/batch",
                json={
                    "items": [
                        {"hashes": [{"type": "vpdq", "value": _meta(frames)}]},
                        {"hashes": [{"type": "vpdq", "value": _meta(_frames(6))}]},
                        {"hashes": [{"type": "pdq", "value": frames[3].pdq}]},
                    ]
                },
            )
        assert r.status_code == 200, r.text
        return list(r.json()["results"])

    results = eventually(lambda: (b := batch())[0]["match"] and b, timeout=3.0)
    assert [r["match"] for r in results] == [True, False, True]
    assert results[0]["matches"][0]["query_percent"] == 100.0
    assert results[2]["matches"][0]["seconds"] == 3.0
