"""The LiveQuery WebSocket endpoint at the mount path (``ws://host:port/parse``), and ``/metrics``.

One ``Connection`` per socket reads frames, checks them (``protocol``),
authenticates ``connect`` the way the REST API does (application id, client
keys, master key from an allowed IP, session token) and hands the rest to the
hub. A bad frame gets an ``error`` frame and the connection carries on, as on
parse-server; only a client too slow to read its events is cut off.
Protocol-level pings are the ASGI server's (uvicorn's ``ws_ping_interval``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from starlette.websockets import WebSocket, WebSocketDisconnect

from backend.config import Settings
from backend.context import ANONYMOUS, MASTER, READ_ONLY_MASTER, Principal
from backend.errors import InvalidSessionToken, ParseError
from backend.keys import ip_allowed, same
from backend.realtime import protocol
from backend.realtime.clients import Client
from backend.realtime.hub import SESSION_ERROR, Hub
from backend.realtime.protocol import FrameError
from backend.realtime.pubsub import LocalPubSub, PubSub
from backend.realtime.uvicorn_protocol import DIRECT_SEND
from backend.services.wiring import Services

log = logging.getLogger("ballast.realtime")

CLIENT_KEYS = ("javascriptKey", "clientKey", "restAPIKey", "windowsKey")


def build_pubsub(settings: Settings) -> PubSub:
    if settings.redis_url:
        from backend.realtime.redis_pubsub import RedisPubSub  # redis is only needed when configured

        return RedisPubSub(settings.redis_url, f"ballast:{settings.application_id}:livequery")
    return LocalPubSub()


class LiveQueryServer:
    """The realtime face of one app: the hub (with its metrics) and its WebSocket route."""

    def __init__(self, services: Services) -> None:
        self.settings = services.settings
        self.hub = Hub(services, build_pubsub(services.settings))

    async def start(self) -> None:
        await self.hub.start()

    async def stop(self) -> None:
        await self.hub.stop()

    def install(self, app: FastAPI) -> None:
        app.add_api_websocket_route(self.settings.mount_path, self.endpoint)

    async def endpoint(self, websocket: WebSocket) -> None:
        await websocket.accept()
        await Connection(self.hub, self.settings, websocket).run()


class Connection:
    def __init__(self, hub: Hub, settings: Settings, websocket: WebSocket) -> None:
        self.hub = hub
        self.settings = settings
        self.websocket = websocket
        self.client: Client | None = None
        # the server's non-awaiting write, when it offers one (LiveWebSocketProtocol)
        direct = (websocket.scope.get("extensions") or {}).get(DIRECT_SEND) or {}
        self.send_now: Callable[[bytes], bool] | None = direct.get("send_text")

    async def run(self) -> None:
        try:
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                raw = message.get("text")
                if raw is None:
                    raw = message.get("bytes")
                if raw is not None:
                    await self.handle(raw)
        except WebSocketDisconnect:
            return
        finally:
            if self.client is not None:
                await self.hub.disconnect(self.client)

    async def send(self, frame: bytes) -> None:
        # text frames: the JS SDK only JSON-parses string messages
        await self.websocket.send({"type": "websocket.send", "text": frame.decode()})

    async def close(self, code: int, reason: str) -> None:
        await self.websocket.close(code, reason)

    async def reply(self, frame: bytes) -> None:
        if self.client is not None:
            self.client.push(frame)
        else:
            await self.send(frame)

    async def fail(self, error: FrameError) -> None:
        self.hub.metrics.errors.labels(str(error.code)).inc()
        await self.reply(protocol.error_frame(error))

    async def handle(self, raw: str | bytes) -> None:
        limit = self.settings.live_query_max_message
        if len(raw) > limit:
            await self.fail(FrameError(protocol.BAD_REQUEST, f"Message too large: the limit is {limit} bytes."))
            return
        try:
            request = protocol.decode(raw)
        except FrameError as error:
            await self.fail(error)
            return
        try:
            await self.dispatch(request)
        except FrameError as error:
            await self.fail(error)
        except ParseError as error:
            await self.fail(FrameError(int(error.code), error.message, False, request.get("requestId")))
        except Exception:  # a bug must cost this frame, not the connection
            log.exception("live query %s failed", request["op"])
            await self.fail(FrameError(1, "Internal server error.", False, request.get("requestId")))

    async def dispatch(self, request: dict[str, Any]) -> None:
        op = request["op"]
        if op == "connect":
            await self.connect(request)
            return
        if self.client is None:
            verb = "unsubscribing" if op == "unsubscribe" else "subscribing"
            raise FrameError(protocol.NOT_CONNECTED,
                             f"Can not find this client, make sure you connect to server before {verb}")
        client = self.client
        if op == "unsubscribe":
            if not await self.hub.unsubscribe(client, request["requestId"]):
                raise FrameError(protocol.NOT_CONNECTED,
                                 f"Cannot find subscription with clientId {client.id} subscriptionId "
                                 f"{request['requestId']}. Make sure you subscribe to live query server "
                                 "before unsubscribing.")
            client.push(protocol.reply_frame("unsubscribed", client.id, client.installation_id, request["requestId"]))
            return
        await self.hub.subscribe(client, request)  # subscribe, and update (which replaces a subscription)
        client.push(protocol.reply_frame("subscribed", client.id, client.installation_id, request["requestId"]))

    async def connect(self, request: dict[str, Any]) -> None:
        if self.client is not None:  # a second connect on one socket: keep the first identity
            client = self.client
            client.push(protocol.reply_frame("connected", client.id, client.installation_id))
            return
        principal = self.authenticate(request)
        token = request.get("sessionToken") or None
        if token and not principal.is_master:
            resolved = await self.hub.services.sessions.principal_for(token)
            if resolved is None:
                raise FrameError(InvalidSessionToken.code, SESSION_ERROR, False)
            principal = resolved
        client = Client(self.send, self.close, self.settings.live_query_queue, principal, token,
                        request.get("installationId"), send_now=self.send_now,
                        queue_bytes=self.settings.live_query_queue_bytes)
        await self.hub.connect(client)
        self.client = client
        client.push(protocol.reply_frame("connected", client.id, client.installation_id))

    def authenticate(self, request: dict[str, Any]) -> Principal:
        """Application id and client keys as the REST API checks them; the master key only from allowed IPs."""
        settings = self.settings
        if not same(request.get("applicationId"), settings.application_id):
            raise FrameError(protocol.BAD_KEYS, "Key in request is not valid")
        master = request.get("masterKey")
        if master:
            if same(master, settings.master_key):
                principal = MASTER
            elif same(master, settings.read_only_master_key):
                principal = READ_ONLY_MASTER
            else:
                raise FrameError(protocol.BAD_KEYS, "Key in request is not valid")
            host = self.websocket.client.host if self.websocket.client else "127.0.0.1"
            if not ip_allowed(host, settings.master_key_ips):
                raise FrameError(protocol.BAD_KEYS, "Key in request is not valid")
            return principal
        keys = settings.client_keys if settings.live_query_client_keys else ()  # Parse: no key needed by default
        if keys and not any(same(request.get(name), key) for name in CLIENT_KEYS for key in keys):
            raise FrameError(protocol.BAD_KEYS, "Key in request is not valid")
        return ANONYMOUS
