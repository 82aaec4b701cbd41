// The held-out test images of the loaded model: fetched with it, checked against its shape,
// handed out one after another by the Test image button and the first impression.

import { $, state } from './app-state.js';

/** Fetches a test-image file; the promise carries the error instead of rejecting. */
export function fetchDigits(url) {
  return fetch(url)
    .then((response) => {
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return response.json();
    })
    .catch((err) => ({ error: err }));
}

/** Takes the test images of `url` (fetched meanwhile by `fetching`) for the loaded model. */
export async function loadDigits(url, fetching) {
  const button = $('test-digit');
  button.disabled = true;
  state.digits = null;
  try {
    const data = await fetching;
    if (data.error) throw data.error;
    const size = state.info.channels * state.info.width * state.info.height;
    if (data.width !== state.info.width || data.height !== state.info.height) {
      throw new Error(`digits are ${data.width}×${data.height}, the model wants ${state.info.width}×${state.info.height}`);
    }
    state.digits = data.digits.filter((d) => Array.isArray(d.pixels) && d.pixels.length === size);
    if (!state.digits.length) throw new Error('the file has no usable digits');
    button.disabled = false;
    button.title = "Load an image from the model's held-out test set";
  } catch (err) {
    // Optional content: the app works without it, so this is a tooltip, not an error.
    button.title = `Test images unavailable (${url}: ${err.message})`;
  }
}

/** The next held-out test image: its pixels (level indices) and its class ('' for none). */
export function nextTestImage() {
  const digit = state.digits[state.digitIndex++ % state.digits.length];
  const top = state.info.levels - 1;
  // Grey test files store ink as 0/1 whatever the levels; colour ones store the levels.
  const pixels = state.info.channels === 1 ? digit.pixels.map((v) => (v ? top : 0)) : digit.pixels;
  const label = state.info.classes > 0 && Number.isInteger(digit.label) ? String(digit.label) : '';
  return { pixels, label };
}
