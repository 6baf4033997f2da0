"""What the harnesses share: the repo on sys.path, libFuzzer defaults, a seed corpus."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# per-input time (s) and memory (MB) limits: an input over either is a finding
DEFAULTS = ("-timeout=10", "-rss_limit_mb=3072")


def argv_with_seeds(argv: list[str], seeds: Callable[[], dict[str, bytes]]) -> list[str]:
    """``argv`` with libFuzzer defaults, plus a fresh seed corpus dir when none is given.

    libFuzzer reads positional arguments as corpus directories (and adds new inputs to
    the first). The seeds are written to the first one when it is empty, or to a new
    temporary directory when none is given.
    """
    flags = [a for a in argv[1:] if a.startswith("-")]
    dirs = [a for a in argv[1:] if not a.startswith("-")]
    for default in DEFAULTS:
        name = default.split("=")[0] + "="
        if not any(f.startswith(name) for f in flags):
            flags.append(default)
    if not dirs:
        dirs = [tempfile.mkdtemp(prefix="hashbank-fuzz-")]
    corpus = Path(dirs[0])
    corpus.mkdir(parents=True, exist_ok=True)
    if not any(corpus.iterdir()):
        for name, data in seeds().items():
            (corpus / name).write_bytes(data)
    return [argv[0], *flags, *dirs]
