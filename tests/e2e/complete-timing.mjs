// Times the page's animated completion on the CPU backend: click Complete (4 alternatives,
// bottom half hidden, seed 7) to done, against dist/. Also prints per-step engine and paint time.
//
//   node tests/e2e/complete-timing.mjs [runs=2]
import { serve } from './server.mjs';
import { launch, waitForState } from './browser.mjs';
const runs = Number(process.argv[2] ?? 2);
const server = await serve('dist');
const browser = await launch({ webgpu: true });
const page = await browser.newPage();
page.on('pageerror', (e) => console.log('pageerror', e.message));

await page.goto(`${server.url}index.html?backend=cpu`);
console.log('state', await waitForState(page, ['ready', 'error'], 120000));
await page.evaluate(() => {
  const e = window.pixelcnnApp.state.engine;
  const orig = e.step.bind(e);
  window.__steps = [];
  const R = window.pixelcnnApp.state.results; const os = R.show.bind(R); window.__show = [];
  R.show = (f, d) => { const t = performance.now(); os(f, d); window.__show.push(+(performance.now() - t).toFixed(1)); };
  e.step = async (n) => { const t = performance.now(); const f = await orig(n); window.__steps.push([n, +(performance.now() - t).toFixed(1), performance.now()]); return f; };
});
await page.evaluate(() => { const ed = window.pixelcnnApp.state.editor; ed.hideRows(14); });
await page.$eval('#alternatives', (el) => { el.value = '4'; el.dispatchEvent(new Event('input', { bubbles: true })); });
await page.fill('#seed', '7');
for (let r = 0; r < runs; r++) {
  await page.evaluate(() => { window.__steps = []; window.__show = []; });
  const before = await page.evaluate(() => window.pixelcnnApp.state.finishedRuns);
  const t0 = Date.now();
  await page.click('#complete');
  await page.waitForFunction((n) => window.pixelcnnApp.state.finishedRuns > n || document.getElementById('app').dataset.state === 'error', before, { timeout: 600000, polling: 50 });
  const ms = Date.now() - t0;
  const info = await page.evaluate(() => ({ status: document.getElementById('status').textContent, steps: window.__steps, f: window.pixelcnnApp.lastFrame(), show: window.__show }));
  const engineMs = info.steps.reduce((a, s) => a + s[1], 0);
  console.log(`run ${r}: ${ms} ms wall (click→done), ${info.steps.length} steps, engine step time ${engineMs.toFixed(0)} ms; status: ${info.status}; total=${info.f.total} batch=${info.f.batch}`);
  console.log('  show ms total', info.show.reduce((a,b)=>a+b,0).toFixed(0), JSON.stringify(info.show.slice(0,20)));
  console.log('  steps [n, ms]:', JSON.stringify(info.steps.slice(0, 40).map((s) => [s[0], s[1]])));
}
await browser.close(); await server.close();
