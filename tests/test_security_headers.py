"""Every kind of response carries the security headers, caches nothing personal, names no
server, and answers no cross-origin call (issue 18, item 7)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.http.pages.render import PAGE_POLICY
from api.http.security_headers import API_POLICY, public_static
from tests.conftest import bearer
from tests.postgres import free_port
from tests.processes import PATIENCE, wait_for

SHARED = {"x-content-type-options": "nosniff", "x-frame-options": "DENY"}


def _common(response: httpx.Response) -> None:
    for name, value in SHARED.items():
        assert response.headers.get(name) == value, (response.url, name)
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "server" not in response.headers


@pytest.mark.parametrize(
    ("path", "kind", "csp"),
    [
        ("/healthz", "application/json", API_POLICY),
        ("/cases", "application/problem+json", API_POLICY),  # 401: no token
        ("/cases/QF-2026-ZZZZ", "application/problem+json", API_POLICY),
        ("/no/such/route", "application/problem+json", API_POLICY),
        ("/", "text/html", PAGE_POLICY),
        ("/report", "text/html", PAGE_POLICY),
        ("/status", "text/html", PAGE_POLICY),
        ("/signin", "text/html", PAGE_POLICY),  # the console's
        ("/metrics", "application/problem+json", API_POLICY),  # 401 from elsewhere
        ("/openapi.json", "application/json", API_POLICY),
    ],
)
def test_personal_routes_are_never_stored(
    client: TestClient, path: str, kind: str, csp: str
) -> None:
    response = client.get(path)
    assert response.headers["content-type"].startswith(kind), response.text[:200]
    _common(response)
    assert response.headers["content-security-policy"] == csp
    assert response.headers["cache-control"] == "no-store"


def test_api_json_and_metrics_read_with_a_token_are_not_stored(
    client: TestClient, tokens: dict[str, str]
) -> None:
    for path, handle in (("/cases", "sec.li"), ("/metrics", "admin")):
        answer = client.get(path, headers=bearer(tokens[handle]))
        assert answer.status_code == 200, answer.text[:200]
        _common(answer)
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["content-security-policy"] == API_POLICY


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_keep_their_policy_and_refuse_framing(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    _common(response)
    policy = response.headers["content-security-policy"]
    assert policy.startswith("default-src 'self'") and policy.endswith("frame-ancestors 'none'")
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "path",
    [
        "/static/pages/pages.css",
        "/static/docs/swagger-ui.css",
        "/procedure",
        "/procedure.json",
        "/procedure.css",
    ],
)
def test_public_static_routes_may_be_cached(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    _common(response)
    assert response.headers.get("cache-control") != "no-store"
    assert public_static(path)


def test_a_personal_route_loses_a_cache_header_it_set_itself() -> None:
    # The rule is the route's kind, not what the route said: /s/<token> is never public.
    assert not public_static("/s/abc") and not public_static("/status/case")
    assert not public_static("/staticky") and not public_static("/procedures")


def test_a_server_error_carries_the_headers_too() -> None:
    from fastapi import FastAPI

    from api.http.security_headers import SecurityHeaders

    app = FastAPI()

    @app.get("/fails")
    def fails() -> None:
        raise RuntimeError("a bug")

    app.add_middleware(SecurityHeaders)
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/fails")
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    _common(answer)
    assert answer.headers["cache-control"] == "no-store"


def test_a_cross_origin_preflight_is_not_allowed(client: TestClient) -> None:
    preflight = client.options(
        "/reports",
        headers={
            "Origin": "https://elsewhere.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-methods" not in preflight.headers
    _common(preflight)
    simple = client.get("/healthz", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in simple.headers


def test_up_sends_no_server_banner(tmp_path: Path) -> None:
    """uvicorn adds ``server: uvicorn`` below the app unless `up` turns it off."""
    port = free_port()
    env = {
        **os.environ,
        "QINGFENG_DATA_DIR": str(tmp_path),
        "QINGFENG_PORT": str(port),
        "QINGFENG_ORCHESTRATION": "false",
        "QINGFENG_NOTIFICATIONS": "false",
    }
    env.pop("QINGFENG_DATABASE_URL", None)
    up = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "up"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=PATIENCE).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        assert wait_for(answers, 3 * PATIENCE), "up did not answer"
        for path in ("/healthz", "/", "/static/pages/pages.css", "/no/such/route"):
            response = httpx.get(f"{url}{path}", timeout=PATIENCE)
            assert "server" not in response.headers, path
            _common(response)
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=3 * PATIENCE)
