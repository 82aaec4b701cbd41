// The surprise map's controller: scores the drawing (throttled while it is edited) and the
// finished alternatives, lays the maps over them and reads a pixel's surprise out. The colour
// scale and legend are www/surprise.js.

import { $, showError, state } from './app-state.js';
import { drawLegend, formatNats, setSurpriseMax } from './surprise.js';

// At most one scoring of the drawing per this many ms while it is being edited: a forward
// pass of one image costs tens of ms on the CPU backend, a stroke fires events every few ms.
const SURPRISE_THROTTLE_MS = 200;

export function setSurpriseMap(on) {
  const s = state.surprise;
  s.on = on;
  $('surprise-legend').hidden = !on;
  $('draw-readout').hidden = !on;
  $('alt-readout').hidden = !on || !state.finished;
  if (on) {
    $('draw-readout').textContent = 'Point at (or tap) a pixel to see its surprise.';
    $('alt-readout').textContent = 'Point at (or tap) a pixel of an alternative to see its surprise.';
    s.drawingDirty = true;
    scoreDrawing();
    if (state.finished) scoreAlternatives();
  } else {
    clearTimeout(s.drawingTimer);
    s.drawingTimer = 0;
    s.drawing = null;
    s.alternatives = null;
    state.editor.setOverlay(null);
    state.results.setSurprise(null);
  }
}

/** The drawing was edited (or its class changed): rescore it, at most every SURPRISE_THROTTLE_MS. */
function drawingChanged() {
  const s = state.surprise;
  if (!s.on) return;
  s.drawingDirty = true;
  if (!s.drawingTimer && !s.drawingBusy) s.drawingTimer = setTimeout(scoreDrawing, SURPRISE_THROTTLE_MS);
}

async function scoreDrawing() {
  const s = state.surprise;
  s.drawingTimer = 0;
  if (!s.on || s.drawingBusy || !s.drawingDirty) return;
  s.drawingBusy = true;
  s.drawingDirty = false;
  try {
    const { editor } = state;
    const surprise = perPixel(await state.engine.score(editor.pixels.slice(), currentLabel()), 1, state.info);
    if (s.on) {
      s.drawing = surprise;
      editor.setOverlay(surprise);
      s.scoredRuns++;
    }
  } catch (err) {
    showError(err);
  } finally {
    s.drawingBusy = false;
    // Edits that came during the pass get their own, after the usual pause.
    if (s.on && s.drawingDirty && !s.drawingTimer) s.drawingTimer = setTimeout(scoreDrawing, SURPRISE_THROTTLE_MS);
  }
}

export async function scoreAlternatives() {
  const finished = state.finished;
  if (!finished) return;
  try {
    const batch = finished.pixels.length / (state.info.channels * state.info.width * state.info.height);
    const values = await state.engine.score(finished.pixels, finished.label, finished.order);
    const surprise = perPixel(values, batch, state.info);
    // The map may have been turned off, or a new completion started, while this ran.
    if (!state.surprise.on || state.finished !== finished) return;
    state.surprise.alternatives = surprise;
    state.results.setSurprise(surprise);
    $('alt-readout').hidden = false;
    state.surprise.scoredRuns++;
  } catch (err) {
    showError(err);
  }
}

/**
 * Per-pixel surprise [B, H, W] from per-value surprise [B, C, H, W] of images of `shape`
 * ({ channels, width, height }): the channels' sum. One channel: `values` itself.
 */
export function perPixel(values, batch, { channels, width, height }) {
  if (channels === 1) return values;
  const plane = width * height;
  const out = new Float32Array(batch * plane);
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < channels; c++) {
      for (let i = 0; i < plane; i++) out[b * plane + i] += values[(b * channels + c) * plane + i];
    }
  }
  return out;
}

function currentLabel() {
  const label = $('label').value;
  return label === '' ? null : Number(label);
}

/** Writes "Drawing, pixel (row, column): 0.42 nats" for the cell (x, y) into `line`. */
function readout(line, what, x, y, surprise, known) {
  if (!state.surprise.on || !surprise) return;
  const { width, height } = state.info;
  if (x < 0 || y < 0 || x >= width || y >= height) return;
  const i = y * width + x;
  line.textContent = known && !known[i]
    ? `${what}, pixel (${y}, ${x}): hidden, the model fills it in`
    : `${what}, pixel (${y}, ${x}): ${formatNats(surprise[i])}`;
}

/** The colour scale of a model's maps, 0 to `max` nats, in the legend. */
export function showSurpriseScale(max) {
  setSurpriseMax(max);
  drawLegend($('legend-scale'));
  $('legend-ticks').replaceChildren(...[0, 1, 2, 3, 4].map((k) => {
    const tick = document.createElement('span');
    tick.textContent = `${(k * max) / 4}${k === 4 ? '+' : ''}`;
    return tick;
  }));
  $('surprise-legend').setAttribute('aria-label',
    `Colour scale: 0 nats (expected) clear, ${max} nats or more (very surprising) dark red`);
}

/** The map's switch, the rescoring on edits and the readouts under the pointer. */
export function wireSurpriseMap() {
  const { editor } = state;
  editor.onchange = drawingChanged;
  $('label').addEventListener('change', () => {
    state.drawing.labelPicked();
    drawingChanged();
  });
  drawLegend($('legend-scale'));
  $('surprise').checked = false;
  $('surprise').addEventListener('change', () => setSurpriseMap($('surprise').checked));
  const readDrawing = (ev) => {
    const [x, y] = editor.cellAt(ev);
    readout($('draw-readout'), 'Drawing', x, y, state.surprise.drawing, editor.known);
  };
  $('draw').addEventListener('pointermove', readDrawing);
  $('draw').addEventListener('pointerdown', readDrawing);
  $('results').addEventListener('pointermove', readAlternative);
  $('results').addEventListener('pointerdown', readAlternative);
}

/** The readout of the alternative's pixel under the pointer. */
function readAlternative(ev) {
  const canvas = ev.target.closest?.('.alt canvas');
  if (!canvas) return;
  const b = [...$('results').querySelectorAll('.alt canvas')].indexOf(canvas);
  const rect = canvas.getBoundingClientRect();
  const x = Math.floor(((ev.clientX - rect.left) / rect.width) * state.info.width);
  const y = Math.floor(((ev.clientY - rect.top) / rect.height) * state.info.height);
  const plane = state.info.width * state.info.height;
  const maps = state.surprise.alternatives;
  readout($('alt-readout'), `Alternative ${b + 1}`, x, y, maps?.subarray(b * plane, (b + 1) * plane), null);
}
