// A scene: everything that decides what Complete shows (model, drawing, mask, class,
// temperature, alternatives, candidates, seed) as one short URL-safe string, for share links
// (`#scene=…`) and for `<pixelcnn-demo scene="…">`. Pure, tested in node (tests/js/scene.test.mjs).
//
//   1.<model>.<class or ->.<temperature × 100>.<alternatives>.<candidates>.<seed>.<image>
//
// <model> is a shipped model's name or a manifest URL, percent-encoded (dots too, so the fields
// split on "."); <image> is base64url of a bit stream, most significant bit first:
//   1 bit   the pixel coding: 0 = each known pixel's levels, 1 = a palette and an index per pixel
//   palette only: 16 bits the colour count P, then P colours of `channels` levels each
//   per pixel in raster order: 1 bit known; a known pixel then has its levels (ceil(log2
//   levels) bits per channel) or its palette index (ceil(log2 P) bits). Hidden pixels carry no
//   value: the model replaces them.
// The encoder takes whichever coding is shorter: a drawing in a few colours (every digit) is a
// palette of two and one bit per known pixel.

export const SCENE_VERSION = '1';

/** The ranges the page's controls allow; a scene outside them is rejected. */
export const LIMITS = {
  temperature: [0, 1.5],
  alternatives: [1, 16],
  candidates: [1, 64],
  seed: [0, 2 ** 32 - 1],
};

/** A scene that cannot be read: the message says what is wrong with it. */
export class SceneError extends Error {
  constructor(message) {
    super(message);
    this.name = 'SceneError';
  }
}

/**
 * The scene string of a drawing and its settings.
 * @param {{model: string, label: number|null, temperature: number, alternatives: number,
 *          candidates: number, seed: number, pixels: Uint8Array, known: Uint8Array}} scene
 * @param {{width: number, height: number, channels: number, levels: number}} shape
 */
export function encodeScene(scene, shape) {
  const model = encodeURIComponent(scene.model).replaceAll('.', '%2E');
  return [
    SCENE_VERSION,
    model,
    scene.label ?? '-',
    Math.round(scene.temperature * 100),
    scene.alternatives,
    scene.candidates,
    scene.seed,
    encodeImage(scene.pixels, scene.known, shape),
  ].join('.');
}

/**
 * Reads a scene string's fields; the image stays encoded until the model's shape is known
 * (decodeImage). Throws SceneError.
 */
export function parseScene(text) {
  const fields = String(text).trim().split('.');
  if (fields[0] !== SCENE_VERSION) {
    throw new SceneError(`it is not a version-${SCENE_VERSION} scene`);
  }
  if (fields.length !== 8) throw new SceneError(`it has ${fields.length} fields, not 8`);
  const [, model, label, temperature, alternatives, candidates, seed, image] = fields;
  let name;
  try {
    name = decodeURIComponent(model);
  } catch {
    throw new SceneError('its model name is not valid percent-encoding');
  }
  if (!name) throw new SceneError('it names no model');
  if (!/^[A-Za-z0-9_-]*$/.test(image) || !image) throw new SceneError('its image is not base64url');
  return {
    model: name,
    label: label === '-' ? null : integer(label, 'class', [0, 9999]),
    temperature: integer(temperature, 'temperature', LIMITS.temperature.map((t) => t * 100)) / 100,
    alternatives: integer(alternatives, 'alternatives', LIMITS.alternatives),
    candidates: integer(candidates, 'candidates', LIMITS.candidates),
    seed: integer(seed, 'seed', LIMITS.seed),
    image,
  };
}

function integer(text, what, [min, max]) {
  if (!/^\d{1,10}$/.test(text)) throw new SceneError(`its ${what} "${text}" is not a whole number`);
  const value = Number(text);
  if (value < min || value > max) throw new SceneError(`its ${what} ${value} is outside ${min}–${max}`);
  return value;
}

/** The scene string in a location hash ("#scene=…"), or null when the hash has none. */
export function sceneFromHash(hash) {
  const match = /^#?scene=(.*)$/.exec(hash ?? '');
  return match ? match[1] : null;
}

// ---------------------------------------------------------------- the image

const bitsFor = (count) => (count <= 1 ? 0 : Math.ceil(Math.log2(count)));

/** The image field: pixels [C, H, W] of level indices and the known mask [H, W]. */
export function encodeImage(pixels, known, shape) {
  const { channels, levels } = shape;
  const plane = shape.width * shape.height;
  if (pixels.length !== channels * plane || known.length !== plane) {
    throw new SceneError(`the drawing has ${pixels.length} values and ${known.length} mask entries, not ${channels * plane} and ${plane}`);
  }
  const colourOf = (i) => Array.from({ length: channels }, (_, c) => pixels[c * plane + i]);
  const palette = new Map();
  for (let i = 0; i < plane; i++) {
    if (!known[i]) continue;
    const key = colourOf(i).join(',');
    if (!palette.has(key)) palette.set(key, palette.size);
  }
  const levelBits = bitsFor(levels);
  const knownCount = known.reduce((n, k) => n + (k ? 1 : 0), 0);
  const rawBits = knownCount * channels * levelBits;
  const paletteBits = 16 + palette.size * channels * levelBits + knownCount * bitsFor(palette.size);
  const usePalette = palette.size < 2 ** 16 && paletteBits < rawBits;
  const out = new BitWriter();
  out.write(usePalette ? 1 : 0, 1);
  if (usePalette) {
    out.write(palette.size, 16);
    for (const key of palette.keys()) for (const v of key.split(',')) out.write(Number(v), levelBits);
  }
  const indexBits = bitsFor(palette.size);
  for (let i = 0; i < plane; i++) {
    out.write(known[i] ? 1 : 0, 1);
    if (!known[i]) continue;
    if (usePalette) out.write(palette.get(colourOf(i).join(',')), indexBits);
    else for (const v of colourOf(i)) out.write(v, levelBits);
  }
  return toBase64Url(out.bytes());
}

/**
 * The drawing of an image field, for a model of `shape`; hidden pixels get level `paper`.
 * Throws SceneError when the field is not an image of that shape.
 */
export function decodeImage(text, shape, paper = 0) {
  const { channels, levels } = shape;
  const plane = shape.width * shape.height;
  const input = new BitReader(fromBase64Url(text));
  const levelBits = bitsFor(levels);
  const level = () => {
    const v = input.read(levelBits);
    if (v >= levels) throw new SceneError(`it has level ${v}, the model has ${levels}`);
    return v;
  };
  const palette = [];
  if (input.read(1)) {
    const size = input.read(16);
    for (let p = 0; p < size; p++) palette.push(Array.from({ length: channels }, level));
    if (!palette.length) throw new SceneError('its palette is empty');
  }
  const indexBits = bitsFor(palette.length);
  const pixels = new Uint8Array(channels * plane).fill(paper);
  const known = new Uint8Array(plane);
  for (let i = 0; i < plane; i++) {
    known[i] = input.read(1);
    if (!known[i]) continue;
    let colour;
    if (palette.length) {
      colour = palette[input.read(indexBits)];
      if (!colour) throw new SceneError('it has a palette index past its palette');
    } else {
      colour = Array.from({ length: channels }, level);
    }
    colour.forEach((v, c) => { pixels[c * plane + i] = v; });
  }
  if (!input.finished()) {
    throw new SceneError(`its image is longer than a ${shape.width}×${shape.height} image of this model`);
  }
  return { pixels, known };
}

class BitWriter {
  constructor() {
    this.out = [];
    this.acc = 0;
    this.count = 0;
  }

  /** Appends the `bits` low bits of `value`, most significant first. */
  write(value, bits) {
    for (let b = bits - 1; b >= 0; b--) {
      this.acc = (this.acc << 1) | ((value >>> b) & 1);
      if (++this.count === 8) {
        this.out.push(this.acc);
        this.acc = 0;
        this.count = 0;
      }
    }
  }

  /** The bytes written, the last one padded with zero bits. */
  bytes() {
    return Uint8Array.from(this.count ? [...this.out, this.acc << (8 - this.count)] : this.out);
  }
}

class BitReader {
  constructor(bytes) {
    this.bytes = bytes;
    this.position = 0;
  }

  read(bits) {
    let value = 0;
    for (let b = 0; b < bits; b++) {
      const byte = this.bytes[this.position >> 3];
      if (byte === undefined) throw new SceneError('its image ends early');
      value = value * 2 + ((byte >> (7 - (this.position & 7))) & 1);
      this.position++;
    }
    return value;
  }

  /** True when only the zero padding of the last byte is left. */
  finished() {
    const total = this.bytes.length * 8;
    if (total - this.position >= 8) return false;
    const rest = total - this.position;
    return rest === 0 || (this.bytes[this.bytes.length - 1] & ((1 << rest) - 1)) === 0;
  }
}

function toBase64Url(bytes) {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function fromBase64Url(text) {
  let binary;
  try {
    binary = atob(text.replaceAll('-', '+').replaceAll('_', '/'));
  } catch {
    throw new SceneError('its image is not base64url');
  }
  return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
}
