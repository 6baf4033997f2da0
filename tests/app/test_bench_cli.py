"""`hashbank bench index` runs the index benchmark end to end (tiny size) and reports
hashbank's result sets identical to faiss flat's for every query; the index-layout
benchmark's experimental layouts find exactly what HashIndex finds."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.servers import HASHBANK

REPO = Path(__file__).resolve().parents[2]


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


def test_index_layouts_benchmark_finds_exactly_what_hashindex_finds() -> None:
    # the experimental layouts are evidence in docs/benchmarks.md: they must stay exact
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/index_layouts.py"), "--size", "30000",
         "--queries", "2000"],
        capture_output=True, text=True, timeout=600, check=True,
    ).stdout  # fmt: skip
    rows = {line for line in out.splitlines() if line.startswith("| sketch")}  # printed twice
    assert len(rows) == 4
    assert all(row.endswith("| yes |") for row in rows), rows
    pairs = re.search(r"\| ([\d,]+) pairs \|", out)
    assert pairs and int(pairs.group(1).replace(",", "")) > 500  # the planted queries match
