//! The browser boundary and the sign-in of the real binary (issue 10): forged
//! cross-origin requests, the Host check, security headers and the console's CSP,
//! brute-force delays, idle sessions, TLS with a `__Host-` cookie, body limits and
//! MaxLength, sealed values refused.

mod common;

use std::time::{Duration, Instant};

use common::{request, Resp, Server, TempDir};
use serde_json::json;

const PASSWORD: &str = "security test password";
const API: &str = "/api/data/v9.2";

fn login_from(port: u16, user: &str, password: &str, extra: &[(&str, &str)]) -> Resp {
    let body = json!({"username": user, "password": password}).to_string();
    let mut headers = vec![("Content-Type", "application/json")];
    headers.extend_from_slice(extra);
    request(port, "POST", "/api/auth/login", &headers, &body)
}

fn login(port: u16, user: &str) -> (String, String) {
    let r = login_from(port, user, PASSWORD, &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.json()["access_token"].as_str().unwrap().to_string();
    let cookie = r
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    (format!("Bearer {token}"), cookie)
}

fn count_profiles(port: u16, bearer: &str) -> u64 {
    let r = request(
        port,
        "GET",
        &format!("{API}/emailserverprofiles?$count=true&$top=1"),
        &[("Authorization", bearer)],
        "",
    );
    r.json()["@odata.count"].as_u64().unwrap()
}

#[test]
fn forged_cross_origin_requests_are_refused() {
    let dir = TempDir::dist("csrf");
    let server = Server::start(dir.path(), Some("demo"), Some(PASSWORD));
    let port = server.port;
    let (bearer, cookie) = login(port, "admin");
    let me = format!("http://127.0.0.1:{port}");
    let before = count_profiles(port, &bearer);
    let profile = json!({"name": "Forged", "servertype": 4}).to_string();
    let post = |headers: &[(&str, &str)], body: &str| {
        request(
            port,
            "POST",
            &format!("{API}/emailserverprofiles"),
            headers,
            body,
        )
    };

    // Another port of the same host and a sibling subdomain are same-site: the
    // SameSite=Strict cookie goes along, the Origin and Fetch Metadata say who sent it.
    for origin in ["http://127.0.0.1:1", "http://evil.localhost:8080", "null"] {
        let r = post(
            &[
                ("Cookie", &cookie),
                ("Origin", origin),
                ("Content-Type", "text/plain"),
            ],
            &profile,
        );
        assert_eq!(r.status, 403, "{origin}: {}", r.body);
        assert!(r.body.contains("Bearer"), "{}", r.body);
    }
    let r = post(
        &[
            ("Cookie", &cookie),
            ("Sec-Fetch-Site", "same-site"),
            ("Content-Type", "application/json"),
        ],
        &profile,
    );
    assert_eq!(r.status, 403);
    // Reads with the cookie from another origin are refused too.
    let r = request(
        port,
        "GET",
        &format!("{API}/emails"),
        &[("Cookie", &cookie), ("Sec-Fetch-Site", "cross-site")],
        "",
    );
    assert_eq!(r.status, 403);
    // From the console's own origin, a text/plain body is still not JSON.
    let r = post(
        &[
            ("Cookie", &cookie),
            ("Origin", &me),
            ("Content-Type", "text/plain"),
        ],
        &profile,
    );
    assert_eq!(r.status, 415, "{}", r.body);
    assert_eq!(count_profiles(port, &bearer), before, "nothing was created");
    // The console itself: same origin, JSON.
    let r = post(
        &[
            ("Cookie", &cookie),
            ("Origin", &me),
            ("Sec-Fetch-Site", "same-origin"),
            ("Content-Type", "application/json"),
        ],
        &profile,
    );
    assert_eq!(r.status, 204, "{}", r.body);
    // A bearer token is never the browser's doing: not checked.
    let r = post(
        &[
            ("Authorization", &bearer),
            ("Origin", "http://elsewhere.example"),
            ("Content-Type", "application/json"),
        ],
        &json!({"name": "By bearer", "servertype": 4}).to_string(),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    // Sign-in and sign-out cannot be forged either.
    let r = login_from(port, "admin", PASSWORD, &[("Origin", "http://127.0.0.1:1")]);
    assert_eq!(r.status, 403);
    assert!(r.header("set-cookie").is_none());
    let r = request(
        port,
        "POST",
        "/api/auth/logout",
        &[("Cookie", &cookie), ("Sec-Fetch-Site", "same-site")],
        "",
    );
    assert_eq!(r.status, 403);
    let r = request(port, "GET", "/api/auth/me", &[("Cookie", &cookie)], "");
    assert_eq!(r.status, 200, "still signed in");
}

#[test]
fn answers_carry_security_headers_and_the_console_its_csp() {
    let dir = TempDir::new("headers");
    let script = "import init from '/app.js'; init('/app_bg.wasm');";
    std::fs::write(
        dir.path().join("index.html"),
        format!(
            "<!doctype html><html><head><script type=\"module\">{script}</script></head></html>"
        ),
    )
    .unwrap();
    let server = Server::start_with(
        dir.path(),
        Some("demo"),
        Some(PASSWORD),
        &["--connect-src", "https://login.microsoftonline.us"],
    );
    let port = server.port;
    let page = request(port, "GET", "/mailboxes", &[], "");
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").unwrap();
    use base64::Engine as _;
    let hash = base64::engine::general_purpose::STANDARD
        .encode(ring::digest::digest(&ring::digest::SHA256, script.as_bytes()).as_ref());
    assert!(csp.contains(&format!("'sha256-{hash}'")), "{csp}");
    assert!(
        csp.contains("'wasm-unsafe-eval'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains("connect-src 'self' https://login.microsoftonline.com https://*.dynamics.com https://login.microsoftonline.us"),
        "{csp}"
    );
    for r in [&page, &request(port, "GET", "/api/auth/me", &[], "")] {
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
        assert!(r.header("content-security-policy").is_some());
    }
    let (bearer, _) = login(port, "admin");
    let api = request(
        port,
        "GET",
        &format!("{API}/mailboxes?$top=1"),
        &[("Authorization", &bearer)],
        "",
    );
    assert_eq!(api.header("cache-control"), Some("no-store"));
    assert!(
        api.header("strict-transport-security").is_none(),
        "no HSTS on plain HTTP"
    );
}

#[test]
fn only_the_served_host_names_are_answered() {
    let dir = TempDir::dist("host");
    let server = Server::start_with(
        dir.path(),
        Some("demo"),
        Some(PASSWORD),
        &["--public-host", "console.example.com"],
    );
    let port = server.port;
    let with_host = |host: &str| {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        use std::io::{Read, Write};
        write!(
            s,
            "GET /api/auth/me HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out.split(' ').nth(1).unwrap().parse::<u16>().unwrap()
    };
    // A rebound name reaches this server's address but not its answers.
    assert_eq!(with_host(&format!("attacker.example:{port}")), 421);
    assert_eq!(with_host(&format!("127.0.0.2:{port}")), 421);
    for ok in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        "console.example.com".to_string(),
        "CONSOLE.example.com:443".to_string(),
    ] {
        assert_eq!(with_host(&ok), 401, "{ok}: signed out, but answered");
    }
}

#[test]
fn guessing_passwords_is_slowed_down_and_the_right_one_waits_too() {
    let dir = TempDir::dist("guess");
    let server = Server::start(dir.path(), Some("demo"), Some(PASSWORD));
    let port = server.port;
    // Successful sign-ins are never slowed.
    for _ in 0..8 {
        assert_eq!(login_from(port, "megan", PASSWORD, &[]).status, 200);
    }
    for i in 0..5 {
        let r = login_from(port, "admin", "wrong", &[]);
        assert_eq!(r.status, 401, "attempt {i}");
    }
    let r = login_from(port, "admin", "wrong", &[]);
    assert_eq!(
        r.status, 401,
        "the sixth failure is still checked, and starts a delay"
    );
    let r = login_from(port, "ADMIN", PASSWORD, &[]);
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r
        .header("retry-after")
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|s| s >= 1));
    assert!(r.header("set-cookie").is_none());
    // After the delay the right password works again, and clears the account.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(login_from(port, "admin", PASSWORD, &[]).status, 200);
    assert_eq!(login_from(port, "admin", "wrong", &[]).status, 401);

    // One address guessing at many accounts is slowed as well.
    let mut last = 0;
    for i in 0..25 {
        last = login_from(port, &format!("nobody{i}"), "x", &[]).status;
        if last == 429 {
            break;
        }
    }
    assert_eq!(last, 429, "the address was never slowed");
}

#[test]
fn an_unknown_user_a_user_without_password_and_a_wrong_password_take_as_long() {
    let dir = TempDir::dist("timing");
    let server = Server::start(dir.path(), Some("demo"), Some(PASSWORD));
    let port = server.port;
    // A user without a password: created by the administrator through the API.
    let (bearer, _) = login(port, "admin");
    let r = request(
        port,
        "POST",
        &format!("{API}/systemusers"),
        &[("Authorization", &bearer), ("Content-Type", "application/json")],
        &json!({"fullname": "No Password", "domainname": "nopw", "internalemailaddress": "nopw@contoso.com"}).to_string(),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let median = |user: &str| {
        let mut times: Vec<Duration> = (0..3)
            .map(|_| {
                let t = Instant::now();
                let r = login_from(port, user, "not the password", &[]);
                assert_eq!(r.status, 401, "{user}");
                t.elapsed()
            })
            .collect();
        times.sort();
        times[1]
    };
    let (unknown, no_password, wrong) = (median("ghost"), median("nopw"), median("nestor"));
    println!("sign-in refusals: unknown {unknown:?}, no password {no_password:?}, wrong {wrong:?}");
    for (what, t) in [("unknown", unknown), ("no password", no_password)] {
        let ratio = t.as_secs_f64() / wrong.as_secs_f64();
        assert!(
            (0.4..2.5).contains(&ratio),
            "{what}: {t:?} against {wrong:?}"
        );
    }
}

#[test]
fn a_session_ends_after_its_idle_time() {
    let dir = TempDir::dist("idle");
    let server = Server::start_with(
        dir.path(),
        Some("demo"),
        Some(PASSWORD),
        &["--session-idle-timeout", "3"],
    );
    let port = server.port;
    let (bearer, _) = login(port, "nestor");
    let me = || {
        request(
            port,
            "GET",
            "/api/auth/me",
            &[("Authorization", &bearer)],
            "",
        )
        .status
    };
    // Used within the idle time, it lives on past it.
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(1200));
        assert_eq!(me(), 200);
    }
    std::thread::sleep(Duration::from_millis(4200));
    assert_eq!(me(), 401, "idle for longer than 3 s");
}

#[test]
fn bodies_are_bounded_and_text_columns_have_their_max_length() {
    let dir = TempDir::dist("limits");
    let server = Server::start(dir.path(), Some("demo"), Some(PASSWORD));
    let port = server.port;
    // A 3 MB sign-in is told the sign-in limit.
    let huge = json!({"username": "admin", "password": "x".repeat(3 * 1024 * 1024)}).to_string();
    let (status, body) = send_big(
        port,
        "POST",
        "/api/auth/login",
        &[("Content-Type", "application/json")],
        &huge,
    );
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("8 KB"), "{body}");
    let (bearer, _) = login(port, "admin");
    let auth = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", "application/json"),
    ];
    let mailbox = request(
        port,
        "GET",
        &format!("{API}/mailboxes?$select=mailboxid&$top=1"),
        &auth,
        "",
    )
    .json()["value"][0]["mailboxid"]
        .as_str()
        .unwrap()
        .to_string();
    let patch = |body: String| {
        request(
            port,
            "PATCH",
            &format!("{API}/mailboxes({mailbox})"),
            &auth,
            &body,
        )
    };
    // A 16 MB name: refused by the body limit before anything is parsed.
    let (status, body) = send_big(
        port,
        "PATCH",
        &format!("{API}/mailboxes({mailbox})"),
        &auth,
        &json!({"name": "n".repeat(16 * 1024 * 1024)}).to_string(),
    );
    assert_eq!(status, 413, "{}", &body[..body.len().min(300)]);
    assert!(body.contains("4 MB"), "{body}");
    // Past MaxLength (mailbox name: 200 characters): Dataverse's validation error.
    let r = patch(json!({"name": "n".repeat(201)}).to_string());
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "0x80044331");
    assert!(
        r.body.contains("'name'") && r.body.contains("'200'"),
        "{}",
        r.body
    );
    assert_eq!(
        patch(json!({"name": "é".repeat(200)}).to_string()).status,
        204
    );
    // A value that looks sealed is never taken from a client.
    let r = patch(json!({"password": "sealed2:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}).to_string());
    assert_eq!(r.status, 400, "{}", r.body);
    // regardingobjectid is set at creation only.
    let r = patch(
        json!({"regardingobjectid@odata.bind": "/systemusers(00000000-0000-4000-8000-000000000001)"})
            .to_string(),
    );
    assert_eq!(r.status, 400, "{}", r.body);
}

/// A request whose body the server may refuse before reading it all: the answer is
/// read even when writing the rest fails (the server closed its side).
fn send_big(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(body.as_bytes());
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Reads the server's resident memory now and at its peak, in MB, from /proc.
fn memory_mb(server: &Server) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    let kb = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (kb("VmRSS:") / 1024, kb("VmHWM:") / 1024)
}

/// The documented bound on the server's resident memory under these attacks.
const MEMORY_BOUND_MB: u64 = 400;

#[test]
fn slow_connections_are_closed_and_do_not_hold_the_server() {
    use std::io::{Read, Write};
    let dir = TempDir::dist("slow");
    let server = Server::start_with(
        dir.path(),
        None,
        Some(PASSWORD),
        &["--header-read-timeout", "2"],
    );
    let port = server.port;
    // 500 connections that never finish their headers.
    let mut slow: Vec<std::net::TcpStream> = (0..500)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                .unwrap();
            s
        })
        .collect();
    // Meanwhile the server answers others.
    let started = Instant::now();
    let r = request(port, "GET", "/api/auth/me", &[], "");
    assert_eq!(r.status, 401);
    println!(
        "an answer among 500 slow connections: {:?}",
        started.elapsed()
    );
    // Closed after the header timeout: each read ends.
    std::thread::sleep(Duration::from_secs(3));
    let mut closed = 0;
    for s in &mut slow {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 512];
        // Closed: the end of the stream (or a 408 and then the end), or a reset; still
        // open would be a read timing out.
        match s.read(&mut buf) {
            Ok(_) => closed += 1,
            Err(e)
                if !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                closed += 1
            }
            Err(e) => panic!("still open after the header timeout: {e}"),
        }
    }
    assert_eq!(closed, 500);
    let (now, peak) = memory_mb(&server);
    println!("memory after 500 slow connections: {now} MB (peak {peak} MB)");
    assert!(peak < MEMORY_BOUND_MB, "{peak} MB");
}

#[test]
fn a_thousand_big_reads_in_one_batch_are_bounded_and_hold_no_one_up() {
    // 999 GETs of 5,000 mailboxes each, and one write: 1,000 operations.
    let dir = TempDir::dist("bigbatch");
    let server = Server::start(dir.path(), Some("scale:6000"), Some(PASSWORD));
    let port = server.port;
    let (admin, _) = login(port, "admin");
    let (other, _) = login(port, "admin");
    let mut body = String::new();
    for _ in 0..999 {
        body.push_str(
            "--batch_big\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
             GET mailboxes HTTP/1.1\r\nPrefer: odata.maxpagesize=5000\r\n\r\n\r\n",
        );
    }
    // One write too, so the batch would once have held the write lock throughout.
    body.push_str(
        "--batch_big\r\nContent-Type: application/http\r\n\r\n\
         PATCH organizations(00000000-0000-4000-8000-000000000000) HTTP/1.1\r\n\
         Content-Type: application/json\r\n\r\n{}\r\n--batch_big--\r\n",
    );
    println!("batch request: {} KB", body.len() / 1024);
    let mailbox = request(
        port,
        "GET",
        &format!("{API}/mailboxes?$select=mailboxid&$top=1"),
        &[("Authorization", &admin)],
        "",
    )
    .json()["value"][0]["mailboxid"]
        .as_str()
        .unwrap()
        .to_string();
    let batch = std::thread::spawn(move || {
        let t = Instant::now();
        let r = request(
            port,
            "POST",
            &format!("{API}/$batch"),
            &[
                ("Authorization", &admin),
                ("Content-Type", "multipart/mixed; boundary=batch_big"),
                ("Prefer", "odata.continue-on-error"),
            ],
            &body,
        );
        (r, t.elapsed())
    });
    // Another user's write while the batch runs.
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    let w = request(
        port,
        "PATCH",
        &format!("{API}/mailboxes({mailbox})"),
        &[
            ("Authorization", &other),
            ("Content-Type", "application/json"),
        ],
        &json!({"name": "Written during the batch"}).to_string(),
    );
    let write_took = t.elapsed();
    assert_eq!(w.status, 204, "{}", w.body);
    let (r, batch_took) = batch.join().unwrap();
    println!(
        "another user's write during the batch: {write_took:?}; the batch: {batch_took:?}, {} MB answered",
        r.body.len() / (1024 * 1024)
    );
    assert_eq!(r.status, 200, "{}", &r.body[..r.body.len().min(500)]);
    assert!(r.body.len() < 20 * 1024 * 1024, "{} bytes", r.body.len());
    assert!(r.body.contains("larger than the 16 MB a batch may answer"));
    let (now, peak) = memory_mb(&server);
    println!("memory after the batch: {now} MB (peak {peak} MB)");
    assert!(peak < MEMORY_BOUND_MB, "{peak} MB");
}

#[test]
fn under_tls_the_session_cookie_is_secure_and_host_prefixed() {
    use std::io::{Read, Write};
    use std::sync::Arc;
    let dir = TempDir::dist("tls");
    // A CA and a certificate for localhost signed by it.
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, leaf.pem()).unwrap();
    std::fs::write(&key, leaf_key.serialize_pem()).unwrap();
    let server = Server::start_with(
        dir.path(),
        Some("demo"),
        Some(PASSWORD),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let config = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth(),
    );
    let https = |req: &str| -> String {
        let conn =
            rustls::ClientConnection::new(config.clone(), "localhost".try_into().unwrap()).unwrap();
        let tcp = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        tls.write_all(req.as_bytes()).unwrap();
        let mut out = Vec::new();
        let _ = tls.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    };
    let body = json!({"username": "admin", "password": PASSWORD}).to_string();
    let answer = https(&format!(
        "POST /api/auth/login HTTP/1.1\r\nHost: localhost:{}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        server.port,
        body.len()
    ));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let cookie = answer
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap();
    assert!(cookie.contains("__Host-mailsync_session="), "{cookie}");
    assert!(
        cookie.contains("; Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"),
        "{cookie}"
    );
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("strict-transport-security: max-age="),
        "{answer}"
    );
    // Plain HTTP on the TLS port gets nothing useful.
    let plain = std::panic::catch_unwind(|| request(server.port, "GET", "/api/auth/me", &[], ""));
    assert!(plain.map(|r| r.status != 401).unwrap_or(true));
}
