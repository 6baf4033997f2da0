"""The pages themselves: languages, headers, privacy, accessibility, phone layout, screenshots."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, FileChooser, Page, expect

from app.portal.i18n import LANGUAGES, negotiate, texts
from app.portal.pages import CSP
from tests.browser.test_portal_common import (
    REPO,
    config,
    encode,
    follow,
    new_case,
    open_page,
    pick,
    report,
    shot,
    storage_is_empty,
    synthetic,
    t,
    write,
)
from tests.servers import Server

PAGES = ("/", "/report", "/follow")
STATIC = REPO / "app" / "portal" / "static"
TEMPLATES = REPO / "app" / "portal" / "templates"
PHONE = {"width": 390, "height": 844}

# WCAG 2.2 contrast of every visible text against the background behind it (1.4.3).
CONTRAST_JS = """() => {
  const parse = (c) => {
    const p = c.match(/[\\d.]+/g).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const lum = ({ r, g, b }) => {
    const f = (v) => ((v /= 255) <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.a > 0.5) return c;
    }
    return parse(getComputedStyle(document.documentElement).backgroundColor);
  };
  const low = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const el = walk.currentNode.parentElement;
    const text = walk.currentNode.textContent.trim();
    if (!text || !el.checkVisibility() || el.closest(":disabled")) continue;
    const style = getComputedStyle(el);
    const a = lum(parse(style.color));
    const b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (Number(style.fontWeight) >= 700 && size >= 18.66);
    if (ratio < (large ? 3 : 4.5)) low.push([text.slice(0, 40), ratio]);
  }
  return low;
}"""

# Every form control and button has an accessible name; ids are unique (4.1.2, 1.3.1).
NAMES_JS = """() => {
  const bad = [];
  for (const el of document.querySelectorAll("input, button, select, textarea, a[href]")) {
    const named = el.labels?.length || el.getAttribute("aria-label") || el.textContent.trim();
    if (!named) bad.push(el.outerHTML.slice(0, 80));
  }
  const ids = [...document.querySelectorAll("[id]")].map((e) => e.id);
  const dupes = ids.filter((id, i) => ids.indexOf(id) !== i);
  return { bad, dupes };
}"""


def test_language_from_browser_or_switcher(live_server: Server) -> None:
    for header, want in (
        ("fr-BE,fr;q=0.9,en;q=0.8", "fr"),
        ("nl-BE,nl;q=0.9", "nl"),
        ("de-DE,de;q=0.9,nl;q=0.5,fr;q=0.4", "nl"),
        ("es-ES", "en"),
        ("", "en"),
    ):
        r = httpx.get(live_server.url + "/", headers={"Accept-Language": header})
        assert r.headers["content-language"] == want
        assert f'<html lang="{want}">' in r.text
        assert texts(want)("report.title") in r.text
    r = httpx.get(live_server.url + "/follow?lang=nl", headers={"Accept-Language": "fr"})
    assert r.headers["content-language"] == "nl" and texts("nl")("follow.title") in r.text
    assert negotiate("xx", "fr;q=0.2, nl;q=0.3") == "nl"
    assert negotiate(None, "en;q=0, fr") == "fr"


def test_switching_language_keeps_the_page(live_server: Server, page: Page) -> None:
    open_page(page, live_server, "/follow", lang=None)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.click("nav.languages a[lang=nl]")
    page.wait_for_url("**/follow?lang=nl")
    expect(page.locator("h1")).to_have_text(t("nl", "follow.title"))
    expect(page.locator("#quick-exit")).to_have_text(t("nl", "exit.button"))
    assert config(page)["lang"] == "nl"


def test_headers_no_cookies_no_third_party(live_server: Server) -> None:
    for path in PAGES:
        r = httpx.get(live_server.url + path)
        assert r.status_code == 200
        assert r.headers["content-security-policy"] == CSP
        assert "'unsafe-inline'" not in CSP and "'unsafe-eval'" not in CSP
        assert r.headers["cache-control"] == "no-store"
        assert "set-cookie" not in r.headers
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        # no inline script or style, and nothing loaded from another origin
        assert "style=" not in r.text and "<style" not in r.text
        scripts = re.findall(r"<script([^>]*)>", r.text)
        assert all('src="/portal/static/' in s or 'type="application/json"' in s for s in scripts)
        assert not re.findall(
            r'(?:src|href)="(?:https?:)?//[^"]*"[^>]*rel="(?:stylesheet|icon)', r.text
        )
        assert not re.search(r'src="(?:https?:)?//', r.text)


def test_static_files(live_server: Server) -> None:
    r = httpx.get(live_server.url + "/portal/static/pdq.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    again = httpx.get(
        live_server.url + "/portal/static/pdq.js", headers={"If-None-Match": r.headers["etag"]}
    )
    assert again.status_code == 304
    for missing in ("nothing.js", "..%2Fpages.py", "%2E%2E%2Froutes.py", "helplines.json"):
        assert httpx.get(live_server.url + "/portal/static/" + missing).status_code == 404


def test_every_text_exists_in_every_language() -> None:
    keys = {lang: set(texts(lang).table) for lang in LANGUAGES}
    assert keys["fr"] == keys["en"] == keys["nl"]
    for lang in LANGUAGES:
        for key, text in texts(lang).table.items():
            assert text.strip(), (lang, key)
            assert set(re.findall(r"\{(\w+)\}", text)) == set(
                re.findall(r"\{(\w+)\}", texts("en").table[key])
            ), (lang, key)
    used_in_templates = {
        m
        for f in TEMPLATES.glob("*.html")
        for m in re.findall(r"\bt\('([\w.]+)'[,)]", f.read_text())
    }
    used_in_scripts = {
        m for f in STATIC.glob("*.js") for m in re.findall(r'\bt\(\s*"([\w.]+)"', f.read_text())
    }
    # texts picked by a computed key: status.<status>, status.<status>_text, file.<problem>,
    # video.<problem> (picker.js VIDEO_PROBLEM_TEXT)
    used_in_scripts |= {
        f"status.{s}{suffix}"
        for s in ("pending", "active", "rejected", "withdrawn")
        for suffix in ("", "_text")
    }
    used_in_scripts |= {"video.cancelled", "video.too_long"}
    assert used_in_templates <= keys["en"]
    assert {"js." + k for k in used_in_scripts} <= keys["en"]
    unused = keys["en"] - used_in_templates - {"js." + k for k in used_in_scripts}
    assert {k for k in unused if not k.startswith("js.file.")} == set()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_accessibility_basics(live_server: Server, page: Page, scheme: str, tmp_path: Path) -> None:
    page.emulate_media(color_scheme=scheme)
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    for lang in LANGUAGES:
        for path in PAGES:
            open_page(page, live_server, path, lang=lang)
            assert page.locator("h1").count() == 1
            assert page.evaluate(CONTRAST_JS) == [], (lang, path)
            names = page.evaluate(NAMES_JS)
            assert names == {"bad": [], "dupes": []}, (lang, path)
    # with images chosen and a case shown, too
    open_page(page, live_server)
    pick(page, [write(tmp_path, "a.png", encode(synthetic(1))), write(tmp_path, "x.jpg", b"x")])
    assert page.evaluate(CONTRAST_JS) == []
    assert page.evaluate(NAMES_JS) == {"bad": [], "dupes": []}
    report(page)
    assert page.evaluate(CONTRAST_JS) == []
    assert [m for m in console if "Content Security Policy" in m or "Refused" in m] == []


def test_keyboard_reaches_everything_in_order(live_server: Server, page: Page) -> None:
    choosers: list[FileChooser] = []
    # listening before any key is pressed makes Playwright intercept the file dialog from
    # the start (enabling it while the key is pressed races with the dialog)
    page.on("filechooser", lambda chooser: choosers.append(chooser))
    open_page(page, live_server)
    page.keyboard.press("Tab")
    expect(page.locator(".skip")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#quick-exit")).to_be_focused()
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "report-files":
            break
    expect(page.locator("#report-files")).to_be_focused()
    # the focus ring is drawn on the visible label of the hidden file input
    ring = page.eval_on_selector("label[for=report-files]", "e => getComputedStyle(e).outlineStyle")
    assert ring == "solid"
    page.keyboard.press("Enter")
    for _ in range(100):
        if choosers:
            break
        page.wait_for_timeout(50)
    assert choosers and choosers[0].is_multiple()


def test_phone_layout_reflows(browser: Browser, live_server: Server, tmp_path: Path) -> None:
    """At 320 CSS px (WCAG 1.4.10) nothing scrolls sideways; targets are at least 24 px."""
    context = browser.new_context(
        viewport={"width": 320, "height": 640}, has_touch=True, is_mobile=True
    )
    page = context.new_page()
    case_id, pin = new_case(live_server, seed=77)
    for lang in LANGUAGES:
        for path in PAGES:
            open_page(page, live_server, path, lang=lang)
            if path == "/follow":
                follow(page, case_id, pin)
                expect(page.locator("#case")).to_be_visible()
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 320, (lang, path, width)
            small = page.evaluate(
                """() => [...document.querySelectorAll(
                    'button, .button, input[type=checkbox], .topbar a, .field input')]
                  .filter((e) => e.checkVisibility())
                  .map((e) => [e.textContent.trim().slice(0, 30), e.getBoundingClientRect()])
                  .filter(([, r]) => r.width < 24 || r.height < 24)"""
            )
            assert small == [], (lang, path)
    context.close()


def test_nothing_is_stored_by_any_page(live_server: Server, page: Page) -> None:
    case_id, pin = new_case(live_server, seed=78)
    open_page(page, live_server, "/follow")
    follow(page, case_id, pin)
    expect(page.locator("#case")).to_be_visible()
    assert storage_is_empty(page) == {
        "local": 0,
        "session": 0,
        "idb": 0,
        "caches": 0,
        "cookie": "",
        "cookies": [],
    }


def test_screenshots(browser: Browser, live_server: Server, tmp_path: Path) -> None:
    """docs/screenshots/portal-*.png (written when HASHBANK_SCREENSHOTS=1)."""
    import skimage.data
    from PIL import Image

    folder = Path(skimage.data.__file__).parent
    photos = [
        write(
            tmp_path,
            f"{name}.jpg",
            encode(Image.open(folder / f"{name}.png").convert("RGB"), "JPEG"),
        )
        for name in ("coffee", "chelsea")
    ]
    heic = tmp_path / "IMG_4032.HEIC"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")  # undecodable: explained
    for device, viewport in (("desktop", {"width": 1280, "height": 900}), ("phone", PHONE)):
        phone = device == "phone"
        context = browser.new_context(viewport=viewport, has_touch=phone, is_mobile=phone)
        page = context.new_page()
        open_page(page, live_server)
        shot(page, f"portal-report-{device}")
        pick(page, [*photos, heic])
        page.locator("#report-picker details.fingerprints").first.locator("summary").click()
        shot(page, f"portal-report-images-{device}")
        case_id, pin = report(page)
        shot(page, f"portal-result-{device}")
        open_page(page, live_server, "/follow", lang="fr")
        follow(page, case_id, pin)
        expect(page.locator("#case")).to_be_visible()
        shot(page, f"portal-follow-fr-{device}")
        page.click("#withdraw-button")
        expect(page.locator("#withdraw-dialog")).to_be_visible()
        shot(page, f"portal-withdraw-fr-{device}", full_page=False)
        open_page(page, live_server, "/", lang="nl")
        shot(page, f"portal-report-nl-{device}")
        context.close()
