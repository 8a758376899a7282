// What os1 remembers (GET /api/memories): search, edit a memory in place, forget one.

import { del, get, patch } from "./api.js";
import { $, announce, confirmAction, el, liveList, timeElement } from "./dom.js";

const shown = liveList();

const KIND_WORDS = { fact: "Fact", episode: "From a conversation", preference: "Preference",
  event: "Event", self: "About os1" };

function kindLabel(kind) {
  return KIND_WORDS[kind] ?? (kind ? kind[0].toUpperCase() + kind.slice(1) : "Memory");
}

function row(memory) {
  const text = el("p", { class: "text" }, memory.text);
  const item = el("li", { class: "item memory", dataset: { id: memory.id } });
  const edit = el("button", { type: "button", class: "quiet",
    "aria-label": `Edit memory: ${memory.text.slice(0, 60)}` }, "Edit");
  const forget = el("button", { type: "button", class: "quiet danger",
    "aria-label": `Forget memory: ${memory.text.slice(0, 60)}` }, "Forget");
  const actions = el("div", { class: "actions" }, edit, forget);
  item.append(el("p", { class: "meta" }, kindLabel(memory.kind), " · ",
    timeElement(memory.created_at), memory.current === false ? " · replaced by a newer one" : ""),
  text, actions);

  edit.addEventListener("click", () => {
    const id = `mem-edit-${memory.id}`;
    const box = el("textarea", { id, rows: 3, maxlength: 2000 });
    box.value = memory.text;
    const save = el("button", { type: "submit", class: "primary" }, "Save");
    const cancel = el("button", { type: "button", class: "quiet" }, "Cancel");
    const form = el("form", { class: "edit" },
      el("label", { for: id }, "Edit this memory"), box, el("div", { class: "row" }, save, cancel));
    const restore = () => {
      form.replaceWith(text);
      actions.hidden = false;
      edit.focus();
    };
    cancel.addEventListener("click", restore);
    form.addEventListener("keydown", (event) => {
      if (event.key === "Escape") { event.preventDefault(); restore(); }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const value = box.value.trim();
      if (!value) {
        announce("A memory can't be empty; use Forget to remove it.", { kind: "error" });
        return;
      }
      try {
        const saved = await patch(`/api/memories/${memory.id}`, { text: value });
        // A correction may be kept as a new memory that replaces the old: follow its id.
        memory.id = saved?.id ?? memory.id;
        item.dataset.id = String(memory.id);
        memory.text = saved?.text ?? value;
        text.textContent = memory.text;
        edit.setAttribute("aria-label", `Edit memory: ${memory.text.slice(0, 60)}`);
        forget.setAttribute("aria-label", `Forget memory: ${memory.text.slice(0, 60)}`);
        restore();
        announce("Memory saved.");
      } catch (error) {
        announce(error.message, { kind: "error" });
      }
    });
    text.replaceWith(form);
    actions.hidden = true;
    box.focus();
  });

  forget.addEventListener("click", async () => {
    if (!(await confirmAction(`Forget this? “${memory.text}”`))) return;
    try {
      await del(`/api/memories/${memory.id}`);
      shown.removed(memory.id);
      const next = item.nextElementSibling ?? item.previousElementSibling;
      item.remove();
      updateCount();
      announce("Forgotten.");
      (next?.querySelector("button") ?? $("mem-q")).focus();
    } catch (error) {
      announce(error.message, { kind: "error" });
    }
  });
  return item;
}

function updateCount(query = $("mem-q").value.trim()) {
  const count = $("mem-list").children.length;
  $("mem-count").textContent = count === 0
    ? (query ? `No memories match “${query}”.` : "Nothing remembered yet. Talk a while first.")
    : `${count} memor${count === 1 ? "y" : "ies"}${query ? ` matching “${query}”` : ""}.`;
}

async function load() {
  const query = $("mem-q").value.trim();
  const list = $("mem-list");
  const newest = shown.begin();
  list.setAttribute("aria-busy", "true");
  try {
    const found = await get(`/api/memories?limit=100&q=${encodeURIComponent(query)}`);
    if (!newest()) return;
    const kept = shown.kept(found?.memories ?? []);
    list.replaceChildren(...kept.map(row));
    updateCount(query);
  } finally {
    if (newest()) list.removeAttribute("aria-busy");
  }
}

export function init() {
  $("mem-search").addEventListener("submit", (event) => {
    event.preventDefault();
    load().catch((error) => announce(error.message, { kind: "error" }));
  });
}

export async function show() {
  await load();
}
