// The engine's Web Worker: runs one wasm engine module (CPU or WebGPU) off the page's main
// thread, so drawing and scrolling stay smooth while it samples. www/engine.js talks to it.
//
// Protocol: the page posts { id, method, args }; the worker answers { id, value } or
// { id, error } (the message of what went wrong). Messages are handled as they arrive, so a
// `cancel` reaches the engine while a `step` awaits its readback.

let engine = null;
let dispatches = null; // GPU compute dispatches counted since init, when asked to count

/** Counts every compute dispatch this worker issues (burn-wgpu's kernels, one call each). */
function countDispatches() {
  const encoder = globalThis.GPUComputePassEncoder?.prototype;
  if (!encoder) return;
  dispatches = 0;
  for (const name of ['dispatchWorkgroups', 'dispatchWorkgroupsIndirect']) {
    const original = encoder[name];
    if (typeof original !== 'function') continue;
    encoder[name] = function counted(...args) {
      dispatches++;
      return original.apply(this, args);
    };
  }
}

const methods = {
  /**
   * Loads the engine module at `moduleUrl` and creates its Engine for `backend`; with
   * `wasmModule` (a compiled WebAssembly.Module of it) it skips fetching and compiling.
   */
  async init(moduleUrl, backend, options = {}) {
    if (options.countDispatches) countDispatches();
    const module = await import(moduleUrl);
    await module.default(options.wasmModule ? { module_or_path: options.wasmModule } : undefined);
    engine = await module.Engine.create(backend);
  },
  loadModel(url) {
    return engine.loadModel(url);
  },
  setCanvas(pixels, known) {
    engine.setCanvas(pixels, known);
  },
  start(options) {
    return engine.start(options);
  },
  step(pixels) {
    return engine.step(pixels);
  },
  choose(logWeights) {
    engine.choose(logWeights);
  },
  score(pixels, label, order) {
    return engine.score(pixels, label, order);
  },
  cancel() {
    engine?.cancel();
  },
  async benchmark(options) {
    const before = dispatches;
    const report = await engine.benchmark(options);
    if (dispatches !== null) report.dispatches = dispatches - before;
    return report;
  },
};

/** Buffers to hand over instead of copying (frames and surprise maps). */
function transferables(value) {
  if (ArrayBuffer.isView(value)) return [value.buffer];
  if (value && ArrayBuffer.isView(value.pixels)) return [value.pixels.buffer];
  return [];
}

self.onmessage = async ({ data: { id, method, args } }) => {
  try {
    if (!(method in methods)) throw new Error(`unknown engine method ${method}`);
    if (method !== 'init' && method !== 'cancel' && !engine) throw new Error('the engine is not started');
    const value = await methods[method](...(args ?? []));
    self.postMessage({ id, value }, transferables(value));
  } catch (err) {
    self.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
};
