// A dropped, pasted or chosen image file becomes the drawing, fitted to the model
// (www/image-input.js), with the ink threshold of a fresh image.

import { $, notice, state } from './app-state.js';
import { stop } from './completion.js';
import { decodeImageFile, fitImage, ImageInputError } from './image-input.js';

/** Brings `file` in as the drawing; a file that is no image says why and changes nothing. */
export async function bringImage(file) {
  if (state.running) stop();
  let image;
  try {
    image = await decodeImageFile(file);
  } catch (err) {
    const sentence = err instanceof ImageInputError ? err.message : 'That file could not be read as an image.';
    notice(`${sentence} The drawing is unchanged.`, err instanceof ImageInputError ? null : String(err));
    return;
  }
  notice(null);
  // Each image starts at the middle threshold.
  $('threshold').value = '0.5';
  showThreshold();
  state.drawing.bring(() => fitImage(image, state.info, Number($('threshold').value)));
  $('status').textContent = `${file.name || 'The image'} is the drawing now: hide a part of it, then Complete.`;
}

export function showThreshold() {
  $('threshold-value').textContent = `${Math.round(Number($('threshold').value) * 100)} %`;
}
