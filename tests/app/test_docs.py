"""Docs stay true: every setting is in the README; the OpenAPI lists every route."""

from __future__ import annotations

from pathlib import Path

from app.config import Settings

REPO = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented_in_the_readme():
    readme = (REPO / "README.md").read_text()
    missing = [
        f"HASHBANK_{name.upper()}"
        for name in Settings.model_fields
        if f"HASHBANK_{name.upper()}" not in readme
    ]
    assert missing == []


def test_openapi_lists_the_api(live_server):
    with live_server.client() as c:
        spec = c.get("/openapi.json").json()
    assert set(spec["paths"]) >= {
        "/v1/cases",
        "/v1/cases/{case_id}",
        "/v1/cases/{case_id}/hashes",
        "/v1/check",
        "/v1/check/batch",
        "/v1/feed",
        "/v1/matches/{match_id}/feedback",
        "/v1/feed/feedback",
        "/v1/banks",
        "/healthz",
    }
    body = spec["paths"]["/v1/check"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    assert "hashes" in body["properties"]
    assert "HashIn" in spec["components"]["schemas"]


def test_the_deploy_guides_proxy_sends_the_client_and_hsts():
    """The nginx example is what operators copy: it must forward the client (or every
    victim shares one anonymous budget, HASHBANK_TRUSTED_PROXIES names the proxy) and
    keep browsers on HTTPS (a PIN typed after an http:// link)."""
    import re

    guide = (REPO / "docs" / "deploy.md").read_text()
    blocks = re.findall(r"```nginx\n(.*?)```", guide, re.DOTALL)
    assert blocks, "docs/deploy.md has no nginx example"
    nginx = "\n".join(blocks)
    hsts = re.search(r'add_header Strict-Transport-Security "max-age=(\d+)[^"]*" always;', nginx)
    assert hsts and int(hsts.group(1)) >= 31_536_000
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in nginx
    assert "HASHBANK_TRUSTED_PROXIES" in guide
