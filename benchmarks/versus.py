"""A/B against a base revision in the same run: did a change cost check speed?

Usage:
  .venv/bin/python benchmarks/versus.py --base REV [--bank 100000] [--rounds 4] [--write]

Checks out REV into a temporary git worktree with a virtualenv of its own (installed from
constraints.txt, so pip's cache makes it quick), then starts two real `hashbank serve`
processes side by side, one per revision, each on its own SQLite file seeded by its own
code with the same number of random PDQ hashes, and measures them turn by turn
(base, this, base, this, ...), so that the machine's drift hits both alike:

* **single hash checks/s**: wrk on `/v1/check` with one random PDQ hash per request
  (the request pool of benchmarks/load.py);
* **image check CPU**: CPU seconds the server's processes spend per `/v1/check` of a
  1 MP JPEG (sequential requests; the sum of user and system time of every process of
  the server's session, read from /proc), so the figure is the server's work alone.

The ratio "this / base" is the figure to read; the goal of a change that must not cost
speed is within 5 % (>= 0.95 for checks/s, <= 1.05 for CPU per image). Needs wrk.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.load import CHECK_LUA, free_port, jpeg_multipart, lua, wrk  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Side:
    """One revision's checkout, its server and its measurements."""

    name: str
    root: Path
    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    key: str = ""
    checks_per_s: list[float] = field(default_factory=list)
    cpu_per_image: list[float] = field(default_factory=list)

    @property
    def python(self) -> str:
        return str(self.root / ".venv" / "bin" / "python")

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HASHBANK_")}
        env["HASHBANK_DATABASE_URL"] = f"sqlite:///{self.workdir / 'hb.db'}"
        env["HASHBANK_ANONYMOUS_CASES_PER_HOUR"] = "0"
        env["HASHBANK_QUARANTINE_MATCHES"] = "0"  # random queries never match anyway
        return env

    def run(self, *args: str) -> str:
        return subprocess.run(
            args, env=self.env, cwd=self.root, check=True, capture_output=True, text=True
        ).stdout

    def prepare(self, bank: int) -> None:
        url = self.env["HASHBANK_DATABASE_URL"]
        self.run(self.python, "-c", f"from benchmarks.load import seed; seed({url!r}, {bank})")
        hashbank = str(self.root / ".venv" / "bin" / "hashbank")
        out = self.run(hashbank, "clients", "create", "versus", "--scopes", "check", "--json")
        self.key = json.loads(out)["key"]

    def start(self, workers: int) -> None:
        hashbank = str(self.root / ".venv" / "bin" / "hashbank")
        log = (self.workdir / "server.log").open("ab")
        cmd = [hashbank, "serve", "--port", str(self.port), "--workers", str(workers)]
        self.proc = subprocess.Popen(
            cmd, env=self.env, cwd=self.workdir, stdout=log, stderr=log, start_new_session=True
        )
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise SystemExit(f"{self.name}: server not ready; see {self.workdir / 'server.log'}")

    def stop(self) -> None:
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)

    def cpu_seconds(self) -> float:
        """User + system CPU of every process in the server's session."""
        assert self.proc is not None
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == self.proc.pid:  # field 6 (session id), after "pid (comm)"
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / CLK_TCK


def make_base(rev: str, into: Path) -> Path:
    """A worktree of ``rev`` with its own virtualenv (the base side)."""
    root = into / "base"
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(root), rev],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run([sys.executable, "-m", "venv", str(root / ".venv")], check=True)
    pip = [str(root / ".venv" / "bin" / "python"), "-m", "pip", "install", "-q"]
    constraints = ["-c", str(root / "constraints.txt")]
    print(f"== installing {rev} into {root}/.venv", flush=True)
    subprocess.run([*pip, *constraints, "-e", f"{root}[test]"], check=True, capture_output=True)
    return root


def image_cpu(side: Side, body: bytes, content_type: str, n: int) -> float:
    """CPU seconds per image check, over ``n`` sequential checks."""
    headers = {"Authorization": f"Bearer {side.key}", "Content-Type": content_type}
    url = f"http://127.0.0.1:{side.port}/v1/check"
    with httpx.Client(timeout=60) as client:
        client.post(url, content=body, headers=headers).raise_for_status()  # warm
        before = side.cpu_seconds()
        for _ in range(n):
            client.post(url, content=body, headers=headers).raise_for_status()
        return (side.cpu_seconds() - before) / n


def markdown(base_rev: str, sides: list[Side], args: argparse.Namespace) -> str:
    base, this = sides
    rows = [
        ("single hash checks/s", base.checks_per_s, this.checks_per_s, "{:,.0f}", 1.0),
        ("image check CPU, ms", base.cpu_per_image, this.cpu_per_image, "{:.1f}", 1000.0),
    ]
    lines = [
        f"Run: `.venv/bin/python benchmarks/versus.py --base {base_rev} --write`: this checkout",
        f"against `{base_rev}`, two real servers ({args.workers} worker(s) each, SQLite, a "
        f"{args.bank:,}-hash bank) measured turn by turn over {args.rounds} rounds (wrk "
        f"{args.connections} connections x {args.duration} s for checks; {args.images} "
        "sequential 1 MP JPEG checks for CPU). Median of the rounds; the ratio is the figure.",
        "",
        f"| measure | base `{base_rev}` | this | this / base |",
        "|---|---:|---:|---:|",
    ]
    for label, a, b, fmt, scale in rows:
        ma, mb = statistics.median(a) * scale, statistics.median(b) * scale
        lines.append(f"| {label} | {fmt.format(ma)} | {fmt.format(mb)} | {mb / ma:.3f} |")
    lines += ["", "Rounds, in the order run (each round alternates which side goes first):", ""]
    lines.append("```")
    for r in range(args.rounds):
        for side in sides if r % 2 == 0 else sides[::-1]:
            lines.append(
                f"round {r + 1} {side.name}: {side.checks_per_s[r]:,.0f} checks/s, "
                f"{side.cpu_per_image[r] * 1000:.1f} ms CPU per image check"
            )
    lines.append("```")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the revision to compare against")
    parser.add_argument("--bank", type=int, default=100_000, help="PDQ hashes in each bank")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=int, default=15, help="wrk seconds per turn")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--images", type=int, default=60, help="image checks per turn")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")
    tmp = Path(tempfile.mkdtemp(prefix="hb-versus-"))
    sides: list[Side] = []
    try:
        base_root = make_base(args.base, tmp)
        for name, root in (("base", base_root), ("this", REPO)):
            workdir = tmp / f"{name}-data"
            workdir.mkdir()
            side = Side(name, root, workdir)
            print(f"== {name}: seeding {args.bank:,} hashes", flush=True)
            side.prepare(args.bank)
            side.start(args.workers)
            sides.append(side)
        body, content_type = jpeg_multipart()
        for side in sides:  # warm-up, not counted: wrk builds its request pool, caches fill
            wrk([side.port], lua(CHECK_LUA, side.key, MODE="single"), args.connections, 5)
            image_cpu(side, body, content_type, 3)
        for r in range(args.rounds):
            order = sides if r % 2 == 0 else sides[::-1]  # neither side always goes first
            for side in order:
                script = lua(CHECK_LUA, side.key, MODE="single")
                res = wrk([side.port], script, args.connections, args.duration)
                if res["errors"]:
                    raise SystemExit(f"{side.name}: {res['errors']} errors under wrk")
                side.checks_per_s.append(res["rps"])
                side.cpu_per_image.append(image_cpu(side, body, content_type, args.images))
                print(
                    f"  round {r + 1} {side.name}: {res['rps']:,.0f} checks/s, "
                    f"{side.cpu_per_image[-1] * 1000:.1f} ms CPU per image check",
                    flush=True,
                )
    finally:
        for side in sides:
            side.stop()
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "remove", "--force", str(tmp / "base")],
            check=False, capture_output=True,
        )  # fmt: skip
        shutil.rmtree(tmp, ignore_errors=True)
    text = markdown(args.base, sides, args)
    print(text)
    if args.write:
        from benchmarks._report import write_section

        write_section("versus", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
