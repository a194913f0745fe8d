"""The terminal chat of ``make demo``: Rasa's ``rasa shell``, with a console a shopper can type into.

``python -m channels.console [rasa shell options]`` runs ``rasa shell`` with three changes:

* **Buttons are a numbered list, and the shopper always types.** Rasa 3.6's console
  (``rasa/core/channels/console.py``) turns a reply with buttons into a questionary arrow-key menu: typed
  letters only move its cursor and Enter sends the highlighted button's payload, so "is it available in
  large" after the product details silently chose the first suggestion. Here every reply is printed with
  its buttons numbered; the shopper's line is sent as typed, except that a number of a button just shown
  sends that button's payload (``/inform{"category":"shoes"}``). Web chat, Slack and Telegram are not
  affected: they get the buttons from Rasa unchanged.
* **A product list is shown once.** A product search, recommendation or suggestion sends the list in its
  text ("- Trail Jacket (Northwind), $89.90", one line per product, for channels without buttons) and a
  button per product; printing the text and then the buttons listed every product twice. Here a list line
  that names one of the message's buttons *is* that button: it gets the button's number in its place
  ("  1. Trail Jacket (Northwind), $89.90") and the button is not printed again (the same rule as the web
  chat page, channels/static/webchat.js). What Rasa sends is unchanged, so REST, the web chat, Slack and
  Telegram still get the text and the buttons. Plain ``rasa shell`` cannot be changed that way (Rasa's
  console prints the text, then the buttons as a menu), so the actions send it a product list without
  buttons (``actions.products.TEXT_ONLY_LIST_CHANNELS``: the input channel ``cmdline``); this console
  names itself :data:`INPUT_CHANNEL` in each message instead (Rasa's ``cmdline`` channel takes the name
  the request gives), so it keeps the buttons it numbers.
* **No deprecation warnings before the prompt.** ``make demo`` exports
  ``PYTHONWARNINGS=ignore::DeprecationWarning``, but two filters put in front of it let about twenty
  warnings through anyway (SQLAlchemy, pkg_resources, distutils, click, TensorFlow, spaCy, pyparsing via
  matplotlib and packaging): importing Sanic runs ``warnings.filterwarnings("once",
  category=DeprecationWarning)``, and ``rasa`` itself then adds ``filterwarnings("once",
  category=UserWarning)``, which pyparsing's deprecation warnings (both a UserWarning and a
  DeprecationWarning) match first. :func:`quiet_deprecation_warnings` puts the ignore filter back after
  Sanic's import, and :func:`install` again after Rasa's own warning set-up.
* The greeting names ``/restart`` (start over, also after a handoff) besides ``/stop``.

The one seam into Rasa is ``rasa.core.channels.console.record_messages``, the coroutine that
``rasa.core.run.configure_app`` starts for the ``cmdline`` channel; :func:`install` replaces it. The
messages still go through Rasa's REST channel of the same process, exactly as in ``rasa shell``.
"""

from __future__ import annotations

import asyncio
import re
import sys
import warnings
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Sequence, Set

#: What the shopper types to end the chat (Rasa's own exit command in ``rasa shell``).
EXIT_COMMAND = "/stop"
GREETING = (
    "Bot loaded. Type a message and press enter. Buttons are numbered: type a number to choose one, or "
    "write your own message. '/restart' starts over, '/stop' ends the chat."
)
#: Rasa's command to start the conversation over (also ends a handoff to a person).
RESTART_COMMAND = "/restart"
RESTARTED = "(The conversation starts over. What can I do for you?)"
BUTTON_HINT = "(type a number to choose, or write your own message)"
#: The input channel this console's messages record (trackers, `tracker.get_latest_input_channel()`):
#: not Rasa's "cmdline", whose product lists come without buttons.
INPUT_CHANNEL = "terminal"
#: A line of a list in a bot message: "- Trail Jacket (Northwind), $89.90" (also "* ..." and "• ...").
LIST_ITEM = re.compile(r"^\s*[-•*]\s+(?P<item>.+)$")

#: Reads the shopper's next line; None when the input ends (Ctrl-D, Ctrl-C).
ReadLine = Callable[[], Awaitable[Optional[str]]]
#: Sends one message to the bot and returns its replies (Rasa's REST channel format); None when the bot
#: could not be reached (the error is already shown).
SendMessage = Callable[[str], Awaitable[Optional[List[Dict[str, Any]]]]]


def quiet_deprecation_warnings() -> None:
    """Ignores deprecation warnings again after Sanic's import-time ``filterwarnings("once", ...)``.

    Sanic is imported here first so that its filter is already in place when ours goes in front of it;
    warnings of other kinds (and the project's own) still show.
    """
    import sanic  # noqa: F401  (imported for its side effect on the warning filters)

    _ignore_deprecations()


def _ignore_deprecations() -> None:
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=PendingDeprecationWarning)


def reply_buttons(replies: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The buttons of one bot turn, in the order shown (numbered from 1 across its messages)."""
    return [button for reply in replies for button in reply.get("buttons") or [] if isinstance(button, dict)]


def message_for(line: str, buttons: Sequence[Dict[str, Any]]) -> str:
    """What to send for the shopper's ``line``: the payload of button ``n`` when the line is just that
    number and such a button was shown, otherwise the line itself."""
    text = line.strip()
    if text.isdigit() and 1 <= int(text) <= len(buttons):
        button = buttons[int(text) - 1]
        return str(button.get("payload") or button.get("title") or text)
    return text


def _title(button: Dict[str, Any]) -> str:
    return str(button.get("title") or button.get("payload") or "")


def listed_button(item: str, buttons: Sequence[Dict[str, Any]], used: Set[int]) -> Optional[int]:
    """Index of the button not yet ``used`` that a list item names ("Trail Jacket (Northwind), $89.90" names
    the button "Trail Jacket"), or None. The longest title wins, so "Trail Jacket Pro (...)" is the Pro
    even when "Trail Jacket" comes first; a title must end where a word ends ("Trail" does not name
    "Trailpeak ...")."""
    content = item.lower()
    best: Optional[int] = None
    for index, button in enumerate(buttons):
        title = _title(button).lower()
        if not title or index in used or not content.startswith(title) or content[len(title) :][:1].isalnum():
            continue
        if best is None or len(title) > len(_title(buttons[best])):
            best = index
    return best


def render_reply(reply: Dict[str, Any], first_number: int = 1) -> List[str]:
    """The lines that show one bot message: its text, images and attachments, then its buttons
    numbered from ``first_number``. A list line of the text that names a button is shown as that button,
    numbered in its place, and the button is not listed again (a product list once, not twice)."""
    lines: List[str] = []
    buttons = reply_buttons([reply])
    used: Set[int] = set()
    pending: List[str] = []
    for line in str(reply["text"]).split("\n") if reply.get("text") else []:
        match = LIST_ITEM.match(line)
        index = listed_button(match.group("item"), buttons, used) if match else None
        if match is None or index is None:
            pending.append(line)
            continue
        if pending:
            lines.append("\n".join(pending))
            pending = []
        used.add(index)
        lines.append(f"  {first_number + index}. {match.group('item')}")
    if pending:
        lines.append("\n".join(pending))
    for key, label in (("image", "Image"), ("attachment", "Attachment")):
        if reply.get(key):
            lines.append(f"{label}: {reply[key]}")
    for index, button in enumerate(buttons):
        if index not in used:
            lines.append(f"  {first_number + index}. {_title(button)}")
    return lines


def render_turn(replies: Sequence[Dict[str, Any]]) -> List[str]:
    """The lines of one bot turn; buttons are numbered across its messages, followed by a hint."""
    lines: List[str] = []
    number = 1
    for reply in replies:
        lines += render_reply(reply, number)
        number += len(reply_buttons([reply]))
    if number > 1:
        lines.append(BUTTON_HINT)
    return lines


async def chat(
    read_line: ReadLine,
    send: SendMessage,
    show: Callable[[str], None],
    max_message_limit: Optional[int] = None,
) -> int:
    """The chat loop: reads a line, sends it (or the payload of the button its number names), shows the
    replies. Ends on ``/stop``, at the end of the input, or after ``max_message_limit`` messages; returns
    how many messages were sent."""
    buttons: List[Dict[str, Any]] = []
    sent = 0
    while max_message_limit is None or sent < max_message_limit:
        line = await read_line()
        if line is None or line.strip() == EXIT_COMMAND:
            break
        if not line.strip():
            continue
        message = message_for(line, buttons)
        replies = await send(message)
        if replies is None:
            continue
        for text in render_turn(replies):
            show(text)
        if message == RESTART_COMMAND and not replies:
            show(RESTARTED)  # Rasa's restart says nothing by itself
        buttons = reply_buttons(replies)
        sent += 1
    return sent


async def _read_line() -> Optional[str]:
    """One line from the terminal (with editing and history), None on Ctrl-D or Ctrl-C."""
    import questionary
    from prompt_toolkit.styles import Style

    style = Style([("qmark", "#b373d6"), ("", "#b373d6")])
    return await questionary.text("", qmark="Your input ->", style=style).ask_async()


def _show(text: str) -> None:
    import rasa.shared.utils.cli
    from rasa.shared.utils.io import bcolors

    rasa.shared.utils.cli.print_color(text, color=bcolors.OKBLUE)


async def send_message_receive_block(
    server_url: str, auth_token: str, sender_id: str, message: str
) -> List[Dict[str, Any]]:
    """Rasa's ``send_message_receive_block`` (``rasa.core.channels.console``), with :data:`INPUT_CHANNEL`
    as the channel the message came from: posts the message, returns the bot's replies."""
    import aiohttp

    payload = {"sender": sender_id, "message": message, "input_channel": INPUT_CHANNEL}
    url = f"{server_url}/webhooks/rest/webhook?token={auth_token}"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=payload, raise_for_status=True) as response:
            return await response.json()


async def record_messages(
    sender_id: str,
    server_url: str = "http://localhost:5005",
    auth_token: str = "",
    max_message_limit: Optional[int] = None,
    use_response_stream: bool = True,
    request_timeout: Optional[int] = None,
) -> int:
    """Drop-in for ``rasa.core.channels.console.record_messages`` (same parameters; replies are read in one
    block, so ``use_response_stream`` and ``request_timeout`` are not used)."""
    import aiohttp
    from rasa.shared.utils.cli import print_error, print_success

    async def send(message: str) -> Optional[List[Dict[str, Any]]]:
        try:
            return await send_message_receive_block(server_url, auth_token, sender_id, message)
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            # The server's log says why; the chat goes on, as the shopper may simply try again.
            print_error(f"The assistant did not answer ({error}). Try again, or type {EXIT_COMMAND} to quit.")
            return None

    print_success(GREETING)
    await asyncio.sleep(0.5)  # as in Rasa: let the server start
    return await chat(_read_line, send, _show, max_message_limit)


def install() -> None:
    """Makes ``rasa shell`` (in this process) use :func:`record_messages`, and keeps deprecation warnings
    quiet after Rasa's command line sets up its own warning filters."""
    import rasa.__main__
    import rasa.core.channels.console

    rasa.core.channels.console.record_messages = record_messages
    configure = rasa.__main__.configure_logging_and_warnings
    if getattr(configure, "keeps_deprecations_quiet", False):
        return

    def configure_quietly(*args: Any, **kwargs: Any) -> None:
        configure(*args, **kwargs)
        _ignore_deprecations()

    configure_quietly.keeps_deprecations_quiet = True  # type: ignore[attr-defined]
    rasa.__main__.configure_logging_and_warnings = configure_quietly


def main(argv: Optional[Sequence[str]] = None) -> None:
    """``rasa shell`` with this console; ``argv`` are its options (``--model``, ``--endpoints`` ...)."""
    quiet_deprecation_warnings()
    install()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", "shell", *(sys.argv[1:] if argv is None else argv)]
    rasa_main()


if __name__ == "__main__":
    main()
