"""Index snapshots: the replica's arrays in files that every process of a machine maps.

A snapshot is a directory ``snapshot-<seq>-<ns>`` under the snapshot directory
(``HASHBANK_SNAPSHOT_DIR``)::

    manifest.json                  format, version, the change-log sequence it covers (and
                                   the change at that sequence: its anchor), the signal
                                   types, statuses, indexes and every file's size and
                                   xxh3-128 checksum
    index.<name>.<array>.npy       one HashIndex per name (HashIndex.export: words, ids,
                                   prefixes, dir_offsets, directories, entries)
    table.<column>.npy             the SignalTable's columns (type, status, bank, case)
    exact.<type>.{ids,values}.npy  exact hashes (md5, sha256, ...): id and value bytes

It is written under a temporary name in the same directory (every file and the
directory fsynced), then renamed into place, so a reader sees a whole snapshot or none.
One writer at a time (``flock`` on ``.lock``); the newest ``keep`` are kept.

A starting process (:meth:`SnapshotStore.restore`) takes the newest snapshot that passes
every check: manifest format and version, each file's size and checksum, the arrays'
shapes, the same signal types and index chunking as this process, a sequence not beyond
the database's change log and the change at that sequence still the one the snapshot
saw (a restored backup has other changes under the same numbers). The index arrays are
mapped read-only and the signal table copy-on-write (``numpy.load(mmap_mode=...)``): the
page cache holds them once for all processes. The replica then replays the change log
after the snapshot's sequence, as after any load. Anything refused is logged and the
replica loads from the database instead: a snapshot never answers for the database.

:class:`Refresher` (a thread per process) writes a new snapshot when the changes
replayed on top of the newest one pass ``delta_changes`` or are older than ``max_age``
seconds, and switches its replica to a newer snapshot when one appears (written by any
process), so each process's private delta stays small.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import hashlib
import hmac
import json
import logging
import mmap
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import xxhash

import hashes
from app.index.signals import SignalTable
from app.storage.db import safe_url, sqlite_file
from app.storage.repositories import ChangeRepository
from app.storage.rows import ChangeRow

if TYPE_CHECKING:
    from app.index.replica import IndexReplica

__all__ = [
    "FORMAT",
    "VERSION",
    "Refresher",
    "SnapshotError",
    "SnapshotInfo",
    "SnapshotStore",
    "default_directory",
    "manifest_digest",
]

log = logging.getLogger(__name__)

FORMAT = "hashbank-index-snapshot"
VERSION = 1
MANIFEST = "manifest.json"
PREFIX = "snapshot-"
_TMP = ".tmp-"
_CHUNK = 8 * 1024 * 1024
WRITER_NICE = 10  # the refresher thread's niceness (see Refresher._run)
_STDERR_TAIL = 2000  # characters of a failed writer child's stderr logged

Arrays = dict[str, npt.NDArray[Any]]
Progress = Callable[[int, int], None]  # (bytes done, bytes in all)

# sync_file_range(2): start the writeback of a range, wait for a range's writeback
_SYNC_WAIT_BEFORE, _SYNC_WRITE, _SYNC_WAIT_AFTER = 1, 2, 4


def _libc_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """The C library's ``sync_file_range`` (Linux), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        call = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).sync_file_range
    except (OSError, AttributeError, TypeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    call.restype = ctypes.c_int
    return call


_sync_file_range = _libc_sync_file_range()


class SnapshotError(Exception):
    """A snapshot that cannot be used (the message says why)."""


@dataclass(frozen=True)
class SnapshotInfo:
    """A snapshot written or restored."""

    path: Path
    seq: int
    signals: int
    bytes: int
    seconds: float
    created: float  # unix time it was written


def default_directory(database_url: str) -> Path | None:
    """Where snapshots go when HASHBANK_SNAPSHOT_DIR is not set: beside a SQLite file
    (``<file>.snapshots``), none for an in-memory SQLite database, else
    ``./hashbank-snapshots`` (the working directory is where a default SQLite file
    would be)."""
    from app.storage.db import is_sqlite

    if is_sqlite(database_url):
        file = sqlite_file(database_url)
        return None if file is None else file.with_name(file.name + ".snapshots")
    return Path("hashbank-snapshots")


def _fingerprint(database_url: str) -> str:
    """Which database a snapshot belongs to (a hash: the URL names a host and user)."""
    return hashlib.sha256(safe_url(database_url).encode()).hexdigest()[:16]


def _anchor(change: ChangeRow | None) -> dict[str, Any] | None:
    if change is None:
        return None
    return {"at": change.at.isoformat(), "op": str(change.op.value), "signal": change.signal_id}


def _checksum(path: Path) -> str:
    """The file's xxh3-128, read through a mapping advised for huge pages: a snapshot
    read cold (a restart) then sits in the page cache in 2 MB folios, which the mapped
    index's own mapping maps whole (a search over 4 KB pages is ~7 % slower, TLB misses).
    The hashing releases the GIL, page faults included."""
    digest = xxhash.xxh3_128()
    with path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if not size:
            return digest.hexdigest()
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            if hasattr(mmap, "MADV_HUGEPAGE"):
                mm.madvise(mmap.MADV_HUGEPAGE)
            with memoryview(mm) as view:
                for at in range(0, size, _CHUNK):
                    digest.update(view[at : at + _CHUNK])
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class _Capture:
    """What a snapshot holds, taken consistently under the replica's lock; the index
    arrays are built afterwards (:meth:`hashes.HashIndex.export`)."""

    seq: int
    types: list[str]
    indexes: dict[str, tuple[hashes.HashIndex, Callable[[], Arrays]]]
    table: Arrays
    statuses: list[str]
    exact: dict[str, tuple[list[int], list[str]]]
    signals: int


class SnapshotStore:
    """The snapshots of one database in ``directory``; the newest ``keep`` are kept."""

    def __init__(self, directory: Path, database_url: str, *, keep: int = 2) -> None:
        self.directory = directory
        self.database = _fingerprint(database_url)
        self.keep = max(1, keep)

    # -- listing -------------------------------------------------------------------------
    def list(self) -> list[Path]:
        """Snapshot directories, newest first (by sequence, then time written)."""
        if not self.directory.is_dir():
            return []
        found = [p for p in self.directory.iterdir() if p.name.startswith(PREFIX) and p.is_dir()]
        return sorted(found, key=lambda p: p.name, reverse=True)

    def newest_seq(self) -> int | None:
        """The sequence of the newest snapshot by name (unchecked), or None."""
        names = self.list()
        return _seq_of(names[0]) if names else None

    def invalidate(self) -> int:
        """Remove every snapshot (after ``hashbank restore``: the database is another
        one); return how many were removed."""
        with self._writer(block=True):
            gone = self.list()
            for path in gone:
                shutil.rmtree(path, ignore_errors=True)
        if gone:
            log.info("index snapshots invalidated", extra={"removed": len(gone)})
        return len(gone)

    def untrusted(self) -> str | None:
        """Why the directory cannot be trusted (None: it can): snapshots decide what
        matches, so only this user may write there (another local user could plant one
        with matching checksums)."""
        try:
            st = self.directory.stat()
        except FileNotFoundError:
            return None
        if st.st_uid != os.geteuid():
            return f"{self.directory} belongs to another user"
        if st.st_mode & 0o022:
            return f"{self.directory} is writable by other users (mode {st.st_mode & 0o777:o})"
        return None

    @contextlib.contextmanager
    def _writer(self, *, block: bool) -> Iterator[bool]:
        """Hold the writer lock (yield True), or yield False when another process holds
        it and ``block`` is false."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        reason = self.untrusted()
        if reason is not None:
            raise PermissionError(errno.EPERM, f"index snapshots not written: {reason}")
        fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)  # releases the lock

    # -- writing -------------------------------------------------------------------------
    def write(
        self, replica: IndexReplica, *, progress: Progress | None = None, block: bool = True
    ) -> SnapshotInfo | None:
        """Write a snapshot of ``replica`` (loaded) and remove the old ones.

        Checks go on meanwhile; the replica's follower waits only while its state is
        copied (the signal table: ~14 B per id). Returns None when ``block`` is false
        and another process is writing.

        Raises:
            OSError: the files could not be written (a full disk, say): the partial
                snapshot is removed, the older ones are left as they were.
        """
        started = time.perf_counter()
        with self._writer(block=block) as held:
            if not held:
                return None
            capture = _capture(replica)
            with replica.db.read() as session:
                anchor = _anchor(_change_at(ChangeRepository(session), capture.seq))
            self._clean_partial()
            tmp = self.directory / f"{_TMP}{os.getpid()}-{time.time_ns()}"
            tmp.mkdir(mode=0o700)
            try:
                size = self._write_files(tmp, capture, anchor, progress)
                final = self.directory / f"{PREFIX}{capture.seq:015d}-{time.time_ns()}"
                tmp.rename(final)
                _fsync_dir(self.directory)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            self._prune()
        seconds = time.perf_counter() - started
        info = SnapshotInfo(final, capture.seq, capture.signals, size, seconds, time.time())
        log.info(
            "index snapshot written",
            extra={
                "snapshot": final.name,
                "seq": info.seq,
                "signals": info.signals,
                "bytes": size,
                "seconds": round(seconds, 3),
            },
        )
        return info

    def _write_files(
        self, tmp: Path, capture: _Capture, anchor: dict[str, Any] | None, progress: Progress | None
    ) -> int:
        files: dict[str, dict[str, Any]] = {}
        total = sum(a.nbytes for a in capture.table.values())
        for index, _ in capture.indexes.values():
            total += len(index) * (index.nbytes + 8 + 4 * index.chunks)
        done = 0

        def put(filename: str, data: npt.NDArray[Any]) -> None:
            nonlocal done
            path = tmp / filename
            digest = xxhash.xxh3_128()
            with path.open("xb") as fh:
                os.fchmod(fh.fileno(), 0o600)  # hash values: the owner's only
                out = _Hashing(fh, digest)
                _write_npy(out, data)
                fh.flush()
                os.fsync(fh.fileno())
            # the file as written (size, time, inode): the process that asked for this
            # snapshot may switch to it without reading it again (restore(trusted=...))
            st = os.stat(path)
            files[filename] = {
                "bytes": out.count,
                "xxh3_128": digest.hexdigest(),
                "mtime_ns": st.st_mtime_ns,
                "inode": st.st_ino,
            }
            done += out.count
            if progress is not None:
                progress(done, max(total, done))

        indexes: dict[str, dict[str, int]] = {}
        for name, (index, build) in capture.indexes.items():
            indexes[name] = {"bits": index.bits, "chunks": index.chunks}
            arrays = build()  # one index at a time: at most one built copy in memory
            for key in hashes.HashIndex.EXPORTED:
                put(f"index.{name}.{key}.npy", arrays[key])
            del arrays
        for key, column in capture.table.items():
            put(f"table.{key}.npy", column)
        exact: dict[str, int] = {}
        for kind, (ids, values) in capture.exact.items():
            exact[kind] = len(ids)
            nbytes = len(values[0]) // 2 if values else 0
            raw = np.frombuffer(bytes.fromhex("".join(values)), dtype=np.uint8)
            put(f"exact.{kind}.ids.npy", np.asarray(ids, dtype=np.int64))
            put(f"exact.{kind}.values.npy", raw.reshape(len(values), nbytes))
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "seq": capture.seq,
            "anchor": anchor,
            "database": self.database,
            "created": time.time(),
            "signals": capture.signals,
            "types": capture.types,
            "statuses": capture.statuses,
            "indexes": indexes,
            "exact": exact,
            "files": files,
        }
        with (tmp / MANIFEST).open("x", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o600)
            json.dump(manifest, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        _fsync_dir(tmp)
        return done

    def busy(self) -> bool:
        """Whether another process is writing a snapshot now (holds the writer lock)."""
        with self._writer(block=False) as held:
            return not held

    def clean_partial(self) -> bool:
        """Remove what a writer that died left, unless another process is writing now
        (then it is that writer's to clean); return whether it could look."""
        with self._writer(block=False) as held:
            if held:
                self._clean_partial()
            return held

    def _clean_partial(self) -> None:
        """Remove what a writer that died left (under the writer lock: nobody writes)."""
        for path in self.directory.iterdir():
            if path.name.startswith(_TMP):
                shutil.rmtree(path, ignore_errors=True)

    def _prune(self) -> None:
        for path in self.list()[self.keep :]:
            # processes that map it keep reading it: the files go when they let go
            shutil.rmtree(path, ignore_errors=True)

    # -- reading -------------------------------------------------------------------------
    def restore(
        self,
        replica: IndexReplica,
        *,
        trusted: tuple[Path, str] | None = None,
        prefault: bool = False,
    ) -> SnapshotInfo | None:
        """Load ``replica`` (not yet loaded) from the newest valid snapshot; the caller
        then replays the change log after its sequence (``replica.sync()``). Returns
        None when no snapshot is usable (each refusal is logged with its reason): the
        replica must then be loaded from the database.

        ``trusted``: a snapshot this process's writer child has just written, and the
        digest of its manifest (:func:`manifest_digest`) the child reported. Its files
        are not read again for their checksums (the child computed them from the very
        bytes it wrote, seconds ago) when the manifest is still that one and every file
        still has the size, modification time and inode recorded when it was written;
        any difference, and every other snapshot, is checked in full."""
        reason = self.untrusted()
        if reason is not None:
            log.warning("index snapshots not used", extra={"reason": reason})
            return None
        for path in self.list():
            started = time.perf_counter()
            try:
                verify = not (
                    trusted is not None
                    and path.name == trusted[0].name  # the child's path is absolute
                    and hmac.compare_digest(manifest_digest(path) or "", trusted[1])
                )
                seq, signals, created = self._restore_one(
                    path, replica, verify=verify, prefault=prefault
                )
            except SnapshotError as exc:
                log.warning(
                    "index snapshot refused", extra={"snapshot": path.name, "reason": str(exc)}
                )
                continue
            seconds = time.perf_counter() - started
            info = SnapshotInfo(path, seq, signals, 0, seconds, created)
            log.info(
                "index snapshot mapped",
                extra={"snapshot": path.name, "seq": seq, "signals": signals},
            )
            return info
        if not self.list():
            log.info("no index snapshot", extra={"directory": str(self.directory)})
        return None

    def _restore_one(
        self, path: Path, replica: IndexReplica, *, verify: bool = True, prefault: bool = False
    ) -> tuple[int, int, float]:
        manifest = _read_manifest(path)
        if manifest.get("database") != self.database:
            raise SnapshotError("written for another database")
        seq = manifest["seq"]
        if not isinstance(seq, int) or seq < 0:
            raise SnapshotError("bad sequence")
        types = list(replica.signals.types[1:])
        if manifest.get("types") != types:
            raise SnapshotError(f"signal types {manifest.get('types')} are not {types}")
        expected = {n: {"bits": i.bits, "chunks": i.chunks} for n, i in replica.perceptual.items()}
        if manifest.get("indexes") != expected:
            raise SnapshotError("the indexes differ from this process's (types or chunking)")
        with replica.db.read() as session:
            changes = ChangeRepository(session)
            head = changes.head()
            if seq > head:
                raise SnapshotError(
                    f"ahead of the database: covers change {seq}, the change log ends at {head}"
                    " (a restored backup?)"
                )
            if seq and manifest.get("anchor") != _anchor(_change_at(changes, seq)):
                raise SnapshotError(
                    f"change {seq} is not the one the snapshot saw (a restored backup?)"
                )
        files = manifest.get("files")
        if not isinstance(files, dict):
            raise SnapshotError("no file list")
        arrays = {name: _open_array(path, name, meta, verify) for name, meta in files.items()}
        if prefault:
            for array in arrays.values():
                _touch(array)
        try:
            state = _adopt(replica, manifest, arrays)
        except (KeyError, ValueError, TypeError) as exc:
            raise SnapshotError(f"arrays do not fit: {exc}") from None
        perceptual, table, exact = state
        with replica._lock:
            replica.perceptual = perceptual
            replica.signals = table
            replica.exact = exact
            replica.seq = seq
            replica.head_seen = max(replica.head_seen, head)
        with replica.db.read() as session:
            replica._load_banks(session)
        created = manifest.get("created")
        return seq, len(table), float(created) if isinstance(created, int | float) else 0.0


class _Hashing:
    """A write-only file that feeds what it writes to a checksum.

    :meth:`pace` keeps what it has written and not yet on disk to two slices: a whole
    snapshot (1 GB at 10M hashes) left to the kernel's writeback would sit in the
    device's queue in one go, and every other write of the machine (a server's log
    line, a database commit) would wait behind it."""

    def __init__(self, fh: IO[bytes], digest: Any) -> None:
        self.fh, self.digest, self.count = fh, digest, 0
        self._started = 0  # bytes whose writeback has been started
        self._settled = 0  # bytes whose writeback has been waited for

    def pace(self) -> None:
        """Start the writeback of what was written since the last call, and wait for
        the writeback started at the call before (Linux; elsewhere nothing)."""
        if _sync_file_range is None or self.count == self._started:
            return
        try:
            fd = self.fh.fileno()
        except OSError:  # not a file of the operating system's (io.UnsupportedOperation)
            return
        self.fh.flush()
        _sync_file_range(fd, self._started, self.count - self._started, _SYNC_WRITE)
        if self._started > self._settled:
            wait = _SYNC_WAIT_BEFORE | _SYNC_WRITE | _SYNC_WAIT_AFTER
            _sync_file_range(fd, self._settled, self._started - self._settled, wait)
        self._settled, self._started = self._started, self.count

    def write(self, data: bytes | memoryview) -> int:
        self.digest.update(data)
        self.count += len(data)
        try:
            return self.fh.write(data)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                log.error("index snapshot: disk full", extra={"error": str(exc)})
            raise


def _write_npy(out: _Hashing, data: npt.NDArray[Any]) -> None:
    """``data`` as a .npy file (what ``numpy.save`` writes), its bytes handed to ``out``
    in slices of the array itself: ``numpy.lib.format.write_array`` copies 16 MB at a
    time with ``tobytes()``, holding the GIL all the while (~50 ms a copy on a busy
    machine, every check of the process waiting); a slice is written and checksummed
    with the GIL released."""
    array = np.ascontiguousarray(data)
    header = np.lib.format.header_data_from_array_1_0(array)
    try:
        np.lib.format.write_array_header_1_0(out, header)
    except ValueError:  # a header past 64 KiB (not ours): the 2.0 format
        np.lib.format.write_array_header_2_0(out, header)
    raw = memoryview(array.reshape(-1).view(np.uint8).data) if array.size else memoryview(b"")
    # every slice ends at a multiple of _CHUNK in the file, so each write after the first
    # starts on a 2 MB boundary and the page cache keeps it in huge folios, which the
    # serving processes' mappings then map whole (see _checksum)
    at = 0
    while at < len(raw):
        end = min(len(raw), at + _CHUNK - out.count % _CHUNK)
        out.write(raw[at:end])
        out.pace()
        at = end


def _seq_of(path: Path) -> int:
    try:
        return int(path.name[len(PREFIX) :].split("-")[0])
    except ValueError:
        return -1


def _change_at(changes: ChangeRepository, seq: int) -> ChangeRow | None:
    if seq <= 0:
        return None
    found = changes.after(seq - 1, 1)
    return found[0] if found and found[0].seq == seq else None


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SnapshotError("no manifest") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SnapshotError(f"unreadable manifest: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise SnapshotError("not a hashbank index snapshot")
    if manifest.get("version") != VERSION:
        raise SnapshotError(f"format version {manifest.get('version')!r}, expected {VERSION}")
    return manifest


def manifest_digest(path: Path) -> str | None:
    """The xxh3-128 of a snapshot's manifest (None: unreadable), which names every file's
    size, checksum, modification time and inode."""
    try:
        return _checksum(path / MANIFEST)
    except OSError:
        return None


def _touch(array: npt.NDArray[Any]) -> None:
    """Read one byte of every page of a mapped array (numpy's reduction releases the
    GIL), so that checks after a switch do not fault its pages in one by one."""
    flat = array.reshape(-1).view(np.uint8)
    if flat.size:
        np.bitwise_or.reduce(flat[:: mmap.PAGESIZE])


def _open_array(path: Path, name: str, meta: Any, verify: bool = True) -> npt.NDArray[Any]:
    """The file mapped (read-only; the table's columns copy-on-write) after its size and
    checksum are checked (``verify`` false: its size, modification time and inode
    instead, for a snapshot of a trusted manifest)."""
    if "/" in name or name.startswith(".") or not name.endswith(".npy"):
        raise SnapshotError(f"bad file name {name!r}")
    file = path / name
    try:
        st = file.stat()
    except FileNotFoundError:
        raise SnapshotError(f"{name} is missing") from None
    size = st.st_size
    if not isinstance(meta, dict) or size != meta.get("bytes"):
        raise SnapshotError(f"{name} is {size} bytes, the manifest says {meta.get('bytes')}")
    unchanged = st.st_mtime_ns == meta.get("mtime_ns") and st.st_ino == meta.get("inode")
    if (verify or not unchanged) and _checksum(file) != meta.get("xxh3_128"):
        raise SnapshotError(f"{name} is damaged (checksum)")
    mode: Literal["c", "r"] = "c" if name.startswith("table.") else "r"
    try:
        mapped = np.load(file, mmap_mode=mode, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"{name}: {exc}") from None
    return np.asarray(mapped)


def _adopt(
    replica: IndexReplica, manifest: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]
) -> tuple[dict[str, hashes.HashIndex], SignalTable, dict[tuple[str, str], set[int]]]:
    """New index objects, table and exact map holding the snapshot's arrays."""
    perceptual: dict[str, hashes.HashIndex] = {}
    for name, index in replica.perceptual.items():
        fresh = hashes.HashIndex(bits=index.bits, chunks=index.chunks)
        fresh.adopt({key: arrays[f"index.{name}.{key}.npy"] for key in fresh.EXPORTED})
        perceptual[name] = fresh
    table = SignalTable(types=replica.signals.types[1:])
    table.adopt({c: arrays[f"table.{c}.npy"] for c in SignalTable.COLUMNS}, manifest["statuses"])
    exact: dict[tuple[str, str], set[int]] = {}
    for kind in manifest["exact"]:
        ids = arrays[f"exact.{kind}.ids.npy"].tolist()
        values = arrays[f"exact.{kind}.values.npy"]
        if values.dtype != np.uint8 or values.ndim != 2 or values.shape[0] != len(ids):
            raise ValueError(f"exact {kind}: bad values")
        for sid, row in zip(ids, values, strict=True):
            exact.setdefault((kind, row.tobytes().hex()), set()).add(int(sid))
    held = {n: len(i) for n, i in perceptual.items()}
    for name, rows in held.items():
        if rows != table.counts().get(name, 0):
            raise ValueError(f"index {name} holds {rows} rows, the table {table.counts()}")
    return perceptual, table, exact


def _capture(replica: IndexReplica) -> _Capture:
    with replica._sync_lock, replica._lock:  # the state at one sequence
        exact: dict[str, tuple[list[int], list[str]]] = {}
        for (kind, value), ids in replica.exact.items():
            for sid in ids:
                entry = exact.setdefault(kind, ([], []))
                entry[0].append(sid)
                entry[1].append(value)
        table = replica.signals
        top = len(table)
        columns, statuses = table.export(headroom=max(65_536, top // 8))
        return _Capture(
            seq=replica.seq,
            types=list(table.types[1:]),
            indexes={n: (i, i.export()) for n, i in replica.perceptual.items()},
            table=columns,
            statuses=statuses,
            exact=exact,
            signals=len(table),
        )


class Refresher:
    """Keeps one process's replica on a recent snapshot (a daemon thread).

    Every ``period`` seconds: when a snapshot newer than the one the replica stands on
    exists, the replica switches to it; otherwise, when the changes replayed on top of
    it reach ``delta_changes`` or the snapshot is older than ``max_age`` seconds (and
    something changed), or there is none, a snapshot is written unless another process
    is writing, and the replica switches to it.

    With ``command`` (what :func:`app.services.snapshot_writer.writer_command` gives a
    server) the write is done by that child process, at a low CPU and I/O priority, so
    that the checks of this process keep their CPU and their GIL; the child maps the
    newest snapshot and replays the change log itself. A child that fails, is killed or
    runs past ``timeout`` seconds is logged (and killed), what it left half-written is
    removed, this process keeps serving on what it holds and tries again after a
    back-off (``period`` doubled per failure in a row, at most ``max_age``). Without
    ``command`` (a library use, tests) the write runs in this process's thread.
    """

    def __init__(
        self,
        store: SnapshotStore,
        replica: IndexReplica,
        *,
        delta_changes: int = 100_000,
        max_age: float = 3600.0,
        period: float = 10.0,
        command: list[str] | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 600.0,
    ) -> None:
        self.store = store
        self.replica = replica
        self.delta_changes = delta_changes
        self.max_age = max_age
        self.period = period
        self.command = command
        self.env = env
        self.timeout = timeout
        self.failures = 0  # writer children failed in a row
        self.children = 0  # writer children started
        self._retry_at = 0.0  # monotonic time before which no write is tried again
        self._child: subprocess.Popen[str] | None = None
        self._stop = threading.Event()
        # what a switch replaced: let go of at the next step, in this thread, once no
        # check can still be reading it (see switch)
        self._retired: object = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="index-snapshots", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        child = self._child
        if child is not None and child.poll() is None:
            child.kill()  # the write would be thrown away: the server is going
        if self._thread is not None:
            self._thread.join(timeout=30)

    @property
    def child_pid(self) -> int | None:
        """The writer child's process id while one runs."""
        child = self._child
        return child.pid if child is not None and child.poll() is None else None

    def _run(self) -> None:
        # a lower CPU priority for this thread alone (Linux: a thread id is a process id
        # to setpriority): a switch checksums a new snapshot (and, without a writer
        # child, a write builds, copies and checksums a whole bank); the checks of this
        # process come first. Not the lowest (19): on a machine busy with other
        # processes the thread would then hardly run at all
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WRITER_NICE)
        while not self._stop.wait(self.period):
            try:
                self.step()
            except Exception as exc:  # a full disk, a database restart: try again later
                log.warning(
                    "index snapshot refresh failed",
                    extra={"error": f"{type(exc).__name__}: {exc}"},
                )

    def due(self) -> bool:
        """Whether this replica's delta calls for a new snapshot."""
        base = self.replica.snapshot
        if base is None:
            return True
        delta = self.replica.seq - base.seq
        return delta >= self.delta_changes or (
            delta > 0 and time.time() - base.created >= self.max_age
        )

    def step(self) -> None:
        """One look: switch to a newer snapshot, or write one when due."""
        self._retired = None
        base = self.replica.snapshot
        newest = self.store.newest_seq()
        if newest is not None and (base is None or newest > base.seq) and self.switch():
            return
        if not self.due() or time.monotonic() < self._retry_at:
            return
        if self.command is None:
            if self.store.write(self.replica, block=False) is not None:
                self.switch()
            return
        if self.store.busy():  # another process writes: switch to theirs next time
            return
        written = self._write_in_child()
        if written is not None:
            self.switch(trusted=written)

    def _write_in_child(self) -> tuple[Path, str] | None:
        """Run the writer child to its end; the snapshot it wrote and its manifest's
        digest, or None (another process was writing, or it failed: logged)."""
        assert self.command is not None
        started = time.perf_counter()
        try:
            child = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
                self.command,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        except OSError as exc:
            self._failed(f"cannot start: {exc}", "")
            return None
        self._child = child
        self.children += 1
        try:
            out, err = child.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            out, err = child.communicate()
            self._failed(f"still writing after {self.timeout:g} s: killed", err)
            return None
        finally:
            self._child = None
        if child.returncode != 0:
            how = (
                f"killed by signal {-child.returncode}"
                if child.returncode < 0
                else f"exit code {child.returncode}"
            )
            self._failed(how, err)
            return None
        try:
            summary = json.loads(out.strip().splitlines()[-1])
            written = bool(summary["written"])
            found = (Path(summary["path"]), str(summary["manifest"])) if written else None
        except (IndexError, KeyError, TypeError, ValueError):
            self._failed("no summary on its output", err)
            return None
        self.failures, self._retry_at = 0, 0.0
        if found is None:
            return None  # another process was writing: switch to theirs next time
        log.info(
            "index snapshot written",
            extra={
                "snapshot": found[0].name,
                "seq": summary.get("seq"),
                "signals": summary.get("signals"),
                "bytes": summary.get("bytes"),
                "seconds": summary.get("seconds"),
                "child_seconds": round(time.perf_counter() - started, 3),
                "writer_pid": child.pid,
            },
        )
        return found

    def _failed(self, how: str, stderr: str) -> None:
        """Log a writer child that did not write, remove what it left, back off."""
        self.failures += 1
        delay = min(self.max_age, self.period * 2 ** min(self.failures, 16))
        self._retry_at = time.monotonic() + delay
        with contextlib.suppress(OSError):
            self.store.clean_partial()
        log.warning(
            "index snapshot writer failed",
            extra={
                "error": how,
                "stderr": stderr[-_STDERR_TAIL:].strip(),
                "retry_seconds": round(delay, 1),
            },
        )

    def switch(self, *, trusted: tuple[Path, str] | None = None) -> bool:
        """Move the replica onto the newest valid snapshot (its private delta then starts
        empty); False when none is usable or it is not newer. ``trusted``: the snapshot
        this process's writer child just wrote (see :meth:`SnapshotStore.restore`)."""
        from app.index.replica import IndexReplica

        replica = self.replica
        fresh = IndexReplica(replica.db, types=replica.types, chunks=replica.chunks)
        info = self.store.restore(fresh, trusted=trusted, prefault=True)
        base = replica.snapshot
        if info is None or (base is not None and info.seq <= base.seq and base.path.exists()):
            return False
        fresh.sync()  # most of the replay outside the replica's locks
        with replica._sync_lock:
            fresh.sync()
            if fresh.seq < replica.seq:  # the same log: cannot be; never go back
                return False
            with replica._lock:
                self._retired = (replica.perceptual, replica.signals, replica.exact)
                replica.perceptual = fresh.perceptual
                replica.signals = fresh.signals
                replica.exact = fresh.exact
                replica.seq = fresh.seq
                replica.snapshot = info
        log.info("index switched to a snapshot", extra={"snapshot": info.path.name})
        return True
