// os1's voice in the browser: int16 frames at the announced rate, scheduled back to back on
// a Web Audio clock of their own, so pausing (barge-in) is suspending that clock.
// `consumed()` is what the server asks for in {"type": "played"}: samples received minus
// samples still waiting to sound (so a discard counts what it dropped as consumed).

export class Player {
  constructor() {
    this.context = null;
    this.rate = 22050;
    this.queue = []; // {source, start, length, dropped}
    this.nextTime = 0;
    this.received = 0;
    this.paused = false;
  }

  ensureContext() {
    if (!this.context) this.context = new AudioContext({ latencyHint: "interactive" });
    if (this.context.state === "suspended" && !this.paused) this.context.resume();
    return this.context;
  }

  enqueue(arrayBuffer) {
    const context = this.ensureContext();
    const pcm = new Int16Array(arrayBuffer);
    if (pcm.length === 0) return;
    this.received += pcm.length;
    const buffer = context.createBuffer(1, pcm.length, this.rate);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < pcm.length; i += 1) channel[i] = pcm[i] / 0x8000;
    const source = context.createBufferSource();
    source.buffer = buffer;
    source.connect(context.destination);
    // A small lead after a silence, so the first frame is not clipped by scheduling jitter.
    const start = Math.max(this.nextTime, context.currentTime + 0.03);
    const entry = { source, start, length: pcm.length, dropped: false };
    source.addEventListener("ended", () => {
      if (entry.dropped) return;
      this.queue = this.queue.filter((item) => item !== entry);
      this.onProgress?.();
    });
    source.start(start);
    this.nextTime = start + pcm.length / this.rate;
    this.queue.push(entry);
  }

  /** Samples of the stream received that are no longer waiting: played, or dropped. */
  consumed() {
    if (!this.context) return this.received;
    const now = this.context.currentTime;
    let waiting = 0;
    for (const entry of this.queue) {
      const played = entry.start < now ? Math.floor((now - entry.start) * this.rate) : 0;
      waiting += Math.max(0, entry.length - played);
    }
    return this.received - waiting;
  }

  pause() {
    this.paused = true;
    this.context?.suspend();
  }

  resume() {
    this.paused = false;
    this.context?.resume();
  }

  /** Drop what was queued and not yet heard (the reply was cut off), and end a pause. */
  discard() {
    for (const entry of this.queue) {
      entry.dropped = true;
      try {
        entry.source.stop();
      } catch {
        // Not started yet: nothing to stop.
      }
    }
    this.queue = [];
    this.nextTime = 0;
    this.resume();
  }

  close() {
    this.discard();
    this.context?.close();
    this.context = null;
  }
}
