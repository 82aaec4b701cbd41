// The drawing canvas: a W×H grid of level values plus a "known" mask, edited with pointer
// events (mouse, touch and pen alike) or the keyboard, and drawn zoomed with unknown pixels
// hatched, or filled in by a completion's preview.

import { generatedRgb, pixelRgb } from './colour.js';
import { surpriseColour } from './surprise.js';

export const TOOLS = ['pen', 'eraser', 'hide', 'eyedropper'];

export class Editor {
  /**
   * @param {HTMLCanvasElement} canvas  drawn at canvas.width × canvas.height device pixels
   * @param {{width: number, height: number, levels: number}} shape
   */
  constructor(canvas, shape) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.tool = 'pen';
    this.brush = 2;
    /** The pen's colour as level indices, one per channel (grey models: ink, the top level). */
    this.colour = null;
    /** Called with the picked colour (level indices) when the eyedropper takes a pixel's. */
    this.onpick = null;
    /** Called after every change of the pixels or the mask. */
    this.onchange = null;
    /** Called when a stroke (pointer down … up, or a key press) has changed the drawing. */
    this.onstroke = null;
    /**
     * A completion shown in the hidden pixels, { pixels [C, H, W], pending(i) }, or null. It
     * is not part of the drawing: the first change of the drawing removes it.
     */
    this.preview = null;
    /** The keyboard cursor [x, y], drawn while the canvas has focus. */
    this.cursor = [0, 0];
    /** Surprise (nats) per pixel laid over the known pixels, or null for the plain view. */
    this.overlay = null;
    this.setShape(shape);
    this.#listen();
  }

  /** Pixels are [C, H, W] level indices; the mask `known` is [H, W]. */
  setShape({ width, height, levels, channels = 1 }) {
    this.width = width;
    this.height = height;
    this.levels = levels;
    this.channels = channels;
    this.colour = new Array(channels).fill(channels === 1 ? levels - 1 : 0);
    this.pixels = new Uint8Array(channels * width * height);
    this.pixels.fill(this.paper);
    this.known = new Uint8Array(width * height).fill(1);
    this.hatch = this.#makeHatch();
    this.render();
  }

  /** The background level: grey models draw ink (high levels) on paper 0, colour ones on white. */
  get paper() {
    return this.channels === 1 ? 0 : this.levels - 1;
  }

  clear() {
    this.pixels.fill(this.paper);
    this.known.fill(1);
    this.#changed();
  }

  /** Replaces the image (all known); `pixels` holds level indices. */
  load(pixels) {
    if (pixels.length !== this.pixels.length) {
      throw new Error(`expected ${this.pixels.length} pixels, got ${pixels.length}`);
    }
    this.pixels.set(pixels);
    this.known.fill(1);
    this.#changed();
  }

  /** Replaces pixels and mask, e.g. with a snapshot taken before. */
  restore(pixels, known) {
    if (pixels.length !== this.pixels.length || known.length !== this.known.length) {
      throw new Error(`expected ${this.pixels.length} pixels and ${this.known.length} mask entries`);
    }
    this.pixels.set(pixels);
    this.known.set(known);
    this.#changed();
  }

  /** Shows a completion in the hidden pixels (see `preview`); null shows the plain drawing. */
  setPreview(preview) {
    this.preview = preview;
    this.render();
  }

  /** Hides rows fromRow..toRow-1 (by default to the bottom). */
  hideRows(fromRow, toRow = this.height) {
    for (let y = fromRow; y < Math.min(toRow, this.height); y++) {
      this.known.fill(0, y * this.width, (y + 1) * this.width);
    }
    this.#changed();
  }

  /** Sets (or with null removes) the surprise overlay and repaints. */
  setOverlay(values) {
    this.overlay = values;
    this.render();
  }

  /** The cell [x, y] under a pointer event (may lie outside the grid at the border). */
  cellAt(ev) {
    const rect = this.canvas.getBoundingClientRect();
    return [
      Math.floor(((ev.clientX - rect.left) / rect.width) * this.width),
      Math.floor(((ev.clientY - rect.top) / rect.height) * this.height),
    ];
  }

  #changed() {
    this.preview = null;
    this.render();
    this.onchange?.();
  }

  #listen() {
    let last = null;
    let painted = false;
    const cell = (ev) => this.cellAt(ev);
    this.canvas.addEventListener('pointerdown', (ev) => {
      if (this.disabled || (ev.pointerType === 'mouse' && ev.button !== 0)) return;
      ev.preventDefault();
      this.canvas.setPointerCapture(ev.pointerId);
      last = cell(ev);
      if (this.tool === 'eyedropper') {
        this.#pick(last[0], last[1]);
        last = null;
        return;
      }
      this.#paint(last[0], last[1]);
      painted = true;
      this.#changed();
    });
    this.canvas.addEventListener('pointermove', (ev) => {
      if (!last || this.disabled) return;
      ev.preventDefault();
      // Coalesced events keep fast strokes (pens, phones) continuous.
      const events = ev.getCoalescedEvents ? ev.getCoalescedEvents() : [ev];
      for (const e of events.length ? events : [ev]) {
        const next = cell(e);
        this.#line(last, next);
        last = next;
      }
      this.#changed();
    });
    const end = () => {
      last = null;
      if (painted) this.onstroke?.();
      painted = false;
    };
    this.canvas.addEventListener('pointerup', end);
    this.canvas.addEventListener('pointercancel', end);
    this.canvas.addEventListener('keydown', (ev) => this.#key(ev));
    for (const type of ['focus', 'blur']) this.canvas.addEventListener(type, () => this.render());
  }

  /** Arrow keys move the cursor, Space paints under it, Shift+arrow moves and paints. */
  #key(ev) {
    if (this.disabled || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const step = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[ev.key];
    if (!step && ev.key !== ' ') return;
    ev.preventDefault();
    if (step) {
      const [x, y] = this.cursor;
      this.cursor = [
        Math.min(this.width - 1, Math.max(0, x + step[0])),
        Math.min(this.height - 1, Math.max(0, y + step[1])),
      ];
    }
    if (!step || ev.shiftKey) {
      if (this.tool === 'eyedropper') {
        this.#pick(...this.cursor);
      } else {
        this.#paint(...this.cursor);
        this.#changed();
        this.onstroke?.();
        return;
      }
    }
    this.render();
  }

  /** Paints every cell on the segment a→b (Bresenham), so fast moves leave no gaps. */
  #line([x0, y0], [x1, y1]) {
    const dx = Math.abs(x1 - x0), dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    for (;;) {
      this.#paint(x0, y0);
      if (x0 === x1 && y0 === y1) break;
      const e2 = 2 * err;
      if (e2 >= dy) { err += dy; x0 += sx; }
      if (e2 <= dx) { err += dx; y0 += sy; }
    }
  }

  /** Takes the pen colour from a known pixel, then switches back to the pen. */
  #pick(x, y) {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const plane = this.width * this.height;
    const i = y * this.width + x;
    if (!this.known[i]) return;
    this.colour = Array.from({ length: this.channels }, (_, c) => this.pixels[c * plane + i]);
    this.onpick?.(this.colour);
  }

  /** Applies the tool to a brush-sized square whose top-left cell is (x, y) minus half. */
  #paint(cx, cy) {
    const r0 = Math.floor((this.brush - 1) / 2);
    for (let y = cy - r0; y < cy - r0 + this.brush; y++) {
      for (let x = cx - r0; x < cx - r0 + this.brush; x++) {
        if (x < 0 || y < 0 || x >= this.width || y >= this.height) continue;
        const i = y * this.width + x;
        const plane = this.width * this.height;
        if (this.tool === 'hide') {
          this.known[i] = 0;
        } else {
          this.known[i] = 1;
          for (let c = 0; c < this.channels; c++) {
            this.pixels[c * plane + i] = this.tool === 'pen' ? this.colour[c] : this.paper;
          }
        }
      }
    }
  }

  #makeHatch() {
    const tile = document.createElement('canvas');
    tile.width = tile.height = 8;
    const t = tile.getContext('2d');
    t.fillStyle = '#e8ecf4';
    t.fillRect(0, 0, 8, 8);
    t.strokeStyle = '#8a96b0';
    t.lineWidth = 1.5;
    t.beginPath();
    t.moveTo(-2, 10); t.lineTo(10, -2);
    t.moveTo(-2, 2); t.lineTo(2, -2);
    t.moveTo(6, 10); t.lineTo(10, 6);
    t.stroke();
    return this.ctx.createPattern(tile, 'repeat');
  }

  render() {
    const { ctx, width, height } = this;
    const plane = width * height;
    const cw = this.canvas.width / width, ch = this.canvas.height / height;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        if (!this.known[i] && this.preview && !this.preview.pending(i)) {
          const [r, g, b] = generatedRgb(this.preview.pixels, i, plane, this.channels, this.levels);
          ctx.fillStyle = `rgb(${r},${g},${b})`;
        } else if (!this.known[i]) {
          ctx.fillStyle = this.hatch;
        } else if (this.channels > 1 || this.pixels[i]) {
          const [r, g, b] = pixelRgb(this.pixels, i, plane, this.channels, this.levels);
          ctx.fillStyle = `rgb(${r},${g},${b})`;
        } else {
          continue;
        }
        ctx.fillRect(Math.floor(x * cw), Math.floor(y * ch), Math.ceil(cw), Math.ceil(ch));
      }
    }
    if (this.overlay) {
      // Known pixels only: a hidden pixel's value is a placeholder the model will replace.
      for (let i = 0; i < plane; i++) {
        if (!this.known[i]) continue;
        const [r, g, b, a] = surpriseColour(this.overlay[i]);
        ctx.fillStyle = `rgba(${r},${g},${b},${a})`;
        const x = i % width, y = Math.floor(i / width);
        ctx.fillRect(Math.floor(x * cw), Math.floor(y * ch), Math.ceil(cw), Math.ceil(ch));
      }
    }
    // A faint grid shows the pixel size the model works at.
    ctx.strokeStyle = 'rgba(0,0,0,0.06)';
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let x = 1; x < width; x++) { ctx.moveTo(Math.round(x * cw) + 0.5, 0); ctx.lineTo(Math.round(x * cw) + 0.5, this.canvas.height); }
    for (let y = 1; y < height; y++) { ctx.moveTo(0, Math.round(y * ch) + 0.5); ctx.lineTo(this.canvas.width, Math.round(y * ch) + 0.5); }
    ctx.stroke();
    if (document.activeElement === this.canvas) {
      // The keyboard cursor: the brush's square, as #paint covers it.
      const r0 = Math.floor((this.brush - 1) / 2);
      const [x, y] = this.cursor;
      ctx.strokeStyle = '#2457c5';
      ctx.lineWidth = 3;
      ctx.strokeRect((x - r0) * cw + 1.5, (y - r0) * ch + 1.5, this.brush * cw - 3, this.brush * ch - 3);
    }
  }
}
