"""OpenTelemetry spans for tool calls, after the GenAI semantic conventions (``execute_tool``).

Uses the OpenTelemetry API only: with no tracer provider configured (no
exporter) every span is a no-op. Inputs and results are not put on spans;
the audit trail holds them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

tracer = trace.get_tracer("ballast.agent_tools")


@contextmanager
def tool_span(tool: str, kind: str) -> Iterator[Span]:
    attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool,
                  "gen_ai.tool.type": "function", "ballast.tool.kind": kind}
    with tracer.start_as_current_span(f"execute_tool {tool}", kind=SpanKind.INTERNAL, attributes=attributes) as span:
        yield span


def describe(span: Span, status: int, record: dict[str, Any]) -> None:
    """The call's outcome on its span: the audit record's ids, the decision and the rule."""
    if not span.is_recording():
        return
    values = {
        "gen_ai.tool.call.id": f"{record.get('runId')}:{record.get('seq')}",
        "ballast.agent.id": record.get("agentId"), "ballast.user.id": record.get("userId"),
        "ballast.run.id": record.get("runId"), "ballast.tool.version": record.get("toolVersion"),
        "ballast.policy.version": record.get("policyVersion"), "ballast.policy.decision": record.get("decision"),
        "ballast.policy.rule": record.get("rule"), "ballast.outcome": record.get("outcome"),
        "ballast.audit.seq": record.get("seq"), "http.response.status_code": status,
    }
    span.set_attributes({key: value for key, value in values.items() if value is not None})
    if status >= 400:
        span.set_status(Status(StatusCode.ERROR, str(record.get("rule") or status)))
        span.set_attribute("error.type", str(record.get("rule") or status))
