// The page's entry point: who is logged in, which view shows, and the first-run questions.
// Each section of the page is its own module with a `show()` that (re)loads its data.

import { ApiError, api, onLoggedOut } from "./api.js";
import { $, announce } from "./dom.js";
import * as chat from "./chat.js";
import * as letters from "./letters.js";
import * as memories from "./memories.js";
import * as mood from "./mood.js";
import * as onboarding from "./onboarding.js";
import * as reminders from "./reminders.js";
import * as settings from "./settings.js";
import * as voice from "./voice.js";

const VIEWS = { chat, mood, memories, letters, reminders, settings };
const session = { name: "", signedIn: false };

function showOnly(id) {
  for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== id;
}

function focusHeading(section) {
  const heading = section.querySelector("h1");
  if (!heading) return;
  heading.tabIndex = -1;
  heading.focus({ preventScroll: true });
}

async function route() {
  if (!session.signedIn) return;
  const name = location.hash.slice(1) || "chat";
  const showing = document.querySelector(".view:not([hidden])")?.id.replace("view-", "");
  if (!VIEWS[name] && VIEWS[showing]) return; // an in-page anchor, not a section
  const view = VIEWS[name] ? name : "chat";
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  showOnly(`view-${view}`);
  document.title = `${view[0].toUpperCase()}${view.slice(1)} · os1`;
  if (view !== "chat") focusHeading($(`view-${view}`));
  try {
    await VIEWS[view].show();
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) announce(error.message, { kind: "error" });
  }
}

function signedIn(name, { fresh = false } = {}) {
  session.name = name;
  session.signedIn = true;
  document.body.dataset.user = name;
  $("nav").hidden = false;
  chat.start(name);
  voice.setUser(name);
  if (fresh) {
    showOnly("view-onboarding");
    onboarding.start(() => {
      location.hash = "#chat";
      route();
    });
  } else {
    route();
  }
}

export function signedOut(message = "") {
  session.signedIn = false;
  session.name = "";
  delete document.body.dataset.user;
  chat.stop();
  voice.stop();
  $("nav").hidden = true;
  history.replaceState(null, "", location.pathname); // the next person starts at the chat
  showOnly("view-auth");
  document.title = "os1";
  $("auth-error").textContent = message;
  $("auth-password").value = "";
  $("auth-name").focus();
}

// -- sign up / log in --------------------------------------------------------------------

let waitTimer = 0;

function waitBeforeTrying(seconds) {
  const button = $("auth-login");
  clearInterval(waitTimer);
  let left = Math.max(1, Math.ceil(seconds));
  const tick = () => {
    if (left <= 0) {
      clearInterval(waitTimer);
      button.disabled = false;
      $("auth-error").textContent = "You can try again now.";
      return;
    }
    button.disabled = true;
    $("auth-error").textContent =
      `Too many tries. Please wait ${left} second${left === 1 ? "" : "s"} before trying again.`;
    left -= 1;
  };
  tick();
  waitTimer = setInterval(tick, 1000);
}

async function submitAuth(event) {
  event.preventDefault();
  const signUp = event.submitter?.value === "signup";
  const name = $("auth-name").value.trim();
  const password = $("auth-password").value;
  const error = $("auth-error");
  if (!name) {
    error.textContent = "Type your name first.";
    $("auth-name").focus();
    return;
  }
  if (password.length < 8) {
    error.textContent = signUp ? "Choose a password of at least 8 characters."
      : "Type your password (at least 8 characters).";
    $("auth-password").focus();
    return;
  }
  error.textContent = "";
  for (const button of $("auth-form").querySelectorAll("button")) button.disabled = true;
  try {
    const answer = await api("POST", signUp ? "/api/accounts" : "/api/sessions",
      { name, password }, { quietAuth: true });
    $("auth-password").value = "";
    signedIn(answer?.name ?? name, { fresh: signUp });
  } catch (failure) {
    if (failure instanceof ApiError && failure.status === 429) {
      for (const button of $("auth-form").querySelectorAll("button")) button.disabled = false;
      waitBeforeTrying(failure.retryAfter || 60);
      return;
    }
    error.textContent = failure.message;
    (failure.status === 409 ? $("auth-name") : $("auth-password")).focus();
  }
  if (!$("auth-error").textContent.startsWith("Too many")) {
    for (const button of $("auth-form").querySelectorAll("button")) button.disabled = false;
  }
}

export async function logOut() {
  try {
    await api("DELETE", "/api/sessions/current", undefined, { quietAuth: true });
  } catch {
    // Already gone: logged out all the same.
  }
  signedOut("You are logged out.");
}

// -- start -------------------------------------------------------------------------------

async function boot() {
  $("auth-form").addEventListener("submit", submitAuth);
  // The skip link moves focus into the content without changing the section.
  document.querySelector(".skip").addEventListener("click", (event) => {
    event.preventDefault();
    $("main").focus();
  });
  window.addEventListener("hashchange", route);
  onLoggedOut((message) => {
    if (session.signedIn) signedOut(message || "Your session ended. Please log in again.");
  });
  chat.onSessionEnded(() => {
    if (session.signedIn) signedOut("Your session ended. Please log in again.");
  });
  settings.init({ logOut, signedOut });
  chat.init();
  voice.init();
  memories.init();
  letters.init();
  reminders.init();
  mood.init();
  onboarding.init();
  try {
    const me = await api("GET", "/api/me", undefined, { quietAuth: true });
    signedIn(me.name);
  } catch {
    signedOut("");
  }
}

boot();
