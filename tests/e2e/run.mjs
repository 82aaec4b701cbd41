// End-to-end tests in headless Chromium against the release build in dist/.
//
//   node tests/e2e/run.mjs [--backend=webgpu,cpu] [--dist=dist] [--model-dir=DIR] [--screenshot]
//
// --backend   which backends to test (default both): "webgpu" is SwiftShader's WebGPU,
//             "cpu" forces the flex CPU backend with ?backend=cpu.
// --model-dir serve this directory's model (mnist.json + weights) instead of the one in dist/
//             (for untrained fixtures when no trained weights exist yet).
// --screenshot  also copy the completion screenshot to docs/screenshot.png.
// Screenshots go to test-results/. The last line is always "N passed, N failed".

import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import assert from 'node:assert/strict';

import { serve } from './server.mjs';
import { launch, waitForState } from './browser.mjs';

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? true];
  }),
);
const BACKENDS = String(args.backend ?? 'webgpu,cpu').split(',');
const DIST = args.dist ?? 'dist';
const MODEL_DIR = args['model-dir'];
const OUT = 'test-results';
// Generous: SwiftShader emulates the GPU on the CPU, and CI has two cores.
const COMPLETE_TIMEOUT = Number(process.env.E2E_COMPLETE_TIMEOUT_MS ?? 15 * 60_000);
const LOAD_TIMEOUT = 180_000;

mkdirSync(OUT, { recursive: true });

// ---------------------------------------------------------------- model files and routes

const modelDir = MODEL_DIR ?? join(DIST, 'www', 'models');
const manifestPath = join(modelDir, 'mnist.json');
if (!existsSync(manifestPath)) {
  console.error(`no model at ${manifestPath}: build dist/ (trunk build --release) or pass --model-dir`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
const weights = readFileSync(join(modelDir, manifest.weights));
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

const routes = {};
const file = (body, type = 'application/octet-stream', status = 200) => () => ({ body, type, status });
const json = (value) => file(JSON.stringify(value), 'application/json');
// The model under test, when it does not come from dist/.
let modelUrl = null;
if (MODEL_DIR) {
  routes['/__model/mnist.json'] = json(manifest);
  routes[`/__model/${manifest.weights}`] = file(weights);
  modelUrl = '/__model/mnist.json';
}
// Test digits: the shipped file when there is one, else two synthetic digits (a 1 and a 0).
if (!existsSync(join(DIST, 'www', 'models', 'mnist-digits.json'))) {
  const digit = (label, on) => ({ label, pixels: Array.from({ length: 784 }, (_, i) => (on(i % 28, Math.floor(i / 28)) ? 1 : 0)) });
  routes['/www/models/mnist-digits.json'] = json({
    width: 28,
    height: 28,
    digits: [
      digit(1, (x, y) => x >= 13 && x <= 15 && y >= 4 && y <= 23),
      digit(0, (x, y) => Math.abs(Math.hypot((x - 13.5) / 6, (y - 13.5) / 9) - 1) < 0.22),
    ],
  });
}
// Broken models: each must end in a readable error in the page, not a broken canvas.
const flipped = Buffer.from(weights);
flipped[flipped.length >> 1] ^= 0xff;
routes['/__bad/hash.json'] = json({ ...manifest, weights: 'hash.bin' });
routes['/__bad/hash.bin'] = file(flipped);
const truncated = weights.subarray(0, weights.length >> 1);
routes['/__bad/truncated.json'] = json({ ...manifest, weights: 'truncated.bin', sha256: sha256(truncated) });
routes['/__bad/truncated.bin'] = file(truncated);
routes['/__bad/notjson.json'] = file('{ "format": 1, this is not json', 'application/json');
routes['/__bad/noweights.json'] = json({ ...manifest, weights: 'missing.bin' });
const BROKEN = [
  ['/__bad/hash.json', /sha256/i],
  ['/__bad/truncated.json', /truncated|safetensors/i],
  ['/__bad/notjson.json', /not valid JSON/i],
  ['/__bad/noweights.json', /HTTP 404/],
  ['/__bad/absent.json', /HTTP 404/],
];

// ---------------------------------------------------------------- tiny test runner

const results = [];
async function test(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (err) {
    results.push({ name, ok: false });
    console.log(`FAIL ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n     ${String(err?.stack ?? err).split('\n').join('\n     ')}`);
  }
}

// ---------------------------------------------------------------- page helpers

function pageUrl(server, query) {
  const q = new URLSearchParams(query);
  if (modelUrl && !q.has('model')) q.set('model', modelUrl);
  return `${server.url}index.html?${q}`;
}

/** Opens the app and collects page errors and console errors. */
async function open(browser, url, viewport = { width: 1100, height: 1000 }, extra = {}) {
  const context = await browser.newContext({ viewport, ...extra });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  await page.goto(url);
  return { page, context, problems };
}

async function errorText(page) {
  return page.$eval('#error', (e) => (e.hidden ? '' : e.textContent));
}

/** Centre of cell (x, y) of the drawing canvas, in page coordinates. */
async function cellPoint(page, x, y) {
  const box = await page.locator('#draw').boundingBox();
  return [box.x + ((x + 0.5) * box.width) / 28, box.y + ((y + 0.5) * box.height) / 28];
}

async function drag(page, cells) {
  const [x0, y0] = await cellPoint(page, ...cells[0]);
  await page.mouse.move(x0, y0);
  await page.mouse.down();
  for (const c of cells.slice(1)) {
    const [x, y] = await cellPoint(page, ...c);
    await page.mouse.move(x, y, { steps: 6 });
  }
  await page.mouse.up();
}

async function setRange(page, id, value) {
  await page.$eval(`#${id}`, (el, v) => {
    el.value = String(v);
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }, value);
}

async function complete(page, button = '#complete') {
  const before = await page.evaluate(() => window.pixelcnnApp.state.finishedRuns);
  await page.click(button);
  await page.waitForFunction(
    (n) => window.pixelcnnApp.state.finishedRuns > n || document.getElementById('app').dataset.state === 'error',
    before,
    { timeout: COMPLETE_TIMEOUT, polling: 250 },
  );
  const state = await page.$eval('#app', (e) => e.dataset.state);
  assert.equal(state, 'done', `completion ended in state ${state}: ${await errorText(page)}`);
  return page.evaluate(() => window.pixelcnnApp.lastFrame());
}

// ---------------------------------------------------------------- the tests

async function backendSuite(server, backend) {
  const browser = await launch({ webgpu: true });
  try {
    const { page, problems } = await open(browser, pageUrl(server, { backend }));
    await test(`[${backend}] page loads the model and reports the backend`, async () => {
      const state = await waitForState(page, ['ready', 'error'], LOAD_TIMEOUT);
      assert.equal(state, 'ready', await errorText(page));
      assert.equal(await page.$eval('#app', (e) => e.dataset.backend), backend);
      assert.match(await page.textContent('#backend'), backend === 'webgpu' ? /WebGPU/ : /CPU/);
    });

    await test(`[${backend}] draw, hide the bottom half, complete 4 alternatives`, async () => {
      // A stroke with the pen in the top half (brush 2).
      await page.click('[data-tool=pen]');
      await drag(page, [[8, 4], [14, 3], [19, 5], [18, 9], [13, 12]]);
      // The bottom half with the hide brush (brush 5 covers centre ±2 rows).
      await page.click('[data-tool=hide]');
      await page.selectOption('#brush', '5');
      for (const y of [16, 21, 25]) await drag(page, [[0, y], [27, y]]);
      const canvas = await page.evaluate(() => window.pixelcnnApp.canvas());
      const inked = canvas.pixels.filter((v, i) => v && canvas.known[i]).length;
      assert.ok(inked >= 20, `the pen stroke left ${inked} inked pixels`);
      for (let i = 0; i < 784; i++) {
        assert.equal(canvas.known[i], i < 14 * 28 ? 1 : 0, `pixel ${i} should be ${i < 392 ? 'known' : 'hidden'}`);
      }
      await setRange(page, 'alternatives', 4);
      await page.fill('#seed', '7');
      const frame = await complete(page);
      assert.equal(frame.batch, 4);
      assert.equal(frame.total, 392);
      assert.equal(frame.done, frame.total, 'every hidden pixel was generated');
      for (let b = 0; b < 4; b++) {
        for (let i = 0; i < 784; i++) {
          const v = frame.pixels[b * 784 + i];
          if (canvas.known[i]) assert.equal(v, canvas.pixels[i], `alternative ${b}: known pixel ${i} changed`);
          else assert.ok(v === 0 || v === 1, `alternative ${b}: hidden pixel ${i} has no level (${v})`);
        }
      }
      const alts = new Set([0, 1, 2, 3].map((b) => frame.pixels.slice(b * 784, (b + 1) * 784).join('')));
      assert.ok(alts.size > 1, 'the 4 alternatives are all identical');
      // Every thumbnail is finished (no pending hatching) and downloadable.
      assert.equal(await page.locator('.alt button:not([disabled])').count(), 4);
      assert.equal(await errorText(page), '');
      await page.screenshot({ path: join(OUT, `complete-${backend}.png`), fullPage: true });
    });

    // Smaller hole from here on: SwiftShader emulates the GPU on the CPU, and each pixel costs
    // a round of dispatches whatever the batch size.
    await test(`[${backend}] same seed gives the same pixels, another seed others`, async () => {
      await page.click('#clear');
      await page.click('[data-tool=pen]');
      await page.selectOption('#brush', '2');
      await drag(page, [[6, 6], [20, 20]]);
      await page.evaluate(() => window.pixelcnnApp.state.editor.hideRows(25));
      await setRange(page, 'alternatives', 2);
      await page.fill('#seed', '7');
      const first = await complete(page);
      assert.equal(first.total, 3 * 28);
      const again = await complete(page);
      assert.deepEqual(again.pixels, first.pixels);
      await page.fill('#seed', '8');
      const other = await complete(page);
      assert.notDeepEqual(other.pixels, first.pixels);
    });

    await test(`[${backend}] Sample starts from an empty canvas; Stop cancels it`, async () => {
      await setRange(page, 'alternatives', 1);
      await page.click('#sample');
      // Stop is clicked inside the page on the first animation frame after the first pixels
      // arrive: a full sample takes under a second on the CPU, so a click from the test
      // process could land after it finished.
      await page.waitForFunction(() => {
        const frame = window.pixelcnnApp.lastFrame();
        if (!(frame?.done > 0 && frame.total === 784)) return false;
        document.getElementById('stop').click();
        return true;
      }, null, { timeout: COMPLETE_TIMEOUT, polling: 'raf' });
      assert.equal(await waitForState(page, ['ready', 'error', 'done'], 10_000), 'ready', 'Stop cancelled the run');
      assert.ok(await page.evaluate(() => window.pixelcnnApp.lastFrame().done) < 784, 'cancelled before the end');
      assert.ok(await page.$eval('#complete', (b) => !b.disabled), 'Complete is enabled again');
      assert.equal(await errorText(page), '');
    });

    await test(`[${backend}] no errors in the page or the console`, async () => {
      assert.deepEqual(problems, []);
      assert.equal(await errorText(page), '');
    });

    await test(`[${backend}] broken model files show a readable error`, async () => {
      for (const [url, pattern] of BROKEN) {
        const { page: p, context } = await open(browser, pageUrl(server, { backend, model: url }));
        try {
          assert.equal(await waitForState(p, ['ready', 'error'], LOAD_TIMEOUT), 'error', `${url} loaded`);
          const text = await errorText(p);
          assert.match(text, pattern, `${url}: ${text}`);
          assert.ok(await p.$eval('#complete', (b) => b.disabled), `${url}: Complete is enabled`);
        } finally {
          await context.close();
        }
      }
    });
  } finally {
    await browser.close();
  }
}

async function fallbackSuite(server) {
  // Without --enable-unsafe-webgpu, headless Chromium has no adapter: "auto" must fall back.
  const browser = await launch({ webgpu: false });
  try {
    await test('[auto] without WebGPU the page falls back to the CPU and says so', async () => {
      const { page, problems } = await open(browser, pageUrl(server, {}));
      assert.equal(await waitForState(page, ['ready', 'error'], LOAD_TIMEOUT), 'ready', await errorText(page));
      assert.equal(await page.$eval('#app', (e) => e.dataset.backend), 'cpu');
      const notice = await page.$eval('#notice', (e) => (e.hidden ? '' : e.textContent));
      assert.match(notice, /WebGPU/);
      assert.match(notice, /CPU/);
      assert.deepEqual(problems, []);
    });

    await test('[auto] ?backend=webgpu without WebGPU is an error in the page', async () => {
      const { page } = await open(browser, pageUrl(server, { backend: 'webgpu' }));
      assert.equal(await waitForState(page, ['ready', 'error'], LOAD_TIMEOUT), 'error');
      assert.match(await errorText(page), /WebGPU/);
    });

    await test('[phone] a 360 px wide touch screen: no sideways scroll, touch draws', async () => {
      const { page, problems } = await open(browser, pageUrl(server, { backend: 'cpu' }),
        { width: 360, height: 740 }, { hasTouch: true, isMobile: true, deviceScaleFactor: 2 });
      assert.equal(await waitForState(page, ['ready', 'error'], LOAD_TIMEOUT), 'ready', await errorText(page));
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
      const box = await page.locator('#draw').boundingBox();
      assert.ok(box.width >= 300 && box.x >= 0 && box.x + box.width <= 360, `canvas box ${JSON.stringify(box)}`);
      const [x, y] = await cellPoint(page, 10, 10);
      await page.touchscreen.tap(x, y);
      const canvas = await page.evaluate(() => window.pixelcnnApp.canvas());
      assert.equal(canvas.pixels[10 * 28 + 10], 1, 'a tap with the pen inks the cell');
      await page.screenshot({ path: join(OUT, 'phone.png') });
      assert.deepEqual(problems, []);
    });
  } finally {
    await browser.close();
  }
}

const server = await serve(DIST, { routes });
try {
  for (const backend of BACKENDS) await backendSuite(server, backend);
  if (BACKENDS.includes('cpu')) await fallbackSuite(server);
} catch (err) {
  results.push({ name: 'runner', ok: false });
  console.log(`FAIL runner: ${err?.stack ?? err}`);
} finally {
  await server.close();
}

if (args.screenshot) {
  const shot = ['webgpu', 'cpu'].map((b) => join(OUT, `complete-${b}.png`)).find(existsSync);
  if (shot) {
    mkdirSync('docs', { recursive: true });
    copyFileSync(shot, 'docs/screenshot.png');
  }
}
const passed = results.filter((r) => r.ok).length;
console.log(`${passed} passed, ${results.length - passed} failed`);
process.exit(results.length - passed ? 1 : 0);
