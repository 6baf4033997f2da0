"""The hash-file readers and writers of app/services/exchange_files.py, against the
formats python-threatexchange itself reads and writes (its real classes, no copies)."""

from __future__ import annotations

import contextlib
import io
import json
import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from threatexchange.exchanges.clients.stopncii.api import (
    StopNCIIAPI,
    StopNCIICaseStatus,
    StopNCIISignalType,
)
from threatexchange.exchanges.impl.file_api import (
    FileCollaborationConfig,
    LocalFileSignalExchangeAPI,
)

import hashes
from app.errors import InvalidInput
from app.services.exchange_files import (
    FORMATS,
    Entry,
    Tally,
    detect,
    importable,
    read_entries,
    write_entries,
)
from app.services.inputs import HashInput
from app.storage.models import BankPolicy
from app.storage.repositories import IndexedSignal
from app.storage.rows import BankRow

TYPES = hashes.BUILTINS


def pdq() -> str:
    return secrets.token_hex(32)


def read(text: str, fmt: str, **kw: bool) -> list[Entry]:
    return list(read_entries(io.StringIO(text, newline=""), fmt, TYPES, **kw))


def items(entries: list[Entry]) -> list[tuple[str, str]]:
    return [(e.item.type, e.item.value) for e in entries if e.item is not None]


def bad(text: str, fmt: str, **kw: bool) -> str:
    with pytest.raises(InvalidInput) as err:
        read(text, fmt, **kw)
    return str(err.value)


# -- readers ----------------------------------------------------------------------------


def test_pytx_local_file_lines():
    a, b = pdq(), pdq()
    text = f"pdq {a.upper()}\n\n  pdq {b}  \r\n"
    assert items(read(text, "pytx-file")) == [("pdq", a), ("pdq", b)]
    assert [e.line for e in read(text, "pytx-file")] == [1, 3]
    assert bad(f"pdq {a}\npdq {b}\npdq\n", "pytx-file").startswith("line 3: expected")
    assert bad(f"pdq {a}\npdq 12ab\n", "pytx-file").startswith("line 2: ")
    # a type ThreatExchange has that no hashbank type is: an error naming it, or counted
    video = f"pdq {a}\nurl_md5 {'ab' * 16}\n"
    assert "line 2: threatexchange signal type 'url_md5'" in bad(video, "pytx-file")
    entries = read(video, "pytx-file", skip_unknown=True)
    assert items(entries) == [("pdq", a)] and entries[1].skipped is not None
    # hashbank's own name of a type is not ThreatExchange's: md5 has no pytx name
    assert "threatexchange signal type 'md5'" in bad(f"md5 {'ab' * 16}\n", "pytx-file")


def test_pytx_dataset_csv():
    a, b, c = pdq(), pdq(), pdq()
    text = (
        "signal_type,signal_str,collab,category,tags\r\n"
        f"pdq,{a},one,INVESTIGATION_SEED,\r\n"
        f"pdq,{a},two,POSITIVE_CLASS,x y\r\n"  # the dataset lists it once per collab
        f"pdq,{b},one,NEGATIVE_CLASS,\r\n"  # a false positive: never imported
        f"pdq,{c},one,POSITIVE_CLASS,\r\n"
    )
    entries = read(text, "pytx-csv")
    assert items(entries) == [("pdq", a), ("pdq", c)]
    assert [e.line for e in entries if e.item] == [2, 5]
    assert sum(e.skipped is not None for e in entries) == 2
    assert bad(text.replace("NEGATIVE_CLASS", "MAYBE"), "pytx-csv").startswith("line 4: ")
    assert bad(text.replace(c, "00"), "pytx-csv").startswith("line 5: ")
    assert bad("type,value\r\npdq,x\r\n", "pytx-csv").startswith("line 1: the header")
    assert bad(f"signal_type,signal_str\r\npdq,{a}\r\n,\r\n", "pytx-csv").startswith("line 3")


def _record(value: str, status: str = "Active", kind: str = "ImagePDQ") -> dict[str, object]:
    return {
        "lastModtimestamp": 1700000000,
        "signalType": kind,
        "hashValue": value,
        "hashStatus": status,
        "caseNumbers": {"c1": status},
        "CSPFeedbacks": [{"feedbackValue": "Blocked", "tags": [], "source": "x"}],
    }


def test_stopncii_records_in_every_shape():
    a, b, c = pdq(), pdq(), pdq()
    records = [
        _record(a),
        _record(b, "Withdrawn"),
        _record(c, "Deleted"),
        _record("ab" * 16, kind="VideoTMK"),
    ]
    answer = {"count": 4, "nextPageToken": None, "nextSetTimestamp": 1, "hasMoreRecords": False}
    shapes = {
        "answer": json.dumps({**answer, "hashRecords": records}, indent=2),
        "two pages": json.dumps({**answer, "hashRecords": records[:2]})
        + "\n"
        + json.dumps({"hashRecords": records[2:], **answer}),
        "list": json.dumps(records),
        "one a line": "".join(json.dumps(r) + "\n" for r in records),
    }
    for shape, text in shapes.items():
        assert detect("x.json", text) == "stopncii", shape
        entries = read(text, "stopncii", skip_unknown=True)
        assert items(entries) == [("pdq", a)], shape
        tally = Tally()
        list(importable(entries, TYPES, tally, min_pdq_quality=50))
        assert tally.skipped == {
            "hashStatus 'Withdrawn'": 1,
            "hashStatus 'Deleted'": 1,
            "stopncii signal type 'VideoTMK' (no enabled type)": 1,
        }, shape
        assert "signal type 'VideoTMK'" in bad(text, "stopncii"), shape


def test_stopncii_errors_name_the_line_of_the_record():
    records = [_record(pdq()) for _ in range(5)]
    records[3]["hashValue"] = "not hex"
    text = json.dumps({"count": 5, "hashRecords": records}, indent=2)
    line = text.splitlines().index("    {", 0)  # the first record opens here (0-based)
    per_record = len(json.dumps(records[0], indent=2).splitlines())
    message = bad(text, "stopncii")
    # record 4 opens per_record lines after record 3: the message names that line
    assert message.startswith(f"line {line + 1 + 3 * per_record}: "), (message, text[:300])
    assert bad('{"hashRecords": [1]}', "stopncii").startswith("line 1: a hash record is")
    assert bad('{"hashRecords": [\n{"hashValue": 3}]}', "stopncii").startswith("line 2: ")
    assert bad('{"hashRecords": [\n\n{"a": }]}', "stopncii").startswith("line 3: not JSON")
    assert bad("[" * 100_000, "stopncii").startswith("line 1: not JSON")


def test_hashbanks_own_formats_still_read():
    a = pdq()
    assert items(read(f"type,value,quality\npdq,{a},90\n", "csv")) == [("pdq", a)]
    assert read(f"type,value,quality\npdq,{a},90\n", "csv")[0].item == HashInput("pdq", a, 90)
    assert bad(f"type,value,quality\npdq,{a},high\n", "csv").startswith("line 2: quality")
    assert bad('{"type": "pdq", "value": "x"}\n', "jsonl").startswith("line 1: ")
    assert bad('\n["pdq"]\n', "jsonl").startswith("line 2: expected an object")
    assert items(read(json.dumps({"type": "md5", "value": "ab" * 16}), "jsonl")) == [
        ("md5", "ab" * 16)
    ]
    assert bad(f"type,value\ndhash,{a}\n", "csv").startswith("line 2: unknown signal type")
    assert read(f"type,value\ndhash,{a}\n", "csv", skip_unknown=True)[0].skipped
    # a vpdq value is a type of its own: not a lone hash
    assert bad(f"type,value\nvpdq,{a}\n", "csv").startswith("line 2: a vpdq value is")


def test_detect_tells_the_formats_apart():
    a = pdq()
    assert detect("x.txt", f"pdq {a}\n") == "pytx-file"
    assert detect("x.csv", "signal_type,signal_str,collab,category,tags\r\n") == "pytx-csv"
    assert detect("x.csv", "\ufefftype,value,quality\n") == "csv"
    assert detect("x.json", '{"type": "pdq", "value": "ab"}\n') == "jsonl"
    assert detect("x.jsonl", json.dumps(_record(a)) + "\n") == "stopncii"
    assert detect("x.json", '{\n  "count": 1,\n') == "stopncii"
    assert detect("x.jsonl", "") == "jsonl" and detect("x.csv", "\n\n") == "csv"
    with pytest.raises(InvalidInput, match="give --format"):
        detect("x.bin", "just some words here\n")


def test_weak_hashes_name_their_line_or_are_counted():
    text = f"pdq {pdq()}\npdq {'0' * 64}\n"
    with pytest.raises(InvalidInput, match="^line 2: would match unrelated images"):
        list(importable(read(text, "pytx-file"), TYPES, Tally(), min_pdq_quality=50))
    tally = Tally()
    kept = importable(read(text, "pytx-file"), TYPES, tally, min_pdq_quality=50, skip_weak=True)
    assert len(list(kept)) == 1 and tally.weak == 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.one_of(
        st.text(),
        st.text(alphabet='pdq ,\n\r{}[]":0123456789abcdefABCDEF_tyvalueshRcordsActiv'),
    ),
    fmt=st.sampled_from(FORMATS),
    skip_unknown=st.booleans(),
)
def test_readers_raise_nothing_but_invalid_input(text: str, fmt: str, skip_unknown: bool):
    try:
        entries = read(text, fmt, skip_unknown=skip_unknown)
    except InvalidInput as exc:
        assert str(exc).startswith(("line ", "the file")), exc
        return
    for entry in entries:
        assert (entry.item is None) != (entry.skipped is None)
        if entry.item is not None:
            assert entry.item.type in TYPES and entry.line >= 1


@settings(max_examples=200, deadline=None)
@given(name=st.text(max_size=20), head=st.text())
def test_detect_raises_nothing_but_invalid_input(name: str, head: str):
    with contextlib.suppress(InvalidInput):
        assert detect(name, head) in FORMATS


# -- writers ----------------------------------------------------------------------------

BANKS = {
    1: BankRow(1, "reports", BankPolicy.BLOCK, "", False, datetime.now(UTC)),
    2: BankRow(2, "allowlist", BankPolicy.ALLOW, "", False, datetime.now(UTC)),
    3: BankRow(3, "triage", BankPolicy.REVIEW, "", False, datetime.now(UTC)),
}


def signals(n: int = 5) -> list[IndexedSignal]:
    out = [IndexedSignal(i, "pdq", pdq(), 1, i, "active") for i in range(1, n + 1)]
    out.append(IndexedSignal(n + 1, "pdq", pdq(), 2, None, "bank"))  # a false positive
    out.append(IndexedSignal(n + 2, "phash", secrets.token_hex(8), 1, 9, "active"))
    out.append(IndexedSignal(n + 3, "pdq", pdq(), 3, None, "bank"))
    return out


def write(fmt: str, rows: list[IndexedSignal]) -> tuple[str, dict[str, int]]:
    out = io.StringIO(newline="")
    result = write_entries(out, fmt, rows, BANKS, TYPES, now=1_700_000_000)
    return out.getvalue(), dict(result.left_out)


def test_each_format_reads_back_what_it_wrote():
    rows = signals()
    block = [("pdq", s.value) for s in rows if s.type == "pdq" and s.bank_id != 2]
    every_pdq = [("pdq", s.value) for s in rows if s.type == "pdq"]
    for fmt in FORMATS:
        text, left_out = write(fmt, rows)
        assert detect(f"export.{fmt}", text[:65536]) == fmt
        back = read(text, fmt, skip_unknown=True)
        if fmt in ("csv", "jsonl"):
            assert items(back) == [(s.type, s.value) for s in rows] and not left_out
        elif fmt == "pytx-csv":  # allow-list hashes are there as NEGATIVE_CLASS, not read
            assert items(back) == block
            assert left_out == {"phash hashes (threatexchange has no name for the type)": 1}
            assert text.count(",NEGATIVE_CLASS,") == 1 and text.count(",triage,") == 1
            assert f"pdq,{every_pdq[-1][1]},triage,INVESTIGATION_SEED," in text
        else:
            assert items(back) == block, fmt
            assert left_out["hashes of allow-list banks (false positives)"] == 1


def test_pytx_local_file_exchange_reads_the_export(tmp_path: Path):
    rows = signals(50)
    text, _ = write("pytx-file", rows)
    path = tmp_path / "export.txt"
    path.write_text(text)
    config = FileCollaborationConfig(name="hashbank", filename=str(path))
    api = LocalFileSignalExchangeAPI.for_collab(config)
    (delta,) = api.fetch_iter([], None)
    wanted = {("pdq", s.value) for s in rows if s.type == "pdq" and s.bank_id != 2}
    assert set(delta.updates) == wanted


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Serves the file ``tmp_path/FetchHashes`` as StopNCII's FetchHashes would answer."""
    body = tmp_path / "FetchHashes"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            data = body.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", body
    server.shutdown()
    server.server_close()


def test_stopncii_client_parses_every_exported_record(file_server: tuple[str, Path]):
    """pytx's own StopNCIIAPI (which logs and drops a record it cannot parse) reads the
    export as a FetchHashes answer, every record of it."""
    url, body = file_server
    rows = signals(200)
    text, _ = write("stopncii", rows)
    body.write_text(text)
    answer = StopNCIIAPI("sub", "fn", base_url_override=url).fetch_hashes()
    wanted = [s.value for s in rows if s.type == "pdq" and s.bank_id != 2]
    assert answer.count == len(wanted) and answer.hasMoreRecords is False
    assert [r.hashValue for r in answer.hashRecords] == wanted
    for record in answer.hashRecords:
        assert record.signalType is StopNCIISignalType.ImagePDQ
        assert record.hashStatus is StopNCIICaseStatus.Active
        assert record.caseNumbers == {}  # never a case id: half of a victim's secret
    assert "case_id" not in text and '"1"' not in text


def test_type_names_come_from_the_registry_not_the_code():
    """A plug-in type that names itself in the exchanges is read and written by that name;
    with PDQ disabled, ThreatExchange's pdq is an unknown type."""
    dhash = hashes.SignalSpec(
        name="dhash",
        bits=64,
        perceptual=True,
        default_threshold=10,
        max_threshold=16,
        exchange_names={"threatexchange": "tx_dhash", "stopncii": "ImageDHash"},
    )
    types = hashes.SignalRegistry([*(s for s in hashes.BUILTIN_SPECS if s.name == "md5"), dhash])
    value = secrets.token_hex(8)
    text = f"tx_dhash {value}\npdq {pdq()}\n"
    entries = list(read_entries(io.StringIO(text), "pytx-file", types, skip_unknown=True))
    assert [(e.item.type, e.item.value) for e in entries if e.item] == [("dhash", value)]
    assert entries[1].skipped == "threatexchange signal type 'pdq' (no enabled type)"
    record = json.dumps([_record(value, kind="ImageDHash")])
    (entry,) = read_entries(io.StringIO(record), "stopncii", types)
    assert entry.item == HashInput("dhash", value)
    out = io.StringIO()
    rows = [IndexedSignal(1, "dhash", value, 1, None, "bank")]
    write_entries(out, "pytx-file", rows, BANKS, types, now=0)
    assert out.getvalue() == f"tx_dhash {value}\n"
