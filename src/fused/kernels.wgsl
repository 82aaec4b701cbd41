// The cached sampler's maths as three WebGPU compute kernels, one workgroup per batch item:
//
// - `vertical_row`: every layer's vertical stack for one complete image row, the next layers'
//   vertical inputs for that row, and every layer's row term for the row below;
// - `horizontal_row`: every layer's horizontal stack over one whole row from the canvas (the
//   caches of a row entered after known pixels), optionally with the head, scoring the row's
//   known values (log p of each value at the scored positions, summed per item);
// - `value`: the horizontal stack of every layer at one pixel for one channel, the head, the
//   Gumbel-max draw, and the write of the value into the canvas.
//
// The host prepends the model's dimensions and the offsets of each weight matrix in `weights`
// (constants named in upper case), and runs the kernels in the order the CPU engine's cached
// sampler runs the same steps, so both give the same pixels for the same noise. Weight
// matrices are the masked convolutions as [inputs, outputs] row-major, windows gathered in
// (row, column, channel) order, exactly as `MatmulConv` holds them.

struct Step {
    // Image row; -1 for `vertical_row` means "before row 0": row terms from zero inputs.
    row: i32,
    col: u32,
    channel: u32,
    // Index of this value's noise (and debug logits) in the current step's batch of values.
    slot: u32,
    // 1: write the logits of each value to `debug`; 2: `horizontal_row` scores the row.
    flags: u32,
    temperature: f32,
    // Number of layers `horizontal_row` runs through.
    layers: u32,
    batch: u32,
}

@group(0) @binding(0) var<uniform> op: Step;
@group(0) @binding(1) var<storage, read> weights: array<f32>;
// Per batch item, ITEM floats: caches, row terms, scratch, condition biases.
@group(0) @binding(2) var<storage, read_write> work: array<f32>;
// Level indices [B, C, H, W].
@group(0) @binding(3) var<storage, read_write> canvas: array<f32>;
// scored [H, W] (1.0 = scored), known [B, H, W] (1.0 = kept), then the step's noise
// [values in the step, B, LEVELS].
@group(0) @binding(4) var<storage, read> inputs: array<f32>;
// The same weights seen four outputs at a time (every matrix starts at a multiple of 4 and
// has a multiple of 4 outputs): one load feeds four multiply-adds.
@group(0) @binding(7) var<storage, read> weights4: array<vec4<f32>>;
// Logits [values in the step, B, LEVELS] when flags & 1.
@group(0) @binding(5) var<storage, read_write> debug: array<f32>;
// Per item: Σ log p of the values scored so far.
@group(0) @binding(6) var<storage, read_write> scores: array<f32>;

var<workgroup> pre: array<f32, D>;
var<workgroup> gated: array<f32, N>;
var<workgroup> last_out: array<f32, N>;
var<workgroup> head_hidden: array<f32, HEAD>;
var<workgroup> logits: array<f32, LEVELS>;
var<workgroup> partial: array<f32, WG>;
// One layer's input row, zero-padded: [columns, inputs] with `half` columns of padding on the
// left (and, for the vertical stack, on the right). Every output column's window is then one
// contiguous span of it, in the weights' (column, channel) order.
var<workgroup> row_in: array<f32, ROW_IN>;

fn sigmoid(x: f32) -> f32 {
    return 1.0 / (1.0 + exp(-clamp(x, -80.0, 80.0)));
}

// tanh(a)·σ(b), with tanh(a) = 2σ(2a) − 1 as the model computes it.
fn gate(a: f32, b: f32) -> f32 {
    return (2.0 * sigmoid(2.0 * a) - 1.0) * sigmoid(b);
}

fn layer_inputs(l: u32) -> u32 {
    return select(N, CHANNELS, l == 0u);
}

fn layer_half(l: u32) -> i32 {
    return select(i32(HALF), i32(HALF0), l == 0u);
}

fn layer_kernel(l: u32) -> u32 {
    return select(KERNEL, KERNEL0, l == 0u);
}

fn barrier() {
    storageBarrier();
    workgroupBarrier();
}

// Offsets inside one item's block of `work`.
fn ring_at(b: u32, l: u32, row: i32, col: u32, c: u32) -> u32 {
    let slot = u32(row) % (HALF + 1u);
    return b * ITEM + RING + (((l - 1u) * (HALF + 1u) + slot) * WIDTH + col) * N + c;
}

fn row_term_at(b: u32, l: u32, col: u32, o: u32) -> u32 {
    return b * ITEM + ROW_TERMS + (l * WIDTH + col) * D + o;
}

fn hcache_at(b: u32, l: u32, col: u32, c: u32) -> u32 {
    return b * ITEM + HCACHE + ((l - 1u) * WIDTH + col) * N + c;
}

fn scratch_at(b: u32, i: u32) -> u32 {
    return b * ITEM + SCRATCH + i;
}

fn scratch2_at(b: u32, i: u32) -> u32 {
    return b * ITEM + SCRATCH2 + i;
}

fn condition(b: u32, l: u32, o: u32) -> f32 {
    return work[b * ITEM + CONDITION + l * D + o];
}

fn canvas_at(b: u32, c: u32, row: u32, col: u32) -> u32 {
    return ((b * CHANNELS + c) * HEIGHT + row) * WIDTH + col;
}

fn normalized(level: f32) -> f32 {
    return level * NORMALIZE_SCALE - 1.0;
}

// Layer l's vertical input at image (row, col), zero outside the image.
fn vertical_input(b: u32, l: u32, row: i32, col: i32, c: u32) -> f32 {
    if (row < 0 || col < 0 || col >= i32(WIDTH)) {
        return 0.0;
    }
    if (l == 0u) {
        return normalized(canvas[canvas_at(b, c, u32(row), u32(col))]);
    }
    return work[ring_at(b, l, row, u32(col), c)];
}

// Layer l's horizontal input at column col of the current row, zero left of the image.
fn horizontal_input(b: u32, l: u32, row: u32, col: i32, c: u32) -> f32 {
    if (col < 0) {
        return 0.0;
    }
    if (l == 0u) {
        return normalized(canvas[canvas_at(b, c, row, u32(col))]);
    }
    return work[hcache_at(b, l, u32(col), c)];
}

// Stages layer l's vertical input of image row `row` into `row_in` (columns −half..W+half).
fn stage_vertical(b: u32, l: u32, row: i32, t: u32) {
    let c_in = layer_inputs(l);
    let half = layer_half(l);
    let n = (WIDTH + 2u * u32(half)) * c_in;
    for (var i = t; i < n; i += WG) {
        row_in[i] = vertical_input(b, l, row, i32(i / c_in) - half, i % c_in);
    }
}

// Stages layer l's horizontal input of the current row into `row_in` (columns −half..W−1).
fn stage_horizontal(b: u32, l: u32, row: u32, t: u32) {
    let c_in = layer_inputs(l);
    let half = layer_half(l);
    let n = (WIDTH + u32(half)) * c_in;
    for (var i = t; i < n; i += WG) {
        row_in[i] = horizontal_input(b, l, row, i32(i / c_in) - half, i % c_in);
    }
}

// Accumulator arrays are zeroed by an explicit initializer, never by a bare `var` declaration:
// WGSL zeroes a bare one each time the declaration runs, but Chrome on SwiftShader keeps a
// bare array declared in a loop from one iteration to the next (every layer after the first
// then starts from the previous layer's sums), while naga zeroes it as the spec says.

// For every column col of the row and outputs 4q..4q+3, Σ_j row_in[col·stride + j] ·
// weights[base4·4 + j·D + 4q..] over j < len: one accumulator per column, so each weight is
// loaded once per row.
fn row_dots(stride: u32, len: u32, base4: u32, q: u32) -> array<vec4<f32>, WIDTH> {
    var acc = array<vec4<f32>, WIDTH>();
    for (var j = 0u; j < len; j++) {
        let w = weights4[base4 + j * D4 + q];
        for (var col = 0u; col < WIDTH; col++) {
            acc[col] += row_in[col * stride + j] * w;
        }
    }
    return acc;
}

// The four consecutive floats of `work` from `at`.
fn work4(at: u32) -> vec4<f32> {
    return vec4<f32>(work[at], work[at + 1u], work[at + 2u], work[at + 3u]);
}

@compute @workgroup_size(WG)
fn vertical_row(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let b = group.x;
    let r = op.row;
    for (var l = 0u; l < LAYERS; l++) {
        let c_in = layer_inputs(l);
        let half = layer_half(l);
        let k = layer_kernel(l);
        if (r >= 0) {
            // Each thread owns outputs 4q..4q+3 of every column, here and in the sums below:
            // `work` is storage memory, which the workgroup barriers between do not order.
            for (var q = t; q < D4; q += WG) {
                for (var col = 0u; col < WIDTH; col++) {
                    for (var e = 0u; e < 4u; e++) {
                        let o = 4u * q + e;
                        work[scratch_at(b, col * D + o)] = weights[VERTICAL_BIAS[l] + o];
                    }
                }
            }
            for (var dy = 0; dy <= half; dy++) {
                let rr = r - half + dy;
                if (rr < 0) {
                    continue;
                }
                stage_vertical(b, l, rr, t);
                workgroupBarrier();
                let base4 = (VERTICAL[l] + u32(dy) * k * c_in * D) / 4u;
                for (var q = t; q < D4; q += WG) {
                    let acc = row_dots(c_in, k * c_in, base4, q);
                    for (var col = 0u; col < WIDTH; col++) {
                        for (var e = 0u; e < 4u; e++) {
                            work[scratch_at(b, col * D + 4u * q + e)] += acc[col][e];
                        }
                    }
                }
                workgroupBarrier();
            }
            barrier();
        }
        // The row terms: every column's v_pre times the link, one weight load per row.
        for (var q = t; q < D4; q += WG) {
            var acc = array<vec4<f32>, WIDTH>();
            if (r >= 0) {
                for (var j = 0u; j < D; j++) {
                    let w = weights4[LINK[l] / 4u + j * D4 + q];
                    for (var col = 0u; col < WIDTH; col++) {
                        acc[col] += work[scratch_at(b, col * D + j)] * w;
                    }
                }
            }
            for (var e = 0u; e < 4u; e++) {
                let o = 4u * q + e;
                let bias = weights[LINK_BIAS[l] + o] + weights[HORIZONTAL_BIAS[l] + o] + condition(b, l, o);
                for (var col = 0u; col < WIDTH; col++) {
                    work[row_term_at(b, l, col, o)] = acc[col][e] + bias;
                }
            }
        }
        if (r >= 0 && l + 1u < LAYERS) {
            for (var i = t; i < WIDTH * N; i += WG) {
                let col = i / N;
                let j = i % N;
                let a = work[scratch_at(b, col * D + j)] + condition(b, l, j);
                let g = work[scratch_at(b, col * D + N + j)] + condition(b, l, N + j);
                work[ring_at(b, l + 1u, r, col, j)] = gate(a, g);
            }
        }
        barrier();
    }
}

@compute @workgroup_size(WG)
fn horizontal_row(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let b = group.x;
    let row = u32(op.row);
    for (var l = 0u; l < op.layers; l++) {
        let c_in = layer_inputs(l);
        let taps = u32(layer_half(l)) + 1u;
        stage_horizontal(b, l, row, t);
        workgroupBarrier();
        for (var q = t; q < D4; q += WG) {
            let acc = row_dots(c_in, taps * c_in, HORIZONTAL[l] / 4u, q);
            for (var col = 0u; col < WIDTH; col++) {
                for (var e = 0u; e < 4u; e++) {
                    let o = 4u * q + e;
                    work[scratch_at(b, col * D + o)] = work[row_term_at(b, l, col, o)] + acc[col][e];
                }
            }
        }
        barrier();
        for (var i = t; i < WIDTH * N; i += WG) {
            let col = i / N;
            let j = i % N;
            let a = work[scratch_at(b, col * D + j)];
            let g = work[scratch_at(b, col * D + N + j)];
            work[scratch2_at(b, i)] = gate(a, g);
        }
        barrier();
        for (var q = t; q < N4; q += WG) {
            var acc = array<vec4<f32>, WIDTH>();
            for (var j = 0u; j < N; j++) {
                let w = weights4[OUTPUT[l] / 4u + j * N4 + q];
                for (var col = 0u; col < WIDTH; col++) {
                    acc[col] += work[scratch2_at(b, col * N + j)] * w;
                }
            }
            for (var e = 0u; e < 4u; e++) {
                let o = 4u * q + e;
                for (var col = 0u; col < WIDTH; col++) {
                    var out = acc[col][e] + weights[OUTPUT_BIAS[l] + o];
                    if (l > 0u) {
                        out += row_in[(col + taps - 1u) * c_in + o];
                    }
                    if (l + 1u < LAYERS) {
                        work[hcache_at(b, l + 1u, col, o)] = out;
                    } else {
                        // The last layer's output feeds only the head: keep it where the gates were.
                        work[scratch_at(b, col * N + o)] = out;
                    }
                }
            }
        }
        barrier();
    }
    if ((op.flags & 2u) != 0u) {
        score_row(b, row, t);
    }
}

// The head over the last layer's row output (in scratch), and the sum of log p of the known
// values at the row's scored positions, added to the item's score.
fn score_row(b: u32, row: u32, t: u32) {
    for (var i = t; i < WIDTH * HEAD; i += WG) {
        let col = i / HEAD;
        let u = i % HEAD;
        var acc = weights[HEAD_HIDDEN_BIAS + u];
        for (var j = 0u; j < N; j++) {
            acc += max(work[scratch_at(b, col * N + j)], 0.0) * weights[HEAD_HIDDEN + j * HEAD + u];
        }
        work[scratch2_at(b, i)] = max(acc, 0.0);
    }
    barrier();
    var sum = 0.0;
    for (var i = t; i < WIDTH * CHANNELS; i += WG) {
        let col = i / CHANNELS;
        let c = i % CHANNELS;
        if (inputs[row * WIDTH + col] == 0.0) {
            continue;
        }
        let wanted = u32(canvas[canvas_at(b, c, row, col)]);
        var top = -3.0e38;
        var chosen = 0.0;
        for (var k = 0u; k < LEVELS; k++) {
            let z = head_logit(b, col, c * LEVELS + k);
            top = max(top, z);
            if (k == wanted) {
                chosen = z;
            }
        }
        var total = 0.0;
        for (var k = 0u; k < LEVELS; k++) {
            total += exp(head_logit(b, col, c * LEVELS + k) - top);
        }
        sum += chosen - top - log(total);
    }
    partial[t] = sum;
    workgroupBarrier();
    if (t == 0u) {
        var row_sum = 0.0;
        for (var i = 0u; i < WG; i++) {
            row_sum += partial[i];
        }
        scores[b] += row_sum;
    }
    barrier();
}

// Logit `out` (channel-major c·LEVELS + k) at column col from the head's hidden units in
// scratch2.
fn head_logit(b: u32, col: u32, out: u32) -> f32 {
    var acc = weights[HEAD_OUT_BIAS + out];
    for (var u = 0u; u < HEAD; u++) {
        acc += work[scratch2_at(b, col * HEAD + u)] * weights[HEAD_OUT + u * CHANNELS * LEVELS + out];
    }
    return acc;
}

@compute @workgroup_size(WG)
fn value(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let b = group.x;
    let row = u32(op.row);
    let col = op.col;
    let ch = op.channel;
    for (var l = 0u; l < LAYERS; l++) {
        let c_in = layer_inputs(l);
        let half = layer_half(l);
        let taps = u32(half) + 1u;
        for (var i = t; i < taps * c_in; i += WG) {
            row_in[i] = horizontal_input(b, l, row, i32(col) - half + i32(i / c_in), i % c_in);
        }
        workgroupBarrier();
        for (var q = t; q < D4; q += WG) {
            var acc = work4(row_term_at(b, l, col, 4u * q));
            let base4 = HORIZONTAL[l] / 4u + q;
            for (var j = 0u; j < taps * c_in; j++) {
                acc += row_in[j] * weights4[base4 + j * D4];
            }
            for (var e = 0u; e < 4u; e++) {
                pre[4u * q + e] = acc[e];
            }
        }
        workgroupBarrier();
        for (var j = t; j < N; j += WG) {
            gated[j] = gate(pre[j], pre[N + j]);
        }
        workgroupBarrier();
        for (var q = t; q < N4; q += WG) {
            var acc = weights4[OUTPUT_BIAS[l] / 4u + q];
            let base4 = OUTPUT[l] / 4u + q;
            for (var j = 0u; j < N; j++) {
                acc += gated[j] * weights4[base4 + j * N4];
            }
            if (l > 0u) {
                acc += vec4<f32>(row_in[u32(half) * c_in + 4u * q], row_in[u32(half) * c_in + 4u * q + 1u],
                    row_in[u32(half) * c_in + 4u * q + 2u], row_in[u32(half) * c_in + 4u * q + 3u]);
            }
            for (var e = 0u; e < 4u; e++) {
                let o = 4u * q + e;
                if (l + 1u < LAYERS) {
                    work[hcache_at(b, l + 1u, col, o)] = acc[e];
                } else {
                    last_out[o] = acc[e];
                }
            }
        }
        barrier();
    }
    for (var u = t; u < HEAD; u += WG) {
        var acc = weights[HEAD_HIDDEN_BIAS + u];
        for (var j = 0u; j < N; j++) {
            acc += max(last_out[j], 0.0) * weights[HEAD_HIDDEN + j * HEAD + u];
        }
        head_hidden[u] = max(acc, 0.0);
    }
    workgroupBarrier();
    for (var k = t; k < LEVELS; k += WG) {
        let out = ch * LEVELS + k;
        var acc = weights[HEAD_OUT_BIAS + out];
        for (var u = 0u; u < HEAD; u++) {
            acc += head_hidden[u] * weights[HEAD_OUT + u * CHANNELS * LEVELS + out];
        }
        logits[k] = acc;
        if ((op.flags & 1u) != 0u) {
            debug[(op.slot * op.batch + b) * LEVELS + k] = acc;
        }
    }
    workgroupBarrier();
    if (t == 0u) {
        let noise = (1u + op.batch) * HEIGHT * WIDTH + (op.slot * op.batch + b) * LEVELS;
        var best = 0u;
        var best_score = -3.0e38;
        for (var k = 0u; k < LEVELS; k++) {
            var s = logits[k];
            if (op.temperature > 0.0) {
                s = s / op.temperature + inputs[noise + k];
            }
            if (s > best_score) {
                best_score = s;
                best = k;
            }
        }
        if (inputs[((1u + b) * HEIGHT + row) * WIDTH + col] == 0.0) {
            canvas[canvas_at(b, ch, row, col)] = f32(best);
        }
    }
}
