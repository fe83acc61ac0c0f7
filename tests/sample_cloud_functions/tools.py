"""An app's own agent tool, declared in cloud code (README: ``registry.tool(...)``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from agent_tools.model.registry import tool
from agent_tools.model.tool_context import ToolContext


class Greeting(BaseModel):
    name: str = Field(min_length=1, max_length=64)


class Greeted(BaseModel):
    text: str


@tool("greet_customer", description="Say hello to a customer by name.", input=Greeting, output=Greeted)
async def greet_customer(ctx: ToolContext, given: Greeting) -> Greeted:
    return Greeted(text=f"hello {given.name}")
