"""``_Installation`` writes with parse-server's rules: an ID is required, and a known device is updated, not duplicated.

A create needs ``installationId`` (body or the ``X-Parse-Installation-Id``
header) or ``deviceToken`` (135), and ``deviceType`` unless it matches an
existing installation. A create whose installationId (or, lacking one, a
single deviceToken) matches an existing installation updates that one instead
(the upsert parse-server does). ``installationId`` and ``deviceType`` cannot be
changed once set (136). Every read and write goes through ObjectService.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backend.context import RequestContext
from backend.errors import InvalidJSON, ObjectNotFound, ParseCode, ParseError
from backend.services.data.objects import FindOptions, ObjectService
from backend.services.shared.units import Unit

CLASS = "_Installation"


class MissingRequiredField(ParseError):
    code = ParseCode.MISSING_REQUIRED_FIELD
    default_message = "A required field is missing."


class ImmutableField(ParseError):
    code = ParseCode.CHANGED_IMMUTABLE_FIELD
    default_message = "This field cannot be changed."


@dataclass(frozen=True)
class Saved:
    """What a create answered: ``created`` is False when an existing installation was updated."""

    body: dict[str, Any]
    created: bool


class InstallationService:
    def __init__(self, objects: ObjectService) -> None:
        self.objects = objects

    async def create(self, ctx: RequestContext, data: Mapping[str, Any], unit: Unit | None = None) -> Saved:
        body = _normalized(data)
        installation_id = body.get("installationId")
        if not installation_id and not ctx.principal.is_master and ctx.installation_id:
            installation_id = body["installationId"] = ctx.installation_id.lower()
        token = body.get("deviceToken")
        if not installation_id and not token:
            raise MissingRequiredField(
                "at least one ID field (deviceToken, installationId) must be specified in this operation"
            )
        match = await self._match(installation_id, token, unit)
        if match is None:
            if not body.get("deviceType"):
                raise MissingRequiredField("deviceType must be specified in this operation")
            return Saved(await self.objects.create(ctx, CLASS, body, unit=unit), True)
        _check_immutable(match, body)
        body.pop("createdAt", None)
        updated = await self.objects.update(ctx, CLASS, match["objectId"], body, unit=unit)
        return Saved({"objectId": match["objectId"], **updated}, False)

    async def update(
        self, ctx: RequestContext, object_id: str, data: Mapping[str, Any], unit: Unit | None = None
    ) -> dict[str, Any]:
        body = _normalized(data)
        if any(key in body for key in ("installationId", "deviceToken", "deviceType")):
            current = await self._by("objectId", object_id, unit)
            if current is None:
                raise ObjectNotFound("Object not found for update.")
            _check_immutable(current, body)
        return await self.objects.update(ctx, CLASS, object_id, body, unit=unit)

    async def _match(self, installation_id: object, token: object, unit: Unit | None) -> dict[str, Any] | None:
        if isinstance(installation_id, str) and installation_id:
            found = await self._by("installationId", installation_id, unit)
            if found is not None:
                return found
        if isinstance(token, str) and token:
            found = await self._by("deviceToken", token, unit)
            # a device token alone identifies the installation only if that one has no installationId of its own
            if found is not None and (not found.get("installationId") or not installation_id):
                return found
        return None

    async def _by(self, key: str, value: str, unit: Unit | None) -> dict[str, Any] | None:
        # the dedupe must see every installation, whatever the caller's ACL, as parse-server's does
        found = await self.objects.find(
            RequestContext.system(), CLASS, FindOptions(where={key: value}, limit=1), unit=unit
        )
        return found.results[0] if found.results else None


def _normalized(data: Mapping[str, Any]) -> dict[str, Any]:
    """parse-server lowercases installationId, and 64-character (APNs) device tokens."""
    if not isinstance(data, Mapping):
        raise InvalidJSON("The request body must be a JSON object.")
    body = dict(data)
    if isinstance(body.get("installationId"), str):
        body["installationId"] = body["installationId"].lower()
    token = body.get("deviceToken")
    if isinstance(token, str) and len(token) == 64:
        body["deviceToken"] = token.lower()
    return body


def _check_immutable(current: Mapping[str, Any], body: Mapping[str, Any]) -> None:
    for key in ("installationId", "deviceType"):
        given, existing = body.get(key), current.get(key)
        if isinstance(given, str) and existing and given != existing:
            raise ImmutableField(f"{key} may not be changed in this operation")
