"""Hash files in hashbank's own formats and the exchanges': read for import, written for export.

Formats, by the name ``--format`` takes:

- ``csv``: hashbank's own, header ``type,value[,quality]`` (export: ``type,value,bank_id,status``);
- ``jsonl``: hashbank's own, one ``{"type", "value"[, "quality"]}`` object a line;
- ``pytx-file``: python-threatexchange's local-file exchange (``LocalFileSignalExchangeAPI``),
  ``<signal_type> <value>`` a line;
- ``pytx-csv``: what ``threatexchange dataset -P --csv`` prints, header
  ``signal_type,signal_str,collab,category,tags``;
- ``stopncii``: StopNCII hash records: a ``FetchHashes`` answer (``{"hashRecords": [...]}``,
  several pages may follow each other), a JSON list of its records, or one record a line.

The exchanges' type names go through each signal spec's ``exchange_names``
(``threatexchange``, ``stopncii``): a type no enabled spec has a name for is an error, or
left out and counted (``skip_unknown``). Every reading error is :class:`InvalidInput`
naming the line. Import checks a whole file before writing any of it
(:func:`import_file`), so a bad line leaves nothing half-imported.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TextIO

import hashes
from app.errors import InvalidInput, NotReady
from app.services.banks import BankEntries
from app.services.inputs import HashInput, weakness
from app.storage import DatabaseError
from app.storage.models import BankPolicy
from app.storage.repositories import IndexedSignal
from app.storage.rows import BankRow

__all__ = [
    "FORMATS",
    "Entry",
    "ExportResult",
    "ImportProgress",
    "Tally",
    "detect",
    "import_file",
    "importable",
    "read_entries",
    "write_entries",
]

FORMATS = ("csv", "jsonl", "pytx-file", "pytx-csv", "stopncii")
THREATEXCHANGE, STOPNCII = "threatexchange", "stopncii"
PYTX_CSV_HEADER = ("signal_type", "signal_str", "collab", "category", "tags")
# pytx's SignalOpinionCategory names; a NEGATIVE_CLASS signal is a false positive or test
# data, so it is never imported
CATEGORIES = ("NEGATIVE_CLASS", "INVESTIGATION_SEED", "POSITIVE_CLASS")
# what a hit of a bank answers, said as a ThreatExchange opinion (export)
_CATEGORY_OF = {
    BankPolicy.BLOCK: "POSITIVE_CLASS",
    BankPolicy.REVIEW: "INVESTIGATION_SEED",
    BankPolicy.ALLOW: "NEGATIVE_CLASS",
}
BATCH = 50_000  # rows a transaction of the writing pass (HASHBANK_IMPORT_BATCH)
KEEP_PARSED = 2_000_000  # hashes the checking pass keeps for the writing pass (~200 B each)
_PROGRESS_EVERY = 5_000  # hashes between two progress reports
_MAX_REASONS = 50  # distinct skip reasons kept apart; more are counted together


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a hash file: a valid hash to import, or why it is left out."""

    line: int
    item: HashInput | None = None
    skipped: str | None = None


@dataclass
class Tally:
    """What an import left out, and why (weak hashes; records of other statuses, ...)."""

    weak: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def skip(self, reason: str) -> None:
        if reason not in self.skipped and len(self.skipped) >= _MAX_REASONS:
            reason = "other reasons"
        self.skipped[reason] += 1


def _short(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _hash(n: int, kind: str, value: Any, quality: Any, types: hashes.SignalRegistry) -> Entry:
    """The valid hash of line ``n`` of hashbank's type ``kind``."""
    try:
        parsed = types.parse(kind, value)
    except hashes.InvalidHash as exc:
        raise InvalidInput(f"line {n}: {exc}") from None
    if quality in (None, ""):
        q = None
    elif isinstance(quality, int) and not isinstance(quality, bool):
        q = quality
    elif isinstance(quality, str) and quality.strip().isdigit() and len(quality) < 8:
        q = int(quality)
    else:
        raise InvalidInput(f"line {n}: quality must be a whole number between 0 and 100")
    if q is not None and not 0 <= q <= 100:
        raise InvalidInput(f"line {n}: quality must be between 0 and 100")
    return Entry(n, HashInput(kind, parsed, q))


def _own(
    n: int, kind: Any, value: Any, quality: Any, types: hashes.SignalRegistry, skip: bool
) -> Entry:
    if not isinstance(kind, str) or kind not in types:
        if skip and isinstance(kind, str):
            return Entry(n, skipped=f"unknown signal type {_short(kind)}")
        raise InvalidInput(
            f"line {n}: unknown signal type {_short(str(kind))}; enabled: "
            + ", ".join(types.names)
            + " (--skip-unknown leaves such lines out)"
        )
    return _hash(n, kind, value, quality, types)


def _exchanged(
    n: int, system: str, name: str, value: Any, types: hashes.SignalRegistry, skip: bool
) -> Entry:
    """Line ``n``'s hash, of the type ``system`` calls ``name``."""
    spec = types.by_exchange_name(system, name)
    if spec is None:
        if skip:
            return Entry(n, skipped=f"{system} signal type {_short(name)} (no enabled type)")
        known = ", ".join(s.exchange_names[system] for s in types if system in s.exchange_names)
        raise InvalidInput(
            f"line {n}: {system} signal type {_short(name)} is no enabled hashbank type "
            f"(known: {known or 'none'}; --skip-unknown leaves such lines out)"
        )
    return _hash(n, spec.name, value, None, types)


# -- readers ----------------------------------------------------------------------------


def _csv_rows(source: TextIO) -> Iterator[tuple[int, dict[str | None, Any]]]:
    reader = csv.DictReader(source)
    try:
        for row in reader:
            yield reader.line_num, row
    except csv.Error as exc:
        raise InvalidInput(f"line {reader.line_num}: not CSV ({exc})") from None


def _read_csv(source: TextIO, types: hashes.SignalRegistry, skip: bool) -> Iterator[Entry]:
    # csv.reader and the header's positions, not DictReader: a dict a line was a tenth
    # of a bulk import's time (benchmarks/bulk_import.py)
    reader = csv.reader(source)
    try:
        header = next(reader, [])
        named = "type" in header and "value" in header
        at_type = header.index("type") if named else 0
        at_value = header.index("value") if named else 0
        at_quality = header.index("quality") if "quality" in header else len(header)
        for row in reader:
            if not row:
                continue  # a blank line (DictReader skipped them too)
            if not named:
                raise InvalidInput("line 1: the header must name the columns type,value[,quality]")
            width = len(row)
            yield _own(
                reader.line_num,
                row[at_type] if at_type < width else None,
                row[at_value] if at_value < width else None,
                row[at_quality] if at_quality < width else None,
                types,
                skip,
            )
    except csv.Error as exc:
        raise InvalidInput(f"line {reader.line_num}: not CSV ({exc})") from None


def _read_jsonl(source: TextIO, types: hashes.SignalRegistry, skip: bool) -> Iterator[Entry]:
    for n, line in enumerate(source, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise InvalidInput(f"line {n}: not JSON ({str(exc)[:80]})") from None
        if not isinstance(obj, dict):
            raise InvalidInput(f'line {n}: expected an object {{"type", "value"}}')
        yield _own(n, obj.get("type"), obj.get("value"), obj.get("quality"), types, skip)


def _read_pytx_file(source: TextIO, types: hashes.SignalRegistry, skip: bool) -> Iterator[Entry]:
    # LocalFileSignalExchangeAPI.fetch_iter: strip, then partition at the first space
    for n, line in enumerate(source, 1):
        kind, _, value = line.strip().partition(" ")
        if not kind:
            continue
        if not value.strip():
            raise InvalidInput(f"line {n}: expected '<signal_type> <value>'")
        yield _exchanged(n, THREATEXCHANGE, kind, value.strip(), types, skip)


def _read_pytx_csv(source: TextIO, types: hashes.SignalRegistry, skip: bool) -> Iterator[Entry]:
    last: tuple[Any, Any] | None = None
    for n, row in _csv_rows(source):
        if "signal_type" not in row or "signal_str" not in row:
            raise InvalidInput("line 1: the header must be " + ",".join(PYTX_CSV_HEADER))
        kind, value = row["signal_type"], row["signal_str"]
        if not isinstance(kind, str) or not kind or not isinstance(value, str):
            raise InvalidInput(f"line {n}: expected a signal_type and a signal_str")
        category = row.get("category") or ""
        if category not in (*CATEGORIES, ""):
            raise InvalidInput(
                f"line {n}: category {_short(str(category))} is none of " + ", ".join(CATEGORIES)
            )
        if category == "NEGATIVE_CLASS":
            yield Entry(n, skipped="category NEGATIVE_CLASS (false positives, test data)")
            continue
        if (kind, value) == last:  # the dataset prints a signal once per collaboration
            yield Entry(n, skipped="listed again (another collaboration)")
            continue
        last = (kind, value)
        yield _exchanged(n, THREATEXCHANGE, kind, value, types, skip)


_SPACE = re.compile(r"[ \t\n\r]*")


class _JsonWalk:
    """Top-level JSON values of a text, and the records inside ``hashRecords`` arrays, each
    with its line, without decoding a whole FetchHashes answer at once."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.decoder = json.JSONDecoder()
        self._pos = self._line = 0

    def line(self, pos: int) -> int:
        if pos < self._pos:
            return self.text.count("\n", 0, pos) + 1
        self._line += self.text.count("\n", self._pos, pos)
        self._pos = pos
        return self._line + 1

    def skip(self, pos: int) -> int:
        match = _SPACE.match(self.text, pos)
        return match.end() if match else pos

    def fail(self, pos: int, what: str) -> InvalidInput:
        return InvalidInput(f"line {self.line(min(pos, len(self.text)))}: {what}")

    def value(self, pos: int) -> tuple[Any, int]:
        try:
            return self.decoder.raw_decode(self.text, pos)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"line {exc.lineno}: not JSON ({exc.msg})") from None
        except (ValueError, RecursionError) as exc:
            raise self.fail(pos, f"not JSON ({str(exc)[:80]})") from None

    def expect(self, pos: int, chars: str) -> int:
        pos = self.skip(pos)
        if pos >= len(self.text) or self.text[pos] not in chars:
            raise self.fail(pos, f"not JSON (expected {' or '.join(chars)})")
        return pos

    def array(self, pos: int) -> Iterator[tuple[int, Any, int]]:
        """Elements of the array at ``pos`` as (line, value, end); the last end is past ']'."""
        pos = self.skip(pos + 1)
        if self.text.startswith("]", pos):
            yield 0, None, pos + 1
            return
        while True:
            pos = self.skip(pos)
            at = self.line(pos)
            item, pos = self.value(pos)
            pos = self.expect(pos, ",]")
            if self.text[pos] == "]":
                yield at, item, -1
                yield 0, None, pos + 1
                return
            yield at, item, -1
            pos += 1

    def records(self) -> Iterator[tuple[int, Any]]:
        pos = self.skip(0)
        while pos < len(self.text):
            if self.text[pos] == "[":
                for at, item, end in self.array(pos):
                    if at:
                        yield at, item
                    else:
                        pos = end
            elif self.text[pos] == "{":
                pos = yield from self._object(pos)
            else:
                raise self.fail(pos, "expected StopNCII hash records (JSON)")
            pos = self.skip(pos)

    def _object(self, pos: int) -> Generator[tuple[int, Any], None, int]:
        """A FetchHashes answer (its records) or one record; returns the end position."""
        start = self.line(pos)
        fields: dict[str, Any] = {}
        answer = False
        pos = self.skip(pos + 1)
        if not self.text.startswith("}", pos):
            while True:
                pos = self.expect(pos, '"')
                key, pos = self.value(pos)
                pos = self.expect(pos, ":") + 1
                pos = self.skip(pos)
                if key == "hashRecords" and self.text.startswith("[", pos):
                    answer = True
                    for at, item, end in self.array(pos):
                        if at:
                            yield at, item
                        else:
                            pos = end
                else:
                    fields[key], pos = self.value(pos)
                pos = self.expect(pos, ",}")
                if self.text[pos] == "}":
                    break
                pos = self.skip(pos + 1)
        if not answer:
            yield start, fields
        return pos + 1


def _read_stopncii(source: TextIO, types: hashes.SignalRegistry, skip: bool) -> Iterator[Entry]:
    for n, record in _JsonWalk(source.read()).records():
        if not isinstance(record, dict):
            raise InvalidInput(f"line {n}: a hash record is a JSON object")
        status, kind, value = (record.get(k) for k in ("hashStatus", "signalType", "hashValue"))
        if not all(isinstance(v, str) for v in (status, kind, value)):
            raise InvalidInput(
                f"line {n}: a hash record needs the strings hashValue, signalType and hashStatus"
            )
        assert isinstance(status, str) and isinstance(kind, str)  # for mypy
        if status != "Active":  # Received, Withdrawn, Deleted: not (or no longer) to act on
            yield Entry(n, skipped=f"hashStatus {_short(status)}")
            continue
        yield _exchanged(n, STOPNCII, kind, value, types, skip)


_READERS: dict[str, Callable[[TextIO, hashes.SignalRegistry, bool], Iterator[Entry]]] = {
    "csv": _read_csv,
    "jsonl": _read_jsonl,
    "pytx-file": _read_pytx_file,
    "pytx-csv": _read_pytx_csv,
    "stopncii": _read_stopncii,
}


def read_entries(
    source: TextIO, fmt: str, types: hashes.SignalRegistry, *, skip_unknown: bool = False
) -> Iterator[Entry]:
    """The entries of a hash file in the format ``fmt``, one per hash line or record.

    Raises:
        InvalidInput: an unknown format, or a line that is not of the format, names an
            unknown type (unless ``skip_unknown``) or holds an invalid hash; the message
            names the line.
    """
    reader = _READERS.get(fmt)
    if reader is None:
        raise InvalidInput(f"unknown format {_short(fmt)}; expected one of " + ", ".join(FORMATS))
    try:
        yield from reader(source, types, skip_unknown)
    except UnicodeDecodeError:
        raise InvalidInput("the file is not UTF-8 text") from None


def detect(name: str, head: str) -> str:
    """The format of a file called ``name`` whose text starts with ``head``.

    Raises:
        InvalidInput: neither the text nor the name tells.
    """
    suffix = Path(name).suffix.lower()
    line = next((x.strip() for x in head.lstrip("\ufeff").splitlines() if x.strip()), "")
    if not line:
        return "jsonl" if suffix in (".jsonl", ".ndjson") else "csv"
    if line.startswith("["):
        return "stopncii"
    if line.startswith("{"):
        try:
            first = json.loads(line)
        except (ValueError, RecursionError):
            return "stopncii"  # a JSON document over several lines: a FetchHashes answer
        if isinstance(first, dict) and "type" in first:
            return "jsonl"
        return "stopncii"
    try:
        header = [h.strip() for h in next(csv.reader([line]))]
    except (csv.Error, StopIteration):
        header = []
    if "signal_type" in header and "signal_str" in header:
        return "pytx-csv"
    if "type" in header and "value" in header:
        return "csv"
    if re.fullmatch(r"\S+ +\S+", line):
        return "pytx-file"
    raise InvalidInput(
        f"cannot tell the format of {name}: give --format (" + ", ".join(FORMATS) + ")"
    )


def importable(
    entries: Iterable[Entry],
    types: hashes.SignalRegistry,
    tally: Tally,
    *,
    min_pdq_quality: int,
    skip_weak: bool = False,
) -> Iterator[Entry]:
    """The entries to write: skipped ones and (with ``skip_weak``) weak hashes counted in
    ``tally`` instead.

    Raises:
        InvalidInput: a weak hash (one that would match unrelated images), naming its line.
    """
    for entry in entries:
        if entry.item is None:
            tally.skip(entry.skipped or "skipped")
            continue
        reason = weakness(entry.item, min_pdq_quality=min_pdq_quality, types=types)
        if reason is not None:
            if not skip_weak:
                raise InvalidInput(
                    f"line {entry.line}: would match unrelated images: {reason} "
                    "(--skip-weak leaves such hashes out)"
                )
            tally.weak += 1
            continue
        yield entry


@dataclass
class ImportProgress:
    """Where an import is: ``committed`` hashes are in the bank, up to line ``line``."""

    phase: str = "checking"
    bytes_read: int = 0
    total_bytes: int = 0
    hashes: int = 0  # found (checking) or written (importing)
    committed: int = 0
    line: int = 0


def import_file(
    path: Path,
    fmt: str | None,
    bank: str,
    loader: BankEntries,
    *,
    skip_weak: bool = False,
    skip_unknown: bool = False,
    from_line: int = 1,
    progress: ImportProgress | None = None,
    on_progress: Callable[[ImportProgress], None] = lambda p: None,
    batch_size: int = BATCH,
    keep_parsed: int = KEEP_PARSED,
) -> Tally:
    """Import a hash file into ``bank``: check all of it, then write it.

    The first pass reads the whole file and writes nothing: a bad line stops the import
    before any hash is in. It keeps the hashes it parsed (up to ``keep_parsed``; past
    that the second pass reads the file again). The second writes them in transactions
    of ``batch_size`` hashes (one long transaction would hold the change log's lock, and
    so every report, for the whole import; short ones rewrite the same pages of the hash
    index again and again); should the database fail part way, ``progress`` says how far
    it got (``line``, ``committed``) and ``from_line=line + 1`` resumes.

    Raises:
        InvalidInput: a bad or weak line, an unknown format (nothing written).
        NotFound: no such bank (nothing written).
        NotReady: the database failed while writing (``progress`` has the resume point).
    """
    types = loader.types
    state = progress or ImportProgress()
    state.total_bytes = path.stat().st_size
    if fmt is None:
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            fmt = detect(path.name, fh.read(65536))

    def entries(tally: Tally) -> Iterator[Entry]:
        with path.open("rb") as raw, io.TextIOWrapper(raw, "utf-8-sig", newline="") as text:
            found = read_entries(text, str(fmt), types, skip_unknown=skip_unknown)
            for n, entry in enumerate(
                importable(
                    found, types, tally, min_pdq_quality=loader.min_pdq_quality, skip_weak=skip_weak
                )
            ):
                if not n % 1024:  # for the progress bar: tell() costs a system call
                    state.bytes_read = raw.tell()
                yield entry

    # the checking pass keeps what it parsed (a hash ~200 B) so that the writing pass
    # does not parse and check every line again; a file of more than KEEP_PARSED hashes
    # is read twice instead, holding one batch at a time
    tally = Tally()
    kept: list[Entry] | None = []
    for entry in entries(tally):
        state.hashes += 1
        if kept is not None:
            kept.append(entry)
            if len(kept) > keep_parsed:
                kept = None
        if state.hashes % _PROGRESS_EVERY == 0:
            on_progress(state)
    found = state.hashes
    state.phase, state.bytes_read, state.hashes = "importing", 0, 0
    state.line = from_line - 1
    on_progress(state)
    batch: list[HashInput] = []
    last = 0
    try:
        for n, entry in enumerate(kept if kept is not None else entries(Tally()), 1):
            if kept is not None and not n % _PROGRESS_EVERY:  # the bar by hashes
                state.bytes_read = state.total_bytes * n // max(found, 1)
            if entry.line < from_line:
                continue
            assert entry.item is not None  # importable() yields hashes only
            batch.append(entry.item)
            last = entry.line
            if len(batch) >= batch_size:
                _write(loader, bank, batch, path, state, last)
                batch = []
                on_progress(state)
        _write(loader, bank, batch, path, state, last)
        state.bytes_read = state.total_bytes
        on_progress(state)
    except DatabaseError as exc:
        raise NotReady(f"the database failed ({type(exc).__name__})") from exc
    return tally


def _write(
    loader: BankEntries,
    bank: str,
    batch: list[HashInput],
    path: Path,
    state: ImportProgress,
    last: int,
) -> None:
    added = loader.add(bank, batch, actor="cli", note=f"import {path.name}")
    state.hashes += added
    state.committed += added
    if batch:
        state.line = last


# -- writers ----------------------------------------------------------------------------


@dataclass
class ExportResult:
    """How many hashes a file got, and how many were left out, by reason."""

    written: int = 0
    left_out: Counter[str] = field(default_factory=Counter)


def write_entries(
    out: IO[str],
    fmt: str,
    signals: Iterable[IndexedSignal],
    banks: Mapping[int, BankRow],
    types: hashes.SignalRegistry,
    *,
    now: int,
) -> ExportResult:
    """Write ``signals`` (of ``banks``, by id) to ``out`` in the format ``fmt``.

    The exchanges' formats hold the types they have a name for (``exchange_names``), and
    ``pytx-file`` and ``stopncii``, which can only say "this is the content", leave out
    allow-list banks' hashes (false positives); ``pytx-csv`` says each bank's policy as the
    category (block ``POSITIVE_CLASS``, review ``INVESTIGATION_SEED``, allow
    ``NEGATIVE_CLASS``). StopNCII records carry no case number (a case id is half of a
    victim's secret) and ``now`` (Unix seconds) as their time.

    Raises:
        InvalidInput: an unknown format.
    """
    result = ExportResult()
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown format {_short(fmt)}; expected one of " + ", ".join(FORMATS))
    system = STOPNCII if fmt == "stopncii" else THREATEXCHANGE
    names = {s.name: s.exchange_names.get(system) for s in types}
    writer = csv.writer(out) if fmt in ("csv", "pytx-csv") else None
    if writer is not None:
        writer.writerow(
            PYTX_CSV_HEADER if fmt == "pytx-csv" else ("type", "value", "bank_id", "status")
        )
    if fmt == "stopncii":
        out.write('{"hashRecords": [')
    for sig in signals:
        bank = banks.get(sig.bank_id)
        if fmt == "csv":
            assert writer is not None
            writer.writerow((sig.type, sig.value, sig.bank_id, sig.status))
        elif fmt == "jsonl":
            row = {
                "type": sig.type,
                "value": sig.value,
                "bank_id": sig.bank_id,
                "status": sig.status,
            }
            out.write(json.dumps(row) + "\n")
        else:
            name = names.get(sig.type)
            if name is None:
                result.left_out[f"{sig.type} hashes ({system} has no name for the type)"] += 1
                continue
            policy = bank.policy if bank is not None else BankPolicy.BLOCK
            if fmt == "pytx-csv":
                assert writer is not None
                category = _CATEGORY_OF.get(BankPolicy(policy), "POSITIVE_CLASS")
                writer.writerow((name, sig.value, bank.name if bank else "", category, ""))
            elif policy == BankPolicy.ALLOW:
                result.left_out["hashes of allow-list banks (false positives)"] += 1
                continue
            elif fmt == "pytx-file":
                out.write(f"{name} {sig.value}\n")
            else:
                record = {
                    "lastModtimestamp": now,
                    "signalType": name,
                    "hashValue": sig.value,
                    "hashStatus": "Active",
                    "caseNumbers": {},
                    "CSPFeedbacks": [],
                }
                out.write(("\n" if not result.written else ",\n") + json.dumps(record))
        result.written += 1
    if fmt == "stopncii":
        out.write(
            f'\n], "count": {result.written}, "nextPageToken": null, '
            f'"nextSetTimestamp": {now}, "hasMoreRecords": false}}\n'
        )
    return result
