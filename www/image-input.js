// Bringing one's own image: a dropped, pasted or chosen file, decoded by the browser and fitted
// to the model's grid. The fitting is pure (tests/js/image-input.test.mjs); only decodeImageFile
// needs a browser.
//
// Grey models (the digits) get what MNIST's own preprocessing did: the ink's bounding box scaled
// into the central 20 of 28 pixels, then binarized: a pixel is ink when the ink covers at least
// `threshold` of it. Dark ink on light paper and light on dark are both read (the border says
// which is paper). Colour models get the whole image, composited on white, fitted into the grid.

/** Files larger than this are refused before decoding. */
export const MAX_FILE_BYTES = 20 * 1024 * 1024;
/** The long side an image is decoded at (larger images are scaled down first). */
export const WORK_SIZE = 256;
/** The share of the grid a digit's bounding box fills, as in MNIST (20 of 28 pixels). */
const INK_BOX = 20 / 28;

/** A file that cannot become a drawing; the message is for the visitor. */
export class ImageInputError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ImageInputError';
  }
}

/**
 * Decodes an image file (Blob) to RGBA at most WORK_SIZE on its long side.
 * @returns {Promise<{data: Uint8ClampedArray, width: number, height: number}>}
 */
export async function decodeImageFile(file) {
  if (file.size > MAX_FILE_BYTES) {
    throw new ImageInputError(`That file is ${(file.size / 2 ** 20).toFixed(0)} MB; images up to ${MAX_FILE_BYTES / 2 ** 20} MB can be used.`);
  }
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new ImageInputError(`${file.name ? `"${file.name}"` : 'That'} is not an image this browser can read (PNG, JPEG, GIF, WebP…).`);
  }
  try {
    if (!bitmap.width || !bitmap.height) throw new ImageInputError('That image has no pixels (its width or height is 0).');
    const scale = Math.min(1, WORK_SIZE / Math.max(bitmap.width, bitmap.height));
    const width = Math.max(1, Math.round(bitmap.width * scale));
    const height = Math.max(1, Math.round(bitmap.height * scale));
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d');
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(bitmap, 0, 0, width, height);
    return { data: ctx.getImageData(0, 0, width, height).data, width, height };
  } finally {
    bitmap.close();
  }
}

/**
 * Fits decoded RGBA to the model's grid: level indices [C, H, W], all of them meant as known.
 * @param {{data: ArrayLike<number>, width: number, height: number}} image
 * @param {{width: number, height: number, channels: number, levels: number}} shape
 * @param {number} threshold  grey models: the ink coverage (0–1) from which a pixel is ink
 */
export function fitImage(image, shape, threshold = 0.5) {
  return shape.channels === 1 ? fitGrey(image, shape, threshold) : fitColour(image, shape);
}

function fitGrey(image, shape, threshold) {
  const { width: sw, height: sh } = image;
  const ink = inkOf(image);
  const box = inkBox(ink, sw, sh) ?? { x: 0, y: 0, w: sw, h: sh };
  const scale = Math.min(shape.width, shape.height) * INK_BOX / Math.max(box.w, box.h);
  const origin = {
    x: box.x - (shape.width - box.w * scale) / 2 / scale,
    y: box.y - (shape.height - box.h * scale) / 2 / scale,
  };
  const coverage = resample(ink, sw, sh, 1, origin, scale, shape, 0);
  const top = shape.levels - 1;
  return Uint8Array.from(coverage, (v) => (top === 1 ? (v >= threshold ? 1 : 0) : Math.round(v * top)));
}

function fitColour(image, shape) {
  const { width: sw, height: sh, data } = image;
  const plane = sw * sh;
  const rgb = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    const alpha = data[4 * i + 3] / 255;
    for (let c = 0; c < 3; c++) rgb[c * plane + i] = (data[4 * i + c] * alpha + 255 * (1 - alpha)) / 255;
  }
  const scale = Math.min(shape.width / sw, shape.height / sh);
  const origin = { x: -(shape.width / scale - sw) / 2, y: -(shape.height / scale - sh) / 2 };
  const values = resample(rgb, sw, sh, 3, origin, scale, shape, 1);
  const top = shape.levels - 1;
  return Uint8Array.from(values, (v) => Math.round(v * top));
}

/** Ink per pixel (0 paper … 1 ink): darkness composited on white, flipped when the paper is dark. */
function inkOf({ data, width, height }) {
  const plane = width * height;
  const dark = new Float32Array(plane);
  for (let i = 0; i < plane; i++) {
    const alpha = data[4 * i + 3] / 255;
    const grey = (0.299 * data[4 * i] + 0.587 * data[4 * i + 1] + 0.114 * data[4 * i + 2]) / 255;
    dark[i] = 1 - (grey * alpha + (1 - alpha));
  }
  let border = 0, count = 0;
  for (let i = 0; i < plane; i++) {
    const x = i % width, y = Math.floor(i / width);
    if (x === 0 || y === 0 || x === width - 1 || y === height - 1) { border += dark[i]; count++; }
  }
  if (border / count > 0.5) for (let i = 0; i < plane; i++) dark[i] = 1 - dark[i];
  return dark;
}

/** The bounding box of the pixels more ink than paper, or null when there are none. */
function inkBox(ink, width, height) {
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let i = 0; i < ink.length; i++) {
    if (ink[i] <= 0.5) continue;
    const x = i % width, y = Math.floor(i / width);
    x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
  }
  return x1 < 0 ? null : { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
}

/**
 * Area-averages planes [C, sh, sw] onto the grid: grid pixel (x, y) covers the source square
 * from origin + (x, y) / scale, 1 / scale wide; source outside the image counts as `outside`.
 */
function resample(source, sw, sh, channels, origin, scale, { width, height }, outside) {
  const spans = (count, start, limit) => Array.from({ length: count }, (_, d) => {
    const from = start + d / scale, to = start + (d + 1) / scale;
    const parts = [];
    for (let s = Math.floor(from); s < to; s++) {
      const weight = Math.min(to, s + 1) - Math.max(from, s);
      if (weight > 0) parts.push([s >= 0 && s < limit ? s : -1, weight * scale]);
    }
    return parts;
  });
  const columns = spans(width, origin.x, sw), rows = spans(height, origin.y, sh);
  const out = new Float32Array(channels * width * height);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let sum = 0;
        for (const [sy, wy] of rows[y]) {
          for (const [sx, wx] of columns[x]) {
            sum += wy * wx * (sy < 0 || sx < 0 ? outside : source[c * sw * sh + sy * sw + sx]);
          }
        }
        out[c * width * height + y * width + x] = sum;
      }
    }
  }
  return out;
}
