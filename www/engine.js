// The engine as the page (or any script) uses it: the wasm engine running in Web Workers,
// behind the methods of the wasm `Engine` (src/web/), each returning a promise.
//
//   const engine = await Engine.create('auto');        // or 'cpu', 'webgpu'
//   const info = await engine.loadModel('www/models/mnist.json');
//   engine.setCanvas(pixels, known);                    // levels [C,H,W], known mask [H,W]
//   await engine.start({ alternatives: 4, candidates: 28, seed: 1 });
//   for (let f; !(f = await engine.step(64)).finished;) draw(f.pixels);
//   engine.cancel();
//
// Two engine modules exist: the CPU one (small, loaded at once) and the WebGPU one (fetched
// only when it is used: with ?backend=webgpu, or in "auto" mode on a hardware adapter, to
// time it against the CPU once per device and model and then where it was faster). On the
// CPU a pool of candidates is shared by several workers (one core each): each draws a part
// of the pool, all choose the alternatives from the whole pool's weights, and the result is
// the same for any number of workers. Failures reject with an Error whose message says what
// went wrong.

import {
  CALIBRATION_BATCHES, CALIBRATION_PIXELS, calibrationFrom, calibrationKey, chooseBackend,
  loadCalibration, needsWebgpu, probeAdapter, saveCalibration,
} from './backend-choice.js';

const WORKER = new URL('./engine-worker.js', import.meta.url);
const MODULES = {
  cpu: new URL('../engine/pixelcnn-engine-cpu.js', import.meta.url).href,
  webgpu: new URL('../engine/pixelcnn-engine-webgpu.js', import.meta.url).href,
};
const PREFERENCES = ['auto', 'cpu', 'webgpu'];
// The CPU engine's wasm, compiled once here for the workers that share pools.
const CPU_WASM = new URL('../engine/pixelcnn-engine-cpu_bg.wasm', import.meta.url).href;

/**
 * CPU workers a pool is shared by: a core each, at most four, and from three cores on one left
 * for the page. With two cores both work: the page only paints frames meanwhile (~10 ms a
 * completion), and two workers finish a 28-candidate top-half pool 1.6× sooner than one.
 */
export function defaultCpuWorkers(cores = globalThis.navigator?.hardwareConcurrency) {
  const n = Math.max(1, Number(cores) || 2);
  return n <= 2 ? n : Math.min(4, n - 1);
}

/** Splits a pool of `size` candidates into `parts` contiguous shares, none empty, their sizes within one. */
export function splitPool(size, parts) {
  const n = Math.max(1, Math.min(parts, size));
  return Array.from({ length: n }, (_, i) => {
    const first = Math.floor((i * size) / n);
    return { first, count: Math.floor(((i + 1) * size) / n) - first };
  });
}

/**
 * One frame of a shared pool from the frames of its shares (in pool order): while the pool is
 * drawn, its first `alternatives` candidates; once chosen, each share's alternatives at their
 * ranks. `values` is the size of one image.
 */
export function mergeFrames(frames, alternatives, values) {
  const chosen = frames.every((f) => f.ranks);
  const done = Math.min(...frames.map((f) => f.done));
  const base = { done, total: frames[0].total, cancelled: frames.some((f) => f.cancelled) };
  if (!chosen) {
    const batch = Math.min(alternatives, frames.reduce((n, f) => n + f.batch, 0));
    const pixels = new Uint8Array(batch * values);
    let at = 0;
    for (const f of frames) {
      const take = Math.min(f.pixels.length, pixels.length - at);
      pixels.set(f.pixels.subarray(0, take), at);
      at += take;
    }
    return { ...base, phase: frames[0].phase, batch, finished: false, pixels, scores: null };
  }
  const pixels = new Uint8Array(alternatives * values);
  const scores = new Array(alternatives).fill(NaN);
  for (const f of frames) {
    f.ranks.forEach((rank, j) => {
      pixels.set(f.pixels.subarray(j * values, (j + 1) * values), rank * values);
      scores[rank] = f.scores[j];
    });
  }
  return { ...base, phase: 'done', batch: alternatives, finished: true, pixels, scores };
}

/** One worker running one engine module; calls are promises matched to replies by id. */
class EngineWorker {
  constructor(backend) {
    this.backend = backend;
    this.pending = new Map();
    this.nextId = 1;
    this.worker = new Worker(WORKER, { type: 'module', name: `pixelcnn-${backend}` });
    this.worker.onmessage = ({ data: { id, value, error } }) => {
      const call = this.pending.get(id);
      if (!call) return;
      this.pending.delete(id);
      if (error !== undefined) call.reject(new Error(error));
      else call.resolve(value);
    };
    this.worker.onerror = (event) => {
      event.preventDefault();
      this.fail(new Error(`the ${backend} engine stopped: ${event.message || 'the worker failed to start'}`));
    };
  }

  call(method, args = [], transfer = []) {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, method, args }, transfer);
    });
  }

  fail(error) {
    this.failure = error;
    for (const call of this.pending.values()) call.reject(error);
    this.pending.clear();
  }

  terminate() {
    this.worker.terminate();
    this.fail(new Error(`the ${this.backend} engine was shut down`));
  }
}

export class Engine extends EventTarget {
  /**
   * Starts the engine. `preference`: "auto" (the CPU engine, and WebGPU where it is measured
   * faster), "cpu", or "webgpu" (fails where WebGPU does not work). `storage` keeps timings
   * (default localStorage); `countDispatches` makes benchmark reports count GPU dispatches;
   * `calibration` ({ batches, pixels }) replaces what the timing of the two engines measures.
   */
  static async create(preference = 'auto', {
    storage = globalThis.localStorage, countDispatches = false, calibration = {},
    cpuWorkers = defaultCpuWorkers(),
  } = {}) {
    const wanted = String(preference ?? 'auto').toLowerCase() || 'auto';
    if (!PREFERENCES.includes(wanted)) {
      throw new Error(`unknown backend "${preference}": use "auto", "webgpu" or "cpu"`);
    }
    const adapter = wanted === 'cpu' ? null : await probeAdapter();
    const engine = new Engine(wanted, adapter, storage, countDispatches);
    engine.cpuWorkers = Math.max(1, Math.min(8, Math.floor(Number(cpuWorkers)) || 1));
    engine.calibrationPlan = {
      batches: calibration.batches ?? CALIBRATION_BATCHES,
      pixels: calibration.pixels ?? CALIBRATION_PIXELS,
    };
    await engine.#worker(wanted === 'webgpu' ? 'webgpu' : 'cpu');
    return engine;
  }

  #workers = { cpu: null, webgpu: null }; // promises of started EngineWorkers
  #workerOf = { cpu: null, webgpu: null }; // the started workers themselves
  #helpers = []; // the CPU workers after the first, which share pools: { worker, loading }
  #cpuWasm = null; // promise of the CPU engine's compiled module, for the helpers
  #alternativesOfPool = 1; // of the completion in progress
  #active = []; // the workers running the completion in progress (several: a shared pool)
  #canvas = null;
  #running = false;
  #generation = 0; // bumped by every cancel (start cancels first): steps sent before are stale
  #idleWaiters = [];
  #calibrating = null;
  #webgpuFailure = null;

  constructor(preference, adapter, storage, countDispatches) {
    super();
    this.preference = preference;
    this.adapter = adapter;
    this.storage = storage;
    this.countDispatches = countDispatches;
    this.calibration = null;
    this.info = null;
    this.modelUrl = null;
  }

  /**
   * The backend a completion drawing `batch` candidates runs on, and why: { backend, reason }.
   * Until the WebGPU engine is ready, everything runs on the CPU (the first completion never
   * waits for the second module).
   */
  describe(batch) {
    const choice = this.#webgpuFailure
      ? { backend: 'cpu', reason: `WebGPU did not start here (${this.#webgpuFailure})` }
      : chooseBackend({ preference: this.preference, adapter: this.adapter, calibration: this.calibration, batch });
    if (choice.pending && this.#calibrating) return { ...choice, reason: 'measuring WebGPU on this device…' };
    if (choice.backend === 'webgpu' && this.preference === 'auto' && !this.#isReady('webgpu')) {
      return { backend: 'cpu', reason: 'the WebGPU engine is still loading' };
    }
    return choice;
  }

  backendFor(batch) {
    return this.describe(batch).backend;
  }

  /** CPU workers ready to share the next pool of candidates (the others are started). */
  get poolWorkers() {
    return 1 + this.#readyHelpers().length;
  }

  /** Loads a model (manifest URL) into every started engine; resolves to its description. */
  async loadModel(url) {
    const href = new URL(url, location.href).href;
    const primary = this.preference === 'webgpu' ? 'webgpu' : 'cpu';
    const info = await (await this.#worker(primary)).call('loadModel', [href]);
    this.cancel();
    this.info = info;
    this.modelUrl = href;
    this.#workerOf[primary].modelUrl = href;
    if (primary === 'cpu') this.#readyHelpers(); // start loading it into the helpers too
    this.calibration = this.#storedCalibration();
    if (this.preference === 'auto' && needsWebgpu(this) && !this.#webgpuFailure) {
      // Timings stored for this device and model say where WebGPU pays: get it ready in the
      // background. Without timings, measure (also in the background).
      if (this.calibration) this.#loaded('webgpu').catch(() => {});
      else this.#calibrating ??= this.#calibrate().finally(() => { this.#calibrating = null; this.#changed(); });
    }
    this.#changed();
    return this.info;
  }

  /** Sets the canvas of the next `start`: levels [C, H, W] and the known mask [H, W] (1 = keep). */
  setCanvas(pixels, known) {
    this.#canvas = [Uint8Array.from(pixels), Uint8Array.from(known)];
  }

  /** Starts a completion (see StartOptions in the wasm API); resolves to its Plan (backend, order, pool). */
  async start(options = {}) {
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw new TypeError(`start: options must be an object (StartOptions), got ${JSON.stringify(options)}`);
    }
    if (options.backend === 'webgpu' && this.preference === 'cpu') {
      throw new Error('start: this engine was created for the CPU only (Engine.create("cpu")): create one with "auto" or "webgpu" to use WebGPU');
    }
    this.cancel();
    await this.#calibrationCpuPart;
    const pool = Math.max(Number(options.alternatives ?? 1) || 1, Number(options.candidates ?? 0) || 0);
    const backend = options.backend ?? this.backendFor(pool);
    const { backend: _, ...rest } = options;
    // A pool of candidates on the CPU is shared by the CPU workers that are ready (the rest
    // get ready meanwhile: the result is the same for any number of them).
    const helpers = backend === 'cpu' && options.candidates !== undefined ? this.#readyHelpers() : [];
    const shares = helpers.length ? splitPool(pool, 1 + helpers.length) : [null];
    const workers = [await this.#loaded(backend), ...helpers].slice(0, shares.length);
    this.#active = workers;
    this.#alternativesOfPool = Number(options.alternatives ?? 1);
    this.#running = true;
    try {
      const plans = await Promise.all(workers.map(async (worker, i) => {
        if (this.#canvas) await worker.call('setCanvas', this.#canvas);
        return worker.call('start', [shares[i] ? { ...rest, share: shares[i] } : rest]);
      }));
      // Unranked, the first worker draws the alternatives alone.
      if (!plans[0].ranked) this.#release(workers.slice(1));
      return { ...plans[0], workers: this.#active.length };
    } catch (err) {
      this.cancel();
      throw err;
    }
  }

  /** Advances the completion by up to `pixels` pixels; resolves to a frame (plain object). */
  async step(pixels) {
    if (!this.#active.length) throw new Error('step: no completion in progress (call start first)');
    const generation = this.#generation;
    const workers = this.#active;
    let frames = await Promise.all(workers.map((w) => w.call('step', [pixels])));
    if (workers.length > 1 && generation === this.#generation && frames.every((f) => f.logWeights)) {
      // Every share is drawn: all choose from the whole pool, then show what they hold.
      const weights = Float32Array.from(frames.flatMap((f) => Array.from(f.logWeights)));
      await Promise.all(workers.map((w) => w.call('choose', [weights])));
      frames = await Promise.all(workers.map((w) => w.call('step', [0])));
    }
    const frame = workers.length > 1
      ? mergeFrames(frames, this.#alternativesOfPool, this.info.channels * this.info.width * this.info.height)
      : frames[0];
    // A cancel (or a new start) after this step was sent may reach the worker only after the
    // step's reply left it: the step is stale all the same.
    if (generation !== this.#generation) return { ...frame, cancelled: true };
    if (frame.finished || frame.cancelled) this.#setIdle();
    return frame;
  }

  /** Runs the completion to the end; resolves to the last frame. */
  async sample() {
    for (;;) {
      const frame = await this.step(2 ** 31);
      if (frame.finished || frame.cancelled) return frame;
    }
  }

  /** Drops the completion in progress; a `step` awaiting it resolves as cancelled. */
  cancel() {
    this.#generation++;
    this.#release(this.#active);
    this.#active = [];
    this.#setIdle();
  }

  /**
   * Per-value surprise −log p(x_i | x_<i) in nats of whole images (levels [B, C, H, W]), the
   * values x_<i taken in generation order `order` (an index into the model's `orders`).
   */
  async score(pixels, label = null, order = 0) {
    const size = this.info ? this.info.channels * this.info.width * this.info.height : 1;
    const batch = Math.max(1, Math.floor(pixels.length / size));
    const worker = await this.#loaded(this.backendFor(batch));
    return worker.call('score', [Uint8Array.from(pixels), label, order]);
  }

  /** The browser benchmark (BenchOptions of the wasm API) on `options.backend` (default: the primary one). */
  async benchmark(options = {}) {
    const { backend = this.preference === 'webgpu' ? 'webgpu' : 'cpu', ...rest } = options;
    this.cancel();
    const worker = await this.#loaded(backend);
    const report = await worker.call('benchmark', [rest]);
    return { ...report, backend };
  }

  // ------------------------------------------------------------------------------ internals

  /** Cancels the jobs of `workers` and drops them from the completion in progress. */
  #release(workers) {
    for (const worker of workers) worker.call('cancel').catch(() => {});
    this.#active = this.#active.filter((w) => !workers.includes(w));
  }

  /**
   * The extra CPU workers holding the current model, at most `cpuWorkers - 1`; those not yet
   * started (or still loading it) get ready in the background.
   */
  #readyHelpers() {
    const ready = [];
    for (let i = 0; i < this.cpuWorkers - 1; i++) {
      const helper = (this.#helpers[i] ??= { worker: null, loading: null });
      if (helper.worker && !helper.worker.failure && helper.worker.modelUrl === this.modelUrl) {
        ready.push(helper.worker);
      } else {
        helper.loading ??= this.#startHelper(helper).finally(() => { helper.loading = null; });
      }
    }
    return ready;
  }

  async #startHelper(helper) {
    try {
      if (!helper.worker || helper.worker.failure) {
        const wasmModule = await this.#compiledCpuWasm();
        const worker = new EngineWorker('cpu');
        await worker.call('init', [MODULES.cpu, 'cpu', { wasmModule }]);
        helper.worker = worker;
      }
      await this.#withModel(helper.worker);
    } catch (err) {
      // A helper that cannot start leaves the pool to the others.
      helper.worker?.terminate();
      helper.worker = null;
      console.warn(`a CPU worker for shared pools did not start: ${err.message}`);
    }
  }

  /** The worker for `backend`, started (once) and given the current model. */
  async #loaded(backend) {
    return this.#withModel(await this.#worker(backend));
  }

  /**
   * The CPU engine's wasm compiled once (off the main thread) and handed to every helper, so
   * each does not fetch and compile it again; undefined where streaming compilation fails
   * (a server without the wasm MIME type): each helper then loads it itself.
   */
  #compiledCpuWasm() {
    this.#cpuWasm ??= WebAssembly.compileStreaming(fetch(CPU_WASM)).catch((err) => {
      console.warn(`compiling the CPU engine once for all workers failed (${err.message}): each loads its own`);
      return undefined;
    });
    return this.#cpuWasm;
  }

  /** `worker`, with the current model loaded into it. */
  async #withModel(worker) {
    if (this.modelUrl && worker.modelUrl !== this.modelUrl) {
      const url = this.modelUrl;
      await worker.call('loadModel', [url]);
      worker.modelUrl = url;
      this.#changed();
    }
    return worker;
  }

  #isReady(backend) {
    const worker = this.#workerOf[backend];
    return Boolean(worker && !worker.failure && worker.modelUrl === this.modelUrl);
  }

  /** Starts the worker for `backend` once; a failed start is remembered and rethrown. */
  #worker(backend) {
    if (!this.#workers[backend]) {
      this.#workers[backend] = (async () => {
        const worker = new EngineWorker(backend);
        try {
          await worker.call('init', [MODULES[backend], backend, { countDispatches: this.countDispatches && backend === 'webgpu' }]);
        } catch (err) {
          worker.terminate();
          if (backend === 'webgpu') this.#webgpuFailure = err.message;
          throw err;
        }
        this.#workerOf[backend] = worker;
        return worker;
      })();
      if (backend === 'webgpu') this.#workers.webgpu.catch(() => this.#changed());
    }
    return this.#workers[backend];
  }

  #storedCalibration() {
    if (!this.adapter || this.adapter.software || !this.info) return null;
    return loadCalibration(this.storage, calibrationKey(this.adapter, this.info.sha256));
  }

  #calibrationCpuPart = null;

  /**
   * Times both engines on a few rows at the page's batch sizes, when no completion runs, and
   * stores the result for this adapter and model.
   */
  async #calibrate() {
    const key = calibrationKey(this.adapter, this.info.sha256);
    const model = this.modelUrl;
    // Two runs each; the calibration keeps the faster (the first may pay V8's tier-up).
    const { batches, pixels } = this.calibrationPlan;
    const options = { batches, samplers: ['cached'], maxPixels: pixels, repeats: 2 };
    let webgpu;
    try {
      const gpu = await this.#loaded('webgpu');
      await this.#idle();
      webgpu = await gpu.call('benchmark', [options]);
    } catch (err) {
      this.#webgpuFailure ??= err.message;
      return;
    }
    await this.#idle();
    // Completions wait for the few hundred ms this takes: a start in between would replace
    // the benchmark's job in the CPU worker (and the job would skew the timings).
    let done;
    this.#calibrationCpuPart = new Promise((resolve) => { done = resolve; });
    try {
      const cpu = await (await this.#loaded('cpu')).call('benchmark', [options]);
      const calibration = calibrationFrom(cpu, webgpu);
      if (calibration.rows.length) {
        saveCalibration(this.storage, key, calibration);
        if (this.modelUrl === model) this.calibration = calibration;
      }
    } finally {
      this.#calibrationCpuPart = null;
      done();
    }
  }

  #setIdle() {
    this.#running = false;
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  #idle() {
    return this.#running ? new Promise((resolve) => this.#idleWaiters.push(resolve)) : Promise.resolve();
  }

  #changed() {
    this.dispatchEvent(new Event('change'));
  }
}
