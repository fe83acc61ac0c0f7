"""A tiny OpenID Connect issuer for tests: a JWKS (and a GitHub-like /user) served on loopback,
ID tokens signed with a test RSA key through PyJWT."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://issuer.ballast.test"
AUDIENCE = "ballast-test-app"
KID = "test-key-1"


class Issuer:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.rogue = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        self.jwks = {"keys": [public | {"kid": KID, "use": "sig", "alg": "RS256"}]}
        self.github_tokens: dict[str, int] = {}
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                if self.path == "/jwks":
                    self._send(200, issuer.jwks)
                elif self.path == "/user":
                    token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    found = issuer.github_tokens.get(token)
                    self._send(200, {"id": found, "login": "octo"}) if found else self._send(401, {})
                else:
                    self._send(404, {})

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Issuer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def token(self, sub: str, *, aud: str = AUDIENCE, iss: str = ISSUER, expires_in: int = 600,
              rogue: bool = False) -> str:
        now = int(time.time())
        claims = {"sub": sub, "aud": aud, "iss": iss, "iat": now, "exp": now + expires_in}
        key = self.rogue if rogue else self.key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})

    def auth_config(self) -> dict[str, dict[str, Any]]:
        return {
            "myoidc": {"issuer": ISSUER, "jwksUri": f"{self.url}/jwks", "clientId": AUDIENCE},
            "google": {"issuer": ISSUER, "jwksUri": f"{self.url}/jwks", "clientId": AUDIENCE},
            "github": {"apiUrl": f"{self.url}/user"},
        }
