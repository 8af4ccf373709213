//! What the server's integration tests share: temp folders, the real `mailsync serve`
//! on an ephemeral port, and a small HTTP/1.1 client over a real TCP socket.
#![allow(dead_code)] // each test crate uses its own subset

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_mailsync");
pub const INDEX: &str = "<!doctype html><html><body><p>mailsync-test-index</p></body></html>\n";

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
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

    /// A temp dir that also serves as a dist dir (it holds an `index.html`).
    pub fn dist(tag: &str) -> Self {
        let dir = TempDir::new(tag);
        fs::write(dir.path().join("index.html"), INDEX).unwrap();
        dir
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The server process; killed on drop if a test fails half way.
pub struct Server {
    pub child: Child,
    pub port: u16,
    _stdout: BufReader<ChildStdout>,
}

impl Server {
    /// `mailsync serve --port 0 --dist DIR --db DIR/org.sqlite [--seed SEED]`, with the
    /// admin password from `password` (none: the server generates one).
    pub fn start(dir: &Path, seed: Option<&str>, password: Option<&str>) -> Server {
        Server::start_with(dir, seed, password, &[])
    }

    /// `start` with more `serve` arguments (`--max-requests-per-5min 5`, ...).
    pub fn start_with(
        dir: &Path,
        seed: Option<&str>,
        password: Option<&str>,
        extra: &[&str],
    ) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--port", "0", "--dist"])
            .arg(dir)
            .arg("--db")
            .arg(dir.join("org.sqlite"))
            .env_remove("MAILSYNC_DIST")
            .env_remove("MAILSYNC_DB")
            .env_remove("MAILSYNC_ADMIN_PASSWORD")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(seed) = seed {
            cmd.args(["--seed", seed]);
        }
        // The API's tests read and change the organization: the engine would change it
        // under them. A test of the engine turns it on (`--engine on`).
        if !extra.contains(&"--engine") {
            cmd.args(["--engine", "off"]);
        }
        cmd.args(extra);
        if let Some(pw) = password {
            cmd.env("MAILSYNC_ADMIN_PASSWORD", pw);
        }
        let mut child = cmd.spawn().expect("spawn mailsync");
        let stdout = child.stdout.take().unwrap();
        // Read the banner on a thread so a hung server fails the test instead of the suite.
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send((line, reader));
        });
        let Ok((line, reader)) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            panic!("mailsync serve printed nothing within 60 s");
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

/// `mailsync console: http://127.0.0.1:PORT/` (or `https://`) -> PORT
pub fn parse_port(line: &str) -> Option<u16> {
    let line = line.trim();
    let rest = line
        .strip_prefix("mailsync console: http://127.0.0.1:")
        .or_else(|| line.strip_prefix("mailsync console: https://127.0.0.1:"))?;
    rest.strip_suffix('/')?.parse().ok().filter(|p| *p != 0)
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    /// The header block, lower-cased, for `contains` checks.
    pub head: String,
    /// Header lines, names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// Dataverse's error shape: `{"error": {"code", "message"}}`; returns the code.
    pub fn error_code(&self) -> String {
        let v = self.json();
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{v}"
        );
        v["error"]["code"].as_str().unwrap_or_default().to_string()
    }
}

pub fn request(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    // The server may answer (413) and close before reading a large body: the answer
    // counts, not the rest of the write.
    if let Err(e) = s.write_all(req.as_bytes()) {
        assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            ),
            "write: {e}"
        );
    }
    let mut raw = Vec::new();
    if let Err(e) = s.read_to_end(&mut raw) {
        assert!(
            e.kind() == std::io::ErrorKind::ConnectionReset && !raw.is_empty(),
            "read response: {e}"
        );
    }
    let raw = String::from_utf8(raw).expect("utf-8 response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("header/body separator");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Resp {
        status,
        head: head.to_ascii_lowercase(),
        headers,
        body: body.to_string(),
    }
}

pub fn http_get(port: u16, path: &str) -> Resp {
    request(port, "GET", path, &[], "")
}

/// The test mail servers' settings (`target/mailservers/env`, written by
/// `bash scripts/mailservers.sh start`).
pub fn mail_env() -> std::collections::HashMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/mailservers/env");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}. Run `bash scripts/mailservers.sh start` first (scripts/test.sh does).",
            path.display()
        )
    });
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// A signed-in client of the Web API (`/api/data/v9.2/`) with a bearer token.
pub struct Admin {
    pub port: u16,
    pub bearer: String,
}

impl Admin {
    /// Signs `user` in with `password` (`POST /api/auth/login`).
    pub fn sign_in(port: u16, user: &str, password: &str) -> Admin {
        let login = request(
            port,
            "POST",
            "/api/auth/login",
            &[("Content-Type", "application/json")],
            &serde_json::json!({"username": user, "password": password}).to_string(),
        );
        assert_eq!(login.status, 200, "{}", login.body);
        Admin {
            port,
            bearer: format!("Bearer {}", login.json()["access_token"].as_str().unwrap()),
        }
    }

    pub fn call(&self, method: &str, path: &str, body: &str) -> Resp {
        let path = format!("/api/data/v9.2/{}", path.replace(' ', "%20"));
        request(
            self.port,
            method,
            &path,
            &[
                ("Authorization", &self.bearer),
                ("Content-Type", "application/json"),
                ("Prefer", "return=representation"),
            ],
            body,
        )
    }

    /// `call`, which must succeed, as JSON.
    pub fn json(&self, method: &str, path: &str, body: serde_json::Value) -> serde_json::Value {
        let r = self.call(method, path, &body.to_string());
        assert!(
            (200..300).contains(&r.status),
            "{method} {path}: {} {}",
            r.status,
            r.body
        );
        r.json()
    }
}
