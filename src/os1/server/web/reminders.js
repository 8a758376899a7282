// Reminders: add one from free text ("call Amy on Friday at six"), see them, cancel one.

import { del, get, post } from "./api.js";
import { $, announce, confirmAction, el, liveList, timeElement } from "./dom.js";

const shown = liveList();

// `state` is the reminder as lived (upcoming, due, delivered, missed, cancelled).
const STATE_WORDS = { upcoming: "", due: "due now", delivered: "said", missed: "missed",
  cancelled: "cancelled" };

function row(reminder) {
  const cancel = el("button", { type: "button", class: "quiet danger",
    "aria-label": `Cancel reminder: ${reminder.text}` }, "Cancel");
  const status = STATE_WORDS[reminder.state] ?? reminder.state ?? "";
  const item = el("li", { class: "item reminder", dataset: { id: reminder.id } },
    el("p", { class: "text" }, reminder.text),
    el("p", { class: "meta" }, reminder.due_at ? timeElement(reminder.due_at) : "no time set",
      status ? ` · ${status}` : ""),
    el("div", { class: "actions" }, cancel));
  cancel.addEventListener("click", async () => {
    if (!(await confirmAction(`Cancel the reminder “${reminder.text}”?`, "Cancel reminder"))) {
      return;
    }
    try {
      await del(`/api/reminders/${reminder.id}`);
      shown.removed(reminder.id);
      item.remove();
      announce("Reminder cancelled.");
      if (!$("rem-list").children.length) empty();
      $("rem-text").focus();
    } catch (error) {
      announce(error.message, { kind: "error" });
    }
  });
  return item;
}

function empty() {
  $("rem-list").replaceChildren(el("li", { class: "empty" }, "No reminders."));
}

async function load() {
  const newest = shown.begin();
  const found = await get("/api/reminders");
  if (!newest()) return;
  const reminders = shown.kept(found?.reminders ?? []);
  $("rem-zone").textContent = found?.zone ? `Times are in ${found.zone}.` : "";
  if (!reminders.length) empty();
  else $("rem-list").replaceChildren(...reminders.map(row));
}

export function init() {
  $("rem-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("rem-text").value.trim();
    $("rem-error").textContent = "";
    if (!text) {
      $("rem-error").textContent = "Type what to remind you of, and when.";
      $("rem-text").focus();
      return;
    }
    try {
      const reminder = await post("/api/reminders", { text });
      $("rem-text").value = "";
      await load();
      announce(reminder?.message || "Reminder set.");
    } catch (error) {
      $("rem-error").textContent = error.message;
      $("rem-text").focus();
    }
  });
}

export async function show() {
  await load();
}
