//! The console's files, small and cached: compressed once at build time, served by
//! `serve.rs` in the encoding the browser asks for, with caching by kind of file.
//!
//! * **Build** (`mailsync compress-assets DIR`, hidden; `scripts/build.sh` runs it after
//!   `trunk build`): every `.wasm`, `.js`, `.css`, `.html`, `.svg`, `.json` file under
//!   DIR gets `NAME.br` (brotli, quality 11, 16 MiB window) and `NAME.gz` (gzip -9),
//!   written beside it through a temporary file and a rename, so a running server never
//!   reads half a file. A variant that would not be smaller is not written (and an old
//!   one is removed).
//! * **Serve**: `ServeDir` picks `NAME.br` or `NAME.gz` by `Accept-Encoding` (brotli
//!   first at equal quality); `static_headers` adds `Vary: Accept-Encoding` and the
//!   caching: Trunk's hashed names (`name-<16 hex>.ext`, `name-<16 hex>_bg.wasm`) are
//!   `public, max-age=31536000, immutable`, every other file `no-cache` (revalidated by
//!   `Last-Modified`). The console's page (`index.html`, the SPA fallback) is
//!   `no-cache` with an `ETag` (`page_etag`, 304 on `If-None-Match`), compressed from
//!   its precompressed variant only when that variant decompresses to the very page
//!   (`page_variant`): a stale `.br` from an older build is never sent with the
//!   Content-Security-Policy of a newer page.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

/// The extensions compressed at build time.
pub const EXTENSIONS: &[&str] = &["wasm", "js", "css", "html", "svg", "json"];

/// `Cache-Control` of a file whose name changes with its content.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of everything else: kept, but revalidated before each use.
pub const REVALIDATE: &str = "no-cache";

/// Brotli's best quality and largest standard window (2^24 bytes).
const BROTLI_QUALITY: i32 = 11;
const BROTLI_WINDOW: i32 = 24;

#[derive(Debug, clap::Args)]
pub struct CompressArgs {
    /// The built console (Trunk's dist/): its files get `.br` and `.gz` variants.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// `mailsync compress-assets DIR`: prints one line per file and the totals.
pub fn run(args: &CompressArgs) -> ExitCode {
    let started = std::time::Instant::now();
    match compress_dir(&args.dir) {
        Ok(files) => {
            let (mut plain, mut gz, mut br) = (0, 0, 0);
            for f in &files {
                println!(
                    "{:>10} {:>10} {:>10}  {}",
                    f.plain,
                    f.gzip.unwrap_or(f.plain),
                    f.brotli.unwrap_or(f.plain),
                    f.path.display()
                );
                plain += f.plain;
                gz += f.gzip.unwrap_or(f.plain);
                br += f.brotli.unwrap_or(f.plain);
            }
            println!(
                "{plain:>10} {gz:>10} {br:>10}  total bytes (plain, gzip, brotli) of {} files, {:.1} s",
                files.len(),
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "mailsync compress-assets: {}: {e}",
                args.dir.as_path().display()
            );
            ExitCode::FAILURE
        }
    }
}

/// One file and the sizes of its variants (`None`: not written, not smaller).
#[derive(Debug)]
pub struct Compressed {
    pub path: PathBuf,
    pub plain: u64,
    pub gzip: Option<u64>,
    pub brotli: Option<u64>,
}

/// Compresses every file of `EXTENSIONS` under `dir` (recursively), in name order.
pub fn compress_dir(dir: &Path) -> io::Result<Vec<Compressed>> {
    if !dir.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "not a directory (build the console first)",
        ));
    }
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    files.sort();
    files.iter().map(|p| compress_file(p)).collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            // Trunk's `.stage` is a build in progress.
            if !entry.file_name().to_string_lossy().starts_with('.') {
                collect(&path, out)?;
            }
        } else if kind.is_file() && compressible(&path) {
            out.push(path);
        }
    }
    Ok(())
}

fn compressible(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Writes `path.br` and `path.gz` when they are smaller than `path`.
pub fn compress_file(path: &Path) -> io::Result<Compressed> {
    let data = fs::read(path)?;
    let text = path.extension().is_none_or(|e| e != "wasm");
    let br = brotli(&data, text);
    let gz = gzip(&data)?;
    Ok(Compressed {
        path: path.to_path_buf(),
        plain: data.len() as u64,
        brotli: write_variant(path, ".br", &br, data.len())?,
        gzip: write_variant(path, ".gz", &gz, data.len())?,
    })
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name: OsString = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

fn write_variant(path: &Path, suffix: &str, bytes: &[u8], plain: usize) -> io::Result<Option<u64>> {
    let target = with_suffix(path, suffix);
    if bytes.len() >= plain {
        match fs::remove_file(&target) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        return Ok(None);
    }
    let tmp = with_suffix(path, &format!("{suffix}.tmp"));
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, &target)?;
    Ok(Some(bytes.len() as u64))
}

/// Brotli at its best quality (`text`: UTF-8 text mode, else generic).
pub fn brotli(data: &[u8], text: bool) -> Vec<u8> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: BROTLI_QUALITY,
        lgwin: BROTLI_WINDOW,
        size_hint: data.len(),
        mode: if text {
            brotli::enc::backward_references::BrotliEncoderMode::BROTLI_MODE_TEXT
        } else {
            brotli::enc::backward_references::BrotliEncoderMode::BROTLI_MODE_GENERIC
        },
        ..Default::default()
    };
    let mut out = Vec::with_capacity(data.len() / 3);
    // Reading a slice and writing a Vec cannot fail.
    let _ = brotli::BrotliCompress(&mut &data[..], &mut out, &params);
    out
}

/// Gzip at level 9 (no name, no time: the same input gives the same bytes).
pub fn gzip(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 3),
        flate2::Compression::best(),
    );
    enc.write_all(data)?;
    enc.finish()
}

/// A content coding of a precompressed variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Encoding {
    Gzip,
    Brotli,
}

impl Encoding {
    pub fn token(self) -> &'static str {
        match self {
            Encoding::Gzip => "gzip",
            Encoding::Brotli => "br",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Encoding::Gzip => ".gz",
            Encoding::Brotli => ".br",
        }
    }

    fn decode(self, bytes: &[u8], limit: u64) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        match self {
            Encoding::Gzip => flate2::read::GzDecoder::new(bytes)
                .take(limit)
                .read_to_end(&mut out)?,
            Encoding::Brotli => brotli::Decompressor::new(bytes, 4096)
                .take(limit)
                .read_to_end(&mut out)?,
        };
        Ok(out)
    }
}

/// The encodings `Accept-Encoding` accepts, most preferred first, as `ServeDir` ranks
/// them: by q-value, then brotli before gzip; `q=0` refuses.
pub fn accepted(headers: &HeaderMap) -> Vec<Encoding> {
    let mut found: Vec<(u16, Encoding)> = Vec::new();
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let encoding = if coding.eq_ignore_ascii_case("br") {
                Encoding::Brotli
            } else if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                Encoding::Gzip
            } else {
                continue;
            };
            let mut q = 1000;
            for param in parts {
                if let Some(v) = param
                    .trim()
                    .strip_prefix("q=")
                    .or_else(|| param.trim().strip_prefix("Q="))
                {
                    q = parse_q(v.trim()).unwrap_or(0);
                }
            }
            if q > 0 {
                found.push((q, encoding));
            }
        }
    }
    found.sort_by(|a, b| b.cmp(a));
    let mut out: Vec<Encoding> = Vec::new();
    for (_, e) in found {
        if !out.contains(&e) {
            out.push(e);
        }
    }
    out
}

/// A q-value in thousandths (`0.5` → 500); `None` when malformed.
fn parse_q(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole = match int {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    let mut thousandths = 0u16;
    for (i, d) in frac.bytes().enumerate() {
        thousandths += u16::from(d - b'0') * [100, 10, 1][i];
    }
    if whole == 1000 && thousandths > 0 {
        return None;
    }
    Some(whole + thousandths)
}

/// The precompressed variant of the page to send, if the client takes one and it holds
/// exactly `page` (a stale variant of an older build is ignored).
pub async fn page_variant(
    path: &Path,
    page: &[u8],
    headers: &HeaderMap,
) -> Option<(Encoding, Vec<u8>)> {
    for encoding in accepted(headers) {
        let Ok(bytes) = tokio::fs::read(with_suffix(path, encoding.suffix())).await else {
            continue;
        };
        let limit = page.len() as u64 + 1;
        if encoding.decode(&bytes, limit).is_ok_and(|d| d == page) {
            return Some((encoding, bytes));
        }
    }
    None
}

/// The page's validator: weak, since the same page is sent in three encodings.
pub fn page_etag(page: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, page);
    let hex: String = digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("W/\"{hex}\"")
}

/// Whether `If-None-Match` names `etag` (weak comparison, `*` matches).
pub fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let ours = bare(etag);
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == "*" || bare(t) == ours)
}

/// Whether the last segment of `path` is a Trunk hashed name: `stem-<16 hex>.ext` or
/// `stem-<16 hex>_bg.wasm`.
pub fn is_hashed(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or("");
    let Some((base, ext)) = last.split_once('.') else {
        return false;
    };
    if ext.is_empty() {
        return false;
    }
    let base = base.strip_suffix("_bg").unwrap_or(base);
    base.rsplit_once('-').is_some_and(|(stem, hash)| {
        !stem.is_empty()
            && hash.len() == 16
            && hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Middleware around the static files: `Vary: Accept-Encoding`, and `Cache-Control`
/// where the answer has none (the page sets its own): immutable for a hashed name that
/// was found, revalidate otherwise (a 404 is never kept for a year).
pub async fn static_headers(request: Request, next: Next) -> Response {
    let hashed = is_hashed(request.uri().path());
    let mut resp = next.run(request).await;
    let found = matches!(
        resp.status(),
        StatusCode::OK | StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED
    );
    let h = resp.headers_mut();
    if !h.contains_key(header::VARY) {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        let value = if hashed && found {
            IMMUTABLE
        } else {
            REVALIDATE
        };
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &'static str) -> Vec<Encoding> {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(v));
        accepted(&h)
    }

    #[test]
    fn hashed_names() {
        assert!(is_hashed("/mailsync-console-240bed1e74ade447_bg.wasm"));
        assert!(is_hashed("/mailsync-console-240bed1e74ade447.js"));
        assert!(is_hashed("/main-f4f6546d503e515c.css"));
        assert!(is_hashed("/favicon-15d1879071207ebd.svg"));
        assert!(is_hashed("/snippets/x/app-0123456789abcdef.js"));
        assert!(!is_hashed("/index.html"));
        assert!(!is_hashed("/"));
        assert!(!is_hashed("/analyzer"));
        assert!(!is_hashed("/app-0123abcd.js"));
        assert!(!is_hashed("/app-0123456789ABCDEF.js"));
        assert!(!is_hashed("/-0123456789abcdef.js"));
        assert!(!is_hashed("/app-0123456789abcdef"));
        assert!(!is_hashed("/app-0123456789abcdeg.js"));
    }

    #[test]
    fn accept_encoding() {
        use Encoding::*;
        assert_eq!(accept("gzip, deflate, br, zstd"), [Brotli, Gzip]);
        assert_eq!(accept("gzip"), [Gzip]);
        assert_eq!(accept("br;q=0, gzip"), [Gzip]);
        assert_eq!(accept("br;q=0.5, gzip;q=0.8"), [Gzip, Brotli]);
        assert_eq!(accept("BR, X-GZIP;q=0.1"), [Brotli, Gzip]);
        assert_eq!(accept("identity"), []);
        assert_eq!(accept("br;q=bogus"), []);
        assert_eq!(accept("br;q=1.5"), []);
        assert_eq!(parse_q("0.125"), Some(125));
        assert_eq!(parse_q("1.000"), Some(1000));
        assert_eq!(parse_q("0.1234"), None);
    }

    #[test]
    fn etags() {
        let tag = page_etag(b"<html></html>");
        assert!(tag.starts_with("W/\"") && tag.len() == 3 + 32 + 1, "{tag}");
        let mut h = HeaderMap::new();
        assert!(!not_modified(&h, &tag));
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&format!("\"x\", {}", tag.trim_start_matches("W/"))).unwrap(),
        );
        assert!(not_modified(&h, &tag));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(not_modified(&h, &tag));
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("W/\"other\""),
        );
        assert!(!not_modified(&h, &tag));
    }

    #[test]
    fn round_trip() {
        let data = "fn main() { println!(\"hello\"); }\n".repeat(200);
        let br = brotli(data.as_bytes(), true);
        let gz = gzip(data.as_bytes()).unwrap();
        assert!(br.len() < gz.len() && gz.len() < data.len() / 10);
        let limit = data.len() as u64 + 1;
        assert_eq!(
            Encoding::Brotli.decode(&br, limit).unwrap(),
            data.as_bytes()
        );
        assert_eq!(Encoding::Gzip.decode(&gz, limit).unwrap(), data.as_bytes());
        assert_eq!(gz, gzip(data.as_bytes()).unwrap(), "gzip is deterministic");
    }
}
