"""agent_tools: the only way an agent reaches data. Each layer imports only the ones below it.

* faces/     REST (rest.py), MCP (mcp_server.py, mcp_results.py), OAuth (oauth_api.py, consent.py),
             admin API (admin_api.py, admins_api.py, delegations_api.py, intents_api.py, admin_auth.py),
             mount.py, connect.py: translate a request into a call and a result into an answer, nothing more
* wiring.py  AgentTools: the stores and the pipeline built once over the app's Services
* pipeline/  one call, admit -> run -> record: gateway.py (the call, top to bottom) over its steps admit.py,
             execute.py, record.py, answer.py (with budgets.py, call.py below them), shaping.py,
             approver.py (runs an approved preview), delegations.py, runs.py (run tokens, replay),
             retries.py, telemetry.py
  tools/     the built-in tools, beside the pipeline: they use only what an app's own @tool could
* stores/    over backend/services: classes.py (Records), agents.py, admins.py, approvals.py, audit.py,
             intents.py, policy.py, run_owners.py, oauth_tokens.py, oauth_grants.py, read_only.py,
             parts.py (the Parts protocol the pipeline reaches the stores through)
* model/     registry.py (@tool and its declarations), tool_context.py (what a running tool holds),
             redaction.py, bounds.py, blocked.py

pyproject.toml's import-linter contracts and tests/test_import_cycles.py keep it so.
"""
