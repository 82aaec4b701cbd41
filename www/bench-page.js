// The ?bench page: runs the engine's browser benchmark and shows its report, as JSON in
// <pre id="bench"> and as window.pixelcnnBench, for tests/e2e/bench.mjs.
//
//   ?bench[&batches=1,16&samplers=naive,cached&maxPixels=N&naivePixels=N&repeats=N]

import { $, setState, state, urlParams } from './app-state.js';

/** The benchmark options of the page's URL parameters. */
function benchOptions(params) {
  const list = (key, fallback) => (params.get(key) ?? fallback).split(',').filter(Boolean);
  const intParam = (key) => (params.has(key) ? Number(params.get(key)) : undefined);
  return {
    batches: list('batches', '1,16').map(Number),
    samplers: list('samplers', 'naive,cached'),
    maxPixels: intParam('maxPixels'),
    maxPixelsBySampler: params.has('naivePixels') ? { naive: Number(params.get('naivePixels')) } : undefined,
    repeats: intParam('repeats'),
  };
}

export async function runBench() {
  setState('bench');
  const options = benchOptions(urlParams());
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
  showReport(report);
  setState('bench-done');
}

function showReport(report) {
  const out = document.createElement('pre');
  out.id = 'bench';
  out.textContent = JSON.stringify(report, null, 2);
  $('results').replaceChildren(out);
  window.pixelcnnBench = report;
  $('status').textContent = 'Benchmark done.';
}
