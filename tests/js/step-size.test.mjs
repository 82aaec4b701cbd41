// The completion loop's step sizing (www/completion.js): `node --test tests/js/`.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { MAX_STEP_PIXELS, nextStepSize, STEP_BUDGET_MS } from '../../www/completion.js';

test('the budget is 25 ms of engine time and 4096 pixels at most', () => {
  assert.equal(STEP_BUDGET_MS, 25);
  assert.equal(MAX_STEP_PIXELS, 4096);
});

test('a step that took the budget keeps its size', () => {
  assert.equal(nextStepSize(250, 25), 250);
  assert.equal(nextStepSize(25, 25), 25);
});

test('a fast step grows towards the budget, at most 4x a step', () => {
  // 0.1 ms a pixel: 250 pixels fill 25 ms.
  assert.equal(nextStepSize(100, 10), 250);
  // The same speed from 10 pixels: capped at 4 × 10.
  assert.equal(nextStepSize(10, 1), 40);
  assert.equal(nextStepSize(40, 4), 160);
});

test('a slow step shrinks to the budget at once', () => {
  // 1 ms a pixel: 25 pixels fill 25 ms.
  assert.equal(nextStepSize(100, 100), 25);
  assert.equal(nextStepSize(1000, 250), 100);
});

test('steps stay between 1 pixel and MAX_STEP_PIXELS', () => {
  assert.equal(nextStepSize(1, 1000), 1);
  assert.equal(nextStepSize(5, 10_000), 1);
  assert.equal(nextStepSize(4096, 1), MAX_STEP_PIXELS);
  assert.equal(nextStepSize(2000, 2), MAX_STEP_PIXELS);
});

test('a step measured as free counts as 0.5 ms, so the size stays finite', () => {
  assert.equal(nextStepSize(10, 0), 40);
  assert.equal(nextStepSize(2000, 0), MAX_STEP_PIXELS);
  // 1000 pixels in "0 ms" would be 50,000 a step at 0.5 ms; the 4× cap holds it to 4000.
  assert.equal(nextStepSize(1000, 0), 4000);
});
