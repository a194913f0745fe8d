"""``shopassist serve``: the Rasa server, the action server and the agent console on one machine.

The settings an operator changes come from the environment (the same names docker-compose.yml uses):

======================== ============================================================================
``RASA_AUTH_TOKEN``      token of Rasa's HTTP API (``--enable-api``). Required with ``--production``;
                         otherwise one is generated for this run and printed.
``SHOPASSIST_CORS_ORIGINS`` origins allowed to call Rasa from a browser, comma-separated
                         (default: none, i.e. no cross-origin calls)
``SHOPASSIST_ENV``       ``production`` has the effect of ``--production``
``CONSOLE_AGENTS``       the console's agents (see console/settings.py); without them (and without
                         ``--production``) the console is left out with a note
``SHOPASSIST_TRACKER_STORE_URL``, ``SHOPASSIST_LOCK_STORE_URL``, ...  read by serving/stores.py
======================== ============================================================================
"""
from __future__ import annotations

import argparse
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Mapping, Optional

from serving.supervisor import Service, Supervisor

# Read by actions/warm_start.py in the action server (not imported: importing the actions package here
# would warm up the supervisor process itself).
WARM_START_ENV = "SHOPASSIST_WARM_START"

AUTH_TOKEN_ENV = "RASA_AUTH_TOKEN"
CORS_ORIGINS_ENV = "SHOPASSIST_CORS_ORIGINS"
ENVIRONMENT_ENV = "SHOPASSIST_ENV"
#: Shorter tokens are refused in production: the token guards every conversation's history.
MIN_TOKEN_LENGTH = 16


class ServeConfigError(ValueError):
    """The environment or the arguments do not allow a safe start; the message says what to set."""


@dataclass(frozen=True)
class ServePlan:
    """What ``shopassist serve`` will start, decided before anything starts (so tests can inspect it)."""

    services: List[Service]
    auth_token: str
    token_generated: bool
    notes: List[str]


def cors_origins(environ: Mapping[str, str]) -> List[str]:
    raw = environ.get(CORS_ORIGINS_ENV, "")
    return [origin.strip() for origin in raw.replace(" ", ",").split(",") if origin.strip()]


def is_production(args: argparse.Namespace, environ: Mapping[str, str]) -> bool:
    return bool(args.production) or environ.get(ENVIRONMENT_ENV, "").strip().lower() == "production"


def _auth_token(production: bool, environ: Mapping[str, str]) -> tuple[str, bool]:
    token = environ.get(AUTH_TOKEN_ENV, "").strip()
    if token:
        if production and len(token) < MIN_TOKEN_LENGTH:
            raise ServeConfigError(
                f"{AUTH_TOKEN_ENV} is shorter than {MIN_TOKEN_LENGTH} characters; make a long random one: "
                "python -c \"import secrets; print(secrets.token_urlsafe(32))\""
            )
        return token, False
    if production:
        raise ServeConfigError(
            f"{AUTH_TOKEN_ENV} is not set. In production Rasa's HTTP API (conversation histories, "
            "injecting messages) must be protected: export RASA_AUTH_TOKEN=\"$(python -c "
            "'import secrets; print(secrets.token_urlsafe(32))')\" and give the same value to the console."
        )
    return secrets.token_urlsafe(24), True


def _console_configured(environ: Mapping[str, str]) -> bool:
    return bool(environ.get("CONSOLE_AGENTS", "").strip() or environ.get("CONSOLE_AGENTS_FILE", "").strip())


def _check_action_endpoint(endpoints: str, actions_port: int) -> None:
    """Rasa must call the action server this command starts: a port mismatch makes every custom action
    fail, and the shopper then gets no reply at all (docs/NOTES.md)."""
    from urllib.parse import urlsplit

    import yaml

    try:
        loaded = yaml.safe_load(Path(endpoints).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ServeConfigError(f"cannot read the endpoints file {endpoints}: {error}") from None
    url = str((loaded.get("action_endpoint") or {}).get("url") or "")
    if not url or "${" in url:
        return  # taken from the environment at start (deploy/endpoints.production.yml)
    parts = urlsplit(url)
    if parts.hostname in ("localhost", "127.0.0.1") and (parts.port or 80) != actions_port:
        raise ServeConfigError(
            f"{endpoints} sends actions to {url}, but the action server would listen on port "
            f"{actions_port}: use --actions-port {parts.port} (ACTIONS_PORT) or change action_endpoint."
        )


def plan(args: argparse.Namespace, environ: Optional[Mapping[str, str]] = None) -> ServePlan:
    """The three services and their settings; raises ServeConfigError when a start would be unsafe."""
    environ = os.environ if environ is None else environ
    production = is_production(args, environ)
    model = Path(args.model)
    if not model.is_file():
        raise ServeConfigError(f"no trained model at {model}: run `make train` first.")
    _check_action_endpoint(args.endpoints, args.actions_port)
    token, generated = _auth_token(production, environ)
    bin_dir = Path(sys.executable).parent
    notes: List[str] = []
    origins = cors_origins(environ)

    actions = Service(
        name="actions",
        command=[
            str(bin_dir / "rasa"), "run", "actions", "--actions", "actions", "--port", str(args.actions_port),
        ],
        health_url=f"http://127.0.0.1:{args.actions_port}/health",
        # preload the search encoder and help pages before shoppers arrive (actions/warm_start.py)
        env={WARM_START_ENV: environ.get(WARM_START_ENV, "1")},
    )
    rasa_command = [
        str(bin_dir / "rasa"), "run", "--model", str(model), "--endpoints", args.endpoints,
        "--credentials", args.credentials, "--port", str(args.rasa_port), "--enable-api",
        "--auth-token", token,
    ]
    if origins:
        rasa_command += ["--cors", *origins]
    else:
        notes.append(f"no cross-origin browser access to Rasa ({CORS_ORIGINS_ENV} is empty).")
    rasa = Service(name="rasa", command=rasa_command, health_url=f"http://127.0.0.1:{args.rasa_port}/")
    services = [actions, rasa]

    if args.no_console:
        notes.append("the agent console is not started (--no-console).")
    elif not production and not _console_configured(environ):
        notes.append(
            "the agent console is not started: set CONSOLE_AGENTS "
            "(hashes from `python -m console.passwords`)."
        )
    else:
        services.append(Service(
            name="console",
            command=[str(bin_dir / "shopassist"), "console", "--port", str(args.console_port)],
            health_url=f"http://127.0.0.1:{args.console_port}/",
            env={"RASA_URL": f"http://127.0.0.1:{args.rasa_port}", "RASA_TOKEN": token},
        ))
    return ServePlan(services=services, auth_token=token, token_generated=generated, notes=notes)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ
    parser.add_argument("--production", action="store_true",
                        help=f"refuse unsafe defaults: require {AUTH_TOKEN_ENV} and the console's agents "
                        f"(also ${ENVIRONMENT_ENV}=production)")
    parser.add_argument("--model", default=env.get("SHOPASSIST_MODEL", "models/shopassist.tar.gz"),
                        help="trained model (default $SHOPASSIST_MODEL or models/shopassist.tar.gz)")
    parser.add_argument("--endpoints", default="endpoints.yml", help="Rasa endpoints file")
    parser.add_argument("--credentials", default="credentials.yml", help="Rasa channels file")
    parser.add_argument("--rasa-port", type=int, default=int(env.get("RASA_PORT", "5005")))
    parser.add_argument("--actions-port", type=int, default=int(env.get("ACTIONS_PORT", "5055")),
                        help="must match action_endpoint in the endpoints file")
    parser.add_argument("--console-port", type=int, default=int(env.get("CONSOLE_PORT", "5010")))
    parser.add_argument("--no-console", action="store_true", help="start Rasa and the action server only")
    parser.add_argument("--startup-timeout", type=float, default=300.0, metavar="SECONDS",
                        help="how long each service may take to answer its health check (default 300)")
    parser.add_argument("--log-dir", default=".state/logs", help="where each service's log goes")


def run(args: argparse.Namespace) -> int:
    try:
        serve_plan = plan(args)
    except ServeConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    supervisor = Supervisor(serve_plan.services, Path(args.log_dir), startup_timeout_s=args.startup_timeout)
    for note in serve_plan.notes:
        supervisor.say(f"note: {note}")
    if serve_plan.token_generated:
        supervisor.say(
            f"{AUTH_TOKEN_ENV} was not set; this run's HTTP API token is: {serve_plan.auth_token} "
            "(set RASA_AUTH_TOKEN to choose one)"
        )
    return supervisor.run()
