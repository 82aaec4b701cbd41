// Browser benchmark: times a full completion (everything hidden) at batch 1 and 16 with the
// naive and the cached sampler, on WebGPU (SwiftShader here) and on the CPU backend, in
// headless Chromium. Prints one JSON object.
//
//   node tests/e2e/bench.mjs [--backend=webgpu,cpu] [--batches=1,16] [--samplers=naive,cached]
//                            [--repeats=1] [--naive-pixels=N] [--max-pixels=N] [--dist=dist]
//                            [--model=mnist|emoji] [--model-dir=DIR]
//
// The naive sampler runs the whole network once per pixel; at batch 16 on SwiftShader that
// can take many minutes, so --naive-pixels (default 28 = one row) stops naive runs early and
// extrapolates to the whole image. Such rows say `"extrapolated": true`.

import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { serve } from './server.mjs';
import { launch, useModelDir, waitForState } from './browser.mjs';

const { values: args } = parseArgs({
  options: {
    dist: { type: 'string' },
    backend: { type: 'string' },
    batches: { type: 'string' },
    samplers: { type: 'string' },
    'naive-pixels': { type: 'string' },
    repeats: { type: 'string' },
    'max-pixels': { type: 'string' },
    model: { type: 'string' },
    'model-dir': { type: 'string' },
  },
});
const DIST = args.dist ?? 'dist';
const BACKENDS = String(args.backend ?? 'webgpu,cpu').split(',');
const query = {
  bench: '',
  batches: String(args.batches ?? '1,16'),
  samplers: String(args.samplers ?? 'naive,cached'),
  naivePixels: String(args['naive-pixels'] ?? 28),
  repeats: String(args.repeats ?? 1),
};
if (args['max-pixels']) query.maxPixels = String(args['max-pixels']);
if (args.model) query.model = String(args.model);

const MODEL_DIR = args['model-dir'];
if (!MODEL_DIR && !existsSync(join(DIST, 'www', 'models', 'mnist.json'))) {
  console.error('no model in dist/www/models: build first or pass --model-dir');
  process.exit(1);
}

const server = await serve(DIST);
const browser = await launch({ webgpu: true });
const out = {
  what: 'full completion (every pixel hidden), wall time in ms, headless Chromium',
  browser: browser.version(),
  machine: `${(await import('node:os')).cpus().length} CPU cores`,
  webgpuAdapter: 'SwiftShader (software Vulkan; isFallbackAdapter) — not a real GPU',
  query,
  results: {},
};
let failed = false;
try {
  for (const backend of BACKENDS) {
    const page = await browser.newPage();
    if (MODEL_DIR) await useModelDir(page, server.url, MODEL_DIR);
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}index.html?${new URLSearchParams({ ...query, backend })}`);
    const state = await waitForState(page, ['bench-done', 'error'], 60 * 60_000);
    if (state === 'bench-done') {
      out.results[backend] = await page.evaluate(() => window.pixelcnnBench);
    } else {
      failed = true;
      out.results[backend] = { error: await page.$eval('#error', (e) => e.textContent), pageErrors: errors };
    }
    await page.close();
  }
} finally {
  await browser.close();
  await server.close();
}
console.log(JSON.stringify(out, null, 2));
process.exit(failed ? 1 : 0);
