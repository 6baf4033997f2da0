"""Write constraints.txt: the exact versions installed in this environment of every package
hashbank and its test extra need (the dependency closure, not whatever else is installed).

    .venv/bin/python scripts/constraints.py            # rewrite constraints.txt
    .venv/bin/python scripts/constraints.py --check    # exit 1 when it is out of date

The install scripts use it with ``pip install -c constraints.txt``; scripts/audit.sh runs
pip-audit against it. Upgrade a dependency by installing the new version into .venv,
running the tests, then this script.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = "hashbank"
EXTRAS = ("test",)
OUT = Path(__file__).resolve().parents[1] / "constraints.txt"
HEADER = (
    "# Pinned versions of hashbank's dependencies and its test extra (Python 3.11, Linux\n"
    "# x86_64), written by scripts/constraints.py from a working environment. Installs use\n"
    "# `pip install -c constraints.txt`; scripts/audit.sh runs pip-audit against it.\n"
)


def _closure() -> dict[str, str]:
    """Canonical name -> 'Name==version' of everything ROOT[EXTRAS] pulls in."""
    pins: dict[str, str] = {}
    todo: list[tuple[str, tuple[str, ...]]] = [(ROOT, EXTRAS)]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        dist = metadata.distribution(name)
        key = canonicalize_name(dist.metadata["Name"])
        if key != ROOT:
            pins[key] = f"{dist.metadata['Name']}=={dist.version}"
        for line in dist.requires or []:
            req = Requirement(line)
            envs = [{"extra": e} for e in extras] or [{"extra": ""}]
            if req.marker is not None and not any(req.marker.evaluate(env) for env in envs):
                continue
            todo.append((req.name, tuple(sorted(req.extras))))
    return pins


def render() -> str:
    pins = _closure()
    return HEADER + "".join(f"{pins[k]}\n" for k in sorted(pins))


def main() -> int:
    text = render()
    if "--check" in sys.argv[1:]:
        if OUT.read_text() != text:
            print("constraints.txt is out of date: run scripts/constraints.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT.name}: {text.count(chr(10)) - HEADER.count(chr(10))} pins", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
