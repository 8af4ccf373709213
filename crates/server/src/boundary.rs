//! The browser boundary: what every request and answer passes through, before any
//! route (see ARCHITECTURE.md, "Security").
//!
//! * **Host** (`check_host`): only the names this server is served under are answered:
//!   the loopback names, the `--bind` address and the `--public-host` names. A page on
//!   another name whose DNS was rebound to this machine gets 421, never the API.
//! * **Forgery** (`check_origin`): a request that the session *cookie* authenticates,
//!   and every sign-in or sign-out, is refused (403) when the browser says it comes
//!   from another origin: `Sec-Fetch-Site` other than `same-origin`/`none`, or an
//!   `Origin` whose host and port are not the `Host` (same-site pages on another port
//!   or a sibling subdomain send a SameSite=Strict cookie too). Requests with
//!   `Authorization: Bearer`, which a browser never adds by itself, are not checked.
//!   JSON bodies must say `application/json` (`crate::auth::require_json`), so a
//!   `text/plain` form post is never read.
//! * **Headers** (`secure_headers`): `X-Content-Type-Options: nosniff`,
//!   `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`, a Content-Security-Policy
//!   on every answer (the console's own on `index.html`: `console_csp`, which allows
//!   Trunk's inline loader script by its hash), `Cache-Control: no-store` on the API
//!   and `Strict-Transport-Security` under TLS.
//! * **Time** (`time_limit`): a request must be answered within the request timeout.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::error::{codes, ApiError};

/// The hosts of Microsoft Entra ID and Dataverse that the console signs in to and
/// calls when it manages a real organization (commercial cloud; others by option).
pub const MICROSOFT_ORIGINS: &[&str] = &[
    "https://login.microsoftonline.com",
    "https://*.dynamics.com",
];

/// Where this server is served, and what the console may connect to.
#[derive(Debug, Clone)]
pub struct Boundary {
    /// Host names (lower-case, without port or brackets) this server answers.
    pub hosts: Vec<String>,
    /// Bound to every address (`0.0.0.0`, `::`): any IP literal is one of ours.
    pub any_ip: bool,
    /// Served over TLS.
    pub tls: bool,
    /// `connect-src` origins beyond `'self'` and `MICROSOFT_ORIGINS`.
    pub connect_src: Vec<String>,
}

impl Boundary {
    /// The names served for a bind address and the `--public-host` names.
    pub fn new(bind: IpAddr, public_hosts: &[String], tls: bool, connect_src: &[String]) -> Self {
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        if !bind.is_unspecified() {
            hosts.push(bind.to_string());
        }
        hosts.extend(
            public_hosts
                .iter()
                .map(|h| bare_host(h).to_ascii_lowercase()),
        );
        Boundary {
            hosts,
            any_ip: bind.is_unspecified(),
            tls,
            connect_src: connect_src.to_vec(),
        }
    }

    /// Whether a `Host` header names this server.
    pub fn serves(&self, host: &str) -> bool {
        let name = bare_host(host).to_ascii_lowercase();
        if name.is_empty() {
            return false;
        }
        if self.hosts.contains(&name) || name.ends_with(".localhost") {
            return true;
        }
        self.any_ip && name.parse::<IpAddr>().is_ok()
    }
}

/// `example.com:8080` → `example.com`; `[::1]:8080` → `::1`.
fn bare_host(host: &str) -> &str {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        // `[v6]` or `[v6]:port`, nothing else after the bracket.
        return match rest.split_once(']') {
            Some((v6, "")) => v6,
            Some((v6, port))
                if port.len() > 1
                    && port.starts_with(':')
                    && port[1..].bytes().all(|b| b.is_ascii_digit()) =>
            {
                v6
            }
            _ => "",
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// `host[:port]` of an origin (`https://Example.com:443` → `example.com`), with the
/// scheme's default port left out, as a `Host` header writes it.
fn origin_authority(origin: &str) -> Option<String> {
    let (scheme, rest) = origin.trim().split_once("://")?;
    let authority = rest.split('/').next()?.to_ascii_lowercase();
    let default = match scheme.to_ascii_lowercase().as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => return None,
    };
    Some(
        authority
            .strip_suffix(default)
            .map(str::to_string)
            .unwrap_or(authority),
    )
}

fn normalize_host(host: &str) -> String {
    let h = host.trim().to_ascii_lowercase();
    h.strip_suffix(":80")
        .or_else(|| h.strip_suffix(":443"))
        .map(str::to_string)
        .unwrap_or(h)
}

/// Middleware: 421 for a `Host` this server is not served under.
pub async fn check_host(
    State(boundary): State<Arc<Boundary>>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()))
        .unwrap_or("");
    if boundary.serves(host) {
        return next.run(request).await;
    }
    let message = format!(
        "This server is not served under the name '{}'. Use one of its names, or start it \
         with --public-host NAME.",
        bare_host(host)
    );
    ApiError::new(
        StatusCode::MISDIRECTED_REQUEST,
        codes::INVALID_ARGUMENT,
        message,
    )
    .into_response()
}

/// Why a request is refused as forged, if it is: see the module's documentation.
pub fn forged(method: &Method, path: &str, headers: &HeaderMap, tls: bool) -> Option<String> {
    let by_cookie = crate::auth::bearer(headers).is_none()
        && crate::auth::session_cookie_value(headers, tls).is_some();
    let sign_in = path.starts_with("/api/auth/")
        && !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !by_cookie && !sign_in {
        return None;
    }
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site")) {
        if !matches!(site.trim(), "same-origin" | "none") {
            return Some(format!("it was sent by a {} page", site.trim()));
        }
    }
    if let Some(origin) = text(header::ORIGIN) {
        let host = text(header::HOST).map(normalize_host).unwrap_or_default();
        if origin_authority(origin).is_none_or(|a| a != host) {
            return Some(format!("its Origin '{origin}' is not this server"));
        }
    }
    None
}

/// Middleware over `/api`: 403 for a forged request.
pub async fn check_origin(
    State(boundary): State<Arc<Boundary>>,
    request: Request,
    next: Next,
) -> Response {
    // Nested under `/api`, the router sees the path without it: the original has it.
    let path = request
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map_or_else(
            || request.uri().path().to_string(),
            |u| u.path().to_string(),
        );
    match forged(request.method(), &path, request.headers(), boundary.tls) {
        None => next.run(request).await,
        Some(why) => ApiError::forbidden(
            codes::UNAUTHORIZED,
            format!(
                "This request was refused because {why}: the session cookie is only \
                 accepted from the console's own pages. Other applications sign in and send \
                 'Authorization: Bearer <token>'."
            ),
        )
        .into_response(),
    }
}

/// The Content-Security-Policy of the console's page: its own files, WebAssembly, the
/// inline scripts of `html` by their hashes (Trunk's loader), and connections to this
/// server, Microsoft Entra ID, Dataverse and the origins given by option.
pub fn console_csp(html: &str, connect_src: &[String]) -> String {
    let hashes: Vec<String> = inline_scripts(html)
        .into_iter()
        .map(|s| {
            let digest = ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
            format!("'sha256-{}'", B64.encode(digest.as_ref()))
        })
        .collect();
    let mut connect = vec!["'self'".to_string()];
    connect.extend(MICROSOFT_ORIGINS.iter().map(|s| s.to_string()));
    connect.extend(connect_src.iter().cloned());
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{}{}; style-src 'self'; \
         img-src 'self' data:; connect-src {}; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'",
        if hashes.is_empty() { "" } else { " " },
        hashes.join(" "),
        connect.join(" ")
    )
}

/// The content of every `<script>` without `src` in `html`, exactly as written.
fn inline_scripts(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut at = 0;
    while let Some(start) = lower[at..].find("<script").map(|i| at + i) {
        let Some(tag_end) = lower[start..].find('>').map(|i| start + i) else {
            break;
        };
        let Some(close) = lower[tag_end..].find("</script").map(|i| tag_end + i) else {
            break;
        };
        let tag = &lower[start..tag_end];
        if !tag.contains(" src=") && !tag.contains("\tsrc=") && !tag.contains("\nsrc=") {
            out.push(&html[tag_end + 1..close]);
        }
        at = close;
    }
    out
}

/// The policy of every answer that is not the console's page.
const NO_CONTENT_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// Middleware: the security headers of every answer.
pub async fn secure_headers(
    State(boundary): State<Arc<Boundary>>,
    request: Request,
    next: Next,
) -> Response {
    let api = request.uri().path().starts_with("/api/") || request.uri().path() == "/api";
    let mut resp = next.run(request).await;
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(NO_CONTENT_POLICY));
    if api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if boundary.tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    resp
}

/// Middleware: a request not answered within the limit gets 503 (its work is dropped).
pub async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(resp) => resp,
        Err(_) => {
            let mut resp = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                codes::UNEXPECTED,
                format!(
                    "The request was not answered within the {} s this server allows; \
                     ask for less at a time.",
                    limit.as_secs()
                ),
            )
            .into_response();
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            resp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn hosts() {
        let b = Boundary::new(
            "127.0.0.1".parse().unwrap(),
            &["Console.Example.com".into()],
            false,
            &[],
        );
        for ok in [
            "127.0.0.1:8080",
            "localhost",
            "LOCALHOST:1",
            "[::1]:80",
            "console.example.com:443",
            "app.localhost:8080",
        ] {
            assert!(b.serves(ok), "{ok}");
        }
        for bad in [
            "",
            "evil.com",
            "evil.com:8080",
            "127.0.0.2:8080",
            "[::2]",
            "example.com",
            // Nothing but a port after an IPv6 literal (the name would go into a
            // redirect URI otherwise).
            "[::1]@evil.example",
            "[::1]:80/x",
            "[::1]:",
        ] {
            assert!(!b.serves(bad), "{bad}");
        }
        let any = Boundary::new("0.0.0.0".parse().unwrap(), &[], false, &[]);
        assert!(any.serves("192.0.2.7:8080") && any.serves("[2001:db8::1]:1"));
        assert!(!any.serves("rebound.example:8080"));
        let one = Boundary::new("192.0.2.7".parse().unwrap(), &[], false, &[]);
        assert!(one.serves("192.0.2.7:8080") && !one.serves("192.0.2.8:8080"));
    }

    #[test]
    fn forgery() {
        let post = Method::POST;
        let cookie = ("cookie", "mailsync_session=abc");
        let host = ("host", "127.0.0.1:8080");
        // Same origin: fine.
        assert_eq!(
            forged(
                &post,
                "/api/data/v9.2/mailboxes",
                &headers(&[
                    cookie,
                    host,
                    ("origin", "http://127.0.0.1:8080"),
                    ("sec-fetch-site", "same-origin")
                ]),
                false
            ),
            None
        );
        // Another port on the same host (same-site) and a sibling subdomain: refused.
        assert!(forged(
            &post,
            "/api/data/v9.2/emails",
            &headers(&[cookie, host, ("origin", "http://127.0.0.1:9999")]),
            false
        )
        .is_some());
        assert!(forged(
            &Method::GET,
            "/api/data/v9.2/emails",
            &headers(&[cookie, host, ("sec-fetch-site", "same-site")]),
            false
        )
        .is_some());
        assert!(forged(
            &post,
            "/api/data/v9.2/emails",
            &headers(&[cookie, host, ("origin", "null")]),
            false
        )
        .is_some());
        // A bearer token is not the browser's doing: not checked.
        assert_eq!(
            forged(
                &post,
                "/api/data/v9.2/emails",
                &headers(&[
                    cookie,
                    host,
                    ("authorization", "Bearer x"),
                    ("origin", "http://evil.example")
                ]),
                false
            ),
            None
        );
        // Sign-in and sign-out are checked without a cookie.
        assert!(forged(
            &post,
            "/api/auth/login",
            &headers(&[host, ("origin", "http://evil.example")]),
            false
        )
        .is_some());
        assert_eq!(
            forged(
                &post,
                "/api/auth/login",
                &headers(&[host, ("origin", "http://127.0.0.1:8080")]),
                false
            ),
            None
        );
        // No cookie, no sign-in: nothing to forge.
        assert_eq!(
            forged(
                &post,
                "/api/data/v9.2/emails",
                &headers(&[host, ("origin", "http://evil.example")]),
                false
            ),
            None
        );
        // Default ports.
        assert_eq!(
            origin_authority("https://Example.com:443").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            forged(
                &post,
                "/api/auth/logout",
                &headers(&[
                    ("cookie", "__Host-mailsync_session=a"),
                    ("host", "example.com:443"),
                    ("origin", "https://example.com")
                ]),
                true
            ),
            None
        );
    }

    #[test]
    fn the_console_policy_allows_its_inline_loader_by_hash() {
        let html = "<html><head><script type=\"module\">import init from '/a.js';init();</script>\
                    <script src=\"/b.js\"></script></head></html>";
        let csp = console_csp(html, &["https://proxy.example".into()]);
        let digest =
            ring::digest::digest(&ring::digest::SHA256, b"import init from '/a.js';init();");
        assert!(
            csp.contains(&format!("'sha256-{}'", B64.encode(digest.as_ref()))),
            "{csp}"
        );
        assert_eq!(csp.matches("'sha256-").count(), 1, "{csp}");
        assert!(csp.contains("'wasm-unsafe-eval'") && !csp.contains("unsafe-inline"));
        assert!(csp.contains("connect-src 'self' https://login.microsoftonline.com https://*.dynamics.com https://proxy.example;"));
        assert!(csp.ends_with("frame-ancestors 'none'"));
    }
}
