// The microphone's audio thread: whatever rate the AudioContext runs at (44.1 or 48 kHz),
// average it down to 16 kHz (a box filter: enough against aliasing for speech), convert to
// little-endian int16 and post 512-sample frames (32 ms, the server's VAD window).

const TARGET_RATE = 16000;
const FRAME = 512;

class MicDownsampler extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / TARGET_RATE; // input samples per output sample
    this.position = 0;
    this.sum = 0;
    this.count = 0;
    this.frame = new Int16Array(FRAME);
    this.filled = 0;
  }

  push(value) {
    const clamped = Math.max(-1, Math.min(1, value));
    this.frame[this.filled] = clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff;
    this.filled += 1;
    if (this.filled === FRAME) {
      const buffer = this.frame.buffer;
      this.port.postMessage(buffer, [buffer]);
      this.frame = new Int16Array(FRAME);
      this.filled = 0;
    }
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true;
    const samples = channels[0];
    const mix = channels.length > 1 ? channels : null;
    for (let i = 0; i < samples.length; i += 1) {
      let value = samples[i];
      if (mix) {
        for (let c = 1; c < mix.length; c += 1) value += mix[c][i];
        value /= mix.length;
      }
      this.sum += value;
      this.count += 1;
      this.position += 1;
      if (this.position >= this.step) {
        this.push(this.sum / this.count);
        this.position -= this.step;
        this.sum = 0;
        this.count = 0;
      }
    }
    return true;
  }
}

registerProcessor("mic-downsampler", MicDownsampler);
