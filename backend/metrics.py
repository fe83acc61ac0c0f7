"""The server's Prometheus metrics: HTTP requests, agent tool calls, job runs, and gauges read at scrape time.

A Prometheus target is one process, so these live in one registry per process (LiveQuery keeps its
own per hub, rendered beside this one); an app built twice in one process (tests) adds to the same
counters. Labels are bounded: route templates (never raw paths), tool and job names the code
registers, the policy's decisions and rules, HTTP status codes.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)
_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_LATENESS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0)

http_requests = Histogram("ballast_http_request_duration_seconds", "HTTP requests by route template and status.",
                          ["method", "route", "status"], buckets=_SECONDS, registry=REGISTRY)
agent_calls = Counter("ballast_agent_tool_calls", "Agent tool calls by tool, policy decision and rule.",
                      ["tool", "decision", "rule"], registry=REGISTRY)
job_runs = Counter("ballast_job_runs", "Finished job runs by job and final status.", ["job", "status"],
                   registry=REGISTRY)
job_lateness = Histogram("ballast_job_lateness_seconds", "Scheduled fire time to the run's claim, by job.",
                         ["job"], buckets=_LATENESS, registry=REGISTRY)
approvals_pending = Gauge("ballast_approvals_pending", "Agent writes waiting for a human (read at scrape).",
                          registry=REGISTRY)
db_pool = Gauge("ballast_db_pool_connections", "Database pool connections by pool and state (read at scrape).",
                ["pool", "state"], registry=REGISTRY)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    http_requests.labels(method, route, str(status)).observe(seconds)


def count_agent_call(tool: str, decision: object, rule: object) -> None:
    agent_calls.labels(tool, str(decision or "none"), str(rule or "none")).inc()


def set_pool_stats(stats: dict[str, dict[str, int]]) -> None:
    for pool, states in stats.items():
        for state, value in states.items():
            db_pool.labels(pool, state).set(value)
