// Undo and redo for the drawing: a bounded list of snapshots with a cursor. Pure, so node tests
// it without a browser (tests/js/history.test.mjs).

/** A snapshot of the drawing: its pixels, its known mask and the class picked for it. */
export function snapshot(pixels, known, label) {
  return { pixels: Uint8Array.from(pixels), known: Uint8Array.from(known), label };
}

function sameSnapshot(a, b) {
  return a.label === b.label && equalBytes(a.pixels, b.pixels) && equalBytes(a.known, b.known);
}

/** Whether two byte arrays hold the same values. */
export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class History {
  /** @param {number} limit  the most snapshots kept (the oldest go first) */
  constructor(limit = 100) {
    this.limit = limit;
    this.entries = [];
    this.cursor = -1;
  }

  /** The snapshot shown now, or null before the first commit. */
  get current() {
    return this.entries[this.cursor] ?? null;
  }

  get canUndo() {
    return this.cursor > 0;
  }

  get canRedo() {
    return this.cursor < this.entries.length - 1;
  }

  /**
   * Records the drawing after a change. A snapshot equal to the current one is no change (a
   * Clear of a clear canvas) and records nothing; a new change drops what could be redone.
   * Returns whether it recorded.
   */
  commit(entry) {
    if (this.current && sameSnapshot(this.current, entry)) return false;
    this.entries.splice(this.cursor + 1);
    this.entries.push(entry);
    if (this.entries.length > this.limit) this.entries.splice(0, this.entries.length - this.limit);
    this.cursor = this.entries.length - 1;
    return true;
  }

  /** Steps back and returns the snapshot to show, or null when there is nothing to undo. */
  undo() {
    if (!this.canUndo) return null;
    return this.entries[--this.cursor];
  }

  /** Steps forward again, or null when there is nothing to redo. */
  redo() {
    if (!this.canRedo) return null;
    return this.entries[++this.cursor];
  }
}
