// The surprise map's per-pixel sum (www/surprise-map.js): `node --test tests/js/`.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { perPixel } from '../../www/surprise-map.js';

test('one channel: the per-value surprise is the per-pixel one', () => {
  const values = new Float32Array([0.5, 1, 2, 4]);
  assert.equal(perPixel(values, 2, { channels: 1, width: 2, height: 1 }), values);
});

test('colour: each pixel sums its channels, image by image', () => {
  // Two 2×1 images, channels R, G, B one plane after another.
  const values = new Float32Array([1, 2, 10, 20, 100, 200, 3, 4, 30, 40, 300, 400]);
  const out = perPixel(values, 2, { channels: 3, width: 2, height: 1 });
  assert.ok(out instanceof Float32Array);
  assert.deepEqual(Array.from(out), [111, 222, 333, 444]);
});

test('colour: planes are width × height, rows included', () => {
  // One 1×2 image with two channels.
  const values = new Float32Array([1, 2, 0.5, 0.25]);
  assert.deepEqual(Array.from(perPixel(values, 1, { channels: 2, width: 1, height: 2 })), [1.5, 2.25]);
});
