// Undo and redo of the drawing (www/history.js): `node --test tests/js/`.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { History, snapshot } from '../../www/history.js';

const drawing = (value, label = '') => snapshot([value, value], [1, value ? 0 : 1], label);

test('undo walks back through the commits and redo forward again, exactly', () => {
  const history = new History();
  history.commit(drawing(0));
  history.commit(drawing(1));
  history.commit(drawing(2, '7'));
  assert.deepEqual(history.undo(), drawing(1));
  assert.deepEqual(history.undo(), drawing(0));
  assert.equal(history.undo(), null, 'nothing before the first snapshot');
  assert.deepEqual(history.redo(), drawing(1));
  assert.deepEqual(history.redo(), drawing(2, '7'));
  assert.equal(history.redo(), null);
});

test('a change after an undo drops what could be redone', () => {
  const history = new History();
  history.commit(drawing(0));
  history.commit(drawing(1));
  history.undo();
  history.commit(drawing(3));
  assert.equal(history.canRedo, false);
  assert.deepEqual(history.undo(), drawing(0));
});

test('a snapshot equal to the current one is not a change; the class alone is', () => {
  const history = new History();
  assert.equal(history.commit(drawing(0)), true);
  assert.equal(history.commit(drawing(0)), false);
  assert.equal(history.commit(drawing(0, '3')), true);
  assert.equal(history.entries.length, 2);
});

test('the history keeps at most its limit, dropping the oldest', () => {
  const history = new History(3);
  for (let v = 0; v < 5; v++) history.commit(drawing(v));
  assert.equal(history.entries.length, 3);
  assert.deepEqual(history.undo(), drawing(3));
  assert.deepEqual(history.undo(), drawing(2));
  assert.equal(history.canUndo, false);
});

test('snapshots are copies: later edits of the arrays do not change them', () => {
  const pixels = new Uint8Array([1, 0]);
  const entry = snapshot(pixels, [1, 1], '');
  pixels[0] = 0;
  assert.equal(entry.pixels[0], 1);
});
