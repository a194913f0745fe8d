"""The console serves its agent page without a session (the page signs in through the API), with a strict
Content-Security-Policy, while every API route but sign-in stays closed (browser flow: tests/browser)."""
from __future__ import annotations

from console.app import PAGE_FILES
from tests.console.conftest import console_running, run


def test_page_and_assets_are_public_and_locked_down(db_url):
    async def scenario() -> None:
        async with console_running(db_url) as console:
            for route, (file_name, mime) in PAGE_FILES.items():
                async with console.http.get(console.url + route) as resp:
                    body = await resp.text()
                    assert resp.status == 200, route
                    assert resp.headers["Content-Type"] == mime
                    policy = resp.headers["Content-Security-Policy"]
                    assert resp.headers["X-Frame-Options"] == "DENY"
                assert len(body) > 500, file_name
                directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
                assert directives["default-src"] == "'none'" and directives["script-src"] == "'self'"
                assert directives["frame-ancestors"] == "'none'" and "unsafe" not in policy
            async with console.http.get(console.url + "/") as resp:
                page = await resp.text()
            assert '<script src="/static/console.js" defer></script>' in page
            assert "<script>" not in page and " on" + "click=" not in page  # no inline code for CSP to allow

            for method, path in (("GET", "/api/tickets"), ("GET", "/api/session"),
                                 ("GET", "/static/../app.py"), ("GET", "/static/passwords.py"),
                                 ("POST", "/api/tickets/1/claim")):
                status, data = await console.call(method, path)
                assert status == 401 and data["error"] == "unauthorized", path

    run(scenario())
