// Times a visitor's first completion: from opening the page (a fresh browser context, so
// nothing is cached) until 4 alternatives of the bottom half of the first test digit are
// done, on the CPU engine. Prints each run and the median.
//
//   node tests/e2e/first-completion.mjs [--runs=3] [--dist=dist]
import { parseArgs } from 'node:util';
import { serve } from './server.mjs';
import { launch, median, waitForState } from './browser.mjs';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string' },
    dist: { type: 'string' },
  },
});
const runs = Number(args.runs ?? 3);
const server = await serve(args.dist ?? 'dist');
const browser = await launch({ webgpu: false });
const times = [];
try {
  for (let r = 0; r < runs; r++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (e) => console.log('pageerror', e.message));
    await page.goto(`${server.url}index.html?alternatives=4`);
    const state = await waitForState(page, ['ready', 'error'], 60_000);
    if (state !== 'ready') throw new Error(`page state ${state}`);
    const ready = await page.evaluate(() => performance.now());
    await page.click('#hide-bottom');
    await page.click('#complete');
    // performance.now() counts from the navigation's start: the page opening.
    const handle = await page.waitForFunction(() => window.pixelcnnApp.state.finishedRuns > 0 && performance.now(),
      null, { timeout: 60_000, polling: 'raf' });
    const done = await handle.jsonValue();
    const status = await page.textContent('#status');
    console.log(`run ${r + 1}: ready after ${ready.toFixed(0)} ms, first completion done after ${done.toFixed(0)} ms (${status})`);
    times.push(done);
    await context.close();
  }
} finally {
  await browser.close();
  await server.close();
}
console.log(`first completion (4 alternatives, bottom half hidden, CPU engine): median ${median(times).toFixed(0)} ms of ${runs} page opens`);
