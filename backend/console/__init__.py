"""The admin console at ``/console``: server-rendered pages over the services the CLI and the admin API use.

No second implementation: approvals go through ``agent_tools.pipeline.approver.Approver``, the audit through
``AuditLog``, agents through ``AgentStore``, jobs through ``JobService``. Templates and static files ship
inside this package; nothing is fetched from elsewhere at run time.
"""
