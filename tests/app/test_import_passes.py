"""`import_file`'s two passes, straight through the library on a real SQLite file: the
checking pass keeps what it parsed (or, past ``keep_parsed``, the writing pass reads the
file again), the writing pass commits ``batch_size`` hashes a transaction; either way a
bad line anywhere imports nothing, and ``from_line`` writes exactly the lines from there
on, each once, in file order."""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.errors import InvalidInput
from app.services.banks import BankEntries
from app.services.exchange_files import ImportProgress, import_file
from app.storage.db import Database

BAD = ["pdq,0123,", "pdq," + "0" * 64 + ",", "md9," + "a" * 32 + ",", "pdq," + "a" * 64 + ",101"]


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> tuple[BankEntries, Path]:
    file = tmp_path_factory.mktemp("import") / "bank.db"
    db = Database(f"sqlite:///{file}")
    db.upgrade()
    return BankEntries(db), file


def stored(file: Path) -> list[str]:
    with sqlite3.connect(file) as conn:
        return [v for (v,) in conn.execute("SELECT value FROM signal ORDER BY id")]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(0, 40),
    bad_at=st.none() | st.integers(0, 39),
    bad=st.sampled_from(BAD),
    batch_size=st.integers(1, 9),
    keep_parsed=st.sampled_from([0, 5, 1_000]),
    from_line=st.integers(1, 45),
    columns=st.sampled_from(["type,value,quality", "value,note,type,quality", "type,value"]),
    data=st.data(),
)
def test_a_bad_line_imports_nothing_and_from_line_writes_the_rest_once(
    bank: tuple[BankEntries, Path],
    tmp_path_factory: pytest.TempPathFactory,
    n: int,
    bad_at: int | None,
    bad: str,
    batch_size: int,
    keep_parsed: int,
    from_line: int,
    columns: str,
    data: st.DataObject,
) -> None:
    loader, file = bank
    names = columns.split(",")
    values = [secrets.token_hex(32) for _ in range(n)]
    rows = []
    for v in values:
        cells = {"type": "pdq", "value": v.upper() if data.draw(st.booleans()) else v}
        cells.update(quality=str(data.draw(st.integers(50, 100))), note="x")
        rows.append(",".join(cells[c] for c in names))
    blank = data.draw(st.integers(0, n))  # a blank line anywhere is skipped
    lines = [columns, *rows[:blank], "", *rows[blank:]]
    bad_line = None
    if bad_at is not None and bad_at < n and "quality" in names:
        t, v, q = bad.split(",")
        cells = {"type": t, "value": v, "quality": q, "note": "x"}
        at = 1 + bad_at + (bad_at >= blank)  # its index in ``lines``
        lines[at] = ",".join(cells[c] for c in names)
        bad_line = at + 1
    path = tmp_path_factory.mktemp("list") / "hashes.csv"
    path.write_text("\n".join(lines) + "\n")
    before = stored(file)
    state = ImportProgress()
    if bad_line is not None:
        with pytest.raises(InvalidInput, match=f"line {bad_line}: "):
            import_file(path, "csv", "reports", loader, from_line=from_line, progress=state,
                        batch_size=batch_size, keep_parsed=keep_parsed)  # fmt: skip
        assert stored(file) == before and state.committed == 0
        return
    import_file(path, "csv", "reports", loader, from_line=from_line, progress=state,
                batch_size=batch_size, keep_parsed=keep_parsed)  # fmt: skip
    line_of = [i + 2 + (i >= blank) for i in range(n)]  # file line of values[i]
    wanted = [v for v, line in zip(values, line_of, strict=True) if line >= from_line]
    assert stored(file)[len(before) :] == wanted
    assert state.committed == len(wanted)
    if wanted:
        assert state.line == line_of[-1]
