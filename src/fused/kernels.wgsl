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

// The row kernels' products run over tiles of four columns × four outputs, each tile's sums in
// four vec4 registers: one weight load feeds sixteen multiply-adds, and no accumulator is an
// indexed array (which SwiftShader keeps in memory). Columns past the row's end repeat its last
// column; their sums are never stored.
const COL_TILES: u32 = (WIDTH + 3u) / 4u;

struct Tile {
    // The tile's first column and its output quad (outputs 4q..4q+3).
    col: u32,
    q: u32,
}

// Tile `i` of a row with `quads` output quads.
fn tile_of(i: u32, quads: u32) -> Tile {
    return Tile(4u * (i / quads), i % quads);
}

fn tile_col(tile: Tile, k: u32) -> u32 {
    return min(tile.col + k, WIDTH - 1u);
}

// Four consecutive inputs of `row_in` from `at`.
fn staged4(at: u32) -> vec4<f32> {
    return vec4<f32>(row_in[at], row_in[at + 1u], row_in[at + 2u], row_in[at + 3u]);
}

// Weight rows j..j+3 of outputs 4q..4q+3 as a matrix whose column i is row j + i: the matrix
// times four inputs is their four rows' contribution. Four inputs per loop iteration keep the
// accumulators' loads and stores (SwiftShader holds loop variables in memory) to a quarter.
fn weight_rows(base4: u32, j: u32, quads: u32, q: u32) -> mat4x4<f32> {
    let at = base4 + j * quads + q;
    return mat4x4<f32>(weights4[at], weights4[at + quads], weights4[at + 2u * quads], weights4[at + 3u * quads]);
}

// For the tile's four columns col and outputs 4q..4q+3: Σ_j row_in[col·stride + j] ·
// weights4[base4 + j·quads + q] over j < len.
fn staged_dots(tile: Tile, stride: u32, len: u32, base4: u32, quads: u32) -> mat4x4<f32> {
    return staged_dots_from(tile, 0u, stride, len, base4, quads);
}

// The same with `row_in` holding the columns from `first` on (a tile never starts before it).
fn staged_dots_from(tile: Tile, first: u32, stride: u32, len: u32, base4: u32, quads: u32) -> mat4x4<f32> {
    let s0 = (tile_col(tile, 0u) - first) * stride;
    let s1 = (tile_col(tile, 1u) - first) * stride;
    let s2 = (tile_col(tile, 2u) - first) * stride;
    let s3 = (tile_col(tile, 3u) - first) * stride;
    var a0 = vec4<f32>();
    var a1 = vec4<f32>();
    var a2 = vec4<f32>();
    var a3 = vec4<f32>();
    var j = 0u;
    for (; j + 4u <= len; j += 4u) {
        let w = weight_rows(base4, j, quads, tile.q);
        a0 += w * staged4(s0 + j);
        a1 += w * staged4(s1 + j);
        a2 += w * staged4(s2 + j);
        a3 += w * staged4(s3 + j);
    }
    for (; j < len; j++) {
        let w = weights4[base4 + j * quads + tile.q];
        a0 += row_in[s0 + j] * w;
        a1 += row_in[s1 + j] * w;
        a2 += row_in[s2 + j] * w;
        a3 += row_in[s3 + j] * w;
    }
    return mat4x4<f32>(a0, a1, a2, a3);
}

// The same with the inputs in `work`: column col's j-th input at start + col·stride + j, and
// len a multiple of 4 (the model's hidden sizes are).
fn work_dots(tile: Tile, start: u32, stride: u32, len: u32, base4: u32, quads: u32) -> mat4x4<f32> {
    let s0 = start + tile_col(tile, 0u) * stride;
    let s1 = start + tile_col(tile, 1u) * stride;
    let s2 = start + tile_col(tile, 2u) * stride;
    let s3 = start + tile_col(tile, 3u) * stride;
    var a0 = vec4<f32>();
    var a1 = vec4<f32>();
    var a2 = vec4<f32>();
    var a3 = vec4<f32>();
    for (var j = 0u; j < len; j += 4u) {
        let w = weight_rows(base4, j, quads, tile.q);
        a0 += w * work4(s0 + j);
        a1 += w * work4(s1 + j);
        a2 += w * work4(s2 + j);
        a3 += w * work4(s3 + j);
    }
    return mat4x4<f32>(a0, a1, a2, a3);
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
            // Each thread owns the same tiles here and in the sums below: `work` is storage
            // memory, which the workgroup barriers between do not order.
            for (var i = t; i < COL_TILES * D4; i += WG) {
                let tile = tile_of(i, D4);
                let bias = weights4[VERTICAL_BIAS[l] / 4u + tile.q];
                for (var e = 0u; e < 4u; e++) {
                    store_tile_column(scratch_at(b, 0u), D, tile, e, bias);
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
                for (var i = t; i < COL_TILES * D4; i += WG) {
                    let tile = tile_of(i, D4);
                    let acc = staged_dots(tile, c_in, k * c_in, base4, D4);
                    for (var e = 0u; e < 4u; e++) {
                        let at = scratch_at(b, 0u);
                        store_tile_column(at, D, tile, e, acc[e] + tile_column(at, D, tile, e));
                    }
                }
                workgroupBarrier();
            }
            barrier();
        }
        // The row terms: every column's v_pre times the link, with v_pre staged in `row_in`
        // LINK_COLS columns at a time (storage loads are what SwiftShader is slowest at).
        for (var first = 0u; first < WIDTH; first += LINK_COLS) {
            if (r >= 0) {
                workgroupBarrier();
                let n = min(LINK_COLS, WIDTH - first) * D;
                for (var i = t; i < n; i += WG) {
                    row_in[i] = work[scratch_at(b, first * D + i)];
                }
                workgroupBarrier();
            }
            for (var i = t; i < (LINK_COLS / 4u) * D4; i += WG) {
                var tile = tile_of(i, D4);
                tile.col += first;
                if (tile.col >= WIDTH) {
                    continue;
                }
                var acc = mat4x4<f32>();
                if (r >= 0) {
                    acc = staged_dots_from(tile, first, D, D, LINK[l] / 4u, D4);
                }
                let o = 4u * tile.q;
                let bias = weights4[LINK_BIAS[l] / 4u + tile.q] + weights4[HORIZONTAL_BIAS[l] / 4u + tile.q]
                    + work4(b * ITEM + CONDITION + l * D + o);
                for (var e = 0u; e < 4u; e++) {
                    store_tile_column(row_term_at(b, l, 0u, 0u), D, tile, e, acc[e] + bias);
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

// Column tile.col + e of a tile in a [columns, width] block of `work` starting at `at`:
// outputs 4q..4q+3 (nothing past the row's end is stored; what is read there is never used).
fn store_tile_column(at: u32, width: u32, tile: Tile, e: u32, value: vec4<f32>) {
    let col = tile.col + e;
    if (col >= WIDTH) {
        return;
    }
    let i = at + col * width + 4u * tile.q;
    work[i] = value.x;
    work[i + 1u] = value.y;
    work[i + 2u] = value.z;
    work[i + 3u] = value.w;
}

fn tile_column(at: u32, width: u32, tile: Tile, e: u32) -> vec4<f32> {
    if (tile.col + e >= WIDTH) {
        return vec4<f32>();
    }
    return work4(at + (tile.col + e) * width + 4u * tile.q);
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
        for (var i = t; i < COL_TILES * D4; i += WG) {
            let tile = tile_of(i, D4);
            let acc = staged_dots(tile, c_in, taps * c_in, HORIZONTAL[l] / 4u, D4);
            for (var e = 0u; e < 4u; e++) {
                let terms = tile_column(row_term_at(b, l, 0u, 0u), D, tile, e);
                store_tile_column(scratch_at(b, 0u), D, tile, e, terms + acc[e]);
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
        for (var i = t; i < COL_TILES * N4; i += WG) {
            let tile = tile_of(i, N4);
            let acc = work_dots(tile, scratch2_at(b, 0u), N, N, OUTPUT[l] / 4u, N4);
            let bias = weights4[OUTPUT_BIAS[l] / 4u + tile.q];
            for (var e = 0u; e < 4u; e++) {
                let col = tile_col(tile, e);
                var out = acc[e] + bias;
                if (l > 0u) {
                    let at = (col + taps - 1u) * c_in + 4u * tile.q;
                    out += vec4<f32>(row_in[at], row_in[at + 1u], row_in[at + 2u], row_in[at + 3u]);
                }
                if (l + 1u < LAYERS) {
                    store_tile_column(hcache_at(b, l + 1u, 0u, 0u), N, tile, e, out);
                } else {
                    // The last layer's output feeds only the head: keep it where the gates were.
                    store_tile_column(scratch_at(b, 0u), N, tile, e, out);
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
            let len = taps * c_in;
            var j = 0u;
            for (; j + 4u <= len; j += 4u) {
                acc += weight_rows(HORIZONTAL[l] / 4u, j, D4, q) * staged4(j);
            }
            for (; j < len; j++) {
                acc += row_in[j] * weights4[HORIZONTAL[l] / 4u + j * D4 + q];
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
            for (var j = 0u; j < N; j += 4u) {
                let x = vec4<f32>(gated[j], gated[j + 1u], gated[j + 2u], gated[j + 3u]);
                acc += weight_rows(OUTPUT[l] / 4u, j, N4, q) * x;
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
    for (var q = t; q < HEAD / 4u; q += WG) {
        var acc = weights4[HEAD_HIDDEN_BIAS / 4u + q];
        for (var j = 0u; j < N; j += 4u) {
            let x = vec4<f32>(last_out[j], last_out[j + 1u], last_out[j + 2u], last_out[j + 3u]);
            acc += weight_rows(HEAD_HIDDEN / 4u, j, HEAD / 4u, q) * max(x, vec4<f32>());
        }
        acc = max(acc, vec4<f32>());
        for (var e = 0u; e < 4u; e++) {
            head_hidden[4u * q + e] = acc[e];
        }
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
