// How www/engine.js shares a pool of candidates between CPU workers: `node --test tests/js/`.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { defaultCpuWorkers, mergeFrames, splitPool } from '../../www/engine.js';

test('a pool splits into contiguous shares that cover it once', () => {
  assert.deepEqual(splitPool(28, 1), [{ first: 0, count: 28 }]);
  assert.deepEqual(splitPool(28, 3), [{ first: 0, count: 9 }, { first: 9, count: 9 }, { first: 18, count: 10 }]);
  assert.deepEqual(splitPool(2, 4), [{ first: 0, count: 1 }, { first: 1, count: 1 }], 'never an empty share');
  for (const [size, parts] of [[64, 4], [5, 2], [1, 3]]) {
    const shares = splitPool(size, parts);
    assert.equal(shares.reduce((n, s) => (assert.equal(s.first, n), n + s.count), 0), size);
  }
});

test('a worker a core, one core left for the page from three cores on, at most four', () => {
  assert.equal(defaultCpuWorkers(1), 1);
  assert.equal(defaultCpuWorkers(2), 2);
  assert.equal(defaultCpuWorkers(3), 2);
  assert.equal(defaultCpuWorkers(4), 3);
  assert.equal(defaultCpuWorkers(16), 4);
  assert.equal(defaultCpuWorkers(0), 2, 'unknown: taken as two cores');
  assert.equal(defaultCpuWorkers(undefined), 2);
});

const image = (v) => [v, v];

test('while the pool is drawn, a frame shows its first alternatives in pool order', () => {
  const frames = [
    { done: 5, total: 9, phase: 'drawing', batch: 1, pixels: Uint8Array.from(image(1)), ranks: null },
    { done: 5, total: 9, phase: 'drawing', batch: 2, pixels: Uint8Array.from([...image(2), ...image(3)]), ranks: null },
  ];
  const frame = mergeFrames(frames, 2, 2);
  assert.deepEqual({ ...frame, pixels: Array.from(frame.pixels) }, {
    done: 5, total: 9, phase: 'drawing', cancelled: false, batch: 2, finished: false, pixels: [1, 1, 2, 2], scores: null,
  });
});

test('once chosen, each share puts its alternatives at their ranks', () => {
  const frames = [
    { done: 9, total: 9, batch: 1, pixels: Uint8Array.from(image(7)), ranks: [2], scores: [-3] },
    { done: 9, total: 9, batch: 0, pixels: new Uint8Array(0), ranks: [], scores: [] },
    { done: 9, total: 9, batch: 2, pixels: Uint8Array.from([...image(5), ...image(6)]), ranks: [0, 1], scores: [-1, -2] },
  ];
  const frame = mergeFrames(frames, 3, 2);
  assert.equal(frame.finished, true);
  assert.equal(frame.phase, 'done');
  assert.deepEqual(Array.from(frame.pixels), [5, 5, 6, 6, 7, 7]);
  assert.deepEqual(frame.scores, [-1, -2, -3]);
});
