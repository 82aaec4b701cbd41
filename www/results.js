// The alternatives: one small canvas per batch item, repainted on every frame, and PNG export.
//
// Each thumbnail canvas has the model's resolution (28×28) and CSS scales it up with
// `image-rendering: pixelated`, so a repaint is one putImageData into a reused ImageData: no
// allocation and no canvas-to-canvas copy per frame, which without a hardware GPU would cost
// more than the model's own step.

import { generatedRgb, pixelRgb } from './colour.js';
import { blendSurprise } from './surprise.js';

export class Results {
  /** @param {HTMLElement} container */
  constructor(container) {
    this.container = container;
    this.items = [];
    /** Called with an alternative's index when its "Use this" is pressed. */
    this.onuse = null;
  }

  /** Whether pixel i is still to be generated in the frame shown last. */
  isPending(i) {
    return !this.known[i] && this.rank[i] >= this.done;
  }

  /** Marks alternative b as the one shown on the drawing (-1: none). */
  markShown(b) {
    this.items.forEach((item, k) => item.canvas.classList.toggle('shown', k === b));
  }

  /**
   * Prepares `count` empty thumbnails for a completion of the given canvas.
   * `known` is the mask the completion started from and `generated` the hidden pixels' indices
   * in the order the engine generates them (the plan's), so the first `done` of them are final
   * in a frame and the rest still pending.
   */
  reset(count, shape, known, generated) {
    this.shape = shape;
    this.known = known;
    this.rank = new Int32Array(known.length).fill(-1);
    generated.forEach((i, r) => { this.rank[i] = r; });
    this.container.replaceChildren();
    this.items = [];
    for (let b = 0; b < count; b++) {
      const figure = document.createElement('figure');
      figure.className = 'alt';
      const canvas = document.createElement('canvas');
      canvas.width = shape.width;
      canvas.height = shape.height;
      canvas.setAttribute('aria-label', `Alternative ${b + 1}`);
      const caption = document.createElement('figcaption');
      const download = document.createElement('button');
      download.type = 'button';
      download.className = 'download';
      download.textContent = 'PNG';
      download.title = `Download alternative ${b + 1} as a PNG`;
      download.disabled = true;
      download.addEventListener('click', () => this.download(b));
      const use = document.createElement('button');
      use.type = 'button';
      use.className = 'use';
      use.textContent = 'Use this';
      use.title = `Make alternative ${b + 1} the drawing (every pixel known), to refine it`;
      use.disabled = true;
      use.addEventListener('click', () => this.onuse?.(b));
      const score = document.createElement('span');
      score.className = 'score';
      score.hidden = true;
      caption.append(`#${b + 1} `, use, ' ', download, score);
      figure.append(canvas, caption);
      this.container.append(figure);
      // willReadFrequently: a CPU-backed canvas. A GPU-accelerated one makes every
      // putImageData an upload and a sync, which a software GPU makes slower than the model.
      const ctx = canvas.getContext('2d', { willReadFrequently: true });
      this.items.push({
        canvas, ctx, image: ctx.createImageData(shape.width, shape.height), download, use, score,
        pixels: null, surprise: null,
      });
    }
    this.done = 0;
  }

  /** Paints one frame (pixels [B, C, H, W] as level indices). */
  show(frame, pixels) {
    const { width, height, channels } = this.shape;
    const plane = width * height;
    this.done = frame.done;
    const finished = frame.finished;
    this.items.forEach((item, b) => {
      const base = b * channels * plane;
      item.pixels = pixels.subarray(base, base + channels * plane);
      this.paint(item);
      item.download.disabled = item.use.disabled = !finished;
    });
  }

  /**
   * Writes each alternative's score (log p of the known pixels after the hole, nats) under it;
   * null clears them.
   */
  showScores(scores) {
    this.items.forEach((item, b) => {
      const score = scores?.[b];
      item.score.hidden = score === undefined;
      if (score === undefined) return;
      const value = document.createElement('strong');
      // A NaN score is the backend's arithmetic failing, not a fit: say so rather than rank it.
      value.textContent = !Number.isNaN(score) ? `${formatScore(score)} nats` : 'not available';
      item.score.replaceChildren('fits the rest of the drawing: ', value);
      item.score.title = 'log-probability the model gives the known pixels after the hole, '
        + 'given this completion: closer to 0 fits better';
    });
  }

  /** Lays per-pixel surprise (nats, [B, H, W]) over the alternatives; null removes it. */
  setSurprise(surprise) {
    const plane = this.shape.width * this.shape.height;
    this.items.forEach((item, b) => {
      item.surprise = surprise ? surprise.subarray(b * plane, (b + 1) * plane) : null;
      if (item.pixels) this.paint(item);
    });
  }

  /** Repaints one alternative from its pixels, the progress and its surprise overlay. */
  paint(item) {
    const { width, channels, levels } = this.shape;
    const plane = width * this.shape.height;
    const data = item.image.data;
    for (let i = 0; i < plane; i++) {
      let r, g, bl;
      if (this.isPending(i)) {
        r = (i % width + Math.floor(i / width)) % 2 ? 226 : 240;
        g = r === 226 ? 231 : 243;
        bl = r === 226 ? 240 : 248;
      } else {
        [r, g, bl] = (this.known[i] ? pixelRgb : generatedRgb)(item.pixels, i, plane, channels, levels);
        if (item.surprise) [r, g, bl] = blendSurprise([r, g, bl], item.surprise[i]);
      }
      const o = i * 4;
      data[o] = r; data[o + 1] = g; data[o + 2] = bl; data[o + 3] = 255;
    }
    item.ctx.putImageData(item.image, 0, 0);
  }

  /** Saves alternative b as a PNG: the plain image, 8× upscaled, no tint. */
  async download(b) {
    const item = this.items[b];
    if (!item?.pixels) return;
    const { width, height, channels, levels } = this.shape;
    const plane = width * height;
    const scale = 8;
    const canvas = new OffscreenCanvas(width * scale, height * scale);
    const ctx = canvas.getContext('2d');
    for (let i = 0; i < plane; i++) {
      const [r, g, bl] = pixelRgb(item.pixels, i, plane, channels, levels);
      ctx.fillStyle = `rgb(${r},${g},${bl})`;
      ctx.fillRect((i % width) * scale, Math.floor(i / width) * scale, scale, scale);
    }
    const blob = await canvas.convertToBlob({ type: 'image/png' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `pixelcnn-${b + 1}.png`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  }
}

/** A score the way captions and the status line spell it: "−12.3" with a real minus sign. */
export function formatScore(nats) {
  const text = Math.abs(nats) === Infinity ? '\u221e' : Math.abs(nats).toFixed(1);
  return nats < 0 && text !== '0.0' ? `\u2212${text}` : text;
}
