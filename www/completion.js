// The completion loop: starts a completion (or a sample) on the engine, steps it frame by frame
// while the alternatives and the drawing's preview grow, and shows the finished result.
//
// Every frame shown is announced with a FRAME_EVENT on `document` (a hook for tests and
// tools, not an API): its detail is { done, total, phase, stepPixels, ms, paintMs }, where
// `stepPixels` is the step asked of the engine, `ms` the engine's time for it (worker and
// readback) and `paintMs` the time the alternatives took to paint it.

import { $, appData, clearError, nextRunId, notice, setState, showError, state } from './app-state.js';
import { setBusy, showOnDrawing } from './drawing-controls.js';
import { scoreAlternatives } from './surprise-map.js';

export const FRAME_EVENT = 'pixelcnn:frame';

// Engine work per step. The engine runs in a worker, so this bounds how often the page
// repaints the alternatives and how long a Stop waits, not the page's own frame rate.
export const STEP_BUDGET_MS = 25;
export const MAX_STEP_PIXELS = 1 << 12;

export function backendLabel(name) {
  return name === 'webgpu' ? 'WebGPU' : name === 'cpu' ? 'CPU (wasm)' : name;
}

/** start() options; a completion also draws `candidates` and keeps the best-fitting. */
export function options(kind) {
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
export function seedValue() {
  return Math.min(2 ** 32 - 1, Math.max(0, Math.floor(Number($('seed').value) || 0)));
}

/** Pixels for the next step, from the last step's size and measured engine time. */
export function nextStepSize(pixels, ms) {
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

/** Runs a completion ("complete": fill the hidden pixels; "sample": a fresh image). */
export async function run(kind) {
  const { engine, info } = state;
  clearError();
  const input = runInput(kind);
  if (!input) return;
  const { pixels, known } = input;
  const opts = options(kind);
  const id = (state.running = nextRunId());
  beginRun(kind, pixels, known);
  try {
    engine.setCanvas(pixels, known);
    const plan = await engine.start(opts);
    if (state.running !== id) return;
    appData().backend = plan.backend;
    appData().order = plan.order;
    state.results.reset(opts.alternatives, info, known, plan.generated);
    const job = { id, kind, opts, plan, engine };
    // The result is shown here, not in animate(): it and the unlocking below happen together.
    const last = await animate(job);
    if (last) finish(job, last);
  } catch (err) {
    if (state.running === id) showError(err);
  } finally {
    if (state.running === id) {
      state.running = 0;
      setBusy(false);
    }
  }
}

/** The canvas a run starts from ({ pixels, known }); null, with a notice, when nothing is hidden. */
function runInput(kind) {
  const { editor, info } = state;
  const plane = info.width * info.height;
  const known = kind === 'sample' ? new Uint8Array(plane) : editor.known.slice();
  if (!known.includes(0)) {
    notice('Nothing is hidden: use the Hide brush (or "Hide bottom half") to mark pixels for the model to fill in.');
    return null;
  }
  notice(null);
  const pixels = kind === 'sample' ? new Uint8Array(info.channels * plane) : editor.pixels.slice();
  return { pixels, known };
}

/** The page as a completion starts: controls locked, the previous result's extras gone. */
function beginRun(kind, pixels, known) {
  setBusy(true);
  setState('running');
  state.finished = null;
  state.resultsInput = kind === 'complete' ? { pixels, known } : null;
  state.shown = 0;
  state.surprise.alternatives = null;
  $('alt-readout').hidden = true;
  $('results-note').hidden = true;
}

/**
 * Steps `job` (the completion with id `job.id`) to its end, showing every frame, and returns
 * the last: { data, scores, seconds }. Null once Stop (or a newer completion) took over, since
 * the engine has dropped the job then.
 */
async function animate(job) {
  const { plan } = job;
  job.on = backendLabel(plan.backend) + (plan.workers > 1 ? ` × ${plan.workers} workers` : '');
  job.t0 = performance.now();
  // Pixels per step, sized so that one step (engine work + its readback, in the worker) takes
  // about STEP_BUDGET_MS: the alternatives grow at animation speed and Stop acts at once.
  let perStep = 1;
  let phase = 'drawing';
  let drawn = 0;
  for (;;) {
    if (state.running !== job.id) return null;
    if (phase === 'scoring' && !(await announceScoring(job))) return null;
    const t = performance.now();
    const frame = await job.engine.step(perStep);
    const ms = performance.now() - t; // engine time only (the paint below is not counted)
    if (state.running !== job.id || frame.cancelled) return null;
    const steppedPixels = frame.done - drawn;
    drawn = frame.done;
    phase = frame.phase;
    // The engine ranks candidates only when known pixels follow the hole in the order it
    // generates in; it scores them as it draws them.
    const scores = frame.finished && plan.ranked ? Array.from(frame.scores ?? []) : null;
    const { seconds, paintMs } = showFrame(job, frame, scores);
    const detail = { done: frame.done, total: frame.total, phase, stepPixels: perStep, ms, paintMs };
    document.dispatchEvent(new CustomEvent(FRAME_EVENT, { detail }));
    if (frame.finished) return { data: frame.pixels, scores, seconds };
    if (steppedPixels === perStep) perStep = nextStepSize(perStep, ms);
  }
}

/**
 * The next step also scores the pool against the rest of the drawing: says so, and lets that
 * paint. False when the run was stopped meanwhile.
 */
async function announceScoring({ id, plan, t0, on }) {
  $('status').textContent = `Scoring ${plan.candidates} candidates against the rest of the drawing… ` +
    `${((performance.now() - t0) / 1000).toFixed(1)} s on ${on}`;
  await nextFrame();
  await nextFrame(); // the first resolves before the paint, the second after it
  return state.running === id;
}

/** Paints a frame: alternatives, drawing preview, progress and status. */
function showFrame({ plan, t0, on }, frame, scores) {
  const { done, total, pixels: data } = frame;
  state.lastFrame = { done, total, batch: frame.batch, pixels: data, scores };
  const paintStart = performance.now();
  state.results.show(frame, data);
  const paintMs = performance.now() - paintStart;
  showOnDrawing(state.shown);
  $('progress').value = done / total;
  const seconds = (performance.now() - t0) / 1000;
  const direction = plan.orderIndex === 0 ? '' : `, ${plan.order}`;
  $('status').textContent = plan.ranked
    ? `Drawing ${plan.candidates} candidates: ${done} / ${total} pixels${direction} · ${seconds.toFixed(1)} s on ${on}`
    : `${done} / ${total} pixels${direction} · ${seconds.toFixed(1)} s on ${on}`;
  return { seconds, paintMs };
}

/** Shows a finished completion: status, scores under the alternatives, their surprise map. */
function finish(job, { data, scores, seconds }) {
  const { kind, opts, plan } = job;
  describeFinished(job, scores, seconds);
  state.finished = { pixels: data, label: opts.label, scores, order: plan.orderIndex, kind, opts };
  // The next run draws new alternatives unless the seed is locked.
  if (!$('seed-lock').checked) $('seed').value = String((opts.seed + 1) % 2 ** 32);
  state.finishedRuns++;
  setState('done');
  if (state.surprise.on) scoreAlternatives();
}

/** The status line and the note under the alternatives of a finished completion. */
function describeFinished({ kind, opts, plan, on }, scores, seconds) {
  const { ranked, candidates: pool, poolUnits: hidden } = plan;
  const k = opts.alternatives;
  const time = `${seconds.toFixed(2)} s on ${on}${plan.orderIndex === 0 ? '' : `, generated ${plan.order}`}`;
  const note = $('results-note');
  if (ranked) {
    $('status').textContent = `Done: the ${k} best-fitting of ${pool} candidates, ${hidden} hidden pixels each, in ${time}`;
    state.results.showScores(scores);
    note.textContent = !scores.some(Number.isNaN)
      ? `Best first. Each score is how likely the model finds the known pixels after the hole, `
        + `given that completion (log-probability in nats): closer to 0 fits better, and 1 nat more is e ≈ 2.7 times as likely.`
      : `The ${on} backend returned invalid scores (NaN) for some candidates, so this order is not a ranking.`;
    note.hidden = false;
  } else {
    $('status').textContent = `Done: ${k} × ${hidden} pixels in ${time}`;
    if (kind === 'complete') {
      note.textContent = plan.orderIndex === 0
        ? 'Nothing known comes after the hole, so there is nothing to rank these by.'
        : `Generated ${plan.order}, so every known pixel came before the hole: each alternative `
          + 'is drawn given all of them, and there is nothing left to rank them by.';
      note.hidden = false;
    }
  }
}

export function stop() {
  state.engine?.cancel();
  state.running = 0;
  setBusy(false);
  $('status').textContent = 'Stopped.';
  setState('ready');
}
