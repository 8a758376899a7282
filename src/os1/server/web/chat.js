// Text chat over WebSocket /api/chat: the conversation log, a reply streamed token by token,
// Stop (button or Escape), and reconnecting with backoff when the socket drops.

import { ApiError, get, reconnectDelay, socketUrl } from "./api.js";
import { $, announce, el } from "./dom.js";

const HISTORY_PAGE = 50;

const state = {
  socket: null,
  wanted: false, // the page wants a socket (signed in): a close is then reconnected
  attempt: 0,
  retryTimer: 0,
  greeted: false,
  companion: "os1",
  reply: null, // the reply being written: {item, text, raw, memories, ...}
  oldestId: null,
  sessionEnded: () => {},
};

export function onSessionEnded(listener) {
  state.sessionEnded = listener;
}

export function setCompanionName(name) {
  if (name) state.companion = name;
}

// -- the log -------------------------------------------------------------------------------

function nearBottom(list) {
  return list.scrollHeight - list.scrollTop - list.clientHeight < 120;
}

function scrollDown(force = false) {
  const list = $("messages");
  if (force || nearBottom(list)) list.scrollTop = list.scrollHeight;
}

function who(role) {
  return el("span", { class: "who" }, role === "user" ? "You" : state.companion);
}

/** A finished message in the log (history, a greeting, a check-in, what was heard). */
export function addMessage(role, text, { note = "", kind = "", prepend = false } = {}) {
  const list = $("messages");
  const stick = nearBottom(list);
  const item = el("li", { class: `msg ${role === "user" ? "user" : "os1"} ${kind}`.trim() },
    who(role), el("p", { class: "text" }, text), note ? el("p", { class: "note" }, note) : null);
  if (prepend) list.prepend(item);
  else list.append(item);
  if (!prepend) scrollDown(stick);
  return item;
}

/** A reply that is about to stream in; returns the handle the events are applied to. */
export function beginReply({ voice = false } = {}) {
  const text = el("p", { class: "text" });
  const item = el("li", { class: "msg os1 pending", "aria-busy": "true" },
    who("os1"), text);
  if (voice) item.classList.add("voice-reply");
  $("messages").append(item);
  scrollDown(true);
  return { item, text, raw: "", memories: null, progress: null };
}

function memoryNote(reply, memory) {
  if (!reply.memories) {
    const list = el("ul");
    const summary = el("summary", {}, "Remembered something");
    reply.memories = { list, summary, count: 0 };
    // Subtle: a small line above the words, opened only when asked.
    reply.item.insertBefore(el("details", { class: "memory-used" }, summary, list), reply.text);
  }
  reply.memories.count += 1;
  reply.memories.summary.textContent = reply.memories.count === 1
    ? "Remembered 1 thing" : `Remembered ${reply.memories.count} things`;
  reply.memories.list.append(el("li", {}, memory.text));
}

const ACTION_WORDS = {
  done: "Done", proposed: "Waiting for your OK", declined: "Not done",
  failed: "Didn't work", clarify: "Needs a detail",
};

function actionBlock(reply, event) {
  if (!event.detail) return;
  const what = (event.action || "action").replace(/[._]/g, " ");
  reply.item.append(el("details", { class: "action" },
    el("summary", {}, `${ACTION_WORDS[event.status] ?? event.status}: ${what} — details`),
    el("pre", {}, event.detail)));
}

/** Apply one event of a turn to a reply; returns true when the reply is over. */
export function applyEvent(reply, event) {
  const stick = nearBottom($("messages"));
  let over = false;
  switch (event.type) {
    case "token":
      reply.raw += event.text;
      reply.text.textContent = reply.raw;
      if (reply.progress) { reply.progress.remove(); reply.progress = null; }
      break;
    case "memory_used":
      memoryNote(reply, event);
      break;
    case "action_progress":
      if (!reply.progress) {
        reply.progress = el("p", { class: "progress" });
        reply.item.insertBefore(reply.progress, reply.text);
      }
      reply.progress.textContent = event.text;
      break;
    case "action_taken":
      actionBlock(reply, event);
      break;
    case "notice":
      reply.item.append(el("p", { class: "note" }, event.text));
      break;
    case "turn_error":
      reply.item.classList.add("failed");
      reply.item.append(el("p", { class: "error-text" }, event.message));
      over = true;
      break;
    case "done":
      // The stored reply is the truth (the safety guard may have changed the streamed words).
      if (event.reply) reply.text.textContent = event.reply;
      over = true;
      break;
    default:
      break;
  }
  if (over) finishReply(reply);
  scrollDown(stick);
  return over;
}

export function finishReply(reply, note = "") {
  reply.item.classList.remove("pending");
  if (note) {
    reply.item.classList.add("interrupted");
    reply.item.append(el("p", { class: "note" }, note));
  }
  if (reply.progress) { reply.progress.remove(); reply.progress = null; }
  if (!reply.text.textContent && !reply.item.querySelector(".error-text")) {
    reply.text.textContent = "…";
  }
  reply.item.setAttribute("aria-busy", "false");
}

// -- sending -------------------------------------------------------------------------------

function setReplying(reply) {
  state.reply = reply;
  $("say-send").hidden = Boolean(reply);
  $("say-stop").hidden = !reply;
  $("view-chat").dataset.replying = reply ? "true" : "false";
}

function send(frame) {
  if (state.socket?.readyState !== WebSocket.OPEN) return false;
  state.socket.send(JSON.stringify(frame));
  return true;
}

function say(event) {
  event?.preventDefault();
  const box = $("say-text");
  const text = box.value.trim();
  if (!text) {
    announce("Type a message first.");
    box.focus();
    return;
  }
  if (state.reply) {
    announce("Wait for the reply, or press Escape to stop it.");
    return;
  }
  if (!send({ type: "say", text })) {
    // Nothing lost: the words stay in the box until they can be sent.
    announce("Not connected right now; your message is still here. Send it again in a moment.",
      { kind: "error" });
    return;
  }
  box.value = "";
  resizeBox();
  addMessage("user", text);
  setReplying(beginReply());
  scrollDown(true);
}

export function stopReply() {
  if (!state.reply) return false;
  send({ type: "stop" });
  finishReply(state.reply, "You stopped this reply.");
  setReplying(null);
  announce("Reply stopped.");
  return true;
}

function resizeBox() {
  const box = $("say-text");
  box.rows = Math.min(6, Math.max(1, box.value.split("\n").length));
}

// -- the socket ----------------------------------------------------------------------------

function setConnection(kind, text) {
  const conn = $("conn");
  conn.dataset.state = kind;
  conn.textContent = text;
}

function connect() {
  clearTimeout(state.retryTimer);
  if (!state.wanted) return;
  setConnection("connecting", state.attempt ? "Reconnecting…" : "Connecting…");
  const socket = new WebSocket(socketUrl("/api/chat"));
  state.socket = socket;
  socket.addEventListener("message", (message) => {
    if (socket !== state.socket || typeof message.data !== "string") return;
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    onEvent(event);
  });
  socket.addEventListener("close", (closed) => {
    if (socket !== state.socket) return;
    state.socket = null;
    if (state.reply) {
      finishReply(state.reply, "Cut short: the connection dropped.");
      setReplying(null);
    }
    if (closed.code === 4401) {
      state.wanted = false;
      setConnection("offline", "Logged out");
      state.sessionEnded();
      return;
    }
    if (!state.wanted) return;
    const wait = reconnectDelay(state.attempt);
    state.attempt += 1;
    setConnection("offline", `Connection lost. Reconnecting in ${wait} s…`);
    announce(`Connection to os1 lost. Reconnecting in ${wait} seconds.`);
    state.retryTimer = setTimeout(connect, wait * 1000);
  });
}

function onEvent(event) {
  switch (event.type) {
    case "hello":
      if (state.attempt) announce("Reconnected.");
      state.attempt = 0;
      setConnection("online", "Connected");
      if (!state.greeted && event.greeting) addMessage("os1", event.greeting, { kind: "greeting" });
      state.greeted = true;
      break;
    case "said_first":
      addMessage("os1", event.text, { kind: "said-first" });
      break;
    case "error":
      announce(event.message, { kind: "error" });
      if (state.reply && !state.reply.raw) {
        state.reply.item.append(el("p", { class: "error-text" }, event.message));
        finishReply(state.reply);
        setReplying(null);
      }
      break;
    default:
      if (state.reply && applyEvent(state.reply, event)) setReplying(null);
  }
}

// -- history -------------------------------------------------------------------------------

function renderTurn(turn, prepend) {
  const note = turn.status === "interrupted" ? "Cut short." : "";
  return addMessage(turn.role === "user" ? "user" : "os1", turn.content, { note, prepend });
}

async function loadHistory(before = null) {
  const query = before === null ? "" : `&before=${encodeURIComponent(before)}`;
  const page = await get(`/api/history?limit=${HISTORY_PAGE}${query}`);
  const turns = page?.turns ?? [];
  const list = $("messages");
  const more = $("history-more");
  if (before === null) {
    for (const turn of turns) renderTurn(turn, false);
    scrollDown(true);
  } else {
    const height = list.scrollHeight;
    for (const turn of [...turns].reverse()) renderTurn(turn, true);
    list.scrollTop += list.scrollHeight - height; // keep what was on screen in place
  }
  if (turns.length) state.oldestId = turns[0].id;
  more?.remove();
  if (page?.more ?? turns.length >= HISTORY_PAGE) {
    list.prepend(el("li", { class: "more", id: "history-more" },
      el("button", { type: "button", class: "quiet", onclick: () => loadHistory(state.oldestId) },
        "Show earlier messages")));
  }
}

// -- lifecycle -----------------------------------------------------------------------------

export function init() {
  $("say-form").addEventListener("submit", say);
  $("say-text").addEventListener("input", resizeBox);
  $("say-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) say(event);
  });
  $("say-stop").addEventListener("click", () => {
    stopReply();
    $("say-text").focus();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("view-chat").hidden && !$("confirm").open) {
      if (stopReply()) event.preventDefault();
    }
  });
  $("new-conversation").addEventListener("click", () => {
    if (state.reply) stopReply();
    if (send({ type: "new" })) {
      $("messages").append(el("li", { class: "divider" }, "New conversation"));
      scrollDown(true);
      announce("Started a new conversation.");
    }
    $("say-text").focus();
  });
  // Reading the newest messages stays so when the window changes size (a phone turned, a
  // keyboard opened); someone scrolled back to read stays where they are.
  const list = $("messages");
  let pinned = true;
  list.addEventListener("scroll", () => { pinned = nearBottom(list); }, { passive: true });
  new ResizeObserver(() => { if (pinned) list.scrollTop = list.scrollHeight; }).observe(list);
  window.addEventListener("online", () => {
    if (state.wanted && !state.socket) connect();
  });
}

export async function start() {
  state.wanted = true;
  state.attempt = 0;
  state.greeted = false;
  $("messages").replaceChildren();
  setReplying(null);
  try {
    const found = await get("/api/settings");
    setCompanionName(found?.companion_name);
  } catch {
    // The name is only a label: "os1" will do.
  }
  try {
    await loadHistory();
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) {
      announce(`Couldn't load earlier messages: ${error.message}`, { kind: "error" });
    }
  }
  connect();
}

export function stop() {
  state.wanted = false;
  clearTimeout(state.retryTimer);
  if (state.reply) setReplying(null);
  const socket = state.socket;
  state.socket = null;
  socket?.close(1000);
  $("messages").replaceChildren();
}

/** Showing the chat view: the newest message in sight (the log could not scroll while it
 * was hidden), and the box focused so typing can start at once. */
export async function show() {
  scrollDown(true);
  $("say-text").focus();
}
