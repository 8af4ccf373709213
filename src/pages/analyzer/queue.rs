//! The processing queue: files and pasted texts wait here, are read and analyzed in
//! chunks with a yield to the event loop between chunks (so thousands of files keep
//! the page responsive), and land in the page's report list.

use std::collections::VecDeque;

use leptos::prelude::*;
use leptos::task::spawn_local;
use mailsync_core::Report;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::when;

/// Files read (as one Blob) and analyzed together.
const CHUNK: usize = 50;
/// The longest the queue keeps the main thread before yielding to the event loop
/// (input, progress bar, paint). Waiting for a chunk's read already yields; an
/// explicit yield (a `setTimeout(0)` promise) follows a chunk when this has passed.
const SLICE_MS: f64 = 12.0;
/// While a run is going, new results are shown at most this often (ms); the rest
/// wait for the end of the run so big runs are not re-rendered per chunk.
const COMMIT_EVERY_MS: f64 = 600.0;

/// Something to analyze.
pub enum Source {
    File { file: web_sys::File, name: String },
    Text { name: String, text: String },
}

impl Source {
    pub fn file(file: web_sys::File, name: Option<String>) -> Source {
        let name = name
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| file.name());
        Source::File { file, name }
    }
}

/// Progress of the current (or last) run, as the progress bar shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
    pub running: bool,
    /// Milliseconds from the user's drop/pick/paste to every result analyzed and
    /// the first page of cards on screen; set when a run ends.
    pub elapsed_ms: Option<f64>,
    /// Of that, milliseconds spent waiting for file contents and in `analyze`.
    pub read_ms: f64,
    pub analyze_ms: f64,
    /// From the last results handed to the page to the DOM updated.
    pub render_ms: f64,
    /// Then to the frame showing them (style, layout, paint).
    pub paint_ms: f64,
}

#[derive(Default)]
struct Pending {
    items: VecDeque<Source>,
    running: bool,
    /// `performance.now()` when the user handed in the first item of this run.
    started_at: f64,
}

/// The page's analysis state: cheap to copy into closures.
#[derive(Clone, Copy)]
pub struct Analyzer {
    /// Every report so far, in arrival order. Only ever appended to, or replaced
    /// by Clear; indexes into it stay valid until `generation` changes.
    pub reports: RwSignal<Vec<Report>>,
    /// Bumped by Clear: stops a running queue and re-keys the cards.
    pub generation: RwSignal<u64>,
    pub progress: RwSignal<Progress>,
    pending: StoredValue<Pending, LocalStorage>,
}

pub fn performance_now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or_else(js_sys::Date::now)
}

/// Resolves on the next macrotask: lets the browser handle input and paint.
pub async fn yield_to_browser() {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback(&resolve);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Resolves after the next animation frame has been produced (rAF, then a task).
async fn after_next_frame() {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        if let Some(w) = web_sys::window() {
            let _ = w.request_animation_frame(&resolve);
        }
    });
    let _ = JsFuture::from(promise).await;
    yield_to_browser().await;
}

/// Builds core's knowledge-base matcher (a DFA, ~0.1 s in wasm) while the page is
/// idle, so the first drop does not pay for it.
pub fn warm_up() {
    spawn_local(async {
        yield_to_browser().await;
        let _ = mailsync_core::classify::classify(&mailsync_core::classify::Evidence::default());
    });
}

impl Analyzer {
    pub fn new() -> Self {
        Analyzer {
            reports: RwSignal::new(Vec::new()),
            generation: RwSignal::new(0),
            progress: RwSignal::new(Progress::default()),
            pending: StoredValue::new_local(Pending::default()),
        }
    }

    /// Queues `sources`, handed in by the user at `started_at` (performance.now()),
    /// and starts the queue if it is idle.
    pub fn enqueue(self, sources: Vec<Source>, started_at: f64) {
        if sources.is_empty() {
            return;
        }
        let n = sources.len();
        let start = self.pending.try_update_value(|p| {
            p.items.extend(sources);
            if p.running {
                false
            } else {
                p.running = true;
                p.started_at = started_at;
                true
            }
        });
        if start == Some(true) {
            self.progress.set(Progress {
                total: n,
                running: true,
                ..Progress::default()
            });
            spawn_local(self.run(self.generation.get_untracked()));
        } else {
            self.progress.update(|p| p.total += n);
        }
    }

    /// Drops every report and anything still queued.
    pub fn clear(self) {
        self.pending.update_value(|p| {
            p.items.clear();
            p.running = false;
        });
        self.generation.update(|g| *g += 1);
        self.reports.set(Vec::new());
        self.progress.set(Progress::default());
    }

    fn take_chunk(self) -> Vec<Source> {
        self.pending
            .try_update_value(|p| {
                let n = p.items.len().min(CHUNK);
                p.items.drain(..n).collect()
            })
            .unwrap_or_default()
    }

    async fn run(self, generation: u64) {
        let stale = move || self.generation.get_untracked() != generation;
        let mut ready: Vec<Report> = Vec::new();
        let mut last_commit = performance_now();
        let mut last_yield = last_commit;
        // One chunk is read ahead while the current one is analyzed.
        let mut chunk = self.take_chunk();
        let mut read = start_read(&chunk);
        while !chunk.is_empty() {
            let n = chunk.len();
            let ahead = self.take_chunk();
            let ahead_read = start_read(&ahead);
            let t0 = performance_now();
            let contents = finish_read(chunk, read).await;
            let t1 = performance_now();
            if t1 - t0 > 1.0 {
                // The read was not ready: the event loop ran meanwhile.
                last_yield = t1;
            }
            if stale() {
                return;
            }
            let now = Some(when::now());
            ready.extend(contents.into_iter().map(|(name, bytes)| match bytes {
                Ok(bytes) => mailsync_core::analyze(&name, &bytes, now),
                Err(why) => {
                    Report::failed(&name, format!("the browser could not read the file: {why}"))
                }
            }));
            let t2 = performance_now();
            self.progress.update(|p| {
                p.done += n;
                p.read_ms += t1 - t0;
                p.analyze_ms += t2 - t1;
            });
            if performance_now() - last_commit > COMMIT_EVERY_MS {
                self.commit(&mut ready);
                last_commit = performance_now();
            }
            if performance_now() - last_yield > SLICE_MS {
                yield_to_browser().await;
                last_yield = performance_now();
                if stale() {
                    return;
                }
            }
            (chunk, read) = (ahead, ahead_read);
            if chunk.is_empty() {
                // Items queued while this chunk was analyzed.
                chunk = self.take_chunk();
                read = start_read(&chunk);
            }
        }
        let t3 = performance_now();
        self.commit(&mut ready);
        self.pending.update_value(|p| p.running = false);
        // The cards render from the reactive update on the microtask queue; wait
        // until the frame showing them has been produced before stopping the clock.
        yield_to_browser().await;
        let t4 = performance_now();
        after_next_frame().await;
        if stale() {
            return;
        }
        let started = self.pending.with_value(|p| p.started_at);
        let still_idle = self.pending.with_value(|p| !p.running);
        if still_idle {
            let end = performance_now();
            self.progress.update(|p| {
                p.running = false;
                p.render_ms = t4 - t3;
                p.paint_ms = end - t4;
                p.elapsed_ms = Some(end - started);
            });
        }
    }

    fn commit(self, ready: &mut Vec<Report>) {
        if !ready.is_empty() {
            self.reports.update(|all| all.append(ready));
        }
    }
}

/// Starts reading a chunk's files as one Blob made of them: a single read instead of
/// one per file, which is what makes thousands of small files fast in Chromium.
fn start_read(chunk: &[Source]) -> Option<js_sys::Promise> {
    let parts = js_sys::Array::new();
    for s in chunk {
        if let Source::File { file, .. } = s {
            parts.push(file);
        }
    }
    if parts.length() == 0 {
        return None;
    }
    Some(match web_sys::Blob::new_with_blob_sequence(&parts) {
        Ok(blob) => blob.array_buffer(),
        Err(e) => js_sys::Promise::reject(&e),
    })
}

/// Each source's name and bytes, or why the browser could not read it. If the
/// combined read failed (a file vanished or changed on disk), the files are read one
/// by one so only the bad one is reported.
async fn finish_read(
    chunk: Vec<Source>,
    read: Option<js_sys::Promise>,
) -> Vec<(String, Result<Vec<u8>, String>)> {
    let combined = match read {
        Some(p) => JsFuture::from(p)
            .await
            .ok()
            .map(|buf| js_sys::Uint8Array::new(&buf).to_vec()),
        None => Some(Vec::new()),
    };
    let Some(all) = combined else {
        return read_one_by_one(chunk).await;
    };
    let mut offset = 0usize;
    let mut out = Vec::with_capacity(chunk.len());
    for s in chunk {
        match s {
            Source::Text { name, text } => out.push((name, Ok(text.into_bytes()))),
            Source::File { file, name } => {
                let end = offset + file.size() as usize;
                let bytes = all
                    .get(offset..end)
                    .map(<[u8]>::to_vec)
                    .ok_or_else(|| "the file changed while it was read".to_string());
                offset = end;
                out.push((name, bytes));
            }
        }
    }
    out
}

async fn read_one_by_one(chunk: Vec<Source>) -> Vec<(String, Result<Vec<u8>, String>)> {
    let reads = js_sys::Array::new();
    for s in &chunk {
        match s {
            Source::File { file, .. } => reads.push(&file.array_buffer()),
            Source::Text { .. } => reads.push(&JsValue::UNDEFINED),
        };
    }
    let settled = JsFuture::from(js_sys::Promise::all_settled(&reads))
        .await
        .map(|v| v.unchecked_into::<js_sys::Array>())
        .unwrap_or_else(|_| js_sys::Array::new());
    chunk
        .into_iter()
        .enumerate()
        .map(|(i, s)| match s {
            Source::Text { name, text } => (name, Ok(text.into_bytes())),
            Source::File { name, .. } => (name, read_outcome(&settled.get(i as u32))),
        })
        .collect()
}

/// One `Promise.allSettled` outcome to the file's bytes or the reason it failed.
fn read_outcome(outcome: &JsValue) -> Result<Vec<u8>, String> {
    let get = |k: &str| {
        js_sys::Reflect::get(outcome, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
    };
    if get("status").as_string().as_deref() == Some("fulfilled") {
        let buf = get("value");
        if buf.is_instance_of::<js_sys::ArrayBuffer>() {
            return Ok(js_sys::Uint8Array::new(&buf).to_vec());
        }
        return Err("no content".to_string());
    }
    let reason = get("reason");
    let text = reason
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| reason.as_string())
        .unwrap_or_else(|| "unknown error".to_string());
    Err(text)
}
