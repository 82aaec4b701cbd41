// Which engine runs a completion: the CPU one (wasm, every visitor has it) or the WebGPU one
// (a second module, fetched only when it is used). Pure functions, so that the choice can be
// tested with any adapter and any timings (tests/js/backend-choice.test.mjs).
//
// The WebGPU engine runs each generated value as one kernel dispatch, and a dispatch costs a
// fixed overhead before any work, so WebGPU is not faster on every device (nor at every batch
// size): on a hardware adapter the page times both engines once (a few rows at the batch
// sizes it uses), keeps the timings in localStorage, and picks per batch size.

/**
 * The CPU's pool when nothing says more: a top-half hole (the slowest: all of the bottom half
 * is scored) takes about 1 s at 40 candidates on a 4-core machine. Measured on 2 cores
 * (`node tests/e2e/complete-timing.mjs --candidates=4,8,16,28,32,40,48 --workers=1,2`): each
 * candidate adds 51 ms with one worker and 28 ms with two (1.8× per doubling), on top of
 * ~0.25 s; a 4-core machine runs three workers, so ~51 / (3 · 0.9) ≈ 19 ms a candidate and
 * 0.25 + 40 · 0.019 ≈ 1.0 s. Two cores take 1.2 s with their two workers.
 */
export const CPU_DEFAULT_CANDIDATES = 40;

/** Batch sizes timed by a calibration: the page's range of candidates (1..64), the default among them. */
export const CALIBRATION_BATCHES = [1, 4, 16, CPU_DEFAULT_CANDIDATES, 64];
/** Pixels (two rows of 28) timed per batch size. */
export const CALIBRATION_PIXELS = 56;
const STORAGE_PREFIX = 'pixelcnn:calibration:';

/**
 * What the page knows about the WebGPU adapter: null when there is none, else whether it is a
 * software one (SwiftShader, lavapipe: the same CPU plus a dispatch overhead) and a key that
 * names the device.
 */
export async function probeAdapter(gpu = globalThis.navigator?.gpu) {
  if (!gpu) return null;
  let adapter;
  try {
    adapter = await gpu.requestAdapter();
  } catch {
    return null;
  }
  if (!adapter) return null;
  const info = adapter.info ?? {};
  const software = Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter);
  const key = [info.vendor, info.architecture, info.device, info.description]
    .map((part) => String(part ?? '')).join('/');
  return { software, key, name: info.description || info.vendor || 'WebGPU adapter' };
}

export function calibrationKey(adapter, modelSha) {
  return `${STORAGE_PREFIX}${adapter.key}:${modelSha}`;
}

/** A stored calibration, or null when there is none or it does not parse. */
export function loadCalibration(storage, key) {
  try {
    const value = JSON.parse(storage?.getItem(key) ?? 'null');
    return isCalibration(value) ? value : null;
  } catch {
    return null;
  }
}

export function saveCalibration(storage, key, calibration) {
  try {
    storage?.setItem(key, JSON.stringify(calibration));
  } catch {
    // Storage full or disabled: the page calibrates again next time.
  }
}

/** { rows: [{ batch, cpuMs, webgpuMs }] }, each time for the same pixels at that batch size. */
export function isCalibration(value) {
  return Boolean(value) && Array.isArray(value.rows) && value.rows.length > 0 && value.rows.every(
    (r) => Number.isInteger(r.batch) && r.batch > 0 && r.cpuMs > 0 && r.webgpuMs > 0,
  );
}

/**
 * Builds a calibration from two benchmark reports of the same batches (www/engine.js): per
 * batch the fastest of its timed runs on each engine, the run least disturbed by anything else.
 */
export function calibrationFrom(cpuReport, webgpuReport) {
  const fastest = (row) => (row?.runsMs?.length ? Math.min(...row.runsMs) : row?.ms);
  const ms = (report, batch) => fastest(report.rows.find((r) => r.batch === batch));
  return {
    rows: cpuReport.rows.map((r) => ({ batch: r.batch, cpuMs: fastest(r), webgpuMs: ms(webgpuReport, r.batch) }))
      .filter((r) => r.webgpuMs > 0 && r.cpuMs > 0),
  };
}

/** The calibrated row that speaks for `batch`: the smallest timed batch ≥ it, else the largest. */
function rowFor(calibration, batch) {
  const rows = [...calibration.rows].sort((a, b) => a.batch - b.batch);
  return rows.find((r) => r.batch >= batch) ?? rows[rows.length - 1];
}

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * The backend for a completion of `batch` (the pool it draws: max(alternatives, candidates))
 * and why, in words for the footer. `preference` is ?backend= ("auto", "cpu" or "webgpu").
 */
export function chooseBackend({ preference = 'auto', adapter, calibration, batch }) {
  if (preference === 'cpu') return { backend: 'cpu', reason: 'chosen with ?backend=cpu' };
  if (preference === 'webgpu') return { backend: 'webgpu', reason: 'chosen with ?backend=webgpu' };
  if (!adapter) return { backend: 'cpu', reason: 'this browser has no WebGPU adapter' };
  if (adapter.software) {
    return { backend: 'cpu', reason: 'the WebGPU adapter here is a software one, slower than the CPU engine' };
  }
  if (!calibration) return { backend: 'cpu', reason: 'WebGPU not measured on this device yet', pending: true };
  const row = rowFor(calibration, batch);
  const at = plural(batch, 'candidate');
  if (row.webgpuMs < row.cpuMs) {
    return { backend: 'webgpu', reason: `${(row.cpuMs / row.webgpuMs).toFixed(1)}× faster than CPU at ${at} on this device` };
  }
  return { backend: 'cpu', reason: `${(row.webgpuMs / row.cpuMs).toFixed(1)}× faster than WebGPU at ${at} on this device` };
}

/**
 * The pool a completion draws by default: the CPU's default, or `larger` where the
 * calibration says WebGPU draws that many candidates no slower than the CPU draws the default
 * (a larger pool fits the known pixels better, at no more than the CPU's time).
 */
export function defaultCandidates({ preference = 'auto', adapter, calibration }, { cpuDefault = CPU_DEFAULT_CANDIDATES, larger = 64 } = {}) {
  if (!calibration) return cpuDefault;
  if (chooseBackend({ preference, adapter, calibration, batch: larger }).backend !== 'webgpu') return cpuDefault;
  const big = rowFor(calibration, larger);
  const small = rowFor(calibration, cpuDefault);
  return big.webgpuMs <= small.cpuMs ? larger : cpuDefault;
}

/** Whether the WebGPU module is needed at all: never without a hardware adapter (or ?backend=webgpu). */
export function needsWebgpu({ preference = 'auto', adapter, calibration }) {
  if (preference === 'webgpu') return true;
  if (preference === 'cpu' || !adapter || adapter.software) return false;
  return !calibration || calibration.rows.some((r) => r.webgpuMs < r.cpuMs);
}
