"""The code blocks of a Markdown page that a test runs as written.

Convention: a fenced block whose previous non-blank line is ``<!-- test: NAME -->`` is a
tested block called NAME (``<!-- test: skip (why) -->`` marks one that is not run, with the
reason). Every fenced block of a tested section carries a marker, so none drifts unseen::

    page = Page.read(REPO / "docs" / "integrations.md")
    assert page.unmarked("Plain HTTP") == []
    out = run_block(page.block("check"), cwd=tmp_path, env={"HASHBANK_URL": url})

``sh``/``bash``/``console`` blocks run in ``bash -euo pipefail``; ``python`` blocks in
this interpreter. Both get ``env`` on top of the test's environment and the directory of
this interpreter first on ``PATH`` (so ``hashbank`` and ``threatexchange`` are the
virtualenv's).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Block", "Page", "run_block"]

_FENCE = re.compile(r"^```(\w*)\s*$")
_MARKER = re.compile(r"^<!--\s*test:\s*(.+?)\s*-->\s*$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")


@dataclass(frozen=True)
class Block:
    name: str | None  # None: no marker
    lang: str
    code: str
    line: int  # of the opening fence, 1-based
    section: str  # the nearest heading above it


@dataclass(frozen=True)
class Page:
    path: Path
    blocks: tuple[Block, ...]

    @classmethod
    def read(cls, path: Path) -> Page:
        lines = path.read_text(encoding="utf-8").splitlines()
        blocks: list[Block] = []
        section, marker, i = "", None, 0
        while i < len(lines):
            line = lines[i]
            heading = _HEADING.match(line)
            if heading:
                section = heading.group(2)
            if m := _MARKER.match(line):
                marker = m.group(1)
            elif fence := _FENCE.match(line):
                end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "```"), None)
                if end is None:
                    raise AssertionError(f"{path}:{i + 1}: a code block that never ends")
                code = "\n".join(lines[i + 1 : end]) + "\n"
                blocks.append(Block(marker, fence.group(1), code, i + 1, section))
                marker, i = None, end
            elif line.strip():
                marker = None
            i += 1
        return cls(path, tuple(blocks))

    def block(self, name: str) -> Block:
        found = [b for b in self.blocks if b.name == name]
        if len(found) != 1:
            raise AssertionError(f"{self.path}: {len(found)} blocks marked 'test: {name}'")
        return found[0]

    def in_section(self, section: str) -> list[Block]:
        return [b for b in self.blocks if b.section == section]

    def unmarked(self, section: str) -> list[str]:
        """Where the fenced blocks of ``section`` without a test marker are."""
        return [f"{self.path.name}:{b.line}" for b in self.in_section(section) if b.name is None]

    def tested(self, section: str) -> list[Block]:
        """The blocks of ``section`` that are run (marked, and not ``skip``)."""
        return [b for b in self.in_section(section) if b.name and not b.name.startswith("skip")]


def run_block(
    block: Block, *, cwd: Path, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``block`` as written; a failure names the block and shows its output.

    Raises:
        AssertionError: the block exited non-zero, or its language is not runnable.
    """
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    full_env = {**os.environ, **env, "PATH": path}
    if block.lang in ("sh", "bash", "console", "shell"):
        argv = ["bash", "-euo", "pipefail", "-c", block.code]
    elif block.lang == "python":
        argv = [sys.executable, "-c", block.code]
    else:
        raise AssertionError(f"line {block.line}: cannot run a {block.lang!r} block")
    done = subprocess.run(
        argv, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise AssertionError(
            f"block {block.name!r} (line {block.line}) exited {done.returncode}:\n"
            f"{block.code}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
        )
    return done
