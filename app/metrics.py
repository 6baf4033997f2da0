"""Prometheus metrics, served at ``/metrics``.

One process: the default registry. ``hashbank serve --workers N`` gives the workers a
shared ``PROMETHEUS_MULTIPROC_DIR`` (a fresh temporary directory holding only metric
values), so a scrape of any worker reports the whole server. Labels never carry a case
id, a key or an address: routes are labelled by their template (``/v1/cases/{case_id}``).
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

if TYPE_CHECKING:
    from app.index.replica import IndexReplica

__all__ = [
    "CHECKS",
    "CHECKS_MATCH",
    "CHECKS_NONE",
    "MATCHES",
    "observe_dumpable",
    "observe_replica",
    "observe_request",
    "render",
]

REQUESTS = Counter(
    "hashbank_http_requests", "HTTP requests answered.", ["route", "method", "status"]
)
LATENCY = Histogram(
    "hashbank_http_request_seconds",
    "Time to answer an HTTP request.",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)
CHECKS = Counter("hashbank_checks", "Uploads checked against the bank.", ["result"])
CHECKS_NONE = CHECKS.labels("none")  # every check without a match: the hot path
CHECKS_MATCH = CHECKS.labels("match")
MATCHES = Counter("hashbank_matches", "Matches recorded, by the action answered.", ["action"])
INDEX_HASHES = Gauge(
    "hashbank_index_hashes",
    "Signals held by the in-memory index, per type.",
    ["type"],
    multiprocess_mode="max",
)
CHANGE_LOG_LAG = Gauge(
    "hashbank_change_log_lag",
    "Changes in the log that the index has not applied yet.",
    multiprocess_mode="max",
)
DUMPABLE = Gauge(
    "hashbank_process_dumpable",
    "1 when this process could be core-dumped or attached to (its memory holds uploaded "
    "images while they are hashed); 0 once app.hardening forbade it. One series per "
    "worker process (label pid) when there are several.",
    multiprocess_mode="all",
)
SYNC_AGE = Gauge(
    "hashbank_index_sync_age_seconds",
    "Seconds since the index last synced with the change log.",
    multiprocess_mode="max",
)


def route_of(scope: MutableMapping[str, Any]) -> str:
    """The matched route's template, so ids never become label values."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


# Labelled children by label values: ``labels()`` takes a lock and builds keys on
# every call, and these are touched on every request. Routes are templates and
# statuses few, so the caches stay small.
_REQUEST_CHILDREN: dict[tuple[str, str, int], Any] = {}
_LATENCY_CHILDREN: dict[str, Any] = {}


def observe_request(scope: MutableMapping[str, Any], status: int, seconds: float) -> None:
    route = route_of(scope)
    method = scope.get("method", "")
    requests = _REQUEST_CHILDREN.get((route, method, status))
    if requests is None:
        requests = _REQUEST_CHILDREN[(route, method, status)] = REQUESTS.labels(
            route, method, str(status)
        )
    latency = _LATENCY_CHILDREN.get(route)
    if latency is None:
        latency = _LATENCY_CHILDREN[route] = LATENCY.labels(route)
    requests.inc()
    latency.observe(seconds)


def observe_replica(replica: IndexReplica) -> None:
    for kind, count in replica.size().items():
        INDEX_HASHES.labels(kind).set(count)
    CHANGE_LOG_LAG.set(replica.lag)
    SYNC_AGE.set(replica.sync_age)


def observe_dumpable(dumpable: bool | None) -> None:
    """Record whether this process may be dumped (None: cannot be told here, not set)."""
    if dumpable is not None:
        DUMPABLE.set(1 if dumpable else 0)


def render() -> tuple[bytes, str]:
    """The exposition text of this server (all workers when multiprocess)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
