// Runs the end-to-end tests (tests/e2e/app.test.mjs) with node's test runner against the
// release build in dist/.
//
//   node tests/e2e/run.mjs [--backend=webgpu,cpu] [--dist=dist] [--model-dir=DIR] [--screenshot]
//
// --backend   which backends to test (default both): "webgpu" is SwiftShader's WebGPU,
//             "cpu" forces the flex CPU backend with ?backend=cpu.
// --model-dir serve this directory's model (mnist.json + weights) instead of the one in dist/
//             (for untrained fixtures when no trained weights exist yet).
// --screenshot  also copy the middle-band completion screenshot to docs/screenshot.png, the
//             one with its surprise map to docs/surprise-map.png, and the drawing tool's
//             (a completion filling in on the drawing, the 390 px phone, a shared scene
//             embedded) to docs/mid-completion.png, docs/phone.png and docs/embed-scene.png.
//
// Prints TAP, whose summary has "# pass N" and "# fail N", then one last line
// "N passed, N failed" (failed counts cancelled tests too, e.g. after a failed browser launch).
// Exits non-zero when anything failed or no test ran. Screenshots go to test-results/.

import { parseArgs } from 'node:util';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from 'node:test';
import { tap } from 'node:test/reporters';

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string' },
    dist: { type: 'string' },
    'model-dir': { type: 'string' },
    screenshot: { type: 'boolean' },
  },
});
const OUT = 'test-results';

// The test file runs in a child process, which inherits these.
process.env.E2E_BACKENDS = String(args.backend ?? 'webgpu,cpu');
process.env.E2E_DIST = args.dist ?? 'dist';
if (args['model-dir']) process.env.E2E_MODEL_DIR = args['model-dir'];

const counts = { pass: 0, fail: 0, cancelled: 0 };
const stream = run({ files: [fileURLToPath(new URL('app.test.mjs', import.meta.url))] });
// The root test's closing diagnostics ("pass 12", "fail 0", ...) are the summary TAP prints.
stream.on('test:diagnostic', ({ nesting, message }) => {
  const m = /^(pass|fail|cancelled) (\d+)$/.exec(message);
  if (nesting === 0 && m) counts[m[1]] = Number(m[2]);
});
const report = stream.compose(tap);
report.pipe(process.stdout);
await once(report, 'end');

if (args.screenshot) {
  const shots = [['middle', 'screenshot'], ['surprise-map', 'surprise-map'], ['mid-completion', 'mid-completion'],
    ['phone-390', 'phone'], ['embed-scene', 'embed-scene']];
  for (const [name, doc] of shots) {
    // The CPU run first: its scores are the ones the native tests pin.
    const shot = ['cpu', 'webgpu'].map((b) => join(OUT, `${name}-${b}.png`)).find(existsSync);
    if (shot) {
      mkdirSync('docs', { recursive: true });
      copyFileSync(shot, `docs/${doc}.png`);
    }
  }
}
const failed = counts.fail + counts.cancelled;
if (counts.pass + failed === 0) console.log('no test ran');
console.log(`${counts.pass} passed, ${failed} failed`);
process.exitCode = failed || !counts.pass ? 1 : 0;
