//! End-to-end tests for `mailsync serve`: start the real binary on an ephemeral port
//! and talk HTTP/1.1 to it over a real TCP socket on 127.0.0.1.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_mailsync");
const INDEX: &str = "<!doctype html><html><body><p>mailsync-test-index</p></body></html>\n";

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mailsync-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A dist dir shaped like Trunk's output.
fn fake_dist() -> TempDir {
    let dir = TempDir::new("dist");
    fs::write(dir.path().join("index.html"), INDEX).unwrap();
    fs::write(dir.path().join("app-0123abcd.js"), "console.log('app');\n").unwrap();
    fs::create_dir_all(dir.path().join("assets")).unwrap();
    fs::write(dir.path().join("assets/logo.svg"), "<svg/>").unwrap();
    dir
}

/// The server process; killed on drop if a test fails half way.
struct Server {
    child: Child,
    port: u16,
    _stdout: BufReader<ChildStdout>,
}

impl Server {
    fn start(dist: &Path) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--port", "0", "--dist"])
            .arg(dist)
            .env_remove("MAILSYNC_DIST")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn mailsync");
        let stdout = child.stdout.take().unwrap();
        // Read the banner on a thread so a hung server fails the test instead of the suite.
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send((line, reader));
        });
        let (line, reader) = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(v) => v,
            Err(_) => {
                let _ = child.kill();
                panic!("mailsync serve printed nothing within 30 s");
            }
        };
        let port = parse_port(&line).unwrap_or_else(|| {
            let _ = child.kill();
            panic!("unexpected banner: {line:?}")
        });
        Server {
            child,
            port,
            _stdout: reader,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `mailsync console: http://127.0.0.1:PORT/` -> PORT
fn parse_port(line: &str) -> Option<u16> {
    let rest = line
        .trim()
        .strip_prefix("mailsync console: http://127.0.0.1:")?;
    rest.strip_suffix('/')?.parse().ok().filter(|p| *p != 0)
}

struct Resp {
    status: u16,
    headers: String,
    body: String,
}

fn http_get(port: u16, path: &str) -> Resp {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let raw = String::from_utf8(raw).expect("utf-8 response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("header/body separator");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    Resp {
        status,
        headers: head.to_ascii_lowercase(),
        body: body.to_string(),
    }
}

fn run_to_end(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("MAILSYNC_DIST")
        .stdin(Stdio::null())
        .output()
        .expect("run mailsync")
}

#[test]
fn serves_index_and_spa_routes() {
    let dist = fake_dist();
    let server = Server::start(dist.path());

    let root = http_get(server.port, "/");
    assert_eq!(root.status, 200);
    assert!(
        root.headers.contains("content-type: text/html"),
        "{}",
        root.headers
    );
    assert!(root.body.contains("mailsync-test-index"));
    assert!(
        root.headers.contains("cache-control: no-cache"),
        "{}",
        root.headers
    );

    // Client-side routes get index.html so reloads work.
    for path in [
        "/analyzer",
        "/assets/",
        "/mailboxes",
        "/profiles/",
        "/some/deep/route?x=1",
    ] {
        let r = http_get(server.port, path);
        assert_eq!(r.status, 200, "{path}");
        assert!(r.body.contains("mailsync-test-index"), "{path}");
        assert!(r.headers.contains("content-type: text/html"), "{path}");
    }

    // Real files are served as themselves.
    let js = http_get(server.port, "/app-0123abcd.js");
    assert_eq!(js.status, 200);
    assert!(js.body.contains("console.log('app')"));
    assert!(js.headers.contains("javascript"), "{}", js.headers);
    let svg = http_get(server.port, "/assets/logo.svg");
    assert_eq!(svg.status, 200);
    assert_eq!(svg.body, "<svg/>");

    // Missing assets are a 404, not index.html.
    let missing = http_get(server.port, "/missing-1234.wasm");
    assert_eq!(missing.status, 404);
    assert!(!missing.body.contains("mailsync-test-index"));

    // No escaping the dist directory.
    let traversal = http_get(server.port, "/../../../../etc/passwd");
    assert!(
        !traversal.body.contains("root:"),
        "path traversal served a file"
    );
}

#[cfg(unix)]
#[test]
fn sigterm_stops_gracefully() {
    let dist = fake_dist();
    let mut server = Server::start(dist.path());
    assert_eq!(http_get(server.port, "/").status, 200);
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut waited = 0;
    let exit = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        waited += 1;
        assert!(waited < 100, "server did not stop within 10 s of SIGTERM");
        thread::sleep(Duration::from_millis(100));
    };
    assert!(exit.success(), "exit status {exit:?}");
}

#[test]
fn missing_index_is_a_clear_error() {
    let empty = TempDir::new("empty");
    let dir = empty.path().to_str().unwrap();
    let out = run_to_end(&["serve", "--port", "0", "--dist", dir]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no index.html"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let out = run_to_end(&[
        "serve",
        "--port",
        "0",
        "--dist",
        "/nonexistent/mailsync-dist",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn port_in_use_is_a_clear_error() {
    let dist = fake_dist();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = run_to_end(&[
        "serve",
        "--port",
        &port,
        "--dist",
        dist.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already in use"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_usage_exits_2() {
    for args in [
        &["serve", "--port", "notaport"][..],
        &["serve", "--no-such-flag"],
        &["frobnicate"],
        &["analyze"],
        &[],
    ] {
        let out = run_to_end(args);
        assert_eq!(out.status.code(), Some(2), "args {args:?}");
    }
}
