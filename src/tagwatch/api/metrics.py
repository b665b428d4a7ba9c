"""Prometheus text exposition (format 0.0.4), written by hand: a few counters and gauges.

Counters live in this process (`Metrics`); gauges are read when scraped (`Gauges`), so
they show what the store and the log hold, not what this process happened to see.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """Thread-safe counters of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str, str, str]] = Counter()
        self._ingested: Counter[str] = Counter()
        self._refused: Counter[str] = Counter()
        self._collectors: dict[str, Callable[[], list[str]]] = {}

    def add_collector(self, name: str, collect: Callable[[], list[str]]) -> None:
        """More families, written by `collect` at each scrape (e.g. the gateways' metrics)."""
        with self._lock:
            self._collectors[name] = collect

    def collected(self) -> list[str]:
        with self._lock:
            collectors = list(self._collectors.values())
        return [line for collect in collectors for line in collect()]

    def count_request(self, app: str, method: str, route: str, status: int) -> None:
        with self._lock:
            self._requests[(app, method, route, str(status))] += 1

    def count_ingested(self, protocol: str, records: int) -> None:
        with self._lock:
            self._ingested[protocol] += records

    def count_refused(self, reason: str) -> None:
        with self._lock:
            self._refused[reason] += 1

    def snapshot(
        self,
    ) -> tuple[dict[tuple[str, str, str, str], int], dict[str, int], dict[str, int]]:
        with self._lock:
            return dict(self._requests), dict(self._ingested), dict(self._refused)


@dataclass(frozen=True, slots=True)
class Gauges:
    inbox_pending: int | None
    alerts_by_state: Mapping[str, int]
    unknown_devices: int


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{name}="{_escape(value)}"' for name, value in pairs)
    return "{" + inner + "}" if inner else ""


def _family(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{labels} {value:g}" for labels, value in samples]
    return lines


def exposition(metrics: Metrics, gauges: Gauges) -> str:
    requests, ingested, refused = metrics.snapshot()
    lines: list[str] = []
    lines += _family(
        "tagwatch_http_requests_total",
        "counter",
        "HTTP requests answered, by app, method, route (within /api/v1) and status.",
        [
            (_labels((("app", a), ("method", m), ("route", r), ("status", s))), n)
            for (a, m, r, s), n in sorted(requests.items())
        ],
    )
    lines += _family(
        "tagwatch_records_ingested_total",
        "counter",
        "Fixes and device events the log accepted as new, by protocol.",
        [(_labels((("protocol", p),)), n) for p, n in sorted(ingested.items())],
    )
    lines += _family(
        "tagwatch_ingest_refused_total",
        "counter",
        "Device reports refused (unknown device, wrong or missing key), by reason.",
        [(_labels((("reason", r),)), n) for r, n in sorted(refused.items())],
    )
    if gauges.inbox_pending is not None:
        lines += _family(
            "tagwatch_inbox_pending",
            "gauge",
            "Records in the log not yet judged by the monitor.",
            [("", gauges.inbox_pending)],
        )
    lines += _family(
        "tagwatch_alerts",
        "gauge",
        "Alerts by workflow state.",
        [(_labels((("state", s),)), n) for s, n in sorted(gauges.alerts_by_state.items())],
    )
    lines += _family(
        "tagwatch_unknown_devices",
        "gauge",
        "Distinct devices refused at ingest that an admin may need to register.",
        [("", gauges.unknown_devices)],
    )
    lines += metrics.collected()
    return "\n".join(lines) + "\n"
