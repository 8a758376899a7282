// The first-run questions after sign-up (GET /api/onboarding): one at a time, each skippable,
// answers saved as they are given (PUT /api/onboarding/{key}).

import { get, put } from "./api.js";
import { $, announce, el } from "./dom.js";

const state = { questions: [], next: null, index: 0, seen: new Set(), finished: () => {} };

function choiceLabel(choice) {
  return typeof choice === "string" ? choice : (choice.label ?? choice.key);
}

function choiceKey(choice) {
  return typeof choice === "string" ? choice : (choice.key ?? choice.label);
}

function render() {
  const question = state.questions[state.index];
  if (!question) {
    finish();
    return;
  }
  const total = state.questions.length;
  $("ob-progress").textContent = `Question ${state.index + 1} of ${total}`;
  $("ob-question").textContent = question.text;
  $("ob-hint").textContent = question.hint ?? "";
  const answer = $("ob-answer");
  answer.value = question.answer ?? "";
  const choices = $("ob-choices");
  const options = question.choices ?? [];
  choices.hidden = options.length === 0;
  answer.hidden = options.length > 0;
  choices.replaceChildren(...options.map((choice, i) => {
    const id = `ob-choice-${i}`;
    const input = el("input", { type: "radio", name: "ob-choice", id, value: choiceKey(choice) });
    if (question.answer && question.answer === choiceKey(choice)) input.checked = true;
    return el("div", { class: "choice" }, input, el("label", { for: id }, choiceLabel(choice)));
  }));
  (options.length ? choices.querySelector("input") : answer)?.focus();
}

async function save(answer) {
  const question = state.questions[state.index];
  state.seen.add(question.key);
  try {
    const next = await put(`/api/onboarding/${encodeURIComponent(question.key)}`, { answer });
    $("ob-reply").textContent = next?.message ?? "";
    if (Array.isArray(next?.questions)) {
      state.questions = next.questions;
      state.next = next.next ?? null;
      if (next.done) {
        finish();
        return;
      }
    }
  } catch (error) {
    announce(error.message, { kind: "error" });
    $("ob-reply").textContent = error.message;
    return;
  }
  advance();
}

function advance() {
  // The server names the next question; skipped in this visit or not, never ask twice.
  let next = state.questions.findIndex((q) => q.key === state.next && !state.seen.has(q.key));
  if (next === -1) next = state.questions.findIndex((q) => !state.seen.has(q.key) && !q.status);
  state.index = next === -1 ? state.questions.length : next;
  render();
}

function finish() {
  announce("All set. Say hello whenever you like.");
  state.finished();
}

export function init() {
  $("ob-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const question = state.questions[state.index];
    if (!question) return;
    const picked = $("ob-choices").querySelector("input:checked");
    const answer = (question.choices?.length ? picked?.value : $("ob-answer").value.trim()) ?? "";
    save(answer);
  });
  $("ob-skip").addEventListener("click", () => save(""));
  $("ob-finish").addEventListener("click", finish);
}

export async function start(finished) {
  state.finished = finished;
  state.seen = new Set();
  $("ob-reply").textContent = "";
  try {
    const found = await get("/api/onboarding");
    if (found?.done || !found?.questions?.length) {
      finished();
      return;
    }
    state.questions = found.questions;
    state.next = found.next ?? null;
    advance();
  } catch (error) {
    announce(`Skipping the first questions: ${error.message}`, { kind: "error" });
    finished();
  }
}
