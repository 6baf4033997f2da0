"""Issue 20: a long video sent in parts is ONE stored video.

The reporting page keeps every request under 16 KB, so it sends a long video's vPDQ frame
list in parts; each part names the video it continues (``part_of``: the case's
``video_sha256`` of that file). The server appends a part to the case's video: a whole
re-upload then matches the reported video at vPDQ's 80 % (with one stored video per
part, no part ever reached it), the feed carries Meta's serialisation of the joined
video, and withdrawal removes all of it. A part that names another case's video, a
closed case's, or a hash that is not a video's is refused (4xx problem).

Runs on both engines: the append is a read-modify-write of one row under the case's row
lock, and two parts sent at once must both land (PostgreSQL has real concurrency).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import hashes
from tests.servers import Server, eventually

PART = 150  # frames per part: about 12 KB of JSON, as the reporting page cuts them
LIMIT_16K = 16 * 1024


def _frames(n: int, start: float = 0.0) -> list[hashes.VpdqFrame]:
    return [hashes.VpdqFrame(secrets.token_hex(32), 90, float(start + t)) for t in range(n)]


def _texts(frames: list[hashes.VpdqFrame]) -> list[str]:
    return [str(f) for f in frames]


def _parts(frames: list[hashes.VpdqFrame], size: int = PART) -> list[list[str]]:
    return [_texts(frames[i : i + size]) for i in range(0, len(frames), size)]


def _post(c: Any, path: str, hashes_: list[dict[str, Any]], pin: str | None = None) -> Any:
    body = json.dumps({"hashes": hashes_}).encode()
    assert len(body) <= LIMIT_16K, len(body)  # what the page may send
    headers = {"Content-Type": "application/json"}
    if pin:
        headers["X-Case-Pin"] = pin
    return c.post(path, content=body, headers=headers)


def _new(c: Any, items: list[dict[str, Any]]) -> Any:
    return _post(c, "/v1/cases", items)


def _add(c: Any, case: tuple[str, str], items: list[dict[str, Any]]) -> Any:
    return _post(c, f"/v1/cases/{case[0]}/hashes", items, case[1])


def _part(value: list[str], video: str) -> dict[str, Any]:
    return {"type": "vpdq", "value": value, "part_of": video}


def _report_in_parts(
    server: Server, frames: list[hashes.VpdqFrame], sha: str | None = None
) -> tuple[str, str, str]:
    """Report a video as the page does: exact hashes and the first part, then one request
    per further part. Returns (case id, PIN, the video's SHA-256)."""
    sha = sha or secrets.token_hex(32)
    first, *rest = _parts(frames)
    with server.client() as c:
        r = _post(
            c,
            "/v1/cases",
            [
                {"type": "video_md5", "value": secrets.token_hex(16)},
                {"type": "video_sha256", "value": sha},
                {"type": "vpdq", "value": first, "part_of": sha},
            ],
        )
        assert r.status_code == 201, r.text
        case_id, pin = r.json()["case_id"], r.json()["pin"]
        for part in rest:
            r = _post(
                c,
                f"/v1/cases/{case_id}/hashes",
                [{"type": "vpdq", "value": part, "part_of": sha}],
                pin,
            )
            assert r.status_code == 200, r.text
    return case_id, pin, sha


def _check(server: Server, key: str, value: str) -> dict[str, Any]:
    with server.client(key) as c:
        r = c.post("/v1/check", json={"hashes": [{"type": "vpdq", "value": value}]})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _videos(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body["matches"] if m["signal_type"] == "vpdq"]


def _feed_videos(server: Server, key: str) -> dict[int, str | None]:
    """The feed's last word on each vpdq signal id: its value, or None once removed."""
    out: dict[int, str | None] = {}
    for item in server.feed(key):
        if item["type"] == "vpdq":
            out[item["signal_id"]] = None if item["op"] == "remove" else item["value"]
    return out


def test_a_long_video_reported_in_parts_matches_a_whole_re_upload(
    live_server: Server, api_key: str
) -> None:
    frames = _frames(400)  # three parts of at most 150 frames
    case_id, pin, _ = _report_in_parts(live_server, frames)
    whole = hashes.format_vpdq(frames)

    body = eventually(lambda: _videos(_check(live_server, api_key, whole)), timeout=3.0)
    [video] = body  # one stored video
    assert (video["query_percent"], video["stored_percent"]) == (100.0, 100.0)
    assert video["interval"] == [0.0, 399.0]
    # a 60 s clip from the middle of the second part matches too
    clip = hashes.format_vpdq(
        [hashes.VpdqFrame(f.pdq, f.quality, f.seconds - 200) for f in frames[200:260]]
    )
    [m] = _videos(_check(live_server, api_key, clip))
    assert m["query_percent"] == 100.0 and m["interval"] == [200.0, 259.0]

    # one stored video: the case holds 3 hashes (md5, sha256, vpdq), the feed one joined
    # value equal to Meta's serialisation of the whole video
    with live_server.client() as c:
        assert c.get(f"/v1/cases/{case_id}", headers={"X-Case-Pin": pin}).json()["hashes"] == 3
    assert whole in _feed_videos(live_server, api_key).values()


def test_unlinked_parts_stay_videos_of_their_own_and_never_match_whole(
    live_server: Server, api_key: str
) -> None:
    """What the link fixes: the same parts sent with no ``part_of`` are three videos, and
    the whole video's frames are at most 150/400 = 37.5 % of any of them."""
    frames = _frames(400)
    with live_server.client() as c:
        parts = [{"type": "vpdq", "value": p} for p in _parts(frames)]
        r = c.post("/v1/cases", json={"hashes": parts})
        assert r.status_code == 201, r.text
    eventually(lambda: _check(live_server, api_key, hashes.format_vpdq(frames[:150]))["match"])
    assert not _check(live_server, api_key, hashes.format_vpdq(frames))["match"]


def test_a_retried_part_is_not_added_twice_and_parts_may_come_out_of_order(
    live_server: Server, api_key: str
) -> None:
    frames = _frames(300)
    sha = secrets.token_hex(32)
    p1, p2 = _parts(frames)
    with live_server.client() as c:
        r = _new(c, [{"type": "video_sha256", "value": sha}, _part(p2, sha)])
        case = r.json()["case_id"], r.json()["pin"]
        for _ in range(2):  # the first part, then the same request again (a retry)
            r = _add(c, case, [_part(p1, sha)])
            assert r.status_code == 200, r.text
    whole = hashes.format_vpdq(frames)  # in time order, each frame once
    assert whole in _feed_videos(live_server, api_key).values()
    [m] = eventually(lambda: _videos(_check(live_server, api_key, whole)))
    assert (m["query_percent"], m["stored_percent"]) == (100.0, 100.0)


def test_parts_in_one_request_are_one_video(live_server: Server, api_key: str) -> None:
    frames = _frames(40)
    sha = secrets.token_hex(32)
    items = [{"type": "vpdq", "value": p, "part_of": sha} for p in _parts(frames, 15)]
    with live_server.client(api_key) as c:  # a platform's report key: no size limit
        r = c.post("/v1/cases", json={"hashes": [{"type": "video_sha256", "value": sha}, *items]})
    assert r.status_code == 201, r.text
    assert r.json()["case_id"]
    [m] = eventually(lambda: _videos(_check(live_server, api_key, hashes.format_vpdq(frames))))
    assert (m["query_percent"], m["stored_percent"]) == (100.0, 100.0)


# -- refused parts ---------------------------------------------------------------------------


def _problem(r: Any, status: int, words: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert words in r.json()["detail"], r.json()


def test_a_part_cannot_attach_to_another_cases_video(live_server: Server, api_key: str) -> None:
    victim = _frames(200)
    _, _, sha = _report_in_parts(live_server, victim)
    feed_before = _feed_videos(live_server, api_key)
    junk = _texts(_frames(150, 200))
    with live_server.client() as c:
        # a new case naming the victim's video: not a video of this request's case
        _problem(_new(c, [_part(junk, sha)]), 422, "part_of")
        # an attacker's own case, adding to the victim's video by its SHA-256
        r = _new(c, [{"type": "md5", "value": secrets.token_hex(16)}])
        case = r.json()["case_id"], r.json()["pin"]
        _problem(_add(c, case, [_part(junk, sha)]), 422, "part_of")
    # the victim's video is unchanged, and still matches whole
    assert _feed_videos(live_server, api_key) == feed_before
    [m] = _videos(_check(live_server, api_key, hashes.format_vpdq(victim)))
    assert m["stored_percent"] == 100.0


def test_a_part_of_a_hash_that_is_not_a_video_is_refused(live_server: Server) -> None:
    image_sha = secrets.token_hex(32)
    part = _texts(_frames(10))
    with live_server.client() as c:
        image = {"type": "sha256", "value": image_sha}
        _problem(_new(c, [image, _part(part, image_sha)]), 422, "not a video")
        r = _new(c, [image])
        case = r.json()["case_id"], r.json()["pin"]
        _problem(_add(c, case, [_part(part, image_sha)]), 422, "not a video")
        # part_of belongs to a vpdq value only, and is a SHA-256
        r = _new(c, [{"type": "video_sha256", "value": image_sha, "part_of": image_sha}])
        _problem(r, 422, "part_of")
        _problem(_new(c, [_part(part, "not-hex")]), 422, "part_of")


def test_a_withdrawn_cases_video_takes_no_part_and_stops_matching(
    live_server: Server, api_key: str
) -> None:
    """Withdrawal removes the whole video, and the frame variants (mirrored, cropped
    frames: the hard edits a report made by hashbank stores) with it."""
    frames = _frames(300)
    case_id, pin, sha = _report_in_parts(live_server, frames[:200])
    variant = {"type": "pdq", "value": secrets.token_hex(32), "quality": 90, "seconds": 180.0}
    with live_server.client() as c:
        assert _add(c, (case_id, pin), [variant]).status_code == 200
    whole = hashes.format_vpdq(frames[:200])

    def variant_matches() -> bool:
        with live_server.client(api_key) as c:
            r = c.post("/v1/check", json={"hashes": [{"type": "pdq", "value": variant["value"]}]})
        return bool(r.json()["match"])

    eventually(lambda: _videos(_check(live_server, api_key, whole)))
    assert variant_matches()
    with live_server.client() as c:
        assert c.delete(f"/v1/cases/{case_id}", headers={"X-Case-Pin": pin}).status_code == 200
        r = _add(c, (case_id, pin), [_part(_texts(frames[200:]), sha)])
        _problem(r, 409, "withdrawn")
    assert not _check(live_server, api_key, whole)["match"]
    assert not variant_matches()


def test_the_joined_video_is_held_to_the_frame_limit(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory(extra_env={"HASHBANK_MAX_VIDEO_FRAMES": "250"})
    frames = _frames(300)
    sha = secrets.token_hex(32)
    p1, p2 = _parts(frames)
    with server.client() as c:
        r = _new(c, [{"type": "video_sha256", "value": sha}, _part(p1, sha)])
        case = r.json()["case_id"], r.json()["pin"]
        _problem(_add(c, case, [_part(p2, sha)]), 422, "at most 250 frames")


# -- concurrency -------------------------------------------------------------------------------


@pytest.mark.parametrize("at_once", [4])
def test_parts_sent_at_once_all_land(live_server: Server, api_key: str, at_once: int) -> None:
    """Several requests append to one video at the same moment: none is lost (the append
    reads and rewrites one row, under the case's row lock)."""
    frames = _frames(PART * (1 + 2 * at_once))
    first, *rest = _parts(frames)
    sha = secrets.token_hex(32)
    with live_server.client() as c:
        r = _new(c, [{"type": "video_sha256", "value": sha}, _part(first, sha)])
        case = r.json()["case_id"], r.json()["pin"]

    def send(part: list[str]) -> int:
        with live_server.client() as c:
            return int(_add(c, case, [_part(part, sha)]).status_code)

    with ThreadPoolExecutor(at_once) as pool:
        assert list(pool.map(send, rest)) == [200] * len(rest)
    whole = hashes.format_vpdq(frames)
    assert whole in _feed_videos(live_server, api_key).values()
    [m] = eventually(lambda: _videos(_check(live_server, api_key, whole)))
    assert (m["query_percent"], m["stored_percent"]) == (100.0, 100.0)


# -- one video everywhere: the dashboard, the change log, replicas, snapshots -------------------


def test_the_dashboard_shows_one_video_of_all_its_frames(live_server: Server) -> None:
    from tests.app.test_dashboard_http import PASSWORD, sign_in

    frames = _frames(320)
    case_id, _, _ = _report_in_parts(live_server, frames)
    name = "parts-" + secrets.token_hex(4)
    live_server.create_user(name, PASSWORD, "moderator")
    client, _ = sign_in(live_server, name)
    try:
        r = client.get("/dashboard/search", params={"q": case_id})
        assert r.status_code == 303, r.text
        page = client.get(r.headers["location"]).text
    finally:
        client.close()
    assert page.count("video of 319.0 s, 320 frames") == 1
    assert "frames</span>" in page and "video of 149.0 s" not in page


def _service_bank(folder: Any) -> Any:
    from app.index.replica import IndexReplica
    from app.services.cases import CaseService
    from app.storage.db import Database
    from tests.servers import fresh_database_url

    db = Database(fresh_database_url(folder))
    db.upgrade()
    replica = IndexReplica(db)
    replica.load()
    return db, replica, CaseService(db, replica, max_video_frames=1000)


def test_an_append_is_a_remove_and_an_add_of_the_same_signal_and_replicas_follow(
    tmp_path: Any,
) -> None:
    """The change log says an append as ``remove`` (the old digest) then ``add`` (the
    joined value, read from the signal row) of one signal id; a second replica that
    loaded before the append, one loaded after, and one standing on an index snapshot
    written before it (the change replayed) or after it all hold one video of every
    frame."""
    from app.index.replica import IndexReplica
    from app.index.snapshots import SnapshotStore
    from app.services.inputs import HashInput
    from app.storage.repositories import ChangeRepository

    db, replica, cases = _service_bank(tmp_path)
    try:
        frames = _frames(300)
        p1, p2 = (hashes.format_vpdq(frames[i : i + 150]) for i in (0, 150))
        sha = secrets.token_hex(32)
        new = cases.report(
            [HashInput("video_sha256", sha), HashInput("vpdq", p1, part_of=sha)],
            actor="test",
            quality_required=True,
        )
        other = IndexReplica(db)
        other.load()
        store = SnapshotStore(tmp_path / "snapshots", db.url)
        assert store.write(replica) is not None  # before the append
        view = cases.authenticate(new.case_id, new.pin)
        cases.add_hashes(view, [HashInput("vpdq", p2, part_of=sha)], limit=600)

        with db.read() as session:
            log = [c for c in ChangeRepository(session).after(0, 100) if c.signal_type == "vpdq"]
        whole = hashes.format_vpdq(frames)
        assert [(str(c.op), c.value) for c in log] == [
            ("add", whole),  # the first add reads the row as it is now
            ("remove", hashlib.sha256(p1.encode()).hexdigest()),  # the old value's digest
            ("add", whole),
        ]
        assert len({c.signal_id for c in log}) == 1
        sid = log[0].signal_id
        assert sid is not None

        other.sync()
        from_snapshot = IndexReplica(db, snapshots=store)
        from_snapshot.load()
        assert from_snapshot.snapshot is not None
        fresh = IndexReplica(db)
        fresh.load()
        store.write(fresh)
        after = IndexReplica(db, snapshots=SnapshotStore(tmp_path / "snapshots", db.url))
        after.load()
        assert after.snapshot is not None and after.snapshot.seq > from_snapshot.snapshot.seq
        for r in (replica, other, from_snapshot, fresh, after):
            video = r.video(sid)
            assert video is not None and video.frames == 300 and video.duration == 299.0
            assert len(r.videos) == 300  # each frame indexed once: one video
            hits = r.search_frames([frames[0].pdq, frames[299].pdq], 0)
            assert sorted(h.position for h in hits) == [0, 299]
    finally:
        db.dispose()


def test_pytx_matches_the_whole_video_against_the_joined_value(
    live_server: Server, api_key: str
) -> None:
    """What a pytx client (python-threatexchange's vPDQ signal, Meta's matcher) does with
    the feed's value: the whole video matches the joined value, and no single part."""
    vpdq = pytest.importorskip("threatexchange.extensions.vpdq.vpdq")
    frames = _frames(320)
    _, _, _ = _report_in_parts(live_server, frames)
    whole = hashes.format_vpdq(frames)
    assert whole in _feed_videos(live_server, api_key).values()
    assert vpdq.VPDQSignal.compare_hash(whole, whole).match
    for part in _parts(frames):
        assert not vpdq.VPDQSignal.compare_hash(whole, json.dumps(part)).match


def test_a_check_joins_the_parts_of_one_request(live_server: Server, api_key: str) -> None:
    frames = _frames(300)
    case_id, _, _ = _report_in_parts(live_server, frames)
    assert case_id
    video = secrets.token_hex(32)  # a check names no stored hash: any key joins its parts
    items = [_part(p, video) for p in _parts(frames, 100)]
    with live_server.client(api_key) as c:
        [m] = eventually(lambda: _videos(c.post("/v1/check", json={"hashes": items}).json()))
        assert (m["query_percent"], m["stored_percent"]) == (100.0, 100.0)
        r = c.post("/v1/check", json={"hashes": [{"type": "md5", "value": "ab" * 16,
                                                  "part_of": video}]})  # fmt: skip
        _problem(r, 422, "part_of")
