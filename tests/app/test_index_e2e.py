"""/v1/check answers exactly over HTTP against a bank of 100k+ PDQ hashes.

The bank is bulk-imported (``hashbank import``) before the server starts (the initial
load path) and topped up while it runs (the change-log path). Every check's answer is
compared with numpy brute force: a match exactly when some stored hash is within the
threshold (31), reported at the closest distance.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tests.servers import eventually

THRESHOLD = 31
N = 100_000


def _flip(row: npt.NDArray[np.uint8], k: int, rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    bits = np.unpackbits(row)
    bits[rng.choice(256, k, replace=False)] ^= 1
    return np.packbits(bits)


def _write_csv(path, rows: npt.NDArray[np.uint8]) -> None:  # type: ignore[no-untyped-def]
    with path.open("w") as f:
        f.write("type,value\n")
        f.writelines(f"pdq,{row.tobytes().hex()}\n" for row in rows)


def _closest(stored: npt.NDArray[np.uint8], query: npt.NDArray[np.uint8]) -> int:
    return int(np.bitwise_count(stored ^ query).sum(axis=1).min())


def test_checks_over_http_equal_brute_force_on_a_100k_bank(server_factory, tmp_path) -> None:
    rng = np.random.default_rng(11)
    stored = rng.integers(0, 256, (N, 32), dtype=np.uint8)
    queries = rng.integers(0, 256, (300, 32), dtype=np.uint8)
    # plant near-duplicates of 200 queries at distances around the threshold
    for i in range(200):
        stored[rng.integers(N)] = _flip(queries[i], [0, 5, 30, 31, 32, 33, 40][i % 7], rng)
    stored[-1] = queries[-1]  # the last row imported: when it matches, the rest is in
    first, second = stored[: N - 2000], stored[N - 2000 :]

    server = server_factory(start=False)
    _write_csv(tmp_path / "bank.csv", first)
    server.cli("import", str(tmp_path / "bank.csv"), "--bank", "reports")
    server.start(timeout=120)
    key = server.create_client("platform", "check", exact_distances=True)  # compares distances
    with server.client(key) as http:
        eventually(lambda: http.get("/readyz").status_code == 200, timeout=60)
        # the rest arrives through the change log while the server runs
        _write_csv(tmp_path / "more.csv", second)
        server.cli("import", str(tmp_path / "more.csv"), "--bank", "reports")

        last = {"hashes": [{"type": "pdq", "value": queries[-1].tobytes().hex()}]}
        # changes apply in log order: once the last row matches, every row is in
        eventually(lambda: http.post("/v1/check", json=last).json()["match"], timeout=30)
        items = [{"hashes": [{"type": "pdq", "value": q.tobytes().hex()}]} for q in queries]
        results = http.post("/v1/check/batch", json={"items": items}).json()["results"]

    matched = 0
    for query, result in zip(queries, results, strict=True):
        closest = _closest(stored, query)
        if closest <= THRESHOLD:
            matched += 1
            assert result["match"] and result["action"] == "block", (closest, result)
            assert min(m["distance"] for m in result["matches"]) == closest
        else:
            assert not result["match"], (closest, result)
    assert matched >= 100  # the planted ones at 0..31 (4 of every 7 of 200)
