"""Console sign-in: password hashes, agent configuration, sessions, cookies, expiry and 401s."""

from __future__ import annotations

import io
import json

import pytest

from console import passwords
from console.passwords import hash_password, verify_password
from console.settings import DEFAULT_DISPLAY_NAME, ConsoleSettings, parse_agent_list, parse_agents
from tests.console.conftest import AGENTS, PASSWORDS, console_running, run


def test_password_hash_round_trip():
    encoded = hash_password("correct horse battery", log2_n=4)
    assert encoded.startswith("scrypt$4$8$1$") and ":" not in encoded and "," not in encoded
    assert verify_password("correct horse battery", encoded)
    assert not verify_password("correct horse batterY", encoded)
    assert hash_password("same", log2_n=4) != hash_password("same", log2_n=4)  # salted
    for broken in ("", "plain-text", "scrypt$4$8$1$abc", "scrypt$99$8$1$AAAA$AAAA", encoded[:-4] + "!!!!"):
        assert not verify_password("correct horse battery", broken)


def test_password_command_line(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("long enough secret\n"))
    assert passwords.main(["--stdin", "--log2-n", "4"]) == 0
    printed = capsys.readouterr().out.strip()
    assert verify_password("long enough secret", printed)
    monkeypatch.setattr("sys.stdin", io.StringIO("short"))
    assert passwords.main(["--stdin"]) == 1


def test_agents_from_env_and_file(tmp_path):
    spec = f"alice:{AGENTS['alice']}, bob:{AGENTS['bob']}"
    assert parse_agents(spec) == AGENTS
    with pytest.raises(ValueError, match="carol"):
        parse_agents("carol:plaintext-password")
    with pytest.raises(ValueError, match="invalid console agent name"):
        parse_agents(f"bad name:{AGENTS['alice']}")
    agents_file = tmp_path / "agents.json"
    agents_file.write_text(json.dumps({"dora": AGENTS["alice"]}))
    settings = ConsoleSettings.from_env(
        {
            "CONSOLE_AGENTS": f"alice:{AGENTS['alice']}",
            "CONSOLE_AGENTS_FILE": str(agents_file),
            "RASA_URL": "http://rasa:5005/",
            "RASA_TOKEN": "t",
            "CONSOLE_COOKIE_SECURE": "true",
        }
    )
    assert set(settings.agents) == {"alice", "dora"}
    assert settings.rasa_url == "http://rasa:5005" and settings.rasa_token == "t" and settings.cookie_secure


def test_agents_may_have_a_display_name_for_shoppers(tmp_path):
    """Shoppers see the name the team configured for an agent, else "Support agent"; never the login."""
    spec = f"alice:{AGENTS['alice']}:Dana from support, bob:{AGENTS['bob']}"
    assert parse_agent_list(spec) == (AGENTS, {"alice": "Dana from support"})
    assert parse_agents(spec) == AGENTS
    for bad in (f"alice:{AGENTS['alice']}:" + "x" * 41, f"alice:{AGENTS['alice']}:Dana\x07"):
        with pytest.raises(ValueError, match="display name of console agent 'alice'"):
            parse_agent_list(bad)
    agents_file = tmp_path / "agents.json"
    agents_file.write_text(
        json.dumps(
            {
                "dora": {"password_hash": AGENTS["alice"], "display_name": " Dora "},
                "erin": {"password_hash": AGENTS["bob"]},
                "bob": AGENTS["bob"],
            }
        )
    )
    settings = ConsoleSettings.from_env({"CONSOLE_AGENTS": spec, "CONSOLE_AGENTS_FILE": str(agents_file)})
    assert set(settings.agents) == {"alice", "bob", "dora", "erin"}
    assert settings.agents["erin"] == AGENTS["bob"]
    shown = {name: settings.display_name(name) for name in settings.agents}
    assert shown == {
        "alice": "Dana from support",
        "bob": DEFAULT_DISPLAY_NAME,
        "dora": "Dora",
        "erin": DEFAULT_DISPLAY_NAME,
    }
    assert DEFAULT_DISPLAY_NAME == "Support agent"
    agents_file.write_text(json.dumps({"dora": {"password_hash": AGENTS["alice"], "display_name": 7}}))
    with pytest.raises(ValueError, match="display name of console agent 'dora'"):
        ConsoleSettings.from_env({"CONSOLE_AGENTS_FILE": str(agents_file)})


def test_sign_in_cookie_session_and_sign_out(db_url):
    async def scenario() -> None:
        async with console_running(db_url) as console:
            async with console.http.post(
                f"{console.url}/api/login", json={"agent": "alice", "password": PASSWORDS["alice"]}
            ) as resp:
                assert resp.status == 200
                cookie = resp.headers["Set-Cookie"]
                assert (await resp.json())["agent"] == "alice"
                assert resp.headers["Cache-Control"] == "no-store"
            assert "shopassist_console=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
            assert "Max-Age=600" in cookie and "Path=/" in cookie and "Secure" not in cookie

            status, session = await console.call("GET", "/api/session")
            assert status == 200 and session["agent"] == "alice" and session["expires_at"]
            assert session["display_name"] == "Support agent"  # what shoppers see for alice (none configured)
            status, _ = await console.call("GET", "/api/tickets")
            assert status == 200

            status, _ = await console.call("POST", "/api/logout")
            assert status == 200
            status, data = await console.call("GET", "/api/tickets")
            assert status == 401 and data["error"] == "unauthorized"

    run(scenario())


def test_wrong_password_unknown_agent_and_lockout(db_url):
    async def scenario() -> None:
        async with console_running(db_url) as console:
            wrong = await console.call("POST", "/api/login", {"agent": "alice", "password": "guess"})
            assert wrong[0] == 401 and "Set-Cookie" not in str(wrong[1])
            assert (await console.call("POST", "/api/login", {"agent": "mallory", "password": "x"}))[0] == 401
            assert (await console.call("POST", "/api/login", {"agent": "alice"}))[0] == 400
            assert (await console.call("GET", "/api/tickets"))[0] == 401
            for _ in range(5):
                await console.call("POST", "/api/login", {"agent": "bob", "password": "guess"})
            right = {"agent": "bob", "password": PASSWORDS["bob"]}
            status, data = await console.call("POST", "/api/login", right)
            assert status == 429 and data["error"] == "too_many_attempts"
            console.clock.now += 301  # the brake wears off
            await console.login("bob")

    run(scenario())


def test_session_expires(db_url):
    async def scenario() -> None:
        async with console_running(db_url) as console:
            await console.login()
            console.clock.now += 599
            assert (await console.call("GET", "/api/tickets"))[0] == 200
            console.clock.now += 2
            assert (await console.call("GET", "/api/tickets"))[0] == 401

    run(scenario())


def test_everything_needs_a_session(db_url):
    async def scenario() -> None:
        async with console_running(db_url) as console:
            for method, path in [
                ("GET", "/api/tickets"),
                ("GET", "/api/tickets/1"),
                ("POST", "/api/tickets/1/claim"),
                ("GET", "/api/tickets/1/transcript"),
                ("POST", "/api/tickets/1/reply"),
                ("POST", "/api/tickets/1/handback"),
                ("POST", "/api/tickets/1/close"),
                ("GET", "/api/session"),
                ("GET", "/somewhere/else"),  # "/" is the public sign-in page (tests/console/test_page.py)
            ]:
                status, data = await console.call(method, path)
                assert status == 401 and data["error"] == "unauthorized", (method, path)
            forged = {"Authorization": "Bearer not-a-session"}
            assert (await console.call("GET", "/api/tickets", headers=forged))[0] == 401
            assert console.rasa.calls == []

    run(scenario())


def test_posts_must_be_json(db_url):
    async def scenario() -> None:
        async with console_running(db_url) as console:
            await console.login()
            form = {"Content-Type": "application/x-www-form-urlencoded"}
            async with console.http.post(f"{console.url}/api/logout", data="x=1", headers=form) as resp:
                assert resp.status == 415
            async with console.http.post(
                f"{console.url}/api/tickets/1/reply",
                data="{not json",
                headers={"Content-Type": "application/json"},
            ) as resp:
                assert resp.status == 400

    run(scenario())
