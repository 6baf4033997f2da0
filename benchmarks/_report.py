"""Write one marked section of docs/benchmarks.md, leaving the rest of the file alone."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def write_section(name: str, body: str, doc: Path = DOC) -> None:
    """Replace the text between ``<!-- section:NAME -->`` and ``<!-- /section:NAME -->``.

    The file is re-read right before writing, since other scripts own other sections.
    """
    start, end = f"<!-- section:{name} -->", f"<!-- /section:{name} -->"
    text = doc.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{doc} has no {start} ... {end} markers")
    new = pattern.sub(lambda _: f"{start}\n{body.strip()}\n{end}", text, count=1)
    doc.write_text(new, encoding="utf-8")
