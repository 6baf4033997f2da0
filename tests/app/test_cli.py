"""The hashbank CLI against a real database."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from tests.servers import Server


def test_clients_and_users_commands_print_json(server_factory):
    server: Server = server_factory(start=False)
    out = server.cli("clients", "create", "platform-a", "--scopes", "check,feed", "--json")
    line = json.loads(out.stdout)
    assert line["name"] == "platform-a" and line["key"].startswith("hbk_") and len(line["key"]) > 40
    assert line["scopes"] == ["check", "feed"]
    assert server.cli("clients", "create", "platform-a", check=False).returncode != 0
    assert server.cli("clients", "create", "p2", "--scopes", "nope", check=False).returncode != 0
    listed = [json.loads(x) for x in server.cli("clients", "list", "--json").stdout.splitlines()]
    assert listed[0]["name"] == "platform-a" and "key" not in listed[0]
    assert listed[0]["exact_distances"] is False  # checks answer bands unless an admin says
    server.cli("clients", "distances", "platform-a", "--exact")
    server.cli("clients", "revoke", "platform-a")
    listed = [json.loads(x) for x in server.cli("clients", "list", "--json").stdout.splitlines()]
    assert listed[0]["revoked"] is True and listed[0]["exact_distances"] is True

    out = server.cli(
        "users",
        "create",
        "alice",
        "--role",
        "admin",
        "--password-stdin",
        "--json",
        input="correct horse battery\n",
    )
    assert json.loads(out.stdout) == {"username": "alice", "role": "admin"}
    short = server.cli("users", "create", "bob", "--password-stdin", input="short\n", check=False)
    assert short.returncode != 0 and "10 characters" in short.stderr


def test_import_then_check_then_export(server_factory, tmp_path: Path):
    server: Server = server_factory(start=False)
    hashes = [secrets.token_hex(32) for _ in range(2500)]
    csv_file = tmp_path / "hashes.csv"
    csv_file.write_text("type,value,quality\n" + "".join(f"pdq,{h},90\n" for h in hashes))
    out = server.cli("import", str(csv_file), "--bank", "reports")
    assert "imported 2500 hashes" in out.stderr
    jsonl = tmp_path / "more.jsonl"
    jsonl.write_text(json.dumps({"type": "md5", "value": "cd" * 16}) + "\n")
    server.cli("import", str(jsonl))
    bad = tmp_path / "bad.csv"
    bad.write_text("type,value\npdq,xyz\n")
    failed = server.cli("import", str(bad), check=False)
    assert failed.returncode != 0 and "line 2" in failed.stderr
    not_an_object = tmp_path / "list.jsonl"
    not_an_object.write_text('["pdq", "' + hashes[0] + '"]\n')
    for args in (("import", str(not_an_object)), ("remove", "--file", str(not_an_object))):
        failed = server.cli(*args, check=False)
        assert failed.returncode != 0 and "line 1" in failed.stderr, failed.stderr
        assert "Traceback" not in failed.stderr

    server.start()
    key = server.create_client(scopes="check")
    with server.client(key) as c:
        r = c.post("/v1/check", json={"hashes": [{"type": "pdq", "value": hashes[1234]}]}).json()
    assert r["match"] is True and r["action"] == "block"
    exported = server.cli("export", "--bank", "reports").stdout.splitlines()
    assert exported[0] == "type,value,bank_id,status" and len(exported) == 2502


def test_help_texts(server_factory):
    server: Server = server_factory(start=False)
    top = server.cli("--help").stdout
    for command in ("serve", "hash", "import", "export", "clients", "users", "db"):
        assert command in top
    assert "--workers" in server.cli("serve", "--help").stdout


def test_first_run_prints_how_to_sign_in(server_factory):
    server: Server = server_factory()
    server.stop()
    log = server.log_path.read_text()
    assert "users create admin --role admin" in log and "clients create" in log
