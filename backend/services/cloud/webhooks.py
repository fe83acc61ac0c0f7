"""Calling a webhook (``/hooks``): one JSON POST, as parse-server's HooksController sends it.

A webhook URL is where the server itself makes requests, so a target is checked twice (when
saved and when called; the call connects to the very address it checked): ``http``/``https``
only, and, unless ``allow_private`` is set, no
loopback, link-local, private, reserved or multicast address among those its host resolves to
(the cloud metadata endpoints live there). Each call has a timeout and reads at most
``MAX_RESPONSE`` bytes of answer.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from backend import jsontext
from backend.errors import ParseCode, ParseError, error_for_code

WEBHOOK_ERROR = 143
MAX_RESPONSE = 1_000_000


def webhook_error(message: str) -> ParseError:
    return error_for_code(WEBHOOK_ERROR, message)


@dataclass(frozen=True)
class Target:
    """A webhook URL and the one address its host resolved to (and was checked at): where the call connects."""

    url: httpx.URL
    address: str


def _parse(url: object) -> httpx.URL:
    if not isinstance(url, str) or len(url) > 2048:
        raise webhook_error("invalid hook declaration")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise webhook_error("webhook URL must be an http or https URL")
    try:
        return httpx.URL(url)
    except (httpx.InvalidURL, UnicodeError) as error:
        raise webhook_error("invalid hook declaration") from error


async def resolve_target(url: object, allow_private: bool) -> Target:
    """Resolve the host once and check every address it has; 143 naming the rule otherwise.

    The call then connects to the address returned here, never resolving again: a DNS answer that changes
    between the check and the connection (DNS rebinding) cannot reach a private address.
    """
    parsed = _parse(url)
    host = parsed.host
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(parsed.raw_host.decode("ascii"), parsed.port or 443,
                                                             type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise webhook_error(f"webhook host {host} does not resolve") from error
    addresses = [str(info[4][0]) for info in infos]
    for found in addresses if not allow_private else []:
        address = ipaddress.ip_address(found)
        if not address.is_global or address.is_multicast:
            raise webhook_error(f"webhook host {host} is a private address "
                                "(BALLAST_WEBHOOK_ALLOW_PRIVATE=true allows it)")
    if not addresses:
        raise webhook_error(f"webhook host {host} does not resolve")
    return Target(parsed, addresses[0])


async def check_target(url: object, allow_private: bool) -> str:
    """The URL when Ballast may call it (as saved); 143 naming the rule otherwise."""
    if allow_private:
        _parse(url)
        return str(url)
    await resolve_target(url, allow_private)
    return str(url)


class WebhookCaller:
    def __init__(self, key: str | None, timeout: float, allow_private: bool) -> None:
        self.key = key
        self.timeout = timeout
        self.allow_private = allow_private

    async def call(self, url: str, body: dict[str, Any]) -> Any:
        """POST ``body``; the ``success`` of the answer, or its ``error`` raised as a Parse error (141)."""
        target = await resolve_target(url, self.allow_private)
        # connect to the checked address; Host and the TLS server name (SNI, certificate check) stay the URL's
        headers = {"Content-Type": "application/json", "Host": target.url.netloc.decode("ascii")}
        if self.key:
            headers["X-Parse-Webhook-Key"] = self.key
        pinned = target.url.copy_with(host=target.address.split("%")[0])
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False, trust_env=False) as client, \
                    client.stream("POST", pinned, content=orjson.dumps(body), headers=headers,
                                  extensions={"sni_hostname": target.url.raw_host.decode("ascii")}) as response:
                raw = b""
                async for chunk in response.aiter_bytes():
                    raw += chunk
                    if len(raw) > MAX_RESPONSE:
                        raise webhook_error("webhook answer is too large")
        except httpx.HTTPError as error:
            raise error_for_code(int(ParseCode.SCRIPT_FAILED), f"webhook failed: {type(error).__name__}") from None
        return _answer(raw)


def _answer(raw: bytes) -> Any:
    try:
        answer = jsontext.parse(raw)
    except jsontext.JSONDecodeError:
        raise error_for_code(int(ParseCode.SCRIPT_FAILED), "Malformed response") from None
    if not isinstance(answer, dict):
        raise error_for_code(int(ParseCode.SCRIPT_FAILED), "Malformed response")
    if answer.get("error") is not None:
        error = answer["error"]
        if isinstance(error, dict):
            code, message = error.get("code"), error.get("error") or error.get("message")
            if isinstance(code, int) and isinstance(message, str):
                raise error_for_code(code, message)
        raise error_for_code(int(ParseCode.SCRIPT_FAILED), str(error)[:1000])
    return answer.get("success")
