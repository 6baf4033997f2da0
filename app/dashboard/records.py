"""Dashboard pages of the platform records (admins): every platform, one platform, and
the report to take outside (printable page, PDF, CSV), each over a chosen period.

The figures are the API's (:class:`app.services.records.RecordService`), printed through
:func:`app.services.reports.figures`; the charts are SVG laid out here, each with its
figures in a table beside it.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Response
from fastapi.responses import HTMLResponse

from app.dashboard.deps import AdminPage, csrf_guard
from app.dashboard.pages import PAGE_HEADERS, bar_chart, hbar_chart
from app.errors import InvalidInput
from app.services import reports
from app.services.records import Period, PlatformRecord
from app.web.inputs import Id32

__all__ = ["router"]

router = APIRouter(prefix="/dashboard", include_in_schema=False, dependencies=[Depends(csrf_guard)])


def _period(ctx: AdminPage) -> Period:
    q = ctx.request.query_params
    return ctx.services.records.period(q.get("from") or None, q.get("to") or None)


def _query(period: Period) -> str:
    return f"from={period.start.isoformat()}&to={period.end.isoformat()}"


def _feedback_chart(r: PlatformRecord) -> object:
    shares = r.feedback_shares
    labels = {
        "blocked": "Blocked",
        "not_blocked": "Not blocked",
        "false_positive": "False positive",
        "none": "No feedback",
    }
    return hbar_chart(
        [
            (labels[k], shares[k] or 0.0, reports.format_value("feedback_shares." + k, shares[k]))
            for k in labels
        ]
    )


@router.get("/records")
def records(ctx: AdminPage) -> HTMLResponse:
    """Every platform's record over the period, flagged silent or not-blocked rising."""
    period = _period(ctx)
    rows = ctx.services.records.overview(period)
    late = hbar_chart(
        [
            (
                r.name,
                r.no_feedback_24h_share or 0.0,
                reports.format_value("no_feedback_24h_share", r.no_feedback_24h_share),
            )
            for r in rows
        ]
    )
    return ctx.render(
        "records.html",
        title="Platform records",
        section="records",
        period=period,
        qs=_query(period),
        rows=rows,
        late=late,
        fmt=reports.format_value,
        silent_after=ctx.services.settings.silent_after_days,
    )


def _report_records(ctx: AdminPage, period: Period) -> list[PlatformRecord]:
    client = ctx.request.query_params.get("client") or ""
    if not client:
        return ctx.services.records.overview(period)
    if not client.isdigit() or len(client) > 10:
        raise InvalidInput("'client' is a client's id")
    return [ctx.services.records.record(int(client), period)]


def _filename(period: Period, extension: str) -> str:
    return f"hashbank-record-{period.start.isoformat()}-{period.end.isoformat()}.{extension}"


@router.get("/records/report")
def report(ctx: AdminPage) -> HTMLResponse:
    """The printable report: one platform's (``client``) or every platform's."""
    period = _period(ctx)
    rows = _report_records(ctx, period)
    client = ctx.request.query_params.get("client") or ""
    return ctx.render(
        "record_report.html",
        title="Platform record report",
        section="records",
        period=period,
        qs=_query(period) + (f"&client={client}" if client else ""),
        rows=rows,
        figures=reports.figures,
        notes=reports.method_notes(),
        made_at=rows[0].made_at if rows else None,
        last_day=period.end - timedelta(days=1),
    )


@router.get("/records/report.pdf")
def report_pdf(ctx: AdminPage) -> Response:
    """The report as a PDF download."""
    period = _period(ctx)
    rows = _report_records(ctx, period)
    made = rows[0].made_at if rows else ctx.services.records.clock()
    return Response(
        reports.pdf_bytes(rows, period, made),
        media_type="application/pdf",
        headers={
            **PAGE_HEADERS,
            "Content-Disposition": f'attachment; filename="{_filename(period, "pdf")}"',
        },
    )


@router.get("/records/report.csv")
def report_csv(ctx: AdminPage) -> Response:
    """The report as a CSV download."""
    period = _period(ctx)
    rows = _report_records(ctx, period)
    made = rows[0].made_at if rows else ctx.services.records.clock()
    return Response(
        reports.csv_text(rows, period, made),
        media_type="text/csv; charset=utf-8",
        headers={
            **PAGE_HEADERS,
            "Content-Disposition": f'attachment; filename="{_filename(period, "csv")}"',
        },
    )


@router.get("/records/{client_id}")
def record(ctx: AdminPage, client_id: Id32) -> HTMLResponse:
    """One platform's record: its figures, checks and matches per day, its feedback."""
    period = _period(ctx)
    r = ctx.services.records.record(client_id, period)
    return ctx.render(
        "record.html",
        title=f"Record of {r.name}",
        section="records",
        period=period,
        qs=_query(period),
        r=r,
        figures=reports.figures(r),
        checks_chart=bar_chart([(d.day, d.checks) for d in r.per_day]),
        matches_chart=bar_chart([(d.day, d.matches) for d in r.per_day]),
        feedback_chart=_feedback_chart(r),
        fmt=reports.format_value,
    )
