"""The faces: HTTP and MCP in, a call to the pipeline, the answer out. No tool logic here.

* rest.py           /agent/v1 tools, read and write calls
* mcp_server.py     the MCP endpoint;  mcp_results.py  results and tool listings as MCP shapes them
* oauth_api.py      OAuth routes for MCP clients;  consent.py  the consent page
* admin_auth.py     who is an admin (master key or console admin)
* admin_api.py      agents, policy, approvals, audit;  admins_api.py  console admins
* delegations_api.py, intents_api.py   delegations, run intents and replays
* mount.py          all of it mounted on an app;  connect.py  set-up for common MCP clients
"""
