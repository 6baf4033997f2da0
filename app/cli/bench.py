"""``hashbank bench``: run the project's benchmarks from the command line.

The benchmark scripts live in the source tree (``benchmarks/``) and need the test extra
(faiss, scikit-image): ``pip install -e '.[test]'`` from a checkout.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer

bench = typer.Typer(help="Run benchmarks (needs a source checkout and the test extra).")

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str) -> ModuleType:
    path = BENCHMARKS / f"{name}.py"
    if not path.exists():
        raise typer.BadParameter(
            f"{path} not found: benchmarks run from a source checkout "
            "(git clone, then pip install -e '.[test]')"
        )
    spec = importlib.util.spec_from_file_location(f"benchmarks.{name}", path)
    if spec is None or spec.loader is None:
        raise typer.BadParameter(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@bench.command("index")
def index(
    size: Annotated[
        list[int] | None,
        typer.Option("--size", "-n", help="Bank size; repeat for several (default 1M and 10M)."),
    ] = None,
    queries: Annotated[int, typer.Option(help="Queries per size (half planted).")] = 10_000,
    baseline_queries: Annotated[
        int, typer.Option(help="Queries timed on the faiss baselines.")
    ] = 500,
    numpy_queries: Annotated[int, typer.Option(help="Queries timed on numpy brute force.")] = 200,
    write: Annotated[bool, typer.Option(help="Update docs/benchmarks.md.")] = False,
) -> None:
    """Exact radius search: hashbank vs numpy, faiss flat and HMA's faiss multi-hash."""
    argv = ["--queries", str(queries), "--baseline-queries", str(baseline_queries)]
    argv += ["--numpy-queries", str(numpy_queries)]
    for n in size or []:
        argv += ["--size", str(n)]
    if write:
        argv.append("--write")
    raise typer.Exit(_load("index").main(argv))
