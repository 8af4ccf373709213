//! One HTTP/1.1 POST over the engine's own connection (same DNS, timeouts and TLS as
//! the mail protocols), with hyper's client connection, and a bounded answer.

use std::fmt;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{HeaderValue, HOST, LOCATION, WWW_AUTHENTICATE};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::time::timeout;

use super::net::{self, secs};
use super::tls::{is_rustls, tls_message};
use super::{Endpoint, Failure, FailureKind, Security, Timeouts, Tls};

const MAX_BODY: usize = 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Url {
    pub(crate) https: bool,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Path and query, starting with `/`.
    pub(crate) path: String,
}

impl Url {
    pub(crate) fn parse(s: &str) -> Result<Url, String> {
        let bad = || format!("not an http(s) URL: {s:?}");
        let (https, rest) = if let Some(r) = strip_prefix_ci(s.trim(), "https://") {
            (true, r)
        } else if let Some(r) = strip_prefix_ci(s.trim(), "http://") {
            (false, r)
        } else {
            return Err(bad());
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        let path = path.split('#').next().unwrap_or("");
        let path = if path.is_empty() || path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        if authority.contains('@') || authority.is_empty() {
            return Err(bad());
        }
        let (host, port) = match authority.rfind(':') {
            // `[::1]:443` or `host:443`; a bare IPv6 address has no port after `]`.
            Some(i) if !authority[i..].contains(']') => {
                let port = authority[i + 1..].parse::<u16>().map_err(|_| bad())?;
                (&authority[..i], port)
            }
            _ => (authority, if https { 443 } else { 80 }),
        };
        if host.is_empty() || path.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        Ok(Url {
            https,
            host: host.to_string(),
            port,
            path,
        })
    }

    fn endpoint(&self) -> Endpoint {
        let security = if self.https {
            Security::Tls
        } else {
            Security::Plain
        };
        Endpoint::new(self.host.clone(), self.port, security)
    }

    fn authority(&self) -> String {
        let default = if self.https { 443 } else { 80 };
        if self.port == default {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}{}", self.authority(), self.path)
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) reason: &'static str,
    pub(crate) location: Option<String>,
    pub(crate) www_authenticate: Option<String>,
    pub(crate) body: Vec<u8>,
}

/// Stops hyper's connection task when the exchange ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(crate) async fn post(
    url: &Url,
    headers: &[(&'static str, String)],
    body: String,
    tls: &Tls,
    t: &Timeouts,
) -> Result<Response, Failure> {
    send(Method::POST, url, headers, body, tls, t).await
}

/// A GET (an OpenID Connect discovery document, a key set).
pub(crate) async fn get(
    url: &Url,
    headers: &[(&'static str, String)],
    tls: &Tls,
    t: &Timeouts,
) -> Result<Response, Failure> {
    send(Method::GET, url, headers, String::new(), tls, t).await
}

async fn send(
    method: Method,
    url: &Url,
    headers: &[(&'static str, String)],
    body: String,
    tls: &Tls,
    t: &Timeouts,
) -> Result<Response, Failure> {
    let stream = net::connect(&url.endpoint(), tls, t).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
            .await
            .map_err(|e| hyper_failure(&e))?;
    let _driver = AbortOnDrop(tokio::spawn(async move {
        let _ = conn.await;
    }));
    let mut req = Request::builder()
        .method(method)
        .uri(url.path.as_str())
        .header(HOST, url.authority());
    for (name, value) in headers {
        let value = HeaderValue::from_str(value).map_err(|_| {
            Failure::new(
                FailureKind::Protocol,
                "http",
                format!("the {name} header cannot carry that value"),
            )
        })?;
        req = req.header(*name, value);
    }
    let req = req
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| Failure::new(FailureKind::Protocol, "http", e.to_string()))?;
    let too_slow = || {
        Failure::new(
            FailureKind::Timeout,
            "http",
            format!("no answer within {}", secs(t.io)),
        )
    };
    let resp = timeout(t.io, sender.send_request(req))
        .await
        .map_err(|_| too_slow())?
        .map_err(|e| hyper_failure(&e))?;
    let status = resp.status();
    let header = |name| {
        resp.headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let location = header(LOCATION);
    let www_authenticate = header(WWW_AUTHENTICATE);
    let collected = timeout(t.io, Limited::new(resp.into_body(), MAX_BODY).collect())
        .await
        .map_err(|_| too_slow())?;
    let body = match collected {
        Ok(c) => c.to_bytes().to_vec(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return Err(Failure::new(
                FailureKind::Protocol,
                "http",
                format!("an answer longer than {MAX_BODY} bytes"),
            ))
        }
        Err(e) => return Err(chain_failure(e.as_ref())),
    };
    Ok(Response {
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or(""),
        location,
        www_authenticate,
        body,
    })
}

fn hyper_failure(e: &hyper::Error) -> Failure {
    chain_failure(e)
}

/// hyper's error and its causes in one message; Tls when rustls is among them.
fn chain_failure(e: &(dyn std::error::Error + 'static)) -> Failure {
    let mut parts = vec![e.to_string()];
    let mut kind = FailureKind::Protocol;
    let mut cause = e.source();
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            if is_rustls(io) {
                kind = FailureKind::Tls;
                parts.push(tls_message(io));
                break;
            }
        }
        parts.push(c.to_string());
        cause = c.source();
    }
    parts.dedup();
    Failure::new(kind, "http", parts.join(": "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = Url::parse("https://mail.contoso.com/EWS/Exchange.asmx").unwrap();
        assert_eq!(
            (u.https, u.host.as_str(), u.port),
            (true, "mail.contoso.com", 443)
        );
        assert_eq!(u.path, "/EWS/Exchange.asmx");
        assert_eq!(u.to_string(), "https://mail.contoso.com/EWS/Exchange.asmx");
        let u = Url::parse("HTTP://127.0.0.1:8080?x=1#frag").unwrap();
        assert_eq!((u.https, u.port, u.path.as_str()), (false, 8080, "/?x=1"));
        let u = Url::parse("https://[::1]:4443/a").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("[::1]", 4443));
        assert_eq!(Url::parse("https://[::1]/").unwrap().port, 443);
        for bad in [
            "",
            "ftp://x/",
            "https://",
            "https://:443/",
            "https://u:p@host/",
            "https://host:99999/",
            "https://host:x/",
            "https://host/a b",
            "https://h\u{e9}\u{301}:",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad:?}");
        }
    }
}
