"""The agent console's page in headless Chromium: sign in, see the queue, claim a ticket, read the
transcript (new shopper messages appear by polling), reply, hand back, close -- against the console app on
a loopback port with the stand-in for Rasa's HTTP API from the console tests. Shopper text that looks
like HTML must show as text and never run."""
from __future__ import annotations

import time
from typing import Any, Dict, List

import pytest

from shop.handoff import HandoffDesk, TicketRequest
from tests.browser.conftest import BackgroundLoop, page_errors, wait_until
from tests.console.conftest import PASSWORDS, Console, console_running

SHOPPER = "web-shopper-42"
SCRIPT_ATTACK = "<script>window.__pwned=1</script> where is my parcel?"
IMG_ATTACK = '<img src=x onerror="window.__pwned=2"> hello?'


@pytest.fixture
def desk(db_url: str) -> HandoffDesk:
    return HandoffDesk(db_url)


@pytest.fixture
def console(background: BackgroundLoop, db_url: str, desk: HandoffDesk) -> Console:
    return background.enter(console_running(db_url, desk=desk))


def user_event(text: str, at: float) -> Dict[str, Any]:
    return {"event": "user", "timestamp": at, "text": text, "input_channel": "webchat",
            "parse_data": {"intent": {"name": "order_status", "confidence": 0.9},
                           "emotion": {"name": "anger", "confidence": 0.8}}}


def open_ticket(desk: HandoffDesk, console: Console) -> int:
    ticket = desk.open_ticket(TicketRequest(SHOPPER, reason="anger_sustained", emotion="anger",
                                            summary=["wants a human"], channel="webchat")).ticket
    console.rasa.tracker(SHOPPER).update({
        "paused": True,
        "latest_input_channel": "webchat",
        "events": [
            {"event": "session_started", "timestamp": 1700000000.0},
            user_event(SCRIPT_ATTACK, 1700000001.0),
            {"event": "bot", "timestamp": 1700000002.0, "text": "Let me check that.", "metadata": {}},
            user_event(IMG_ATTACK, 1700000003.0),
            {"event": "action", "timestamp": 1700000004.0, "name": "action_handoff"},
            {"event": "pause", "timestamp": 1700000005.0},
        ],
    })
    return ticket.id


def sign_in(browser: Any, console: Console, agent: str = "alice") -> None:
    from selenium.webdriver.common.by import By

    browser.get(console.url + "/")
    form = wait_until(browser, lambda d: d.find_element(By.ID, "signin-form").is_displayed()
                      and d.find_element(By.ID, "signin-form"), "the sign-in form never showed")
    form.find_element(By.ID, "signin-agent").send_keys(agent)
    form.find_element(By.ID, "signin-password").send_keys(PASSWORDS[agent])
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_until(browser, lambda d: d.find_element(By.ID, "workspace").is_displayed(), "sign-in did not finish")


def transcript_texts(browser: Any, kind: str) -> List[str]:
    return browser.execute_script(
        "return [...document.querySelectorAll('#transcript .entry-' + arguments[0] + ' .text')]"
        ".map(node => node.textContent);", kind)


def posted(console: Console, kind: str) -> List[Dict[str, Any]]:
    return [event for event in console.rasa.posted_events(SHOPPER) if event.get("event") == kind]


def test_agent_signs_in_claims_replies_and_hands_back(browser, console, desk):
    from selenium.webdriver.common.by import By

    ticket_id = open_ticket(desk, console)
    sign_in(browser, console)

    # The queue shows the waiting ticket with its reason, emotion and waiting time.
    row_selector = f"#queue tr[data-ticket='{ticket_id}']"
    row = wait_until(browser, lambda d: d.find_element(By.CSS_SELECTOR, row_selector),
                     "the ticket never showed in the queue")
    assert row.find_element(By.CSS_SELECTOR, ".status").text == "waiting"
    assert row.find_element(By.CSS_SELECTOR, ".reason").text == "anger_sustained"
    assert row.find_element(By.CSS_SELECTOR, ".emotion").text == "anger"
    assert row.find_element(By.CSS_SELECTOR, ".waiting").text.endswith("s")

    # Claim: the desk records it, the conversation opens with the transcript.
    row.find_element(By.CSS_SELECTOR, "button.claim").click()
    wait_until(browser, lambda d: d.find_element(By.ID, "ticket-status").text == "active (alice)",
               "the claimed ticket did not open")
    assert desk.get(ticket_id).agent == "alice"
    wait_until(browser, lambda d: len(transcript_texts(d, "user")) == 2, "the transcript did not load")

    # Shopper text that looks like HTML is shown literally and nothing of it ran.
    assert transcript_texts(browser, "user") == [SCRIPT_ATTACK, IMG_ATTACK]
    assert transcript_texts(browser, "bot") == ["Let me check that."]
    assert browser.execute_script("return window.__pwned === undefined")
    assert browser.execute_script("return document.querySelectorAll('#transcript script, #transcript img')"
                                  ".length") == 0

    # A new shopper message reaches the page by polling.
    console.rasa.tracker(SHOPPER)["events"].append(user_event("Are you still there?", time.time()))
    wait_until(browser, lambda d: "Are you still there?" in transcript_texts(d, "user"),
               "a new shopper message never showed")

    # Reply: it goes to Rasa as a bot event from the agent, and shows in the transcript.
    reply = "Hi, I'm Alice from the shop <b>team</b>. Your parcel left today."
    browser.find_element(By.ID, "reply-text").send_keys(reply)
    browser.find_element(By.ID, "send-reply").click()
    wait_until(browser, lambda d: posted(console, "bot"), "the reply never reached Rasa")
    sent = posted(console, "bot")[0]
    assert sent["text"] == reply and sent["metadata"]["agent"] == "alice"
    sent_call = [c for c in console.rasa.calls if c.method == "POST"][0]
    assert sent_call.query["output_channel"] == "latest" and sent_call.query["execute_side_effects"] == "true"
    wait_until(browser, lambda d: transcript_texts(d, "agent") == [reply], "the reply did not show")
    assert browser.find_element(By.ID, "reply-text").get_attribute("value") == ""

    # Hand back: Rasa resumes the bot, the desk records it, the page says so.
    browser.find_element(By.ID, "hand-back").click()
    wait_until(browser, lambda d: d.find_element(By.ID, "ticket-status").text.startswith("handed_back"),
               "hand-back did not show")
    assert posted(console, "resume") and console.rasa.tracker(SHOPPER)["paused"] is False
    assert desk.get(ticket_id).status == "handed_back"
    assert browser.find_element(By.ID, "send-reply").get_attribute("disabled") is not None

    # Close with a resolution.
    browser.find_element(By.ID, "resolution").send_keys("Parcel tracking shared")
    browser.find_element(By.ID, "close-ticket").click()
    wait_until(browser, lambda d: d.find_element(By.ID, "ticket-status").text.startswith("closed"),
               "closing did not show")
    closed = desk.get(ticket_id)
    assert closed.status == "closed" and closed.resolution == "Parcel tracking shared"
    wait_until(browser, lambda d: not d.find_elements(By.CSS_SELECTOR, row_selector),
               "the closed ticket stayed in the queue")

    assert browser.execute_script("return window.__pwned === undefined")
    # Nothing failed in the page but the expected 401 of the session check before signing in.
    assert [m for m in page_errors(browser) if "/api/session" not in m] == []


def test_without_a_session_the_page_shows_only_the_sign_in_form(browser, console, desk):
    from selenium.webdriver.common.by import By

    open_ticket(desk, console)
    browser.get(console.url + "/")
    wait_until(browser, lambda d: d.find_element(By.ID, "signin").is_displayed(), "no sign-in form")
    assert not browser.find_element(By.ID, "workspace").is_displayed()
    assert browser.find_elements(By.CSS_SELECTOR, "#queue tbody tr") == []
    assert SHOPPER not in browser.page_source

    # The API refuses the page's calls without a session.
    statuses = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "Promise.all(['/api/tickets', '/api/tickets/1/transcript', '/api/session']"
        ".map(path => fetch(path).then(r => r.status))).then(done);")
    assert statuses == [401, 401, 401]

    # A wrong password keeps the agent on the sign-in form with the API's message.
    browser.find_element(By.ID, "signin-agent").send_keys("alice")
    browser.find_element(By.ID, "signin-password").send_keys("not the password")
    browser.find_element(By.CSS_SELECTOR, "#signin-form button[type=submit]").click()
    error = wait_until(browser, lambda d: d.find_element(By.ID, "signin-error").is_displayed()
                       and d.find_element(By.ID, "signin-error"), "no sign-in error")
    assert error.text == "Wrong agent name or password."
    assert not browser.find_element(By.ID, "workspace").is_displayed()
    # The browser logs the refused calls (401) and nothing else: no script error, no CSP violation.
    assert [m for m in page_errors(browser) if "401" not in m] == []


def test_the_content_security_policy_blocks_injected_inline_script(browser, console):
    """Defence in depth: even markup that got into the page could not run inline code."""
    from selenium.webdriver.common.by import By

    browser.get(console.url + "/")
    wait_until(browser, lambda d: d.find_element(By.ID, "signin").is_displayed(), "no sign-in form")
    browser.execute_script(
        "const s = document.createElement('script'); s.textContent = 'window.__inline = 1;';"
        "document.body.appendChild(s);"
        "const d = document.createElement('div'); d.innerHTML = '<img src=x onerror=\"window.__inline=2\">';"
        "document.body.appendChild(d);")
    time.sleep(0.3)  # give a (wrongly) allowed handler the chance to run before asserting it did not
    assert browser.execute_script("return window.__inline === undefined")
    assert any("Content Security Policy" in message for message in page_errors(browser))
