// Level indices to screen colours, one mapping for the drawing canvas, the alternatives and
// their PNGs.

/**
 * RGB (0–255 each) of pixel i of an image [C, H, W] of level indices 0..levels-1.
 * Grey images are dark ink on white paper (level 0 is paper, the top level black); colour
 * images are shown as they are.
 */
export function pixelRgb(pixels, i, plane, channels, levels) {
  const max = levels - 1;
  if (channels === 1) {
    const v = Math.round(255 * (1 - pixels[i] / max));
    return [v, v, v];
  }
  return [0, 1, 2].map((c) => Math.round((255 * pixels[c * plane + i]) / max));
}

/**
 * The colour of a generated pixel: grey images give it a blue tint so the model's part stands
 * out from the input (colour images are left as they are: a tint would change their colours).
 */
export function generatedRgb(pixels, i, plane, channels, levels) {
  const rgb = pixelRgb(pixels, i, plane, channels, levels);
  if (channels !== 1) return rgb;
  const [r, g, b] = rgb;
  return [r * 0.55, g * 0.65 + 20, b * 0.8 + 50].map(Math.round);
}
