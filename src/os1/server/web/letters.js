// Letters os1 wrote with the user: list, read, download as PDF, delete.

import { del, get } from "./api.js";
import { $, announce, confirmAction, el, liveList, timeElement } from "./dom.js";

const shown = liveList();

function title(letter) {
  const to = letter.recipient ? `To ${letter.recipient}` : "A letter";
  return letter.title ? `${to}: ${letter.title}` : to;
}

async function read(letter, opener) {
  const full = await get(`/api/letters/${letter.id}`);
  const article = $("letter-read");
  $("letter-read-title").textContent = title(full ?? letter);
  const body = String(full?.body ?? "");
  $("letter-body").replaceChildren(...body.split(/\n{2,}/).map((para) => el("p", {}, para)));
  $("letter-pdf").href = `/api/letters/${letter.id}/pdf`;
  $("letter-pdf").setAttribute("download", `letter-${letter.id}.pdf`);
  article.hidden = false;
  article.dataset.opener = opener.id;
  $("letter-read-title").focus();
}

function row(letter) {
  const name = title(letter);
  const open = el("button", { type: "button", id: `letter-open-${letter.id}`,
    "aria-label": `Read ${name}` }, "Read");
  const pdf = el("a", { class: "button quiet", href: `/api/letters/${letter.id}/pdf`,
    download: `letter-${letter.id}.pdf`, "aria-label": `Download ${name} as PDF` }, "PDF");
  const remove = el("button", { type: "button", class: "quiet danger",
    "aria-label": `Delete ${name}` }, "Delete");
  const item = el("li", { class: "item" },
    el("p", { class: "text strong" }, name),
    letter.preview ? el("p", { class: "preview" }, letter.preview) : null,
    el("p", { class: "meta" }, timeElement(letter.created_at),
      letter.in_book ? " · in your book of letters" : ""),
    el("div", { class: "actions" }, open, pdf, remove));
  open.addEventListener("click", () => read(letter, open).catch((error) => announce(error.message,
    { kind: "error" })));
  remove.addEventListener("click", async () => {
    if (!(await confirmAction(`Delete “${name}”? This can't be undone.`, "Delete"))) return;
    try {
      await del(`/api/letters/${letter.id}`);
      shown.removed(letter.id);
      item.remove();
      if ($("letter-pdf").getAttribute("href") === `/api/letters/${letter.id}/pdf`) {
        $("letter-read").hidden = true;
      }
      announce("Letter deleted.");
      if (!$("letter-list").children.length) empty();
    } catch (error) {
      announce(error.message, { kind: "error" });
    }
  });
  return item;
}

function empty() {
  $("letter-list").replaceChildren(el("li", { class: "empty" }, "No letters yet."));
}

export function init() {
  $("letter-close").addEventListener("click", () => {
    const article = $("letter-read");
    article.hidden = true;
    $(article.dataset.opener ?? "")?.focus();
  });
}

export async function show() {
  $("letter-read").hidden = true;
  const newest = shown.begin();
  const found = await get("/api/letters");
  if (!newest()) return;
  const letters = shown.kept(found?.letters ?? []);
  if (!letters.length) empty();
  else $("letter-list").replaceChildren(...letters.map(row));
}
