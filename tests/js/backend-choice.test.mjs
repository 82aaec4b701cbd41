// The page's backend choice (www/backend-choice.js), with fake adapters and timings: no
// browser needed (`node --test tests/js/`).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  calibrationFrom, calibrationKey, chooseBackend, isCalibration, loadCalibration, needsWebgpu,
  probeAdapter, saveCalibration,
} from '../../www/backend-choice.js';

const HARDWARE = { software: false, key: 'acme/rdna3/7480/Acme GPU', name: 'Acme GPU' };
const SOFTWARE = { software: true, key: 'google/swiftshader//', name: 'SwiftShader' };
/** WebGPU 3× faster than the CPU from batch 16 on, 2× slower below. */
const MIXED = {
  rows: [
    { batch: 1, cpuMs: 10, webgpuMs: 20 },
    { batch: 4, cpuMs: 20, webgpuMs: 40 },
    { batch: 16, cpuMs: 90, webgpuMs: 30 },
    { batch: 64, cpuMs: 360, webgpuMs: 40 },
  ],
};

describe('chooseBackend', () => {
  test('?backend= forces a backend whatever the timings', () => {
    for (const preference of ['cpu', 'webgpu']) {
      const choice = chooseBackend({ preference, adapter: HARDWARE, calibration: MIXED, batch: 64 });
      assert.deepEqual(choice, { backend: preference, reason: `chosen with ?backend=${preference}` });
    }
  });

  test('no adapter, or a software one: the CPU', () => {
    assert.equal(chooseBackend({ adapter: null, calibration: MIXED, batch: 64 }).backend, 'cpu');
    assert.match(chooseBackend({ adapter: null, batch: 4 }).reason, /no WebGPU adapter/);
    assert.equal(chooseBackend({ adapter: SOFTWARE, calibration: MIXED, batch: 64 }).backend, 'cpu');
    assert.match(chooseBackend({ adapter: SOFTWARE, batch: 4 }).reason, /software/);
  });

  test('a hardware adapter without timings: the CPU until measured', () => {
    const choice = chooseBackend({ adapter: HARDWARE, calibration: null, batch: 16 });
    assert.equal(choice.backend, 'cpu');
    assert.equal(choice.pending, true);
  });

  test('with timings, the faster backend at the nearest timed batch size at or above', () => {
    const pick = (batch) => chooseBackend({ adapter: HARDWARE, calibration: MIXED, batch });
    assert.deepEqual(pick(1), { backend: 'cpu', reason: '2.0× faster than WebGPU at 1 candidate on this device' });
    assert.equal(pick(3).backend, 'cpu', 'batch 3 goes by the timings at 4');
    assert.equal(pick(5).backend, 'webgpu', 'batch 5 goes by the timings at 16');
    assert.deepEqual(pick(16), { backend: 'webgpu', reason: '3.0× faster than CPU at 16 candidates on this device' });
    assert.equal(pick(100).backend, 'webgpu', 'beyond the largest timed batch, the largest');
    const cpuEverywhere = { rows: MIXED.rows.map((r) => ({ ...r, webgpuMs: r.cpuMs * 2 })) };
    for (const batch of [1, 16, 64]) {
      assert.equal(chooseBackend({ adapter: HARDWARE, calibration: cpuEverywhere, batch }).backend, 'cpu');
    }
  });
});

describe('needsWebgpu: when the WebGPU module is fetched at all', () => {
  test('never without a hardware adapter or with ?backend=cpu', () => {
    assert.equal(needsWebgpu({ adapter: null }), false);
    assert.equal(needsWebgpu({ adapter: SOFTWARE }), false);
    assert.equal(needsWebgpu({ preference: 'cpu', adapter: HARDWARE }), false);
  });
  test('with ?backend=webgpu, to measure, or where it was faster', () => {
    assert.equal(needsWebgpu({ preference: 'webgpu', adapter: null }), true);
    assert.equal(needsWebgpu({ adapter: HARDWARE, calibration: null }), true);
    assert.equal(needsWebgpu({ adapter: HARDWARE, calibration: MIXED }), true);
    const slow = { rows: [{ batch: 64, cpuMs: 10, webgpuMs: 11 }] };
    assert.equal(needsWebgpu({ adapter: HARDWARE, calibration: slow }), false);
  });
});

describe('calibrations', () => {
  test('built from two benchmark reports, stored and read back per adapter and model', () => {
    const report = (ms) => ({ rows: [1, 16].map((batch) => ({ batch, ms: ms * batch })) });
    const calibration = calibrationFrom(report(10), report(2));
    assert.deepEqual(calibration, { rows: [{ batch: 1, cpuMs: 10, webgpuMs: 2 }, { batch: 16, cpuMs: 160, webgpuMs: 32 }] });
    // With several timed runs, the fastest of them counts.
    const runs = (ms) => ({ rows: [{ batch: 4, ms: ms[1], runsMs: ms }] });
    assert.deepEqual(calibrationFrom(runs([90, 40]), runs([30, 35])), { rows: [{ batch: 4, cpuMs: 40, webgpuMs: 30 }] });
    const store = new Map();
    const storage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v) };
    const key = calibrationKey(HARDWARE, 'abc123');
    assert.notEqual(key, calibrationKey(HARDWARE, 'def456'), 'another model, another key');
    assert.notEqual(key, calibrationKey({ ...HARDWARE, key: 'other' }, 'abc123'), 'another adapter, another key');
    assert.equal(loadCalibration(storage, key), null);
    saveCalibration(storage, key, calibration);
    assert.deepEqual(loadCalibration(storage, key), calibration);
  });

  test('anything else in storage is ignored', () => {
    for (const stored of ['not json', '{}', '{"rows":[]}', '{"rows":[{"batch":1,"cpuMs":-1,"webgpuMs":2}]}', 'null']) {
      const storage = { getItem: () => stored };
      assert.equal(loadCalibration(storage, 'k'), null, stored);
    }
    assert.equal(isCalibration(MIXED), true);
    assert.equal(loadCalibration(undefined, 'k'), null, 'no localStorage at all');
  });
});

describe('probeAdapter', () => {
  const gpu = (adapter) => ({ requestAdapter: async () => adapter });
  test('none, a software one, a hardware one', async () => {
    assert.equal(await probeAdapter(undefined), null);
    assert.equal(await probeAdapter(gpu(null)), null);
    assert.equal(await probeAdapter({ requestAdapter: async () => { throw new Error('blocked'); } }), null);
    const soft = await probeAdapter(gpu({ info: { vendor: 'google', architecture: 'swiftshader', isFallbackAdapter: true } }));
    assert.equal(soft.software, true);
    const hard = await probeAdapter(gpu({ info: { vendor: 'acme', architecture: 'rdna3', device: '7480', description: 'Acme GPU' } }));
    assert.deepEqual(hard, HARDWARE);
  });
});

test('a larger default pool only where WebGPU draws it no slower than the default', async () => {
  const { defaultCandidates, CPU_DEFAULT_CANDIDATES: n } = await import('../../www/backend-choice.js');
  const adapter = { software: false, key: 'gpu' };
  const rows = (atDefault, at64) => ({ rows: [
    { batch: n, cpuMs: atDefault.cpu, webgpuMs: atDefault.gpu },
    { batch: 64, cpuMs: at64.cpu, webgpuMs: at64.gpu },
  ] });
  const fast = rows({ cpu: 900, gpu: 60 }, { cpu: 2000, gpu: 70 });
  assert.equal(defaultCandidates({ adapter, calibration: fast }), 64);
  // WebGPU at 64 slower than the CPU at the default (though faster than the CPU at 64): keep it.
  const slow = rows({ cpu: 900, gpu: 60 }, { cpu: 2000, gpu: 1000 });
  assert.equal(defaultCandidates({ adapter, calibration: slow }), n);
  // The CPU chosen at 64, no calibration, a software adapter, or ?backend=cpu: the default.
  assert.equal(defaultCandidates({ adapter, calibration: rows({ cpu: 900, gpu: 950 }, { cpu: 2000, gpu: 2100 }) }), n);
  assert.equal(defaultCandidates({ adapter, calibration: null }), n);
  assert.equal(defaultCandidates({ adapter: { software: true, key: 's' }, calibration: fast }), n);
  assert.equal(defaultCandidates({ preference: 'cpu', adapter, calibration: fast }), n);
});
