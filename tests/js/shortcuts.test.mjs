// The keyboard shortcuts (www/shortcuts.js): `node --test tests/js/`.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ariaKeys, keyLabel, shortcutFor } from '../../www/shortcuts.js';

const on = (tagName, type) => ({ tagName, type });
const key = (k, extra = {}) => ({ key: k, ctrlKey: false, metaKey: false, shiftKey: false, altKey: false, target: on('BODY'), ...extra });

test('letters pick tools, brackets size the brush, Enter completes, Esc stops', () => {
  assert.equal(shortcutFor(key('p')), 'pen');
  assert.equal(shortcutFor(key('E', { shiftKey: true })), 'eraser');
  assert.equal(shortcutFor(key('h')), 'hide');
  assert.equal(shortcutFor(key('[')), 'smallerBrush');
  assert.equal(shortcutFor(key(']')), 'largerBrush');
  assert.equal(shortcutFor(key('Enter', { target: on('CANVAS') })), 'complete');
  assert.equal(shortcutFor(key('Escape', { target: on('INPUT', 'number') })), 'stop');
  assert.equal(shortcutFor(key('x')), null);
});

test('Ctrl/⌘+Z undoes, with Shift (or Ctrl+Y) redoes', () => {
  assert.equal(shortcutFor(key('z', { ctrlKey: true })), 'undo');
  assert.equal(shortcutFor(key('z', { metaKey: true })), 'undo');
  assert.equal(shortcutFor(key('Z', { metaKey: true, shiftKey: true })), 'redo');
  assert.equal(shortcutFor(key('y', { ctrlKey: true })), 'redo');
  assert.equal(shortcutFor(key('p', { ctrlKey: true })), null, 'Ctrl+P stays the browser’s');
  assert.equal(shortcutFor(key('z', { ctrlKey: true, altKey: true })), null);
});

test('keys typed into a field stay there; Enter on a button presses that button', () => {
  assert.equal(shortcutFor(key('p', { target: on('INPUT', 'number') })), null);
  assert.equal(shortcutFor(key('z', { ctrlKey: true, target: on('INPUT', 'text') })), null);
  assert.equal(shortcutFor(key('p', { target: on('SELECT') })), null);
  assert.equal(shortcutFor(key('Enter', { target: on('BUTTON') })), null);
  assert.equal(shortcutFor(key('e', { target: on('BUTTON') })), 'eraser', 'a focused button does not swallow letters');
  assert.equal(shortcutFor(key('[', { target: on('INPUT', 'range') })), 'smallerBrush');
});

test('titles and aria-keyshortcuts name the keys per platform', () => {
  assert.equal(keyLabel('pen'), 'P');
  assert.equal(keyLabel('stop'), 'Esc');
  assert.equal(keyLabel('undo'), 'Ctrl+Z');
  assert.equal(keyLabel('redo', true), '⇧⌘Z');
  assert.equal(ariaKeys('redo'), 'Shift+Control+Z');
  assert.equal(ariaKeys('undo', true), 'Meta+Z');
  assert.equal(ariaKeys('complete'), 'Enter');
});
