"""Tool calls as OpenTelemetry spans (GenAI ``execute_tool``), when a tracer provider is configured."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.agent_tools.conftest import Gateway

EXPORTER = InMemorySpanExporter()


def _install() -> None:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # once per process: the global provider cannot be replaced
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
        provider.add_span_processor(SimpleSpanProcessor(EXPORTER))


async def test_each_call_is_one_execute_tool_span(gateway: Gateway) -> None:
    _install()
    EXPORTER.clear()
    agent_id, token = await gateway.agent("traced")
    await gateway.call(token, "read", "list_classes", headers={"X-Ballast-Run-Id": "r-otel"})
    await gateway.call(token, "write", "create_object", {"className": "X", "fields": {}})
    spans = [span for span in EXPORTER.get_finished_spans() if span.name.startswith("execute_tool")]
    assert [span.name for span in spans] == ["execute_tool list_classes", "execute_tool create_object"]
    ok, denied = (dict(span.attributes or {}) for span in spans)
    assert ok["gen_ai.operation.name"] == "execute_tool" and ok["gen_ai.tool.name"] == "list_classes"
    assert ok["ballast.agent.id"] == agent_id and ok["ballast.run.id"] == "r-otel"
    assert ok["gen_ai.tool.call.id"] == f"r-otel:{ok['ballast.audit.seq']}"
    assert denied["ballast.policy.rule"] == "grant.missing" and denied["error.type"] == "grant.missing"
    assert spans[1].status.status_code == trace.StatusCode.ERROR
