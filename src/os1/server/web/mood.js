// The mood timeline (GET /api/mood) as an SVG chart drawn here: how pleasant each day felt
// (a line, −1…1) and how stirred up (faint bars, 0…1), with the same in words beside it for
// screen readers and for anyone who would rather read than look.

import { del, get } from "./api.js";
import { $, announce, confirmAction, shortDay } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const W = 640;
const H = 260;
const PAD = { left: 84, right: 16, top: 16, bottom: 36 };

function svg(tag, attrs = {}, text = "") {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text) node.textContent = text;
  return node;
}

function feeling(valence) {
  if (valence >= 0.5) return "good";
  if (valence >= 0.15) return "fairly good";
  if (valence > -0.15) return "about even";
  if (valence > -0.5) return "somewhat low";
  return "low";
}

function known(day) {
  return (day.readings ?? 0) > 0 && typeof day.valence === "number";
}

export function summarise(days, trend, span) {
  const read = days.filter(known);
  if (!read.length) {
    return `No mood readings in the last ${span} days yet. They come from how you write and ` +
      "speak in the chat.";
  }
  const mean = read.reduce((sum, day) => sum + day.valence, 0) / read.length;
  const best = read.reduce((a, b) => (b.valence > a.valence ? b : a));
  const low = read.reduce((a, b) => (b.valence < a.valence ? b : a));
  const parts = [
    `Over the last ${span} days, ${read.length} day${read.length === 1 ? "" : "s"} had ` +
      `readings; on the whole you seemed ${feeling(mean)} (${mean.toFixed(2)} on a scale ` +
      "from −1 to 1).",
  ];
  if (read.length > 1) {
    parts.push(`Brightest day: ${shortDay(best.day)} (${feeling(best.valence)}). ` +
      `Lowest day: ${shortDay(low.day)} (${feeling(low.valence)}).`);
  }
  if (trend) parts.push(`Lately: ${trend}.`);
  return parts.join(" ");
}

export function draw(days) {
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "mood-svg", role: "img",
    "aria-labelledby": "mood-summary", focusable: "false" });
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const n = Math.max(1, days.length);
  const step = plotW / n;
  const x = (i) => PAD.left + step * (i + 0.5);
  const y = (valence) => PAD.top + ((1 - valence) / 2) * plotH;

  // Guides: pleasant, even, unpleasant.
  for (const [value, label] of [[1, "pleasant"], [0, "even"], [-1, "low"]]) {
    chart.append(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(value), y2: y(value),
      class: value === 0 ? "axis zero" : "axis" }));
    chart.append(svg("text", { x: PAD.left - 10, y: y(value) + 4, class: "label",
      "text-anchor": "end" }, label));
  }
  // How stirred up: bars from the bottom, faint.
  days.forEach((day, i) => {
    if (!known(day) || typeof day.arousal !== "number") return;
    const height = Math.max(1, day.arousal * plotH * 0.35);
    chart.append(svg("rect", { x: x(i) - step * 0.3, width: Math.max(1, step * 0.6),
      y: PAD.top + plotH - height, height, class: "arousal", rx: 2 }));
  });
  // How pleasant: a line through the days with readings (gaps where there were none).
  let path = "";
  let pen = false;
  days.forEach((day, i) => {
    if (!known(day)) { pen = false; return; }
    path += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(day.valence).toFixed(1)} `;
    pen = true;
  });
  if (path) chart.append(svg("path", { d: path.trim(), class: "valence" }));
  days.forEach((day, i) => {
    if (!known(day)) return;
    const dot = svg("circle", { cx: x(i), cy: y(day.valence), r: 4, class: "dot" });
    dot.append(svg("title", {}, `${shortDay(day.day)}: ${feeling(day.valence)}`));
    chart.append(dot);
  });
  // A handful of dates along the bottom.
  const every = Math.max(1, Math.ceil(days.length / 6));
  days.forEach((day, i) => {
    if (i % every !== 0 && i !== days.length - 1) return;
    chart.append(svg("text", { x: x(i), y: H - 12, class: "label", "text-anchor": "middle" },
      shortDay(day.day)));
  });
  return chart;
}

/** Every day from `since` to `until`, with the server's readings where there are some (it
 * sends only days with readings): the chart's gaps are the days without. */
export function everyDay(mood, span) {
  const found = new Map((mood?.days ?? []).map((day) => [String(day.day).slice(0, 10), day]));
  const until = mood?.until ? new Date(`${mood.until}T12:00:00Z`) : new Date();
  const since = mood?.since ? new Date(`${mood.since}T12:00:00Z`)
    : new Date(until.getTime() - (span - 1) * 86400000);
  const days = [];
  for (let t = since.getTime(); t <= until.getTime() && days.length < 400; t += 86400000) {
    const key = new Date(t).toISOString().slice(0, 10);
    days.push(found.get(key) ?? { day: key, valence: null, arousal: null, readings: 0 });
  }
  return days;
}

async function load() {
  const span = Number($("mood-days").value) || 30;
  const mood = await get(`/api/mood?days=${span}`);
  const days = everyDay(mood, span);
  $("mood-chart").replaceChildren(draw(days));
  $("mood-summary").textContent = summarise(days, mood?.trend ?? "", span);
}

export function init() {
  $("mood-days").addEventListener("change", () => load().catch((error) => announce(error.message,
    { kind: "error" })));
  $("mood-forget").addEventListener("click", async () => {
    if (!(await confirmAction("Forget your whole mood timeline? os1 starts reading it afresh."))) {
      return;
    }
    try {
      await del("/api/mood");
      announce("Your mood timeline is forgotten.");
      await load();
    } catch (error) {
      announce(error.message, { kind: "error" });
    }
  });
}

export async function show() {
  await load();
}
