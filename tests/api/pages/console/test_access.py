"""Who may use the console (issue 10's acceptance table): every console route refuses a
partner key, a technician key, no cookie, a forged and an expired cookie, a session of
another role and of a revoked key, and (for forms) a post without the CSRF token. The
table lists every console route: a new route without an entry fails the first test."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from api.pages.console.access import CONSOLE
from api.pages.sessions import PageKeys
from core.security import ApiKey
from tests.api.pages.tables import routes_under
from tests.fixtures import Keys, load_registry


@dataclass(frozen=True)
class Case:
    url: str  # the route's path with its parameters filled in
    form: dict[str, str] = field(default_factory=dict)  # the fields a valid post sends


# Every console route: (method, path) -> how to call it. Routes a signed-in support lead
# alone may use are in LEAD; the sign-in form is public by design (tested below).
LEAD = {
    ("GET", "/console/"): Case("/console/"),
    ("GET", "/console/logout"): Case("/console/logout"),
    ("POST", "/console/logout"): Case("/console/logout"),
}
PUBLIC = {("GET", "/console/login"), ("POST", "/console/login")}


def test_the_table_lists_every_console_route(client: TestClient) -> None:
    assert routes_under(client.app, "/console") == set(LEAD) | PUBLIC  # type: ignore[arg-type]


def sign_in(client: TestClient, key: str, *, next_path: str = "/console/") -> object:
    form = client.get("/console/login")
    token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
    return client.post(
        "/console/login",
        data={"api_key": key, "csrf_token": token, "next": next_path},
        follow_redirects=False,
    )


def csrf_of(client: TestClient) -> str:
    page = client.get("/console/")
    assert page.status_code == 200, page.text
    return page.text.split('<meta name="csrf-token" content="')[1].split('"')[0]


def keys_of(client: TestClient) -> PageKeys:
    return client.app.state.page_keys  # type: ignore[attr-defined,no-any-return]


def cookie_for(
    client: TestClient, key_id: int, *, secret: str | None = None, age_s: int = 0
) -> str:
    """A session cookie as the console would sign it (or with another secret, or made
    ``age_s`` seconds ago)."""
    keys = keys_of(client)
    serializer = CONSOLE.serializer(PageKeys(secret or keys.secret, keys.session_seconds))

    class Then(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age_s

    serializer.signer = Then
    return serializer.dumps({"key": key_id, "csrf": "known-token"})


def key_id(session: Session, role: str) -> int:
    return session.scalars(select(ApiKey.id).where(ApiKey.role == role).order_by(ApiKey.id)).first()  # type: ignore[return-value]


def call(
    client: TestClient,
    method: str,
    case: Case,
    *,
    cookie: str | None = None,
    csrf: str | None = None,
    headers: dict[str, str] | None = None,
):  # type: ignore[no-untyped-def]
    client.cookies.clear()
    if cookie is not None:
        client.cookies.set(CONSOLE.cookie, cookie, path="/console")
    data = dict(case.form)
    if csrf is not None:
        data["csrf_token"] = csrf
    if method == "GET":
        return client.get(case.url, headers=headers, follow_redirects=False)
    return client.post(case.url, data=data, headers=headers, follow_redirects=False)


def refused(response, status: int) -> bool:  # type: ignore[no-untyped-def]
    """A refusal: the sign-in redirect (a page load) or an HTML page with ``status``."""
    if response.status_code == 303:
        return bool(response.headers["location"].startswith("/console/login?next="))
    return (
        response.status_code == status
        and response.headers["content-type"].startswith("text/html")
        and "<h1>" in response.text
    )


@pytest.fixture
def keys(session: Session) -> Keys:
    return load_registry(session)


@pytest.mark.parametrize("route", sorted(LEAD))
def test_every_console_route_refuses_all_but_a_signed_in_lead(
    route: tuple[str, str], client: TestClient, session: Session, keys: Keys
) -> None:
    method, _ = route
    case = LEAD[route]
    unsafe = method != "GET"
    # No cookie, and API keys in headers (the console knows only its cookie).
    for headers in (
        None,
        {"X-API-Key": keys.partner_a},
        {"X-API-Key": keys.technician},
        {"X-API-Key": keys.lead},
    ):
        response = call(client, method, case, headers=headers, csrf="known-token")
        assert refused(response, status=401), (headers, response.status_code)
        if not unsafe:
            assert response.status_code == 303
    lead_id = key_id(session, "support_lead")
    # A forged cookie (signed with another secret), an expired one, and nonsense.
    ttl = keys_of(client).session_seconds
    for cookie in (
        cookie_for(client, lead_id, secret="not-the-secret"),
        cookie_for(client, lead_id, age_s=ttl + 60),
        "garbage",
    ):
        response = call(client, method, case, cookie=cookie, csrf="known-token")
        assert refused(response, status=401), response.status_code
    # A validly signed session of a partner's or a technician's key: 403.
    for role in ("partner", "technician"):
        response = call(
            client,
            method,
            case,
            cookie=cookie_for(client, key_id(session, role)),
            csrf="known-token",
        )
        assert response.status_code == 403 and f"A {role} key cannot" in response.text
    # The lead's own session: admitted; for a form, only with its CSRF token.
    good = cookie_for(client, lead_id, age_s=ttl - 60)
    if unsafe:
        for csrf in (None, "wrong-token"):
            response = call(client, method, case, cookie=good, csrf=csrf)
            assert response.status_code == 403 and "security token" in response.text
            assert "set-cookie" not in response.headers  # nothing changed (not signed out)
    response = call(client, method, case, cookie=good, csrf="known-token")
    assert response.status_code in (200, 303) and not refused(response, 401), response.text
    # A revoked key ends its sessions at once.
    session.execute(text("UPDATE api_key SET revoked_at = now() WHERE id = :id"), {"id": lead_id})
    response = call(client, method, case, cookie=good, csrf="known-token")
    assert refused(response, status=401)


def test_an_htmx_request_without_a_session_is_told_to_sign_in(
    client: TestClient, keys: Keys
) -> None:
    response = client.get("/console/", headers={"HX-Request": "true"}, follow_redirects=False)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/console/login?next=%2Fconsole%2F"


def test_a_lead_key_signs_in_with_a_safe_cookie_and_signs_out(
    client: TestClient, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = sign_in(client, keys.lead, next_path="/console/signals?status=new")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/signals?status=new"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith(CONSOLE.cookie + "=")
    )
    attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "max-age", "path", "samesite"} <= attributes
    assert "SameSite=lax" in cookie and "Path=/console" in cookie
    assert f"Max-Age={keys_of(client).session_seconds}" in cookie
    # The key itself is nowhere: not in the cookie, the address, nor the logs.
    assert keys.lead not in cookie and keys.lead not in response.headers["location"]
    assert keys.lead not in caplog.text
    home = client.get("/console/")
    assert home.status_code == 200 and "Failure reports per week" in home.text
    signed_out = client.post(
        "/console/logout", data={"csrf_token": csrf_of(client)}, follow_redirects=False
    )
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/console/login"
    assert client.get("/console/", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    ("who", "status", "says"),
    [
        ("partner_a", 403, "a partner key cannot sign in here"),
        ("technician", 403, "a technician key cannot sign in here"),
        ("unknown", 401, "unknown or has been revoked"),
        ("empty", 401, "Enter a support-lead API key"),
    ],
)
def test_other_keys_are_refused_with_a_clear_page(
    who: str, status: int, says: str, client: TestClient, keys: Keys
) -> None:
    fixed = {"unknown": "fr_not-a-key", "empty": ""}
    key = fixed[who] if who in fixed else getattr(keys, who)
    response = sign_in(client, key)
    assert response.status_code == status
    assert says in response.text and 'id="sign-in-error"' in response.text
    assert not any(
        c.startswith(CONSOLE.cookie + "=") for c in response.headers.get_list("set-cookie")
    )


def test_the_sign_in_form_needs_its_own_csrf_token(client: TestClient, keys: Keys) -> None:
    client.get("/console/login")
    for token in ("", "forged"):
        response = client.post(
            "/console/login",
            data={"api_key": keys.lead, "csrf_token": token},
            follow_redirects=False,
        )
        assert response.status_code == 403 and "out of date" in response.text
        assert not any(
            c.startswith(CONSOLE.cookie + "=") for c in response.headers.get_list("set-cookie")
        )


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/console/", "/api/v1/partners"]
)
def test_after_sign_in_the_console_never_sends_a_browser_elsewhere(
    target: str, client: TestClient, keys: Keys
) -> None:
    response = sign_in(client, keys.lead, next_path=target)
    assert response.status_code == 303 and response.headers["location"] == "/console/"
