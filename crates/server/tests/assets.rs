//! The console's files as a browser gets them from the real `mailsync serve`: the
//! `.br`/`.gz` variants written by `mailsync compress-assets` (the step
//! `scripts/build.sh` runs after `trunk build`), negotiated by `Accept-Encoding`, and
//! the caching (immutable hashed names, a revalidated page, 304s).

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Server, TempDir, BIN};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The page, with an inline loader like Trunk's (its hash goes into the CSP).
const PAGE: &str = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\" />\n\
<title>mailsync console</title>\n\
<link rel=\"stylesheet\" href=\"/main-f4f6546d503e515c.css\" />\n\
<script type=\"module\">\nimport init from '/app-0123456789abcdef.js';\n\
await init({ module_or_path: '/app-0123456789abcdef_bg.wasm' });\n</script>\n\
</head>\n<body><p>mailsync-assets-test</p></body>\n</html>\n";

struct Dist {
    dir: TempDir,
    js: Vec<u8>,
    wasm: Vec<u8>,
    css: Vec<u8>,
    svg: Vec<u8>,
}

/// A small dist shaped like Trunk's, compressed by the binary as the build does it.
fn dist() -> Dist {
    let dir = TempDir::new("assets");
    let js: Vec<u8> = (0..300)
        .map(|i| format!("export function f{i}(x) {{ return wasm.__wbg_call_{i}(x, {i}); }}\n"))
        .collect::<String>()
        .into_bytes();
    // Bytes like a wasm module's: a header, then varied but repetitive sections.
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    for i in 0u32..20_000 {
        wasm.extend_from_slice(&(i % 251).to_le_bytes());
        wasm.push((i * 7 % 13) as u8);
    }
    let css = ".card { padding: 8px; border: 1px solid #ccc; }\n"
        .repeat(100)
        .into_bytes();
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\">{}</svg>\n",
        "<g/>".repeat(100)
    )
    .into_bytes();
    let p = dir.path();
    fs::write(p.join("index.html"), PAGE).unwrap();
    fs::write(p.join("app-0123456789abcdef.js"), &js).unwrap();
    fs::write(p.join("app-0123456789abcdef_bg.wasm"), &wasm).unwrap();
    fs::write(p.join("main-f4f6546d503e515c.css"), &css).unwrap();
    fs::write(p.join("logo.svg"), &svg).unwrap();
    fs::write(p.join("tiny.json"), "{}").unwrap();
    fs::write(p.join("notes.txt"), "not compressed ".repeat(50)).unwrap();
    compress(p);
    Dist {
        dir,
        js,
        wasm,
        css,
        svg,
    }
}

fn compress(dir: &Path) {
    let out = Command::new(BIN)
        .arg("compress-assets")
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run mailsync compress-assets");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("total bytes"), "{stdout}");
}

struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request; the body is returned as bytes (compressed answers are binary).
fn get(port: u16, path: &str, headers: &[(&str, &str)]) -> Raw {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header/body separator");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = raw[split + 4..].to_vec();
    if let Some(len) = headers.iter().find(|(n, _)| n == "content-length") {
        assert_eq!(len.1.parse::<usize>().unwrap(), body.len(), "{path}");
    }
    Raw {
        status,
        headers,
        body,
    }
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(bytes, 4096)
        .read_to_end(&mut out)
        .expect("valid brotli");
    out
}

fn ungzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

fn varies_by_encoding(r: &Raw) -> bool {
    r.header("vary")
        .is_some_and(|v| v.to_ascii_lowercase().contains("accept-encoding"))
}

#[test]
fn compress_assets_writes_smaller_variants() {
    let d = dist();
    let p = d.dir.path();
    for name in [
        "index.html",
        "app-0123456789abcdef.js",
        "app-0123456789abcdef_bg.wasm",
        "main-f4f6546d503e515c.css",
        "logo.svg",
    ] {
        let plain = fs::read(p.join(name)).unwrap();
        let br = fs::read(p.join(format!("{name}.br"))).expect(name);
        let gz = fs::read(p.join(format!("{name}.gz"))).expect(name);
        assert_eq!(unbrotli(&br), plain, "{name}.br");
        assert_eq!(ungzip(&gz), plain, "{name}.gz");
        assert!(br.len() < plain.len() && gz.len() < plain.len(), "{name}");
    }
    // Not a compressed kind, and a file that compression would only make bigger.
    assert!(!p.join("notes.txt.br").exists() && !p.join("notes.txt.gz").exists());
    assert!(!p.join("tiny.json.br").exists() && !p.join("tiny.json.gz").exists());
    // No temporary files left; running it again changes nothing.
    let names = |p: &Path| {
        let mut v: Vec<String> = fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let before = names(p);
    assert!(!before.iter().any(|n| n.ends_with(".tmp")), "{before:?}");
    let gz = fs::read(p.join("logo.svg.gz")).unwrap();
    compress(p);
    assert_eq!(names(p), before);
    assert_eq!(
        fs::read(p.join("logo.svg.gz")).unwrap(),
        gz,
        "deterministic"
    );

    let out = Command::new(BIN)
        .args(["compress-assets", "/nonexistent/mailsync-dist"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn assets_are_sent_compressed_and_cached() {
    let d = dist();
    let server = Server::start(d.dir.path(), None, None);
    let port = server.port;

    for (path, plain, kind) in [
        ("/app-0123456789abcdef.js", &d.js, "javascript"),
        ("/app-0123456789abcdef_bg.wasm", &d.wasm, "application/wasm"),
        ("/main-f4f6546d503e515c.css", &d.css, "text/css"),
    ] {
        let br = get(
            port,
            path,
            &[("Accept-Encoding", "gzip, deflate, br, zstd")],
        );
        assert_eq!(br.status, 200, "{path}");
        assert_eq!(br.header("content-encoding"), Some("br"), "{path}");
        assert!(br.body.len() < plain.len(), "{path}");
        assert_eq!(&unbrotli(&br.body), plain, "{path}");
        assert!(
            br.header("content-type").unwrap().contains(kind),
            "{path}: {:?}",
            br.header("content-type")
        );
        assert_eq!(br.header("cache-control"), Some(IMMUTABLE), "{path}");
        assert!(varies_by_encoding(&br), "{path}: {:?}", br.headers);

        let gz = get(port, path, &[("Accept-Encoding", "gzip")]);
        assert_eq!(gz.status, 200, "{path}");
        assert_eq!(gz.header("content-encoding"), Some("gzip"), "{path}");
        assert_eq!(&ungzip(&gz.body), plain, "{path}");
        assert_eq!(gz.header("cache-control"), Some(IMMUTABLE), "{path}");
        assert!(varies_by_encoding(&gz), "{path}");

        // brotli refused: gzip.
        let no_br = get(port, path, &[("Accept-Encoding", "br;q=0, gzip")]);
        assert_eq!(no_br.header("content-encoding"), Some("gzip"), "{path}");

        for accept in [None, Some("identity"), Some("zstd")] {
            let headers: Vec<(&str, &str)> =
                accept.map(|a| ("Accept-Encoding", a)).into_iter().collect();
            let plain_resp = get(port, path, &headers);
            assert_eq!(plain_resp.status, 200, "{path} {accept:?}");
            assert_eq!(plain_resp.header("content-encoding"), None, "{path}");
            assert_eq!(&plain_resp.body, plain, "{path} {accept:?}");
            assert_eq!(plain_resp.header("cache-control"), Some(IMMUTABLE));
            assert!(varies_by_encoding(&plain_resp), "{path}");
        }

        // Revalidation (a forced reload) is a 304 and keeps the headers.
        let modified = br
            .header("last-modified")
            .expect("last-modified")
            .to_string();
        let again = get(
            port,
            path,
            &[("Accept-Encoding", "br"), ("If-Modified-Since", &modified)],
        );
        assert_eq!(again.status, 304, "{path}");
        assert!(again.body.is_empty());
        assert_eq!(again.header("cache-control"), Some(IMMUTABLE), "{path}");
    }

    // A file without a hash in its name is revalidated, compressed all the same.
    let svg = get(port, "/logo.svg", &[("Accept-Encoding", "br")]);
    assert_eq!(svg.status, 200);
    assert_eq!(svg.header("content-encoding"), Some("br"));
    assert_eq!(unbrotli(&svg.body), d.svg);
    assert_eq!(svg.header("cache-control"), Some("no-cache"));

    // A missing hashed asset is a 404 that nobody keeps.
    let missing = get(
        port,
        "/app-fedcba9876543210.js",
        &[("Accept-Encoding", "br")],
    );
    assert_eq!(missing.status, 404);
    assert_ne!(missing.header("cache-control"), Some(IMMUTABLE));

    // The security headers are all still there.
    assert_eq!(svg.header("x-content-type-options"), Some("nosniff"));
    assert!(svg
        .header("content-security-policy")
        .is_some_and(|c| c.contains("default-src 'none'")));
}

#[test]
fn the_page_is_compressed_revalidated_and_never_stale() {
    let d = dist();
    let server = Server::start(d.dir.path(), None, None);
    let port = server.port;

    let mut etag = String::new();
    for path in ["/", "/analyzer", "/mailboxes/123", "/index.html"] {
        let plain = get(port, path, &[]);
        assert_eq!(plain.status, 200, "{path}");
        assert_eq!(plain.body, PAGE.as_bytes(), "{path}");
        assert_eq!(plain.header("content-encoding"), None, "{path}");
        assert_eq!(plain.header("cache-control"), Some("no-cache"), "{path}");
        assert!(varies_by_encoding(&plain), "{path}");
        let csp = plain.header("content-security-policy").unwrap();
        assert!(csp.contains("'sha256-"), "{path}: {csp}");

        let br = get(port, path, &[("Accept-Encoding", "gzip, deflate, br")]);
        assert_eq!(br.status, 200, "{path}");
        assert_eq!(br.header("content-encoding"), Some("br"), "{path}");
        assert_eq!(unbrotli(&br.body), PAGE.as_bytes(), "{path}");
        assert!(br.header("content-type").unwrap().starts_with("text/html"));
        assert_eq!(br.header("cache-control"), Some("no-cache"), "{path}");
        // The CSP is the page's, whatever the encoding.
        assert_eq!(br.header("content-security-policy"), Some(csp), "{path}");

        let gz = get(port, path, &[("Accept-Encoding", "gzip")]);
        assert_eq!(gz.header("content-encoding"), Some("gzip"), "{path}");
        assert_eq!(ungzip(&gz.body), PAGE.as_bytes(), "{path}");

        let tag = plain.header("etag").expect("etag").to_string();
        assert_eq!(br.header("etag"), Some(tag.as_str()), "{path}");
        if etag.is_empty() {
            etag = tag;
        }
        assert_eq!(plain.header("etag"), Some(etag.as_str()), "{path}");

        let cond = get(
            port,
            path,
            &[("Accept-Encoding", "br"), ("If-None-Match", &etag)],
        );
        assert_eq!(cond.status, 304, "{path}");
        assert!(cond.body.is_empty(), "{path}");
        assert_eq!(cond.header("etag"), Some(etag.as_str()));
        assert_eq!(cond.header("cache-control"), Some("no-cache"));
    }

    // A rebuilt page whose variants were not written yet: sent plain, never the stale
    // variant (whose inline script the new CSP would block), and with a new ETag.
    let rebuilt = PAGE.replace("mailsync-assets-test", "mailsync-assets-rebuilt");
    fs::write(d.dir.path().join("index.html"), &rebuilt).unwrap();
    let r = get(port, "/analyzer", &[("Accept-Encoding", "br, gzip")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.body, rebuilt.as_bytes());
    let old = get(port, "/analyzer", &[("If-None-Match", &etag)]);
    assert_eq!(old.status, 200, "the old ETag must not match the new page");
    assert_ne!(old.header("etag"), Some(etag.as_str()));
    compress(d.dir.path());
    let r = get(port, "/analyzer", &[("Accept-Encoding", "br, gzip")]);
    assert_eq!(r.header("content-encoding"), Some("br"));
    assert_eq!(unbrotli(&r.body), rebuilt.as_bytes());

    // Assets still are not pages.
    assert_eq!(get(port, "/missing.js", &[]).status, 404);
}

/// The body of a `Transfer-Encoding: chunked` answer.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size_text = std::str::from_utf8(&body[..line_end]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
            .expect("hex chunk size");
        body = &body[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

fn body_of(r: &Raw) -> Vec<u8> {
    if r.header("transfer-encoding")
        .is_some_and(|t| t.contains("chunked"))
    {
        dechunk(&r.body)
    } else {
        r.body.clone()
    }
}

#[test]
fn api_answers_are_compressed_for_clients_that_accept_it() {
    let dir = TempDir::dist("api-compression");
    let server = Server::start(dir.path(), Some("demo"), Some("api-compression-pw"));
    let login = common::request(
        server.port,
        "POST",
        "/api/auth/login",
        &[("Content-Type", "application/json")],
        r#"{"username":"admin","password":"api-compression-pw"}"#,
    );
    assert_eq!(login.status, 200, "{}", login.body);
    let bearer = format!("Bearer {}", login.json()["access_token"].as_str().unwrap());
    let path = "/api/data/v9.2/mailboxes?$top=50";
    let plain = get(server.port, path, &[("Authorization", &bearer)]);
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("content-encoding"), None);
    let plain_body = body_of(&plain);
    let plain_json: serde_json::Value = serde_json::from_slice(&plain_body).unwrap();
    assert_eq!(plain_json["value"].as_array().unwrap().len(), 50);

    for (encoding, decode) in [
        ("br", unbrotli as fn(&[u8]) -> Vec<u8>),
        ("gzip", ungzip as fn(&[u8]) -> Vec<u8>),
    ] {
        let r = get(
            server.port,
            path,
            &[("Authorization", &bearer), ("Accept-Encoding", encoding)],
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-encoding"), Some(encoding));
        // (CORS adds its own Vary lines: any of them may name the encoding.)
        assert!(
            r.headers
                .iter()
                .any(|(n, v)| n == "vary" && v.to_ascii_lowercase().contains("accept-encoding")),
            "{:?}",
            r.headers
        );
        let sent = body_of(&r);
        let json: serde_json::Value = serde_json::from_slice(&decode(&sent)).unwrap();
        assert_eq!(json, plain_json, "{encoding}");
        println!(
            "a page of 50 mailboxes: {} bytes of JSON, {} bytes {encoding}",
            plain_body.len(),
            sent.len()
        );
        assert!(
            sent.len() * 4 < plain_body.len(),
            "{encoding}: {}",
            sent.len()
        );
    }
}
