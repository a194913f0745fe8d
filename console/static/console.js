// ShopAssist agent console: a small page over the console's JSON API (console/app.py).
// Every text that comes from a shopper, the bot or the database is put on the page with textContent,
// never as HTML, so a message like "<script>...</script>" shows as the characters the shopper typed.
"use strict";

(() => {
  const QUEUE_POLL_MS = 4000;
  const TRANSCRIPT_POLL_MS = 2500;
  const byId = (id) => document.getElementById(id);

  const state = { agent: null, ticket: null, queueTimer: null, transcriptTimer: null, lastEntries: "" };

  // ---------------------------------------------------------------- helpers
  /** A new element with text (never HTML) and optional class and attributes. */
  function el(tag, text, className, attributes) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    return node;
  }

  function showNotice(message, isError) {
    const notice = byId("notice");
    notice.textContent = message || "";
    notice.className = isError ? "error" : "";
    notice.hidden = !message;
  }

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || `HTTP ${status}`);
      this.status = status;
      this.body = body;
    }
  }

  /** Calls the JSON API; a 401 sends the agent back to the sign-in form. */
  async function api(method, path, body) {
    const options = { method, credentials: "same-origin", headers: {} };
    if (method === "POST") {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body || {});
    }
    let response;
    try {
      response = await fetch(path, options);
    } catch (err) {
      throw new ApiError(0, { message: "The console is not reachable; retrying." });
    }
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
    if (response.status === 401 && path !== "/api/login") {
      signedOut();
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  function formatWaiting(seconds) {
    const s = Math.max(0, Number(seconds) || 0);
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
    return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  }

  function formatTime(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString();
  }

  // ---------------------------------------------------------------- sign-in
  function signedIn(agent) {
    state.agent = agent;
    byId("agent-name").textContent = agent;
    byId("whoami").hidden = false;
    byId("signin").hidden = true;
    byId("workspace").hidden = false;
    refreshQueue();
    clearInterval(state.queueTimer);
    state.queueTimer = setInterval(refreshQueue, QUEUE_POLL_MS);
  }

  function signedOut() {
    state.agent = null;
    clearInterval(state.queueTimer);
    clearInterval(state.transcriptTimer);
    state.ticket = null;
    byId("whoami").hidden = true;
    byId("workspace").hidden = true;
    byId("conversation").hidden = true;
    byId("signin").hidden = false;
  }

  async function signIn(event) {
    event.preventDefault();
    const error = byId("signin-error");
    error.hidden = true;
    try {
      const data = await api("POST", "/api/login", {
        agent: byId("signin-agent").value,
        password: byId("signin-password").value,
      });
      byId("signin-password").value = "";
      showNotice("");
      signedIn(data.agent);
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  }

  async function signOut() {
    try {
      await api("POST", "/api/logout");
    } catch (err) {
      // already signed out
    }
    signedOut();
  }

  // ---------------------------------------------------------------- queue
  async function refreshQueue() {
    if (!state.agent) return;
    let data;
    try {
      data = await api("GET", "/api/tickets");
    } catch (err) {
      if (err.status !== 401) showNotice(err.message, true);
      return;
    }
    const tbody = byId("queue").querySelector("tbody");
    const rows = (data.tickets || []).map(queueRow);
    tbody.replaceChildren(...rows);
    byId("queue-empty").hidden = rows.length > 0;
    byId("queue-count").textContent = `(${rows.length})`;
    byId("queue-updated").textContent = `Updated ${new Date().toLocaleTimeString()}.`;
  }

  function queueRow(ticket) {
    const row = el("tr", null, `ticket ticket-${ticket.status}`, { "data-ticket": String(ticket.id) });
    if (state.ticket && state.ticket.id === ticket.id) row.classList.add("selected");
    row.append(
      el("td", ticket.id),
      el("td", ticket.status === "active" ? `active (${ticket.agent || "?"})` : ticket.status, "status"),
      el("td", ticket.reason, "reason"),
      el("td", ticket.emotion || "", "emotion"),
      el("td", formatWaiting(ticket.waiting_seconds), "waiting"),
      el("td", ticket.customer_name || ticket.order_id || "", "customer"),
    );
    const cell = el("td");
    if (ticket.status === "waiting") {
      const claim = el("button", "Claim", "claim", { type: "button" });
      claim.addEventListener("click", () => claimTicket(ticket.id));
      cell.append(claim);
    }
    const open = el("button", "Open", "open secondary", { type: "button" });
    open.addEventListener("click", () => openTicket(ticket.id));
    cell.append(open);
    row.append(cell);
    return row;
  }

  async function claimTicket(id) {
    try {
      await api("POST", `/api/tickets/${id}/claim`);
      showNotice(`You hold ticket ${id} now.`);
      await openTicket(id);
    } catch (err) {
      showNotice(err.message, true);
    }
    refreshQueue();
  }

  // ---------------------------------------------------------------- conversation
  async function openTicket(id) {
    state.ticket = { id };
    state.lastEntries = "";
    byId("transcript").replaceChildren();
    byId("conversation").hidden = false;
    await refreshTranscript();
    clearInterval(state.transcriptTimer);
    state.transcriptTimer = setInterval(refreshTranscript, TRANSCRIPT_POLL_MS);
    refreshQueue();
  }

  function showTicket(ticket, paused) {
    state.ticket = ticket;
    byId("ticket-id").textContent = `#${ticket.id}`;
    const status = byId("ticket-status");
    status.textContent = ticket.status + (ticket.agent ? ` (${ticket.agent})` : "");
    status.className = `badge badge-${ticket.status}`;
    const facts = [
      ["Reason", ticket.reason],
      ["Emotion", ticket.emotion],
      ["Waiting", formatWaiting(ticket.waiting_seconds)],
      ["Customer", ticket.customer_name],
      ["E-mail", ticket.customer_email],
      ["Order", ticket.order_id],
      ["Channel", ticket.channel],
      ["Bot", paused ? "paused (you are talking)" : "answering"],
      ["Resolution", ticket.resolution],
    ];
    const list = byId("ticket-facts");
    list.replaceChildren();
    for (const [name, value] of facts) {
      if (value === null || value === undefined || value === "") continue;
      list.append(el("dt", name), el("dd", value));
    }
    const holding = ticket.status === "active" && ticket.agent === state.agent;
    byId("claim-ticket").hidden = ticket.status !== "waiting";
    byId("send-reply").disabled = !holding;
    byId("reply-text").disabled = !holding;
    byId("hand-back").disabled = !holding;
    byId("close-form").hidden = ticket.status === "closed";
  }

  const SPEAKERS = { user: "Shopper", bot: "Bot", agent: "Agent" };
  const MARKERS = { handoff: "Handed to a human", paused: "Bot paused", resumed: "Bot resumed" };

  function transcriptItem(entry) {
    const item = el("li", null, `entry entry-${entry.type}`);
    if (entry.type in MARKERS) {
      item.append(el("span", MARKERS[entry.type], "marker"), el("time", formatTime(entry.at)));
      return item;
    }
    const who = entry.type === "agent" && entry.agent ? `Agent ${entry.agent}` : SPEAKERS[entry.type] || entry.type;
    const meta = [formatTime(entry.at)];
    if (entry.type === "user") {
      if (entry.intent) meta.push(entry.intent);
      if (entry.emotion) meta.push(entry.emotion);
    }
    item.append(el("span", who, "speaker"), el("p", entry.text, "text"), el("span", meta.join(" · "), "meta"));
    return item;
  }

  async function refreshTranscript() {
    if (!state.ticket || !state.agent) return;
    const id = state.ticket.id;
    let data;
    try {
      data = await api("GET", `/api/tickets/${id}/transcript`);
    } catch (err) {
      if (err.status === 404) {
        clearInterval(state.transcriptTimer);
      }
      if (err.status !== 401) showNotice(err.message, true);
      if (err.body && err.body.ticket) showTicket(err.body.ticket, false);
      return;
    }
    if (!state.ticket || state.ticket.id !== id) return;  // the agent opened another ticket meanwhile
    showTicket(data.ticket, data.paused);
    const signature = JSON.stringify(data.events);
    if (signature === state.lastEntries) return;
    state.lastEntries = signature;
    const list = byId("transcript");
    const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
    list.replaceChildren(...(data.events || []).map(transcriptItem));
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  async function ticketAction(path, body, done) {
    if (!state.ticket) return;
    const id = state.ticket.id;
    try {
      const data = await api("POST", `/api/tickets/${id}/${path}`, body);
      if (data && data.ticket) showTicket(data.ticket, false);
      showNotice(done);
      await refreshTranscript();
    } catch (err) {
      showNotice(err.message, true);
      if (err.body && err.body.ticket) showTicket(err.body.ticket, false);
    }
    refreshQueue();
  }

  async function sendReply(event) {
    event.preventDefault();
    const box = byId("reply-text");
    const text = box.value.trim();
    if (!text) return;
    const before = box.value;
    await ticketAction("reply", { text }, "Reply sent.");
    if (byId("notice").className !== "error" && box.value === before) box.value = "";
  }

  async function closeTicket(event) {
    event.preventDefault();
    const resolution = byId("resolution").value.trim();
    if (!resolution) return;
    await ticketAction("close", { resolution }, "Ticket closed.");
    if (state.ticket && state.ticket.status === "closed") {
      byId("resolution").value = "";
      clearInterval(state.transcriptTimer);
    }
  }

  // ---------------------------------------------------------------- start
  async function start() {
    byId("signin-form").addEventListener("submit", signIn);
    byId("sign-out").addEventListener("click", signOut);
    byId("reply-form").addEventListener("submit", sendReply);
    byId("close-form").addEventListener("submit", closeTicket);
    byId("claim-ticket").addEventListener("click", () => state.ticket && claimTicket(state.ticket.id));
    byId("hand-back").addEventListener("click", () => ticketAction("handback", {}, "The bot answers again."));
    try {
      const session = await api("GET", "/api/session");
      signedIn(session.agent);
    } catch (err) {
      signedOut();
    }
  }

  document.addEventListener("DOMContentLoaded", start);
})();
