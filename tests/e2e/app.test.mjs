// End-to-end tests of the page in headless Chromium against the release build in dist/, with
// node's test runner. Every test opens its own browser context, so no test depends on what
// another left behind or on the order they run in. Model files the page should not get from
// dist/ (a fixture, broken files) are answered by Playwright's request interception.
//
// tests/e2e/run.mjs runs this file with command-line flags; `node --test tests/e2e/` runs it
// with its defaults. Settings (environment):
//   E2E_BACKENDS=webgpu,cpu   backends to test: "webgpu" is SwiftShader's WebGPU, "cpu" forces
//                             the flex CPU backend (?backend=cpu) and adds the fallback and
//                             phone-layout tests
//   E2E_DIST=dist             the built app
//   E2E_MODEL_DIR=DIR         serve this directory's model (mnist.json + weights) in place of
//                             the one in dist/, e.g. an untrained fixture
//   E2E_COMPLETE_TIMEOUT_MS   how long one completion may take
// Screenshots go to test-results/.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { formatScore } from '../../www/results.js';
import { serve } from './server.mjs';
import { launch, useModelDir, waitForState } from './browser.mjs';

const BACKENDS = (process.env.E2E_BACKENDS || 'webgpu,cpu').split(',');
const DIST = process.env.E2E_DIST || 'dist';
const MODEL_DIR = process.env.E2E_MODEL_DIR || null;
const OUT = 'test-results';
// Generous: SwiftShader emulates the GPU on the CPU, and CI has two cores.
const COMPLETE_TIMEOUT = Number(process.env.E2E_COMPLETE_TIMEOUT_MS || 15 * 60_000);
const LOAD_TIMEOUT = 180_000;

mkdirSync(OUT, { recursive: true });

// ---------------------------------------------------------------- model files

const modelDir = MODEL_DIR ?? join(DIST, 'www', 'models');
const manifestPath = join(modelDir, 'mnist.json');
if (!existsSync(manifestPath)) {
  throw new Error(`no model at ${manifestPath}: build dist/ (trunk build --release) or pass --model-dir`);
}
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
const weights = readFileSync(join(modelDir, manifest.weights));
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const json = (value) => ({ body: JSON.stringify(value), contentType: 'application/json' });
const bytes = (body) => ({ body, contentType: 'application/octet-stream' });

// Test digits: the shipped file when there is one, else two synthetic digits (a 1 and a 0).
const DIGITS = existsSync(join(DIST, 'www', 'models', 'mnist-digits.json')) ? null : (() => {
  const digit = (label, on) => ({ label, pixels: Array.from({ length: 784 }, (_, i) => (on(i % 28, Math.floor(i / 28)) ? 1 : 0)) });
  return json({
    width: 28,
    height: 28,
    digits: [
      digit(1, (x, y) => x >= 13 && x <= 15 && y >= 4 && y <= 23),
      digit(0, (x, y) => Math.abs(Math.hypot((x - 13.5) / 6, (y - 13.5) / 9) - 1) < 0.22),
    ],
  });
})();

// Broken models, each loaded with ?model=/__bad/NAME: each must end in a readable error in the
// page, not a broken canvas. `files` are the responses under /__bad/; anything else there is
// left to the static server, which answers 404.
const flipped = Buffer.from(weights);
flipped[flipped.length >> 1] ^= 0xff;
const truncated = weights.subarray(0, weights.length >> 1);
const BROKEN = [
  {
    name: 'weights that fail the sha256 check',
    model: 'hash.json',
    files: { 'hash.json': json({ ...manifest, weights: 'hash.bin' }), 'hash.bin': bytes(flipped) },
    error: /sha256/i,
  },
  {
    name: 'truncated weights with a matching sha256',
    model: 'truncated.json',
    files: {
      'truncated.json': json({ ...manifest, weights: 'truncated.bin', sha256: sha256(truncated) }),
      'truncated.bin': bytes(truncated),
    },
    error: /truncated|safetensors/i,
  },
  {
    name: 'a manifest that is not JSON',
    model: 'notjson.json',
    files: { 'notjson.json': { body: '{ "format": 1, this is not json', contentType: 'application/json' } },
    error: /not valid JSON/i,
  },
  {
    name: 'a manifest whose weights file is missing',
    model: 'noweights.json',
    files: { 'noweights.json': json({ ...manifest, weights: 'missing.bin' }) },
    error: /HTTP 404/,
  },
  { name: 'a missing manifest', model: 'absent.json', files: {}, error: /HTTP 404/ },
];

// ---------------------------------------------------------------- page helpers

// The two engine modules, as the worker requests them.
const CPU_MODULE = 'engine/pixelcnn-engine-cpu';
const WEBGPU_MODULE = 'engine/pixelcnn-engine-webgpu';

const server = await serve(DIST);
after(() => server.close());

/**
 * Opens the app in a new browser context (closed when test `t` ends) and collects page errors
 * and console errors. `files` maps paths under the server root to responses for this page;
 * `initScripts` run in the page before its own scripts.
 */
async function open(t, browser, query, { viewport = { width: 1100, height: 1000 }, files = {}, initScripts = [], hash = '', ...contextOptions } = {}) {
  const context = await browser.newContext({ viewport, ...contextOptions });
  t.after(() => context.close());
  const page = await context.newPage();
  // Every URL the page and its workers request (the engine modules are fetched by a worker).
  const requests = [];
  context.on('request', (r) => requests.push(r.url()));
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  if (MODEL_DIR) await useModelDir(page, server.url, MODEL_DIR);
  if (DIGITS) files = { 'www/models/mnist-digits.json': DIGITS, ...files };
  for (const [path, response] of Object.entries(files)) {
    await context.route(new URL(path, server.url).href, (route) => route.fulfill(response));
  }
  for (const script of initScripts) await page.addInitScript(script);
  await page.goto(`${server.url}index.html?${new URLSearchParams(query)}${hash}`);
  return { page, problems, requests };
}

/** Opens the app and waits until the model is loaded. */
async function openReady(t, browser, query, options) {
  const opened = await open(t, browser, query, options);
  const state = await waitForState(opened.page, ['ready', 'error'], LOAD_TIMEOUT);
  assert.equal(state, 'ready', await errorText(opened.page));
  return opened;
}

/** No page errors, no console errors and no error box, from opening the page until now. */
async function assertNoErrors({ page, problems }) {
  assert.deepEqual(problems, []);
  assert.equal(await errorText(page), '');
}

async function errorText(page) {
  return page.$eval('#error', (e) => (e.hidden ? '' : e.textContent));
}

/** Centre of cell (x, y) of the drawing canvas, in page coordinates. */
async function cellPoint(page, x, y) {
  // The page opens with a hint and a model picker above the canvas: bring it into view first.
  await page.locator('#draw').scrollIntoViewIfNeeded();
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

/** Each canvas's pixels as a data URL: the drawing's, then every alternative's. */
async function canvasImages(page) {
  return page.$$eval('#draw, .alt canvas', (canvases) => canvases.map((c) => c.toDataURL()));
}

/** The mouse over cell (x, y) of a canvas that shows the 28×28 grid. */
async function hoverCell(page, selector, x, y) {
  await page.locator(selector).scrollIntoViewIfNeeded();
  const box = await page.locator(selector).boundingBox();
  await page.mouse.move(box.x + ((x + 0.5) * box.width) / 28, box.y + ((y + 0.5) * box.height) / 28);
}

/** A score the way the page prints it ("−12.3 nats"; the format itself: tests/js/results.test.mjs). */
const printedScore = (nats) => `${formatScore(nats)} nats`;

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

for (const backend of BACKENDS) {
  describe(`[${backend}]`, () => {
    let browser;
    before(async () => { browser = await launch({ webgpu: true }); });
    after(() => browser?.close());

    test('page loads the model and reports the backend; the other engine module is never requested', async (t) => {
      const app = await openReady(t, browser, { backend });
      assert.equal(await app.page.$eval('#app', (e) => e.dataset.backend), backend);
      assert.equal(await app.page.textContent('#backend'),
        `${backend === 'webgpu' ? 'WebGPU' : 'CPU (wasm)'} — chosen with ?backend=${backend}`);
      const [used, unused] = backend === 'webgpu' ? [WEBGPU_MODULE, CPU_MODULE] : [CPU_MODULE, WEBGPU_MODULE];
      assert.ok(app.requests.some((u) => u.includes(used)), `${used} was not requested`);
      assert.deepEqual(app.requests.filter((u) => u.includes(unused)), []);
      await assertNoErrors(app);
    });

    test('draw, hide the bottom half, complete 4 alternatives', async (t) => {
      const app = await openReady(t, browser, { backend });
      const { page } = app;
      // A stroke with the pen in the top half (brush 2).
      await page.click('[data-tool=pen]');
      await page.selectOption('#brush', '2');
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
      // Every thumbnail is finished (no pending hatching), downloadable and usable.
      assert.equal(await page.locator('.alt button.download:not([disabled])').count(), 4);
      assert.equal(await page.locator('.alt button.use:not([disabled])').count(), 4);
      await assertNoErrors(app);
      await page.screenshot({ path: join(OUT, `complete-${backend}.png`), fullPage: true });
    });

    // A 3-row hole: SwiftShader emulates the GPU on the CPU, so WebGPU runs keep holes small.
    test('same seed gives the same pixels, another seed others', async (t) => {
      const app = await openReady(t, browser, { backend });
      const { page } = app;
      // The page opens with a test digit half hidden: start from a blank canvas.
      await page.click('#clear');
      await page.check('#seed-lock');
      await page.click('[data-tool=pen]');
      await page.selectOption('#brush', '2');
      await drag(page, [[6, 6], [20, 20]]);
      await page.evaluate(() => window.pixelcnnApp.state.editor.hideRows(25));
      await setRange(page, 'alternatives', 2);
      // At the model's default (below 1) three rows under a stroke are nearly always blank,
      // whatever the seed; at 1 two seeds draw apart.
      await setRange(page, 'temperature', 1);
      await page.fill('#seed', '7');
      const first = await complete(page);
      assert.equal(first.total, 3 * 28);
      const again = await complete(page);
      assert.deepEqual(again.pixels, first.pixels);
      await page.fill('#seed', '8');
      const other = await complete(page);
      assert.notDeepEqual(other.pixels, first.pixels);
      await assertNoErrors(app);
    });

    // The middle band of a test digit: the hole has known pixels after it, so the completion is
    // ranked. On WebGPU (SwiftShader) one completion; the same-seed rerun only on the CPU.
    test('a middle-band hole gives ranked alternatives with scores and a surprise map', async (t) => {
      const app = await openReady(t, browser, { backend });
      const { page } = app;
      await page.waitForFunction(() => !document.getElementById('test-digit').disabled, null, { timeout: 30_000 });
      await page.click('#test-digit');
      await page.evaluate(() => window.pixelcnnApp.state.editor.hideRows(10, 18));
      const canvas = await page.evaluate(() => window.pixelcnnApp.canvas());
      for (let i = 0; i < 784; i++) {
        const row = Math.floor(i / 28);
        assert.equal(canvas.known[i], row >= 10 && row < 18 ? 0 : 1, `pixel ${i}`);
      }
      await setRange(page, 'alternatives', 4);
      await setRange(page, 'candidates', 8);
      await page.fill('#seed', '3');
      await page.check('#seed-lock');
      const frame = await complete(page);
      assert.equal(frame.batch, 4);
      assert.equal(frame.total, 8 * 28, 'the hidden pixels: the pool is scored as it is drawn');
      assert.equal(frame.done, frame.total);
      for (let b = 0; b < 4; b++) {
        for (let i = 0; i < 784; i++) {
          const v = frame.pixels[b * 784 + i];
          if (canvas.known[i]) assert.equal(v, canvas.pixels[i], `alternative ${b}: known pixel ${i} changed`);
          else assert.ok(v === 0 || v === 1, `alternative ${b}: hidden pixel ${i} has no level (${v})`);
        }
      }
      const { scores } = frame;
      assert.equal(scores?.length, 4, `scores: ${JSON.stringify(scores)}`);
      for (let b = 0; b < 4; b++) {
        assert.ok(Number.isFinite(scores[b]) && scores[b] <= 0, `score ${b} is ${scores[b]}`);
        if (b > 0) assert.ok(scores[b] <= scores[b - 1], `scores not best first: ${scores}`);
      }
      const captions = await page.$$eval('.alt .score', (els) => els.map((e) => (e.hidden ? '' : e.textContent)));
      assert.deepEqual(captions, scores.map((s) => `fits the rest of the drawing: ${printedScore(s)}`));
      assert.match(await page.textContent('#status'), /best-fitting of 8 candidates/);
      await page.screenshot({ path: join(OUT, `middle-${backend}.png`), fullPage: true });

      // The surprise map: on, it recolours the drawing and every alternative; off, it restores.
      const plain = await canvasImages(page);
      assert.equal(plain.length, 5);
      await page.check('#surprise');
      await page.waitForFunction(() => {
        const s = window.pixelcnnApp.surprise();
        return s.drawing && s.alternatives;
      }, null, { timeout: COMPLETE_TIMEOUT });
      const mapped = await canvasImages(page);
      mapped.forEach((image, i) => assert.notEqual(image, plain[i], `canvas ${i} did not change with the map on`));
      assert.ok(await page.isVisible('#surprise-legend'), 'the legend is shown');
      assert.match(await page.textContent('#surprise-legend'), /nats/);
      const maps = await page.evaluate(() => window.pixelcnnApp.surprise());
      assert.equal(maps.drawing.length, 784);
      assert.equal(maps.alternatives.length, 4 * 784);
      for (const v of [...maps.drawing, ...maps.alternatives]) assert.ok(v >= -1e-4 && Number.isFinite(v), `surprise ${v}`);
      // Each score is minus the surprise of the known pixels after the hole, from the same model.
      for (let b = 0; b < 4; b++) {
        let sum = 0;
        for (let i = 18 * 28; i < 784; i++) sum += maps.alternatives[b * 784 + i];
        assert.ok(Math.abs(sum + scores[b]) < 1e-2 + 1e-4 * Math.abs(scores[b]), `alternative ${b}: map ${-sum} vs score ${scores[b]}`);
      }
      await hoverCell(page, '#draw', 14, 5);
      assert.equal(await page.textContent('#draw-readout'), `Drawing, pixel (5, 14): ${maps.drawing[5 * 28 + 14].toFixed(2)} nats`);
      await hoverCell(page, '#draw', 3, 12);
      assert.match(await page.textContent('#draw-readout'), /pixel \(12, 3\): hidden/);
      await hoverCell(page, '.alt:nth-child(2) canvas', 7, 12);
      assert.equal(await page.textContent('#alt-readout'), `Alternative 2, pixel (12, 7): ${maps.alternatives[784 + 12 * 28 + 7].toFixed(2)} nats`);
      await page.mouse.move(0, 0);
      await page.screenshot({ path: join(OUT, `surprise-map-${backend}.png`), fullPage: true });
      await page.uncheck('#surprise');
      assert.deepEqual(await canvasImages(page), plain, 'turning the map off restores every canvas');
      assert.ok(!(await page.isVisible('#surprise-legend')), 'the legend is hidden again');

      if (backend === 'cpu') {
        const again = await complete(page);
        assert.deepEqual(again.pixels, frame.pixels, 'same seed, same pixels');
        assert.deepEqual(again.scores, frame.scores, 'same seed, same scores');
      }
      await assertNoErrors(app);
    });

    test("a ranked pool's frames say when the next step scores it", async (t) => {
      const app = await openReady(t, browser, { backend });
      const seen = await app.page.evaluate(async () => {
        const { engine } = window.pixelcnnApp.state;
        const known = new Uint8Array(784).fill(1).fill(0, 280, 504);
        const brief = (f) => ({ done: f.done, total: f.total, phase: f.phase, finished: f.finished, scores: f.scores?.length ?? 0, pixels: Array.from(f.pixels) });
        engine.setCanvas(new Uint8Array(784), known);
        await engine.start({ alternatives: 2, candidates: 4, seed: 1 });
        const first = brief(await engine.step(10_000));
        const last = brief(await engine.step(10_000));
        await engine.start({ alternatives: 2, candidates: 4, seed: 1 });
        const sampled = brief(await engine.sample());
        return { first, last, sampled };
      });
      assert.deepEqual([seen.first.done, seen.first.total, seen.first.phase, seen.first.finished], [223, 224, 'scoring', false]);
      assert.deepEqual([seen.last.done, seen.last.phase, seen.last.finished, seen.last.scores], [224, 'done', true, 2]);
      assert.equal(seen.sampled.phase, 'done', 'sample() runs through the scoring step');
      assert.deepEqual(seen.sampled.pixels, seen.last.pixels, 'stepping and sample() give the same alternatives');
      await assertNoErrors(app);
    });

    test('start() rejects bad options with a readable error', async (t) => {
      const app = await openReady(t, browser, { backend });
      const messages = await app.page.evaluate(async () => {
        const { engine } = window.pixelcnnApp.state;
        const known = new Uint8Array(784).fill(1).fill(0, 280, 504);
        engine.setCanvas(new Uint8Array(784), known);
        const out = [];
        const attempt = async (options) => {
          try {
            await engine.start(options);
            return `no error for ${JSON.stringify(options)}`;
          } catch (err) {
            return err instanceof Error ? err.message : `not an Error: ${err}`;
          }
        };
        for (const candidates of [0, 65, NaN, 1.5]) out.push(await attempt({ alternatives: 4, candidates }));
        // A misspelled option and options that are not an object are errors too.
        out.push(await attempt({ alternativs: 4 }), await attempt('four'), await attempt({ order: 'sideways' }));
        return out;
      });
      assert.match(messages[4], /alternativs/, messages[4]);
      assert.match(messages[5], /options must be an object/, messages[5]);
      assert.match(messages[6], /order/, messages[6]);
      for (const [i, n] of ['0', '65', 'NaN', '1.5'].entries()) {
        assert.match(messages[i], /candidates/, `candidates: ${n}`);
        assert.match(messages[i], /1\.\.=64/, `candidates: ${n}: the message names the range`);
        assert.ok(messages[i].includes(n), `candidates: ${n}: ${messages[i]}`);
      }
      await assertNoErrors(app);
    });

    test('cancel() during an awaited step resolves it cancelled; a backend the engine cannot run rejects before any download', async (t) => {
      const app = await openReady(t, browser, { backend });
      const seen = await app.page.evaluate(async (onCpu) => {
        const { engine } = window.pixelcnnApp.state;
        engine.setCanvas(new Uint8Array(784), new Uint8Array(784));
        await engine.start({ alternatives: 2 });
        const pending = engine.step(784);
        engine.cancel();
        const frame = await pending;
        let rejection = null;
        if (onCpu) {
          try {
            await engine.start({ backend: 'webgpu' });
          } catch (err) {
            rejection = err.message;
          }
        }
        return { cancelled: frame.cancelled, rejection };
      }, backend === 'cpu');
      assert.equal(seen.cancelled, true, 'the step awaited across cancel() says so');
      if (backend === 'cpu') {
        assert.match(seen.rejection ?? 'resolved', /CPU only/);
        assert.deepEqual(app.requests.filter((u) => u.includes(WEBGPU_MODULE)), [], 'the WebGPU module is never requested');
      }
      await assertNoErrors(app);
    });

    if (backend === 'cpu') {
      test('engine.score of the first test digit sums to the native NLL', {
        skip: MODEL_DIR ? 'the page serves a substitute model (--model-dir); the native NLL belongs to the shipped weights' : false,
      }, async (t) => {
        const fixture = JSON.parse(readFileSync(new URL('../fixtures/shipped_logits.json', import.meta.url), 'utf8'));
        assert.equal(fixture.sha256, manifest.sha256, 'tests/fixtures/shipped_logits.json belongs to other weights than dist/ ships');
        const digits = JSON.parse(readFileSync(new URL('../../www/models/mnist-digits.json', import.meta.url), 'utf8'));
        const pixels = digits.digits[fixture.digits[0]].pixels;
        const app = await openReady(t, browser, { backend });
        const surprise = await app.page.evaluate(async (p) => Array.from(await window.pixelcnnApp.state.engine.score(new Uint8Array(p))), pixels);
        assert.equal(surprise.length, 784);
        const nll = surprise.reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(nll - fixture.nll[0]) < 1e-3, `page ${nll} vs native ${fixture.nll[0]} nats`);
        await assertNoErrors(app);
      });
    }

    if (backend === 'cpu') {
      // A tiny untrained model with eight generation orders (tests/fixtures/orders, written by
      // `cargo run --example random_model -- tests/fixtures/orders mnist --orders 8 --tiny`)
      // in place of the digit model: the order is chosen from the mask alone.
      test('a top-half hole is generated bottom to top, and the page says so', async (t) => {
        const fixture = (name) => readFileSync(new URL(`../fixtures/orders/${name}`, import.meta.url));
        const ordersManifest = JSON.parse(fixture('mnist.json'));
        assert.equal(ordersManifest.config.orders, 8);
        const app = await openReady(t, browser, { backend }, {
          files: {
            'www/models/mnist.json': json(ordersManifest),
            [`www/models/${ordersManifest.weights}`]: bytes(fixture(ordersManifest.weights)),
          },
        });
        const { page } = app;
        await page.waitForFunction(() => !document.getElementById('test-digit').disabled, null, { timeout: 30_000 });
        await page.click('#test-digit');
        await page.evaluate(() => window.pixelcnnApp.state.editor.hideRows(0, 14));
        const canvas = await page.evaluate(() => window.pixelcnnApp.canvas());
        for (let i = 0; i < 784; i++) assert.equal(canvas.known[i], i < 14 * 28 ? 0 : 1, `pixel ${i}`);
        await setRange(page, 'alternatives', 2);
        const frame = await complete(page);
        assert.equal(await page.$eval('#app', (e) => e.dataset.order), 'bottom to top');
        assert.match(await page.textContent('#status'), /generated bottom to top/);
        assert.match(await page.textContent('#results-note'), /Generated bottom to top, so every known pixel came before the hole/);
        assert.equal(frame.total, 392, 'only the hidden half is generated: no pool to score');
        for (let b = 0; b < 2; b++) {
          for (let i = 14 * 28; i < 784; i++) {
            assert.equal(frame.pixels[b * 784 + i], canvas.pixels[i], `alternative ${b}: known pixel ${i} changed`);
          }
        }
        await assertNoErrors(app);
      });
    }

    test('Sample starts from an empty canvas; Stop cancels it', async (t) => {
      const app = await openReady(t, browser, { backend });
      const { page } = app;
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
      await assertNoErrors(app);
    });

    describe('broken model files show a readable error', () => {
      for (const { name, model, files, error } of BROKEN) {
        test(name, async (t) => {
          const url = `/__bad/${model}`;
          const served = Object.fromEntries(Object.entries(files).map(([f, r]) => [`__bad/${f}`, r]));
          const { page } = await open(t, browser, { backend, model: url }, { files: served });
          assert.equal(await waitForState(page, ['ready', 'error'], LOAD_TIMEOUT), 'error', `${url} loaded`);
          const text = await errorText(page);
          assert.match(text, error, `${url}: ${text}`);
          assert.ok(await page.$eval('#complete', (b) => b.disabled), `${url}: Complete is enabled`);
        });
      }
    });
  });
}

// ---------------------------------------------------------------- colour, first view, bad models

/** The mnist weights with a NaN as the first value of their first tensor that holds floats. */
function weightsWithNan() {
  const out = Buffer.from(weights);
  const headerLength = Number(out.readBigUInt64LE(0));
  const header = JSON.parse(out.subarray(8, 8 + headerLength).toString('utf8'));
  const name = Object.keys(header).filter((k) => k !== '__metadata__' && ['F32', 'F16'].includes(header[k].dtype)).sort()[0];
  const at = 8 + headerLength + header[name].data_offsets[0];
  if (header[name].dtype === 'F32') out.writeFloatLE(NaN, at);
  else out.writeUInt16LE(0x7e00, at);
  return out;
}

const nanWeights = weightsWithNan();
const BAD_SWITCH = [
  {
    name: 'NaN in the weights (sha256 matching)',
    files: {
      '__bad/nan.json': json({ ...manifest, weights: 'nan.bin', sha256: sha256(nanWeights) }),
      '__bad/nan.bin': bytes(nanWeights),
    },
    model: '/__bad/nan.json',
    error: /non-finite/,
  },
  {
    name: 'a manifest claiming width 100000',
    files: {
      '__bad/wide.json': json({
        ...manifest,
        image: { ...manifest.image, width: 100000 },
        config: { ...manifest.config, width: 100000 },
      }),
    },
    model: '/__bad/wide.json',
    error: /width.*100000.*at most/,
  },
];

/** The first PNG's width and height, from its IHDR chunk. */
function pngSize(png) {
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], 'not a PNG');
  return [png.readUInt32BE(16), png.readUInt32BE(20)];
}

if (BACKENDS.includes('cpu')) {
  describe('[cpu] colour, first view and bad models', () => {
    let browser;
    before(async () => { browser = await launch({ webgpu: true }); });
    after(() => browser?.close());
    const backend = 'cpu';

    // What a visitor downloads before the first completion can start: the page, its scripts
    // and styles, the CPU engine and the model, each as gzip -9 would serve it.
    test('the first completion needs at most 1.2 MB (gzip) of downloads', async (t) => {
      const app = await openReady(t, browser, {});
      const { origin } = new URL(server.url);
      const files = [...new Set(app.requests)]
        .filter((u) => u.startsWith(origin) && !u.startsWith('data:'))
        .map((u) => decodeURIComponent(new URL(u).pathname).replace(/^\//, '') || 'index.html');
      const sizes = files.map((f) => [f, gzipSync(readFileSync(join(DIST, f)), { level: 9 }).length]);
      const total = sizes.reduce((sum, [, n]) => sum + n, 0);
      console.log(sizes.map(([f, n]) => `  ${String(n).padStart(8)}  ${f}`).join('\n'));
      console.log(`  ${String(total).padStart(8)}  bytes in all (gzip -9)`);
      assert.ok(files.some((f) => f.includes(CPU_MODULE)), 'the CPU engine is among the downloads');
      assert.ok(!files.some((f) => f.includes(WEBGPU_MODULE)), 'the WebGPU engine is not');
      assert.ok(total <= 1_200_000, `${total} bytes before the first completion`);
    });

    test('a 16 × 392-pixel completion leaves the main thread free: no task over 50 ms', async (t) => {
      const app = await openReady(t, browser, { backend });
      const { page } = app;
      await page.click('#clear');
      await page.click('#hide-bottom');
      await setRange(page, 'alternatives', 16);
      await page.evaluate(() => {
        window.longTasks = [];
        new PerformanceObserver((list) => {
          for (const e of list.getEntries()) window.longTasks.push(Math.round(e.duration));
        }).observe({ type: 'longtask' });
      });
      const frame = await complete(page);
      assert.equal(frame.batch, 16);
      assert.equal(frame.total, 392);
      const long = await page.evaluate(() => window.longTasks);
      assert.deepEqual(long, [], `main-thread tasks over 50 ms during the completion: ${long} ms`);
      await assertNoErrors(app);
    });

    test('a pool shared by two CPU workers gives the alternatives and scores of one worker', async (t) => {
      const results = [];
      for (const workers of [1, 2]) {
        const app = await openReady(t, browser, { backend, workers });
        const { page } = app;
        await page.waitForFunction((n) => window.pixelcnnApp.state.engine.poolWorkers >= n, workers, { timeout: LOAD_TIMEOUT });
        await page.waitForFunction(() => !document.getElementById('test-digit').disabled);
        await page.click('#test-digit');
        await page.evaluate(() => window.pixelcnnApp.hideRows(10, 18));
        await setRange(page, 'alternatives', 3);
        await setRange(page, 'candidates', 10);
        await page.fill('#seed', '3');
        const frame = await complete(page);
        const status = await page.textContent('#status');
        assert.match(status, /best-fitting of 10 candidates/);
        if (workers > 1) assert.match(status, /× 2 workers/);
        results.push({ pixels: frame.pixels, scores: frame.scores });
        await assertNoErrors(app);
      }
      assert.deepEqual(results[1], results[0]);
    });

    test('the page opens with a half-hidden test digit; Complete fills it, again with new alternatives, locked the same', async (t) => {
      const app = await openReady(t, browser, { backend });
      const { page } = app;
      const canvas = await page.evaluate(() => window.pixelcnnApp.canvas());
      const hidden = canvas.known.filter((k) => !k).length;
      assert.ok(hidden > 0 && hidden < 784, `${hidden} hidden pixels`);
      assert.equal(canvas.known.indexOf(0) % 28, 0, 'the hidden part starts at a row');
      assert.ok(canvas.pixels.some((v, i) => v && canvas.known[i]), 'the known part has ink');
      assert.match(await page.textContent('#hint'), /Complete/);
      assert.ok(await page.isVisible('#hint'));
      await setRange(page, 'alternatives', 4);
      const seed = Number(await page.inputValue('#seed'));
      const first = await complete(page);
      assert.equal(first.done, first.total);
      assert.equal(first.batch, 4);
      const next = Number(await page.inputValue('#seed'));
      assert.equal(next, seed + 1, 'the seed advanced and shows the next one');
      await page.screenshot({ path: join(OUT, 'first-view.png'), fullPage: true });
      const second = await complete(page);
      assert.notDeepEqual(second.pixels, first.pixels, 'a second Complete gave the same alternatives');
      await page.check('#seed-lock');
      const locked = Number(await page.inputValue('#seed'));
      const a = await complete(page);
      const b = await complete(page);
      assert.equal(Number(await page.inputValue('#seed')), locked, 'the locked seed stays');
      assert.deepEqual(b.pixels, a.pixels, 'locked seed, same alternatives');
      await assertNoErrors(app);
    });

    test('Emoji: pick the colour model, complete a held-out emoji, export a PNG', async (t) => {
      const app = await openReady(t, browser, { backend });
      const { page } = app;
      await page.selectOption('#model', 'emoji');
      await page.waitForFunction(() => window.pixelcnnApp.state.info?.channels === 3
        && document.getElementById('app').dataset.state === 'ready', null, { timeout: LOAD_TIMEOUT });
      assert.match(page.url(), /[?&]model=emoji/);
      // The footer credits the model's data sets (name, then licence), and the temperature
      // starts at the model's measured default.
      const emoji = JSON.parse(readFileSync(join(modelDir, 'emoji.json'), 'utf8'));
      const links = await page.$$eval('#credits a', (all) => all.map((a) => a.textContent));
      assert.deepEqual(links, (emoji.sources ?? []).flatMap((s) => [s.name, s.licence]));
      assert.equal(Number(await page.inputValue('#temperature')), emoji.default_temperature ?? 1);
      // Opened by that URL, the page starts with the colour model and a half-hidden emoji.
      const direct = await openReady(t, browser, { backend, model: 'emoji' });
      assert.equal(await direct.page.inputValue('#model'), 'emoji');
      const first = await direct.page.evaluate(() => window.pixelcnnApp.canvas());
      assert.equal(first.pixels.length, 3 * 256);
      assert.ok(first.known.includes(0) && first.known.includes(1));
      await assertNoErrors(direct);
      assert.ok(await page.isHidden('#label'), 'no class control for a model without classes');
      assert.equal(await page.locator('#palette button').count(), 12);
      assert.ok(await page.isVisible('[data-tool=eyedropper]'));
      await page.waitForFunction(() => !document.getElementById('test-digit').disabled, null, { timeout: 30_000 });
      await page.click('#test-digit');
      await page.evaluate(() => window.pixelcnnApp.state.editor.hideRows(8));
      const canvas = await page.evaluate(() => window.pixelcnnApp.canvas());
      const plane = 256;
      assert.equal(canvas.pixels.length, 3 * plane);
      assert.equal(canvas.known.length, plane);
      await setRange(page, 'alternatives', 4);
      await setRange(page, 'candidates', 4);
      const frame = await complete(page);
      assert.equal(frame.batch, 4);
      for (let b = 0; b < 4; b++) {
        const colours = new Set();
        for (let i = 0; i < plane; i++) {
          const rgb = [0, 1, 2].map((c) => frame.pixels[(b * 3 + c) * plane + i]);
          if (canvas.known[i]) {
            rgb.forEach((v, c) => assert.equal(v, canvas.pixels[c * plane + i], `alternative ${b}: known value ${c}/${i} changed`));
          } else {
            colours.add(rgb.join(','));
          }
        }
        assert.ok(colours.size > 1, `alternative ${b}: the hidden part is one colour (${[...colours]})`);
      }
      // The eyedropper takes a known pixel's colour for the pen.
      await page.click('[data-tool=eyedropper]');
      const box = await page.locator('#draw').boundingBox();
      await page.mouse.click(box.x + box.width * (8.5 / 16), box.y + box.height * (4.5 / 16));
      const picked = await page.evaluate(() => window.pixelcnnApp.state.editor.colour);
      const i = 4 * 16 + 8;
      assert.deepEqual(picked, [0, 1, 2].map((c) => canvas.pixels[c * plane + i]));
      assert.equal(await page.getAttribute('[data-tool=pen]', 'aria-pressed'), 'true');
      // A palette colour paints its RGB; the eraser paints white; both make the pixel known.
      const cell = async (x, y) => page.mouse.click(box.x + box.width * ((x + 0.5) / 16), box.y + box.height * ((y + 0.5) / 16));
      const rgbAt = (c, x, y) => [0, 1, 2].map((k) => c.pixels[k * plane + y * 16 + x]);
      await page.selectOption('#brush', '1');
      await page.click('#palette button:nth-child(4)');
      await cell(3, 12);
      await page.click('[data-tool=eraser]');
      await cell(5, 12);
      const painted = await page.evaluate(() => window.pixelcnnApp.canvas());
      assert.deepEqual(rgbAt(painted, 3, 12), [230, 40, 40]);
      assert.deepEqual(rgbAt(painted, 5, 12), [255, 255, 255]);
      assert.equal(painted.known[12 * 16 + 3], 1);
      assert.equal(painted.known[12 * 16 + 5], 1);
      // PNG export: 8× the model's size.
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('.alt:nth-child(1) button.download')]);
      const path = await download.path();
      assert.deepEqual(pngSize(readFileSync(path)), [128, 128]);
      // The surprise map: one value per pixel, the legend says how the channels combine.
      await page.check('#surprise');
      await page.waitForFunction(() => window.pixelcnnApp.surprise().alternatives, null, { timeout: COMPLETE_TIMEOUT });
      const maps = await page.evaluate(() => window.pixelcnnApp.surprise());
      assert.equal(maps.alternatives.length, 4 * plane);
      assert.match(await page.textContent('#surprise-legend'), /sum over R, G and B/);
      assert.match(await page.textContent('#legend-ticks'), /16\+/);
      await page.screenshot({ path: join(OUT, 'emoji-surprise.png'), fullPage: true });
      await page.uncheck('#surprise');
      await page.screenshot({ path: join(OUT, 'emoji.png'), fullPage: true });
      await assertNoErrors(app);
    });

    // A blog-like host page with the one-line embed: the iframe takes its content's height.
    for (const [width, attributes, channels] of [[360, 'alternatives="2"', 1], [720, 'alternatives="2" model="emoji" image="3"', 3]]) {
      test(`<pixelcnn-demo> in a ${width} px column: sized to its content, a completion works`, async (t) => {
        const context = await browser.newContext({ viewport: { width, height: 900 } });
        t.after(() => context.close());
        const page = await context.newPage();
        const problems = [];
        page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
        page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
        const host = `<!doctype html><html><head><meta name="viewport" content="width=device-width, initial-scale=1">
          <script type="module" src="/www/embed.js"></script>
          <style>body { margin: 0; font: 16px Georgia, serif; } article { padding: 0 8px; }</style></head>
          <body><article><h1>A post about PixelCNN</h1><p>Below, the model completes a digit.</p>
          <pixelcnn-demo backend="cpu" ${attributes}></pixelcnn-demo>
          <p>Text after the demo.</p></article></body></html>`;
        await page.route(new URL('__host/post.html', server.url).href, (route) => route.fulfill({ body: host, contentType: 'text/html' }));
        await page.goto(new URL('__host/post.html', server.url).href);
        const frame = await (await page.waitForSelector('pixelcnn-demo iframe')).contentFrame();
        assert.equal(await waitForState(frame, ['ready', 'error'], LOAD_TIMEOUT), 'ready');
        const fits = async () => page.waitForFunction(() => {
          const iframe = document.querySelector('pixelcnn-demo iframe');
          const inner = iframe.contentDocument.documentElement;
          return Math.abs(iframe.getBoundingClientRect().height - inner.getBoundingClientRect().height) <= 1
            && inner.scrollHeight <= iframe.clientHeight + 1;
        }, null, { timeout: 10_000, polling: 100 });
        await fits();
        assert.equal(await frame.inputValue('#alternatives'), '2');
        assert.equal(await frame.evaluate(() => window.pixelcnnApp.state.info.channels), channels);
        const overflow = await frame.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 0, `the embed is ${overflow}px wider than its column`);
        const before = await frame.evaluate(() => window.pixelcnnApp.state.finishedRuns);
        await frame.click('#complete');
        await frame.waitForFunction((n) => window.pixelcnnApp.state.finishedRuns > n, before, { timeout: COMPLETE_TIMEOUT });
        assert.equal(await frame.$eval('#app', (e) => e.dataset.state), 'done');
        assert.equal(await frame.locator('.alt').count(), 2);
        await fits(); // taller now, with the alternatives: still nothing clipped
        await page.screenshot({ path: join(OUT, `embed-${width}.png`), fullPage: true });
        assert.deepEqual(problems, []);
      });
    }

    for (const { name, files, model, error } of BAD_SWITCH) {
      test(`a bad model (${name}): a readable error; switched to, the previous model stays usable`, async (t) => {
        // Opened directly: the error, no model, Complete disabled.
        const direct = await open(t, browser, { backend, model }, { files });
        assert.equal(await waitForState(direct.page, ['ready', 'error'], LOAD_TIMEOUT), 'error');
        assert.match(await errorText(direct.page), error);
        assert.match(await errorText(direct.page), /could not be loaded/);
        // What happened and what to do first; the loader's own message under Details.
        assert.match(await direct.page.$eval('#error', (e) => e.firstChild.textContent), /^The model could not be loaded\. /);
        assert.match(await direct.page.textContent('#error details'), error);
        assert.ok(await direct.page.$eval('#complete', (b) => b.disabled));
        for (const p of direct.problems) assert.doesNotMatch(p, /panicked|unreachable/);

        // Switched to from a good model: the error, and the good model still completes.
        const app = await openReady(t, browser, { backend }, { files });
        const { page } = app;
        const messages = [];
        page.on('console', (m) => messages.push(m.text()));
        await page.evaluate((url) => document.getElementById('model').add(new Option('bad', url)), model);
        await page.selectOption('#model', model);
        await page.waitForFunction(() => !document.getElementById('error').hidden, null, { timeout: LOAD_TIMEOUT });
        const text = await errorText(page);
        assert.match(text, error);
        assert.match(text, /keeps the mnist model/);
        assert.equal(await page.inputValue('#model'), 'mnist');
        await page.click('#clear');
        await page.evaluate(() => window.pixelcnnApp.state.editor.hideRows(26));
        const frame = await complete(page);
        assert.equal(frame.done, frame.total);
        for (const m of messages) assert.doesNotMatch(m, /panicked|unreachable/);
        assert.deepEqual(app.problems, []);
      });
    }
  });
}

if (BACKENDS.includes('cpu')) {
  // Without --enable-unsafe-webgpu, headless Chromium has no adapter: "auto" must fall back.
  describe('without WebGPU', () => {
    let browser;
    before(async () => { browser = await launch({ webgpu: false }); });
    after(() => browser?.close());

    test('[auto] without a WebGPU adapter the page runs on the CPU, says why, and never loads the WebGPU module', async (t) => {
      const app = await openReady(t, browser, {});
      const { page, problems } = app;
      assert.equal(await page.$eval('#app', (e) => e.dataset.backend), 'cpu');
      assert.equal(await page.textContent('#backend'), 'CPU (wasm) — this browser has no WebGPU adapter');
      await setRange(page, 'alternatives', 2);
      await page.evaluate(() => window.pixelcnnApp.state.editor.hideRows(26));
      const frame = await complete(page);
      assert.equal(frame.done, frame.total);
      assert.deepEqual(app.requests.filter((u) => u.includes(WEBGPU_MODULE)), []);
      assert.ok(app.requests.some((u) => u.includes(CPU_MODULE)), 'the CPU module was loaded');
      assert.deepEqual(problems, []);
    });

    test('[auto] ?backend=webgpu without WebGPU is an error in the page', async (t) => {
      const { page } = await open(t, browser, { backend: 'webgpu' });
      assert.equal(await waitForState(page, ['ready', 'error'], LOAD_TIMEOUT), 'error');
      assert.match(await errorText(page), /WebGPU/);
    });

    test('[phone] a 360 px wide touch screen: no sideways scroll, touch draws', async (t) => {
      const app = await openReady(t, browser, { backend: 'cpu' }, {
        viewport: { width: 360, height: 740 }, hasTouch: true, isMobile: true, deviceScaleFactor: 2,
      });
      const { page, problems } = app;
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
      const box = await page.locator('#draw').boundingBox();
      assert.ok(box.width >= 300 && box.x >= 0 && box.x + box.width <= 360, `canvas box ${JSON.stringify(box)}`);
      const [x, y] = await cellPoint(page, 10, 10);
      await page.touchscreen.tap(x, y);
      const canvas = await page.evaluate(() => window.pixelcnnApp.canvas());
      assert.equal(canvas.pixels[10 * 28 + 10], 1, 'a tap with the pen inks the cell');
      await page.screenshot({ path: join(OUT, 'phone.png') });
      // The surprise map's legend and readout fit too, and a tap reads a pixel out.
      await page.tap('#surprise');
      await page.waitForFunction(() => window.pixelcnnApp.surprise().drawing, null, { timeout: LOAD_TIMEOUT });
      await page.touchscreen.tap(...(await cellPoint(page, 11, 10)));
      assert.match(await page.textContent('#draw-readout'), /^Drawing, pixel \(10, 11\): \d+\.\d\d nats$/);
      const wider = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(wider <= 0, `with the surprise map the page is ${wider}px wider than the screen`);
      await page.screenshot({ path: join(OUT, 'phone-surprise.png') });
      assert.deepEqual(problems, []);
    });
  });
}

// ---------------------------------------------------------------- the drawing tool

/** The drawing's pixels and mask, and the class picked for it. */
async function drawingState(page) {
  return page.evaluate(() => ({ ...window.pixelcnnApp.canvas(), label: document.getElementById('label').value }));
}

/** Drops (or pastes) a file made in the page: a PNG of a grey bar on white, or text. */
async function dropFile(page, kind, how = 'drop') {
  const transfer = await page.evaluateHandle(async (what) => {
    const dt = new DataTransfer();
    if (what === 'png') {
      const canvas = new OffscreenCanvas(120, 120);
      const g = canvas.getContext('2d');
      g.fillStyle = '#fff';
      g.fillRect(0, 0, 120, 120);
      // Grey ink (60 % dark): ink at the default threshold, paper at 90 %.
      g.fillStyle = '#666';
      g.fillRect(50, 10, 20, 100);
      dt.items.add(new File([await canvas.convertToBlob({ type: 'image/png' })], 'one.png', { type: 'image/png' }));
    } else {
      dt.items.add(new File(['not an image'], 'notes.txt', { type: 'text/plain' }));
    }
    return dt;
  }, kind);
  if (how === 'paste') {
    await page.evaluate((dt) => document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true })), transfer);
  } else {
    await page.dispatchEvent('#canvas-area', 'dragover', { dataTransfer: transfer });
    await page.dispatchEvent('#canvas-area', 'drop', { dataTransfer: transfer });
  }
}

/** The colour of cell (x, y) on the drawing canvas and on alternative b's thumbnail. */
async function cellColours(page, x, y, b) {
  return page.evaluate(([x, y, b]) => {
    const draw = document.getElementById('draw');
    const at = (canvas, px, py) => Array.from(canvas.getContext('2d').getImageData(px, py, 1, 1).data.slice(0, 3));
    const cell = draw.width / 28;
    const thumb = document.querySelectorAll('.alt canvas')[b];
    return { drawing: at(draw, Math.floor((x + 0.5) * cell), Math.floor((y + 0.5) * cell)), alternative: at(thumb, x, y) };
  }, [x, y, b]);
}

const HATCH_BACKGROUND = [232, 236, 244];

if (BACKENDS.includes('cpu')) {
  describe('[cpu] the drawing tool', () => {
    let browser;
    before(async () => { browser = await launch({ webgpu: false }); });
    after(() => browser?.close());
    const backend = 'cpu';

    test('undo and redo every change exactly; the class follows the drawing', async (t) => {
      const app = await openReady(t, browser, { backend });
      const { page } = app;
      const digits = await page.evaluate(() => window.pixelcnnApp.state.digits.slice(0, 2).map((d) => String(d.label)));
      const opened = await drawingState(page);
      assert.equal(opened.label, digits[0], 'the test image shows its class');
      assert.ok(await page.$eval('#undo', (b) => b.disabled), 'nothing to undo yet');
      await drag(page, [[3, 3], [8, 3], [8, 8]]);
      const drawn = await drawingState(page);
      assert.notDeepEqual(drawn.pixels, opened.pixels);
      await page.click('#clear');
      const cleared = await drawingState(page);
      assert.equal(cleared.label, '', 'Clear sets the class to any');
      assert.ok(cleared.pixels.every((v) => v === 0) && cleared.known.every((k) => k === 1));
      await page.click('#undo');
      assert.deepEqual(await drawingState(page), drawn, 'undo after Clear restores the drawing and its class');
      await page.click('#undo');
      assert.deepEqual(await drawingState(page), opened);
      assert.ok(await page.$eval('#undo', (b) => b.disabled));
      await page.keyboard.press('Control+Shift+Z');
      assert.deepEqual(await drawingState(page), drawn, 'Shift+Ctrl+Z redoes');
      await page.keyboard.press('Control+Shift+Z');
      assert.deepEqual(await drawingState(page), cleared);
      await page.keyboard.press('Control+Z');
      assert.deepEqual(await drawingState(page), drawn, 'Ctrl+Z undoes');
      await page.click('#test-digit');
      assert.equal((await drawingState(page)).label, digits[1], 'the next test image shows its class');
      await page.click('#hide-bottom');
      assert.equal((await drawingState(page)).known.filter((k) => !k).length, 14 * 28);
      await page.click('#undo');
      await page.click('#undo');
      assert.deepEqual(await drawingState(page), drawn);
      // On a cleared canvas the visitor's own drawing gets no class unless one is picked.
      await page.click('#clear');
      await drag(page, [[10, 4], [10, 20]]);
      assert.equal((await drawingState(page)).label, '');
      await page.selectOption('#label', '4');
      await drag(page, [[14, 4], [14, 20]]);
      assert.equal((await drawingState(page)).label, '4', 'a class the visitor picked stays');
      await page.click('#undo');
      await page.click('#undo');
      assert.equal((await drawingState(page)).label, '', 'picking the class is a change undo takes back');
      await assertNoErrors(app);
    });

    test('the best alternative fills in on the drawing while it completes; Use this, keyboard, Stop', async (t) => {
      const app = await openReady(t, browser, { backend });
      const { page } = app;
      await page.evaluate(() => window.pixelcnnApp.hideRows(8, 16));
      await setRange(page, 'alternatives', 2);
      await setRange(page, 'candidates', 12);
      // Watch the drawing while the completion runs: the preview is on it from the first frames.
      await page.evaluate(() => {
        window.previewWhileRunning = 0;
        window.previewWatch = setInterval(() => {
          const { state } = window.pixelcnnApp;
          if (document.getElementById('app').dataset.state === 'running' && state.editor.preview) window.previewWhileRunning++;
        }, 5);
      });
      await page.waitForFunction(() => !document.getElementById('complete').disabled);
      const before = await page.evaluate(() => window.pixelcnnApp.state.finishedRuns);
      await page.locator('body').press('Enter'); // Enter completes
      await page.waitForFunction(() => {
        const { state } = window.pixelcnnApp;
        return state.editor.preview && state.lastFrame && state.lastFrame.done * 2 > state.lastFrame.total;
      }, null, { timeout: COMPLETE_TIMEOUT, polling: 'raf' });
      await page.screenshot({ path: join(OUT, 'mid-completion-cpu.png') });
      await page.waitForFunction((n) => window.pixelcnnApp.state.finishedRuns > n, before, { timeout: COMPLETE_TIMEOUT });
      assert.ok(await page.evaluate(() => window.previewWhileRunning) > 0, 'the drawing showed the completion while it ran');
      const frame = await page.evaluate(() => window.pixelcnnApp.lastFrame());
      const canvas = await page.evaluate(() => window.pixelcnnApp.canvas());
      // A hidden cell shows what the best alternative (#1) generated there, as its thumbnail does.
      const hidden = 12 * 28 + 14;
      assert.equal(canvas.known[hidden], 0);
      const shown = await cellColours(page, 14, 12, 0);
      assert.deepEqual(shown.drawing, shown.alternative);
      assert.notDeepEqual(shown.drawing, HATCH_BACKGROUND);
      // A click on alternative #2 shows that one; the toggle returns to the plain drawing.
      await page.click('.alt:nth-child(2) canvas');
      assert.ok(await page.$eval('.alt:nth-child(2) canvas', (c) => c.classList.contains('shown')));
      const second = await cellColours(page, 14, 12, 1);
      assert.deepEqual(second.drawing, second.alternative);
      await page.uncheck('#preview');
      assert.equal(await page.evaluate(() => window.pixelcnnApp.state.editor.preview), null);
      await page.check('#preview');
      // Use this: alternative #2 becomes the drawing, every pixel known; undo takes it back.
      await page.click('.alt:nth-child(2) button.use');
      const used = await page.evaluate(() => window.pixelcnnApp.canvas());
      assert.deepEqual(used.pixels, frame.pixels.slice(784, 2 * 784));
      assert.ok(used.known.every((k) => k === 1));
      await page.click('#undo');
      assert.deepEqual(await page.evaluate(() => window.pixelcnnApp.canvas()), canvas);
      assert.ok(await page.evaluate(() => window.pixelcnnApp.state.editor.preview), 'undone back to the input, it shows the alternative again');
      // The first stroke returns to the plain drawing.
      await drag(page, [[2, 2], [4, 2]]);
      assert.equal(await page.evaluate(() => window.pixelcnnApp.state.editor.preview), null);
      // Keys: tools and brush, with the keys in the titles; the canvas paints from the keyboard.
      await page.locator('body').press('h');
      assert.equal(await page.getAttribute('[data-tool=hide]', 'aria-pressed'), 'true');
      assert.match(await page.getAttribute('[data-tool=hide]', 'title'), /\(H\)$/);
      assert.match(await page.getAttribute('#undo', 'title'), /\(Ctrl\+Z\)$/);
      assert.equal(await page.getAttribute('#complete', 'aria-keyshortcuts'), 'Enter');
      const brush = Number(await page.inputValue('#brush'));
      await page.locator('body').press(']');
      assert.ok(Number(await page.inputValue('#brush')) > brush);
      await page.locator('body').press('p');
      await page.locator('body').press('[');
      await page.locator('body').press('[');
      await page.locator('body').press('[');
      assert.equal(await page.inputValue('#brush'), '1');
      await page.focus('#draw');
      for (const key of ['ArrowRight', 'ArrowRight', 'ArrowDown', ' ']) await page.keyboard.press(key);
      const keyed = await page.evaluate(() => window.pixelcnnApp.canvas());
      assert.equal(keyed.pixels[1 * 28 + 2], 1, 'Space inks the cell under the cursor');
      // Esc stops a completion.
      await page.locator('body').press('Enter');
      await page.waitForFunction(() => document.getElementById('app').dataset.state === 'running');
      await page.keyboard.press('Escape');
      await page.waitForFunction(() => document.getElementById('app').dataset.state === 'ready');
      assert.equal(await page.textContent('#status'), 'Stopped.');
      await assertNoErrors(app);
    });

    test('bring an image: a dropped PNG becomes the drawing at a threshold one can move; a text file is a notice', async (t) => {
      const app = await openReady(t, browser, { backend });
      const { page } = app;
      const opened = await drawingState(page);
      await dropFile(page, 'png');
      await page.waitForFunction(() => !document.getElementById('threshold-row').hidden);
      const dropped = await drawingState(page);
      assert.ok(dropped.known.every((k) => k === 1), 'every pixel of a brought image is known');
      assert.equal(dropped.label, '', 'a brought image has no class');
      const inkRows = [...Array(28).keys()].filter((y) => dropped.pixels.slice(y * 28, y * 28 + 28).some(Boolean));
      assert.deepEqual([inkRows[0], inkRows.length], [4, 20], 'the bar fills the middle 20 rows, as MNIST digits do');
      const ink = (d) => d.pixels.reduce((a, b) => a + b, 0);
      await page.$eval('#threshold', (el) => {
        el.value = '0.9';
        el.dispatchEvent(new Event('input', { bubbles: true }));
        el.dispatchEvent(new Event('change', { bubbles: true }));
      });
      const strict = await drawingState(page);
      assert.ok(ink(strict) < ink(dropped), `threshold 0.9: ${ink(strict)} ink pixels, 0.5: ${ink(dropped)}`);
      assert.match(await page.textContent('#threshold-value'), /90 %/);
      await page.click('#undo');
      assert.deepEqual(await drawingState(page), dropped);
      await page.click('#undo');
      assert.deepEqual(await drawingState(page), opened, 'undo takes the brought image back');
      await dropFile(page, 'png', 'paste');
      await page.waitForFunction(() => !document.getElementById('threshold-row').hidden);
      assert.deepEqual((await drawingState(page)).pixels, dropped.pixels, 'a pasted image is brought the same way');
      const before = await drawingState(page);
      await dropFile(page, 'text');
      await page.waitForFunction(() => !document.getElementById('notice').hidden);
      assert.match(await page.textContent('#notice'), /not an image .*unchanged/);
      assert.deepEqual(await drawingState(page), before);
      assert.equal(await page.$eval('#app', (e) => e.dataset.state), 'ready');
      await assertNoErrors(app);
    });

    test('a shared link reopens the scene and its alternatives; a malformed one is a notice; <pixelcnn-demo scene>', async (t) => {
      const app = await openReady(t, browser, { backend });
      const { page } = app;
      await page.click('#test-digit');
      await page.evaluate(() => window.pixelcnnApp.state.editor.hideRows(10, 18));
      await setRange(page, 'temperature', 0.8);
      await setRange(page, 'alternatives', 2);
      await setRange(page, 'candidates', 6);
      await page.fill('#seed', '5');
      const scene = await drawingState(page);
      const first = await complete(page);
      await page.click('#copy-link');
      const link = page.url();
      assert.match(link, /#scene=1\.mnist\.\d\.80\.2\.6\.5\.[A-Za-z0-9_-]+$/, link);
      assert.ok(link.length < 400, `${link.length} characters`);
      assert.doesNotMatch(link, /backend=/, 'the link leaves the backend to whoever opens it');
      // A fresh context: the same drawing, class and settings, and Complete gives the same pixels.
      const context = await browser.newContext({ viewport: { width: 1100, height: 1000 } });
      t.after(() => context.close());
      const reopened = await context.newPage();
      if (MODEL_DIR) await useModelDir(reopened, server.url, MODEL_DIR);
      await reopened.goto(link);
      assert.equal(await waitForState(reopened, ['ready', 'error'], LOAD_TIMEOUT), 'ready');
      const shared = await drawingState(reopened);
      assert.deepEqual(shared.known, scene.known);
      assert.deepEqual(shared.pixels.filter((_, i) => scene.known[i]), scene.pixels.filter((_, i) => scene.known[i]));
      assert.equal(shared.label, scene.label);
      assert.equal(await reopened.inputValue('#seed'), '5');
      assert.equal(await reopened.inputValue('#candidates'), '6');
      assert.equal(await reopened.inputValue('#temperature'), '0.8');
      const again = await complete(reopened);
      assert.deepEqual(again.pixels, first.pixels, 'the shared scene gives the same alternatives');
      // A malformed scene: a notice, and the default view, ready to complete.
      const broken = await openReady(t, browser, { backend }, { hash: '#scene=1.mnist.3.100.4.28.1.%%%' });
      assert.match(await broken.page.textContent('#notice'), /could not be opened/);
      const view = await drawingState(broken.page);
      assert.ok(view.known.includes(0) && view.known[0] === 1, 'the default half-hidden test image');
      await assertNoErrors(broken);
      // An author's embed with that scene opens it.
      const host = await browser.newContext({ viewport: { width: 720, height: 900 } });
      t.after(() => host.close());
      const post = await host.newPage();
      if (MODEL_DIR) await useModelDir(post, server.url, MODEL_DIR);
      const value = new URL(link).hash.replace(/^#scene=/, '');
      const html = `<!doctype html><html><head><script type="module" src="/www/embed.js"></script></head>
        <body><h1>My occlusion</h1><pixelcnn-demo backend="cpu" scene="${value}"></pixelcnn-demo></body></html>`;
      await post.route(new URL('__host/scene.html', server.url).href, (route) => route.fulfill({ body: html, contentType: 'text/html' }));
      await post.goto(new URL('__host/scene.html', server.url).href);
      const frame = await (await post.waitForSelector('pixelcnn-demo iframe')).contentFrame();
      assert.equal(await waitForState(frame, ['ready', 'error'], LOAD_TIMEOUT), 'ready');
      assert.deepEqual((await drawingState(frame)).known, scene.known);
      await post.screenshot({ path: join(OUT, 'embed-scene-cpu.png'), fullPage: true });
      await assertNoErrors(app);
    });

    for (const [width, height] of [[360, 740], [390, 844]]) {
      test(`[phone] ${width}×${height}: Complete and the filling-in drawing on the first screen`, async (t) => {
        const app = await openReady(t, browser, { backend }, {
          viewport: { width, height }, hasTouch: true, isMobile: true, deviceScaleFactor: 2,
        });
        const { page } = app;
        const inView = async (selector) => {
          const box = await page.locator(selector).boundingBox();
          return box.y >= 0 && box.y + box.height <= height + 0.5 && box.x >= 0 && box.x + box.width <= width + 0.5;
        };
        assert.ok(await inView('#complete'), 'Complete is on the first screen');
        assert.ok(await inView('#draw'), 'the drawing is on the first screen');
        const draw = await page.locator('#draw').boundingBox();
        const bar = await page.locator('.actions').boundingBox();
        assert.ok(draw.y + draw.height <= bar.y + 1, 'the action bar does not cover the drawing');
        await setRange(page, 'alternatives', 2);
        await setRange(page, 'candidates', 2);
        await page.tap('#complete');
        await page.waitForFunction(() => window.pixelcnnApp.state.finishedRuns > 0, null, { timeout: COMPLETE_TIMEOUT });
        assert.ok(await page.evaluate(() => window.pixelcnnApp.state.editor.preview), 'the drawing shows the result');
        assert.ok(await inView('#draw'), 'without scrolling');
        await page.screenshot({ path: join(OUT, `phone-${width}-cpu.png`) });
        // Scrolled down to the alternatives, the actions stay at the bottom of the screen.
        await page.locator('.alternatives').scrollIntoViewIfNeeded();
        await page.evaluate(() => window.scrollBy(0, 300));
        assert.ok(await inView('#undo'), 'Undo stays within reach');
        await assertNoErrors(app);
      });
    }
  });
}

// ---------------------------------------------------------------- the measured backend choice

/**
 * An init script that makes the page see SwiftShader as a hardware adapter named "Test GPU"
 * (the engine's worker still gets the real one) and, when given, finds `calibration` stored
 * for it.
 */
function fakeHardwareAdapter(calibration = null) {
  const key = `pixelcnn:calibration:test/fake//Test GPU:${manifest.sha256}`;
  const store = calibration ? `localStorage.setItem(${JSON.stringify(key)}, ${JSON.stringify(JSON.stringify(calibration))});` : '';
  return `(() => {
    const request = GPU.prototype.requestAdapter;
    GPU.prototype.requestAdapter = async function (...args) {
      const adapter = await request.apply(this, args);
      if (adapter) {
        Object.defineProperty(adapter, 'info', {
          value: { vendor: 'test', architecture: 'fake', device: '', description: 'Test GPU', isFallbackAdapter: false },
        });
      }
      return adapter;
    };
    ${store}
  })();`;
}

const rows = (cpuMs, webgpuMs) => ({
  rows: [1, 4, 16, 28, 64].map((batch) => ({ batch, cpuMs: cpuMs * batch, webgpuMs: webgpuMs * batch })),
});

if (BACKENDS.includes('webgpu')) {
  describe('[auto] the measured backend choice', () => {
    let browser;
    before(async () => { browser = await launch({ webgpu: true }); });
    after(() => browser?.close());

    test('timings where WebGPU is faster: completions run on WebGPU, and the footer says by how much', async (t) => {
      const app = await openReady(t, browser, {}, { initScripts: [fakeHardwareAdapter(rows(30, 10))] });
      const { page } = app;
      // The WebGPU engine loads in the background; until then the CPU one runs.
      await page.waitForFunction(() => document.getElementById('app').dataset.backend === 'webgpu', null, { timeout: LOAD_TIMEOUT });
      await setRange(page, 'alternatives', 2);
      await setRange(page, 'candidates', 2);
      assert.equal(await page.textContent('#backend'), 'WebGPU — 3.0× faster than CPU at 2 candidates on this device');
      await page.click('#clear');
      await page.evaluate(() => window.pixelcnnApp.state.editor.hideRows(27));
      const frame = await complete(page);
      assert.equal(frame.done, frame.total);
      assert.equal(await page.$eval('#app', (e) => e.dataset.backend), 'webgpu');
      assert.match(await page.textContent('#status'), /on WebGPU/);
      await assertNoErrors(app);
    });

    test('timings where the CPU is faster: completions run on the CPU and the WebGPU module is never requested', async (t) => {
      const app = await openReady(t, browser, {}, { initScripts: [fakeHardwareAdapter(rows(10, 25))] });
      const { page } = app;
      await setRange(page, 'alternatives', 4);
      await setRange(page, 'candidates', 16);
      assert.equal(await page.textContent('#backend'), 'CPU (wasm) — 2.5× faster than WebGPU at 16 candidates on this device');
      await page.click('#clear');
      await page.evaluate(() => window.pixelcnnApp.state.editor.hideRows(27));
      const frame = await complete(page);
      assert.equal(frame.done, frame.total);
      assert.equal(await page.$eval('#app', (e) => e.dataset.backend), 'cpu');
      assert.deepEqual(app.requests.filter((u) => u.includes(WEBGPU_MODULE)), []);
      await assertNoErrors(app);
    });

    // The engine API directly (the page itself runs ?backend=cpu here), with a calibration of
    // 2 pixels at batches 1 and 2: the page's own plan takes minutes on SwiftShader.
    test('without stored timings on a hardware adapter, the engine times both engines and stores the result', async (t) => {
      const app = await openReady(t, browser, { backend: 'cpu' }, { initScripts: [fakeHardwareAdapter()] });
      const result = await app.page.evaluate(async () => {
        const { Engine } = await import('./www/engine.js');
        const store = new Map();
        const storage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v) };
        const engine = await Engine.create('auto', { storage, calibration: { batches: [1, 2], pixels: 2 } });
        await engine.loadModel('www/models/mnist.json');
        const measuring = engine.describe(2).reason;
        await new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no timings after 10 minutes')), 600_000);
          const check = () => { if (engine.calibration) { clearTimeout(timer); resolve(); } };
          engine.addEventListener('change', check);
          check();
        });
        return { measuring, after: engine.describe(2), stored: [...store.entries()], calibration: engine.calibration };
      });
      assert.equal(result.measuring, 'measuring WebGPU on this device…');
      assert.deepEqual(result.calibration.rows.map((r) => r.batch), [1, 2]);
      for (const r of result.calibration.rows) assert.ok(r.cpuMs > 0 && r.webgpuMs > 0, JSON.stringify(r));
      assert.deepEqual(result.stored.map(([k]) => k), [`pixelcnn:calibration:test/fake//Test GPU:${manifest.sha256}`]);
      assert.deepEqual(JSON.parse(result.stored[0][1]), result.calibration);
      assert.match(result.after.reason, /^\d+\.\d× faster than (CPU|WebGPU) at 2 candidates on this device$/);
      assert.ok(app.requests.some((u) => u.includes(WEBGPU_MODULE)), 'the WebGPU engine was loaded to be timed');
      await assertNoErrors(app);
    });

    test('a software adapter (SwiftShader) is never timed: the CPU runs, the WebGPU module stays unloaded', async (t) => {
      const app = await openReady(t, browser, {});
      const { page } = app;
      assert.match(await page.textContent('#backend'), /^CPU \(wasm\) — the WebGPU adapter here is a software one/);
      assert.deepEqual(app.requests.filter((u) => u.includes(WEBGPU_MODULE)), []);
      await assertNoErrors(app);
    });
  });
}
