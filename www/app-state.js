// The page's shared state and the small helpers every part of the page uses: element lookup,
// the page state that tests and styles read (#app[data-state]), errors and notices.
//
// No top-level DOM or location access, so that the modules built on this one import in node.

export const $ = (id) => document.getElementById(id);

/** The dataset of #app: its `state`, `backend` and `order` are what styles and tests read. */
export const appData = () => $('app').dataset;

export const state = {
  engine: null,
  info: null,
  editor: null,
  results: null, // the alternatives (www/results.js), created when the page starts
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
  // Set once the visitor (or a shared scene) picks these; until then they follow the model's
  // measured temperature and the engines' default pool.
  temperatureSet: false,
  candidatesSet: false,
};

let runCounter = 0;

/** A new completion id; ids only grow, so a stale run can tell it was superseded. */
export function nextRunId() {
  return ++runCounter;
}

let opened = null;

/**
 * The URL parameters the page was opened with. Read once: the page rewrites its own address
 * later (model switches, copied links), and those rewrites must not change its settings.
 */
export function urlParams() {
  opened ??= new URLSearchParams(location.search);
  return opened;
}

export function setState(s) {
  appData().state = s;
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
export function showError(err, sentence = null, keepState = false) {
  const message = err instanceof Error ? err.message : String(err);
  console.warn(err);
  explain($('error'), sentence ?? message, sentence ? message : null);
  if (keepState) return;
  $('status').textContent = 'Error';
  setState('error');
}

export function clearError() {
  $('error').hidden = true;
  $('error').textContent = '';
}

export function notice(text, detail = null) {
  const box = $('notice');
  if (!text) {
    box.replaceChildren();
    box.hidden = true;
    return;
  }
  explain(box, text, detail);
}

export function showHint(text) {
  $('hint').textContent = text;
  $('hint').hidden = false;
}
