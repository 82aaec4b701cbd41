// Page controller: starts the engine (www/engine.js, in Web Workers), loads the models and
// wires the page's controls to the modules that do the work (completion.js, surprise-map.js…).
//
// URL parameters:
//   ?backend=auto|webgpu|cpu   force a backend (default auto: the CPU engine, and WebGPU where
//                              it was measured faster on this device for the batch size)
//   ?workers=N                 CPU workers that share a pool of candidates (default: a
//                              core each, one left for the page from 3 cores on, at most 4)
//   ?model=mnist|emoji|URL     a shipped model by name, or the URL of a manifest (default mnist)
//   ?digits=URL                test images for a manifest given by URL
//                              (default www/models/mnist-digits.json)
//   ?image=N                   the test image the page opens with (default 0)
//   ?embed                     compact layout for an <iframe> (see www/embed.js)
//   #scene=…                   a shared scene (www/scene.js): model, drawing, mask and settings;
//                              it takes precedence over ?model and ?image
//   ?bench[&batches=1,16&maxPixels=N&naivePixels=N&repeats=N]   run the browser benchmark

import { $, clearError, setState, showError, showHint, state, urlParams } from './app-state.js';
import { runBench } from './bench-page.js';
import { bringImage, showThreshold } from './bring-image.js';
import { run, stop } from './completion.js';
import { showCredits } from './credits.js';
import { Drawing } from './drawing.js';
import { redo, setBusy, showOnDrawing, undo, updateUndo, useAlternative } from './drawing-controls.js';
import { Editor } from './editor.js';
import { Engine } from './engine.js';
import { listenForImages } from './image-drop.js';
import { wireKeyboard } from './keyboard.js';
import { Results } from './results.js';
import { applyScene, copyLink, openLinkedScene, readScene, sceneNotice } from './scene-link.js';
import { describeBackends, useModelTemperature, wireSettings } from './settings.js';
import { setSurpriseMap, showSurpriseScale, wireSurpriseMap } from './surprise-map.js';
import { surpriseMaxFor } from './surprise.js';
import { fetchDigits, loadDigits, nextTestImage } from './test-images.js';
import { buildPalette, selectTool } from './tool-bar.js';

const params = urlParams();
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

state.results = new Results($('results'));

window.addEventListener('error', (ev) => showError(ev.error ?? ev.message));
window.addEventListener('unhandledrejection', (ev) => showError(ev.reason));

async function main() {
  setState('loading');
  applyLayoutParams();
  await startEngine();
  if (!(await openFirstModel())) return;
  addEventListener('hashchange', () => openLinkedScene(openSceneModel));

  if (params.has('bench')) return runBench();
  setState('ready');
  setBusy(false);
}

/** ?embed and ?alternatives, which apply before anything loads. */
function applyLayoutParams() {
  if (params.has('embed')) {
    document.body.classList.add('embed');
    reportHeight();
  }
  if (params.has('alternatives')) {
    const k = Math.min(16, Math.max(1, Math.floor(Number(params.get('alternatives'))) || 4));
    $('alternatives').value = String(k);
  }
}

async function startEngine() {
  const preference = params.get('backend') ?? 'auto';
  $('status').textContent = 'Starting the engine…';
  const cpuWorkers = params.has('workers') ? Number(params.get('workers')) : undefined;
  state.engine = await Engine.create(preference, { countDispatches: params.has('bench'), cpuWorkers });
  state.engine.addEventListener('change', describeBackends);
  describeBackends();
}

/** Loads the model of the link's scene, else of ?model=, else mnist; false when none loaded. */
async function openFirstModel() {
  state.scene = readScene(location.hash);
  const key = state.scene?.model ?? params.get('model') ?? 'mnist';
  const picker = $('model');
  picker.addEventListener('change', () => switchModel(picker.value));
  showModelKey(key);
  if (await loadModel(modelSource(key))) return true;
  if (!state.scene || key === 'mnist') return false;
  // A link to a model that does not load still opens the page, on the default model.
  sceneNotice(`its model "${key}" could not be loaded`);
  state.scene = null;
  showModelKey('mnist');
  return loadModel(modelSource('mnist'));
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

/** The model of a linked scene, shown in the picker and switched to. */
function openSceneModel(key) {
  showModelKey(key);
  return switchModel(key);
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
    if (load === state.loads) loadFailed(err, source, hadModel);
    return false;
  }
  if (load !== state.loads) return false;
  state.info = info;
  state.source = source;
  showModel(info);
  resetForModel();
  $('status').textContent = 'Draw, hide part of it, then Complete.';
  await loadDigits(source.images, digits);
  if (load !== state.loads) return true;
  openDrawing(source.key);
  return true;
}

function loadFailed(err, source, hadModel) {
  showError(err, hadModel
    ? `The model ${source.key} could not be loaded, so the page keeps the ${state.source.key} model. Pick another model, or check the file.`
    : 'The model could not be loaded. Check the address in ?model=, or pick a shipped model above.', hadModel);
  if (hadModel) {
    $('status').textContent = `Still using the ${state.source.key} model.`;
    setBusy(false);
  }
}

/** The model's name, classes and colour controls on the page. */
function showModel(info) {
  $('model-name').textContent = `${info.name} (${(info.params / 1e3).toFixed(0)}k parameters, ` +
    `test NLL ${info.testNllNats.toFixed(1)} nats)`;
  $('model-name').title = info.dataset;
  showCredits($('credits'), info.sources);
  useModelTemperature(info);
  const label = $('label');
  label.replaceChildren(new Option('any', ''));
  for (let c = 0; c < info.classes; c++) label.add(new Option(String(c), String(c)));
  label.closest('label').hidden = info.classes === 0;
  const colour = info.channels > 1;
  for (const el of document.querySelectorAll('.colour-only')) el.hidden = !colour;
  document.querySelector('[data-tool=pen]').title = colour ? 'Draw with the pen colour (known pixels)' : 'Draw ink (known black pixels)';
  document.querySelector('[data-tool=eraser]').title = colour ? 'Paint white (known pixels)' : 'Draw background (known white pixels)';
  $('draw').setAttribute('aria-label', `Drawing canvas, ${info.width} by ${info.height} pixels`);
}

/** The editor, results, tools and surprise scale for the model just loaded. */
function resetForModel() {
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
  showSurpriseScale(surpriseMaxFor(state.info));
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
    showFirstImpression();
  } else {
    state.drawing.record();
    showHint('Draw something (or drop an image), hide part of it with the ▨ Hide brush, then press Complete.');
  }
}

/** A held-out image with its lower part hidden, ready to complete. */
function showFirstImpression() {
  state.digitIndex = Math.max(0, Math.floor(Number(params.get('image')) || 0));
  const image = nextTestImage();
  state.drawing.change((editor) => {
    editor.load(image.pixels);
    editor.hideRows(Math.round(state.info.height * FIRST_HIDDEN_FROM));
  }, { label: image.label, fromImage: true });
  const what = state.info.channels > 1 ? 'emoji' : 'digit';
  showHint(`A held-out test ${what} with its lower part hidden: press Complete to see the model fill it in. ` +
    'Then try your own: draw (or drop an image), hide any part with the ▨ Hide brush, and Complete again.');
}

function wireControls() {
  wireDrawingTools();
  wireImages();
  wireAlternatives();
  wireKeyboard();
  wireSettings();
  wireSurpriseMap();
  $('complete').addEventListener('click', () => run('complete'));
  $('sample').addEventListener('click', () => run('sample'));
  $('stop').addEventListener('click', stop);
}

/** Tools, brush, the drawing's buttons and its history. */
function wireDrawingTools() {
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
}

/** Copy link, and images opened, dropped or pasted, with their ink threshold. */
function wireImages() {
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
}

/** "Show on drawing", "Use this", and a click on an alternative to show it on the drawing. */
function wireAlternatives() {
  $('preview').addEventListener('change', () => showOnDrawing(state.shown));
  state.results.onuse = useAlternative;
  $('results').addEventListener('click', (ev) => {
    const canvas = ev.target.closest?.('.alt canvas');
    if (!canvas) return;
    $('preview').checked = true;
    showOnDrawing([...$('results').querySelectorAll('.alt canvas')].indexOf(canvas));
  });
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
