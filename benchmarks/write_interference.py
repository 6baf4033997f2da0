"""What slows single checks while a snapshot is written? One suspect at a time.

Usage:
  .venv/bin/python benchmarks/write_interference.py [--hashes 10000000] [--rounds 3]
      [--kinds none,spin,stream,fwrite,writer] [--window 9] [--log-level INFO]

One ``hashbank serve`` worker standing on a snapshot of an N-hash bank (the seeded cache
of ``replica_load.py``; its refresher never writes), wrk single checks (8 connections),
and per kind two windows: alone, then with one niceness-19 process of that kind running
through the window, alternated round by round. The kinds:

- ``none``: nothing (two windows alone: the noise of this machine);
- ``spin``: a Python loop (CPU only);
- ``stream``: numpy sums over a 1 GB array, again and again (memory reads);
- ``fwrite``: 1 GB written to a file in 8 MB pieces and fsynced, again and again (the
  page cache and the disk, far harder than one snapshot write);
- ``writer``: the snapshot writer child itself (``python -m
  app.services.snapshot_writer``: one write of the whole bank after one hash is added),
  as the server's refresher would start it.

Per window: p99 and checks/s (wrk), the server's major / minor page faults, and the
machine's steal and iowait time (``/proc/stat``). ``--log-level WARNING`` turns the
server's request log off (a line per request at INFO).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.storage.db import Database  # noqa: E402
from benchmarks.load import CHECK_LUA, lua, wrk  # noqa: E402
from benchmarks.replica_load import seeded_servers  # noqa: E402

LOOPS = {
    "none": "import time\ntime.sleep({d})",
    "spin": "import time\nend = time.time() + {d}\nwhile time.time() < end:\n    pass",
    "stream": (
        "import time, numpy as np\na = np.ones(1 << 27)\nend = time.time() + {d}\n"
        "while time.time() < end:\n    a.sum()"
    ),
    "fwrite": (
        "import os, time, numpy as np\nm = memoryview(np.ones(1 << 27).view(np.uint8))\n"
        "end = time.time() + {d}\nwhile time.time() < end:\n"
        "    fd = os.open({junk!r}, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)\n"
        "    for at in range(0, len(m), 8 << 20):\n        os.write(fd, m[at : at + (8 << 20)])\n"
        "    os.fsync(fd)\n    os.close(fd)"
    ),
}


def faults(pid: int) -> tuple[int, int]:
    """A process's major and minor page faults so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[9]), int(fields[7])


def cpu_ticks() -> tuple[int, int]:
    """The machine's steal and iowait time so far (clock ticks)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()
    return int(fields[8]), int(fields[5])


def run(
    n: int, kinds: list[str], rounds: int, window: int, log_level: str, where: str | None
) -> list[str]:
    from app.services.banks import BankEntries
    from app.services.inputs import HashInput

    tmp, db, servers = seeded_servers(n, "hb-interference-")
    servers.env.update(
        HASHBANK_SNAPSHOT_DIR=str(
            Path(tempfile.mkdtemp(prefix="hb-snap-", dir=where)) if where else tmp / "snapshots"
        ),
        HASHBANK_SNAPSHOT_DELTA_CHANGES=str(10**9),  # the server's refresher never writes
        HASHBANK_SNAPSHOT_MAX_AGE_SECONDS=str(10**9),
        HASHBANK_LOG_LEVEL=log_level,
    )
    servers.cli("index", "snapshot", "--json")
    key = servers.key("bench", "check")
    loader = BankEntries(Database(db.url))
    rng = np.random.default_rng(7)
    servers.start()
    script = lua(CHECK_LUA, key, MODE="single")
    rows: list[str] = []
    ratios: dict[str, list[float]] = {}
    try:
        wrk(servers.ports, script, 8, 3)  # warm up
        pid = servers.procs[0].pid
        for r in range(1, rounds + 1):
            for kind in kinds:
                f0, t0 = faults(pid), cpu_ticks()
                alone = wrk(servers.ports, script, 8, window)
                f1, t1 = faults(pid), cpu_ticks()
                if kind == "writer":
                    value = rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex()
                    loader.add("reports", [HashInput("pdq", value)], actor="bench")
                    command = [sys.executable, "-m", "app.services.snapshot_writer", "--nice", "19"]
                else:
                    code = LOOPS[kind].format(d=window + 1, junk=str(tmp / "junk"))
                    command = [sys.executable, "-c", f"import os\nos.nice(19)\n{code}"]
                proc = subprocess.Popen(
                    command, env=servers.env, cwd=REPO, stdout=subprocess.DEVNULL
                )
                during = wrk(servers.ports, script, 8, window)
                f2, t2 = faults(pid), cpu_ticks()
                proc.wait(600)
                ratio = during["p99_ms"] / alone["p99_ms"]
                ratios.setdefault(kind, []).append(ratio)
                rows.append(
                    f"| {kind} | {r} | {alone['p99_ms']:.1f} | {during['p99_ms']:.1f} | "
                    f"{ratio:.2f} | {alone['rps']:,.0f} | {during['rps']:,.0f} | "
                    f"{f1[0] - f0[0]} / {f2[0] - f1[0]} | {f1[1] - f0[1]:,} / {f2[1] - f1[1]:,} | "
                    f"{t1[0] - t0[0]} / {t2[0] - t1[0]} | {t1[1] - t0[1]} / {t2[1] - t1[1]} |"
                )
                print(rows[-1], flush=True)
                (tmp / "junk").unlink(missing_ok=True)
    finally:
        servers.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(servers.env["HASHBANK_SNAPSHOT_DIR"], ignore_errors=True)
    for kind, values in ratios.items():
        rows.append(f"| {kind} | median | | | {float(np.median(values)):.2f} | | | | | | |")
    return [
        "",
        f"{n:,} hashes, one serving worker on its snapshot, wrk single checks (8 connections,"
        f" {window} s windows), request log at {log_level}, snapshots in "
        f"{where or 'the bank folder'}; each kind alone then with it, "
        "alternated (`benchmarks/write_interference.py`):",
        "",
        "| with | round | p99 alone ms | p99 with ms | ratio | checks/s alone | with |"
        " server major faults alone / with | minor | steal ticks alone / with |"
        " iowait ticks alone / with |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|---|---|",
        *rows,
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--hashes", type=int, default=10_000_000, help="bank size")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds")
    parser.add_argument("--kinds", default="none,spin,stream,fwrite,writer", help="comma-separated")
    parser.add_argument("--window", type=int, default=9, help="seconds per wrk window")
    parser.add_argument("--log-level", default="INFO", help="the server's HASHBANK_LOG_LEVEL")
    parser.add_argument(
        "--snapshot-dir",
        help="where the snapshots go (default: beside the bank; /dev/shm: no disk at all)",
    )
    args = parser.parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = set(kinds) - set(LOOPS) - {"writer"}
    if unknown:
        parser.error(f"unknown kinds: {sorted(unknown)}")
    if not shutil.which("wrk"):
        parser.error("needs wrk (apt-get install wrk)")
    started = time.perf_counter()
    lines = run(args.hashes, kinds, args.rounds, args.window, args.log_level, args.snapshot_dir)
    print("\n".join(lines))
    print(f"\n({time.perf_counter() - started:.0f} s, load average {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
