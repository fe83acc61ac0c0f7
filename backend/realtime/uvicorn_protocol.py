"""uvicorn's WebSocket protocol (websockets, sans-I/O) with a way to write a frame without awaiting.

A LiveQuery event goes to thousands of sockets; through ASGI each copy is a
``websocket.send`` message travelling down Starlette and uvicorn's coroutine
``send`` -- about a third of the server's time per event. This protocol adds
an ASGI extension to the scope of every WebSocket connection:
``scope["extensions"][DIRECT_SEND]["send_text"]``, a plain function that frames
and writes one text message at once, or answers False when it cannot (the
socket is paused by flow control, closing, or not open yet); the caller then
uses the ordinary ASGI ``send``, which waits. With no extension negotiated
(``ballast serve`` turns permessage-deflate off, as Parse's ws server has it)
the frame header is built here, the same bytes as the library's; with one, or
while the library still holds bytes of its own, the ``websockets`` connection
object frames it as uvicorn's own sends do. Both paths write to one transport
in call order. Run uvicorn with ``ws=LiveWebSocketProtocol`` (``ballast serve``
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
        conn = self.conn
        if conn.extensions or conn.writes:  # compression negotiated, or bytes of the library's own still due
            conn.send_text(data)
            self.transport.write(b"".join(conn.data_to_send()))
        else:
            self.transport.write(text_frame_header(len(data)) + data)
        return True


def text_frame_header(size: int) -> bytes:
    """RFC 6455 header of one final, unmasked text frame of ``size`` bytes (what a server sends with no
    extension): the library's general framing, built per frame, was a third of a subscriber's cost."""
    if size < 126:
        return bytes((0x81, size))
    if size < 65_536:
        return b"\x81\x7e" + size.to_bytes(2, "big")
    return b"\x81\x7f" + size.to_bytes(8, "big")

