//! Files the console saves (exports, Mailbox Details logs): a Blob object URL clicked
//! through a hidden link, so nothing leaves the browser.

use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

/// Saves `body` as a text file named `name`.
pub fn save_text(name: &str, mime: &str, body: &str) -> Result<(), JsValue> {
    save(name, mime, &js_sys::Array::of1(&JsValue::from_str(body)))
}

/// Saves `body` as a file named `name` (binary, e.g. a zip).
pub fn save_bytes(name: &str, mime: &str, body: &[u8]) -> Result<(), JsValue> {
    save(
        name,
        mime,
        &js_sys::Array::of1(&js_sys::Uint8Array::from(body)),
    )
}

fn save(name: &str, mime: &str, parts: &js_sys::Array) -> Result<(), JsValue> {
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(parts, &opts)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement = document.create_element("a")?.unchecked_into();
    a.set_href(&url);
    a.set_download(name);
    a.set_attribute("hidden", "")?;
    document.body().ok_or("no body")?.append_child(&a)?;
    a.click();
    a.remove();
    // Give the download a moment to start before the URL goes away.
    set_timeout(
        move || {
            let _ = web_sys::Url::revoke_object_url(&url);
        },
        std::time::Duration::from_secs(30),
    );
    Ok(())
}

/// Several text files as one zip (stored, not compressed: logs are small, and one file
/// is what a browser saves reliably where a burst of downloads is cut off after ten).
pub fn zip_texts(files: &[(String, String)]) -> Result<Vec<u8>, String> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut used = std::collections::HashSet::new();
    for (name, text) in files {
        // Two mailboxes of one name must not overwrite each other in the archive.
        let mut unique = name.clone();
        let mut n = 2;
        while !used.insert(unique.clone()) {
            unique = match name.rsplit_once('.') {
                Some((stem, ext)) => format!("{stem}-{n}.{ext}"),
                None => format!("{name}-{n}"),
            };
            n += 1;
        }
        w.start_file(unique, options).map_err(|e| e.to_string())?;
        w.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
    }
    Ok(w.finish().map_err(|e| e.to_string())?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zip_holds_every_file_once_under_its_own_name() {
        let files = vec![
            ("a.log".to_string(), "one".to_string()),
            ("a.log".to_string(), "two".to_string()),
            ("b.log".to_string(), "three".to_string()),
        ];
        let bytes = zip_texts(&files).unwrap();
        assert_eq!(&bytes[..4], b"PK\x03\x04");
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut names: Vec<String> = archive.file_names().map(str::to_string).collect();
        names.sort();
        assert_eq!(names, ["a-2.log", "a.log", "b.log"]);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut archive.by_name("a-2.log").unwrap(), &mut text).unwrap();
        assert_eq!(text, "two");
    }
}
