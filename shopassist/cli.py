"""The `shopassist` command: operator tasks around the Rasa assistant.

Each sub-command is a thin wrapper around a function of the package that owns the work, so the same
work can be done from Python (tests, notebooks) without going through the command line.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Callable, List, Optional

from shop.config import database_url


def _seed(args: argparse.Namespace) -> int:
    from shop import ShopUnavailableError
    from shop.seed import seed_database

    url = database_url(args.db)
    try:
        counts = seed_database(url, reset=args.reset)
    except ShopUnavailableError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    already = counts.pop("already_seeded", 0)
    summary = ", ".join(f"{count} {table}" for table, count in counts.items())
    if already:
        print(f"The shop database is already seeded ({summary}); use --reset to start over.")
    else:
        print(f"Seeded the shop database: {summary}.")
    return 0


def _test_conversations(args: argparse.Namespace) -> int:
    from shopassist.conversation_tests import (
        ConversationFileError,
        RasaClient,
        load_conversations,
        run_conversation,
    )

    try:
        conversations = load_conversations(Path(path) for path in args.paths)
    except ConversationFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not conversations:
        print(f"error: no conversations found in {' '.join(args.paths)}", file=sys.stderr)
        return 2
    client = RasaClient(args.url, token=args.token)
    failed = 0
    for conversation in conversations:
        result = run_conversation(client, conversation)
        if result.passed:
            print(f"PASS  {conversation.name}")
        else:
            failed += 1
            print(f"FAIL  {result.describe_failures()}")
    print(f"{len(conversations) - failed} passed, {failed} failed")
    return 1 if failed else 0


def _console(args: argparse.Namespace) -> int:
    from console.app import main as console_main

    argv = []
    if args.host:
        argv += ["--host", args.host]
    if args.port:
        argv += ["--port", str(args.port)]
    return console_main(argv)


def _serve(args: argparse.Namespace) -> int:
    from serving.serve import run

    return run(args)


def _report(args: argparse.Namespace) -> int:
    from shopassist.report import run

    return run(args)


def _review(args: argparse.Namespace) -> int:
    from shopassist.review import run

    return run(args)


def _analytics_sink(args: argparse.Namespace) -> int:
    from shopassist.analytics_sink import run

    return run(args)


def _erase(args: argparse.Namespace) -> int:
    from shopassist.erase import run

    return run(args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, separate from `main` so tests and docs can inspect it."""
    parser = argparse.ArgumentParser(
        prog="shopassist",
        description="ShopAssist operator tools. Run `shopassist COMMAND --help` for details.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    seed = commands.add_parser(
        "seed",
        help="create the shop database schema and fill it with the demo catalog, customers and orders",
        description="Create the shop schema and load the deterministic demo data. Does nothing when the "
        "database is already seeded, unless --reset is given.",
    )
    seed.add_argument(
        "--db",
        metavar="URL",
        help="SQLAlchemy database URL (default: $SHOP_DB_URL, else a SQLite file under .state/)",
    )
    seed.add_argument("--reset", action="store_true", help="drop all shop tables and seed them again")
    seed.set_defaults(handler=_seed)

    conversations = commands.add_parser(
        "test-conversations",
        help="play the scripted conversations in tests/conversations/ against a running assistant",
        description="Play scripted multi-turn conversations over the REST channel of a running Rasa server "
        "(started with --enable-api, its action server up) and check replies, buttons, slots and handoff "
        "state. Exit status 1 when a conversation fails.",
    )
    conversations.add_argument("paths", nargs="*", default=["tests/conversations"], metavar="PATH",
                               help="conversation files or folders (default: tests/conversations)")
    conversations.add_argument("--url", default="http://localhost:5005", help="the Rasa server")
    conversations.add_argument("--token", help="the Rasa server's --auth-token, if it has one")
    conversations.set_defaults(handler=_test_conversations)

    console = commands.add_parser(
        "console",
        help="run the agent console (JSON API) where people take over handed-off conversations",
        description="Run the agent console. Agents come from $CONSOLE_AGENTS (name:hash pairs; make a hash "
        "with `python -m console.passwords`); it talks to the Rasa server at $RASA_URL with $RASA_TOKEN.",
    )
    console.add_argument("--host", help="interface (default $CONSOLE_HOST or 127.0.0.1)")
    console.add_argument("--port", type=int, help="port (default $CONSOLE_PORT or 5010)")
    console.set_defaults(handler=_console)

    from shopassist.report import add_arguments as add_report_arguments

    report = commands.add_parser(
        "report",
        help="analytics for conversation designers: an HTML report from the tracker store",
        description="Read Rasa's SQL tracker store (default: the tracker_store of endpoints.yml) over a date "
        "range and write a self-contained HTML report (conversations per day, containment, handoff triggers, "
        "fallbacks, top intents and confidence, emotions, turns to resolution, messages not understood, "
        "CSAT) plus a short summary.",
    )
    add_report_arguments(report)
    report.set_defaults(handler=_report)

    from shopassist.analytics_sink import add_arguments as add_sink_arguments
    from shopassist.erase import add_arguments as add_erase_arguments
    from shopassist.review import add_arguments as add_review_arguments

    review = commands.add_parser(
        "review",
        help="export messages the assistant did not understand as NLU YAML to label; --merge adds them back",
        description="Export the shopper messages of a date range that fell back, had a low intent confidence "
        "or came right before a handoff (personal data masked, de-duplicated) as Rasa NLU YAML filed under "
        "the predicted intent, for designers to correct. `--merge FILE` adds the reviewed examples to "
        "data/nlu/reviewed.yml, refusing unknown intents and skipping examples already in data/nlu.",
    )
    add_review_arguments(review)
    review.set_defaults(handler=_review)

    sink = commands.add_parser(
        "analytics-sink",
        help="store the events Rasa publishes to RabbitMQ in an analytics database for `report --db`",
        description="Consume Rasa's event broker queue (RabbitMQ) into an `events` table with the tracker "
        "store's columns (shopper text masked, redeliveries stored once), so `shopassist report --db URL` "
        "and `shopassist review --db URL` read it without touching the live tracker store.",
    )
    add_sink_arguments(sink)
    sink.set_defaults(handler=_analytics_sink)

    erase = commands.add_parser(
        "erase",
        help="erase what is stored about one customer or one conversation (dry run unless --yes)",
        description="Delete a conversation's (or every conversation of a customer's) tracker store events, "
        "analytics events, handoff tickets and feedback; keep the customer's orders (business records) but "
        "anonymise the customer and the shipping addresses. Prints what it erases; a dry run unless --yes.",
    )
    add_erase_arguments(erase)
    erase.set_defaults(handler=_erase)

    from serving.serve import add_arguments as add_serve_arguments

    serve = commands.add_parser(
        "serve",
        help="run the Rasa server, the action server and the agent console together, with health checks",
        description="Start the action server, the Rasa server (HTTP API protected by $RASA_AUTH_TOKEN, CORS "
        "origins from $SHOPASSIST_CORS_ORIGINS) and the agent console; wait until each answers its health "
        "check; stop all of them on Ctrl-C, SIGTERM or when one fails. Stores come from the SHOPASSIST_* "
        "variables (docs/deployment.md).",
    )
    add_serve_arguments(serve)
    serve.set_defaults(handler=_serve)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the `shopassist` console script."""
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(message)s")
    from shop.privacy import install_log_filter

    install_log_filter()  # operator commands log shopper text at debug level: mask e-mails, phones, cards
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
