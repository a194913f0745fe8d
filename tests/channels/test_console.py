"""The terminal chat of `make demo` (channels/console.py): numbered buttons, typed text always sent as typed,
no deprecation warnings before the prompt. No trained model needed: the bot is a stand-in."""

from __future__ import annotations

import ast
import asyncio
import inspect
import logging
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import rasa.__main__
import rasa.core.channels.console as rasa_console
import rasa.core.run
import rasa.utils.common
from pyparsing.warnings import PyparsingDeprecationWarning

from channels import console

REPO_ROOT = Path(__file__).resolve().parents[2]

CATEGORY_QUESTION = {
    "text": "What are you looking for?",
    "buttons": [
        {"title": "Shoes", "payload": '/inform{"category":"shoes"}'},
        {"title": "Jackets", "payload": '/inform{"category":"jackets"}'},
    ],
}
DETAILS = {"text": "Cloudline Pullover Hoodie by Northwind: $49.95."}
SUGGESTIONS = {
    "text": "If you like Cloudline Pullover Hoodie: ...",
    "buttons": [
        {"title": "Larkspur Zip Hoodie", "payload": '/product_info{"product": "Larkspur Zip Hoodie"}'},
        {"title": "Trail Sock", "payload": '/product_info{"product": "Trail Sock"}'},
    ],
}


def play(lines: List[Optional[str]], replies: Dict[str, List[Dict[str, Any]]]) -> tuple[List[str], List[str]]:
    """Runs the chat loop on typed ``lines`` against a bot that answers from ``replies`` (by message);
    returns (messages the bot received, lines shown)."""
    typed = iter(lines)
    received: List[str] = []
    shown: List[str] = []

    async def read_line() -> Optional[str]:
        return next(typed, None)

    async def send(message: str) -> List[Dict[str, Any]]:
        received.append(message)
        return replies.get(message, [])

    asyncio.run(console.chat(read_line, send, shown.append))
    return received, shown


def test_typed_text_after_buttons_is_sent_as_typed() -> None:
    # Rasa's arrow-key menu sent the first button's payload for this line
    received, _ = play(
        ["tell me about the Cloudline Pullover Hoodie", "is it avail in large"],
        {"tell me about the Cloudline Pullover Hoodie": [DETAILS, SUGGESTIONS]},
    )
    assert received == ["tell me about the Cloudline Pullover Hoodie", "is it avail in large"]


def test_a_number_sends_the_payload_of_that_button() -> None:
    received, _ = play(
        ["I want to search for a product", "2", "3"],
        {"I want to search for a product": [CATEGORY_QUESTION], '/inform{"category":"jackets"}': []},
    )
    # "3": there was no third button, and the reply to "2" had none at all: sent as typed
    assert received == ["I want to search for a product", '/inform{"category":"jackets"}', "3"]


def test_numbers_count_the_buttons_of_the_whole_reply() -> None:
    received, shown = play(["hoodie details", " 1 "], {"hoodie details": [DETAILS, SUGGESTIONS]})
    assert received[-1] == '/product_info{"product": "Larkspur Zip Hoodie"}'
    assert shown == [
        DETAILS["text"],
        SUGGESTIONS["text"],
        "  1. Larkspur Zip Hoodie",
        "  2. Trail Sock",
        console.BUTTON_HINT,
    ]


def product_list(names: List[str], brand: str = "Northwind") -> Dict[str, Any]:
    """A recommendation as actions/products.py sends it: the list in the text, a button per product."""
    from types import SimpleNamespace

    from actions.products import format_products, product_buttons

    products = [SimpleNamespace(name=name, brand=brand, price=89.9 + i) for i, name in enumerate(names)]
    return {
        "text": "These are popular jackets right now:\n" + format_products(products),
        "buttons": product_buttons(products),
    }


def test_a_product_list_is_shown_once_with_its_numbers_in_place() -> None:
    """Each product was printed as a list line and again as a numbered button; now the list line is the
    button. "Trail Jacket Pro" comes after "Trail Jacket" and is still its own product."""
    reply = product_list(["Trail Jacket Pro", "Trail Jacket", "Harbor Hoodie"])
    received, shown = play(["show me jackets", "2"], {"show me jackets": [reply]})
    assert shown == [
        "These are popular jackets right now:",
        "  1. Trail Jacket Pro (Northwind), $89.90",
        "  2. Trail Jacket (Northwind), $90.90",
        "  3. Harbor Hoodie (Northwind), $91.90",
        console.BUTTON_HINT,
    ]
    assert sum("Trail Jacket Pro" in line for line in shown) == 1
    assert received[-1] == '/product_info{"product": "Trail Jacket"}'


def test_numbers_in_place_count_across_the_messages_and_other_buttons_still_show() -> None:
    reply = product_list(["Larkspur Zip Hoodie", "Trail Sock"])
    reply["text"] += "\nFree delivery over $50."
    reply["buttons"].append({"title": "More like these", "payload": "/recommend_product"})
    assert console.render_turn([CATEGORY_QUESTION, reply]) == [
        "What are you looking for?",
        "  1. Shoes",
        "  2. Jackets",
        "These are popular jackets right now:",
        "  3. Larkspur Zip Hoodie (Northwind), $89.90",
        "  4. Trail Sock (Northwind), $90.90",
        "Free delivery over $50.",
        "  5. More like these",
        console.BUTTON_HINT,
    ]
    # a list line naming no button, or only the start of a longer word, stays text
    other = {
        "text": "- Trailpeak rain jacket, $99.00\n- Harbor Hoodie, $39.00",
        "buttons": [{"title": "Trail", "payload": "/x"}],
    }
    assert console.render_reply(other) == [other["text"], "  1. Trail"]


def test_a_reply_without_buttons_has_no_hint() -> None:
    assert console.render_turn([DETAILS]) == [DETAILS["text"]]


def test_stop_and_the_end_of_the_input_end_the_chat() -> None:
    received, _ = play(["hello", "/stop", "never sent"], {})
    assert received == ["hello"]
    received, _ = play(["hello", "", None], {})
    assert received == ["hello"]


def test_a_silent_restart_is_acknowledged() -> None:
    _, shown = play(["/restart"], {})
    assert shown == [console.RESTARTED]


def test_an_unreachable_bot_does_not_end_the_chat() -> None:
    typed = iter(["hello", "again"])
    sent: List[str] = []

    async def read_line() -> Optional[str]:
        return next(typed, None)

    async def send(message: str) -> Optional[List[Dict[str, Any]]]:
        sent.append(message)
        return None

    assert asyncio.run(console.chat(read_line, send, lambda _: None)) == 0
    assert sent == ["hello", "again"]


def test_install_replaces_what_rasa_shell_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rasa_console, "record_messages", rasa_console.record_messages)
    monkeypatch.setattr(
        rasa.__main__, "configure_logging_and_warnings", rasa.__main__.configure_logging_and_warnings
    )
    console.install()
    assert rasa.core.run.console.record_messages is console.record_messages
    # the seam: rasa.core.run starts the cmdline chat through the module attribute, with these arguments
    tree = ast.parse(textwrap.dedent(inspect.getsource(rasa.core.run.configure_app)))
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "console.record_messages"
    ]
    assert len(calls) == 1, "rasa.core.run no longer calls console.record_messages"
    inspect.signature(console.record_messages).bind(
        *calls[0].args, **{keyword.arg: None for keyword in calls[0].keywords}
    )


def test_the_console_names_its_own_input_channel_and_plain_rasa_shell_stays_cmdline() -> None:
    """Plain `rasa shell` gets product lists without buttons (its menu repeated them; see
    actions.products.TEXT_ONLY_LIST_CHANNELS, keyed on the input channel "cmdline"). This console keeps
    the buttons it numbers, so its messages must reach the trackers under another channel name, through
    the very channel `rasa shell` serves (Rasa's CmdlineInput)."""
    import uuid

    from rasa.core.channels.channel import UserMessage
    from rasa.core.channels.console import CmdlineInput
    from rasa.core.channels.console import send_message_receive_block as rasa_send
    from sanic import Sanic

    from tests.loopback import serve_sanic

    handled: List[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        handled.append(message)
        await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")

    async def scenario() -> List[Any]:
        app = Sanic(f"cmdline_test_{uuid.uuid4().hex[:8]}")
        channel = CmdlineInput()
        app.blueprint(channel.blueprint(on_new_message), url_prefix=f"/webhooks/{channel.url_prefix()}")
        async with serve_sanic(app) as url:
            ours = await console.send_message_receive_block(url, "", "shopper", "hello")
            plain = await rasa_send(url, "", "shopper", "hi")
        return [ours, plain]

    ours, plain = asyncio.run(scenario())
    assert ours == [{"recipient_id": "shopper", "text": "echo: hello"}]
    assert plain == [{"recipient_id": "shopper", "text": "echo: hi"}]
    assert [(m.text, m.input_channel) for m in handled] == [
        ("hello", console.INPUT_CHANNEL),
        ("hi", "cmdline"),
    ]
    assert console.INPUT_CHANNEL != "cmdline"


def test_make_demo_uses_this_console() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "-m channels.console" in recipe
    assert "rasa shell" not in recipe.replace("$(RASA) shell", "rasa shell")


#: `make demo` up to Rasa's model check (the empty working folder has no model), then what the server
#: imports later, once Rasa's command line has set up its own warning filters.
DEMO_START = """
from channels import console
try:
    console.main(["--model", "no-such-model.tar.gz"])
except SystemExit:
    pass
import matplotlib.pyplot, packaging.requirements, rasa.core.agent, rasa.core.run
import components.classifiers.transformer_intent_emotion
print("started")
"""


def test_no_deprecation_warnings_before_the_prompt(tmp_path: Path) -> None:
    # Sanic's import-time filterwarnings("once", DeprecationWarning) and Rasa's ("once", UserWarning), which
    # pyparsing's deprecation warnings match, used to override PYTHONWARNINGS.
    env = {
        **os.environ,
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": str(REPO_ROOT),
    }
    # an empty working folder: no `models/` for Rasa to fall back on; no input: a chat would end at once
    done = subprocess.run(
        [sys.executable, "-c", DEMO_START],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=300,
    )
    assert "no-such-model.tar.gz" in done.stdout  # it got as far as Rasa's model check
    assert "started" in done.stdout, done.stderr
    assert "Warning" not in done.stderr, done.stderr


def test_rasa_s_own_warning_set_up_keeps_deprecations_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    def rasa_set_up(log_level: int = logging.INFO, **_: object) -> None:
        """The warning part of Rasa's configure_logging_and_warnings (its logging part left out)."""
        rasa.utils.common._filter_warnings(log_level=log_level)

    monkeypatch.setattr(rasa_console, "record_messages", rasa_console.record_messages)
    monkeypatch.setattr(rasa.__main__, "configure_logging_and_warnings", rasa_set_up)
    console.install()
    console.install()  # wraps Rasa's set-up once
    with warnings.catch_warnings(record=True) as shown:
        rasa.__main__.configure_logging_and_warnings(logging.INFO)
        warnings.warn("'setParseAction' deprecated", PyparsingDeprecationWarning, stacklevel=1)
        warnings.warn("a warning of our own", UserWarning, stacklevel=1)
    assert [str(w.message) for w in shown] == ["a warning of our own"]
