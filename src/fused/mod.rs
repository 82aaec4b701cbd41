//! The cached sampler fused into WebGPU kernels: one dispatch per generated value.
//!
//! Through burn's ops the cached step costs ~90 GPU dispatches per value, and on a GPU every
//! dispatch costs tens of microseconds of API overhead before any work, far more than the work
//! of one value. Here each value is one `value` dispatch (every layer's horizontal stack at the
//! pixel, the head and the draw), each row one `vertical_row` dispatch, and the rows entered
//! after known pixels or scored for importance resampling one `horizontal_row` dispatch; a
//! whole step of many values is recorded into one command buffer and submitted once.
//!
//! The kernels ([`pack::shader_source`]) are a second copy of the model's maths; the
//! equivalence tests (tests/fused.rs) hold them to the CPU engine's cached sampler: the same
//! pixels for the same seed, logits within 1e-4, the same scores. The noise is the samplers'
//! own ([`crate::sample::gumbel_noise`]), computed here and uploaded with each step, so the
//! draws match exactly.

pub mod pack;
pub mod schedule;

use burn::tensor::{Tensor, TensorData};

use crate::config::PixelCnnConfig;
use crate::model::{Condition, PixelCnn};
use crate::sample::{SampleError, SampleRequest, gumbel_noise};
use pack::{PackedWeights, WorkLayout, condition_biases, shader_source};
use schedule::{Op, Schedule};

/// Why the fused engine could not run.
#[derive(Debug, thiserror::Error)]
pub enum FusedError {
    #[error("no WebGPU adapter: {0}")]
    Adapter(String),
    #[error("the WebGPU device could not be created: {0}")]
    Device(String),
    #[error("reading results back from the GPU failed: {0}")]
    Readback(String),
    #[error("this model is too large for the fused kernels on this device: {0}")]
    Unsupported(String),
    #[error(transparent)]
    Sample(#[from] SampleError),
}

/// Bytes between two operations' parameters (WebGPU's uniform offset alignment).
const OP_STRIDE: u64 = 256;
/// Operations recorded into one command buffer at most.
const OPS_PER_SUBMIT: usize = 1024;
/// Noise floats uploaded for one submit at most (16 MB).
const NOISE_PER_SUBMIT: usize = 1 << 22;

/// A device and queue for the kernels.
#[derive(Clone)]
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    /// The adapter's name, for benchmarks and the page.
    pub adapter: String,
    /// Threads per workgroup of the kernels on this adapter.
    pub threads: usize,
}

impl Gpu {
    /// The default adapter (high performance) with the default limits.
    pub async fn new() -> Result<Self, FusedError> {
        // WebGPU in a browser; Vulkan, Metal or DX12 natively (not GL: compute shaders there
        // are a downlevel path the kernels are not written for).
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: wgpu::Backends::PRIMARY | wgpu::Backends::BROWSER_WEBGPU,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| FusedError::Adapter(e.to_string()))?;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("pixelcnn fused"),
                // Everything the adapter offers: the kernels need 6 storage buffers per stage,
                // more than WebGPU's downlevel minimum.
                required_limits: adapter.limits(),
                ..Default::default()
            })
            .await
            .map_err(|e| FusedError::Device(e.to_string()))?;
        let info = adapter.get_info();
        Ok(Self {
            device,
            queue,
            adapter: info.name,
            threads: pack::workgroup_threads(info.device_type),
        })
    }
}

/// A model's weights on the GPU and its kernels, shared by every completion (a cheap handle).
#[derive(Clone)]
pub struct FusedModel {
    gpu: Gpu,
    model: PixelCnn,
    layout: wgpu::BindGroupLayout,
    vertical: wgpu::ComputePipeline,
    horizontal: wgpu::ComputePipeline,
    value: wgpu::ComputePipeline,
    weights: wgpu::Buffer,
}

fn storage_entry(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

fn bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

impl FusedModel {
    /// Packs `model`'s weights (read from its device) and compiles the kernels for it; fails
    /// when its layers need more workgroup memory than the device has.
    pub fn new(gpu: &Gpu, model: &PixelCnn) -> Result<Self, FusedError> {
        let device = &gpu.device;
        let (hidden, head) = (model.config.hidden, model.config.head);
        if !hidden.is_multiple_of(4) || !head.is_multiple_of(4) {
            return Err(FusedError::Unsupported(format!(
                "hidden {hidden} and head {head} must be multiples of 4"
            )));
        }
        let needed = pack::workgroup_bytes(&model.config, gpu.threads);
        let available = device.limits().max_compute_workgroup_storage_size as usize;
        if needed > available {
            return Err(FusedError::Unsupported(format!(
                "{needed} bytes of workgroup memory, the device has {available}"
            )));
        }
        let packed = PackedWeights::new(model);
        let source = shader_source(&model.config, &packed, gpu.threads);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("pixelcnn kernels"),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let mut entries = vec![wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: true,
                min_binding_size: None,
            },
            count: None,
        }];
        entries.extend(
            [
                (1, true),
                (2, false),
                (3, false),
                (4, true),
                (5, false),
                (6, false),
                (7, true),
            ]
            .map(|(binding, read_only)| storage_entry(binding, read_only)),
        );
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("pixelcnn kernels"),
            entries: &entries,
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("pixelcnn kernels"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = |entry: &str| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: Some(&pipeline_layout),
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        let weights = buffer_with(
            gpu,
            "weights",
            &bytes(&packed.data),
            wgpu::BufferUsages::STORAGE,
        );
        Ok(Self {
            vertical: pipeline("vertical_row"),
            horizontal: pipeline("horizontal_row"),
            value: pipeline("value"),
            gpu: gpu.clone(),
            model: model.clone(),
            layout,
            weights,
        })
    }

    pub fn config(&self) -> &PixelCnnConfig {
        &self.model.config
    }
}

fn buffer_with(gpu: &Gpu, label: &str, contents: &[u8], usage: wgpu::BufferUsages) -> wgpu::Buffer {
    let buffer = empty_buffer(gpu, label, contents.len() as u64, usage);
    gpu.queue.write_buffer(&buffer, 0, contents);
    buffer
}

fn empty_buffer(gpu: &Gpu, label: &str, size: u64, usage: wgpu::BufferUsages) -> wgpu::Buffer {
    gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        // Storage bindings must be a multiple of 4 bytes and not empty.
        size: size.max(4).next_multiple_of(4),
        usage: usage | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    })
}

/// A completion on the GPU: [`crate::cached::CachedSampler`]'s walk, one kernel per step of it.
pub struct FusedSampler {
    model: FusedModel,
    request: SampleRequest,
    schedule: Schedule,
    /// Operations of a pixel the last step could not fit, first in the next.
    pending: Vec<Op>,
    canvas: wgpu::Buffer,
    inputs: wgpu::Buffer,
    debug: wgpu::Buffer,
    scores: wgpu::Buffer,
    ops: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    scoring: bool,
    /// Write every value's logits to `debug` (tests).
    keep_logits: bool,
    dispatches: usize,
}

/// What a completion computes besides its pixels.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras<'a> {
    /// Positions ([H, W] row-major, known in every item) whose values' log p are summed per
    /// item, like [`crate::cached::CachedSampler::scoring`].
    pub scored: Option<&'a [bool]>,
    /// Keep the logits of every value of the latest submit ([`FusedSampler::step_logits`]).
    pub logits: bool,
}

/// One operation's parameters, as the kernels' `Step` struct.
fn op_params(op: Op, slot: usize, temperature: f32, batch: usize, keep_logits: bool) -> [u32; 8] {
    let (row, col, channel, flags, layers) = match op {
        Op::Vertical(row) => (row.map_or(-1, |r| r as i32), 0, 0, 0, 0),
        Op::Horizontal { row, layers, score } => (row as i32, 0, 0, u32::from(score) * 2, layers),
        Op::Value { row, col, channel } => (row as i32, col, channel, u32::from(keep_logits), 0),
    };
    [
        row as u32,
        col as u32,
        channel as u32,
        slot as u32,
        flags,
        temperature.to_bits(),
        layers as u32,
        batch as u32,
    ]
}

/// The canvas a completion starts from: the known levels, 0 at hidden pixels.
fn initial_canvas(request: &SampleRequest, config: &PixelCnnConfig) -> Vec<f32> {
    let (h, w) = (config.height, config.width);
    request
        .levels
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let item = i / config.values_per_image();
            if request.known[item * h * w + i % (h * w)] {
                v
            } else {
                0.0
            }
        })
        .collect()
}

/// The work buffer a completion starts from: zeros, but each item's condition biases.
fn initial_work(model: &FusedModel, request: &SampleRequest) -> Vec<f32> {
    let config = model.config();
    let b = request.batch;
    let work = WorkLayout::new(config);
    let mut init = vec![0.0f32; b * work.item];
    let condition = condition_biases(&model.model, &condition_of(&model.model, request), b);
    let d_l = config.layers * 2 * config.hidden;
    for item in 0..b {
        let at = item * work.item + work.condition;
        init[at..at + d_l].copy_from_slice(&condition[item * d_l..(item + 1) * d_l]);
    }
    init
}

/// The kernels' bindings: 0 the operation (a 32-byte window of `ops`), 1 and 7 the weights,
/// 2..=6 `storage` (work, canvas, inputs, logits, scores).
fn completion_bind_group(
    model: &FusedModel,
    ops: &wgpu::Buffer,
    storage: [&wgpu::Buffer; 5],
) -> wgpu::BindGroup {
    let operation = wgpu::BindingResource::Buffer(wgpu::BufferBinding {
        buffer: ops,
        offset: 0,
        size: wgpu::BufferSize::new(32),
    });
    let whole = std::iter::once(&model.weights)
        .chain(storage)
        .chain(std::iter::once(&model.weights))
        .map(wgpu::Buffer::as_entire_binding);
    let entries: Vec<wgpu::BindGroupEntry<'_>> = std::iter::once(operation)
        .chain(whole)
        .enumerate()
        .map(|(binding, resource)| wgpu::BindGroupEntry {
            binding: binding as u32,
            resource,
        })
        .collect();
    model
        .gpu
        .device
        .create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("pixelcnn completion"),
            layout: &model.layout,
            entries: &entries,
        })
}

impl FusedSampler {
    /// A completion of `request`; see [`Extras`] for scores and logits.
    pub fn new(
        model: &FusedModel,
        request: SampleRequest,
        extras: Extras<'_>,
    ) -> Result<Self, FusedError> {
        let scored = extras.scored;
        let config = model.config();
        request.check(&model.model)?;
        let (b, h, w) = (request.batch, config.height, config.width);
        let gpu = &model.gpu;
        let score_mask = match scored {
            Some(s) => {
                request.check_scored(s, h, w)?;
                s.to_vec()
            }
            None => vec![false; h * w],
        };
        let score_rows = SampleRequest::scored_rows(&score_mask, w);
        let mut inputs: Vec<f32> = score_mask.iter().map(|&s| f32::from(u8::from(s))).collect();
        inputs.extend(request.known.iter().map(|&k| f32::from(u8::from(k))));
        let noise_values = noise_capacity(&request, config);
        let inputs_len = inputs.len() + noise_values * b * config.levels;
        let usage = wgpu::BufferUsages::STORAGE;
        let inputs_buffer = empty_buffer(gpu, "inputs", 4 * inputs_len as u64, usage);
        gpu.queue.write_buffer(&inputs_buffer, 0, &bytes(&inputs));
        let work = buffer_with(gpu, "work", &bytes(&initial_work(model, &request)), usage);
        let canvas = buffer_with(
            gpu,
            "canvas",
            &bytes(&initial_canvas(&request, config)),
            usage,
        );
        let debug_len = if extras.logits {
            noise_values * b * config.levels
        } else {
            1
        };
        let debug = empty_buffer(gpu, "logits", 4 * debug_len as u64, usage);
        let scores = buffer_with(gpu, "scores", &bytes(&vec![0.0; b]), usage);
        let ops = empty_buffer(
            gpu,
            "operations",
            OP_STRIDE * OPS_PER_SUBMIT as u64,
            wgpu::BufferUsages::UNIFORM,
        );
        let bind_group = completion_bind_group(
            model,
            &ops,
            [&work, &canvas, &inputs_buffer, &debug, &scores],
        );
        let todo = request.hidden_positions(h, w);
        Ok(Self {
            model: model.clone(),
            schedule: Schedule::new(w, config.channels, config.layers, todo, score_rows),
            request,
            pending: Vec::new(),
            canvas,
            inputs: inputs_buffer,
            debug,
            scores,
            ops,
            bind_group,
            scoring: scored.is_some(),
            keep_logits: extras.logits,
            dispatches: 0,
        })
    }

    /// (pixels generated, pixels to generate).
    pub fn progress(&self) -> (usize, usize) {
        self.schedule.progress()
    }

    pub fn is_done(&self) -> bool {
        self.pending.is_empty() && self.schedule.is_done()
    }

    /// Kernel launches so far.
    pub fn dispatches(&self) -> usize {
        self.dispatches
    }

    /// Records and submits up to `pixels` more pixels (all channels of each); returns how many
    /// were started. Nothing is read back.
    pub fn step(&mut self, pixels: usize) -> usize {
        let mut started = 0;
        while started < pixels && !self.is_done() {
            started += self.submit(pixels - started);
        }
        started
    }

    /// One command buffer: as many whole pixels as fit, up to `pixels`.
    fn submit(&mut self, pixels: usize) -> usize {
        let config = self.model.config();
        let (b, levels) = (self.request.batch, config.levels);
        let value_cap = noise_capacity(&self.request, config);
        let mut ops = std::mem::take(&mut self.pending);
        // A pixel left over from the last submit starts here.
        let mut started = usize::from(!ops.is_empty());
        while started < pixels {
            let next = self.schedule.next_pixel();
            if next.is_empty() {
                break;
            }
            let values = |ops: &[Op]| ops.iter().filter(|o| matches!(o, Op::Value { .. })).count();
            let fits = ops.len() + next.len() <= OPS_PER_SUBMIT
                && values(&ops) + values(&next) <= value_cap;
            if !fits && !ops.is_empty() {
                self.pending = next;
                break;
            }
            ops.extend(next);
            started += 1;
        }
        let mut params = Vec::with_capacity(ops.len() * OP_STRIDE as usize);
        let mut noise = Vec::new();
        let mut slot = 0;
        for &op in &ops {
            let words = op_params(op, slot, self.request.temperature, b, self.keep_logits);
            params.extend(words.iter().flat_map(|w| w.to_le_bytes()));
            params.resize(params.len().next_multiple_of(OP_STRIDE as usize), 0);
            if let Op::Value { row, col, channel } = op {
                if self.request.temperature > 0.0 {
                    let items = self.request.first_item..self.request.first_item + b;
                    let pixel = row * config.width + col;
                    noise.extend(gumbel_noise(
                        self.request.seed,
                        items,
                        channel,
                        pixel,
                        levels,
                    ));
                }
                slot += 1;
            }
        }
        let gpu = &self.model.gpu;
        gpu.queue.write_buffer(&self.ops, 0, &params);
        if !noise.is_empty() {
            let noise_at = 4 * (1 + b) * config.height * config.width;
            gpu.queue
                .write_buffer(&self.inputs, noise_at as u64, &bytes(&noise));
        }
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            for (i, &op) in ops.iter().enumerate() {
                let pipeline = match op {
                    Op::Vertical(_) => &self.model.vertical,
                    Op::Horizontal { .. } => &self.model.horizontal,
                    Op::Value { .. } => &self.model.value,
                };
                pass.set_pipeline(pipeline);
                pass.set_bind_group(0, &self.bind_group, &[(i as u64 * OP_STRIDE) as u32]);
                pass.dispatch_workgroups(b as u32, 1, 1);
            }
        }
        gpu.queue.submit([encoder.finish()]);
        self.dispatches += ops.len();
        started
    }

    /// The canvas, level indices [B, C, H, W], known pixels included. The future holds no
    /// borrow of the sampler: the sampler may be stepped or dropped while it waits.
    pub fn canvas(&self) -> impl Future<Output = Result<Vec<f32>, FusedError>> + use<> {
        read_floats(self.model.gpu.clone(), self.canvas.clone())
    }

    /// With scoring, once done: Σ log p over the scored positions per item, [B].
    pub fn scores(&self) -> impl Future<Output = Result<Option<Vec<f32>>, FusedError>> + use<> {
        let ready = self.scoring && self.is_done();
        let read = read_floats(self.model.gpu.clone(), self.scores.clone());
        async move {
            match ready {
                true => read.await.map(Some),
                false => Ok(None),
            }
        }
    }

    /// The logits [values, B, K] of the values of the latest submit, in order (tests step
    /// one pixel at a time and compare them with the CPU engine's).
    pub fn step_logits(&self) -> impl Future<Output = Result<Vec<f32>, FusedError>> + use<> {
        read_floats(self.model.gpu.clone(), self.debug.clone())
    }

    pub fn batch(&self) -> usize {
        self.request.batch
    }
}

/// The batch's condition (labels and order) on the model's device.
fn condition_of(model: &PixelCnn, request: &SampleRequest) -> Condition {
    let device = model.head_out.weight.val().device();
    let labels = request
        .labels
        .as_ref()
        .map(|l| Tensor::from_data(TensorData::new(l.clone(), [l.len()]), &device));
    Condition {
        labels,
        orders: Condition::one_order(&model.config, request.order, &device),
    }
}

/// Values whose noise one submit can carry.
fn noise_capacity(request: &SampleRequest, config: &PixelCnnConfig) -> usize {
    (NOISE_PER_SUBMIT / (request.batch * config.levels)).clamp(1, OPS_PER_SUBMIT)
}

/// Copies a storage buffer into a mappable one and reads it.
async fn read_floats(gpu: Gpu, buffer: wgpu::Buffer) -> Result<Vec<f32>, FusedError> {
    let size = buffer.size();
    let staging = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback"),
        size,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    encoder.copy_buffer_to_buffer(&buffer, 0, &staging, 0, size);
    gpu.queue.submit([encoder.finish()]);
    let (sender, receiver) = futures_channel::oneshot::channel();
    staging
        .slice(..)
        .map_async(wgpu::MapMode::Read, move |result| {
            let _ = sender.send(result);
        });
    #[cfg(not(target_family = "wasm"))]
    gpu.device
        .poll(wgpu::PollType::Wait {
            submission_index: None,
            timeout: None,
        })
        .map_err(|e| FusedError::Readback(e.to_string()))?;
    receiver
        .await
        .map_err(|e| FusedError::Readback(e.to_string()))?
        .map_err(|e| FusedError::Readback(e.to_string()))?;
    let view = staging
        .slice(..)
        .get_mapped_range()
        .map_err(|e| FusedError::Readback(e.to_string()))?;
    let values = view
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    drop(view);
    staging.unmap();
    Ok(values)
}
