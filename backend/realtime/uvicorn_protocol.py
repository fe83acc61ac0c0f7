"""uvicorn's WebSocket protocol (websockets, sans-I/O) with a way to write a frame without awaiting.

A LiveQuery event goes to thousands of sockets; through ASGI each copy is a
``websocket.send`` message travelling down Starlette and uvicorn's coroutine
``send`` -- about a third of the server's time per event. This protocol adds
an ASGI extension to the scope of every WebSocket connection:
``scope["extensions"][DIRECT_SEND]["send_text"]``, a plain function that frames
and writes one text message at once, or answers False when it cannot (the
socket is paused by flow control, closing, or not open yet); the caller then
uses the ordinary ASGI ``send``, which waits. Frames are built by the same
``websockets`` connection object as uvicorn's own sends, so framing and
negotiated extensions stay right, and both paths write to one transport in
call order. Run uvicorn with ``ws=LiveWebSocketProtocol`` (``ballast serve``
does; ``--ws backend.realtime.uvicorn_protocol:LiveWebSocketProtocol`` on the
command line); under any other server the extension is absent and LiveQuery
uses ASGI alone.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

DIRECT_SEND = "ballast.websocket.direct_send"


class LiveWebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # absent when the handshake was refused
        if scope is not None:
            extensions = scope.setdefault("extensions", {})
            extensions[DIRECT_SEND] = {"send_text": self.send_text_now}

    def send_text_now(self, data: bytes) -> bool:
        """Frame and write one text message now; False when only the waiting ASGI send may write it."""
        if (not self.handshake_complete or self.close_sent or not self.writable.is_set()
                or self.conn.state is not State.OPEN or self.transport.is_closing()):
            return False
        self.conn.send_text(data)
        self.transport.write(b"".join(self.conn.data_to_send()))
        return True

