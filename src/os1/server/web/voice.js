// Talking with os1 over WebSocket /api/voice: the microphone (getUserMedia → an AudioWorklet
// that posts 16 kHz int16 frames) up, os1's voice (int16 frames) and the turn's events down.
// Push-to-talk sends audio only while the button (or Space on it) is held; hands-free sends
// it all the time and lets the server decide when a turn is over.

import { reconnectDelay, socketUrl } from "./api.js";
import { $, announce } from "./dom.js";
import { addMessage, applyEvent, beginReply, finishReply } from "./chat.js";
import { Player } from "./player.js";


const state = {
  user: "",
  socket: null,
  opening: null, // the promise of a voice session being set up
  mic: null, // {context, stream, node}
  player: new Player(),
  handsFree: false,
  ready: false, // the server sent audio_format: its voice session is listening
  held: false,
  reply: null,
  lastReply: null, // the words are complete; `replied` may still say the voice was cut
  attempt: 0,
  retryTimer: 0,
  progressTimer: 0,
  lastPlayed: -1,
};

function say(text) {
  $("voice-state").textContent = text;
}

function sending() {
  return state.handsFree || state.held;
}

function sendJson(frame) {
  if (state.socket?.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify(frame));
}

function reportPlayed() {
  const samples = state.player.consumed();
  // How much of os1's voice arrived and has sounded, for anyone inspecting the page.
  $("voice-state").dataset.received = String(state.player.received);
  $("voice-state").dataset.consumed = String(samples);
  if (samples !== state.lastPlayed) {
    state.lastPlayed = samples;
    sendJson({ type: "played", samples });
  }
}

// -- the microphone ------------------------------------------------------------------------

async function openMic(context) {
  if (state.mic) return;
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new Error("This browser can't use a microphone here (it needs https or localhost).");
  }
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true,
      autoGainControl: true },
  });
  await context.audioWorklet.addModule(new URL("./mic-worklet.js", import.meta.url));
  const source = context.createMediaStreamSource(stream);
  const node = new AudioWorkletNode(context, "mic-downsampler",
    { numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1] });
  // The node must reach the destination to be pulled; a silent gain keeps it quiet.
  const mute = context.createGain();
  mute.gain.value = 0;
  source.connect(node).connect(mute).connect(context.destination);
  node.port.onmessage = (message) => {
    if (sending() && state.ready && state.socket?.readyState === WebSocket.OPEN) {
      state.socket.send(message.data);
    }
  };
  if (context.state === "suspended") await context.resume();
  state.mic = { context, stream, node };
}

let micContext = null;

function closeMic() {
  micContext?.close();
  micContext = null;
  if (!state.mic) return;
  state.mic.stream.getTracks().forEach((track) => track.stop());
  state.mic.context.close();
  state.mic = null;
}

// -- the socket ----------------------------------------------------------------------------

function openSocket() {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(socketUrl("/api/voice"));
    socket.binaryType = "arraybuffer";
    let ready = false;
    let refusal = "";
    socket.addEventListener("open", () => {
      state.socket = socket;
      sendJson({ type: "mode", mode: state.handsFree ? "hands_free" : "push_to_talk" });
    });
    socket.addEventListener("message", (message) => {
      if (socket !== state.socket) return;
      if (typeof message.data !== "string") {
        state.player.enqueue(message.data);
        say("os1 is speaking…");
        return;
      }
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (error) {
        console.warn("voice event", error);
        return;
      }
      if (!ready && event.type === "audio_format") {
        // The server's voice is loaded and its session runs: only now may audio flow
        // (audio sent earlier would reach it all at once, faster than anyone speaks).
        ready = true;
        state.ready = true;
        state.attempt = 0;
        resolve();
      } else if (!ready && event.type === "error") {
        refusal = event.message ?? "";
      }
      try {
        onEvent(event);
      } catch (error) {
        console.warn("voice event", error);
      }
    });
    socket.addEventListener("close", (closed) => {
      if (socket !== state.socket && state.socket !== null) return; // an older socket
      state.socket = null;
      state.ready = false;
      if (!ready) {
        reject(new Error(closed.code === 4401 ? "Your session ended. Please log in again."
          : refusal || "The voice connection could not be opened. Try again in a moment."));
        return;
      }
      state.player.discard();
      if (state.reply) {
        finishReply(state.reply, "Cut short: the connection dropped.");
        state.reply = null;
      }
      if (closed.code === 4401 || !state.user) {
        stop();
        return;
      }
      if (closed.code === 4409) { // opened in another window: that one has the voice now
        state.handsFree = false;
        $("hands-free").setAttribute("aria-pressed", "false");
        say("Voice moved to another window.");
        return;
      }
      if (state.handsFree) {
        const wait = reconnectDelay(state.attempt);
        state.attempt += 1;
        say(`Voice connection lost. Reconnecting in ${wait} s…`);
        announce(`Voice connection lost. Reconnecting in ${wait} seconds.`);
        state.retryTimer = setTimeout(() => ensureSession().catch(() => {}), wait * 1000);
      } else {
        say("Voice connection lost. Press the button to talk again.");
      }
    });
  });
}

async function ensureSession() {
  if (state.socket?.readyState === WebSocket.OPEN && state.mic) return;
  if (!state.opening) {
    state.opening = (async () => {
      // Both audio clocks are made inside the user's gesture (a click, a key), which is what
      // lets them run; the microphone itself opens only once the server is ready for it.
      state.player.ensureContext();
      if (!state.mic && !micContext) micContext = new AudioContext({ latencyHint: "interactive" });
      if (!(state.ready && state.socket?.readyState === WebSocket.OPEN)) {
        say("Getting the voice ready…");
        await openSocket();
      }
      if (!state.mic) {
        say("Starting the microphone…");
        await openMic(micContext);
        micContext = null;
      }
      clearInterval(state.progressTimer);
      state.progressTimer = setInterval(() => {
        if (state.player.queue.length) reportPlayed();
      }, 200);
    })().finally(() => { state.opening = null; });
  }
  await state.opening;
}

function onEvent(event) {
  switch (event.type) {
    case "audio_format":
      state.player.rate = Number(event.rate) || state.player.rate;
      say(state.handsFree ? "Listening." : "Ready. Hold the button to talk.");
      break;
    case "playback":
      if (event.action === "pause") state.player.pause();
      else if (event.action === "resume") state.player.resume();
      else state.player.discard(); // "discard", "stop", "flush": the rest is not to be heard
      reportPlayed();
      break;
    case "partial":
    case "partial_transcript":
    case "hearing":
      $("partial").textContent = event.text ?? "";
      say("Hearing you…");
      break;
    case "heard":
    case "user_said":
      $("partial").textContent = "";
      if (event.text) addMessage("user", event.text, { kind: "spoken" });
      if (state.reply) finishReply(state.reply);
      state.reply = beginReply({ voice: true });
      say("os1 is thinking…");
      break;
    case "said_first":
      addMessage("os1", event.text, { kind: "said-first" });
      break;
    case "greeted":
      say(state.handsFree ? "Listening." : "Ready. Hold the button to talk.");
      break;
    case "cut_off":
    case "barge_in":
      say(event.resumed ? "os1 goes on." : "os1 stopped to listen.");
      break;
    case "replied":
      if (state.reply) {
        if (event.text) state.reply.text.textContent = event.text;
        finishReply(state.reply, event.interrupted ? "Cut short: you spoke over it." : "");
        state.reply = null;
      } else if (state.lastReply && event.interrupted) {
        finishReply(state.lastReply, "Cut short: you spoke over it.");
      }
      state.lastReply = null;
      say(state.handsFree ? "Listening." : "Hold the button to talk.");
      break;
    case "problem":
    case "error":
      announce(event.message ?? "Something went wrong with the voice.", { kind: "error" });
      say(event.message ?? "");
      break;
    case "ignored":
    case "hello":
    case "speaking":
    case "sentence":
    case "affect_read":
      break;
    default:
      if (!state.reply && event.type === "token") state.reply = beginReply({ voice: true });
      if (state.reply && applyEvent(state.reply, event)) {
        // The words are complete; the voice may still be playing them.
        state.lastReply = state.reply;
        state.reply = null;
      }
  }
}

// -- controls ------------------------------------------------------------------------------

async function talkDown() {
  if (state.held) return;
  state.held = true;
  $("talk").classList.add("held");
  $("talk").setAttribute("aria-pressed", "true");
  try {
    await ensureSession();
  } catch (error) {
    talkUp();
    announce(error.message, { kind: "error" });
    say(error.message);
    return;
  }
  if (!state.held) return; // released while the microphone was starting
  if (state.player.queue.length) state.player.discard(); // talking over os1 cuts it off
  sendJson({ type: "talk", down: true });
  say("Listening… release to send.");
}

function talkUp() {
  if (!state.held) return;
  state.held = false;
  $("talk").classList.remove("held");
  $("talk").setAttribute("aria-pressed", "false");
  sendJson({ type: "talk", down: false });
  if (state.socket) say("Sent. os1 is thinking…");
}

async function toggleHandsFree() {
  const button = $("hands-free");
  state.handsFree = !state.handsFree;
  button.setAttribute("aria-pressed", String(state.handsFree));
  if (!state.handsFree) {
    sendJson({ type: "mode", mode: "push_to_talk" });
    say("Hands-free is off. Hold the button to talk.");
    return;
  }
  try {
    await ensureSession();
    sendJson({ type: "mode", mode: "hands_free" });
    say("Listening. Just talk; os1 answers when you pause.");
  } catch (error) {
    state.handsFree = false;
    button.setAttribute("aria-pressed", "false");
    announce(error.message, { kind: "error" });
    say(error.message);
  }
}

export function init() {
  const talk = $("talk");
  talk.setAttribute("aria-pressed", "false");
  talk.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    talk.setPointerCapture?.(event.pointerId);
    talkDown();
  });
  for (const name of ["pointerup", "pointercancel", "lostpointercapture"]) {
    talk.addEventListener(name, talkUp);
  }
  talk.addEventListener("keydown", (event) => {
    if (event.key === " " || event.key === "Enter") {
      event.preventDefault();
      if (!event.repeat) talkDown();
    }
  });
  talk.addEventListener("keyup", (event) => {
    if (event.key === " " || event.key === "Enter") {
      event.preventDefault();
      talkUp();
    }
  });
  talk.addEventListener("blur", talkUp);
  talk.addEventListener("contextmenu", (event) => event.preventDefault());
  $("hands-free").addEventListener("click", toggleHandsFree);
  state.player.onProgress = reportPlayed;
}

export function setUser(name) {
  state.user = name;
  say("");
}

/** Logging out: the microphone off, the socket closed, nothing left playing. */
export function stop() {
  state.user = "";
  state.handsFree = false;
  state.held = false;
  clearTimeout(state.retryTimer);
  clearInterval(state.progressTimer);
  $("hands-free").setAttribute("aria-pressed", "false");
  const socket = state.socket;
  state.socket = null;
  state.ready = false;
  socket?.close(1000);
  closeMic();
  state.player.close();
  state.player = new Player();
  state.player.onProgress = reportPlayed;
  state.lastPlayed = -1;
  state.reply = null;
  say("");
}
