"""Hash files crossing between hashbank and python-threatexchange's real CLI
(``threatexchange`` from PyPI), both ways, and imports that stop on a bad line."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path

from tests.servers import BIN, Server

THREATEXCHANGE = str(BIN / "threatexchange")


def pdq() -> str:
    return secrets.token_hex(32)


def flip(value: str, bits: int) -> str:
    return f"{int(value, 16) ^ ((1 << bits) - 1):064x}"


class Tx:
    """The ``threatexchange`` CLI with a state directory and HOME of its own."""

    def __init__(self, root: Path) -> None:
        (root / "home").mkdir(parents=True)
        self.env = {**os.environ, "HOME": str(root / "home"), "TX_STATEDIR": str(root / "tx")}

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [THREATEXCHANGE, *args], env=self.env, capture_output=True, text=True, timeout=120
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"threatexchange {' '.join(args)} failed:\n{done.stderr}")
        return done

    def local_file(self, name: str, path: Path) -> None:
        self("config", "collab", "edit", "local_file", "--create", "--filename", str(path), name)


def exported(server: Server, *args: str) -> list[str]:
    return server.cli("export", *args).stdout.splitlines()


def test_threatexchange_dataset_csv_imports_into_hashbank(server_factory, tmp_path: Path):
    server: Server = server_factory(start=False)
    tx = Tx(tmp_path)
    values = [pdq() for _ in range(300)]
    signals = tmp_path / "platform.txt"
    signals.write_text(
        "".join(f"pdq {v}\n" for v in values[:150])
        + f"url_md5 {'ab' * 16}\n"  # a type of pytx that hashbank has no name for
        + "".join(f"pdq {v}\n" for v in values[150:])
    )
    tx.local_file("platform-list", signals)
    tx("fetch")
    dataset = tmp_path / "dataset.csv"
    dataset.write_text(tx("dataset", "-P", "--csv").stdout)
    assert dataset.read_text().startswith("signal_type,signal_str,collab,category,tags")

    refused = server.cli("import", str(dataset), check=False)
    assert refused.returncode == 1
    assert "threatexchange signal type 'url_md5'" in refused.stderr
    assert "line " in refused.stderr and "nothing was imported" in refused.stderr

    done = server.cli("import", str(dataset), "--skip-unknown")
    assert "imported 300 hashes into bank 'reports'" in done.stderr
    assert "left out 1: threatexchange signal type 'url_md5'" in done.stderr
    # exactly these (the refused import wrote nothing)
    assert sorted(line.split(",")[1] for line in exported(server)[1:]) == sorted(values)


def test_hashbank_export_loads_through_pytx_local_file_exchange(server_factory, tmp_path: Path):
    server: Server = server_factory(start=False)
    tx = Tx(tmp_path)
    values = [pdq() for _ in range(1000)]
    listing = tmp_path / "list.csv"
    listing.write_text("type,value\n" + "".join(f"pdq,{v}\n" for v in values))
    server.cli("import", str(listing))
    false_positive = pdq()
    allow = tmp_path / "allow.txt"
    allow.write_text(f"pdq {false_positive}\n")
    assert "imported 1 hashes" in server.cli("import", str(allow), "--bank", "allowlist").stderr

    out = tmp_path / "hashbank.txt"
    done = server.cli("export", "--format", "pytx-file", "--output", str(out))
    assert "left out 1 hashes of allow-list banks" in done.stderr
    assert len(out.read_text().splitlines()) == 1000

    tx.local_file("hashbank", out)
    tx("fetch")
    hit = tx("match", "--hashes", "photo", "--", values[777]).stdout
    assert hit.startswith("pdq 0 (hashbank)"), hit
    near = tx("match", "--hashes", "photo", "--", flip(values[3], 5)).stdout
    assert near.startswith("pdq 5 (hashbank)"), near
    assert tx("match", "--hashes", "photo", "--", false_positive).stdout == ""
    assert tx("match", "--hashes", "photo", "--", pdq()).stdout == ""


def test_a_bad_line_imports_nothing_and_from_line_resumes(server_factory, tmp_path: Path):
    server: Server = server_factory(start=False, extra_env={"HASHBANK_IMPORT_BATCH": "5000"})
    values = [pdq() for _ in range(12_000)]
    lines = [f"pdq {v}\n" for v in values]
    lines[10_999] = "pdq 0123\n"  # past two 5,000-hash transactions of the writing pass
    path = tmp_path / "list.txt"
    path.write_text("".join(lines))
    refused = server.cli("import", str(path), check=False)
    assert refused.returncode == 1 and "line 11000: " in refused.stderr, refused.stderr

    lines[10_999] = f"pdq {values[10_999]}\n"
    path.write_text("".join(lines))
    done = server.cli("import", str(path), "--from-line", "6001")
    assert "imported 6000 hashes" in done.stderr
    # exactly these: the refused import wrote nothing, not even its first 10,000 lines
    assert [line.split(",")[1] for line in exported(server)[1:]] == values[6000:]


def test_stopncii_records_import_only_active_hashes(server_factory, tmp_path: Path):
    server: Server = server_factory(start=False)
    active, withdrawn = pdq(), pdq()

    def record(value: str, status: str, kind: str = "ImagePDQ") -> dict[str, object]:
        return {
            "lastModtimestamp": 1700000000,
            "signalType": kind,
            "hashValue": value,
            "hashStatus": status,
            "caseNumbers": {},
            "CSPFeedbacks": [],
        }

    answer = {
        "count": 4,
        "nextPageToken": None,
        "nextSetTimestamp": 1700000001,
        "hasMoreRecords": False,
        "hashRecords": [
            record(active, "Active"),
            record(withdrawn, "Withdrawn"),
            record(pdq(), "Deleted"),
            record("cd" * 16, "Active", "VideoTMK"),  # a StopNCII type hashbank lacks
        ],
    }
    path = tmp_path / "FetchHashes.json"
    path.write_text(json.dumps(answer, indent=2))
    done = server.cli("import", str(path), "--skip-unknown")
    assert "imported 1 hashes" in done.stderr
    for note in ("1: hashStatus 'Withdrawn'", "1: hashStatus 'Deleted'", "'VideoTMK'"):
        assert note in done.stderr
    assert [line.split(",")[1] for line in exported(server)[1:]] == [active]

    # the export in StopNCII's shape imports back, as what the exchange would send
    again = tmp_path / "again.json"
    server.cli("export", "--format", "stopncii", "--output", str(again))
    assert json.loads(again.read_text())["hashRecords"][0]["hashValue"] == active
    assert "imported 1 hashes" in server.cli("import", str(again)).stderr


def _fail_inserts_after(database_url: str, rows: int) -> None:
    """Make the database refuse every signal past the first ``rows`` (a full disk, say)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    f"CREATE TRIGGER full_disk AFTER INSERT ON signal WHEN NEW.id > {rows} "
                    "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION full_disk() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.id > {rows} THEN RAISE EXCEPTION 'disk full'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER full_disk BEFORE INSERT ON signal "
                    "FOR EACH ROW EXECUTE FUNCTION full_disk()"
                )
            )
    engine.dispose()


def _repair(database_url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "DROP TRIGGER full_disk" + ("" if engine.dialect.name == "sqlite" else " ON signal")
            )
        )
    engine.dispose()


def test_a_database_failure_part_way_says_where_to_resume(server_factory, tmp_path: Path):
    server: Server = server_factory(start=False, extra_env={"HASHBANK_IMPORT_BATCH": "5000"})
    server.cli("db", "upgrade")
    values = [pdq() for _ in range(12_000)]
    path = tmp_path / "list.txt"
    path.write_text("".join(f"pdq {v}\n" for v in values))
    _fail_inserts_after(server.database_url, 5_000)
    stopped = server.cli("import", str(path), check=False)
    assert stopped.returncode == 1, stopped.stderr
    assert "5000 hashes are imported, up to line 5000; resume with --from-line 5001" in (
        stopped.stderr
    ), stopped.stderr
    assert "Traceback" not in stopped.stderr

    _repair(server.database_url)
    assert "imported 7000 hashes" in server.cli("import", str(path), "--from-line", "5001").stderr
    assert [line.split(",")[1] for line in exported(server)[1:]] == values  # each once
