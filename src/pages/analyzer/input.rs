//! Getting logs in: drop files or folders anywhere on the page, pick files or a
//! folder, or paste a log's text.

use leptos::ev;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{DataTransfer, FileSystemDirectoryEntry, FileSystemEntry, FileSystemFileEntry};

use super::queue::{performance_now, Analyzer, Source};

/// Listens for drags and drops on the whole window while the page is mounted.
/// Returns whether files are being dragged over the page (for the highlight).
pub fn install_page_drop(analyzer: Analyzer) -> ReadSignal<bool> {
    let (dragging, set_dragging) = signal(false);
    // dragenter/dragleave fire for every child element crossed: count them.
    let depth = StoredValue::new_local(0i32);
    let has_files = |dt: Option<DataTransfer>| {
        dt.is_some_and(|dt| {
            dt.types()
                .iter()
                .any(|t| t.as_string().as_deref() == Some("Files"))
        })
    };
    let enter = window_event_listener(ev::dragenter, move |e| {
        if has_files(e.data_transfer()) {
            e.prevent_default();
            depth.update_value(|d| *d += 1);
            set_dragging.set(true);
        }
    });
    let over = window_event_listener(ev::dragover, move |e| {
        if has_files(e.data_transfer()) {
            e.prevent_default();
            if let Some(dt) = e.data_transfer() {
                dt.set_drop_effect("copy");
            }
        }
    });
    let leave = window_event_listener(ev::dragleave, move |_| {
        depth.update_value(|d| *d = (*d - 1).max(0));
        if depth.get_value() == 0 {
            set_dragging.set(false);
        }
    });
    let drop = window_event_listener(ev::drop, move |e| {
        depth.set_value(0);
        set_dragging.set(false);
        // Text dragged into the paste box is not ours to handle.
        let Some(dt) = e.data_transfer().filter(|dt| has_files(Some(dt.clone()))) else {
            return;
        };
        e.prevent_default();
        let started = performance_now();
        let pending = collect_drop(&dt);
        spawn_local(async move {
            let sources = pending.resolve().await;
            analyzer.enqueue(sources, started);
        });
    });
    on_cleanup(move || {
        enter.remove();
        over.remove();
        leave.remove();
        drop.remove();
    });
    dragging
}

/// What a drop holds, taken synchronously (items die when the drop handler returns).
struct DroppedItems {
    files: Vec<web_sys::File>,
    dirs: Vec<FileSystemDirectoryEntry>,
}

fn collect_drop(dt: &DataTransfer) -> DroppedItems {
    let mut out = DroppedItems {
        files: Vec::new(),
        dirs: Vec::new(),
    };
    let items = dt.items();
    for i in 0..items.length() {
        let Some(item) = items.get(i) else { continue };
        if item.kind() != "file" {
            continue;
        }
        // Folders only come as entries; files are taken directly (entries are not
        // available for files a page puts into a DataTransfer itself).
        if let Ok(Some(entry)) = item.webkit_get_as_entry() {
            if entry.is_directory() {
                out.dirs.push(entry.unchecked_into());
                continue;
            }
        }
        if let Ok(Some(file)) = item.get_as_file() {
            out.files.push(file);
        }
    }
    if items.length() == 0 {
        if let Some(list) = dt.files() {
            out.files
                .extend((0..list.length()).filter_map(|i| list.get(i)));
        }
    }
    out
}

impl DroppedItems {
    async fn resolve(self) -> Vec<Source> {
        let mut sources: Vec<Source> = self
            .files
            .into_iter()
            .map(|f| Source::file(f, None))
            .collect();
        for dir in self.dirs {
            walk_directory(dir, &mut sources).await;
        }
        sources
    }
}

/// Every file under `root`, depth first, named by its path inside the drop.
async fn walk_directory(root: FileSystemDirectoryEntry, out: &mut Vec<Source>) {
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        let reader = dir.create_reader();
        // readEntries hands out entries in batches until it returns an empty one.
        loop {
            let batch = JsFuture::from(js_sys::Promise::new(&mut |resolve, reject| {
                if let Err(e) = reader.read_entries_with_callback_and_callback(&resolve, &reject) {
                    let _ = reject.call1(&JsValue::NULL, &e);
                }
            }))
            .await;
            let Ok(batch) = batch else { break };
            let batch: js_sys::Array = batch.unchecked_into();
            if batch.length() == 0 {
                break;
            }
            for entry in batch.iter() {
                let entry: FileSystemEntry = entry.unchecked_into();
                if entry.is_directory() {
                    stack.push(entry.unchecked_into());
                } else if entry.is_file() {
                    let path = entry.full_path().trim_start_matches('/').to_string();
                    let fe: FileSystemFileEntry = entry.unchecked_into();
                    let file = JsFuture::from(js_sys::Promise::new(&mut |resolve, reject| {
                        fe.file_with_callback_and_callback(&resolve, &reject);
                    }))
                    .await;
                    if let Ok(file) = file {
                        out.push(Source::file(file.unchecked_into(), Some(path)));
                    }
                }
            }
        }
    }
}

/// The files of an `<input type=file>`, named by their folder path when picked
/// with the folder picker.
fn input_sources(input: &web_sys::HtmlInputElement) -> Vec<Source> {
    let Some(list) = input.files() else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|i| list.get(i))
        .map(|f| {
            let rel = js_sys::Reflect::get(&f, &JsValue::from_str("webkitRelativePath"))
                .ok()
                .and_then(|v| v.as_string());
            Source::file(f, rel)
        })
        .collect()
}

/// The visible drop zone with the file and folder pickers.
#[component]
pub fn DropZone(analyzer: Analyzer, dragging: ReadSignal<bool>) -> impl IntoView {
    let files_ref = NodeRef::<html::Input>::new();
    let folder_ref = NodeRef::<html::Input>::new();
    // `webkitdirectory` has no typed attribute in the view macro: set the property.
    Effect::new(move |_| {
        if let Some(i) = folder_ref.get() {
            i.set_webkitdirectory(true);
        }
    });
    let on_pick = move |ev: ev::Event| {
        let started = performance_now();
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let sources = input_sources(&input);
        // Let the same file be picked again later.
        input.set_value("");
        analyzer.enqueue(sources, started);
    };
    view! {
        <div
            class="dropzone az-dropzone"
            class:is-dragover=move || dragging.get()
            data-testid="dropzone"
        >
            <div class="az-drop-icon" aria-hidden="true">
                <svg viewBox="0 0 24 24" width="32" height="32">
                    <path
                        d="M12 3v12m0-12l-4.5 4.5M12 3l4.5 4.5M4 15v4a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-4"
                        fill="none"
                        stroke="currentColor"
                        stroke-width="1.8"
                        stroke-linecap="round"
                        stroke-linejoin="round"
                    />
                </svg>
            </div>
            <div class="dropzone-title">"Drop Mailbox Details logs or folders anywhere on this page"</div>
            <div class="dropzone-hint">
                "One file or thousands: the .log files saved with \u{201c}Download Mailbox Details\u{201d} on a mailbox record."
            </div>
            <div class="row az-pickers">
                <button
                    type="button"
                    class="btn btn-primary"
                    data-testid="pick-files"
                    on:click=move |_| {
                        if let Some(i) = files_ref.get() {
                            i.click();
                        }
                    }
                >
                    "Choose files"
                </button>
                <button
                    type="button"
                    class="btn btn-secondary"
                    data-testid="pick-folder"
                    on:click=move |_| {
                        if let Some(i) = folder_ref.get() {
                            i.click();
                        }
                    }
                >
                    "Choose a folder"
                </button>
            </div>
            <input
                node_ref=files_ref
                type="file"
                multiple=true
                class="sr-only"
                tabindex="-1"
                aria-label="Choose log files"
                data-testid="file-input"
                on:change=on_pick
            />
            <input
                node_ref=folder_ref
                type="file"
                multiple=true
                class="sr-only"
                tabindex="-1"
                aria-label="Choose a folder of log files"
                data-testid="folder-input"
                on:change=on_pick
            />
        </div>
    }
}

/// Paste a log's text instead of a file.
#[component]
pub fn PasteBox(analyzer: Analyzer) -> impl IntoView {
    let (text, set_text) = signal(String::new());
    let pasted = StoredValue::new(0usize);
    let analyze = move |_| {
        let started = performance_now();
        let body = text.get_untracked();
        if body.trim().is_empty() {
            return;
        }
        pasted.update_value(|n| *n += 1);
        let name = format!("pasted-{}.log", pasted.get_value());
        analyzer.enqueue(vec![Source::Text { name, text: body }], started);
        set_text.set(String::new());
    };
    view! {
        <div class="card az-paste">
            <label class="field-label" for="az-paste-text">
                "Or paste a log\u{2019}s text"
            </label>
            <textarea
                id="az-paste-text"
                class="input mono az-paste-text"
                data-testid="paste-text"
                placeholder="Mailbox Async Processing State\nmailboxid : \u{2026}"
                spellcheck="false"
                prop:value=move || text.get()
                on:input=move |ev| set_text.set(event_target_value(&ev))
            ></textarea>
            <div class="row">
                <button
                    type="button"
                    class="btn btn-secondary"
                    data-testid="paste-analyze"
                    disabled=move || text.with(|t| t.trim().is_empty())
                    on:click=analyze
                >
                    "Analyze pasted text"
                </button>
            </div>
        </div>
    }
}
