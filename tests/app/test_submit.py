"""``hashbank submit``: hashes images locally and reports only the hashes, via a real server."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.images import jpeg, png
from tests.servers import HASHBANK, Server, free_port


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("HASHBANK_")}
    return subprocess.run(
        [HASHBANK, "submit", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**base, **(env or {})},
    )


def _photos(folder: Path) -> dict[str, Path]:
    """Two photos in a folder and its subfolder, a stray non-image, one photo elsewhere."""
    (folder / "alice" / "old").mkdir(parents=True)
    files = {
        "coffee": folder / "alice" / "coffee.jpg",
        "chelsea": folder / "alice" / "old" / "chelsea.png",
        "rocket": folder / "rocket.jpg",
    }
    files["coffee"].write_bytes(jpeg("coffee"))
    files["chelsea"].write_bytes(png("chelsea"))
    files["rocket"].write_bytes(jpeg("rocket"))
    (folder / "alice" / "notes.txt").write_text("not an image, and not an image suffix")
    return files


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _case(server: Server, case_id: str, pin: str) -> dict[str, object]:
    with server.client() as c:
        r = c.get(f"/v1/cases/{case_id}", headers={"X-Case-Pin": pin})
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def _matches(server: Server, key: str, image: bytes) -> bool:
    with server.client(key) as c:
        r = c.post("/v1/check", files={"image": ("x", image, "application/octet-stream")})
    return bool(r.json()["match"])


def test_one_case_per_path_folders_recursed(
    live_server: Server, api_key: str, tmp_path: Path
) -> None:
    files = _photos(tmp_path)
    result = _run(str(tmp_path / "alice"), str(files["rocket"]), "--server", live_server.url)
    assert result.returncode == 0, result.stderr
    lines = _lines(result.stdout)
    assert len(lines) == 2
    alice, rocket = (line.split() for line in lines)
    assert alice[1] == "PIN" and alice[3:5] == ["2", "images"] and alice[5].endswith("alice")
    assert rocket[3:5] == ["1", "image"]
    for case_id, _, pin, *_ in (alice, rocket):
        assert _case(live_server, case_id, pin)["status"] == "pending"
    # exactly what `hashbank hash` computes locally is in the case
    local = [
        json.loads(line)
        for line in subprocess.run(
            [HASHBANK, "hash", str(files["coffee"]), str(files["chelsea"])],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    ]
    expected = {v for h in local for v in (*h["pdq_stored"], h["phash"], h["md5"], h["sha256"])}
    assert _case(live_server, alice[0], alice[2])["hashes"] == len(expected)
    assert _matches(live_server, api_key, files["chelsea"].read_bytes())
    assert "reported 3 image(s) in 2 case(s)" in result.stderr


def test_json_lines_to_a_private_file(live_server: Server, tmp_path: Path) -> None:
    files = _photos(tmp_path / "in")
    out = tmp_path / "cases.jsonl"
    result = _run(
        str(tmp_path / "in"),
        "--server",
        live_server.url,
        "--group",
        "image",
        "--json",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    cases = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(c["images"][0] for c in cases) == sorted(str(p) for p in files.values())
    assert all(c["pin"] not in result.stdout + result.stderr for c in cases)
    assert f"written to {out}" in result.stderr
    for c in cases:
        assert _case(live_server, c["case_id"], c["pin"])["hashes"] == c["hashes"]


def test_files_that_cannot_be_hashed_are_skipped_clearly(
    live_server: Server, tmp_path: Path
) -> None:
    good = tmp_path / "good.jpg"
    good.write_bytes(jpeg("astronaut"))
    broken = tmp_path / "broken.png"
    broken.write_bytes(png("camera")[:200])
    text = tmp_path / "letter.jpg"
    text.write_text("hello")
    missing = tmp_path / "missing.jpg"
    result = _run(
        str(good),
        str(broken),
        str(text),
        str(missing),
        "--server",
        live_server.url,
        "--group",
        "all",
    )
    assert result.returncode == 1
    assert len(_lines(result.stdout)) == 1  # the good image was still reported
    for path, reason in (
        (broken, "CorruptImage"),
        (text, "UnsupportedImage"),
        (missing, "cannot read the file"),
    ):
        assert any(str(path) in line and reason in line for line in result.stderr.splitlines())
    assert "3 file(s) skipped" in result.stderr


def test_cases_are_split_to_fit_the_server(
    server_factory: Callable[..., Server], tmp_path: Path
) -> None:
    server = server_factory(extra_env={"HASHBANK_MAX_HASHES_ANONYMOUS": "80"})
    _photos(tmp_path)  # three photos of ~50 hashes each: one per case at most 80
    result = _run(str(tmp_path), "--server", server.url, "--json")
    assert result.returncode == 0, result.stderr
    cases = [json.loads(line) for line in _lines(result.stdout)]
    assert len(cases) == 3 and all(len(c["images"]) == 1 for c in cases)
    assert all(c["hashes"] <= 80 for c in cases)


def test_with_a_report_key_everything_fits_in_one_case(
    server_factory: Callable[..., Server], tmp_path: Path
) -> None:
    server = server_factory(extra_env={"HASHBANK_MAX_HASHES_ANONYMOUS": "80"})
    key = server.create_client("ngo", "report")
    _photos(tmp_path)
    result = _run(str(tmp_path), "--server", server.url, "--json", env={"HASHBANK_API_KEY": key})
    assert result.returncode == 0, result.stderr
    (case,) = [json.loads(line) for line in _lines(result.stdout)]
    assert len(case["images"]) == 3 and case["hashes"] > 80


def test_server_problems_are_explained(live_server: Server, tmp_path: Path) -> None:
    image = tmp_path / "a.jpg"
    image.write_bytes(jpeg("coffee"))
    bad_key = _run(str(image), "--server", live_server.url, "--key", "not-a-key")
    assert bad_key.returncode == 2
    assert "401" in bad_key.stderr and "check --key" in bad_key.stderr
    nobody = _run(str(image), "--server", f"http://127.0.0.1:{free_port()}")
    assert nobody.returncode == 2 and "cannot reach" in nobody.stderr
    assert "Traceback" not in bad_key.stderr + nobody.stderr
    nothing = _run(str(tmp_path / "nothing.jpg"), "--server", live_server.url)
    assert nothing.returncode == 1 and "nothing reported" in nothing.stderr
