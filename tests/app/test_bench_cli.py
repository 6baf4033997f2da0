"""`hashbank bench index` runs the index benchmark end to end (tiny size) and reports
hashbank's result sets identical to faiss flat's for every query."""

from __future__ import annotations

import re
import subprocess

from tests.servers import HASHBANK


def test_bench_index_reports_exact_results() -> None:
    out = subprocess.run(
        [HASHBANK, "bench", "index", "--size", "30000", "--queries", "400",
         "--baseline-queries", "50", "--numpy-queries", "50"],
        capture_output=True, text=True, timeout=600, check=True,
    ).stdout  # fmt: skip
    row = next(line for line in out.splitlines() if line.startswith("| hashbank HashIndex"))
    assert "| 400/400 |" in row
    numpy_row = next(line for line in out.splitlines() if line.startswith("| numpy"))
    assert "| 50/50 |" in numpy_row
    assert re.search(r"ours vs numpy: 50/50", out)
