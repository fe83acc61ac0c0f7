"""Who is calling: the Principal and the RequestContext every service call takes.

Permission checks take a Principal and never look at raw headers (docs/architecture.md
rule 2). A Principal is built once per request by ``backend.api.auth``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class PrincipalKind(StrEnum):
    MASTER = "master"
    READ_ONLY_MASTER = "readOnlyMaster"
    USER = "user"
    ANONYMOUS = "anonymous"
    AGENT = "agent"


@dataclass(frozen=True, slots=True)
class Principal:
    """The identity a call runs as: master, a user with roles, anonymous, or an agent."""

    kind: PrincipalKind
    user_id: str | None = None
    roles: frozenset[str] = frozenset()
    agent_id: str | None = None
    session_token: str | None = field(default=None, repr=False)
    # Ballast's own services writing Ballast's internal classes (backend/services/shared/internal.py): never a request
    internal: bool = False

    @property
    def is_master(self) -> bool:
        return self.kind in (PrincipalKind.MASTER, PrincipalKind.READ_ONLY_MASTER)

    @property
    def is_read_only(self) -> bool:
        return self.kind == PrincipalKind.READ_ONLY_MASTER

    def acl_names(self) -> frozenset[str]:
        """The ACL entries that grant this principal access: '*', its user id, 'role:Name'."""
        names = {"*", *(f"role:{role}" for role in self.roles)}
        if self.user_id:
            names.add(self.user_id)
        return frozenset(names)


MASTER = Principal(PrincipalKind.MASTER)
READ_ONLY_MASTER = Principal(PrincipalKind.READ_ONLY_MASTER)
ANONYMOUS = Principal(PrincipalKind.ANONYMOUS)
INTERNAL = Principal(PrincipalKind.MASTER, internal=True)  # no header, key or session ever resolves to it


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """What narrows a call's reads beyond its principal's rights (an agent's tool call).

    ``services.reads`` applies these to every class and field a read touches, at any depth,
    as it applies the principal's own rules: one check, not one per tool or operator.
    """

    also: Principal | None = None  # delegation: the agent acting for the user sees only what both may see
    classes: frozenset[str] | None = None  # None: any class the readers may read
    fields: Mapping[str, frozenset[str]] = field(default_factory=dict)  # per class: only these fields
    hidden: frozenset[str] = frozenset()  # never shown, filtered, sorted or projected, in any class
    rows: Mapping[str, Any] = field(default_factory=dict)  # per class: a where (wire JSON) every row must match


@dataclass(frozen=True, slots=True)
class RequestContext:
    """A Principal plus what the client said about itself."""

    principal: Principal
    installation_id: str | None = None
    client_version: str | None = None
    ip: str | None = None
    request_id: str | None = None
    cloud_context: dict[str, Any] = field(default_factory=dict)
    limits: ReadLimits | None = None  # set for agents' tool calls; None: the principal's rights alone
    # who acts when the principal alone does not say: a console admin using master authority ('admin:<name>')
    actor: str | None = None

    @classmethod
    def system(cls) -> RequestContext:
        """The context of the server's own work (jobs, migrations): master."""
        return cls(MASTER)

    @classmethod
    def internal(cls) -> RequestContext:
        """The context of the services that own Ballast's internal classes (agents, audit, admins...)."""
        return cls(INTERNAL)
