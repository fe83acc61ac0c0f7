"""LiveQuery metrics in Prometheus text: clients, subscriptions, events delivered and dropped, latency.

Each hub has its own registry (tests run several apps in one process); the
``/metrics`` route renders it.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class LiveMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # under ``serve --workers N`` (backend/metrics.py) a scrape adds up the workers alive
        self.clients = Gauge("ballast_livequery_clients", "Connected LiveQuery clients.", registry=self.registry,
                             multiprocess_mode="livesum")
        self.subscriptions = Gauge("ballast_livequery_subscriptions", "Active LiveQuery subscriptions.",
                                   registry=self.registry, multiprocess_mode="livesum")
        self.matchers = Gauge("ballast_livequery_queries", "Distinct live queries (shared matchers).",
                              registry=self.registry, multiprocess_mode="livesum")
        self.delivered = Counter("ballast_livequery_events_delivered", "Events queued to clients, by op.",
                                 ["op"], registry=self.registry)
        self.dropped = Counter("ballast_livequery_events_dropped", "Events not delivered, by reason.",
                               ["reason"], registry=self.registry)
        self.errors = Counter("ballast_livequery_protocol_errors", "Error frames sent, by code.", ["code"],
                              registry=self.registry)
        self.latency = Histogram("ballast_livequery_delivery_latency_seconds",
                                 "Commit of a change to its event frame being queued to a client.",
                                 buckets=LATENCY_BUCKETS, registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
