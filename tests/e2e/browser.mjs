// Shared by the e2e tests and the benchmark: Debian's Chromium driven by playwright-core,
// with the flags that give headless WebGPU through SwiftShader.

import { chromium } from 'playwright-core';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

const COMMON = [
  '--no-sandbox', // CI runs as root
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--disable-dev-shm-usage',
];

// Do not add --use-angle=swiftshader here: with Mesa's lavapipe installed the GPU process hangs.
const WEBGPU = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader',
  '--disable-vulkan-surface',
];

/** Launches Chromium; `webgpu: false` leaves WebGPU off (requestAdapter() returns null). */
/** The median of timings (the upper one of an even count). */
export const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

export async function launch({ webgpu = true } = {}) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: run scripts/setup.sh (apt-get install chromium) or set CHROMIUM`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...COMMON, ...(webgpu ? WEBGPU : [])],
  });
}

/** Waits until main#app's data-state is one of `states`; returns it. */
export async function waitForState(page, states, timeout) {
  const handle = await page.waitForFunction(
    (wanted) => {
      const s = document.getElementById('app')?.dataset.state;
      return wanted.includes(s) ? s : false;
    },
    states,
    { timeout, polling: 250 },
  );
  return handle.jsonValue();
}

/**
 * Makes `page` receive the model in `dir` (mnist.json and the weights it names) where it asks
 * for the shipped one, www/models/ under `baseUrl`: e.g. an untrained fixture when dist/ has no
 * trained weights. Call before page.goto.
 */
export async function useModelDir(page, baseUrl, dir) {
  const manifest = readFileSync(join(dir, 'mnist.json'));
  const { weights } = JSON.parse(manifest);
  const models = new URL('www/models/', baseUrl);
  await page.context().route(new URL('mnist.json', models).href,
    (route) => route.fulfill({ body: manifest, contentType: 'application/json' }));
  await page.context().route(new URL(weights, models).href,
    (route) => route.fulfill({ path: join(dir, weights), contentType: 'application/octet-stream' }));
}
