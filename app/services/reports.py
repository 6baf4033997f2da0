"""The platform records as a report to take outside: figures, their values as printed,
and how each was counted; as CSV and PDF here (the printable HTML page is a dashboard
template over the same :func:`figures`).

A report holds no victim data: no case id, no PIN, no hash. Cases appear only as counts
(a record has nothing else of them). Every value printed comes from the same
:class:`app.services.records.PlatformRecord` the API answers, through :func:`figures`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from app.services.records import (
    DEFINITIONS,
    RISE_MIN_FEEDBACK,
    RISE_POINTS,
    RISE_WINDOW_DAYS,
    Period,
    PlatformRecord,
)

__all__ = ["CSV_COLUMNS", "Figure", "csv_text", "figures", "format_value", "pdf_bytes"]

Raw = int | float | str | bool | date | None

_SHARE = "share of the matches"
# (key as in the API's JSON, a dotted path into it; label; the definition it follows)
FIGURES: tuple[tuple[str, str, str], ...] = (
    ("checks", "Uploads checked", DEFINITIONS["checks"]),
    ("matches", "Matches", DEFINITIONS["matches"]),
    ("reupload_attempts", "Re-upload attempts caught", DEFINITIONS["reupload_attempts"]),
    ("feedback", "Matches with feedback", DEFINITIONS["feedback"]),
    ("feedback_by_value.blocked", "Feedback: blocked", DEFINITIONS["feedback"]),
    ("feedback_by_value.not_blocked", "Feedback: not blocked", DEFINITIONS["feedback"]),
    ("feedback_by_value.false_positive", "Feedback: false positive", DEFINITIONS["feedback"]),
    ("feedback_by_value.none", "Feedback: none", DEFINITIONS["feedback"]),
    ("feedback_shares.blocked", "Blocked, " + _SHARE, DEFINITIONS["feedback"]),
    ("feedback_shares.not_blocked", "Not blocked, " + _SHARE, DEFINITIONS["feedback"]),
    ("feedback_shares.false_positive", "False positive, " + _SHARE, DEFINITIONS["feedback"]),
    ("feedback_shares.none", "No feedback, " + _SHARE, DEFINITIONS["feedback"]),
    ("due_24h", "Matches at least 24 h old", DEFINITIONS["no_feedback_24h"]),
    ("no_feedback_24h", "No feedback within 24 h", DEFINITIONS["no_feedback_24h"]),
    ("no_feedback_24h_share", "No feedback within 24 h, share", DEFINITIONS["no_feedback_24h"]),
    ("due_7d", "Matches at least 7 days old", DEFINITIONS["no_feedback_7d"]),
    ("no_feedback_7d", "No feedback within 7 days", DEFINITIONS["no_feedback_7d"]),
    ("no_feedback_7d_share", "No feedback within 7 days, share", DEFINITIONS["no_feedback_7d"]),
    ("median_feedback_seconds", "Median time to feedback", DEFINITIONS["median_feedback"]),
    ("last_check_day", "Last check (UTC day)", DEFINITIONS["days_since_last_check"]),
    ("days_since_last_check", "Days since last check", DEFINITIONS["days_since_last_check"]),
    ("silent", "Silent", DEFINITIONS["silent"]),
    (
        "not_blocked_recent_share",
        f"Not blocked, share of feedback, last {RISE_WINDOW_DAYS} days",
        DEFINITIONS["not_blocked_rising"],
    ),
    (
        "not_blocked_previous_share",
        f"Not blocked, share of feedback, {RISE_WINDOW_DAYS} days before",
        DEFINITIONS["not_blocked_rising"],
    ),
    ("not_blocked_rising", "Not blocked rising", DEFINITIONS["not_blocked_rising"]),
    ("webhooks", "Webhook deliveries", "Delivery health of the platform's webhook endpoints."),
)
SHARES = {k for k, _, _ in FIGURES if "share" in k}
DURATIONS = {"median_feedback_seconds"}


@dataclass(frozen=True)
class Figure:
    """One figure of one platform: its API key, label, raw and printed value, definition."""

    key: str
    label: str
    raw: Raw
    text: str
    how: str


def _get(record: PlatformRecord, key: str) -> Any:
    name, _, sub = key.partition(".")
    value = getattr(record, name)
    return value[sub] if sub else value


def format_value(key: str, raw: Any) -> str:
    """A value as the report prints it: counts with thousands separators, shares as
    percentages to one decimal, durations in hours to one decimal, ``n/a`` for none."""
    if key == "webhooks":
        return "no webhooks" if raw is None else json.dumps(raw, sort_keys=True, default=str)
    if raw is None:
        return "n/a"
    if isinstance(raw, bool):
        return "yes" if raw else "no"
    if key in SHARES:
        return f"{raw * 100:.1f}%"
    if key in DURATIONS:
        return f"{raw / 3600:.1f} h"
    if isinstance(raw, int):
        return f"{raw:,}"
    if isinstance(raw, date):
        return raw.isoformat()
    return str(raw)


def figures(record: PlatformRecord) -> list[Figure]:
    """Every figure of ``record``, in the report's order."""
    out = []
    for key, label, how in FIGURES:
        raw = _get(record, key)
        if key == "webhooks" and raw is not None:
            raw = json.dumps(raw, sort_keys=True, default=str)
        out.append(Figure(key, label, raw, format_value(key, _get(record, key)), how))
    return out


def method_notes() -> list[str]:
    """How the whole report was made (printed once, after the figures)."""
    return [
        "Periods are whole UTC days: from the first day, included, to the last day, "
        "excluded in the request and included in the heading.",
        "Matches are read from hashbank's match log; the retention setting "
        "HASHBANK_MATCH_RETENTION_DAYS erases older matches, so figures of a period older "
        "than that are lower than they were.",
        "Checks are counted per platform and UTC day by each server process and written "
        "every few seconds; a process that crashed loses at most its last seconds.",
        f"'Not blocked rising': the share of 'not blocked' among the feedback on the matches "
        f"of the last {RISE_WINDOW_DAYS} days of the period against the {RISE_WINDOW_DAYS} days "
        f"before; flagged when it is {RISE_POINTS * 100:.0f} points higher or more, with at "
        f"least {RISE_MIN_FEEDBACK} answers in each window.",
        "No victim data: no case number, PIN, hash or image is in this report; cases appear "
        "only as counts.",
    ]


CSV_COLUMNS = (
    "platform",
    "client_id",
    "period_from",
    "period_to",
    "figure",
    "day",
    "value",
    "how_counted",
)


def csv_text(records: Sequence[PlatformRecord], period: Period, made_at: datetime) -> str:
    """The report as CSV: one row per figure (``day`` empty) and one per platform, day and
    daily figure (``checks``, ``matches``, ``reupload_attempts``). Values are raw (as the
    API gives them; empty for none)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    start, end = period.start.isoformat(), period.end.isoformat()

    def cell(raw: Raw) -> str:
        if raw is None:
            return ""
        if isinstance(raw, bool):
            return "true" if raw else "false"
        if isinstance(raw, date):
            return raw.isoformat()
        return str(raw)

    for r in records:
        head = [_safe_csv(r.name), r.client_id, start, end]
        for f in figures(r):
            w.writerow([*head, f.key, "", cell(f.raw), f.how])
        for d in r.per_day:
            for key in ("checks", "matches", "reupload_attempts"):
                w.writerow([*head, key, d.day.isoformat(), getattr(d, key), ""])
    w.writerow(["", "", start, end, "made_at", "", made_at.isoformat(timespec="seconds"), ""])
    return out.getvalue()


def _safe_csv(text: str) -> str:
    """A platform name that a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _latin1(text: str) -> str:
    # the PDF's built-in fonts (Helvetica) hold Latin-1 only; other characters print as ?
    return text.encode("latin-1", "replace").decode("latin-1")


def pdf_bytes(records: Sequence[PlatformRecord], period: Period, made_at: datetime) -> bytes:
    """The report as a PDF (fpdf2): a heading, per platform its figures and its days,
    then how the figures were counted."""
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_title("hashbank platform record")
    pdf.set_creator("hashbank")
    pdf.add_page()
    width = pdf.epw
    last = period.end.toordinal() - 1
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(width, 9, "hashbank platform record", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(
        width,
        5,
        _latin1(
            f"Period: {period.start.isoformat()} to {date.fromordinal(last).isoformat()} "
            f"(UTC days, both included; {period.days} days). "
            f"Made {made_at.isoformat(timespec='seconds')}. "
            f"Platforms: {len(records)}."
        ),
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    for r in records:
        pdf.ln(4)
        pdf.set_font("Helvetica", "B", 13)
        state = " (key revoked)" if r.revoked else ""
        pdf.cell(
            width, 8, _latin1(f"Platform: {r.name}{state}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        pdf.set_font("Helvetica", "", 9)
        with pdf.table(col_widths=(95, 35), text_align=("LEFT", "RIGHT"), width=130) as table:
            table.row(("Figure", "Value"))
            for f in figures(r):
                table.row((_latin1(f.label), _latin1(f.text)))
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(width, 6, "Per day (UTC)", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("Helvetica", "", 8)
        with pdf.table(
            col_widths=(30, 25, 25, 30), text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"), width=110
        ) as table:
            table.row(("Day", "Checks", "Matches", "Re-upload attempts"))
            for d in r.per_day:
                table.row(
                    (
                        d.day.isoformat(),
                        f"{d.checks:,}",
                        f"{d.matches:,}",
                        f"{d.reupload_attempts:,}",
                    )
                )
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(width, 8, "How the figures were counted", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 9)
    for key, label, how in FIGURES:
        if key.startswith("feedback_") and key != "feedback_by_value.blocked":
            continue  # one definition for the feedback figures
        pdf.multi_cell(width, 4.5, _latin1(f"{label}: {how}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1)
    for note in method_notes():
        pdf.multi_cell(width, 4.5, _latin1(note), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1)
    return bytes(pdf.output())
