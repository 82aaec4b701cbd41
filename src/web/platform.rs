//! The browser around the engine: fetching, URLs, clocks, errors for JavaScript, WebGPU
//! initialisation and device readbacks. Works in a page and in a Web Worker alike (the page
//! runs the engine in a worker, where there is no `window`).

use burn::tensor::Tensor;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// The global scope the module runs in.
enum Scope {
    Page(web_sys::Window),
    Worker(web_sys::WorkerGlobalScope),
}

fn scope() -> Result<Scope, String> {
    let global = js_sys::global();
    if let Some(window) = global.dyn_ref::<web_sys::Window>() {
        return Ok(Scope::Page(window.clone()));
    }
    global
        .dyn_into::<web_sys::WorkerGlobalScope>()
        .map(Scope::Worker)
        .map_err(|_| "the engine must run in a page or a Web Worker".to_string())
}

/// Milliseconds since the page (or worker) started, for timings.
pub(super) fn now_ms() -> f64 {
    let performance = match scope() {
        Ok(Scope::Page(w)) => w.performance(),
        Ok(Scope::Worker(w)) => w.performance(),
        Err(_) => None,
    };
    performance
        .map(|p| p.now())
        .unwrap_or_else(js_sys::Date::now)
}

pub(super) fn js_err(message: impl std::fmt::Display) -> JsError {
    JsError::new(&message.to_string())
}

/// A Rust value as a plain JS object (JSON-compatible: maps become objects).
pub(super) fn to_js<T: serde::Serialize>(value: &T) -> Result<JsValue, JsError> {
    value
        // JSON-like (None as null, maps as objects), but bytes as a Uint8Array.
        .serialize(
            &serde_wasm_bindgen::Serializer::json_compatible().serialize_bytes_as_arrays(false),
        )
        .map_err(js_err)
}

/// An optional options object from JS: the defaults when it is `undefined` or `null`.
pub(super) fn parse_options<T: Default + serde::de::DeserializeOwned>(
    options: JsValue,
    method: &str,
) -> Result<T, JsError> {
    if options.is_undefined() || options.is_null() {
        return Ok(T::default());
    }
    serde_wasm_bindgen::from_value(options)
        .map_err(|e| js_err(format!("{method}: bad options: {e}")))
}

/// Fetches a URL and returns the response, failing on HTTP errors with the status.
async fn fetch_ok(url: &str) -> Result<web_sys::Response, String> {
    let promise = match scope()? {
        Scope::Page(w) => w.fetch_with_str(url),
        Scope::Worker(w) => w.fetch_with_str(url),
    };
    let response = JsFuture::from(promise)
        .await
        .map_err(|e| format!("could not fetch {url}: {}", describe_js(&e)))?;
    let response: web_sys::Response = response
        .dyn_into()
        .map_err(|_| format!("fetch of {url} returned no Response"))?;
    if !response.ok() {
        return Err(format!(
            "could not fetch {url}: HTTP {} {}",
            response.status(),
            response.status_text()
        ));
    }
    Ok(response)
}

pub(super) async fn fetch_text(url: &str) -> Result<String, String> {
    let response = fetch_ok(url).await?;
    let text = response.text().map_err(|e| describe_js(&e))?;
    let text = JsFuture::from(text)
        .await
        .map_err(|e| format!("reading {url}: {}", describe_js(&e)))?;
    text.as_string().ok_or_else(|| format!("{url} is not text"))
}

pub(super) async fn fetch_bytes(url: &str) -> Result<Vec<u8>, String> {
    let response = fetch_ok(url).await?;
    let buffer = response.array_buffer().map_err(|e| describe_js(&e))?;
    let buffer = JsFuture::from(buffer)
        .await
        .map_err(|e| format!("reading {url}: {}", describe_js(&e)))?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// A JS exception as text (fetch rejects with a TypeError whose message is the useful part).
pub(super) fn describe_js(value: &JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| format!("{value:?}"))
}

/// Resolves `relative` against `base` the way the browser would; `base` itself may be
/// relative to the page (or to the worker's script).
pub(super) fn resolve_url(relative: &str, base: &str) -> Result<String, String> {
    let here = match scope()? {
        Scope::Page(w) => w.location().href().unwrap_or_default(),
        Scope::Worker(w) => w.location().href(),
    };
    let base = web_sys::Url::new_with_base(base, &here)
        .map_err(|e| format!("bad manifest URL {base}: {}", describe_js(&e)))?;
    web_sys::Url::new_with_base(relative, &base.href())
        .map(|u| u.href())
        .map_err(|e| format!("bad weights URL {relative}: {}", describe_js(&e)))
}

/// Whether `navigator.gpu` exists at all (Firefox without the flag, older Safari, http:).
#[cfg(feature = "webgpu")]
fn navigator_has_gpu() -> bool {
    let global = js_sys::global();
    let Ok(navigator) = js_sys::Reflect::get(&global, &JsValue::from_str("navigator")) else {
        return false;
    };
    js_sys::Reflect::get(&navigator, &JsValue::from_str("gpu"))
        .map(|gpu| !gpu.is_undefined() && !gpu.is_null())
        .unwrap_or(false)
}

#[cfg(feature = "webgpu")]
thread_local! {
    /// The WebGPU device, initialised at most once per page or worker: burn refuses a second
    /// `init_async` for the same selector, and several engines may share a page.
    static WEBGPU: std::cell::RefCell<Option<Result<burn::tensor::Device, String>>> =
        const { std::cell::RefCell::new(None) };
}

/// Initialises WebGPU once and returns the device, or why it is unavailable.
#[cfg(feature = "webgpu")]
pub(super) async fn webgpu_device() -> Result<burn::tensor::Device, String> {
    if let Some(cached) = WEBGPU.with(|cell| cell.borrow().clone()) {
        return cached;
    }
    let result = if navigator_has_gpu() {
        burn::tensor::Device::wgpu_options()
            .init_async()
            .await
            .map_err(|e| format!("WebGPU initialisation failed: {e}"))
    } else {
        Err("this browser has no WebGPU (navigator.gpu is missing)".to_string())
    };
    WEBGPU.with(|cell| *cell.borrow_mut() = Some(result.clone()));
    result
}

/// This build of the engine is the small CPU-only one: WebGPU lives in the other module.
#[cfg(not(feature = "webgpu"))]
pub(super) async fn webgpu_device() -> Result<burn::tensor::Device, String> {
    Err("this build of the engine is CPU-only (load the WebGPU build for WebGPU)".to_string())
}

/// Reads a float vector back (asynchronously).
pub(super) async fn read_floats(values: Tensor<1>) -> Result<Vec<f32>, String> {
    let data = values
        .into_data_async()
        .await
        .map_err(|e| format!("reading back from the device failed: {e}"))?;
    data.convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| format!("reading back from the device failed: {e:?}"))
}

/// Reads a canvas back (asynchronously: WebGPU forbids blocking reads) as u8 levels.
pub(super) async fn read_levels(canvas: Tensor<4>) -> Result<Vec<u8>, String> {
    let data = canvas
        .into_data_async()
        .await
        .map_err(|e| format!("reading the canvas back from the device failed: {e}"))?;
    Ok(data
        .iter::<f32>()
        .map(|v| v.round().clamp(0.0, 255.0) as u8)
        .collect())
}
