"""Helpers shared by the portal's browser tests (this module holds no test of its own).

Images for the tests are written to pytest's tmp_path: a browser picks files from disk,
the way a person does. They are test inputs, not images handled by the service.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from playwright.sync_api import BrowserContext, Page, expect

from app.portal.i18n import texts
from tests.browser.conftest import SCREENSHOTS, screenshot
from tests.servers import Server

REPO = Path(__file__).resolve().parents[2]
PDQ_REFERENCE = REPO / "tests" / "data" / "pdq-reference"  # vendored
EXIT_HOSTS = ("https://www.bbc.com/**", "https://www.meteo.be/**")
HASHING_TIMEOUT = 120_000  # ms: a dozen 12 MP photos on a loaded 2-core machine


def t(lang: str, key: str, **values: Any) -> str:
    """A page text, as the page shows it (``js.`` keys as the scripts show them)."""
    table = texts(lang).table
    text = table.get(key, table.get("js." + key))
    assert text is not None, key
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def encode(img: Image.Image, fmt: str = "PNG", **kwargs: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def synthetic(seed: int = 0, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """A deterministic picture with detail everywhere (gradients, waves, blocks)."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    rng = np.random.default_rng(seed)
    r = 127 + 120 * np.sin(x / (13 + 3 * seed)) * np.cos(y / 19)
    g = 255 * x / w
    b = 255 * y / h
    arr = np.stack([r, g, b], axis=2)
    for _ in range(6):
        x0, y0 = int(rng.integers(0, w - 60)), int(rng.integers(0, h - 60))
        arr[y0 : y0 + 50, x0 : x0 + 70] = rng.integers(0, 256, 3)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def write(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def stub_exit_sites(context: BrowserContext) -> None:
    """The quick exit leaves for a real site; answer it locally (the test network is closed)."""
    for pattern in EXIT_HOSTS:
        context.route(
            pattern,
            lambda route: route.fulfill(
                status=200, content_type="text/html", body="<title>weather</title>neutral"
            ),
        )


def open_page(page: Page, server: Server, path: str = "/", lang: str | None = "en") -> Page:
    """Open a portal page and wait for its scripts."""
    url = server.url + path + (f"?lang={lang}" if lang else "")
    response = page.goto(url)
    assert response is not None and response.status == 200
    page.wait_for_load_state("networkidle")
    return page


def pick(page: Page, files: list[Path], picker: str = "report") -> list[dict[str, Any]]:
    """Choose ``files`` in a picker, wait until every one is hashed (or refused) and
    return what the picker shows of them (images picked before are kept, not returned)."""
    items = page.locator(f"#{picker}-picker li.image")
    before = items.count()
    page.set_input_files(f"#{picker}-files", [str(f) for f in files])
    expect(items).to_have_count(before + len(files))
    expect(page.locator(f"#{picker}-picker li.image[data-state='hashing']")).to_have_count(
        0, timeout=HASHING_TIMEOUT
    )
    return hashed(page, picker)[before:]


def hashed(page: Page, picker: str = "report") -> list[dict[str, Any]]:
    """What a picker shows of each image: name, state and fingerprints, in order."""
    return page.eval_on_selector_all(
        f"#{picker}-picker li.image",
        """nodes => nodes.map(n => ({
            name: n.querySelector('.image-name').textContent,
            state: n.dataset.state,
            text: n.querySelector('.image-state').textContent,
            pdq: n.dataset.pdq || null,
            md5: n.dataset.md5 || null,
            sha256: n.dataset.sha256 || null,
            stored: n.dataset.stored ? n.dataset.stored.split(',') : [],
        }))""",
    )


def report(page: Page) -> tuple[str, str]:
    """Press Report and return the case number and PIN the page shows."""
    page.click("#report-button")
    expect(page.locator("#result")).to_be_visible(timeout=30_000)
    case_id = page.inner_text("#case-id").strip()
    pin = page.inner_text("#case-pin").strip()
    assert case_id.startswith("HB-") and pin
    return case_id, pin


def follow(page: Page, case_id: str, pin: str) -> None:
    """Fill the follow form and submit it."""
    page.fill("#follow-case", case_id)
    page.fill("#follow-pin", pin)
    page.click("#follow-form button[type=submit]")


def case_status(server: Server, case_id: str, pin: str) -> dict[str, Any]:
    with server.client() as c:
        r = c.get(f"/v1/cases/{case_id}", headers={"X-Case-Pin": pin})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def new_case(server: Server, seed: int = 0) -> tuple[str, str]:
    """A case reported through the API (by hashes), for the follow tests."""
    rng = np.random.default_rng(seed)
    value = bytes(rng.integers(0, 256, 32, dtype=np.uint8)).hex()
    with server.client() as c:
        r = c.post("/v1/cases", json={"hashes": [{"type": "pdq", "value": value, "quality": 90}]})
    assert r.status_code == 201, r.text
    return r.json()["case_id"], r.json()["pin"]


def storage_is_empty(page: Page) -> dict[str, Any]:
    """Everything a page could have kept in the browser: cookies and every storage API."""
    kept = page.evaluate(
        """async () => ({
            local: localStorage.length,
            session: sessionStorage.length,
            idb: (await indexedDB.databases()).length,
            caches: (await caches.keys()).length,
            cookie: document.cookie,
        })"""
    )
    kept["cookies"] = page.context.cookies()
    return kept


def config(page: Page) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(page.eval_on_selector("#portal-config", "e => e.textContent"))
    return data


def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    """A documentation screenshot (HASHBANK_SCREENSHOTS=1): the whole page from its top, or
    what the screen shows (for a dialog, which sits over the visible part)."""
    if os.environ.get("HASHBANK_SCREENSHOTS") != "1":
        return
    if full_page:
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, name)
    else:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
