// Times the page's animated Complete on the CPU backend against dist/, click to done, for a
// list of Candidates settings: what the Candidates default is chosen from. The hole is the top
// half of the first test digit by default, the worst case for the ranked completion (the
// whole bottom half is known and scored); each setting reports the median of its runs and the
// engine / paint split of the last one. --workers times each setting with the pool shared by
// that many CPU workers, --dist with each of several builds (one page each, side by side in
// one run).
//
//   node tests/e2e/complete-timing.mjs [--candidates=4,8,12,16] [--alternatives=4]
//       [--hide=top|bottom|middle] [--runs=3] [--seed=7] [--workers=1,2] [--dist=dist,OTHER]
import { parseArgs } from 'node:util';
import { serve } from './server.mjs';
import { launch, median, waitForState } from './browser.mjs';

const { values: args } = parseArgs({
  options: {
    candidates: { type: 'string' },
    alternatives: { type: 'string' },
    hide: { type: 'string' },
    runs: { type: 'string' },
    seed: { type: 'string' },
    workers: { type: 'string' },
    dist: { type: 'string' },
  },
});
const workerCounts = (args.workers ?? '1').split(',').map(Number);
const candidates = (args.candidates ?? '4,8,12,16').split(',').map(Number);
const alternatives = Number(args.alternatives ?? 4);
const runs = Number(args.runs ?? 3);
const seed = Number(args.seed ?? 7);
const hide = args.hide ?? 'top';
const ROWS = { top: [0, 14], bottom: [14, 28], middle: [10, 18] };
if (!ROWS[hide]) throw new Error(`--hide must be one of ${Object.keys(ROWS).join(', ')}`);

const dists = (args.dist ?? 'dist').split(',');
const servers = await Promise.all(dists.map((dist) => serve(dist)));
const browser = await launch({ webgpu: false });

/** The page of `server` with `workers` CPU workers sharing the pool, the hole hidden, ready to time. */
async function openPage(server, workers) {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.log('pageerror', e.message));
  await page.goto(`${server.url}index.html?backend=cpu&workers=${workers}`);
  const ready = await waitForState(page, ['ready', 'error'], 120_000);
  if (ready !== 'ready') throw new Error(`page state ${ready}`);
  await page.waitForFunction(() => !document.getElementById('test-digit').disabled, null, { timeout: 30_000 });
  await page.waitForFunction((n) => window.pixelcnnApp.state.engine.poolWorkers >= n, workers, { timeout: 60_000 });
  // The page opens on test digit 0 already and the button moves on: measure digit 0.
  await page.evaluate(() => { window.pixelcnnApp.state.digitIndex = 0; });
  await page.click('#test-digit');
  await page.evaluate(([from, to]) => window.pixelcnnApp.hideRows(from, to), ROWS[hide]);
  await page.evaluate(() => {
    // Engine time per step and paint time per frame, to tell the model's cost from the page's:
    // the page reports both with every frame it shows (www/completion.js, FRAME_EVENT).
    window.__timing = { steps: [], paints: [] };
    document.addEventListener('pixelcnn:frame', ({ detail }) => {
      window.__timing.steps.push([detail.stepPixels, detail.ms]);
      window.__timing.paints.push(detail.paintMs);
    });
  });
  await setRange(page, 'alternatives', alternatives);
  await page.fill('#seed', String(seed));
  await page.check('#seed-lock'); // every run on the same seed
  return page;
}

const setRange = (page, id, value) => page.$eval(`#${id}`, (el, v) => {
  el.value = String(v);
  el.dispatchEvent(new Event('input', { bubbles: true }));
}, value);

/** One animated Complete, click to done, in ms. */
async function timeComplete(page) {
  await page.evaluate(() => { window.__timing = { steps: [], paints: [] }; });
  const ms = await page.evaluate(() => new Promise((resolve) => {
    const app = document.getElementById('app');
    const t0 = performance.now();
    const watch = new MutationObserver(() => {
      if (app.dataset.state === 'running') return;
      watch.disconnect();
      resolve(app.dataset.state === 'done' ? performance.now() - t0 : NaN);
    });
    watch.observe(app, { attributes: true, attributeFilter: ['data-state'] });
    document.getElementById('complete').click();
  }));
  if (Number.isNaN(ms)) throw new Error(await page.textContent('#error'));
  return ms;
}

const pages = [];
for (const [i, dist] of dists.entries()) {
  for (const workers of workerCounts) {
    const label = `${dists.length > 1 ? `${dist}, ` : ''}${workers} worker${workers > 1 ? 's' : ' '}`;
    pages.push({ label, page: await openPage(servers[i], workers), times: [] });
  }
}
console.log(`CPU backend, ${alternatives} alternatives, ${hide} rows ${ROWS[hide][0]}–${ROWS[hide][1] - 1} hidden, seed ${seed}, median of ${runs} (+1 warm-up); ${dists.length > 1 ? `builds ${dists.join(', ')} × ` : ''}workers ${workerCounts.join(', ')} alternate run by run`);
for (const n of candidates) {
  for (const p of pages) {
    p.times = [];
    await setRange(p.page, 'candidates', n);
  }
  for (let r = 0; r <= runs; r++) {
    for (const p of pages) {
      const ms = await timeComplete(p.page);
      if (r > 0) p.times.push(ms); // the first run of a setting pays for allocations
    }
  }
  const pixels = [];
  for (const { label, page, times: ts } of pages) {
    const t = await page.evaluate(() => window.__timing);
    const engineMs = t.steps.reduce((a, s) => a + s[1], 0);
    const paintMs = t.paints.reduce((a, b) => a + b, 0);
    const status = await page.textContent('#status');
    pixels.push(JSON.stringify(await page.evaluate(() => window.pixelcnnApp.lastFrame().pixels)));
    console.log(`candidates ${String(n).padStart(2)}, ${label}: median ${(median(ts) / 1000).toFixed(2)} s  runs ${ts.map((x) => (x / 1000).toFixed(2)).join(' ')} s` +
      `  | last run: ${t.steps.length} steps, engine ${(engineMs / 1000).toFixed(2)} s, paint ${(paintMs / 1000).toFixed(2)} s  (${status.replace(/^Done: /, '')})`);
  }
  if (new Set(pixels).size > 1) console.log('  the pages gave different alternatives!');
}
await browser.close();
await Promise.all(servers.map((server) => server.close()));
