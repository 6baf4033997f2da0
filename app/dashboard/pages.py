"""Rendering the dashboard: templates, the helpers they use, the chart, response headers."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from app.web.headers import content_security_policy, page_headers, static_headers
from app.web.static import StaticFolder

__all__ = [
    "CSP",
    "PAGE_HEADERS",
    "STATIC",
    "STATIC_HEADERS",
    "Chart",
    "HBarChart",
    "bar_chart",
    "hbar_chart",
    "render",
    "url_with",
]

# The chart is SVG markup with presentation attributes, styled by the stylesheet: no
# inline style is needed.
CSP = content_security_policy()
PAGE_HEADERS = page_headers(CSP)
STATIC_HEADERS = static_headers(CSP)
STATIC = StaticFolder("app.dashboard")

_env = Environment(
    loader=PackageLoader("app.dashboard", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(value: datetime | date | None) -> str:
    """A time as staff read it: ``2026-11-27 06:40 UTC`` (dates alone: ``2026-11-27``)."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def _iso(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else ""


def _number(value: int) -> str:
    return f"{value:,}"


_env.filters["when"] = _when
_env.filters["iso"] = _iso
_env.filters["number"] = _number
_env.globals["v"] = STATIC.version


def url_with(path: str, params: Mapping[str, str], **changes: object) -> str:
    """``path`` with the query ``params`` changed: a None value drops the parameter, and
    any other change than a page number goes back to the first page (of the list it
    sorts: ``hsort``/``horder`` go with ``hpage``)."""
    merged = dict(params)
    for key in changes:
        if key.endswith("page"):
            continue
        prefix = key.removesuffix("sort") if key.endswith("sort") else key.removesuffix("order")
        merged.pop((prefix if prefix != key else "") + "page", None)
    for key, value in changes.items():
        if value is None or value == "":
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    return path + ("?" + urlencode(merged) if merged else "")


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: date
    count: int


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Label:
    x: float
    text: str


@dataclass(frozen=True)
class Chart:
    """A bar chart laid out for an SVG of ``width`` x ``height`` user units."""

    width: int
    height: int
    left: int
    bottom: float
    bars: list[Bar]
    ticks: list[Tick]
    labels: list[Label]
    total: int


def _nice_step(peak: int) -> int:
    """The y axis step: the smallest whole 1/2/2.5/5 x 10^k with 4 steps reaching ``peak``."""
    raw = max(1, math.ceil(peak / 4))
    magnitude: int = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * magnitude
        if step >= raw and step == int(step):
            return int(step)
    return 10 * magnitude


def bar_chart(series: Sequence[tuple[date, int]], *, width: int = 720, height: int = 220) -> Chart:
    """Lay out one bar per day, a y axis with 5 ticks and a date label every 7 days."""
    left, right, top, bottom = 48, 8, 10, 28
    plot_w = width - left - right
    plot_h = height - top - bottom
    step = _nice_step(max((n for _, n in series), default=0))
    top_value = 4 * step
    slot = plot_w / max(1, len(series))
    bars = []
    for i, (day, n) in enumerate(series):
        h = plot_h * n / top_value
        bars.append(
            Bar(
                round(left + i * slot + slot * 0.15, 2),
                round(top + plot_h - h, 2),
                round(slot * 0.7, 2),
                round(h, 2),
                day,
                n,
            )
        )
    ticks = [Tick(round(top + plot_h - plot_h * k / 4, 2), f"{step * k:,}") for k in range(5)]
    every = 7 if len(series) <= 70 else 7 * math.ceil(len(series) / 70)  # <= 10 labels
    labels = [
        Label(round(left + i * slot + slot / 2, 2), day.strftime("%d %b"))
        for i, (day, _) in enumerate(series)
        if (len(series) - 1 - i) % every == 0
    ]
    return Chart(width, height, left, top + plot_h, bars, ticks, labels, sum(n for _, n in series))


@dataclass(frozen=True)
class HBar:
    y: float
    width: float
    label: str
    text: str  # the value as printed beside the bar


@dataclass(frozen=True)
class HBarChart:
    """Horizontal bars (one per item) laid out for an SVG of ``width`` x ``height``."""

    width: int
    height: int
    left: int
    bar_height: float
    bars: list[HBar]


def hbar_chart(items: Sequence[tuple[str, float, str]], *, width: int = 720) -> HBarChart:
    """One horizontal bar per (label, value from 0 to 1, printed value): shares."""
    left, right, row = 200, 70, 26
    plot_w = width - left - right
    bars = [
        HBar(round(8 + i * row, 2), round(plot_w * max(0.0, min(1.0, v)), 2), label[:32], text)
        for i, (label, v, text) in enumerate(items)
    ]
    return HBarChart(width, 16 + row * max(1, len(items)), left, row * 0.65, bars)


def render(template: str, **context: Any) -> str:
    """The HTML of ``template`` with ``context``."""
    return _env.get_template(template).render(**context)


def has_template(name: str) -> bool:
    return name in _env.list_templates()
