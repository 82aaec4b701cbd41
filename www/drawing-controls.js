// The drawing's side of a completion: which controls a running completion locks, the undo
// history's buttons, and the alternative shown in the drawing's hidden pixels.

import { $, state } from './app-state.js';
import { equalBytes } from './history.js';

export function setBusy(busy) {
  $('complete').disabled = busy;
  $('sample').disabled = busy;
  $('stop').disabled = !busy;
  state.editor.disabled = busy;
  updateUndo();
}

export function undo() {
  if (!state.running) state.drawing.undo();
}

export function redo() {
  if (!state.running) state.drawing.redo();
}

export function updateUndo() {
  const history = state.drawing?.history;
  $('undo').disabled = Boolean(state.running) || !history?.canUndo;
  $('redo').disabled = Boolean(state.running) || !history?.canRedo;
}

/** "Use this": alternative b becomes the drawing, every pixel known. */
export function useAlternative(b) {
  const pixels = state.results.items[b]?.pixels;
  if (!pixels || state.running) return;
  state.drawing.change((editor) => editor.load(pixels));
  $('status').textContent = `Alternative ${b + 1} is the drawing now: hide a part of it and Complete again to refine it.`;
}

/**
 * Shows alternative b in the drawing's hidden pixels (while "Show on drawing" is on and the
 * drawing is still the one the alternatives were made for).
 */
export function showOnDrawing(b) {
  const { editor, results } = state;
  state.shown = b;
  const pixels = results.items[b]?.pixels;
  const on = $('preview').checked && pixels && alternativesFitDrawing();
  editor.setPreview(on ? { pixels, pending: (i) => results.isPending(i) } : null);
  results.markShown(on ? b : -1);
}

/** Whether the alternatives on screen were made for the drawing as it is now. */
export function alternativesFitDrawing() {
  const input = state.resultsInput;
  const { editor } = state;
  return Boolean(input) && equalBytes(input.pixels, editor.pixels) && equalBytes(input.known, editor.known);
}
