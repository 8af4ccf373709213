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
///
/// Written by hand (APPNOTE 6.3: local headers, central directory, end record; names
/// in UTF-8, flag bit 11): the `zip` crate's writer added 13 KB of gzip to the
/// console, which has a size budget, for the forty lines a stored archive needs. The
/// unit test reads the result back with the `zip` crate.
pub fn zip_texts(files: &[(String, String)]) -> Result<Vec<u8>, String> {
    // 1980-01-01 00:00, the DOS epoch: the logs carry their own times.
    const DOS_TIME: u16 = 0;
    const DOS_DATE: u16 = (1 << 5) | 1;
    const UTF8_NAMES: u16 = 1 << 11;
    if files.len() >= usize::from(u16::MAX) {
        return Err(format!("{} files are more than one zip holds", files.len()));
    }
    let mut out = Vec::new();
    let mut central = Vec::new();
    let mut used = std::collections::HashSet::new();
    let u32_of = |n: usize| u32::try_from(n).map_err(|_| "the archive would pass 4 GB".to_string());
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
        let data = text.as_bytes();
        let crc = crc32fast::hash(data);
        let size = u32_of(data.len())?;
        let offset = u32_of(out.len())?;
        let name_len = u16::try_from(unique.len()).map_err(|_| "a file name is too long")?;
        // The fields both headers share, from "version needed" to the name's length.
        let mut common = Vec::with_capacity(26);
        for v in [20u16, UTF8_NAMES, 0, DOS_TIME, DOS_DATE] {
            common.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc, size, size] {
            common.extend_from_slice(&v.to_le_bytes());
        }
        common.extend_from_slice(&name_len.to_le_bytes());
        common.extend_from_slice(&0u16.to_le_bytes()); // extra field length

        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&common);
        out.extend_from_slice(unique.as_bytes());
        out.extend_from_slice(data);

        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // version made by
        central.extend_from_slice(&common);
        for v in [0u16, 0, 0] {
            // comment length, disk number, internal attributes
            central.extend_from_slice(&v.to_le_bytes());
        }
        central.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(unique.as_bytes());
    }
    let central_offset = u32_of(out.len())?;
    let central_size = u32_of(central.len())?;
    out.extend_from_slice(&central);
    let count = files.len() as u16;
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    for v in [0u16, 0, count, count] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&central_size.to_le_bytes());
    out.extend_from_slice(&central_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // comment length
    Ok(out)
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
