"""The stores: agent_tools' own records, kept through backend/services (master-only classes).

* classes.py       the class names and Records, the helper every store writes through
* agents.py        agents and their tokens;  admins.py  console admins and their sessions
* approvals.py     pending approvals, their bindings and previews
* audit.py         the hash-chained audit log (a write's record commits with the write)
* intents.py       run intents, field policies, provenance
* policy.py        the policy config and decide(): roles, rate limits, caps, risk
* run_owners.py    which agent and user a run id belongs to
* oauth_tokens.py  signed access tokens and scopes;  oauth_grants.py  OAuth clients, codes, refresh tokens
* read_only.py     the handles a read tool gets: none can write
* parts.py         Parts: the stores as the pipeline sees them
"""
