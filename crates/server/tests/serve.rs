//! End-to-end tests for `mailsync serve`: start the real binary on an ephemeral port
//! and talk HTTP/1.1 to it over a real TCP socket on 127.0.0.1.

mod common;

use common::{http_get, Server, TempDir, BIN};
use std::fs;
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::Duration;

/// A dist dir shaped like Trunk's output.
fn fake_dist() -> TempDir {
    let dir = TempDir::new("dist");
    fs::write(dir.path().join("index.html"), common::INDEX).unwrap();
    fs::write(dir.path().join("app-0123abcd.js"), "console.log('app');\n").unwrap();
    fs::create_dir_all(dir.path().join("assets")).unwrap();
    fs::write(dir.path().join("assets/logo.svg"), "<svg/>").unwrap();
    dir
}

fn run_to_end(args: &[&str]) -> Output {
    // The organization's database goes to a temp dir, never the user's data folder.
    let db = TempDir::new("db");
    Command::new(BIN)
        .args(args)
        .env_remove("MAILSYNC_DIST")
        .env("MAILSYNC_DB", db.path().join("org.sqlite"))
        .stdin(Stdio::null())
        .output()
        .expect("run mailsync")
}

#[test]
fn serves_index_and_spa_routes() {
    let dist = fake_dist();
    let server = Server::start(dist.path(), None, None);

    let root = http_get(server.port, "/");
    assert_eq!(root.status, 200);
    assert!(
        root.head.contains("content-type: text/html"),
        "{}",
        root.head
    );
    assert!(root.body.contains("mailsync-test-index"));
    assert!(
        root.head.contains("cache-control: no-cache"),
        "{}",
        root.head
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
        assert!(r.head.contains("content-type: text/html"), "{path}");
    }

    // Real files are served as themselves.
    let js = http_get(server.port, "/app-0123abcd.js");
    assert_eq!(js.status, 200);
    assert!(js.body.contains("console.log('app')"));
    assert!(js.head.contains("javascript"), "{}", js.head);
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
    let mut server = Server::start(dist.path(), None, None);
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
