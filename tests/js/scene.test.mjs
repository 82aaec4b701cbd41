// Share-link scenes (www/scene.js): `node --test tests/js/`.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { decodeImage, encodeScene, parseScene, sceneFromHash, SceneError } from '../../www/scene.js';

const DIGITS = { width: 28, height: 28, channels: 1, levels: 2 };
const EMOJI = { width: 16, height: 16, channels: 3, levels: 256 };

/** A deterministic pseudo-random drawing with its lower rows hidden. */
function drawing(shape, colours, seed = 1) {
  const plane = shape.width * shape.height;
  let s = seed;
  const next = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pixels = new Uint8Array(shape.channels * plane);
  const known = new Uint8Array(plane);
  const palette = Array.from({ length: colours }, () => Array.from({ length: shape.channels }, () => Math.floor(next() * shape.levels)));
  for (let i = 0; i < plane; i++) {
    known[i] = i < plane * 0.6 || next() < 0.1 ? 1 : 0;
    const colour = palette[Math.floor(next() * colours)];
    for (let c = 0; c < shape.channels; c++) pixels[c * plane + i] = known[i] ? colour[c] : 0;
  }
  return { pixels, known };
}

const settings = { label: 3, temperature: 0.85, alternatives: 4, candidates: 28, seed: 4_000_000_000 };

test('a digit scene survives encoding and reading, and is short', () => {
  const { pixels, known } = drawing(DIGITS, 2);
  const text = encodeScene({ model: 'mnist', ...settings, pixels, known }, DIGITS);
  assert.ok(text.length < 260, `${text.length} characters`);
  assert.match(text, /^[A-Za-z0-9._%~-]+$/, 'URL-safe without escaping');
  const scene = parseScene(text);
  assert.deepEqual({ ...scene, image: undefined }, { model: 'mnist', ...settings, image: undefined });
  assert.deepEqual(decodeImage(scene.image, DIGITS), { pixels, known });
});

test('colour scenes: few colours use a palette, many colours the raw levels', () => {
  for (const colours of [3, 400]) {
    const { pixels, known } = drawing(EMOJI, colours, colours);
    const text = encodeScene({ model: 'emoji', ...settings, label: null, pixels, known }, EMOJI);
    const scene = parseScene(text);
    assert.equal(scene.label, null);
    assert.deepEqual(decodeImage(scene.image, EMOJI, 0), { pixels, known });
    const knownCount = known.reduce((a, b) => a + b, 0);
    // One known bit a pixel, then 24 bits a known pixel, or a palette and 2 bits a known pixel:
    // the encoder takes the shorter.
    const raw = 1 + 256 + knownCount * 24;
    const palette = 1 + 256 + 16 + colours * 24 + knownCount * Math.ceil(Math.log2(colours));
    const bits = colours === 3 ? palette : raw;
    assert.ok(bits === Math.min(raw, palette));
    assert.equal(scene.image.length, Math.ceil((Math.ceil(bits / 8) * 4) / 3), `${colours} colours`);
  }
});

test('a model URL with dots and slashes round-trips', () => {
  const { pixels, known } = drawing(DIGITS, 2);
  const model = 'https://example.org/models/v1.2/mnist.json';
  assert.equal(parseScene(encodeScene({ model, ...settings, pixels, known }, DIGITS)).model, model);
});

test('malformed scenes are SceneErrors that say what is wrong', () => {
  const { pixels, known } = drawing(DIGITS, 2);
  const good = encodeScene({ model: 'mnist', ...settings, pixels, known }, DIGITS).split('.');
  const variant = (index, value) => good.map((f, i) => (i === index ? value : f)).join('.');
  const cases = [
    ['', /version/],
    ['hello', /version/],
    [good.slice(0, 7).join('.'), /7 fields/],
    [variant(3, '151'), /temperature 151/],
    [variant(4, '0'), /alternatives 0/],
    [variant(5, '65'), /candidates 65/],
    [variant(6, '-1'), /seed/],
    [variant(2, 'x'), /class/],
    [variant(1, '%E0%A4%A'), /percent/],
    [variant(7, 'a+b'), /base64url/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseScene(text), (e) => e instanceof SceneError && message.test(e.message), text);
  }
});

test("an image of another model's shape, cut short or with extra bytes is refused", () => {
  const { pixels, known } = drawing(DIGITS, 2);
  const image = parseScene(encodeScene({ model: 'mnist', ...settings, pixels, known }, DIGITS)).image;
  assert.throws(() => decodeImage(image, EMOJI), SceneError);
  assert.throws(() => decodeImage(image.slice(0, -8), DIGITS), /ends early/);
  assert.throws(() => decodeImage(`${image}AAAA`, DIGITS), /longer/);
  assert.throws(() => decodeImage('A', DIGITS), SceneError);
});

test('sceneFromHash takes #scene=… and nothing else', () => {
  assert.equal(sceneFromHash('#scene=1.mnist'), '1.mnist');
  assert.equal(sceneFromHash(''), null);
  assert.equal(sceneFromHash('#other=1'), null);
});
