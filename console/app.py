"""The agent console's backend: a Sanic app with a JSON API over the handoff tickets and Rasa's HTTP API.

The agent page (``GET /``, with ``/static/console.js`` and ``/static/console.css`` from console/static) is
public and signs in through the API. Endpoints (everything except ``POST /api/login`` needs a signed-in
agent, else 401)::

    POST /api/login                      {"agent", "password"} -> session cookie (HttpOnly, SameSite=Strict)
    POST /api/logout
    GET  /api/session                    who is signed in (and the name shoppers see), until when
    GET  /api/tickets                    the queue: waiting and active tickets, oldest first
    GET  /api/tickets/<id>               one ticket (any status)
    POST /api/tickets/<id>/claim         waiting -> active, held by the agent
    GET  /api/tickets/<id>/transcript    the conversation from Rasa (shopper text as JSON strings)
    POST /api/tickets/<id>/reply         {"text"}: sent to the shopper's channel, stored in the tracker
                                         (the shopper sees the agent's display name, never the login)
    POST /api/tickets/<id>/handback      resume the bot (``resume`` + ``handoff_active: false``), it says so
    POST /api/tickets/<id>/close         {"resolution"}: record it; a still paused conversation is resumed

Errors are JSON ``{"error": <code>, "message": <text>}``: 400 bad input, 401 not signed in, 404 no such
ticket, 409 the ticket's state forbids it (someone else holds it, not claimed, closed), 415 a POST
without ``Content-Type: application/json``, 429 too many failed sign-ins, 502 Rasa unreachable or
refusing (the agent's next poll simply tries again), 503 shop database down.

Database calls are synchronous SQLAlchemy; they run in the default thread pool so that one slow query
does not stall every agent's polling.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from console.passwords import dummy_hash, verify_password
from console.rasa_client import RasaClient, RasaError
from console.sessions import SessionStore
from console.settings import AGENT_DISPLAY_KEY, AGENT_KEY, MAX_REPLY_LENGTH, ConsoleSettings
from shop import HandoffDesk, ShopUnavailableError, TicketInfo, TicketNotFoundError, TicketStateError

logger = logging.getLogger(__name__)

COOKIE_NAME = "shopassist_console"
#: The agent page (console/static) by route; public, since the page itself signs in through the API.
PAGE_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/console.js": ("console.js", "text/javascript; charset=utf-8"),
    "/static/console.css": ("console.css", "text/css; charset=utf-8"),
}
STATIC_DIR = Path(__file__).resolve().parent / "static"
#: The page runs only its own script and style and talks only to this origin (no inline code at all).
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PUBLIC_ROUTES = {("POST", "/api/login")} | {("GET", route) for route in PAGE_FILES}
#: Events of a transcript returned at most (the newest).
MAX_TRANSCRIPT_EVENTS = 300
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
}
#: Slots the console resets when the bot takes over again (the HandoffPolicy's slots in domain.yml).
ACTIVE_SLOT = "handoff_active"
REASON_SLOT = "handoff_reason"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def _error(status: int, code: str, message: str, **extra: Any) -> HTTPResponse:
    return response.json({"error": code, "message": message, **extra}, status=status)


def _iso(timestamp: Any) -> Optional[str]:
    if not isinstance(timestamp, (int, float)):
        return None
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat()


def _name(value: Any) -> Optional[str]:
    return value.get("name") if isinstance(value, dict) else None


def transcript_entries(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rasa tracker events -> what an agent reads: shopper and bot messages, agent replies, handoff,
    pause and resume markers. Texts stay plain strings (the page renders them with ``textContent``)."""
    entries: list[dict[str, Any]] = []
    for event in events:
        kind, at = event.get("event"), _iso(event.get("timestamp"))
        if kind == "user":
            parse = event.get("parse_data") or {}
            entries.append(
                {
                    "type": "user",
                    "text": event.get("text") or "",
                    "at": at,
                    "intent": _name(parse.get("intent")),
                    "emotion": _name(parse.get("emotion")),
                    "channel": event.get("input_channel"),
                }
            )
        elif kind == "bot":
            agent = (event.get("metadata") or {}).get("agent")
            entries.append(
                {
                    "type": "agent" if agent else "bot",
                    "text": event.get("text") or "",
                    "agent": agent,
                    "at": at,
                }
            )
        elif kind in ("pause", "resume"):
            entries.append({"type": "paused" if kind == "pause" else "resumed", "at": at})
        elif kind == "action" and event.get("name") == "action_handoff":
            entries.append({"type": "handoff", "at": at})
    return entries[-MAX_TRANSCRIPT_EVENTS:]


def handback_events(message: str, ticket_id: int, agent: str, now: float) -> list[dict[str, Any]]:
    """The events that give a conversation back to the bot, appended in one call.

    ``resume`` un-pauses it; the HandoffPolicy's slots are reset (``handoff_active`` false, so it may hand
    over again later; it also counts only the shopper's turns after this ``resume``); the bot says it is
    back; and ``action_listen`` ends the bot's turn. That last event matters: while paused, Rasa logs
    the shopper's messages without running any action, so without it the shopper's next message would
    follow ``action_handoff`` directly, no rule would match it (rules expect a user turn after
    ``action_listen``) and the "listen after a handoff" rule would keep the bot silent once more.
    """
    return [
        {"event": "resume", "timestamp": now},
        {"event": "slot", "name": ACTIVE_SLOT, "value": False, "timestamp": now},
        {"event": "slot", "name": REASON_SLOT, "value": None, "timestamp": now},
        {
            "event": "bot",
            "text": message,
            "timestamp": now,
            "metadata": {"handoff_ticket": ticket_id, "console": "handback", "handed_back_by": agent},
        },
        {"event": "action", "name": "action_listen", "timestamp": now},
    ]


def create_app(
    settings: ConsoleSettings,
    *,
    desk: Optional[HandoffDesk] = None,
    clock: Callable[[], float] = time.time,
    name: Optional[str] = None,
) -> Sanic:
    """The console app. ``desk`` defaults to a :class:`shop.HandoffDesk` on ``settings.db_url``;
    ``clock`` (epoch seconds) drives session expiry (tests); ``name`` must be unique per process."""
    app = Sanic(name or f"shopassist_console_{uuid.uuid4().hex[:8]}", configure_logging=False)
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.ctx.settings = settings
    app.ctx.desk = desk or HandoffDesk(settings.db_url)
    app.ctx.sessions = SessionStore(settings.session_ttl_s, clock)
    app.ctx.rasa = None

    def rasa() -> RasaClient:
        if app.ctx.rasa is None:  # created inside the running loop, on first use
            app.ctx.rasa = RasaClient(settings.rasa_url, settings.rasa_token, settings.rasa_timeout_s)
        return app.ctx.rasa

    async def in_thread(function: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, functools.partial(function, *args))

    @app.listener("after_server_stop")
    async def _close_rasa(app_: Sanic, _loop: Any) -> None:
        if app_.ctx.rasa is not None:
            await app_.ctx.rasa.close()

    # ------------------------------------------------------------------ middleware
    def _token(request: Request) -> Optional[str]:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return header[7:].strip()
        return request.cookies.get(COOKIE_NAME)

    @app.middleware("request")
    async def _authenticate(request: Request) -> Optional[HTTPResponse]:
        request.ctx.agent = None
        if (request.method, request.path) not in PUBLIC_ROUTES:
            session = app.ctx.sessions.lookup(_token(request))
            if session is None:
                return _error(401, "unauthorized", "Please sign in.")
            request.ctx.agent = session.agent
            request.ctx.session = session
        # With the SameSite=Strict cookie this also keeps cross-site form posts out.
        if request.method == "POST" and not (request.content_type or "").startswith("application/json"):
            return _error(415, "unsupported_media_type", "Send JSON (Content-Type: application/json).")
        return None

    @app.middleware("response")
    async def _security_headers(_request: Request, resp: HTTPResponse) -> None:
        for header, value in SECURITY_HEADERS.items():
            resp.headers.setdefault(header, value)

    def api(handler: Callable[..., Awaitable[HTTPResponse]]) -> Callable[..., Awaitable[HTTPResponse]]:
        """Map the shop's and Rasa's failures to JSON errors."""

        @functools.wraps(handler)
        async def wrapped(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            try:
                return await handler(request, *args, **kwargs)
            except ApiError as exc:
                return _error(exc.status, exc.code, exc.message, **exc.extra)
            except TicketNotFoundError:
                return _error(404, "not_found", "There is no such ticket.")
            except TicketStateError as exc:
                return _error(409, "conflict", str(exc), ticket=exc.ticket.to_dict())
            except RasaError as exc:
                logger.warning("console: %s", exc)
                return _error(502, "rasa_unavailable", str(exc))
            except ShopUnavailableError:
                return _error(503, "database_unavailable", "The shop database is not reachable right now.")

        return wrapped

    def body(request: Request) -> dict[str, Any]:
        try:
            data = request.json
        except Exception:  # Sanic raises its InvalidUsage for malformed JSON
            raise ApiError(400, "bad_request", "The body is not valid JSON.") from None
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise ApiError(400, "bad_request", "The body must be a JSON object.")
        return data

    def text_field(data: dict[str, Any], key: str, limit: int) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ApiError(400, "bad_request", f"'{key}' must be a non-empty string.")
        cleaned = "".join(ch for ch in value if ch.isprintable() or ch in "\n\t").strip()
        if len(cleaned) > limit:
            raise ApiError(400, "bad_request", f"'{key}' is longer than {limit} characters.")
        return cleaned

    def ticket_json(ticket: TicketInfo) -> dict[str, Any]:
        return ticket.to_dict(app.ctx.desk.now())

    def require_holder(ticket: TicketInfo, agent: str) -> None:
        if ticket.status != "active":
            raise ApiError(
                409,
                "conflict",
                f"Ticket {ticket.id} is {ticket.status}; claim it first.",
                ticket=ticket_json(ticket),
            )
        if ticket.agent != agent:
            raise ApiError(
                409, "conflict", f"Ticket {ticket.id} is held by {ticket.agent}.", ticket=ticket_json(ticket)
            )

    def bot_event(text: str, agent: str, ticket: TicketInfo, kind: str) -> dict[str, Any]:
        metadata = {
            AGENT_KEY: agent,
            AGENT_DISPLAY_KEY: settings.display_name(agent),
            "handoff_ticket": ticket.id,
            "console": kind,
        }
        return {"event": "bot", "text": text, "timestamp": time.time(), "metadata": metadata}

    async def resume_conversation(ticket: TicketInfo, agent: str) -> None:
        events = handback_events(settings.handback_message, ticket.id, agent, time.time())
        await rasa().append_events(ticket.sender_id, events)

    # ------------------------------------------------------------------ the agent page
    def page_file(file_name: str, mime_type: str) -> Callable[[Request], Awaitable[HTTPResponse]]:
        async def serve_page_file(_request: Request) -> HTTPResponse:
            return await response.file(
                STATIC_DIR / file_name, mime_type=mime_type, headers={"Content-Security-Policy": PAGE_CSP}
            )

        return serve_page_file

    for route, (file_name, mime_type) in PAGE_FILES.items():
        app.add_route(
            page_file(file_name, mime_type),
            route,
            methods=["GET"],
            name=f"page_{file_name.replace('.', '_')}",
        )

    # ------------------------------------------------------------------ sign-in
    @app.post("/api/login")
    @api
    async def login(request: Request) -> HTTPResponse:
        data = body(request)
        agent = data.get("agent")
        password = data.get("password")
        if not isinstance(agent, str) or not isinstance(password, str) or len(password) > 1024:
            raise ApiError(400, "bad_request", "Send 'agent' and 'password'.")
        agent = agent.strip()[:60]
        sessions: SessionStore = app.ctx.sessions
        if sessions.locked_out(agent):
            raise ApiError(429, "too_many_attempts", "Too many failed sign-ins; try again in a few minutes.")
        encoded = settings.agents.get(agent)
        ok = await in_thread(verify_password, password, encoded or dummy_hash())
        if not (ok and encoded):
            sessions.record_failure(agent)
            logger.info("console: failed sign-in")
            raise ApiError(401, "unauthorized", "Wrong agent name or password.")
        token, session = sessions.create(agent)
        logger.info("console: %s signed in", agent)
        resp = response.json({"agent": agent, "expires_at": _iso(session.expires_at)})
        resp.cookies[COOKIE_NAME] = token
        cookie = resp.cookies[COOKIE_NAME]
        cookie["httponly"] = True
        cookie["samesite"] = "Strict"
        cookie["path"] = "/"
        cookie["max-age"] = max(0, int(session.expires_at - clock()))
        if settings.cookie_secure:
            cookie["secure"] = True
        return resp

    @app.post("/api/logout")
    @api
    async def logout(request: Request) -> HTTPResponse:
        app.ctx.sessions.revoke(_token(request))
        resp = response.json({"signed_out": True})
        del resp.cookies[COOKIE_NAME]
        return resp

    @app.get("/api/session")
    @api
    async def whoami(request: Request) -> HTTPResponse:
        agent = request.ctx.agent
        return response.json(
            {
                "agent": agent,
                "display_name": settings.display_name(agent),
                "expires_at": _iso(request.ctx.session.expires_at),
            }
        )

    # ------------------------------------------------------------------ tickets
    @app.get("/api/tickets")
    @api
    async def tickets(request: Request) -> HTTPResponse:
        queue = await in_thread(app.ctx.desk.queue)
        now = app.ctx.desk.now()
        return response.json({"tickets": [t.to_dict(now) for t in queue], "now": now.isoformat()})

    @app.get("/api/tickets/<ticket_id:int>")
    @api
    async def ticket(request: Request, ticket_id: int) -> HTTPResponse:
        return response.json({"ticket": ticket_json(await in_thread(app.ctx.desk.get, ticket_id))})

    @app.post("/api/tickets/<ticket_id:int>/claim")
    @api
    async def claim(request: Request, ticket_id: int) -> HTTPResponse:
        claimed = await in_thread(app.ctx.desk.claim, ticket_id, request.ctx.agent)
        return response.json({"ticket": ticket_json(claimed)})

    @app.get("/api/tickets/<ticket_id:int>/transcript")
    @api
    async def transcript(request: Request, ticket_id: int) -> HTTPResponse:
        current = await in_thread(app.ctx.desk.get, ticket_id)
        state = await rasa().tracker(current.sender_id)
        return response.json(
            {
                "ticket": ticket_json(current),
                "sender_id": current.sender_id,
                "paused": bool(state.get("paused")),
                "latest_input_channel": state.get("latest_input_channel"),
                "events": transcript_entries(list(state.get("events") or [])),
            }
        )

    @app.post("/api/tickets/<ticket_id:int>/reply")
    @api
    async def reply(request: Request, ticket_id: int) -> HTTPResponse:
        text = text_field(body(request), "text", MAX_REPLY_LENGTH)
        current = await in_thread(app.ctx.desk.get, ticket_id)
        require_holder(current, request.ctx.agent)
        await rasa().append_events(current.sender_id, [bot_event(text, request.ctx.agent, current, "reply")])
        logger.info(
            "console: %s replied on ticket %s (%d characters)", request.ctx.agent, ticket_id, len(text)
        )
        return response.json({"sent": True, "ticket": ticket_json(current)})

    @app.post("/api/tickets/<ticket_id:int>/handback")
    @api
    async def handback(request: Request, ticket_id: int) -> HTTPResponse:
        current = await in_thread(app.ctx.desk.get, ticket_id)
        require_holder(current, request.ctx.agent)
        await resume_conversation(current, request.ctx.agent)
        handed = await in_thread(app.ctx.desk.hand_back, ticket_id, request.ctx.agent)
        return response.json({"ticket": ticket_json(handed)})

    @app.post("/api/tickets/<ticket_id:int>/close")
    @api
    async def close(request: Request, ticket_id: int) -> HTTPResponse:
        resolution = text_field(body(request), "resolution", 2000)
        current = await in_thread(app.ctx.desk.get, ticket_id)
        if current.status == "active" and current.agent != request.ctx.agent:
            require_holder(current, request.ctx.agent)
        if current.status == "closed":
            raise ApiError(
                409, "conflict", f"Ticket {current.id} is already closed.", ticket=ticket_json(current)
            )
        resumed = current.holds_conversation
        if resumed:  # never leave a conversation paused with nobody holding it
            await resume_conversation(current, request.ctx.agent)
        closed = await in_thread(app.ctx.desk.close, ticket_id, request.ctx.agent, resolution)
        return response.json({"ticket": ticket_json(closed), "resumed": resumed})

    return app


def main(argv: Optional[list[str]] = None) -> int:
    """Run the console: ``python -m console`` (settings from the environment, see console.settings)."""
    parser = argparse.ArgumentParser(description="ShopAssist agent console (JSON API).")
    parser.add_argument("--host", default=None, help="interface (default $CONSOLE_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default $CONSOLE_PORT or 5010)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = ConsoleSettings.from_env()
    except (ValueError, OSError) as exc:
        print(f"console: {exc}")
        return 2
    if not settings.agents:
        print("console: no agents configured; set CONSOLE_AGENTS (hash: python -m console.passwords).")
        return 2
    app = create_app(settings, name="shopassist_console")
    app.run(host=args.host or settings.host, port=args.port or settings.port, access_log=False, workers=1)
    return 0
