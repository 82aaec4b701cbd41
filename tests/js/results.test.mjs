// How the page prints an alternative's score (www/results.js): `node --test tests/js/`.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { formatScore } from '../../www/results.js';

test('scores have one decimal and a real minus sign; −0.0 is 0.0; infinities are ∞', () => {
  assert.equal(formatScore(-12.34), '\u221212.3');
  assert.equal(formatScore(3.05), '3.0');
  assert.equal(formatScore(-0.04), '0.0');
  assert.equal(formatScore(0), '0.0');
  assert.equal(formatScore(-Infinity), '\u2212\u221e');
});
