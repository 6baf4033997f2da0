"""Webhooks: a victim's withdrawal reaching a platform's receiver, and 10,000 changes
delivered through a receiver outage and a replica's ``kill -9``.

Usage: .venv/bin/python benchmarks/webhooks.py --postgres ADMIN_URL
       [--withdrawals N] [--changes N] [--write]

Two ``hashbank serve`` replicas on one new PostgreSQL database (made on the cluster of
ADMIN_URL), each running the delivery worker, and a receiver process
(tests/webhook_receiver.py) that logs every POST with its arrival time.

1. Latency: ``--withdrawals`` victims (default 200) each report one hash on one replica and
   withdraw it with ``DELETE /v1/cases/{id}`` on the other, one every 50 ms; the figure is
   the time from sending the DELETE (the withdrawal commits while it is answered) to the
   receiver logging the ``hash.withdrawn`` event; the DELETE's own answer time is shown
   beside it (the PIN's argon2 check and the commit are part of the trip). Baseline in
   the same run: a bare POST of the same size from this process to the same receiver (one
   HTTP hop, no database), so the ratio is what the whole path adds to a plain POST.
2. Loss and order: ``--changes`` hashes (default 10,000) reported in cases of 100 through
   both replicas; a quarter of the way in the receiver is killed, halfway replica B is
   killed with SIGKILL (the rest go to A), at 70 % the receiver comes back. Every
   acknowledged hash must arrive (``hash.added``), and the feed sequence numbers must
   arrive in order once repeats (at-least-once) are dropped.
"""

from __future__ import annotations

import argparse
import itertools
import secrets
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import write_section
from tests.servers import Server, fresh_database_url
from tests.webhook_receiver import Receiver

ENV = {
    "HASHBANK_WEBHOOK_ALLOW_HTTP": "true",
    "HASHBANK_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
    "HASHBANK_LOG_LEVEL": "WARNING",
}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _add(server: Server, admin: str, url: str) -> None:
    name = f"bench-{secrets.token_hex(3)}"
    server.create_client(name, scopes="check,feed")
    with server.client(admin) as c:
        r = c.post("/v1/webhooks", json={"client": name, "url": url})
    r.raise_for_status()


def _report(server: Server, values: list[str]) -> dict[str, Any] | None:
    body = {"hashes": [{"type": "pdq", "value": v, "quality": 90} for v in values]}
    try:
        with server.client() as c:
            r = c.post("/v1/cases", json=body)
    except httpx.HTTPError:
        return None
    return dict(r.json()) if r.status_code == 201 else None


def latency(a: Server, b: Server, rec: Receiver, admin: str, n: int) -> dict[str, float]:
    _add(a, admin, rec.url("/ok/latency"))
    committed: dict[str, float] = {}
    answered: list[float] = []
    for i in range(n):
        value = secrets.token_hex(32)
        case = _report(a if i % 2 else b, [value])
        assert case is not None
        with (b if i % 2 else a).client() as c:
            sent = time.time()  # the event may arrive before the DELETE's answer does
            r = c.delete(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]})
        r.raise_for_status()
        answered.append(time.time() - sent)
        committed[value] = sent
        time.sleep(0.05)
    deadline = time.monotonic() + 60
    arrived: dict[str, float] = {}
    while time.monotonic() < deadline and len(arrived) < n:
        for request in rec.requests("/ok/latency"):
            for event in httpx.Response(200, content=request["body"]).json()["events"]:
                if event["type"] == "hash.withdrawn" and event["value"] in committed:
                    arrived.setdefault(event["value"], request["at"])
        time.sleep(0.2)
    delays = [arrived[v] - committed[v] for v in committed if v in arrived]
    body = b'{"events": [' + b"x" * 300 + b"]}"
    bare = []
    with httpx.Client() as c:
        for _ in range(n):
            start = time.time()
            c.post(rec.url("/ok/baseline"), content=body)
            bare.append(time.time() - start)
    return {
        "n": n,
        "arrived": len(delays),
        "p50": _pct(delays, 0.50),
        "p99": _pct(delays, 0.99),
        "max": max(delays),
        "delete_p50": _pct(answered, 0.50),
        "delete_p99": _pct(answered, 0.99),
        "bare_p50": _pct(bare, 0.50),
        "bare_p99": _pct(bare, 0.99),
    }


def outage(a: Server, b: Server, rec: Receiver, admin: str, changes: int) -> dict[str, float]:
    _add(a, admin, rec.url("/ok/bulk"))
    acknowledged: list[str] = []
    rounds = max(changes // 100, 1)
    down_at = up_at = killed_at = 0.0
    started = time.time()
    for i in range(rounds):
        if i == rounds // 4:
            rec.kill()
            down_at = time.time()
        if i == rounds // 2:
            b.kill()
            killed_at = time.time()
        if i == rounds * 7 // 10:
            rec.start()
            up_at = time.time()
        values = [secrets.token_hex(32) for _ in range(100)]
        target = b if i % 2 and b.proc is not None else a
        if _report(target, values) is None and _report(a, values) is None:
            continue  # not acknowledged by either: not owed to the receiver
        acknowledged += values
    written = time.time()
    deadline = time.monotonic() + 300
    expected = set(acknowledged)
    while time.monotonic() < deadline:
        events = [e for e in rec.events("/ok/bulk") if e["type"] == "hash.added"]
        if expected <= {e["value"] for e in events}:
            break
        time.sleep(0.5)
    done = time.time()
    events = [e for e in rec.events("/ok/bulk") if e["type"] == "hash.added"]
    seqs = [e["seq"] for e in rec.events("/ok/bulk")]
    first = list(dict.fromkeys(seqs))
    reordered = sum(1 for x, y in itertools.pairwise(first) if y < x)
    return {
        "acknowledged": len(acknowledged),
        "received": len({e["value"] for e in events} & expected),
        "lost": len(expected - {e["value"] for e in events}),
        "duplicates": len(seqs) - len(set(seqs)),
        "reordered": reordered,
        "write_seconds": written - started,
        "down_seconds": up_at - down_at,
        "catch_up_seconds": done - up_at,
        "killed_after": killed_at - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", required=True, help="admin URL of a PostgreSQL cluster")
    parser.add_argument("--withdrawals", type=int, default=200)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hb-webhooks-") as tmp:
        work = Path(tmp)
        url = fresh_database_url(work, args.postgres)
        (work / "a").mkdir()
        (work / "b").mkdir()
        a = Server(work / "a", url, extra_env=ENV).start()
        b = Server(work / "b", url, extra_env=ENV).start()
        rec = Receiver(work / "received.jsonl").start()
        try:
            admin = a.create_client("bench-admin", scopes="admin")
            lat = latency(a, b, rec, admin, args.withdrawals)
            print("latency", lat, flush=True)
            out = outage(a, b, rec, admin, args.changes)
            print("outage", out, flush=True)
        finally:
            rec.kill()
            a.stop()
            b.stop()
    ms = {k: f"{v * 1000:.0f} ms" for k, v in lat.items() if k not in ("n", "arrived")}
    ratio50, ratio99 = lat["p50"] / lat["bare_p50"], lat["p99"] / lat["bare_p99"]
    text = textwrap.dedent(
        f"""
        `.venv/bin/python benchmarks/webhooks.py --postgres ADMIN_URL` (2 replicas on one
        PostgreSQL database, a receiver process on the same machine; 2 shared cores).

        | victim's DELETE sent -> event at the receiver | p50 | p99 | max |
        | --- | --- | --- | --- |
        | webhook ({lat["arrived"]}/{lat["n"]} arrived) | {ms["p50"]} | {ms["p99"]} | {ms["max"]} |
        | the DELETE's own answer (PIN check, commit) | {ms["delete_p50"]} | {ms["delete_p99"]} | |
        | baseline: a bare POST to the same receiver | {ms["bare_p50"]} | {ms["bare_p99"]} | |
        | ratio | {ratio50:.1f}x | {ratio99:.1f}x | |

        Goal p99 <= 2 s: {"met" if lat["p99"] <= 2 else "NOT met"}.

        {out["acknowledged"]:,} hashes reported through both replicas in cases of 100
        ({out["write_seconds"]:.0f} s); the receiver down for {out["down_seconds"]:.0f} s, replica B
        killed with SIGKILL {out["killed_after"]:.0f} s in: **{out["lost"]} lost**,
        **{out["reordered"]} reordered**, {out["duplicates"]} events received twice (at least
        once: the batches in flight at the kill), everything in {out["catch_up_seconds"]:.0f} s
        after the receiver came back.
        """
    )
    print(text)
    if args.write:
        write_section("webhooks", text)


if __name__ == "__main__":
    main()
