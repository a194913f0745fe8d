// ShopAssist web chat page (channels/webchat.py serves it next to its endpoints, so URLs are relative).
// Shopper and bot texts are always put on the page with textContent, links and images only with
// http(s) URLs, so nothing a message contains can run as code.
"use strict";

(() => {
  const SENDER_KEY = "shopassist.webchat.sender";
  const HISTORY_KEY = "shopassist.webchat.history";
  const CURSOR_KEY = "shopassist.webchat.cursor";
  const HISTORY_SIZE = 100;
  const POLL_MS = 4000;
  const URL_IN_TEXT = /\bhttps?:\/\/[^\s<>"'()[\]{}]+[^\s<>"'()[\]{}.,;:!?]/g;

  const byId = (id) => document.getElementById(id);
  let senderId = null;
  let memoryCursor = null;  // where localStorage is blocked
  let history = [];

  // ---------------------------------------------------------------- storage (may be blocked in iframes)
  function load(key) {
    try {
      return window.localStorage.getItem(key);
    } catch (err) {
      return null;
    }
  }

  function save(key, value) {
    try {
      if (value === null) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, value);
    } catch (err) {
      // private mode or blocked storage: the conversation lasts as long as the page
    }
  }

  function newSenderId() {
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function currentSender() {
    if (!senderId) {
      const stored = load(SENDER_KEY);
      senderId = stored && /^[A-Za-z0-9_-]{16,64}$/.test(stored) ? stored : newSenderId();
      save(SENDER_KEY, senderId);
    }
    return senderId;
  }

  function remember(entry) {
    history.push(entry);
    history = history.slice(-HISTORY_SIZE);
    save(HISTORY_KEY, JSON.stringify(history));
  }

  // ---------------------------------------------------------------- rendering
  function safeUrl(value) {
    if (typeof value !== "string") return null;
    try {
      const url = new URL(value, window.location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (err) {
      return null;
    }
  }

  function link(url, label) {
    const anchor = document.createElement("a");
    anchor.href = url;
    anchor.textContent = label;
    anchor.target = "_blank";
    anchor.rel = "noopener noreferrer";
    return anchor;
  }

  /** Text as text nodes, with http(s) URLs turned into links. */
  function textWithLinks(text) {
    const fragment = document.createDocumentFragment();
    let last = 0;
    for (const match of text.matchAll(URL_IN_TEXT)) {
      fragment.append(document.createTextNode(text.slice(last, match.index)));
      const url = safeUrl(match[0]);
      fragment.append(url ? link(url, match[0]) : document.createTextNode(match[0]));
      last = match.index + match[0].length;
    }
    fragment.append(document.createTextNode(text.slice(last)));
    return fragment;
  }

  function bubble(kind) {
    const item = document.createElement("li");
    item.className = `msg msg-${kind}`;
    byId("messages").append(item);
    return item;
  }

  function scrollDown() {
    const list = byId("messages");
    list.scrollTop = list.scrollHeight;
  }

  function showUser(text) {
    bubble("user").textContent = text;
    scrollDown();
  }

  function showSystem(text, isError) {
    const item = bubble("system");
    item.textContent = text;
    if (isError) item.classList.add("msg-error");
    scrollDown();
  }

  /** The message's buttons as {title, payload}, without the unusable ones. */
  function choicesOf(message) {
    const choices = [];
    for (const choice of Array.isArray(message.buttons) ? message.buttons : []) {
      if (!choice || typeof choice !== "object") continue;
      const title = String(choice.title ?? choice.payload ?? "");
      const payload = String(choice.payload ?? choice.title ?? "");
      if (title && payload) choices.push({ title, payload });
    }
    return choices;
  }

  /** Index of the unused choice that a list line ("- Trail Jacket (Northwind), $89.90") names, or -1; the
   *  longest title wins, so "- Trail Jacket Pro (...)" is the Pro even when "Trail Jacket" comes first. */
  function listedChoice(line, choices, used) {
    const item = /^\s*[-•*]\s+(.+)$/.exec(line);
    if (!item) return -1;
    const content = item[1].toLowerCase();
    let best = -1;
    choices.forEach((choice, index) => {
      const title = choice.title.toLowerCase();
      const named = content.startsWith(title) && !/[\p{L}\p{N}]/u.test(content.charAt(title.length));
      if (named && !used.has(index) && (best < 0 || title.length > choices[best].title.length)) best = index;
    });
    return best;
  }

  function choiceButton(item, choice, label, live, className) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    if (className) button.className = className;
    button.dataset.payload = choice.payload;
    button.disabled = !live;
    button.addEventListener("click", () => {
      for (const other of item.querySelectorAll("button")) other.disabled = true;
      send(choice.payload, choice.title);
    });
    return button;
  }

  /** The text, with every list line that names a button shown as that button (a product list once, not
   *  as text and again as buttons); returns the indexes of the choices placed. */
  function appendText(item, text, choices, live) {
    const used = new Set();
    let pending = [];
    const flush = () => {
      if (pending.length) item.append(textWithLinks(pending.join("\n")));
      pending = [];
    };
    for (const line of text.split("\n")) {
      const index = listedChoice(line, choices, used);
      if (index < 0) {
        pending.push(line);
        continue;
      }
      flush();
      used.add(index);
      const label = line.replace(/^\s*[-•*]\s+/, "");
      item.append(choiceButton(item, choices[index], label, live, "list-choice"));
    }
    flush();
    return used;
  }

  /** Who wrote a message: the bot (no label), or a person of the shop's team (their own style and a label
   *  with the name the team configured for them, e.g. "Dana from support", else "Support agent"; never a
   *  login name: the server sends only the shown name), so that a shopper knows when a human is answering. */
  function authorBubble(message) {
    const agent = typeof message.agent === "string" ? message.agent.trim() : "";
    if (!agent) return bubble("bot");
    const item = bubble("agent");
    const from = document.createElement("span");
    from.className = "msg-from";
    from.textContent = agent;
    item.append(from);
    return item;
  }

  /** One message of the bot or an agent (Rasa's REST format: text, buttons, image, attachment). */
  function showBot(message, live) {
    if (!message || typeof message !== "object") return;
    const item = authorBubble(message);
    const choices = choicesOf(message);
    const placed = typeof message.text === "string" && message.text
      ? appendText(item, message.text, choices, live)
      : new Set();
    const image = safeUrl(message.image);
    if (image) {
      const img = document.createElement("img");
      img.src = image;
      img.alt = "Image from the assistant";
      img.referrerPolicy = "no-referrer";
      item.append(img);
    }
    const attachment = safeUrl(typeof message.attachment === "string" ? message.attachment : null);
    if (attachment) {
      item.append(document.createTextNode(item.childNodes.length ? "\n" : ""), link(attachment, attachment));
    }
    const rest = choices.filter((_, index) => !placed.has(index));
    if (rest.length) {
      const group = document.createElement("div");
      group.className = "quick-replies";
      for (const choice of rest) group.append(choiceButton(item, choice, choice.title, live, ""));
      item.append(group);
    }
    if (item.childNodes.length === item.querySelectorAll(":scope > .msg-from").length) item.remove();
    scrollDown();
  }

  function showBotMessages(messages) {
    for (const message of Array.isArray(messages) ? messages : []) {
      showBot(message, true);
      remember({ from: "bot", message });
    }
  }

  // ---------------------------------------------------------------- talking to the server
  let busy = false;

  async function send(text, shown) {
    if (busy) return false;
    busy = true;
    const input = byId("message");
    byId("send").disabled = true;
    showUser(shown || text);
    remember({ from: "user", text: shown || text });
    try {
      const response = await fetch("webhook", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ sender: currentSender(), message: text }),
      });
      let data = null;
      try {
        data = await response.json();
      } catch (err) {
        data = null;
      }
      if (!response.ok) {
        showSystem((data && data.message) || `Sorry, that did not work (HTTP ${response.status}).`, true);
        return false;
      }
      showBotMessages(data);
      return true;
    } catch (err) {
      showSystem("Sorry, the message did not go through. Please check your connection and try again.", true);
      return false;
    } finally {
      busy = false;
      byId("send").disabled = false;
      input.focus();
    }
  }

  /** Asks for messages an agent sent since the last poll (the server keeps them in the conversation). */
  async function poll() {
    if (!senderId || busy) return;
    const cursor = load(CURSOR_KEY) || memoryCursor;
    const query = `sender=${encodeURIComponent(senderId)}` + (cursor ? `&after=${encodeURIComponent(cursor)}` : "");
    try {
      const response = await fetch(`messages?${query}`, { cache: "no-store" });
      if (!response.ok) return;
      const data = await response.json();
      if (senderId && (load(CURSOR_KEY) || memoryCursor) === cursor) {  // not restarted or polled meanwhile
        showBotMessages(data.messages);
        if (typeof data.cursor === "number") {
          memoryCursor = String(data.cursor);
          save(CURSOR_KEY, memoryCursor);
        }
      }
    } catch (err) {
      // offline for a moment: the next poll tries again
    }
  }

  // ---------------------------------------------------------------- start
  function restore() {
    let stored = [];
    try {
      stored = JSON.parse(load(HISTORY_KEY) || "[]");
    } catch (err) {
      stored = [];
    }
    history = Array.isArray(stored) ? stored.slice(-HISTORY_SIZE) : [];
    history.forEach((entry, index) => {
      if (entry && entry.from === "user" && typeof entry.text === "string") showUser(entry.text);
      else if (entry && entry.from === "bot") showBot(entry.message, index === history.length - 1);
    });
  }

  function start() {
    if (load(SENDER_KEY)) {
      currentSender();
      restore();
    }
    byId("composer").addEventListener("submit", async (event) => {
      event.preventDefault();
      const input = byId("message");
      const text = input.value.trim();
      if (!text) return;
      const before = input.value;
      if ((await send(text)) && input.value === before) input.value = "";
    });
    byId("restart").addEventListener("click", () => {
      save(SENDER_KEY, null);
      save(HISTORY_KEY, null);
      save(CURSOR_KEY, null);
      memoryCursor = null;
      senderId = null;
      history = [];
      for (const item of [...byId("messages").children].slice(1)) item.remove();
    });
    setInterval(poll, POLL_MS);
    byId("message").focus();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
