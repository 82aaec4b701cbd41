// The completion settings (seed, temperature, alternatives, candidates) as the page shows
// them, and the footer's backend: which one the next completion runs on, and why.

import { $, appData, state } from './app-state.js';
import { defaultCandidates } from './backend-choice.js';
import { backendLabel, seedValue } from './completion.js';

/**
 * Until the visitor (or a shared scene) sets the pool size, it follows the engines: larger
 * where WebGPU draws it as fast as the CPU draws the default.
 */
function useDefaultCandidates() {
  if (state.candidatesSet) return;
  const n = defaultCandidates(state.engine);
  if (Number($('candidates').value) === n) return;
  $('candidates').value = String(n);
  const k = Number($('alternatives').value);
  $('candidates-value').textContent = n < k ? `${k} (≥ alternatives)` : String(n);
}

/** Until the visitor (or a shared scene) sets the temperature, it is the model's measured default. */
export function useModelTemperature(info) {
  if (state.temperatureSet) return;
  $('temperature').value = String(info.defaultTemperature);
  showSettings();
}

/** The footer: which backend the next completion runs on, and why. */
export function describeBackends() {
  const { engine } = state;
  if (!engine) return;
  useDefaultCandidates();
  // A completion runs its whole pool of candidates as one batch.
  const n = Math.max(Number($('alternatives').value), Number($('candidates').value));
  const { backend, reason } = engine.describe(n);
  $('backend').textContent = `${backendLabel(backend)} — ${reason}`;
  appData().backend = backend;
}

export function wireSettings() {
  $('seed').addEventListener('change', () => { $('seed').value = String(seedValue()); });
  for (const id of ['temperature', 'alternatives', 'candidates']) {
    const input = $(id);
    // Before `showSettings`: a pool the visitor set is never replaced by the default.
    if (id === 'candidates') input.addEventListener('input', () => { state.candidatesSet = true; });
    if (id === 'temperature') input.addEventListener('input', () => { state.temperatureSet = true; });
    input.addEventListener('input', showSettings);
    showSettings();
  }
}

function showSettings() {
  const k = Number($('alternatives').value), n = Number($('candidates').value);
  $('temperature-value').textContent = Number($('temperature').value).toFixed(2);
  $('alternatives-value').textContent = String(k);
  // The engine draws at least as many candidates as it returns alternatives.
  $('candidates-value').textContent = n < k ? `${k} (≥ alternatives)` : String(n);
  describeBackends();
}
