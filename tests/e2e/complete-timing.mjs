// Times the page's animated Complete on the CPU backend against dist/, click to done, for a
// list of Candidates settings: what the Candidates default is chosen from. The hole is the top
// half of the first test digit by default, the worst case for the ranked completion (the
// whole bottom half is known and scored); each setting reports the median of its runs and the
// engine / paint split of the last one.
//
//   node tests/e2e/complete-timing.mjs [--candidates=4,8,12,16] [--alternatives=4]
//       [--hide=top|bottom|middle] [--runs=3] [--seed=7]
import { parseArgs } from 'node:util';
import { serve } from './server.mjs';
import { launch, waitForState } from './browser.mjs';

const { values: args } = parseArgs({
  options: {
    candidates: { type: 'string' },
    alternatives: { type: 'string' },
    hide: { type: 'string' },
    runs: { type: 'string' },
    seed: { type: 'string' },
  },
});
const candidates = (args.candidates ?? '4,8,12,16').split(',').map(Number);
const alternatives = Number(args.alternatives ?? 4);
const runs = Number(args.runs ?? 3);
const seed = Number(args.seed ?? 7);
const hide = args.hide ?? 'top';
const ROWS = { top: [0, 14], bottom: [14, 28], middle: [10, 18] };
if (!ROWS[hide]) throw new Error(`--hide must be one of ${Object.keys(ROWS).join(', ')}`);

const server = await serve('dist');
const browser = await launch({ webgpu: false });
const page = await browser.newPage();
page.on('pageerror', (e) => console.log('pageerror', e.message));
await page.goto(`${server.url}index.html?backend=cpu`);
const ready = await waitForState(page, ['ready', 'error'], 120_000);
if (ready !== 'ready') throw new Error(`page state ${ready}`);
await page.waitForFunction(() => !document.getElementById('test-digit').disabled, null, { timeout: 30_000 });
// The page opens on test digit 0 already and the button moves on: measure digit 0.
await page.evaluate(() => { window.pixelcnnApp.state.digitIndex = 0; });
await page.click('#test-digit');
await page.evaluate(([from, to]) => window.pixelcnnApp.state.editor.hideRows(from, to), ROWS[hide]);
await page.evaluate(() => {
  // Engine time per step and paint time per frame, to tell the model's cost from the page's.
  const { engine, results } = window.pixelcnnApp.state;
  const step = engine.step.bind(engine);
  const show = results.show.bind(results);
  window.__timing = { steps: [], paints: [] };
  engine.step = async (n) => {
    const t = performance.now();
    const frame = await step(n);
    window.__timing.steps.push([n, performance.now() - t]);
    return frame;
  };
  results.show = (frame, data) => {
    const t = performance.now();
    show(frame, data);
    window.__timing.paints.push(performance.now() - t);
  };
});
const setRange = (id, value) => page.$eval(`#${id}`, (el, v) => {
  el.value = String(v);
  el.dispatchEvent(new Event('input', { bubbles: true }));
}, value);
await setRange('alternatives', alternatives);
await page.fill('#seed', String(seed));
await page.check('#seed-lock'); // every run on the same seed

console.log(`CPU backend, ${alternatives} alternatives, ${hide} rows ${ROWS[hide][0]}–${ROWS[hide][1] - 1} hidden, seed ${seed}, median of ${runs} (+1 warm-up)`);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const n of candidates) {
  await setRange('candidates', n);
  const times = [];
  for (let r = 0; r <= runs; r++) {
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
    if (r > 0) times.push(ms); // the first run of a setting pays for allocations
  }
  const t = await page.evaluate(() => window.__timing);
  const engineMs = t.steps.reduce((a, s) => a + s[1], 0);
  const last = t.steps.at(-1);
  const paintMs = t.paints.reduce((a, b) => a + b, 0);
  console.log(`candidates ${String(n).padStart(2)}: median ${(median(times) / 1000).toFixed(2)} s  runs ${times.map((x) => (x / 1000).toFixed(2)).join(' ')} s` +
    `  | last run: ${t.steps.length} steps, engine ${(engineMs / 1000).toFixed(2)} s (final step with scoring ${(last[1] / 1000).toFixed(2)} s), paint ${(paintMs / 1000).toFixed(2)} s`);
}
await browser.close();
await server.close();
