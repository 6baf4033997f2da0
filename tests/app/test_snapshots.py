"""Index snapshots: a replica maps the newest valid one and replays the change log after
it, answering exactly as one loaded from the database; every damaged, foreign or stale
snapshot is refused (logged) and answered by a full load from the database.

Real SQLite files, real snapshot files (a real tmpfs for the full disk); no mocks.
"""

from __future__ import annotations

import errno
import gc
import json
import logging
import os
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hashes
from app.index.replica import IndexReplica
from app.index.snapshots import MANIFEST, Refresher, SnapshotStore, _touch
from app.services.banks import BankEntries
from app.services.inputs import HashInput
from app.storage.db import Database
from benchmarks.replica_load import evict
from tests.servers import Server, eventually, fresh_database_url

REFUSED = "index snapshot refused"


def _database(folder: Path, *, sqlite: bool = False) -> Database:
    """A new database: PostgreSQL when the suite runs on it (the change log's anchor and
    head are read there), else (or with ``sqlite``: tests that copy the file) SQLite."""
    url = f"sqlite:///{folder}/bank.db" if sqlite else fresh_database_url(folder)
    db = Database(url)
    db.upgrade()
    return db


def _pdq(n: int, rng: np.random.Generator) -> list[str]:
    return [rng.bytes(32).hex() for _ in range(n)]


def _add(db: Database, values: list[str], kind: str = "pdq") -> None:
    items = [HashInput(kind, v, 90 if kind == "pdq" else None) for v in values]
    BankEntries(db).add("reports", items, actor="test")


def _remove(db: Database, values: list[str], kind: str = "pdq") -> None:
    BankEntries(db).remove("reports", [HashInput(kind, v) for v in values], actor="test")


def _store(db: Database, folder: Path, keep: int = 2) -> SnapshotStore:
    return SnapshotStore(folder / "snapshots", db.url, keep=keep)


def _loaded(db: Database, store: SnapshotStore | None = None) -> IndexReplica:
    replica = IndexReplica(db, snapshots=store)
    replica.load()
    return replica


def _state(replica: IndexReplica, queries: list[str]) -> Any:
    """Everything a check reads: hits with distances and signal info, exact hashes, sizes."""
    hits = replica.search("pdq", queries, 31)
    top = max((i for i in range(1, 100_000) if replica.info(i)), default=0)
    return (
        [(h.query, h.distance, h.signal_id, replica.info(h.signal_id)) for h in hits],
        {k: set(v) for k, v in replica.exact.items()},
        [replica.info(i) for i in range(top + 2)],
        replica.size(),
        replica.seq,
    )


def _near(values: list[str], rng: np.random.Generator) -> list[str]:
    """Queries: the stored values with a few bits flipped, and random ones."""
    out = []
    for v in values[:50]:
        raw = bytearray(bytes.fromhex(v))
        for bit in rng.choice(256, int(rng.integers(0, 40)), replace=False).tolist():
            raw[bit // 8] ^= 1 << (bit % 8)
        out.append(raw.hex())
    return out + _pdq(5, rng)


def _bank(folder: Path, *, sqlite: bool = False) -> tuple[Database, SnapshotStore, list[str]]:
    rng = np.random.default_rng(7)
    db = _database(folder, sqlite=sqlite)
    values = _pdq(3000, rng)
    _add(db, values)
    _add(db, [secrets.token_hex(16) for _ in range(20)], kind="md5")
    return db, _store(db, folder), values


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[tuple[Database, SnapshotStore, list[str]]]:
    made = _bank(tmp_path)
    yield made
    made[0].dispose()


def _copy(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database in WAL mode (its backup API)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def _refused(caplog: pytest.LogCaptureFixture, words: str) -> None:
    reasons = [getattr(r, "reason", "") for r in caplog.records if r.getMessage() == REFUSED]
    assert any(words in reason for reason in reasons), reasons


def _files(snapshot: Path, prefix: str) -> Path:
    return next(p for p in sorted(snapshot.iterdir()) if p.name.startswith(prefix))


# -- the snapshot is used ------------------------------------------------------------------


def test_a_snapshot_is_mapped_and_the_changes_after_it_replayed(bank) -> None:
    db, store, values = bank
    rng = np.random.default_rng(1)
    info = store.write(_loaded(db))
    assert info is not None and info.signals == 3020
    more = _pdq(40, rng)
    _add(db, more)  # after the snapshot: replayed from the change log
    _remove(db, values[:30])
    replica = _loaded(db, store)
    assert replica.snapshot is not None and replica.snapshot.path == info.path
    assert replica.perceptual["pdq"].mapped
    assert replica.perceptual["pdq"].delta_rows == 40  # only the delta is private
    queries = _near(values[:20] + values[40:60] + more[:10], rng)
    assert _state(replica, queries) == _state(_loaded(db), queries)
    # the mapped files are read-only and never written by the replica's own changes
    words = _files(info.path, "index.pdq.words")
    before = words.read_bytes()
    _remove(db, values[30:40])
    replica.sync()
    assert words.read_bytes() == before
    assert _state(replica, queries) == _state(_loaded(db), queries)


def test_videos_and_frame_times_survive_a_mapped_snapshot(bank) -> None:
    """A snapshot holds the index arrays and the signal table, not vPDQ frames nor frame
    variants' times: a replica standing on one reads those rows (and only those) again.
    Before this, a replica started from a snapshot matched no stored video."""
    db, store, values = bank
    rng = np.random.default_rng(3)
    frames = _pdq(6, rng)
    video = json.dumps([f"{f},90,{i}.0" for i, f in enumerate(frames)])
    variant = _pdq(1, rng)[0]
    BankEntries(db).add(
        "reports",
        [HashInput("vpdq", video), HashInput("pdq", variant, 90, seconds=4.0)],
        actor="test",
    )
    info = store.write(_loaded(db))
    assert info is not None
    later = json.dumps([f"{f},90,{i}.0" for i, f in enumerate(_pdq(3, rng))])
    BankEntries(db).add("reports", [HashInput("vpdq", later)], actor="test")  # replayed
    replica = _loaded(db, store)
    fresh = _loaded(db)
    assert replica.snapshot is not None and replica.perceptual["pdq"].mapped

    def seen(r: IndexReplica) -> tuple[Any, ...]:
        hits = sorted((h.signal_id, h.distance) for h in r.search_frames(frames[:3], 31))
        variant_ids = [h.signal_id for h in r.search("pdq", [variant], 0)]
        return (hits, [r.frame_seconds(i) for i in variant_ids], len(r.videos))

    assert seen(replica) == seen(fresh)
    assert seen(replica)[0] and seen(replica)[1] == [4.0] and seen(replica)[2] == 9  # frames


def test_snapshot_files_are_the_services_own_and_old_ones_go(bank) -> None:
    db, store, values = bank
    replica = _loaded(db)
    written = []
    for i in range(4):
        _add(db, [values[i][:-2] + "00"])
        replica.sync()
        info = store.write(replica)
        assert info is not None
        written.append(info.path)
    assert store.list() == written[::-1][:2]  # the newest two kept
    assert not any(p.name.startswith(".tmp-") for p in store.directory.iterdir())
    assert store.directory.stat().st_mode & 0o777 == 0o700
    for file in written[-1].iterdir():
        assert file.stat().st_mode & 0o777 == 0o600, file


# -- every failure: detected, logged, answered by a full load ------------------------------


def _falls_back(db: Database, store: SnapshotStore, caplog, words: str) -> None:
    rng = np.random.default_rng(3)
    with caplog.at_level(logging.INFO):
        replica = _loaded(db, store)
    assert replica.snapshot is None
    if words:
        _refused(caplog, words)
    fresh = _loaded(db)
    values = [sig.value for sig in BankEntries(db).export(None) if sig.type == "pdq"]
    queries = _near(values, rng)
    assert _state(replica, queries) == _state(fresh, queries)


def test_a_truncated_file_is_refused(bank, caplog) -> None:
    db, store, _ = bank
    info = store.write(_loaded(db))
    assert info is not None
    entries = _files(info.path, "index.pdq.entries")
    with entries.open("r+b") as fh:
        fh.truncate(entries.stat().st_size - 100)
    _falls_back(db, store, caplog, "bytes, the manifest says")


def test_a_flipped_bit_is_refused(bank, caplog) -> None:
    db, store, _ = bank
    info = store.write(_loaded(db))
    assert info is not None
    words = _files(info.path, "index.pdq.words")
    raw = bytearray(words.read_bytes())
    raw[len(raw) // 2] ^= 0x10  # one hash differs by one bit: it would match wrongly
    words.write_bytes(bytes(raw))
    _falls_back(db, store, caplog, "damaged (checksum)")


def test_a_snapshot_of_another_format_version_is_refused(bank, caplog) -> None:
    db, store, _ = bank
    info = store.write(_loaded(db))
    assert info is not None
    manifest = info.path / MANIFEST
    manifest.write_text(manifest.read_text().replace('"version": 1', '"version": 2'))
    _falls_back(db, store, caplog, "format version 2, expected 1")


def test_a_snapshot_of_another_index_chunking_is_refused(bank, caplog) -> None:
    """HASHBANK_PDQ_INDEX_CHUNKS changed since the snapshot was written: the arrays do not
    fit the process's index, so a full load (with the new chunking), never a wrong match."""
    db, store, values = bank
    assert store.write(_loaded(db)) is not None  # the default: 11 chunks
    with caplog.at_level(logging.INFO):
        replica = IndexReplica(db, snapshots=store, chunks={"pdq": 10})
        replica.load()
    assert replica.snapshot is None and replica.perceptual["pdq"].chunks == 10
    _refused(caplog, "the indexes differ")
    queries = _near(values, np.random.default_rng(4))
    assert _state(replica, queries) == _state(_loaded(db), queries)


def test_no_snapshot_is_a_full_load(bank, caplog) -> None:
    db, store, _ = bank
    _falls_back(db, store, caplog, "")
    assert not store.list()


def test_a_snapshot_ahead_of_the_database_is_refused(tmp_path, caplog) -> None:
    """A backup of the database restored under a newer snapshot: its change log ends
    before the snapshot's sequence. (SQLite: the test copies the database file.)"""
    db, store, values = _bank(tmp_path, sqlite=True)
    backup = tmp_path / "backup.db"
    _copy(tmp_path / "bank.db", backup)
    _remove(db, values[:100])  # removed after the backup: the snapshot lacks them
    assert store.write(_loaded(db)) is not None
    db.dispose()
    _copy(backup, tmp_path / "bank.db")
    _falls_back(db, store, caplog, "ahead of the database")
    db.dispose()


def test_a_restored_backup_that_moved_past_the_snapshot_is_refused(tmp_path, caplog) -> None:
    """The same, after the restored database took new changes beyond the snapshot's
    sequence: the change at that sequence is another one."""
    db, store, values = _bank(tmp_path, sqlite=True)
    backup = tmp_path / "backup.db"
    _copy(tmp_path / "bank.db", backup)
    _remove(db, values[:100])
    assert store.write(_loaded(db)) is not None
    db.dispose()
    _copy(backup, tmp_path / "bank.db")
    _add(db, _pdq(150, np.random.default_rng(9)))
    _falls_back(db, store, caplog, "is not the one the snapshot saw")
    db.dispose()


def test_a_snapshot_of_another_database_is_refused(bank, tmp_path, caplog) -> None:
    db, store, _ = bank
    (tmp_path / "other").mkdir()
    other = _database(tmp_path / "other")
    _add(other, _pdq(5, np.random.default_rng(2)))
    foreign = SnapshotStore(store.directory, other.url)
    assert foreign.write(_loaded(other)) is not None
    other.dispose()
    _falls_back(db, store, caplog, "another database")


def test_a_directory_other_users_may_write_is_not_used(bank, caplog) -> None:
    """Another local user able to write there could plant a snapshot with matching
    checksums (suppressing a victim's hashes): such a directory is refused."""
    db, store, _ = bank
    assert store.write(_loaded(db)) is not None
    store.directory.chmod(0o777)
    with caplog.at_level(logging.INFO):
        replica = _loaded(db, store)
    assert replica.snapshot is None
    assert any(
        "writable by other users" in getattr(r, "reason", "")
        for r in caplog.records
        if r.getMessage() == "index snapshots not used"
    )
    with pytest.raises(PermissionError):
        store.write(replica)
    store.directory.chmod(0o700)
    assert _loaded(db, store).snapshot is not None


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB tmpfs (root only: scripts/test.sh runs the tests as root)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_leaves_the_older_snapshot_whole(tiny_disk, tmp_path, caplog) -> None:
    db = _database(tmp_path)
    store = SnapshotStore(tiny_disk / "snapshots", db.url)
    rng = np.random.default_rng(4)
    _add(db, _pdq(500, rng))
    small = store.write(_loaded(db))  # ~0.2 MB: fits
    assert small is not None
    _add(db, _pdq(12_000, rng))  # ~1.5 MB: does not
    with pytest.raises(OSError) as raised:
        store.write(_loaded(db))
    assert raised.value.errno == errno.ENOSPC
    assert store.list() == [small.path]  # the partial one is gone, the older one intact
    assert not any(p.name.startswith(".tmp-") for p in store.directory.iterdir())
    with caplog.at_level(logging.INFO):
        replica = _loaded(db, store)
    assert replica.snapshot is not None and replica.snapshot.path == small.path
    queries = _near(_pdq(20, rng), rng)
    assert _state(replica, queries) == _state(_loaded(db), queries)
    # with the old one damaged too, the replica loads from the database
    _files(small.path, "table.bank").write_bytes(b"\x93NUMPY")
    _falls_back(db, store, caplog, "manifest says")
    db.dispose()


# -- background refresh ----------------------------------------------------------------------


def test_refresh_writes_when_the_delta_grows_and_others_switch(bank) -> None:
    db, store, _ = bank
    a = _loaded(db, store)
    b = _loaded(db, store)
    a_refresh = Refresher(store, a, delta_changes=50, max_age=3600)
    b_refresh = Refresher(store, b, delta_changes=50, max_age=3600)
    a_refresh.step()  # none yet: a writes one and stands on it
    assert a.snapshot is not None and a.perceptual["pdq"].mapped
    b_refresh.step()  # b switches to it
    assert b.snapshot is not None and b.snapshot.path == a.snapshot.path
    first = a.snapshot.path
    _add(db, _pdq(49, np.random.default_rng(5)))
    a.sync()
    a_refresh.step()
    assert a.snapshot.path == first  # 49 changes: not yet
    _add(db, _pdq(1, np.random.default_rng(6)))
    a.sync()
    a_refresh.step()
    assert a.snapshot.path != first and a.perceptual["pdq"].delta_rows == 0
    b.sync()
    assert b.perceptual["pdq"].delta_rows == 50
    b_refresh.step()
    assert b.snapshot.path == a.snapshot.path and b.perceptual["pdq"].delta_rows == 0
    queries = _near(_pdq(10, np.random.default_rng(8)), np.random.default_rng(8))
    assert _state(a, queries) == _state(b, queries) == _state(_loaded(db), queries)


def test_a_switch_lets_go_of_the_old_index_at_the_next_step(bank) -> None:
    """The state a switch replaces is dropped by the refresher's next step, in its own
    thread, not at the swap: a check may still be reading it, and unmapping it while
    checks first touch the new mapping stalled them (docs/benchmarks.md)."""
    db, store, _ = bank
    a, b = _loaded(db, store), _loaded(db, store)
    Refresher(store, a, delta_changes=1, max_age=3600).step()  # a writes one
    refresh = Refresher(store, b, delta_changes=10**6, max_age=3600)
    old = weakref.ref(b.perceptual["pdq"])
    assert refresh.switch()
    gc.collect()
    assert old() is not None and b.perceptual["pdq"] is not old()  # retired, not dropped
    refresh.step()
    gc.collect()
    assert old() is None


def _resident(path: Path, field: str = "Rss") -> int:
    """Resident bytes of this process's mappings of ``path`` (/proc/self/smaps); with
    ``field="FilePmdMapped"``, those mapped by 2 MB pages."""
    rss, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if line[:1].isalnum() and "-" in line.split(" ", 1)[0]:  # a mapping's header
            inside = line.endswith(str(path))
        elif inside and line.startswith(f"{field}:"):
            rss += int(line.split()[1]) * 1024
    return rss


def _file_huge_pages(folder: Path) -> bool:
    """Whether this kernel keeps a file of ``folder``'s file system in 2 MB page-cache
    folios that a mapping maps whole (large folios and file THP): a file written in
    one aligned 8 MB write, then mapped and read."""
    probe = folder / "probe.bin"
    probe.write_bytes(os.urandom(8 << 20))
    mapped = np.memmap(probe, mode="r")
    _touch(mapped)
    huge = _resident(probe, "FilePmdMapped") > 0
    del mapped
    probe.unlink()
    return huge


def _huge_share(folder: Path) -> float:
    """Of this process's mappings of the files of ``folder`` over 8 MB, the share mapped
    by 2 MB pages once every page is touched."""
    files = [f for f in folder.rglob("*.npy") if f.stat().st_size > 8 << 20]
    assert files
    return sum(_resident(f, "FilePmdMapped") for f in files) / sum(_resident(f) for f in files)


@pytest.mark.skipif(
    not Path("/sys/kernel/mm/transparent_hugepage/enabled").exists()
    or "[never]" in Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text(),
    reason="no transparent huge pages on this kernel",
)
def test_a_mapped_snapshot_sits_in_huge_pages(tmp_path) -> None:
    """The mapped index searches as fast as the in-memory one only when its files are
    mapped by 2 MB pages (TLB misses: 4 KB pages cost ~7 %, docs/benchmarks.md). The
    writer's slices end on 8 MB boundaries of the file (not of the array, 128 bytes
    in: every slice began mid-page and 1/4 of each file lost its huge folios), and a
    snapshot read cold is checksummed through a mapping advised for huge pages (read()
    filled the cache with small folios: 0-67 % of a file mapped whole)."""
    if not _file_huge_pages(tmp_path):
        pytest.skip("this file system keeps no file in huge page-cache folios")
    db = Database(f"sqlite:///{tmp_path}/bank.db")
    db.upgrade()
    replica = IndexReplica(db)
    n = 600_000
    ids = np.arange(1, n + 1, dtype=np.int64)
    rng = np.random.default_rng(5)
    replica.perceptual["pdq"].add(ids, rng.integers(0, 256, (n, 32), dtype=np.uint8))
    replica.signals.put(ids, ["pdq"] * n, [1] * n, [None] * n, ["bank"] * n)
    replica.loaded = True
    store = SnapshotStore(tmp_path / "snapshots", db.url)
    written = store.write(replica)
    assert written is not None
    for cold in (False, True):
        if cold:
            evict(tmp_path / "snapshots")  # as after a reboot
        mapped = IndexReplica(db, snapshots=store)
        mapped.load()
        index = mapped.perceptual["pdq"]
        assert index.mapped
        for array in index.export()().values():  # unchanged: the mapped arrays themselves
            _touch(array)
        assert _huge_share(tmp_path / "snapshots") >= 0.85, "cold" if cold else "as written"
        del mapped, index
        gc.collect()


def test_touch_maps_every_page_of_a_mapped_array(tmp_path) -> None:
    file = tmp_path / "a.npy"
    np.save(file, np.zeros(8 << 20, dtype=np.uint8))
    mapped = np.load(file, mmap_mode="r")
    before = _resident(file)
    _touch(mapped)
    assert before < 4 << 20 and _resident(file) >= 8 << 20


def test_refresh_keeps_the_replicas_chunking(bank) -> None:
    """A replica of another chunk count writes its snapshot and switches to it (the
    switch maps it into an index of the same chunking, else it would be refused)."""
    db, store, values = bank
    replica = IndexReplica(db, snapshots=store, chunks={"pdq": 10})
    replica.load()
    Refresher(store, replica, delta_changes=1, max_age=3600).step()
    assert replica.snapshot is not None and replica.perceptual["pdq"].mapped
    assert replica.perceptual["pdq"].chunks == 10
    queries = _near(values, np.random.default_rng(9))
    assert _state(replica, queries) == _state(_loaded(db), queries)


def test_the_setting_reaches_the_pdq_index(tmp_path) -> None:
    """HASHBANK_PDQ_INDEX_CHUNKS: the service's PDQ index (and only it) is cut that way;
    0 keeps the library's default."""
    from app.config import Settings
    from app.services.container import Services

    url = f"sqlite:///{tmp_path}/bank.db"
    for setting, expected in ((10, 10), (0, hashes.HashIndex(256).chunks)):
        services = Services.build(Settings(database_url=url, pdq_index_chunks=setting))
        try:
            assert services.replica.perceptual["pdq"].chunks == expected
            assert services.replica.perceptual["phash"].chunks == hashes.HashIndex(64).chunks
        finally:
            services.close()


def test_refresh_by_age(bank) -> None:
    db, store, _ = bank
    a = _loaded(db, store)
    refresh = Refresher(store, a, delta_changes=10**6, max_age=0.2, period=0.05)
    refresh.step()
    first = a.snapshot
    assert first is not None
    refresh.start()
    try:
        eventually(lambda: True, timeout=0.3)
        assert a.snapshot == first  # nothing changed: no new snapshot however old
        _add(db, _pdq(1, np.random.default_rng(1)))
        a.sync()
        eventually(lambda: a.snapshot is not None and a.snapshot.seq > first.seq, timeout=5)
    finally:
        refresh.stop()


# -- exactness ---------------------------------------------------------------------------------

_OPS = st.lists(
    st.tuples(st.sampled_from(["add", "remove", "snapshot", "md5"]), st.integers(1, 40)),
    min_size=1,
    max_size=8,
)


@pytest.fixture(scope="module")
def growing() -> Iterator[tuple[Database, SnapshotStore, list[str]]]:
    """One database for every example: it only grows, and every example's property holds
    on whatever the earlier ones left (older snapshots included)."""
    folder = Path(tempfile.mkdtemp(prefix="hb-snap-"))
    db = _database(folder)
    yield db, _store(db, folder, keep=3), []
    db.dispose()
    shutil.rmtree(folder, ignore_errors=True)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_OPS, seed=st.integers(0, 2**32 - 1))
def test_mapped_plus_replayed_equals_a_fresh_load(growing, ops, seed) -> None:
    """Adds, removes and snapshots in any order: a replica started from the newest
    snapshot (and the log after it), a replica that followed the log since before, and
    one loaded from the database answer the same."""
    db, store, held = growing
    rng = np.random.default_rng(seed)
    follower = _loaded(db, store)
    for op, count in ops:
        if op == "add":
            new = _pdq(count, rng)
            # near-duplicates of held ones too, so hits share queries
            new += [v[:-1] + ("0" if v[-1] != "0" else "1") for v in held[:2]]
            _add(db, new)
            held.extend(new)
        elif op == "md5":
            _add(db, [secrets.token_hex(16) for _ in range(count % 5 + 1)], kind="md5")
        elif op == "remove" and held:
            picked = rng.choice(len(held), min(count, len(held)), replace=False).tolist()
            _remove(db, [held[i] for i in picked])
            for i in sorted(picked, reverse=True):
                held.pop(i)
        elif op == "snapshot":
            follower.sync()
            store.write(follower)
    follower.sync()
    queries = _near(held[-60:], rng)
    started = _loaded(db, store)
    want = _state(_loaded(db), queries)
    assert _state(started, queries) == want
    assert _state(follower, queries) == want


# -- the command line, shared memory ----------------------------------------------------------


def _csv(path: Path, values: list[str]) -> Path:
    path.write_text("type,value,quality\n" + "".join(f"pdq,{v},90\n" for v in values))
    return path


def test_cli_snapshot_then_workers_map_the_same_files(server_factory, tmp_path) -> None:
    server = server_factory(start=False, workers=2)
    values = _pdq(2000, np.random.default_rng(12))
    server.cli("import", str(_csv(tmp_path / "bank.csv", values)))
    out = server.cli("index", "snapshot", "--json")
    summary = json.loads(out.stdout)
    assert summary["signals"] == 2000 and summary["seq"] > 0
    snapshot = Path(summary["path"])
    assert snapshot.parent == _snapshot_dir(server) and snapshot.exists()
    server.start(timeout=180)  # two workers on a loaded machine
    key = server.create_client(scopes="check")
    with server.client(key) as http:
        hit = http.post("/v1/check", json={"hashes": [{"type": "pdq", "value": values[7]}]})
        assert hit.json()["match"]
    words = str(snapshot / "index.pdq.words.npy")
    assert server.proc is not None
    eventually(lambda: len(_workers(server.proc.pid)) == 2, timeout=60)
    for pid in _workers(server.proc.pid):
        eventually(lambda pid=pid: words in Path(f"/proc/{pid}/maps").read_text(), timeout=30)


def _snapshot_dir(server: Server) -> Path:
    """The default snapshot directory of a test server (beside SQLite's file, else in
    its working directory)."""
    name = (
        "hashbank.db.snapshots"
        if server.database_url.startswith("sqlite")
        else "hashbank-snapshots"
    )
    return server.workdir / name


def _workers(parent: int) -> list[int]:
    """uvicorn's worker processes (children of ``parent``, not multiprocessing's tracker)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit():
                continue
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == parent and b"resource_tracker" not in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except (OSError, IndexError, ValueError):  # gone meanwhile
            continue
    return found


def test_restore_invalidates_snapshots(server_factory, tmp_path) -> None:
    source = server_factory(start=False)
    source.cli("import", str(_csv(tmp_path / "bank.csv", _pdq(50, np.random.default_rng(1)))))
    source.cli("backup", str(tmp_path / "backup.jsonl.gz"))
    target = server_factory(start=False)
    target.cli("index", "snapshot")  # a snapshot of the empty database
    snapshots = _snapshot_dir(target)
    assert any(p.name.startswith("snapshot-") for p in snapshots.iterdir())
    target.cli("restore", str(tmp_path / "backup.jsonl.gz"))
    assert not any(p.name.startswith("snapshot-") for p in snapshots.iterdir())
    assert os.path.isdir(snapshots)
