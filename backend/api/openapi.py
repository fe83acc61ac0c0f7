"""``/openapi.json`` generated from the LIVE schema, and ``/docs`` (Swagger UI) on it.

Parse Server has no OpenAPI document (parse-server#7744). Ours describes the
Parse routes, and, for a caller holding the master key, every class of the
app with its fields as a component schema and its own ``/classes/<Name>``
paths (class names and fields are master-only in Parse, as ``/schemas`` is).
Routes other groups add are listed too, with their path parameters.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.utils import get_openapi
from starlette.responses import FileResponse, HTMLResponse, Response
from swagger_ui_bundle import swagger_ui_path

from backend.api.auth import master_principal
from backend.api.responses import ParseJSON
from backend.deps import get_services
from backend.errors import ObjectNotFound, ParseError
from backend.services.shared.internal import INTERNAL_CLASSES
from backend.storage.protocols import ClassSchema, FieldSpec

router = APIRouter(tags=["docs"])
log = logging.getLogger("ballast.openapi")

REF = "#/components/schemas/"
OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}
SIMPLE_TYPES = {"String": {"type": "string"}, "Number": {"type": "number"}, "Boolean": {"type": "boolean"},
                "Object": OBJECT, "Array": {"type": "array", "items": {}}, "ACL": OBJECT}
TYPED = ("Date", "Pointer", "Relation", "File", "GeoPoint", "Polygon", "Bytes")


def _typed(kind: str, required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    props = {"__type": {"type": "string", "enum": [kind]}, **properties}
    return {"type": "object", "required": ["__type", *required], "properties": props}


BASE_SCHEMAS: dict[str, Any] = {
    "ParseError": {"type": "object", "required": ["code", "error"],
                   "properties": {"code": {"type": "integer"}, "error": {"type": "string"}}},
    "Unauthorized": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
    "ParseObject": {"type": "object", "additionalProperties": True,
                    "properties": {"objectId": {"type": "string"}, "createdAt": {"type": "string"},
                                   "updatedAt": {"type": "string"}}},
    "Date": _typed("Date", ["iso"], {"iso": {"type": "string", "format": "date-time"}}),
    "Pointer": _typed("Pointer", ["className", "objectId"],
                      {"className": {"type": "string"}, "objectId": {"type": "string"}}),
    "Relation": _typed("Relation", ["className"], {"className": {"type": "string"}}),
    "File": _typed("File", ["name"], {"name": {"type": "string"}, "url": {"type": "string"}}),
    "GeoPoint": _typed("GeoPoint", ["latitude", "longitude"],
                       {"latitude": {"type": "number", "minimum": -90, "maximum": 90},
                        "longitude": {"type": "number", "minimum": -180, "maximum": 180}}),
    "Polygon": _typed("Polygon", ["coordinates"], {"coordinates": {"type": "array", "items": {
        "type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}}}),
    "Bytes": _typed("Bytes", ["base64"], {"base64": {"type": "string"}}),
}


def field_schema(spec: FieldSpec) -> dict[str, Any]:
    if spec.type in TYPED:
        return {"$ref": REF + spec.type}
    return dict(SIMPLE_TYPES.get(spec.type, {}))


def class_schema(schema: ClassSchema) -> dict[str, Any]:
    properties = {name: field_schema(spec) for name, spec in schema.fields.items() if not name.startswith("_")}
    properties |= {name: {"type": "string", "format": "date-time"} for name in ("createdAt", "updatedAt")}
    required = sorted(name for name, spec in schema.fields.items() if spec.required and spec.default is None)
    body: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": True}
    if required:
        body["required"] = required
    return body


PATH_PARAMS: dict[str, dict[str, Any]] = {
    "className": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]{0,30}$"},
    "objectId": {"type": "string", "pattern": "^[A-Za-z0-9]{10}$"},
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _op(summary: str, tag: str, params: Sequence[str] = (), body: dict[str, Any] | None = None,
        query: Sequence[tuple[str, dict[str, Any]]] = (), ok: dict[str, Any] | None = None,
        status: str = "200") -> dict[str, Any]:
    """One operation: path params (strings), query params, a JSON body, and Parse's error answers."""
    parameters = [{"name": name, "in": "path", "required": True, "schema": PATH_PARAMS.get(name, {"type": "string"})}
                  for name in params]
    parameters += [{"name": name, "in": "query", "required": False, "schema": schema} for name, schema in query]
    operation: dict[str, Any] = {
        "summary": summary, "tags": [tag], "parameters": parameters,
        "responses": {
            status: {"description": "Success", "content": _json(ok or OBJECT)},
            "400": {"description": "A Parse error", "content": _json({"$ref": REF + "ParseError"})},
            "403": {"description": "Missing or wrong keys", "content": _json({"$ref": REF + "Unauthorized"})},
            "404": {"description": "Object not found (101)", "content": _json({"$ref": REF + "ParseError"})},
        },
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": _json(body)}
    return operation


FIND_QUERY: list[tuple[str, dict[str, Any]]] = [
    ("where", {"type": "string"}), ("order", {"type": "string"}), ("limit", {"type": "integer"}),
    ("skip", {"type": "integer"}), ("keys", {"type": "string"}), ("include", {"type": "string"}),
    ("count", {"type": "integer", "enum": [0, 1]})]
AGGREGATE_QUERY: list[tuple[str, dict[str, Any]]] = [
    ("pipeline", {"type": "string"}), ("where", {"type": "string"}), ("distinct", {"type": "string"})]
RESULTS = {"type": "object", "properties": {"results": {"type": "array", "items": OBJECT}}}
BATCH_BODY = {"type": "object", "required": ["requests"], "properties": {
    "requests": {"type": "array", "items": {"type": "object", "required": ["method", "path"], "properties": {
        "method": {"type": "string", "enum": ["GET", "POST", "PUT", "DELETE"]}, "path": {"type": "string"},
        "body": OBJECT}}},
    "transaction": {"type": "boolean"}}}
SCHEMA_BODY = {"type": "object", "properties": {
    "className": {"type": "string"}, "fields": {"type": "object", "additionalProperties": OBJECT},
    "classLevelPermissions": OBJECT, "indexes": {"type": "object", "additionalProperties": OBJECT}}}
CONFIG_BODY = {"type": "object", "properties": {"params": OBJECT, "masterKeyOnly": {
    "type": "object", "additionalProperties": {"type": "boolean"}}}}


def route_paths() -> dict[str, dict[str, Any]]:
    """The Parse routes this module documents, for any class."""
    obj = {"$ref": REF + "ParseObject"}
    return {
        "/classes/{className}": {
            "get": _op("Query objects", "objects", ["className"], query=FIND_QUERY, ok=RESULTS),
            "post": _op("Create an object", "objects", ["className"], body=OBJECT, status="201")},
        "/classes/{className}/{objectId}": {
            "get": _op("Get an object", "objects", ["className", "objectId"], ok=obj),
            "put": _op("Update an object", "objects", ["className", "objectId"], body=OBJECT),
            "delete": _op("Delete an object", "objects", ["className", "objectId"])},
        "/batch": {"post": _op("Run many requests (transaction: all or nothing)", "batch", body=BATCH_BODY,
                               ok={"type": "array", "items": OBJECT})},
        "/schemas": {"get": _op("List classes (master key)", "schemas", ok=RESULTS),
                     "post": _op("Create a class (master key)", "schemas", body=SCHEMA_BODY)},
        "/schemas/{className}": {
            "get": _op("Get a class (master key)", "schemas", ["className"]),
            "post": _op("Create a class (master key)", "schemas", ["className"], body=SCHEMA_BODY),
            "put": _op("Add/delete fields and indexes, set CLPs (master key)", "schemas", ["className"],
                       body=SCHEMA_BODY),
            "delete": _op("Drop an empty class (master key)", "schemas", ["className"])},
        "/purge/{className}": {"delete": _op("Delete every object of a class (master key)", "schemas",
                                             ["className"])},
        "/config": {"get": _op("Read the Parse Config", "config"),
                    "put": _op("Change the Parse Config (master key)", "config", body=CONFIG_BODY)},
        "/installations": {"get": _op("Query installations", "installations", query=FIND_QUERY, ok=RESULTS),
                           "post": _op("Create (or update the same device)", "installations", body=OBJECT,
                                       status="201")},
        "/installations/{objectId}": {
            "get": _op("Get an installation", "installations", ["objectId"], ok=obj),
            "put": _op("Update an installation", "installations", ["objectId"], body=OBJECT),
            "delete": _op("Delete an installation", "installations", ["objectId"])},
        "/aggregate/{className}": {"get": _op(
            "Aggregate (master key)", "aggregate", ["className"], ok=RESULTS,
            query=AGGREGATE_QUERY)},
    }


def class_paths(schema: ClassSchema) -> dict[str, dict[str, Any]]:
    """``/classes/<Name>`` for one live class, bodies and answers typed by its fields."""
    name = schema.class_name
    ref = {"$ref": REF + name}
    return {
        f"/classes/{name}": {
            "get": _op(f"Query {name}", name, query=FIND_QUERY,
                       ok={"type": "object", "properties": {"results": {"type": "array", "items": ref}}}),
            "post": _op(f"Create a {name}", name, body=ref, status="201")},
        f"/classes/{name}/{{objectId}}": {
            "get": _op(f"Get a {name}", name, ["objectId"], ok=ref),
            "put": _op(f"Update a {name}", name, ["objectId"], body=OBJECT),
            "delete": _op(f"Delete a {name}", name, ["objectId"])},
    }


def other_paths(app: Any, mount_path: str, known: set[str]) -> dict[str, dict[str, Any]]:
    """Routes other groups mounted (users, files, functions...), with their path parameters, from FastAPI."""
    cached: dict[str, dict[str, Any]] | None = getattr(app.state, "openapi_other_paths", None)
    if cached is not None:
        return cached
    shapes = {_shape(path) for path in known}
    paths: dict[str, dict[str, Any]] = {}
    for full, operations in _fastapi_paths(app).items():
        path = full[len(mount_path):]
        skipped = path.startswith(("/openapi.json", "/docs"))
        if not full.startswith(mount_path + "/") or _shape(path) in shapes or skipped:
            continue
        for method, operation in operations.items():
            params = [p["name"] for p in operation.get("parameters", []) if p.get("in") == "path"]
            body = OBJECT if method in ("post", "put") else None
            tag = str((operation.get("tags") or ["other"])[0])
            paths.setdefault(path, {})[method] = _op(operation.get("summary", path), tag, params, body)
    app.state.openapi_other_paths = paths
    return paths


def _fastapi_paths(app: Any) -> dict[str, Any]:
    """FastAPI's own view of the routes; best effort: a quirk in another group's route must not break the document."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. duplicate operation ids of GET+HEAD routes
            paths: dict[str, Any] = get_openapi(title="-", version="-", routes=app.routes)["paths"]
            return paths
    except Exception:
        log.exception("could not list the other routes for the OpenAPI document")
        return {}


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def build_document(request: Request, schemas: list[ClassSchema] | None) -> dict[str, Any]:
    services = get_services(request)
    settings = services.settings
    paths = route_paths()
    components = dict(BASE_SCHEMAS)
    for schema in schemas or []:
        components[schema.class_name] = class_schema(schema)
        paths.update(class_paths(schema))
    paths.update(other_paths(request.app, settings.mount_path, set(route_paths())))
    return {
        "openapi": "3.0.3",
        "info": {"title": "Ballast (Parse-compatible REST API)", "version": "9.0.0",
                 "description": "Generated from the live schema. Classes are listed for the master key."},
        "servers": [{"url": settings.mount_path}],
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {
            "ApplicationId": {"type": "apiKey", "in": "header", "name": "X-Parse-Application-Id"},
            "MasterKey": {"type": "apiKey", "in": "header", "name": "X-Parse-Master-Key"},
            "SessionToken": {"type": "apiKey", "in": "header", "name": "X-Parse-Session-Token"},
        }},
    }


@router.get("/openapi.json", include_in_schema=False)
async def openapi_document(request: Request) -> ParseJSON:
    services = get_services(request)
    try:
        master = master_principal(request, services.settings)
    except ParseError:
        master = None
    # Ballast's own classes are not the app's: not described, as /schemas does not list them
    schemas = [schema for schema in services.schemas.all_cached()
               if schema.class_name not in INTERNAL_CLASSES] if master is not None else None
    return ParseJSON(build_document(request, schemas))


# Swagger UI is served from the pinned swagger-ui-bundle package, never a CDN: the master key is typed into
# this page, so it loads no third-party script, and the CSP below makes the browser refuse any that slips in.
DOCS_ASSETS = {"swagger-ui.css": "text/css", "swagger-ui-bundle.js": "text/javascript"}
DOCS_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
               "connect-src 'self'; frame-ancestors 'none'; form-action 'none'; base-uri 'none'")

DOCS_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Ballast API</title>
<link rel="stylesheet" href="docs/swagger-ui.css"></head>
<body>
<form id="keys" style="font:14px sans-serif;padding:8px">
 Keys for this tab (kept in sessionStorage; the master key shows your classes):
 <input name="appId" placeholder="Application ID"> <input name="masterKey" type="password" placeholder="Master key">
 <button>Use</button></form>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/keys.js"></script>
</body></html>"""

DOCS_SCRIPT = """const form = document.getElementById('keys');
const keys = JSON.parse(sessionStorage.getItem('ballastKeys') || '{}');
form.appId.value = keys.appId || '';
form.onsubmit = (e) => { e.preventDefault();
  sessionStorage.setItem('ballastKeys', JSON.stringify({appId: form.appId.value, masterKey: form.masterKey.value}));
  location.reload(); };
SwaggerUIBundle({url: 'openapi.json', dom_id: '#swagger-ui', requestInterceptor: (req) => {
  if (keys.appId) req.headers['X-Parse-Application-Id'] = keys.appId;
  if (keys.masterKey) req.headers['X-Parse-Master-Key'] = keys.masterKey;
  return req; }});
"""


@router.get("/docs", include_in_schema=False)
async def docs() -> HTMLResponse:
    return HTMLResponse(DOCS_PAGE, headers={"Content-Security-Policy": DOCS_POLICY})


@router.get("/docs/keys.js", include_in_schema=False)
async def docs_script() -> Response:
    return Response(DOCS_SCRIPT, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


@router.get("/docs/{asset}", include_in_schema=False)
async def docs_asset(asset: str) -> Response:
    if asset not in DOCS_ASSETS:  # only the two files the page uses, never a path into the package
        raise ObjectNotFound("Not found.")
    return FileResponse(Path(swagger_ui_path) / asset, media_type=DOCS_ASSETS[asset],
                        headers={"Cache-Control": "public, max-age=86400"})
