"""Gateway metrics for Prometheus: connections, frames, records, rejects, ack latency.

One `GatewayMetrics` per process, shared by every gateway (each counts under its own
`protocol` label, `metrics.protocol("teltonika")`), and registered once with the API's
`Metrics.add_collector`, so each family is written once whatever the number of gateways:

| family | kind | labels |
|---|---|---|
| tagwatch_gateway_connections_open | gauge | protocol |
| tagwatch_gateway_connections_total | counter | protocol |
| tagwatch_gateway_frames_total | counter | protocol, codec |
| tagwatch_gateway_records_total | counter | protocol (records acknowledged to devices) |
| tagwatch_gateway_rejects_total | counter | protocol, reason |
| tagwatch_gateway_ack_latency_seconds | histogram | protocol (frame complete -> ack sent) |

Thread-safe: gateways count from their event loop, scrapes read from the API's.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from dataclasses import dataclass, field

# Seconds; the target is p99 under 0.25 s, so the buckets are dense around it.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.175, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class _Protocol:
    open: int = 0
    total: int = 0
    records: int = 0
    frames: Counter[str] = field(default_factory=Counter)
    rejects: Counter[str] = field(default_factory=Counter)
    buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    latency_sum: float = 0.0


class ProtocolMetrics:
    """The counters of one protocol (a view into the shared `GatewayMetrics`)."""

    def __init__(self, lock: threading.Lock, state: _Protocol) -> None:
        self._lock = lock
        self._state = state

    def connection_opened(self) -> None:
        with self._lock:
            self._state.open += 1
            self._state.total += 1

    def connection_closed(self) -> None:
        with self._lock:
            self._state.open -= 1

    def frame(self, codec: str) -> None:
        with self._lock:
            self._state.frames[codec] += 1

    def acknowledged(self, records: int, latency_s: float) -> None:
        with self._lock:
            self._state.records += records
            self._state.buckets[bisect.bisect_left(LATENCY_BUCKETS, latency_s)] += 1
            self._state.latency_sum += latency_s

    def rejected(self, reason: str) -> None:
        with self._lock:
            self._state.rejects[reason] += 1

    @property
    def open_connections(self) -> int:
        with self._lock:
            return self._state.open

    def rejects(self) -> dict[str, int]:
        with self._lock:
            return dict(self._state.rejects)


class GatewayMetrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._protocols: dict[str, _Protocol] = {}

    def protocol(self, name: str) -> ProtocolMetrics:
        with self._lock:
            state = self._protocols.setdefault(name, _Protocol())
        return ProtocolMetrics(self._lock, state)

    def exposition_lines(self) -> list[str]:
        """Prometheus text (format 0.0.4) of every family, for `Metrics.add_collector`."""
        with self._lock:
            protocols = {
                name: (s.open, s.total, s.records, dict(s.frames), dict(s.rejects), list(s.buckets))
                for name, s in sorted(self._protocols.items())
            }
            sums = {name: s.latency_sum for name, s in self._protocols.items()}
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")

        family("tagwatch_gateway_connections_open", "gauge", "Device connections open now.")
        lines += [
            f'tagwatch_gateway_connections_open{{protocol="{p}"}} {v[0]}'
            for p, v in protocols.items()
        ]
        family("tagwatch_gateway_connections_total", "counter", "Device connections accepted.")
        lines += [
            f'tagwatch_gateway_connections_total{{protocol="{p}"}} {v[1]}'
            for p, v in protocols.items()
        ]
        family("tagwatch_gateway_frames_total", "counter", "Whole frames received, by codec.")
        for p, v in protocols.items():
            lines += [
                f'tagwatch_gateway_frames_total{{protocol="{p}",codec="{_escape(c)}"}} {n}'
                for c, n in sorted(v[3].items())
            ]
        family("tagwatch_gateway_records_total", "counter", "Records acknowledged to devices.")
        lines += [
            f'tagwatch_gateway_records_total{{protocol="{p}"}} {v[2]}' for p, v in protocols.items()
        ]
        family("tagwatch_gateway_rejects_total", "counter", "Frames and logins refused, by reason.")
        for p, v in protocols.items():
            lines += [
                f'tagwatch_gateway_rejects_total{{protocol="{p}",reason="{_escape(r)}"}} {n}'
                for r, n in sorted(v[4].items())
            ]
        name = "tagwatch_gateway_ack_latency_seconds"
        family(name, "histogram", "From a whole frame received to its acknowledgement sent.")
        for p, v in protocols.items():
            cumulative = 0
            for bound, count in zip((*LATENCY_BUCKETS, None), v[5], strict=True):
                cumulative += count
                le = "+Inf" if bound is None else f"{bound:g}"
                lines.append(f'{name}_bucket{{protocol="{p}",le="{le}"}} {cumulative}')
            lines.append(f'{name}_sum{{protocol="{p}"}} {sums[p]:g}')
            lines.append(f'{name}_count{{protocol="{p}"}} {cumulative}')
        return lines


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
