// Settings: the companion's name, what it calls the user, its tone; export; log out; and
// forgetting everything (behind the password).

import { api, get, put } from "./api.js";
import { $, announce, el } from "./dom.js";
import { setCompanionName } from "./chat.js";

let hooks = { logOut: async () => {}, signedOut: () => {} };

function fill(found) {
  $("set-companion").value = found?.companion_name ?? "";
  $("set-callme").value = found?.call_me ?? "";
  const tones = found?.tones?.length ? found.tones : [found?.tone ?? "warm"];
  $("set-tone").replaceChildren(...tones.map((tone) => el("option", { value: tone },
    tone[0].toUpperCase() + tone.slice(1))));
  $("set-tone").value = found?.tone ?? tones[0];
  setCompanionName(found?.companion_name);
}

export function init(given) {
  hooks = given;
  $("set-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("set-error").textContent = "";
    const body = { companion_name: $("set-companion").value.trim(),
      call_me: $("set-callme").value.trim(), tone: $("set-tone").value };
    try {
      const saved = await put("/api/settings", body);
      fill(saved);
      announce(`Settings saved. They apply ${saved?.applies ?? "from the next conversation"}.`);
    } catch (error) {
      $("set-error").textContent = error.message;
    }
  });
  $("logout").addEventListener("click", () => hooks.logOut());
  $("erase-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const password = $("erase-password").value;
    $("erase-error").textContent = "";
    if (!password) {
      $("erase-error").textContent = "Type your password to confirm.";
      $("erase-password").focus();
      return;
    }
    try {
      await api("DELETE", "/api/me", { password }, { quietAuth: true });
      $("erase-password").value = "";
      hooks.signedOut("Everything is forgotten and your account is gone.");
    } catch (error) {
      $("erase-error").textContent = error.message;
      $("erase-password").focus();
    }
  });
}

export async function show() {
  fill(await get("/api/settings"));
}
