"""The privacy audit of the whole suite's traffic (docs/privacy.md, docs/security.md).

A session fixture (``suite_privacy_audit``, autouse through tests/conftest.py) waits for
every test to finish and every server to stop, then searches what every server of the
session left behind: its database (SQLite files, or on PostgreSQL every database the
suite created), its logs, and its temp dir (each server runs with ``TMPDIR`` inside its
own working dir, so whatever it spooled is there). It looks for

- image and video bytes: the signatures of every format hashbank decodes, raw or escaped
  as text (a JPEG's JFIF/Exif header, PNG's 8-byte signature, GIF, WebP, HEIF/AVIF, TIFF;
  MP4/MOV, Matroska/WebM, AVI);
- client IP addresses: every request of the suite comes from a loopback address, so any
  ``127.0.0.x`` is a finding, except where configuration names the listen address or
  the database server (``http://127.0.0.1:PORT``, ``@127.0.0.1:PORT``).

A finding fails the session (an error at the last test's teardown) with the file and
what was found. ``tests/app/test_privacy.py`` checks the same on traffic of its own,
and that this scanner does find what is planted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

IMAGE_SIGNATURES = {
    "JPEG (JFIF)": re.compile(rb"\xff\xd8\xff\xe0..JFIF\x00", re.DOTALL),
    "JPEG (Exif)": re.compile(rb"\xff\xd8\xff\xe1..Exif\x00\x00", re.DOTALL),
    "PNG": re.compile(re.escape(b"\x89PNG\r\n\x1a\n")),
    "GIF": re.compile(rb"GIF8[79]a"),
    "WebP": re.compile(rb"RIFF....WEBPVP8", re.DOTALL),
    "HEIF/AVIF": re.compile(rb"ftyp(heic|heix|mif1|avif)"),
    "TIFF": re.compile(rb"II\*\x00\x08\x00\x00\x00|MM\x00\*\x00\x00\x00\x08"),
    # videos (the video uploads of /v1/check and /v1/cases): MP4/MOV, Matroska/WebM, AVI
    "MP4/MOV": re.compile(rb"ftyp(isom|iso[2-6]|mp4[12]|avc1|qt  |M4V |3gp[4-6])"),
    "Matroska/WebM": re.compile(rb"\x1a\x45\xdf\xa3.{1,8}\x42\x86\x81\x01", re.DOTALL),
    "AVI": re.compile(rb"RIFF....AVI LIST", re.DOTALL),
    # the same headers as text: an error message or a repr() that echoed the bytes
    "escaped image header": re.compile(
        rb"\\x89PNG|\\xff\\xd8\\xff|JFIF\\(x00|u0000)|Exif\\(x00|u0000)"
    ),
}
ADDRESS = re.compile(rb"(?<![\d.])127\.0\.0\.\d{1,3}(?![\d])")
# configuration, not a visitor: the listen URL, a database URL, psycopg's "at host, port"
CONFIGURED = re.compile(
    rb'(://|@)127\.0\.0\.1:\d+|\\?"127\.0\.0\.1\\?", port \d+|host=127\.0\.0\.1|'
    rb"running on http://127\.0\.0\.1"
)


@dataclass
class AuditReport:
    servers: int = 0
    files: int = 0
    databases: int = 0
    findings: list[str] = field(default_factory=list)


def scan_bytes(where: str, blob: bytes, *, addresses: bool = True) -> list[str]:
    """Image signatures and client addresses in ``blob``, as findings naming ``where``."""
    found = [f"{where}: {name} bytes" for name, rx in IMAGE_SIGNATURES.items() if rx.search(blob)]
    if addresses:
        cleaned = CONFIGURED.sub(b"", blob)
        hits = sorted({m.group().decode() for m in ADDRESS.finditer(cleaned)})
        found += [f"{where}: client address {hit}" for hit in hits]
    return found


def _server_dirs(root: Path) -> Iterator[Path]:
    """Working dirs of every tests.servers.Server of the session (each has server.log)."""
    for log in root.rglob("server.log"):
        yield log.parent


def _server_files(workdir: Path) -> Iterator[Path]:
    """What a server writes: its database files and index snapshots, its logs, its temp
    dir."""
    for path in [*workdir.glob("hashbank.db*"), *workdir.glob("hashbank-snapshots")]:
        if (
            path.is_dir()
        ):  # index snapshots (<file>.snapshots, or on PostgreSQL ./hashbank-snapshots)
            yield from (p for p in path.rglob("*") if p.is_file())
        else:
            yield path
    yield from workdir.glob("*.log")
    tmp = workdir / "tmp"
    if tmp.is_dir():
        yield from (p for p in tmp.rglob("*") if p.is_file())


def _postgres_text(admin_url: str) -> Iterator[tuple[str, bytes]]:
    """Every row of every table of every database the suite created (``hb_*``)."""
    from sqlalchemy import create_engine, inspect, text
    from sqlalchemy.engine import make_url

    admin = create_engine(admin_url)
    try:
        with admin.connect() as conn:
            names = conn.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE 'hb\\_%'")
            ).scalars()
            names = list(names)
    finally:
        admin.dispose()
    for name in names:
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                rows = [
                    repr(tuple(row))
                    for t in inspect(conn).get_table_names()
                    for row in conn.execute(text(f'SELECT * FROM "{t}"'))
                ]
        finally:
            engine.dispose()
        yield f"postgresql database {name}", "\n".join(rows).encode()


def audit(root: Path, pg_admin_url: str = "") -> AuditReport:
    """Scan every server's leftovers under ``root`` (and the suite's PostgreSQL databases)."""
    report = AuditReport()
    for workdir in _server_dirs(root):
        report.servers += 1
        for path in _server_files(workdir):
            report.files += 1
            report.findings += scan_bytes(str(path), path.read_bytes())
    if pg_admin_url:
        for where, blob in _postgres_text(pg_admin_url):
            report.databases += 1
            report.findings += scan_bytes(where, blob)
    return report


@pytest.fixture(scope="session", autouse=True)
def suite_privacy_audit(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """After the whole session (servers stopped): no image byte, no client address."""
    yield
    report = audit(tmp_path_factory.getbasetemp(), os.environ.get("HASHBANK_TEST_DATABASE_URL", ""))
    terminal = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if terminal is not None and capture is not None and report.servers:
        with capture.global_and_fixture_disabled():  # shown in CI's log, not captured
            terminal.write_line(
                f"\nprivacy audit: {report.servers} servers, {report.files} files, "
                f"{report.databases} PostgreSQL databases scanned; "
                f"{len(report.findings)} findings"
            )
    if report.findings:
        pytest.fail(
            "privacy audit of the suite's traffic found:\n  " + "\n  ".join(report.findings[:50]),
            pytrace=False,
        )
