// Fitting a brought image to the model's grid (www/image-input.js): `node --test tests/js/`.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { decodeImageFile, fitImage, ImageInputError } from '../../www/image-input.js';

const DIGITS = { width: 28, height: 28, channels: 1, levels: 2 };
const EMOJI = { width: 16, height: 16, channels: 3, levels: 256 };

/** An RGBA image whose pixel (x, y) has colour f(x, y) = [r, g, b, a]. */
function image(width, height, f) {
  const data = new Uint8ClampedArray(4 * width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(f(x, y), 4 * (y * width + x));
  return { data, width, height };
}

const bar = (ink, paper) => (x, y) => (x >= 90 && x < 110 && y >= 40 && y < 160 ? ink : paper);
const rows = (pixels) => Array.from({ length: 28 }, (_, y) => pixels.slice(y * 28, (y + 1) * 28));

test('a dark bar on light paper becomes a centred 1, 20 pixels tall', () => {
  const pixels = fitImage(image(200, 200, bar([0, 0, 0, 255], [250, 250, 250, 255])), DIGITS);
  const inkRows = rows(pixels).map((r) => r.some(Boolean));
  assert.equal(inkRows.filter(Boolean).length, 20);
  assert.equal(inkRows.indexOf(true), 4);
  const columns = [...Array(28).keys()].filter((x) => rows(pixels).some((r) => r[x]));
  assert.ok(columns.length >= 3 && columns.length <= 5, `${columns.length} columns`);
  assert.ok(Math.abs((columns[0] + columns.at(-1)) / 2 - 13.5) <= 1, `centred: ${columns}`);
});

test('light ink on dark paper and ink on a transparent background read the same', () => {
  const dark = fitImage(image(200, 200, bar([255, 255, 255, 255], [0, 0, 0, 255])), DIGITS);
  const light = fitImage(image(200, 200, bar([0, 0, 0, 255], [250, 250, 250, 255])), DIGITS);
  const transparent = fitImage(image(200, 200, bar([0, 0, 0, 255], [0, 0, 0, 0])), DIGITS);
  assert.deepEqual(dark, light);
  assert.deepEqual(transparent, light);
});

test('the threshold moves the ink: lower keeps more of a faint stroke', () => {
  const grey = image(200, 200, bar([140, 140, 140, 255], [255, 255, 255, 255]));
  const count = (t) => fitImage(grey, DIGITS, t).reduce((a, b) => a + b, 0);
  assert.ok(count(0.3) > 0 && count(0.7) === 0, `${count(0.3)} at 0.3, ${count(0.7)} at 0.7`);
});

test('a blank image is blank paper', () => {
  assert.ok(fitImage(image(50, 30, () => [255, 255, 255, 255]), DIGITS).every((v) => v === 0));
});

test('colour: fitted whole, composited on white, wide images centred between white bands', () => {
  const red = image(64, 32, () => [255, 0, 0, 255]);
  const pixels = fitImage(red, EMOJI);
  const plane = 256;
  const at = (c, x, y) => pixels[c * plane + y * 16 + x];
  assert.deepEqual([at(0, 8, 8), at(1, 8, 8), at(2, 8, 8)], [255, 0, 0], 'the middle is red');
  assert.deepEqual([at(0, 8, 0), at(1, 8, 0), at(2, 8, 0)], [255, 255, 255], 'the top band is white');
  const half = fitImage(image(16, 16, () => [0, 0, 255, 128]), EMOJI);
  assert.deepEqual([half[0], half[256], half[512]], [127, 127, 255].map((v) => Math.round(v)), 'half-transparent blue on white');
});

test('files over 20 MB, non-images and images without pixels are refused with a plain message', async () => {
  await assert.rejects(decodeImageFile({ size: 30 * 2 ** 20, name: 'huge.png' }), (e) => e instanceof ImageInputError && /30 MB.*20 MB/.test(e.message));
  const previous = globalThis.createImageBitmap;
  try {
    globalThis.createImageBitmap = async () => { throw new Error('InvalidStateError'); };
    await assert.rejects(decodeImageFile({ size: 10, name: 'notes.txt' }), (e) => e instanceof ImageInputError && /"notes.txt" is not an image/.test(e.message));
    let closed = false;
    globalThis.createImageBitmap = async () => ({ width: 0, height: 5, close: () => { closed = true; } });
    await assert.rejects(decodeImageFile({ size: 10, name: 'empty.png' }), (e) => e instanceof ImageInputError && /no pixels/.test(e.message));
    assert.ok(closed, 'the bitmap is released');
  } finally {
    globalThis.createImageBitmap = previous;
  }
});
