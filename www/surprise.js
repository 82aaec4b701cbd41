// The surprise map's colour scale: −log p of a pixel, in nats, as a translucent colour laid over
// the image, one mapping for the drawing canvas, the alternatives and the legend.
//
// One fixed scale per model, so that two maps can be compared at a glance. On the shipped
// MNIST model nine pixels in ten of a test digit cost under 0.4 nats and the worst few 3 to 7,
// so 0–4 nats spans what matters and everything above is "very surprising". A colour pixel is
// three values of 256 levels: a guess uniform over all of them costs 3·ln 256 ≈ 16.6 nats,
// so its scale ends at 16 (see surpriseMaxFor).

let SURPRISE_MAX = 4;

/** The top of the scale for a model: 4 nats for black and white, 16 for 8-bit colour. */
export function surpriseMaxFor({ channels, levels }) {
  if (channels === 1 && levels <= 2) return 4;
  return Math.max(4, Math.round((channels * Math.log(levels)) / 4) * 4);
}

export function setSurpriseMax(max) {
  SURPRISE_MAX = max;
}

// Pale yellow → orange → crimson: light where the model was sure, so ink stays readable, and
// dark at the top end, so a surprising pixel stands out on paper and on ink alike.
const STOPS = [
  [0, [255, 224, 102]],
  [0.5, [245, 126, 32]],
  [1, [196, 14, 50]],
];

/** [r, g, b, alpha] (0–255 and 0–1) of a surprise of `nats`; nearly clear near 0, clear for NaN. */
export function surpriseColour(nats) {
  if (Number.isNaN(nats)) return [0, 0, 0, 0];
  const t = Math.min(Math.max(nats, 0) / SURPRISE_MAX, 1);
  let i = 1;
  while (i < STOPS.length - 1 && t > STOPS[i][0]) i++;
  const [t0, c0] = STOPS[i - 1];
  const [t1, c1] = STOPS[i];
  const f = (t - t0) / (t1 - t0);
  const rgb = c0.map((v, k) => Math.round(v + (c1[k] - v) * f));
  // A concave alpha ramp: the common small surprises (0.1–0.5 nats) stay visible as a tint
  // instead of vanishing, while a sure pixel (≈ 0 nats) keeps its own colour.
  return [...rgb, 0.88 * Math.pow(t, 0.6)];
}

/** `rgb` with the colour of `nats` laid over it. */
export function blendSurprise(rgb, nats) {
  const [r, g, b, a] = surpriseColour(nats);
  return [rgb[0] * (1 - a) + r * a, rgb[1] * (1 - a) + g * a, rgb[2] * (1 - a) + b * a];
}

/** Draws the scale on `canvas`: its top half over paper (white), its bottom half over ink. */
export function drawLegend(canvas) {
  const ctx = canvas.getContext('2d');
  const { width, height } = canvas;
  const image = ctx.createImageData(width, height);
  for (let x = 0; x < width; x++) {
    const nats = (x / (width - 1)) * SURPRISE_MAX;
    for (let y = 0; y < height; y++) {
      const base = y < height / 2 ? 255 : 0;
      const [r, g, b] = blendSurprise([base, base, base], nats);
      const o = (y * width + x) * 4;
      image.data[o] = r; image.data[o + 1] = g; image.data[o + 2] = b; image.data[o + 3] = 255;
    }
  }
  ctx.putImageData(image, 0, 0);
}

/** "0.42 nats", the way every readout spells a surprise (most are well under 1). */
export function formatNats(nats) {
  if (Number.isNaN(nats)) return 'not available (the backend returned NaN)';
  return nats === Infinity ? '\u221e nats' : `${nats.toFixed(2)} nats`;
}
