//! Sign-in against the real binary: `mailsync serve --db <temp> --seed demo` on an
//! ephemeral port, spoken to over real TCP on 127.0.0.1.

mod common;

use common::{request, Resp, Server, TempDir, BIN};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const PASSWORD: &str = "correct horse battery staple";

fn login(port: u16, user: &str, password: &str) -> Resp {
    let body = serde_json::json!({"username": user, "password": password}).to_string();
    request(
        port,
        "POST",
        "/api/auth/login",
        &[("Content-Type", "application/json")],
        &body,
    )
}

#[test]
fn sign_in_with_bearer_and_cookie_then_sign_out() {
    let dir = TempDir::dist("signin");
    let server = Server::start(dir.path(), Some("demo"), Some(PASSWORD));
    let port = server.port;

    // Signed out: every API route and unknown API path is a 401 in Dataverse's shape.
    for path in [
        "/api/data/v9.2/WhoAmI",
        "/api/auth/me",
        "/api/data/v9.2/mailboxes",
        "/api/whatever",
    ] {
        let r = request(port, "GET", path, &[], "");
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(r.error_code(), "0x80040220", "{path}");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
    let r = request(port, "POST", "/api/auth/logout", &[], "");
    assert_eq!(r.status, 401);

    // Wrong credentials.
    for (user, pw) in [("admin", "wrong"), ("nobody", PASSWORD), ("admin", "")] {
        let r = login(port, user, pw);
        assert_eq!(r.status, 401, "{user}/{pw}");
        assert_eq!(r.error_code(), "0x80040220");
        assert!(r.header("set-cookie").is_none());
    }
    // Malformed bodies are 400s, not crashes; a body that does not say it is JSON
    // (a form or text/plain post, what another site can send) is not read at all.
    for body in ["", "{", "[]", "{\"username\": 1}", "null"] {
        let json = [("Content-Type", "application/json")];
        let r = request(port, "POST", "/api/auth/login", &json, body);
        assert_eq!(r.status, 400, "{body:?}");
        assert_eq!(r.error_code(), "0x80040203");
        let r = request(port, "POST", "/api/auth/login", &[], body);
        assert_eq!(r.status, 415, "{body:?}");
    }

    // Oversized credentials are refused before any hashing.
    let huge = "x".repeat(2_000);
    let r = login(port, "admin", &huge);
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "0x80040203");
    let r = login(port, "admin", &"x".repeat(100_000));
    assert_eq!(r.status, 413, "the sign-in body limit");

    // The right password.
    let r = login(port, "admin", PASSWORD);
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.json()["access_token"].as_str().unwrap().to_string();
    assert!(token.len() >= 32);
    let cookie = r.header("set-cookie").expect("session cookie").to_string();
    assert!(
        cookie.starts_with(&format!("mailsync_session={token};")),
        "{cookie}"
    );
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");

    // Bearer token.
    let bearer = format!("Bearer {token}");
    let who = request(
        port,
        "GET",
        "/api/data/v9.2/WhoAmI",
        &[("Authorization", &bearer)],
        "",
    );
    assert_eq!(who.status, 200, "{}", who.body);
    let user_id = who.json()["UserId"].as_str().unwrap().to_string();
    assert_eq!(user_id.len(), 36);
    assert!(who.json()["OrganizationId"].is_string());

    // Cookie.
    let cookie_header = format!("theme=dark; mailsync_session={token}");
    let me = request(
        port,
        "GET",
        "/api/auth/me",
        &[("Cookie", &cookie_header)],
        "",
    );
    assert_eq!(me.status, 200, "{}", me.body);
    let me = me.json();
    assert_eq!(me["systemuserid"], user_id.as_str());
    // UPN-style, as in Dataverse (signed in with the short name "admin").
    assert_eq!(me["domainname"], "admin@contoso.com");
    let roles: Vec<&str> = me["roles"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.as_str())
        .collect();
    assert_eq!(roles, ["System Administrator", "Global Administrator"]);
    // Never the password hash.
    assert!(!me.to_string().contains("argon2"), "{me}");

    // A bad token is refused, as is a different scheme.
    for auth in ["Bearer 00ff", "Basic YWRtaW46eA=="] {
        let r = request(port, "GET", "/api/auth/me", &[("Authorization", auth)], "");
        assert_eq!(r.status, 401, "{auth}");
    }

    // Signed in, unknown API paths are JSON 404s, not the console.
    let r = request(
        port,
        "GET",
        "/api/data/v9.2/nosuchset",
        &[("Authorization", &bearer)],
        "",
    );
    assert_eq!(r.status, 404);
    assert_eq!(r.error_code(), "0x80060888");
    assert!(!r.body.contains("mailsync-test-index"));

    // The console still gets its SPA fallback.
    let r = request(port, "GET", "/mailboxes", &[], "");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("mailsync-test-index"));

    // A demo user without an admin role signs in with the same password.
    let r = login(port, "nestor", PASSWORD);
    assert_eq!(r.status, 200);
    let other = r.json()["access_token"].as_str().unwrap().to_string();
    let me = request(
        port,
        "GET",
        "/api/auth/me",
        &[("Authorization", &format!("Bearer {other}"))],
        "",
    );
    assert_eq!(me.json()["roles"].as_array().map(Vec::len), Some(0));

    // Logout ends that session only, and clears the cookie.
    let out = request(
        port,
        "POST",
        "/api/auth/logout",
        &[("Cookie", &cookie_header)],
        "",
    );
    assert_eq!(out.status, 204);
    assert!(out
        .header("set-cookie")
        .is_some_and(|c| c.contains("Max-Age=0")));
    let r = request(
        port,
        "GET",
        "/api/data/v9.2/WhoAmI",
        &[("Authorization", &bearer)],
        "",
    );
    assert_eq!(r.status, 401);
    let r = request(
        port,
        "GET",
        "/api/auth/me",
        &[("Authorization", &format!("Bearer {other}"))],
        "",
    );
    assert_eq!(r.status, 200);
}

#[test]
fn restart_keeps_the_organization_and_its_sessions() {
    let dir = TempDir::dist("restart");
    let first = Server::start(dir.path(), Some("demo"), Some(PASSWORD));
    let token = login(first.port, "admin", PASSWORD).json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    drop(first);

    // Started again with another seed and password: nothing is overwritten, the old
    // password and the old session still work.
    let second = Server::start(dir.path(), Some("scale:10"), Some("another password"));
    assert_eq!(login(second.port, "admin", "another password").status, 401);
    assert_eq!(login(second.port, "admin", PASSWORD).status, 200);
    let r = request(
        second.port,
        "GET",
        "/api/data/v9.2/WhoAmI",
        &[("Authorization", &format!("Bearer {token}"))],
        "",
    );
    assert_eq!(r.status, 200);
}

#[test]
fn generated_admin_password_is_printed_once() {
    let dir = TempDir::dist("generated");
    // Starts the server without MAILSYNC_ADMIN_PASSWORD; returns it with its stderr up
    // to the "serving" line.
    let start = || {
        let mut child = Command::new(BIN)
            .args(["serve", "--port", "0", "--dist"])
            .arg(dir.path())
            .arg("--db")
            .arg(dir.path().join("org.sqlite"))
            .env_remove("MAILSYNC_ADMIN_PASSWORD")
            .env_remove("MAILSYNC_DB")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut text = String::new();
        for _ in 0..20 {
            let mut line = String::new();
            if stderr.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            text.push_str(&line);
            if line.starts_with("serving ") {
                break;
            }
        }
        (child, text)
    };
    let (mut child, text) = start();
    let password = text.lines().find_map(|l| {
        l.strip_prefix("mailsync serve: sign in as admin with password ")
            .map(str::to_string)
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    stdout.read_line(&mut banner).unwrap();
    let port: u16 = banner
        .trim()
        .strip_prefix("mailsync console: http://127.0.0.1:")
        .and_then(|r| r.strip_suffix('/'))
        .and_then(|p| p.parse().ok())
        .unwrap();
    let password = password.unwrap_or_else(|| panic!("no generated password in {text:?}"));
    assert!(password.len() >= 16);
    assert_eq!(login(port, "admin", &password).status, 200);
    let _ = child.kill();
    let _ = child.wait();

    // Second start: the organization exists, the password is not printed again.
    let (mut child, text) = start();
    assert!(!text.contains(&password), "{text}");
    assert!(!text.contains("created the organization"), "{text}");
    let _ = child.kill();
    let _ = child.wait();
    let again = Server::start(dir.path(), None, None);
    assert_eq!(login(again.port, "admin", &password).status, 200);
}

#[test]
fn wrong_methods_and_password_floods() {
    let dir = TempDir::dist("flood");
    let server = Server::start(dir.path(), Some("demo"), Some(PASSWORD));
    let port = server.port;

    // A wrong method is a 405 in Dataverse's shape that says which one to use.
    let r = request(port, "GET", "/api/auth/login", &[], "");
    assert_eq!(r.status, 405, "{}", r.body);
    assert_eq!(r.error_code(), "0x80040800");
    assert!(r.body.contains("POST"), "{}", r.body);
    assert_eq!(r.header("allow"), Some("POST"));
    let token = login(port, "admin", PASSWORD).json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let bearer = format!("Bearer {token}");
    for (method, path) in [
        ("GET", "/api/auth/logout"),
        ("DELETE", "/api/auth/me"),
        ("POST", "/api/data/v9.2/WhoAmI"),
    ] {
        let r = request(port, method, path, &[("Authorization", &bearer)], "");
        assert_eq!(r.status, 405, "{method} {path}: {}", r.body);
        assert_eq!(r.error_code(), "0x80040800", "{method} {path}");
    }

    // Many wrong passwords at once: each is still a 401 that says why (the checks wait
    // their turn), and the right password still signs in meanwhile.
    let guesses: Vec<_> = (0..12)
        .map(|i| std::thread::spawn(move || login(port, "admin", &format!("guess {i}"))))
        .collect();
    let good = login(port, "admin", PASSWORD);
    for g in guesses {
        let r = g.join().unwrap();
        assert_eq!(r.status, 401, "{}", r.body);
        assert_eq!(r.error_code(), "0x80040220");
        assert!(
            r.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains("user name or password is incorrect"),
            "{}",
            r.body
        );
    }
    assert_eq!(good.status, 200, "{}", good.body);
}
