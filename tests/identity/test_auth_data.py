"""authData over REST on both engines: anonymous, OpenID Connect against a real local issuer
(JWKS on loopback, RSA-signed tokens), GitHub-style token check, linking and unlinking."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from backend.app import create_app
from backend.config import Settings
from tests.conftest import APP_ID
from tests.identity.issuer import Issuer

H = {"X-Parse-Application-Id": APP_ID}


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    with Issuer() as running:
        yield running


@pytest.fixture
async def oidc_client(settings: Settings, issuer: Issuer) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"auth": issuer.auth_config()}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1/parse") as http:
            yield http


def me(token: str) -> dict[str, str]:
    return {**H, "X-Parse-Session-Token": token}


async def test_anonymous_user_is_created_then_logged_in_again(oidc_client: httpx.AsyncClient) -> None:
    auth = {"authData": {"anonymous": {"id": "4d3b5b2a-anon"}}}
    first = await oidc_client.post("/users", json=auth, headers=H)
    assert first.status_code == 201, first.text
    again = await oidc_client.post("/users", json=auth, headers=H)
    assert again.status_code == 200 and again.json()["objectId"] == first.json()["objectId"]
    mine = (await oidc_client.get("/users/me", headers=me(again.json()["sessionToken"]))).json()
    assert mine["authData"] == {"anonymous": {"id": "4d3b5b2a-anon"}}


async def test_oidc_id_token_signs_up_then_logs_in(oidc_client: httpx.AsyncClient, issuer: Issuer) -> None:
    auth = {"authData": {"myoidc": {"id": "user-42", "id_token": issuer.token("user-42")}}}
    first = await oidc_client.post("/users", json=auth, headers=H)
    assert first.status_code == 201, first.text
    again = await oidc_client.post("/users", json={"authData": {"google": {"id": "user-42", "id_token":
                                                                                issuer.token("user-42")}}}, headers=H)
    assert again.status_code == 201  # another provider: another user
    same = await oidc_client.post("/users", json={"authData": {"myoidc": {"id": "user-42",
                                                                           "id_token": issuer.token("user-42")}}},
                                  headers=H)
    assert same.status_code == 200 and same.json()["objectId"] == first.json()["objectId"]
    stored = (await oidc_client.get("/users/me", headers=me(same.json()["sessionToken"]))).json()
    assert stored["authData"] == {"myoidc": {"id": "user-42"}}  # the token itself is never kept


@pytest.mark.parametrize("case", ["forged", "expired", "wrong_audience", "wrong_issuer", "other_subject"])
async def test_bad_id_tokens_are_refused_with_101(oidc_client: httpx.AsyncClient, issuer: Issuer, case: str) -> None:
    token = {
        "forged": lambda: issuer.token("u1", rogue=True),
        "expired": lambda: issuer.token("u1", expires_in=-120),
        "wrong_audience": lambda: issuer.token("u1", aud="someone-else"),
        "wrong_issuer": lambda: issuer.token("u1", iss="https://evil.example"),
        "other_subject": lambda: issuer.token("u2"),
    }[case]()
    response = await oidc_client.post("/users", json={"authData": {"myoidc": {"id": "u1", "id_token": token}}},
                                      headers=H)
    assert response.status_code == 404 and response.json()["code"] == 101, response.text
    users = await oidc_client.get("/users", headers={**H, "X-Parse-Master-Key": "test-master-key"})
    assert users.json()["results"] == []


@pytest.mark.parametrize("auth_data, code", [
    ({"myoidc": {"id": "u1"}}, 101),
    ({"myoidc": "not-an-object"}, 101),
    ({"anonymous": {"id": 12}}, 101),
    ({"anonymous": {"id": "x" * 1000}}, 101),
    ("just a string", 101),
    ({"myspace": {"id": "u1", "access_token": "t"}}, 252),
])
async def test_malformed_auth_data_and_unknown_providers(oidc_client: httpx.AsyncClient, auth_data: object,
                                                         code: int) -> None:
    response = await oidc_client.post("/users", json={"authData": auth_data}, headers=H)
    assert response.json()["code"] == code, response.text


async def test_github_access_token_is_checked_with_the_provider(oidc_client: httpx.AsyncClient,
                                                                issuer: Issuer) -> None:
    issuer.github_tokens["gho_good"] = 583231
    ok = await oidc_client.post("/users", json={"authData": {"github": {"id": "583231", "access_token": "gho_good"}}},
                                headers=H)
    assert ok.status_code == 201, ok.text
    bad = await oidc_client.post("/users", json={"authData": {"github": {"id": "583231", "access_token": "gho_bad"}}},
                                 headers=H)
    assert bad.json()["code"] == 101


async def test_link_and_unlink_auth_data_on_an_existing_user(oidc_client: httpx.AsyncClient, issuer: Issuer) -> None:
    user = (await oidc_client.post("/users", json={"username": "linker", "password": "pw"}, headers=H)).json()
    link = {"authData": {"myoidc": {"id": "link-1", "id_token": issuer.token("link-1")}}}
    linked = await oidc_client.put(f"/users/{user['objectId']}", json=link, headers=me(user["sessionToken"]))
    assert linked.status_code == 200, linked.text
    login = await oidc_client.post("/users", json=link, headers=H)
    assert login.status_code == 200 and login.json()["objectId"] == user["objectId"]
    other = (await oidc_client.post("/users", json={"username": "thief", "password": "pw"}, headers=H)).json()
    stolen = await oidc_client.put(f"/users/{other['objectId']}", json=link, headers=me(other["sessionToken"]))
    assert stolen.json() == {"code": 208, "error": "this auth is already used"}
    unlinked = await oidc_client.put(f"/users/{user['objectId']}", json={"authData": {"myoidc": None}},
                                     headers=me(user["sessionToken"]))
    assert unlinked.status_code == 200
    fresh = await oidc_client.post("/users", json=link, headers=H)
    assert fresh.status_code == 201 and fresh.json()["objectId"] != user["objectId"]
