// Page controller: starts the engine (www/engine.js, in Web Workers), wires the editor, runs
// and animates completions.
//
// URL parameters:
//   ?backend=auto|webgpu|cpu   force a backend (default auto: the CPU engine, and WebGPU where
//                              it was measured faster on this device for the batch size)
//   ?workers=N                 CPU workers that share a pool of candidates (default: the
//                              cores but one, at most four)
//   ?model=mnist|emoji|URL     a shipped model by name, or the URL of a manifest (default mnist)
//   ?digits=URL                test images for a manifest given by URL
//                              (default www/models/mnist-digits.json)
//   ?image=N                   the test image the page opens with (default 0)
//   ?embed                     compact layout for an <iframe> (see www/embed.js)
//   #scene=…                   a shared scene (www/scene.js): model, drawing, mask and settings;
//                              it takes precedence over ?model and ?image
//   ?bench[&batches=1,16&maxPixels=N&naivePixels=N&repeats=N]   run the browser benchmark

import { Editor, TOOLS } from './editor.js';
import { Engine } from './engine.js';
import { defaultCandidates } from './backend-choice.js';
import { Drawing } from './drawing.js';
import { equalBytes } from './history.js';
import { listenForImages } from './image-drop.js';
import { decodeImageFile, fitImage, ImageInputError } from './image-input.js';
import { Results } from './results.js';
import { decodeImage, encodeScene, parseScene, sceneFromHash } from './scene.js';
import { ariaKeys, keyLabel, shortcutFor } from './shortcuts.js';
import { drawLegend, formatNats, setSurpriseMax, surpriseMaxFor } from './surprise.js';

const params = new URLSearchParams(location.search);
const base = new URL('.', import.meta.url); // www/

// The shipped models the picker offers, with their held-out test images.
const MODELS = {
  mnist: { manifest: 'models/mnist.json', images: 'models/mnist-digits.json' },
  emoji: { manifest: 'models/emoji.json', images: 'models/emoji-images.json' },
};

/** Manifest and test-image URLs for a picker name or a manifest URL. */
function modelSource(key) {
  const shipped = MODELS[key];
  if (shipped) {
    return { key, manifest: new URL(shipped.manifest, base).href, images: new URL(shipped.images, base).href };
  }
  return {
    key,
    manifest: new URL(key, location.href).href,
    images: params.get('digits') ?? new URL(MODELS.mnist.images, base).href,
  };
}

// The first image shown is a test image whose lower part is hidden: one click on Complete
// shows what the model does. From this row on (a fraction of the height) it is hidden.
const FIRST_HIDDEN_FROM = 0.6;

const $ = (id) => document.getElementById(id);
const app = $('app');

const state = {
  engine: null,
  info: null,
  editor: null,
  results: new Results($('results')),
  running: 0, // id of the completion being animated; 0 = none
  lastFrame: null,
  finishedRuns: 0,
  digits: null,
  digitIndex: 0,
  source: null, // { key, manifest, images } of the loaded model
  loads: 0, // bumps on every model load attempt, so a slow load cannot overwrite a newer one
  // The surprise map: per-pixel −log p (nats, [H, W] each) of the drawing and of the finished
  // alternatives, recomputed when they change while the map is on.
  surprise: {
    on: false,
    drawing: null,
    alternatives: null, // [B, H, W], for the alternatives in state.finished
    drawingDirty: false, // the drawing changed since `drawing` was computed
    drawingBusy: false,
    drawingTimer: 0,
    scoredRuns: 0, // bumps on every map computed (a hook for tests)
  },
  // The last finished completion, { pixels [B, C, H, W], label, scores, order, kind, opts };
  // null while none.
  finished: null,
  // The drawing a completion's alternatives belong to ({ pixels, known }), while they do.
  resultsInput: null,
  shown: 0, // the alternative the drawing shows in its hidden pixels
  drawing: null, // the drawing's history, class and brought image (www/drawing.js)
  scene: null, // a shared scene (parsed), applied once its model is loaded
};

let runCounter = 0;

function setState(s) {
  app.dataset.state = s;
}

/** Fills a notice box: a plain sentence, then (when given) the technical detail folded away. */
function explain(box, sentence, detail) {
  box.replaceChildren(sentence);
  if (detail && detail !== sentence) {
    const more = document.createElement('details');
    const summary = document.createElement('summary');
    summary.textContent = 'Details';
    const text = document.createElement('p');
    text.textContent = detail;
    more.append(summary, text);
    box.append(more);
  }
  box.hidden = false;
}

/**
 * Shows an error; `sentence` says what happened and what to do, the error's own message goes
 * under Details. With `keepState` the page stays usable (a previous model is still loaded).
 */
function showError(err, sentence = null, keepState = false) {
  const message = err instanceof Error ? err.message : String(err);
  console.warn(err);
  explain($('error'), sentence ?? message, sentence ? message : null);
  if (keepState) return;
  $('status').textContent = 'Error';
  setState('error');
}

function clearError() {
  $('error').hidden = true;
  $('error').textContent = '';
}

function notice(text, detail = null) {
  const box = $('notice');
  if (!text) {
    box.replaceChildren();
    box.hidden = true;
    return;
  }
  explain(box, text, detail);
}

window.addEventListener('error', (ev) => showError(ev.error ?? ev.message));
window.addEventListener('unhandledrejection', (ev) => showError(ev.reason));

function backendLabel(name) {
  return name === 'webgpu' ? 'WebGPU' : name === 'cpu' ? 'CPU (wasm)' : name;
}

/**
 * Until the visitor (or a shared scene) sets the pool size, it follows the engines: larger
 * where WebGPU draws it as fast as the CPU draws the default.
 */
function useDefaultCandidates() {
  if (state.candidatesSet) return;
  const n = defaultCandidates(state.engine);
  if (Number($('candidates').value) === n) return;
  $('candidates').value = String(n);
  const k = Number($('alternatives').value);
  $('candidates-value').textContent = n < k ? `${k} (≥ alternatives)` : String(n);
}

/** The footer: which backend the next completion runs on, and why. */
function describeBackends() {
  const { engine } = state;
  if (!engine) return;
  useDefaultCandidates();
  // A completion runs its whole pool of candidates as one batch.
  const n = Math.max(Number($('alternatives').value), Number($('candidates').value));
  const { backend, reason } = engine.describe(n);
  $('backend').textContent = `${backendLabel(backend)} — ${reason}`;
  app.dataset.backend = backend;
}

async function main() {
  setState('loading');
  if (params.has('embed')) {
    document.body.classList.add('embed');
    reportHeight();
  }
  if (params.has('alternatives')) {
    const k = Math.min(16, Math.max(1, Math.floor(Number(params.get('alternatives'))) || 4));
    $('alternatives').value = String(k);
  }
  const preference = params.get('backend') ?? 'auto';
  $('status').textContent = 'Starting the engine…';
  const cpuWorkers = params.has('workers') ? Number(params.get('workers')) : undefined;
  state.engine = await Engine.create(preference, { countDispatches: params.has('bench'), cpuWorkers });
  state.engine.addEventListener('change', describeBackends);
  describeBackends();

  state.scene = readScene(location.hash);
  let key = state.scene?.model ?? params.get('model') ?? 'mnist';
  const picker = $('model');
  picker.addEventListener('change', () => switchModel(picker.value));
  showModelKey(key);
  if (!(await loadModel(modelSource(key)))) {
    if (!state.scene || key === 'mnist') return;
    // A link to a model that does not load still opens the page, on the default model.
    sceneNotice(`its model "${key}" could not be loaded`);
    state.scene = null;
    key = 'mnist';
    showModelKey(key);
    if (!(await loadModel(modelSource(key)))) return;
  }
  addEventListener('hashchange', openLinkedScene);

  if (params.has('bench')) return runBench();
  setState('ready');
  setBusy(false);
}

/**
 * Inside an iframe (?embed), posts the content height to the parent whenever it changes, so
 * that www/embed.js can size the iframe to it: nothing clipped, no inner scroll bar.
 */
function reportHeight() {
  if (window.parent === window) return;
  let last = 0;
  const post = () => {
    const height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height === last) return;
    last = height;
    window.parent.postMessage({ type: 'pixelcnn:height', height }, '*');
  };
  new ResizeObserver(post).observe(document.documentElement);
  post();
}

/** Shows `key` in the model picker, adding an entry for a manifest URL. */
function showModelKey(key) {
  const picker = $('model');
  if (![...picker.options].some((o) => o.value === key)) picker.add(new Option(`Other: ${key}`, key));
  picker.value = key;
}

/** Switches to another model from the picker, and remembers it in the URL. */
async function switchModel(key) {
  const previous = state.source?.key;
  if (state.running) stop();
  const url = new URL(location.href);
  url.searchParams.set('model', key);
  url.hash = ''; // a scene of the link belongs to the model it was opened with
  history.replaceState(null, '', url);
  if (await loadModel(modelSource(key))) {
    setState('ready');
    setBusy(false);
  } else if (previous) {
    // The engine keeps the model it had when a load fails: so does the page.
    $('model').value = previous;
    url.searchParams.set('model', previous);
    history.replaceState(null, '', url);
  }
}

/**
 * Loads a model into the engine and sets the page up for it. Returns false (with the error
 * shown) when it fails; a model loaded before stays loaded and usable.
 */
async function loadModel(source) {
  const load = ++state.loads;
  const hadModel = Boolean(state.info);
  clearError();
  $('complete').disabled = $('sample').disabled = true;
  $('status').textContent = 'Loading the model…';
  // The test images download while the engine loads the model.
  const digits = fetchDigits(source.images);
  let info;
  try {
    info = await state.engine.loadModel(source.manifest);
  } catch (err) {
    if (load !== state.loads) return false;
    showError(err, hadModel
      ? `The model ${source.key} could not be loaded, so the page keeps the ${state.source.key} model. Pick another model, or check the file.`
      : 'The model could not be loaded. Check the address in ?model=, or pick a shipped model above.', hadModel);
    if (hadModel) {
      $('status').textContent = `Still using the ${state.source.key} model.`;
      setBusy(false);
    }
    return false;
  }
  if (load !== state.loads) return false;
  state.info = info;
  state.source = source;
  $('model-name').textContent = `${state.info.name} (${(state.info.params / 1e3).toFixed(0)}k parameters, ` +
    `test NLL ${state.info.testNllNats.toFixed(1)} nats)`;
  $('model-name').title = state.info.dataset;
  const label = $('label');
  label.replaceChildren(new Option('any', ''));
  for (let c = 0; c < state.info.classes; c++) label.add(new Option(String(c), String(c)));
  label.closest('label').hidden = state.info.classes === 0;
  const colour = state.info.channels > 1;
  for (const el of document.querySelectorAll('.colour-only')) el.hidden = !colour;
  document.querySelector('[data-tool=pen]').title = colour ? 'Draw with the pen colour (known pixels)' : 'Draw ink (known black pixels)';
  document.querySelector('[data-tool=eraser]').title = colour ? 'Paint white (known pixels)' : 'Draw background (known white pixels)';
  $('draw').setAttribute('aria-label', `Drawing canvas, ${state.info.width} by ${state.info.height} pixels`);

  if (state.editor) {
    state.editor.setShape(state.info);
  } else {
    state.editor = new Editor($('draw'), state.info);
    state.drawing = new Drawing(state.editor, $('label'));
    wireControls();
  }
  // A map of the old model's images means nothing for the new one's.
  if (state.surprise.on) {
    $('surprise').checked = false;
    setSurpriseMap(false);
  }
  state.finished = null;
  state.resultsInput = null;
  state.lastFrame = null;
  state.results.container.replaceChildren();
  $('results-note').hidden = true;
  $('alt-readout').hidden = true;
  buildPalette();
  selectTool('pen');
  const max = surpriseMaxFor(state.info);
  setSurpriseMax(max);
  drawLegend($('legend-scale'));
  $('legend-ticks').replaceChildren(...[0, 1, 2, 3, 4].map((k) => {
    const tick = document.createElement('span');
    tick.textContent = `${(k * max) / 4}${k === 4 ? '+' : ''}`;
    return tick;
  }));
  $('surprise-legend').setAttribute('aria-label',
    `Colour scale: 0 nats (expected) clear, ${max} nats or more (very surprising) dark red`);
  $('status').textContent = 'Draw, hide part of it, then Complete.';
  await loadDigits(source.images, digits);
  if (load !== state.loads) return true;
  openDrawing(source.key);
  return true;
}

/**
 * The drawing a model opens with: the shared scene of the link, else the model's drawing from
 * before (switching back to a model keeps its drawing and history), else the first impression.
 */
function openDrawing(key) {
  const scene = state.scene;
  state.scene = null;
  if (scene && applyScene(scene)) return;
  const kept = state.drawing.useModel(key);
  if (kept) {
    state.drawing.restore(kept);
  } else if (state.digits) {
    // The first impression: a held-out image with its lower part hidden, ready to complete.
    state.digitIndex = Math.max(0, Math.floor(Number(params.get('image')) || 0));
    const image = nextTestImage();
    state.drawing.change((editor) => {
      editor.load(image.pixels);
      editor.hideRows(Math.round(state.info.height * FIRST_HIDDEN_FROM));
    }, { label: image.label, fromImage: true });
    const what = state.info.channels > 1 ? 'emoji' : 'digit';
    showHint(`A held-out test ${what} with its lower part hidden: press Complete to see the model fill it in. ` +
      'Then try your own: draw (or drop an image), hide any part with the ▨ Hide brush, and Complete again.');
  } else {
    state.drawing.record();
    showHint('Draw something (or drop an image), hide part of it with the ▨ Hide brush, then press Complete.');
  }
}

function showHint(text) {
  $('hint').textContent = text;
  $('hint').hidden = false;
}

// A pen palette for colour models (RGB, 0–255; scaled to the model's levels).
const PALETTE = [
  [0, 0, 0], [255, 255, 255], [128, 128, 128], [230, 40, 40], [255, 140, 0], [255, 210, 30],
  [60, 170, 60], [40, 170, 220], [40, 80, 200], [140, 60, 180], [240, 120, 170], [130, 80, 40],
];

function buildPalette() {
  const box = $('palette');
  box.replaceChildren();
  const { editor, info } = state;
  if (info.channels !== 3) return;
  const scale = (v) => Math.round((v * (info.levels - 1)) / 255);
  const select = (levels) => {
    editor.colour = levels;
    for (const b of box.querySelectorAll('button')) {
      b.setAttribute('aria-pressed', String(b.dataset.levels === levels.join(',')));
    }
  };
  for (const rgb of PALETTE) {
    const button = document.createElement('button');
    button.type = 'button';
    const levels = rgb.map(scale);
    button.dataset.levels = levels.join(',');
    button.style.background = `rgb(${rgb.join(',')})`;
    button.title = `Pen colour rgb(${rgb.join(', ')})`;
    button.setAttribute('aria-label', button.title);
    button.addEventListener('click', () => { select(levels); selectTool('pen'); });
    box.append(button);
  }
  select(PALETTE[0].map(scale));
  editor.onpick = (levels) => {
    select(levels);
    selectTool('pen');
  };
}

function wireControls() {
  const { editor } = state;
  for (const button of document.querySelectorAll('[data-tool]')) {
    button.addEventListener('click', () => selectTool(button.dataset.tool));
  }
  $('brush').addEventListener('change', () => { editor.brush = Number($('brush').value); });
  editor.brush = Number($('brush').value);
  $('clear').addEventListener('click', () => state.drawing.change((e) => e.clear(), { label: '' }));
  $('hide-bottom').addEventListener('click', () => state.drawing.change((e) => e.hideRows(Math.floor(e.height / 2))));
  $('test-digit').addEventListener('click', () => {
    const image = nextTestImage();
    state.drawing.change((e) => e.load(image.pixels), { label: image.label, fromImage: true });
  });
  $('undo').addEventListener('click', undo);
  $('redo').addEventListener('click', redo);
  state.drawing.onchange = (kind) => {
    updateUndo();
    // Back at the drawing the alternatives were made for, the drawing shows them again.
    if (kind === 'restore' && state.finished) showOnDrawing(state.shown);
  };
  state.drawing.onbrought = (movable) => {
    // A binarized model's ink is a threshold the visitor can move while the image is fresh.
    $('threshold-row').hidden = !(movable && state.info.channels === 1 && state.info.levels === 2);
  };
  $('copy-link').addEventListener('click', copyLink);
  $('open-image').addEventListener('click', () => $('image-file').click());
  listenForImages({
    zone: $('canvas-area'),
    picker: $('image-file'),
    onfile: bringImage,
    onhover: (over) => { $('drop-hint').hidden = !over; },
  });
  $('threshold').addEventListener('input', () => {
    showThreshold();
    state.drawing.refit(false);
  });
  $('threshold').addEventListener('change', () => state.drawing.refit(true));
  $('preview').addEventListener('change', () => showOnDrawing(state.shown));
  state.results.onuse = useAlternative;
  $('results').addEventListener('click', (ev) => {
    const canvas = ev.target.closest?.('.alt canvas');
    if (!canvas) return;
    $('preview').checked = true;
    showOnDrawing([...$('results').querySelectorAll('.alt canvas')].indexOf(canvas));
  });
  wireKeyboard();
  $('seed').addEventListener('change', () => { $('seed').value = String(seedValue()); });
  for (const id of ['temperature', 'alternatives', 'candidates']) {
    const input = $(id);
    const show = () => {
      const k = Number($('alternatives').value), n = Number($('candidates').value);
      $('temperature-value').textContent = Number($('temperature').value).toFixed(2);
      $('alternatives-value').textContent = String(k);
      // The engine draws at least as many candidates as it returns alternatives.
      $('candidates-value').textContent = n < k ? `${k} (≥ alternatives)` : String(n);
      describeBackends();
    };
    // Before `show`: a pool the visitor set is never replaced by the default.
    if (id === 'candidates') input.addEventListener('input', () => { state.candidatesSet = true; });
    input.addEventListener('input', show);
    show();
  }
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
  const readAlternative = (ev) => {
    const canvas = ev.target.closest?.('.alt canvas');
    if (!canvas) return;
    const b = [...$('results').querySelectorAll('.alt canvas')].indexOf(canvas);
    const rect = canvas.getBoundingClientRect();
    const x = Math.floor(((ev.clientX - rect.left) / rect.width) * state.info.width);
    const y = Math.floor(((ev.clientY - rect.top) / rect.height) * state.info.height);
    const plane = state.info.width * state.info.height;
    const maps = state.surprise.alternatives;
    readout($('alt-readout'), `Alternative ${b + 1}`, x, y, maps?.subarray(b * plane, (b + 1) * plane), null);
  };
  $('results').addEventListener('pointermove', readAlternative);
  $('results').addEventListener('pointerdown', readAlternative);
  $('complete').addEventListener('click', () => run('complete'));
  $('sample').addEventListener('click', () => run('sample'));
  $('stop').addEventListener('click', stop);
}

function selectTool(tool) {
  if (!TOOLS.includes(tool)) return;
  state.editor.tool = tool;
  for (const b of document.querySelectorAll('[data-tool]')) {
    b.setAttribute('aria-pressed', String(b.dataset.tool === tool));
  }
  if (tool === 'hide' && Number($('brush').value) < 3) {
    $('brush').value = '3';
    state.editor.brush = 3;
  }
}

/** Fetches a test-image file; the promise carries the error instead of rejecting. */
function fetchDigits(url) {
  return fetch(url)
    .then((response) => {
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return response.json();
    })
    .catch((err) => ({ error: err }));
}

/** Takes the test images of `url` (fetched meanwhile by `fetching`) for the loaded model. */
async function loadDigits(url, fetching) {
  const button = $('test-digit');
  button.disabled = true;
  state.digits = null;
  try {
    const data = await fetching;
    if (data.error) throw data.error;
    const size = state.info.channels * state.info.width * state.info.height;
    if (data.width !== state.info.width || data.height !== state.info.height) {
      throw new Error(`digits are ${data.width}×${data.height}, the model wants ${state.info.width}×${state.info.height}`);
    }
    state.digits = data.digits.filter((d) => Array.isArray(d.pixels) && d.pixels.length === size);
    if (!state.digits.length) throw new Error('the file has no usable digits');
    button.disabled = false;
    button.title = "Load an image from the model's held-out test set";
  } catch (err) {
    // Optional content: the app works without it, so this is a tooltip, not an error.
    button.title = `Test images unavailable (${url}: ${err.message})`;
  }
}

/** The next held-out test image: its pixels (level indices) and its class ('' for none). */
function nextTestImage() {
  const digit = state.digits[state.digitIndex++ % state.digits.length];
  const top = state.info.levels - 1;
  // Grey test files store ink as 0/1 whatever the levels; colour ones store the levels.
  const pixels = state.info.channels === 1 ? digit.pixels.map((v) => (v ? top : 0)) : digit.pixels;
  const label = state.info.classes > 0 && Number.isInteger(digit.label) ? String(digit.label) : '';
  return { pixels, label };
}

function setBusy(busy) {
  $('complete').disabled = busy;
  $('sample').disabled = busy;
  $('stop').disabled = !busy;
  state.editor.disabled = busy;
  updateUndo();
}

/** start() options; a completion also draws `candidates` and keeps the best-fitting. */
function options(kind) {
  const label = $('label').value;
  const opts = {
    alternatives: Number($('alternatives').value),
    temperature: Number($('temperature').value),
    seed: seedValue(),
    label: label === '' ? null : Number(label),
  };
  // Sample has no known pixels to fit, so the plain sampler is all it needs.
  if (kind === 'complete') opts.candidates = Number($('candidates').value);
  return opts;
}

/** The seed field as the integer the engine wants. */
function seedValue() {
  return Math.min(2 ** 32 - 1, Math.max(0, Math.floor(Number($('seed').value) || 0)));
}

/** Runs a completion ("complete": fill the hidden pixels; "sample": a fresh image). */
async function run(kind) {
  const { engine, editor, info } = state;
  clearError();
  const plane = info.width * info.height;
  const known = kind === 'sample' ? new Uint8Array(plane) : editor.known.slice();
  if (!known.includes(0)) {
    notice('Nothing is hidden: use the Hide brush (or "Hide bottom half") to mark pixels for the model to fill in.');
    return;
  }
  notice(null);
  const pixels = kind === 'sample' ? new Uint8Array(info.channels * plane) : editor.pixels.slice();
  const opts = options(kind);
  const id = (state.running = ++runCounter);
  setBusy(true);
  setState('running');
  state.finished = null;
  state.resultsInput = kind === 'complete' ? { pixels, known } : null;
  state.shown = 0;
  state.surprise.alternatives = null;
  $('alt-readout').hidden = true;
  $('results-note').hidden = true;
  try {
    engine.setCanvas(pixels, known);
    const plan = await engine.start(opts);
    if (state.running !== id) return;
    app.dataset.backend = plan.backend;
    app.dataset.order = plan.order;
    // The engine ranks candidates only when known pixels follow the hole in the order it
    // generates in; it scores them as it draws them.
    const { ranked, candidates: pool } = plan;
    state.results.reset(opts.alternatives, info, known, plan.generated);
    const on = backendLabel(plan.backend) + (plan.workers > 1 ? ` × ${plan.workers} workers` : '');
    const t0 = performance.now();
    // Pixels per step, sized so that one step (engine work + its readback, in the worker) takes
    // about STEP_BUDGET_MS: the alternatives grow at animation speed and Stop acts at once.
    let perStep = 1;
    let phase = 'drawing';
    let drawn = 0;
    for (;;) {
      // Stop (or a newer run) may have come while we yielded: the engine has dropped our job.
      if (state.running !== id) return;
      if (phase === 'scoring') {
        // The next step also scores the pool against the rest of the drawing: say so first.
        $('status').textContent = `Scoring ${pool} candidates against the rest of the drawing… ` +
          `${((performance.now() - t0) / 1000).toFixed(1)} s on ${on}`;
        await nextFrame();
        await nextFrame(); // the first resolves before the paint, the second after it
        if (state.running !== id) return;
      }
      const t = performance.now();
      const frame = await engine.step(perStep);
      const dt = performance.now() - t; // engine time only (the paint below is not counted)
      if (state.running !== id || frame.cancelled) return;
      const data = frame.pixels;
      const { total, done, finished } = frame;
      const steppedPixels = done - drawn;
      drawn = done;
      phase = frame.phase;
      const scores = finished && ranked ? Array.from(frame.scores ?? []) : null;
      state.lastFrame = { done, total, batch: frame.batch, pixels: data, scores };
      state.results.show(frame, data);
      showOnDrawing(state.shown);
      $('progress').value = done / total;
      const seconds = (performance.now() - t0) / 1000;
      const direction = plan.orderIndex === 0 ? '' : `, ${plan.order}`;
      $('status').textContent = ranked
        ? `Drawing ${pool} candidates: ${done} / ${total} pixels${direction} · ${seconds.toFixed(1)} s on ${on}`
        : `${done} / ${total} pixels${direction} · ${seconds.toFixed(1)} s on ${on}`;
      if (finished) {
        finish({ kind, opts, plan, data, scores, seconds, on });
        break;
      }
      if (steppedPixels === perStep) perStep = nextStepSize(perStep, dt);
    }
  } catch (err) {
    if (state.running === id) showError(err);
  } finally {
    if (state.running === id) {
      state.running = 0;
      setBusy(false);
    }
  }
}

/** Shows a finished completion: status, scores under the alternatives, their surprise map. */
function finish({ kind, opts, plan, data, scores, seconds, on }) {
  const { ranked, candidates: pool, poolUnits: hidden } = plan;
  const k = opts.alternatives;
  const time = `${seconds.toFixed(2)} s on ${on}${plan.orderIndex === 0 ? '' : `, generated ${plan.order}`}`;
  if (ranked) {
    $('status').textContent = `Done: the ${k} best-fitting of ${pool} candidates, ${hidden} hidden pixels each, in ${time}`;
    state.results.showScores(scores);
    $('results-note').textContent = !scores.some(Number.isNaN)
      ? `Best first. Each score is how likely the model finds the known pixels after the hole, `
        + `given that completion (log-probability in nats): closer to 0 fits better, and 1 nat more is e ≈ 2.7 times as likely.`
      : `The ${on} backend returned invalid scores (NaN) for some candidates, so this order is not a ranking.`;
    $('results-note').hidden = false;
  } else {
    $('status').textContent = `Done: ${k} × ${hidden} pixels in ${time}`;
    if (kind === 'complete') {
      $('results-note').textContent = plan.orderIndex === 0
        ? 'Nothing known comes after the hole, so there is nothing to rank these by.'
        : `Generated ${plan.order}, so every known pixel came before the hole: each alternative `
          + 'is drawn given all of them, and there is nothing left to rank them by.';
      $('results-note').hidden = false;
    }
  }
  state.finished = { pixels: data, label: opts.label, scores, order: plan.orderIndex, kind, opts };
  // The next run draws new alternatives unless the seed is locked.
  if (!$('seed-lock').checked) $('seed').value = String((opts.seed + 1) % 2 ** 32);
  state.finishedRuns++;
  setState('done');
  if (state.surprise.on) scoreAlternatives();
}

// ---------------------------------------------------------------- the drawing's history

function undo() {
  if (!state.running) state.drawing.undo();
}

function redo() {
  if (!state.running) state.drawing.redo();
}

function updateUndo() {
  const history = state.drawing?.history;
  $('undo').disabled = Boolean(state.running) || !history?.canUndo;
  $('redo').disabled = Boolean(state.running) || !history?.canRedo;
}

/** "Use this": alternative b becomes the drawing, every pixel known. */
function useAlternative(b) {
  const pixels = state.results.items[b]?.pixels;
  if (!pixels || state.running) return;
  state.drawing.change((editor) => editor.load(pixels));
  $('status').textContent = `Alternative ${b + 1} is the drawing now: hide a part of it and Complete again to refine it.`;
}

/**
 * Shows alternative b in the drawing's hidden pixels (while "Show on drawing" is on and the
 * drawing is still the one the alternatives were made for).
 */
function showOnDrawing(b) {
  const { editor, results } = state;
  state.shown = b;
  const pixels = results.items[b]?.pixels;
  const on = $('preview').checked && pixels && alternativesFitDrawing();
  editor.setPreview(on ? { pixels, pending: (i) => results.isPending(i) } : null);
  results.markShown(on ? b : -1);
}

/** Whether the alternatives on screen were made for the drawing as it is now. */
function alternativesFitDrawing() {
  const input = state.resultsInput;
  const { editor } = state;
  return Boolean(input) && equalBytes(input.pixels, editor.pixels) && equalBytes(input.known, editor.known);
}


// ---------------------------------------------------------------- bringing an image

/** A dropped, pasted or chosen file becomes the drawing, fitted to the model; bad files say why. */
async function bringImage(file) {
  if (state.running) stop();
  let image;
  try {
    image = await decodeImageFile(file);
  } catch (err) {
    const sentence = err instanceof ImageInputError ? err.message : 'That file could not be read as an image.';
    notice(`${sentence} The drawing is unchanged.`, err instanceof ImageInputError ? null : String(err));
    return;
  }
  notice(null);
  // Each image starts at the middle threshold.
  $('threshold').value = '0.5';
  showThreshold();
  state.drawing.bring(() => fitImage(image, state.info, Number($('threshold').value)));
  $('status').textContent = `${file.name || 'The image'} is the drawing now: hide a part of it, then Complete.`;
}

function showThreshold() {
  $('threshold-value').textContent = `${Math.round(Number($('threshold').value) * 100)} %`;
}

// ---------------------------------------------------------------- sharing a scene

/** The scene of the current drawing and settings; its seed is the one of the alternatives shown. */
function currentScene() {
  const { editor, finished } = state;
  const opts = options('complete');
  const showing = finished?.kind === 'complete' && alternativesFitDrawing()
    && ['label', 'temperature', 'alternatives', 'candidates'].every((k) => finished.opts[k] === opts[k]);
  return { model: state.source.key, ...opts, seed: showing ? finished.opts.seed : opts.seed, pixels: editor.pixels, known: editor.known };
}

/** The address that opens this scene: the page without its per-visit parameters. */
function sceneUrl() {
  const url = new URL(location.href);
  for (const key of [...url.searchParams.keys()]) if (key !== 'digits') url.searchParams.delete(key);
  url.hash = `scene=${encodeScene(currentScene(), state.info)}`;
  return url.href;
}

async function copyLink() {
  const url = sceneUrl();
  if (!params.has('embed')) history.replaceState(null, '', url);
  const box = $('share-link');
  try {
    await navigator.clipboard.writeText(url);
    box.hidden = true;
    $('status').textContent = 'Link copied: it opens this drawing with these settings, and Complete there gives these alternatives.';
  } catch {
    // No clipboard (an iframe without permission, an insecure page): the link to copy by hand.
    box.value = url;
    box.hidden = false;
    box.select();
    $('status').textContent = 'Copy the link above: it opens this drawing with these settings.';
  }
}

/** The scene in a location hash, or null; a malformed one is a notice, and the default view. */
function readScene(hash) {
  const text = sceneFromHash(hash);
  if (text === null) return null;
  try {
    return parseScene(text);
  } catch (err) {
    sceneNotice(err.message);
    return null;
  }
}

function sceneNotice(reason) {
  notice(`This link's scene could not be opened (${reason}), so the page shows its default view.`);
}

/** Puts a parsed scene on the page; false (with a notice) when it does not fit the model. */
function applyScene(scene) {
  const { info } = state;
  let drawing;
  try {
    if (scene.label !== null && scene.label >= info.classes) {
      throw new Error(info.classes ? `its class ${scene.label} is not one of the model's 0–${info.classes - 1}` : 'it has a class, the model none');
    }
    drawing = decodeImage(scene.image, info, state.editor.paper);
  } catch (err) {
    sceneNotice(err.message);
    return false;
  }
  state.drawing.useModel(state.source.key);
  $('temperature').value = String(scene.temperature);
  $('alternatives').value = String(scene.alternatives);
  $('candidates').value = String(scene.candidates);
  state.candidatesSet = true;
  $('seed').value = String(scene.seed);
  for (const id of ['temperature', 'alternatives', 'candidates']) $(id).dispatchEvent(new Event('input'));
  state.drawing.change((editor) => editor.restore(drawing.pixels, drawing.known), { label: scene.label === null ? '' : String(scene.label) });
  showHint('A shared drawing: press Complete to see what the model makes of it.');
  return true;
}

/** A new #scene=… in the address bar of an open page. */
async function openLinkedScene() {
  const scene = readScene(location.hash);
  if (!scene) return;
  if (state.running) stop();
  if (scene.model === state.source?.key) {
    applyScene(scene);
    return;
  }
  state.scene = scene;
  showModelKey(scene.model);
  await switchModel(scene.model);
}

// ---------------------------------------------------------------- keyboard

const MAC = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);

/** The shortcuts (www/shortcuts.js), named in the titles of the buttons they press. */
function wireKeyboard() {
  const actions = {
    pen: () => selectTool('pen'),
    eraser: () => selectTool('eraser'),
    hide: () => selectTool('hide'),
    eyedropper: () => { if (state.info.channels > 1) selectTool('eyedropper'); },
    smallerBrush: () => stepBrush(-1),
    largerBrush: () => stepBrush(1),
    complete: () => { if (!$('complete').disabled) run('complete'); },
    stop: () => { if (state.running) stop(); },
    undo,
    redo,
  };
  const controls = {
    pen: '[data-tool=pen]', eraser: '[data-tool=eraser]', hide: '[data-tool=hide]', eyedropper: '[data-tool=eyedropper]',
    smallerBrush: '#brush', complete: '#complete', stop: '#stop', undo: '#undo', redo: '#redo',
  };
  for (const [action, selector] of Object.entries(controls)) {
    const control = document.querySelector(selector);
    const keys = action === 'smallerBrush' ? `${keyLabel('smallerBrush')} ${keyLabel('largerBrush')}` : keyLabel(action, MAC);
    control.title = `${control.title} (${keys})`;
    control.setAttribute('aria-keyshortcuts', action === 'smallerBrush'
      ? `${ariaKeys('smallerBrush')} ${ariaKeys('largerBrush')}` : ariaKeys(action, MAC));
  }
  document.addEventListener('keydown', (ev) => {
    const action = shortcutFor(ev);
    if (!action || !state.editor || (action === 'stop' && !state.running)) return;
    ev.preventDefault();
    actions[action]();
  });
}

function stepBrush(direction) {
  const select = $('brush');
  select.selectedIndex = Math.min(select.options.length - 1, Math.max(0, select.selectedIndex + direction));
  state.editor.brush = Number(select.value);
  state.editor.render();
}

// ---------------------------------------------------------------- surprise map

// At most one scoring of the drawing per this many ms while it is being edited: a forward
// pass of one image costs tens of ms on the CPU backend, a stroke fires events every few ms.
const SURPRISE_THROTTLE_MS = 200;

function setSurpriseMap(on) {
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
    const { editor, info } = state;
    const surprise = perPixel(await state.engine.score(editor.pixels.slice(), currentLabel()), 1);
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

async function scoreAlternatives() {
  const finished = state.finished;
  if (!finished) return;
  try {
    const batch = finished.pixels.length / (state.info.channels * state.info.width * state.info.height);
    const surprise = perPixel(await state.engine.score(finished.pixels, finished.label, finished.order), batch);
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

/** Per-pixel surprise [B, H, W] from per-value surprise [B, C, H, W]: the channels' sum. */
function perPixel(values, batch) {
  const { channels, width, height } = state.info;
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

// Engine work per step. The engine runs in a worker, so this bounds how often the page
// repaints the alternatives and how long a Stop waits, not the page's own frame rate.
const STEP_BUDGET_MS = 25;
const MAX_STEP_PIXELS = 1 << 12;

/** Pixels for the next step, from the last step's size and measured engine time. */
function nextStepSize(pixels, ms) {
  // Per-pixel cost from the last step; grow at most 4× a frame (the first pixels of a run pay
  // one-off costs, and timer resolution makes tiny steps look free), shrink as much as needed.
  const perPixel = Math.max(ms, 0.5) / pixels;
  const ideal = Math.floor(STEP_BUDGET_MS / perPixel);
  return Math.max(1, Math.min(ideal, pixels * 4, MAX_STEP_PIXELS));
}

/**
 * Resolves at the next animation frame; when the page is hidden (background tab, where
 * requestAnimationFrame does not fire) after a zero-delay MessageChannel message instead, so a
 * completion keeps running at engine speed there. Never a fixed setTimeout delay.
 */
function nextFrame() {
  return new Promise((resolve) => {
    let done = false;
    const go = () => { if (!done) { done = true; document.removeEventListener('visibilitychange', onHide); resolve(); } };
    const viaMessage = () => { const ch = new MessageChannel(); ch.port1.onmessage = go; ch.port2.postMessage(null); };
    const onHide = () => { if (document.hidden) viaMessage(); };
    if (document.hidden) return viaMessage();
    document.addEventListener('visibilitychange', onHide);
    requestAnimationFrame(go);
  });
}

function stop() {
  state.engine?.cancel();
  state.running = 0;
  setBusy(false);
  $('status').textContent = 'Stopped.';
  setState('ready');
}

async function runBench() {
  setState('bench');
  const list = (key, fallback) => (params.get(key) ?? fallback).split(',').filter(Boolean);
  const intParam = (key) => (params.has(key) ? Number(params.get(key)) : undefined);
  const options = {
    batches: list('batches', '1,16').map(Number),
    samplers: list('samplers', 'naive,cached'),
    maxPixels: intParam('maxPixels'),
    maxPixelsBySampler: params.has('naivePixels') ? { naive: Number(params.get('naivePixels')) } : undefined,
    repeats: intParam('repeats'),
  };
  $('status').textContent = 'Benchmarking… (this can take minutes)';
  // One configuration at a time, so that the GPU dispatches the worker counts (WebGPU only)
  // belong to one row: dispatches per pixel step = counted / pixels generated (the untimed
  // one-pixel warm-up included).
  const rows = [];
  let report;
  for (const batch of options.batches) {
    for (const sampler of options.samplers) {
      report = await state.engine.benchmark({ ...options, batches: [batch], samplers: [sampler] });
      for (const row of report.rows) {
        if (report.dispatches != null) {
          const runs = options.repeats ?? 1;
          row.dispatchesPerPixel = Math.round(100 * report.dispatches / (1 + runs * row.pixels)) / 100;
        }
        rows.push(row);
      }
    }
  }
  report = { ...report, rows };
  delete report.dispatches;
  const out = document.createElement('pre');
  out.id = 'bench';
  out.textContent = JSON.stringify(report, null, 2);
  $('results').replaceChildren(out);
  window.pixelcnnBench = report;
  $('status').textContent = 'Benchmark done.';
  setState('bench-done');
}

// A small handle for tests and the console; not an API (see README for the wasm API).
window.pixelcnnApp = {
  state,
  canvas: () => ({ pixels: Array.from(state.editor.pixels), known: Array.from(state.editor.known) }),
  /** Hides rows from..to-1 as one undoable change, like "Hide bottom half". */
  hideRows: (from, to) => state.drawing.change((editor) => editor.hideRows(from, to)),
  lastFrame: () => state.lastFrame && { ...state.lastFrame, pixels: Array.from(state.lastFrame.pixels) },
  surprise: () => ({
    drawing: state.surprise.drawing && Array.from(state.surprise.drawing),
    alternatives: state.surprise.alternatives && Array.from(state.surprise.alternatives),
    scoredRuns: state.surprise.scoredRuns,
  }),
};

main().catch(showError);
