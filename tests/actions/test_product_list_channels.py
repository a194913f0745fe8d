"""A product list is shown once in every channel, plain `rasa shell` included (issue 15, defect 10).

Recommendations and suggestions carry the list in their text and a button per product. Rasa's own
console (`rasa shell`, input channel ``cmdline``) prints a reply's text and then its buttons as a menu,
one choice per button (``rasa.cli.utils.button_choices_from_message_data``), so every product appeared
twice. That channel now gets the list as text only; `make demo`'s console, the web chat, REST, Telegram
and Slack keep the buttons (they show the list once by themselves, or need the buttons to pick one).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
from rasa.cli.utils import button_choices_from_message_data

from actions.products import ActionProductInfo, ActionRecommendProducts
from channels import console
from tests.actions.conftest import make_tracker, run_action

#: Channels that keep a button per product: `make demo`'s console, web chat, socket.io, REST, Telegram,
#: Slack, and a tracker without a channel (Rasa's HTTP API, tests).
BUTTON_CHANNELS = [console.INPUT_CHANNEL, "webchat", "socketio", "rest", "telegram", "slack", None]


def tracker_on(channel: Optional[str], **kwargs: Any):
    tracker = make_tracker(**kwargs)
    for event in tracker.events:
        if event.get("event") == "user" and channel is not None:
            event["input_channel"] = channel
    return tracker


def as_rasa_shell_shows(message: Dict[str, Any], domain: Dict[str, Any]) -> List[str]:
    """The lines `rasa shell` shows for one message an action sent: the response's text filled in, then one
    menu choice per button (what ``rasa.core.channels.console._print_bot_output`` prints or offers)."""
    template = domain["responses"][message["response"]][0]["text"]
    values = {k: v for k, v in message.items() if k not in ("response", "buttons")}
    lines = template.format(**values).split("\n")
    if message.get("buttons"):
        lines += button_choices_from_message_data({"buttons": [dict(b) for b in message["buttons"]]})
    return lines


def recommendations(channel: Optional[str], domain: Dict[str, Any]) -> Dict[str, Any]:
    tracker = tracker_on(
        channel, slots={"category": "jackets"}, text="recommend me some jackets", intent="recommend_product"
    )
    messages, _ = run_action(ActionRecommendProducts(), tracker, domain)
    assert [m["response"] for m in messages] == ["utter_recommendations"]
    return messages[0]


def suggestions(channel: Optional[str], domain: Dict[str, Any]) -> Dict[str, Any]:
    tracker = tracker_on(
        channel,
        slots={"product": "Cloudline Pullover Hoodie"},
        text="tell me about it",
        intent="product_info",
    )
    messages, _ = run_action(ActionProductInfo(), tracker, domain)
    found = [m for m in messages if m["response"] == "utter_product_suggestions"]
    assert found, "the demo catalog has suggestions for the hoodie"
    return found[0]


@pytest.mark.parametrize("send", [recommendations, suggestions])
def test_plain_rasa_shell_shows_each_product_once(shop_db, domain, send):
    message = send("cmdline", domain)
    shown = as_rasa_shell_shows(message, domain)
    listed = [line[2:].split(" (")[0] for line in shown if line.startswith("- ")]
    assert len(listed) >= 2
    for name in listed:
        assert sum(name in line for line in shown) == 1, (name, shown)
    assert not message.get("buttons")


@pytest.mark.parametrize("channel", BUTTON_CHANNELS)
@pytest.mark.parametrize("send", [recommendations, suggestions])
def test_other_channels_keep_a_button_per_listed_product(shop_db, domain, send, channel):
    message = send(channel, domain)
    text = as_rasa_shell_shows({**message, "buttons": []}, domain)
    titles = [button["title"] for button in message["buttons"]]
    assert titles and all(button["payload"].startswith("/product_info{") for button in message["buttons"])
    assert titles == [line[2:].split(" (")[0] for line in text if line.startswith("- ")]


def test_the_demo_console_shows_the_list_once_with_its_buttons(shop_db, domain):
    message = recommendations(console.INPUT_CHANNEL, domain)
    reply = {
        "text": "\n".join(as_rasa_shell_shows({**message, "buttons": []}, domain)),
        "buttons": message["buttons"],
    }
    shown = console.render_turn([reply])
    for button in message["buttons"]:
        assert sum(button["title"] in line for line in shown) == 1
