// Small DOM helpers shared by every view: building elements without innerHTML (so text from
// the server is never parsed as markup), and saying things to screen readers.

export const $ = (id) => document.getElementById(id);

/** el("li", {class: "x", onclick: f}, "text", child) -> HTMLElement */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.className = value;
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

let statusTimer = 0;

/** A short status line, read out politely; it fades after a while unless `sticky`. */
export function announce(text, { sticky = false, kind = "info" } = {}) {
  const status = $("status");
  clearTimeout(statusTimer);
  status.textContent = text;
  status.dataset.kind = kind;
  if (!sticky && text) statusTimer = setTimeout(() => { status.textContent = ""; }, 6000);
}

/**
 * A list that several requests may redraw (showing the page, a search, a change) and whose rows
 * the user can remove. `begin()` returns a check that stays true only while no later request
 * began, so an answer a newer request overtook is dropped instead of drawing stale rows.
 * `removed(id)` notes a row the user removed; `kept(rows)` leaves such rows out of an answer
 * that was fetched before the removal was.
 */
export function liveList() {
  let newest = 0;
  const gone = new Set();
  return {
    begin() {
      const mine = ++newest;
      return () => mine === newest;
    },
    removed(id) { gone.add(id); },
    kept(rows) { return rows.filter((row) => !gone.has(row.id)); },
  };
}

/** Ask before forgetting something; resolves true when the user confirms. */
export function confirmAction(question, okLabel = "Forget") {
  const dialog = $("confirm");
  $("confirm-text").textContent = question;
  $("confirm-ok").textContent = okLabel;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "cancel";
    dialog.showModal();
    $("confirm-cancel").focus();  // the safe choice first
  });
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dayFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

export function when(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso ?? "") : dateFormat.format(date);
}

export function shortDay(iso) {
  const date = new Date(`${String(iso).slice(0, 10)}T12:00:00`);
  return Number.isNaN(date.getTime()) ? String(iso) : dayFormat.format(date);
}

export function timeElement(iso) {
  return el("time", { datetime: iso }, when(iso));
}
