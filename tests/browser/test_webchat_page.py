"""The web chat page in headless Chromium, served by the web chat channel on a loopback port with a
scripted bot: type a message, see the answer and its quick-reply buttons, click one and see its payload
sent, receive an agent's pushed reply (labelled and styled as a person's, not the bot's), see a product
list once, and keep the conversation across a reload. Markup in any text stays text."""

from __future__ import annotations

from typing import Any, List

import pytest

from channels.webchat import WebChatInput
from tests.browser.conftest import BackgroundLoop, page_errors, wait_until
from tests.channels.webchat_stub import PRODUCT_LIST, PRODUCTS, ScriptedAgent, webchat_app
from tests.loopback import serve_sanic

ATTACK = '<img src=x onerror="window.__pwned=1"> where is <b>SA-100002</b>?'


class ServedChat:
    def __init__(self, url: str, channel: WebChatInput, agent: ScriptedAgent) -> None:
        self.url, self.channel, self.agent = url, channel, agent


@pytest.fixture
def chat(background: BackgroundLoop) -> ServedChat:
    channel, agent = WebChatInput(title="ShopAssist help"), ScriptedAgent()
    url = background.enter(serve_sanic(webchat_app(channel, agent)))
    return ServedChat(url + "/webhooks/webchat/", channel, agent)


def bubbles(browser: Any, kind: str) -> List[str]:
    """The text of each bubble of ``kind`` (user, bot, agent): its first node after any author label."""
    return browser.execute_script(
        "return [...document.querySelectorAll('#messages .msg-' + arguments[0])].map(node => {"
        "  const first = [...node.childNodes].find(n => !(n.classList && n.classList.contains('msg-from')));"
        "  return first ? first.textContent : ''; });",
        kind,
    )


def labels(browser: Any) -> List[str]:
    return [node.text for node in browser.find_elements("css selector", "#messages .msg-agent .msg-from")]


def test_shopper_chats_clicks_a_quick_reply_and_gets_an_agents_reply(browser, chat, background):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(chat.url)
    assert browser.title == "ShopAssist help"
    box = wait_until(browser, lambda d: d.find_element(By.ID, "message"), "no message box")
    box.send_keys(ATTACK, Keys.ENTER)

    # The bot's answer shows, with its buttons; every text is literal and nothing ran.
    wait_until(browser, lambda d: f"You said: {ATTACK}" in bubbles(d, "bot"), "no answer from the bot")
    assert bubbles(browser, "user") == [ATTACK]
    assert box.get_attribute("value") == ""
    (received,) = chat.agent.messages
    assert received.text == ATTACK and received.input_channel == "webchat"
    sender = browser.execute_script("return localStorage.getItem('shopassist.webchat.sender')")
    assert received.sender_id == sender and len(sender) == 32
    buttons = browser.find_elements(By.CSS_SELECTOR, ".quick-replies button")
    assert [(b.text, b.get_attribute("data-payload")) for b in buttons] == [
        ("Track my order", "/order_status"),
        ("Talk to a person", "/request_human"),
    ]

    # Links and images only with http(s) URLs; the javascript: ones are dropped.
    link = browser.find_element(By.CSS_SELECTOR, "#messages a")
    assert link.get_attribute("href") == "https://shop.example/returns"
    assert link.get_attribute("rel") == "noopener noreferrer"
    images = [img.get_attribute("src") for img in browser.find_elements(By.CSS_SELECTOR, "#messages img")]
    assert images == ["https://shop.example/img/returns.png"]
    assert "javascript:" not in browser.execute_script(
        "return [...document.querySelectorAll('#messages [href], #messages [src]')]"
        ".map(n => n.getAttribute('href') || n.getAttribute('src')).join(' ')"
    )
    assert "Unsafe media is dropped." in bubbles(browser, "bot")

    # A quick reply sends its payload and shows its title.
    buttons[1].click()
    wait_until(browser, lambda d: len(chat.agent.messages) == 2, "the button's payload never arrived")
    assert chat.agent.messages[1].text == "/request_human"
    assert chat.agent.messages[1].sender_id == sender
    wait_until(
        browser,
        lambda d: "Connecting you to a person from our team." in bubbles(d, "bot"),
        "no answer to the button",
    )
    assert bubbles(browser, "user") == [ATTACK, "Talk to a person"]
    assert all(b.get_attribute("disabled") is not None for b in buttons)

    # An agent's reply, stored in the conversation by the console through Rasa, reaches the open page.
    # It shows who wrote it: a person of the team, in a style of its own, never as one more bot bubble.
    agent_text = "Hi, Alice here <script>window.__pwned=2</script>"
    background.run(chat.agent.console_reply(sender, agent_text))
    wait_until(browser, lambda d: agent_text in bubbles(d, "agent"), "the pushed reply never showed")
    assert agent_text not in bubbles(browser, "bot")
    assert labels(browser) == ["Support agent"]  # alice has no display name: never her login
    background.run(chat.agent.console_reply(sender, "Dana will take it from here.", "Dana from support"))
    wait_until(
        browser,
        lambda d: "Dana will take it from here." in bubbles(d, "agent"),
        "the second pushed reply never showed",
    )
    assert labels(browser) == ["Support agent", "Dana from support"]  # the configured display name
    assert browser.execute_script("return window.__pwned === undefined")
    assert browser.find_elements(By.CSS_SELECTOR, "#messages script") == []
    style = (
        "return getComputedStyle(document.querySelector('#messages .msg-' + arguments[0])).backgroundColor;"
    )
    assert browser.execute_script(style, "agent") != browser.execute_script(style, "bot")

    # A reload keeps the conversation and the sender id.
    browser.refresh()
    wait_until(browser, lambda d: agent_text in bubbles(d, "agent"), "the conversation was not restored")
    assert labels(browser) == ["Support agent", "Dana from support"]
    assert bubbles(browser, "user") == [ATTACK, "Talk to a person"]
    assert browser.execute_script("return localStorage.getItem('shopassist.webchat.sender')") == sender

    # No script error and no CSP violation (the offline https image may fail to load; that is all).
    assert [m for m in page_errors(browser) if "shop.example" not in m] == []


def test_new_chat_forgets_the_conversation(browser, chat):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(chat.url)
    box = wait_until(browser, lambda d: d.find_element(By.ID, "message"), "no message box")
    box.send_keys("hello", Keys.ENTER)
    wait_until(browser, lambda d: "You said: hello" in bubbles(d, "bot"), "no answer")
    first = chat.agent.messages[0].sender_id

    browser.find_element(By.ID, "restart").click()
    assert bubbles(browser, "user") == [] and bubbles(browser, "bot") == []
    browser.find_element(By.ID, "message").send_keys("hi again", Keys.ENTER)
    wait_until(browser, lambda d: len(chat.agent.messages) == 2, "the second message never arrived")
    assert chat.agent.messages[1].sender_id != first


def test_a_refused_message_shows_the_reason(browser, background):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    channel, agent = WebChatInput(max_message_length=10), ScriptedAgent()
    url = background.enter(serve_sanic(webchat_app(channel, agent)))
    browser.get(url + "/webhooks/webchat/")
    box = wait_until(browser, lambda d: d.find_element(By.ID, "message"), "no message box")
    assert box.get_attribute("maxlength") == "10"
    browser.execute_script("arguments[0].removeAttribute('maxlength')", box)
    box.send_keys("far too long a message", Keys.ENTER)
    error = wait_until(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".msg-error"), "no error shown")
    assert error.text == "'message' is longer than 10 characters."
    assert agent.messages == []
    assert box.get_attribute("value") == "far too long a message"  # kept, to shorten and send again


def test_a_product_list_is_shown_once_each_line_its_own_button(browser, chat):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(chat.url)
    box = wait_until(browser, lambda d: d.find_element(By.ID, "message"), "no message box")
    box.send_keys("show me jackets", Keys.ENTER)
    intro = PRODUCT_LIST["text"].split("\n")[0]
    wait_until(browser, lambda d: any(t.startswith(intro) for t in bubbles(d, "bot")), "no product list")
    (answer,) = [b for b in browser.find_elements(By.CSS_SELECTOR, "#messages .msg-bot") if intro in b.text]

    # Each product appears once: its list line is its button, in the list's place; no button row below.
    shown, names = answer.text, [name for name, _, _ in PRODUCTS]
    for name in names:  # "Trail Jacket" is also part of "Trail Jacket Pro"
        longer = sum(shown.count(other) for other in names if other != name and other.startswith(name))
        assert shown.count(name) - longer == 1, shown
    choices = answer.find_elements(By.CSS_SELECTOR, ".list-choice")
    assert [(c.text, c.get_attribute("data-payload")) for c in choices] == [
        (f"{name} ({brand}), {price}", button["payload"])
        for (name, brand, price), button in zip(PRODUCTS, PRODUCT_LIST["buttons"], strict=True)
    ]
    assert answer.find_elements(By.CSS_SELECTOR, ".quick-replies") == []

    # A product's button asks for it like the button the bot sent, and shows the product's name.
    choices[1].click()
    wait_until(browser, lambda d: len(chat.agent.messages) == 2, "the product's payload never arrived")
    assert chat.agent.messages[1].text == PRODUCT_LIST["buttons"][1]["payload"]
    wait_until(browser, lambda d: "Trail Jacket Pro" in bubbles(d, "user"), "the choice was not shown")
    assert all(c.get_attribute("disabled") is not None for c in choices)

    # After a reload the list is still shown once.
    browser.refresh()
    wait_until(
        browser,
        lambda d: any(t.startswith(intro) for t in bubbles(d, "bot")),
        "the conversation was not restored",
    )
    choice = browser.find_element(By.CSS_SELECTOR, "#messages .msg-bot .list-choice")
    assert choice.find_element(By.XPATH, "..").text.count("Trail Jacket Pro") == 1
    assert [m for m in page_errors(browser) if "shop.example" not in m] == []  # the offline image only
