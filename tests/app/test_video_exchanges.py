"""Videos in the exchanges: vPDQ and video MD5 exported and imported in Meta's hash-file
formats (pytx-file, pytx-csv), read by python-threatexchange's own parsers; StopNCII's
FetchHashes hands out VideoMD5 (read by pytx's StopNCII client); HMA's compatible routes
list the video types by pytx's names."""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from threatexchange.exchanges.clients.stopncii import api
from threatexchange.signal_type.md5 import VideoMD5Signal

import hashes
from app.api.compat_hma import PREFIX as HMA
from tests.servers import Server, fresh_database_url


def _vpdq(n: int) -> str:
    return hashes.format_vpdq(
        hashes.VpdqFrame(secrets.token_hex(32), 90, float(t)) for t in range(n)
    )


@pytest.fixture(scope="module")
def exported(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, str, str, dict[str, str]]]:
    workdir = tmp_path_factory.mktemp("vx")
    server = Server(workdir, fresh_database_url(workdir)).start()
    video, md5 = _vpdq(30), secrets.token_hex(16)
    listing = workdir / "in.jsonl"
    listing.write_text(
        json.dumps({"type": "vpdq", "value": video})
        + "\n"
        + json.dumps({"type": "video_md5", "value": md5})
        + "\n"
    )
    server.cli("import", str(listing), "--bank", "reports")
    files = {
        fmt: server.cli("export", "--bank", "reports", "--format", fmt).stdout
        for fmt in ("pytx-file", "pytx-csv")
    }
    yield server, video, md5, files
    server.stop()


def _bank(server: Server, key: str, name: str) -> None:
    with server.client(key) as c:
        assert c.post("/v1/banks", json={"name": name, "policy": "block"}).status_code == 201


def test_vpdq_and_video_md5_leave_and_come_back_in_metas_formats(exported) -> None:
    server, video, md5, files = exported
    # pytx-file: "<signal_type> <value>" a line, as LocalFileSignalExchangeAPI reads it
    lines = dict(line.partition(" ")[::2] for line in files["pytx-file"].splitlines())
    assert lines == {"vpdq": video, "video_md5": md5}  # Meta's serialisation, unchanged
    assert VideoMD5Signal.validate_signal_str(lines["video_md5"]) == md5
    # pytx-csv: the dataset's columns; the value a quoted JSON array
    rows = list(csv.DictReader(io.StringIO(files["pytx-csv"])))
    assert {(r["signal_type"], r["signal_str"]) for r in rows} == {
        ("vpdq", video),
        ("video_md5", md5),
    }
    # and back, from each format, into a bank of its own: the same values
    key = server.create_client()
    for fmt in ("pytx-file", "pytx-csv"):
        bank = "back-" + fmt
        _bank(server, key, bank)
        path = server.workdir / f"back.{fmt}"
        path.write_text(files[fmt])
        server.cli("import", str(path), "--format", fmt, "--bank", bank)
        again = server.cli("export", "--bank", bank, "--format", "pytx-file").stdout
        assert again == files["pytx-file"], fmt


def test_a_round_trip_through_the_real_threatexchange_cli(exported, tmp_path: Path) -> None:
    """hashbank's pytx-file read by ``threatexchange fetch`` (a local_file collaboration,
    pytx's vpdq extension: Meta's vpdq package), printed by ``threatexchange dataset -P
    --csv`` and imported back: the vPDQ value is the same text all the way."""
    server, video, md5, files = exported
    env = {**os.environ, "HOME": str(tmp_path)}
    tx = str(Path(sys.executable).parent / "threatexchange")

    def run(*args: str) -> str:
        done = subprocess.run(
            [tx, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    signal_file = tmp_path / "from-hashbank.txt"
    signal_file.write_text(files["pytx-file"])
    run("config", "extensions", "add", "threatexchange.extensions.vpdq.manifest")
    run("config", "collab", "edit", "local_file", "vids", "--create", "--filename",
        str(signal_file))  # fmt: skip
    run("fetch")
    dataset = run("dataset", "-P", "--csv")
    rows = {(r["signal_type"], r["signal_str"]) for r in csv.DictReader(io.StringIO(dataset))}
    assert rows == {("vpdq", video), ("video_md5", md5)}

    key = server.create_client()
    _bank(server, key, "from-pytx-cli")
    back = tmp_path / "dataset.csv"
    back.write_text(dataset)
    server.cli("import", str(back), "--format", "pytx-csv", "--bank", "from-pytx-cli")
    again = server.cli("export", "--bank", "from-pytx-cli", "--format", "pytx-file").stdout
    assert sorted(again.splitlines()) == sorted(files["pytx-file"].splitlines())


def test_stopncii_fetch_hashes_hands_out_video_md5(exported) -> None:
    server, _video, md5, _files = exported
    key = server.create_client(scopes="feed")
    c = api.StopNCIIAPI(
        subscription_key=key,
        fetch_function_key=key,
        base_url_override=server.url + "/compat/stopncii/v1",
    )
    records = {r.hashValue: r for p in c.fetch_hashes_iter(0) for r in p.hashRecords}
    assert records[md5].signalType == api.StopNCIISignalType.VideoMD5
    assert all(r.signalType != api.StopNCIISignalType.Unknown for r in records.values())


def test_hma_lists_the_video_types_by_pytx_names(exported) -> None:
    server, video, md5, _files = exported
    key = server.create_client(scopes="check")
    with server.client(key) as c:
        r = c.get(HMA + "/m/index/status")
        assert r.status_code == 200, r.text
        assert {"video_md5", "vpdq"} <= set(r.json())
        r = c.get(HMA + "/m/raw_lookup", params={"signal_type": "video_md5", "signal": md5})
        assert r.status_code == 200 and r.json()["matches"], r.text
