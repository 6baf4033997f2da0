"""The background snapshot writer: a child process (``python -m app.services.snapshot_writer``)
writes the snapshot, the serving process switches to it; a child that fails, is killed or
hangs is logged, leaves nothing half-written, and the replica keeps serving on what it
holds.

Real child processes, real SQLite/PostgreSQL, real files (a real tmpfs for the full disk).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.config import Settings
from app.index.replica import IndexReplica
from app.index.snapshots import MANIFEST, Refresher, SnapshotStore, manifest_digest
from app.services.snapshot_writer import writer_command
from app.storage.db import Database
from tests.app.test_snapshots import (
    _add,
    _bank,
    _database,
    _files,
    _loaded,
    _near,
    _pdq,
    _refused,
    _state,
    tiny_disk,  # noqa: F401 (a fixture)
)
from tests.servers import eventually

WRITTEN = "index snapshot written"
FAILED = "index snapshot writer failed"


def _refresher(db: Database, store: SnapshotStore, replica: IndexReplica, **kw: Any) -> Refresher:
    settings = Settings(database_url=db.url, snapshot_dir=str(store.directory))
    command, env = writer_command(settings, store)
    return Refresher(store, replica, delta_changes=1, command=command, env=env, **kw)


def _records(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == message]


def _partials(store: SnapshotStore) -> list[Path]:
    return [p for p in store.directory.iterdir() if p.name.startswith(".tmp-")]


@pytest.fixture
def bank(tmp_path: Path):
    made = _bank(tmp_path)
    yield made
    made[0].dispose()


def test_the_child_writes_at_low_priority_and_the_replica_switches(bank, caplog) -> None:
    db, store, _ = bank
    replica = _loaded(db, store)
    refresh = _refresher(db, store, replica)
    rng = np.random.default_rng(3)
    with caplog.at_level(logging.INFO):
        refresh.step()  # none yet: the child writes one, the replica stands on it
    first = replica.snapshot
    assert first is not None and replica.perceptual["pdq"].mapped
    [written] = _records(caplog, WRITTEN)
    assert written.writer_pid != os.getpid()  # type: ignore[attr-defined]
    assert written.snapshot == first.path.name  # type: ignore[attr-defined]
    _add(db, _pdq(5, rng))
    replica.sync()
    refresh.step()
    assert replica.snapshot is not None and replica.snapshot.seq > first.seq
    assert replica.perceptual["pdq"].delta_rows == 0
    queries = _near(_pdq(10, rng), rng)
    assert _state(replica, queries) == _state(_loaded(db), queries)


def test_the_child_runs_at_the_niceness_and_io_priority_asked(bank) -> None:
    db, store, _ = bank
    settings = Settings(database_url=db.url, snapshot_dir=str(store.directory))
    command, env = writer_command(settings, store)
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    summary = json.loads(out.stdout)
    assert summary["written"] and summary["nice"] == 19 and summary["ionice"] == 7
    assert summary["manifest"] == manifest_digest(Path(summary["path"]))


def _stop_when_writing(refresh: Refresher, store: SnapshotStore) -> int:
    """Wait for the child to be half-way through its files, stop it (SIGSTOP), its pid."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pid = refresh.child_pid
        if pid is not None and any(_has_files(p) for p in _partials(store)):
            os.kill(pid, signal.SIGSTOP)
            return pid
        time.sleep(0.0005)
    raise AssertionError("the child never started writing")


def _has_files(folder: Path) -> bool:
    try:
        return any(True for _ in folder.iterdir())
    except FileNotFoundError:  # renamed into place meanwhile
        return False


def _big_base(db: Database, store: SnapshotStore, n: int = 200_000) -> IndexReplica:
    """A replica of ``n`` random PDQ hashes put straight into it, written as a snapshot
    the child maps (its own write of them takes a moment: time to catch it in the act)."""
    replica = _loaded(db, store)
    rng = np.random.default_rng(9)
    ids = np.arange(10**7, 10**7 + n, dtype=np.int64)
    with replica._lock:
        replica.perceptual["pdq"].add(ids, rng.integers(0, 256, (n, 32), dtype=np.uint8))
        replica.signals.put(ids, ["pdq"] * n, [1] * n, [None] * n, ["bank"] * n)
    return replica


def test_a_killed_child_leaves_nothing_and_the_replica_keeps_serving(bank, caplog) -> None:
    db, store, values = bank
    base = _big_base(db, store)
    assert store.write(base) is not None
    replica = _loaded(db, store)
    before = replica.snapshot
    _add(db, _pdq(3, np.random.default_rng(2)))
    replica.sync()
    refresh = _refresher(db, store, replica)
    with caplog.at_level(logging.INFO):
        stepping = threading.Thread(target=refresh.step)
        stepping.start()
        pid = _stop_when_writing(refresh, store)
        assert _partials(store)  # half a snapshot on disk
        os.kill(pid, signal.SIGKILL)
        stepping.join(timeout=60)
    [failed] = _records(caplog, FAILED)
    assert "killed by signal 9" in failed.error  # type: ignore[attr-defined]
    assert not _partials(store) and len(store.list()) == 1
    assert replica.snapshot == before and refresh.failures == 1
    hit = replica.search("pdq", [values[0]], 0)
    assert [h.distance for h in hit] == [0]  # still serving what it held
    refresh.step()  # backing off: no second child at once
    assert len(_records(caplog, FAILED)) == 1 and replica.snapshot == before
    refresh._retry_at = 0.0  # the back-off over
    refresh.step()
    assert replica.snapshot is not None and replica.snapshot.seq > before.seq  # type: ignore[union-attr]
    assert refresh.failures == 0


def test_a_child_past_its_timeout_is_killed(bank, caplog) -> None:
    db, store, _ = bank
    replica = _loaded(db, store)
    refresh = _refresher(db, store, replica, timeout=2.0)
    with caplog.at_level(logging.INFO):
        stepping = threading.Thread(target=refresh.step)
        stepping.start()
        eventually(lambda: refresh.child_pid is not None, timeout=30)
        pid = refresh.child_pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)  # a hung writer
        stepping.join(timeout=60)
    [failed] = _records(caplog, FAILED)
    assert "still writing after 2 s" in failed.error  # type: ignore[attr-defined]
    assert not Path(f"/proc/{pid}").exists()  # killed and reaped
    assert replica.snapshot is None and not _partials(store)


def test_a_child_that_cannot_start_its_work_is_logged(bank, caplog) -> None:
    db, store, _ = bank
    replica = _loaded(db, store)
    refresh = _refresher(db, store, replica)
    assert refresh.env is not None
    refresh.env["HASHBANK_SIGNAL_TYPES"] = "pdq,no-such-type"
    with caplog.at_level(logging.INFO):
        refresh.step()
    [failed] = _records(caplog, FAILED)
    assert failed.error == "exit code 2"  # type: ignore[attr-defined]
    assert "no-such-type" in failed.stderr  # type: ignore[attr-defined]
    assert replica.snapshot is None and store.list() == []


def test_a_full_disk_in_the_child_leaves_the_older_snapshot(tiny_disk, tmp_path, caplog) -> None:  # noqa: F811
    db = _database(tmp_path)
    store = SnapshotStore(tiny_disk / "snapshots", db.url)
    _add(db, _pdq(500, np.random.default_rng(3)))
    small = store.write(_loaded(db))  # ~0.9 MB (the table's headroom): fits
    assert small is not None
    replica = _loaded(db, store)
    _add(db, _pdq(12_000, np.random.default_rng(4)))  # ~1.5 MB more: does not
    replica.sync()
    refresh = _refresher(db, store, replica)
    with caplog.at_level(logging.INFO):
        refresh.step()
    [failed] = _records(caplog, FAILED)
    assert failed.error == "exit code 1"  # type: ignore[attr-defined]
    assert "No space left" in failed.stderr  # type: ignore[attr-defined]
    assert store.list() == [small.path] and not _partials(store)
    assert replica.snapshot is not None and replica.snapshot.path == small.path
    queries = _near(_pdq(10, np.random.default_rng(5)), np.random.default_rng(5))
    assert _state(replica, queries) == _state(_loaded(db), queries)
    db.dispose()


# -- the switch after the process's own child's write ---------------------------------------


def _written(db: Database, store: SnapshotStore) -> tuple[Path, str]:
    info = store.write(_loaded(db))
    assert info is not None
    digest = manifest_digest(info.path)
    assert digest is not None
    return info.path, digest


@pytest.mark.parametrize("relative", [False, True])
def test_a_trusted_snapshot_is_not_read_again_while_its_files_are_as_written(
    bank, relative, monkeypatch
) -> None:
    db, store, _ = bank
    if relative:  # the server's store names its directory relatively, the child absolutely
        monkeypatch.chdir(store.directory.parent)
        store = SnapshotStore(Path(store.directory.name), db.url)
    path, digest = _written(db, store)
    path = path.resolve()
    table = _files(path, "table.bank")
    meta = json.loads((path / MANIFEST).read_text())["files"][table.name]
    with table.open("r+b") as fh:  # damage that keeps size, time and inode
        fh.seek(-1, os.SEEK_END)
        last = fh.read(1)
        fh.seek(-1, os.SEEK_END)
        fh.write(bytes([last[0] ^ 1]))
    os.utime(table, ns=(meta["mtime_ns"], meta["mtime_ns"]))
    # the child's own, seconds old: not re-hashed (what the trust saves) ...
    assert store.restore(IndexReplica(db), trusted=(path, digest)) is not None
    # ... any other restore hashes every file
    assert store.restore(IndexReplica(db)) is None


def test_a_trusted_snapshot_changed_since_is_checked_in_full(bank, caplog) -> None:
    db, store, _ = bank
    path, digest = _written(db, store)
    table = _files(path, "table.bank")
    with table.open("r+b") as fh:  # a bit flipped: the file's time moves
        fh.seek(-1, os.SEEK_END)
        last = fh.read(1)
        fh.seek(-1, os.SEEK_END)
        fh.write(bytes([last[0] ^ 1]))
    with caplog.at_level(logging.INFO):
        assert store.restore(IndexReplica(db), trusted=(path, digest)) is None
    _refused(caplog, "damaged (checksum)")


def test_a_trusted_name_with_another_manifest_is_checked_in_full(bank, caplog) -> None:
    db, store, _ = bank
    path, _ = _written(db, store)
    table = _files(path, "table.bank")
    data = table.read_bytes()
    table.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # rewritten: new time, same size
    manifest = json.loads((path / MANIFEST).read_text())
    st = table.stat()
    manifest["files"][table.name].update(mtime_ns=st.st_mtime_ns, inode=st.st_ino)
    (path / MANIFEST).write_text(json.dumps(manifest))  # a manifest made to fit
    with caplog.at_level(logging.INFO):
        assert store.restore(IndexReplica(db), trusted=(path, "0" * 32)) is None
    _refused(caplog, "damaged (checksum)")


def test_a_server_writes_its_snapshots_through_a_child(server_factory, tmp_path) -> None:
    server = server_factory(
        start=False,
        extra_env={
            "HASHBANK_SNAPSHOT_DELTA_CHANGES": "1",
            "HASHBANK_SNAPSHOT_MAX_AGE_SECONDS": "1",  # looks every 0.25 s
        },
    )
    server.start()
    values = _pdq(20, np.random.default_rng(21))
    csv = tmp_path / "bank.csv"
    csv.write_text("type,value,quality\n" + "".join(f"pdq,{v},90\n" for v in values))
    server.cli("import", str(csv))
    assert server.proc is not None

    def written() -> list[dict[str, Any]]:
        found = []
        for line in server.log_path.read_text(errors="replace").splitlines():
            if WRITTEN in line and line.startswith("{"):
                found.append(json.loads(line))
        return found

    eventually(lambda: any(w.get("signals") == 20 for w in written()), timeout=60)
    assert all(w["writer_pid"] != server.proc.pid for w in written())
    key = server.create_client(scopes="check")
    with server.client(key) as http:
        hit = http.post("/v1/check", json={"hashes": [{"type": "pdq", "value": values[3]}]})
        assert hit.json()["match"]


def test_no_child_is_started_while_another_process_writes(bank, caplog) -> None:
    import fcntl

    db, store, _ = bank
    replica = _loaded(db, store)
    refresh = _refresher(db, store, replica)
    store.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(store.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another writer at work
        with caplog.at_level(logging.INFO):
            refresh.step()
        assert not _records(caplog, WRITTEN) and not _records(caplog, FAILED)
        assert replica.snapshot is None and refresh.children == 0
    finally:
        os.close(fd)
    refresh.step()
    assert replica.snapshot is not None and refresh.children == 1


def test_the_child_writes_with_the_servers_index_chunking(bank) -> None:
    db, store, values = bank
    replica = IndexReplica(db, snapshots=store, chunks={"pdq": 10})
    replica.load()
    settings = Settings(database_url=db.url, snapshot_dir=str(store.directory), pdq_index_chunks=10)
    command, env = writer_command(settings, store)
    refresh = Refresher(store, replica, delta_changes=1, command=command, env=env)
    refresh.step()  # a snapshot of another chunking would be refused: no switch
    assert replica.snapshot is not None and replica.perceptual["pdq"].chunks == 10
    assert [h.distance for h in replica.search("pdq", [values[1]], 0)] == [0]
