"""A short, bounded run of each atheris harness (the long runs are documented commands)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris")

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize(
    ("harness", "seconds"),
    [("fuzz_decode.py", 12), ("fuzz_parsers.py", 4), ("fuzz_multipart.py", 6)],
)
def test_harness_runs_clean(harness: str, seconds: int, tmp_path: Path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            str(HERE / harness),
            f"-max_total_time={seconds}",
            "-runs=200000",
            f"-artifact_prefix={tmp_path}/",
            "-print_final_stats=1",
            str(corpus),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    assert "Done " in log and "stat::number_of_executed_units" in log, log[-3000:]
    runs = int(log.split("stat::number_of_executed_units:")[1].split()[0])
    assert runs > 100, log[-3000:]  # it really ran, past the seed corpus
    assert not list(tmp_path.glob("crash-*")) and not list(tmp_path.glob("timeout-*"))
    assert len(list(corpus.iterdir())) >= 5  # seeded, and grown by what the run found
