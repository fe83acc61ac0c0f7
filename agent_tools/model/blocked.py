"""Blocked: a tool call stopped by a rule, with the status, Parse code and rule its answer and record name."""

from __future__ import annotations

STATUS_BY_RULE = {"token.unknown": 401, "token.revoked": 401, "token.expired": 401, "tool.unknown": 404,
                  "input.invalid": 400, "rate.agent": 429, "rate.tool": 429}
CODE_BY_STATUS = {401: 209, 404: 101, 400: 142, 429: 155}


class Blocked(Exception):
    """The call stops here; ``entry`` says why (decision, rule) for the audit."""

    def __init__(self, rule: str, message: str, decision: str = "deny", status: int | None = None,
                 code: int | None = None) -> None:
        super().__init__(message)
        self.rule, self.message, self.decision = rule, message, decision
        self.status = status or STATUS_BY_RULE.get(rule, 403)
        self.code = code or CODE_BY_STATUS.get(self.status, 119)
