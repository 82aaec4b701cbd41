// The drawing as the page keeps it: the editor's pixels and mask, the class picked for it, an
// undo history per model, and a brought image while its ink threshold can still move.

import { History, snapshot } from './history.js';

export class Drawing {
  /**
   * @param {import('./editor.js').Editor} editor
   * @param {HTMLSelectElement} label  the class picker ('' is "any")
   */
  constructor(editor, label) {
    this.editor = editor;
    this.label = label;
    this.histories = new Map(); // model key → History
    this.history = null;
    /** The class was set by a test image, not picked by the visitor. */
    this.labelFromImage = false;
    /** Refits the brought image at the current threshold; null once the drawing moved on. */
    this.brought = null;
    /** Called after each recorded change ('record') and each undo, redo or restore ('restore'). */
    this.onchange = null;
    /** Called with whether a brought image's threshold can still move. */
    this.onbrought = null;
    editor.onstroke = () => this.#strokeEnded();
  }

  /** Switches to model `key`'s history; returns the drawing it had, or null for a new one. */
  useModel(key) {
    if (!this.histories.has(key)) this.histories.set(key, new History());
    this.history = this.histories.get(key);
    return this.history.current;
  }

  /**
   * Applies `apply(editor)` and records the result. `label` sets the class with it ('' for
   * any); `fromImage` says a test image chose it; `keepBrought` keeps a brought image's
   * threshold movable.
   */
  change(apply, { label, fromImage = false, keepBrought = false } = {}) {
    if (label !== undefined) {
      this.label.value = label;
      this.labelFromImage = fromImage && label !== '';
    }
    apply(this.editor);
    this.record({ keepBrought });
  }

  /** Records the drawing as it is now (an unchanged drawing records nothing). */
  record({ keepBrought = false } = {}) {
    if (!keepBrought) this.#forgetBrought();
    const { pixels, known } = this.editor;
    this.history?.commit(snapshot(pixels, known, this.label.value));
    this.onchange?.('record');
  }

  /** The visitor picked a class: a change of its own. */
  labelPicked() {
    this.labelFromImage = false;
    this.record({ keepBrought: true });
  }

  /** Shows a snapshot (from the history, or kept for the model). */
  restore(entry) {
    this.label.value = entry.label;
    this.labelFromImage = false;
    this.#forgetBrought();
    this.editor.restore(entry.pixels, entry.known);
    this.onchange?.('restore');
  }

  undo() {
    const entry = this.history?.undo();
    if (entry) this.restore(entry);
  }

  redo() {
    const entry = this.history?.redo();
    if (entry) this.restore(entry);
  }

  /** A brought image becomes the drawing; `fit()` gives its pixels at the current threshold. */
  bring(fit) {
    this.change((editor) => editor.load(fit()), { label: '', keepBrought: true });
    this.brought = fit;
    this.onbrought?.(true);
  }

  /** The threshold moved: the brought image again, recorded once the move ends (`final`). */
  refit(final) {
    if (!this.brought) return;
    if (final) this.record({ keepBrought: true });
    else this.editor.load(this.brought());
  }

  /** A class a test image chose does not outlive the image: erased to a blank canvas, the
   *  drawing is the visitor's own. */
  #strokeEnded() {
    const before = this.history?.current;
    if (this.labelFromImage && before && this.#isBlank(before)) {
      this.label.value = '';
      this.labelFromImage = false;
    }
    this.record();
  }

  #isBlank({ pixels, known }) {
    const { paper } = this.editor;
    return known.every((k) => k === 1) && pixels.every((v) => v === paper);
  }

  #forgetBrought() {
    if (!this.brought) return;
    this.brought = null;
    this.onbrought?.(false);
  }
}
