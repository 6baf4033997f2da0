"""The snapshot writer process: ``python -m app.services.snapshot_writer``.

A serving process does not write its index snapshots itself (building the index arrays,
copying and checksumming a whole bank competes with its checks for CPU and for the
GIL): its :class:`~app.index.snapshots.Refresher` starts this module as a child process
at a low CPU and I/O priority when a write is due, waits for it, and switches to what it
wrote. The child is a fresh interpreter (no fork of the threaded server, no copy of its
memory): it maps the newest snapshot, replays the change log from the database (the
same :meth:`IndexReplica.load` every process runs), writes a snapshot with
:meth:`SnapshotStore.write` (the writer lock, the partial clean-up and the pruning as
always), prints one JSON line and exits.

Its settings come from the environment (``HASHBANK_*``), which :func:`writer_command`
fills from the serving process's own :class:`~app.config.Settings`.

Exit codes: 0 written (or another process was writing: ``"written": false``), 1 the
write failed (the message on stderr), 2 bad settings or signal types.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import json
import logging
import os
import platform
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from app.config import Settings
from app.hardening import libc_prctl
from app.index.replica import IndexReplica
from app.index.snapshots import SnapshotStore, manifest_digest
from app.services.signal_types import load_signal_types
from app.storage.db import Database

__all__ = ["lower_priority", "main", "writer_command"]

log = logging.getLogger(__name__)

# ioprio_set(2): no wrapper in Python's os module; the syscall's number per architecture
_IOPRIO_SET = {"x86_64": 251, "aarch64": 30, "i686": 289, "armv7l": 314}
_IOPRIO_WHO_PROCESS = 1
_IOPRIO_CLASS_BE = 2  # best effort, level 7 (the lowest): ahead of the idle class,
# which a busy disk could starve for minutes
_IOPRIO_CLASS_SHIFT = 13
_PR_SET_PDEATHSIG = 1


def writer_command(settings: Settings, store: SnapshotStore) -> tuple[list[str], dict[str, str]]:
    """The writer child's command line and environment for a process of ``settings``
    writing into ``store``: this interpreter, and the settings the child needs (the
    database, the snapshot directory as an absolute path, how many to keep, the signal
    types, the PDQ index's chunking) on top of this process's environment."""
    env = dict(os.environ)
    env.update(
        HASHBANK_DATABASE_URL=settings.database_url,
        HASHBANK_SNAPSHOT_DIR=str(store.directory.resolve()),
        HASHBANK_SNAPSHOT_KEEP=str(store.keep),
        HASHBANK_SIGNAL_TYPES=settings.signal_types,
        HASHBANK_PDQ_INDEX_CHUNKS=str(settings.pdq_index_chunks),  # the server's chunking
    )
    command = [
        sys.executable,
        "-m",
        "app.services.snapshot_writer",
        "--nice",
        str(settings.snapshot_writer_nice),
        "--parent",
        str(os.getpid()),
    ]
    return command, env


def lower_priority(nice: int) -> dict[str, int | None]:
    """This process at niceness ``nice`` and the lowest best-effort I/O priority (Linux;
    elsewhere what cannot be set is left). Returns what was set (None: could not)."""
    done: dict[str, int | None] = {"nice": None, "ionice": None}
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, 0, nice)
        done["nice"] = os.getpriority(os.PRIO_PROCESS, 0)
    number = _IOPRIO_SET.get(platform.machine())
    libc_name = ctypes.util.find_library("c")
    if number is not None and libc_name:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        value = (_IOPRIO_CLASS_BE << _IOPRIO_CLASS_SHIFT) | 7
        if libc.syscall(number, _IOPRIO_WHO_PROCESS, 0, value) == 0:
            done["ionice"] = 7
    return done


def _die_with(parent: int | None) -> None:
    """Ask the kernel to kill this process when the thread that started it ends (Linux
    prctl PR_SET_PDEATHSIG), so that a writer never outlives its server by long."""
    prctl = libc_prctl()
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent is not None and os.getppid() != parent:  # it ended before the prctl
        raise SystemExit(1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--nice", type=int, default=19, help="CPU niceness of this process")
    parser.add_argument("--parent", type=int, help="exit with this process (its pid)")
    args = parser.parse_args(argv)
    _die_with(args.parent)
    priority = lower_priority(args.nice)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        settings = Settings()
        types = load_signal_types(settings)
    except Exception as exc:  # pydantic's ValidationError, hashes.SignalSpecError
        print(f"error: settings: {exc}", file=sys.stderr)
        return 2
    directory = settings.snapshot_dir
    if not directory:
        print("error: HASHBANK_SNAPSHOT_DIR is not set", file=sys.stderr)
        return 2
    db = Database(settings.database_url)
    try:
        store = SnapshotStore(Path(directory), settings.database_url, keep=settings.snapshot_keep)
        replica = IndexReplica(db, types=types, snapshots=store, chunks=settings.index_chunks)
        replica.load()
        info = store.write(replica, block=False)
    except Exception as exc:  # a full disk, the database away: the parent logs it
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    if info is None:
        out: dict[str, object] = {"written": False}
    else:
        out = {
            "written": True,
            "path": str(info.path),
            "seq": info.seq,
            "signals": info.signals,
            "bytes": info.bytes,
            "seconds": round(info.seconds, 3),
            "manifest": manifest_digest(info.path),
            **priority,
        }
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
