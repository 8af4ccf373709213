//! The console's client for the Web API of the organization in use, over gloo-net's
//! `fetch`: the local organization (`/api`, served by `mailsync serve`) or a real
//! Dataverse environment (`crate::org`).
//!
//! Pages write paths as `/api/data/v9.2/...`; `org::current::resolve` sends them to
//! the organization in use. Local requests are same-origin and send the HttpOnly
//! session cookie (the console never sees it); Dataverse requests go cross-origin with
//! `Authorization: Bearer` and no cookie, the token renewed before it expires and once
//! after a 401. Failures become [`ApiError`], which reads Dataverse's
//! `{"error": {"code": "0x...", "message": "..."}}` body, so pages can show the server's
//! own message.
//!
//! Every call honours Dataverse's service protection: a 429 waits for `Retry-After` and
//! is sent again (up to `THROTTLE_RETRIES` times).
//!
//! Futures here are not `Send` (they hold JS values): run them with
//! `leptos::task::spawn_local`, `Action::new_local` or `LocalResource`.

mod auth;
pub mod batch;
mod collection;
mod labels;
mod records;
mod url;

pub use auth::{login, logout, me, User};
pub use collection::{counts, fetch_all, names, profile_names, Collection, Total, ANNOTATED};
pub use labels::{provide_option_labels, OrgLabels};
pub use records::{create, delete, patch_json, same_origin};
pub use url::{decode, encode};

use std::fmt;

use gloo_net::http::{Method, Request, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use web_sys::RequestCredentials;

/// A failed API call: the server's error, or why no answer could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status; 0 when no response arrived (network failure, server stopped).
    pub status: u16,
    /// Dataverse's error code (`0x...`), when the server sent one.
    pub code: Option<String>,
    /// A sentence for the user: the server's message when it sent one.
    pub message: String,
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Dataverse's error body: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

impl ApiError {
    /// Whether trying again may help: no answer, a timeout, throttling or a server
    /// error pass; privileges, a rule or a missing record do not (a bulk run's "Retry
    /// the failed ones" takes only these).
    pub fn passing(&self) -> bool {
        matches!(self.status, 0 | 408 | 429 | 500..=599)
    }

    /// The session is missing or expired (401).
    pub fn is_unauthorized(&self) -> bool {
        self.status == 401
    }

    /// An error response: Dataverse's error body when it is one, else the status line.
    pub fn from_response(status: u16, status_text: &str, body: &str) -> Self {
        if let Ok(ErrorBody { error }) = serde_json::from_str::<ErrorBody>(body) {
            if let Some(message) = error.message.filter(|m| !m.trim().is_empty()) {
                return ApiError {
                    status,
                    code: error.code.filter(|c| !c.is_empty()),
                    message,
                };
            }
        }
        let status_text = status_text.trim();
        let message = if status_text.is_empty() {
            format!("The server answered with HTTP status {status}.")
        } else {
            format!("The server answered with HTTP status {status} ({status_text}).")
        };
        ApiError {
            status,
            code: None,
            message,
        }
    }

    /// No answer at all: the request could not be sent or the connection failed.
    fn network(error: impl fmt::Display) -> Self {
        ApiError {
            status: 0,
            code: None,
            message: format!(
                "The organization could not be reached ({error}). Is `mailsync serve` running?"
            ),
        }
    }

    /// A success status whose body is not what the console expects.
    fn unreadable(status: u16, error: impl fmt::Display) -> Self {
        ApiError {
            status,
            code: None,
            message: format!("The server's answer could not be read: {error}"),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

thread_local! {
    /// Told when the server answers 401 outside sign-in: the session has ended.
    static ON_EXPIRED: std::cell::RefCell<Option<std::rc::Rc<dyn Fn()>>> =
        const { std::cell::RefCell::new(None) };
}

/// Registers what to do when a request finds the session gone (`session.rs` signs the
/// console out, so the page asks to sign in again instead of failing call by call).
pub fn on_session_expired(f: impl Fn() + 'static) {
    ON_EXPIRED.with(|e| *e.borrow_mut() = Some(std::rc::Rc::new(f)));
}

/// A 401 from any API but sign-in's own means the session expired.
fn notice_unauthorized(response: &Response) {
    if response.status() == 401 && !response.url().contains("/api/auth/") {
        if let Some(f) = ON_EXPIRED.with(|e| e.borrow().clone()) {
            f();
        }
    }
}

/// A request to `path` for the organization in use: same-origin with the session
/// cookie, or to the Dataverse environment with its bearer token and no cookie.
fn request(method: Method, path: &str) -> RequestBuilder {
    let to = crate::org::current::resolve(path);
    let credentials = if to.same_origin {
        RequestCredentials::SameOrigin
    } else {
        RequestCredentials::Omit
    };
    let builder = RequestBuilder::new(&to.url)
        .method(method)
        .credentials(credentials)
        .header("Accept", "application/json");
    match to.bearer {
        Some(token) => builder.header("Authorization", &format!("Bearer {token}")),
        None => builder,
    }
}

/// Before a request: the environment's token, renewed if it is about to expire.
/// After a 401 from an environment: renewed once, then the request is sent again.
async fn renewed_after(status: u16, renewed: &mut bool) -> bool {
    if status != 401 || *renewed {
        return false;
    }
    let crate::org::current::Org::Dataverse(env) = crate::org::current::current() else {
        return false;
    };
    *renewed = true;
    matches!(crate::org::flow::renew(&env).await, Ok(true))
}

/// Sends the request `build` makes; a non-2xx answer becomes an [`ApiError`] read from
/// its body. A 429 is honoured: it waits for `Retry-After` and builds the request again.
async fn send(build: impl Fn() -> Result<Request, gloo_net::Error>) -> ApiResult<Response> {
    let mut attempt = 0;
    let mut renewed = false;
    crate::org::flow::ensure_token().await;
    loop {
        let request = build().map_err(ApiError::network)?;
        let response = request.send().await.map_err(ApiError::network)?;
        if response.ok() {
            return Ok(response);
        }
        if response.status() == 429 && attempt < THROTTLE_RETRIES {
            attempt += 1;
            sleep_ms(retry_after_ms(&response, attempt)).await;
            continue;
        }
        if renewed_after(response.status(), &mut renewed).await {
            continue;
        }
        notice_unauthorized(&response);
        let body = response.text().await.unwrap_or_default();
        return Err(ApiError::from_response(
            response.status(),
            &response.status_text(),
            &body,
        ));
    }
}

/// How long to wait after the `attempt`th 429 (1-based): its `Retry-After` in seconds,
/// or, when the header cannot be read (Dataverse does not say it exposes it to other
/// origins), an exponential back-off: 2, 4, 8 ... 60 seconds.
fn retry_after_ms(response: &Response, attempt: u32) -> i32 {
    let secs = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or_else(|| f64::from(2u32.saturating_pow(attempt.min(6))).min(60.0))
        .clamp(0.0, 300.0);
    (secs * 1000.0) as i32
}

/// Reads a JSON body.
async fn read_json<T: DeserializeOwned>(response: Response) -> ApiResult<T> {
    let status = response.status();
    response
        .json::<T>()
        .await
        .map_err(|e| ApiError::unreadable(status, e))
}

/// `GET path` → JSON.
pub async fn get_json<T: DeserializeOwned>(path: &str) -> ApiResult<T> {
    read_json(send(|| request(Method::GET, path).build()).await?).await
}

/// `POST path` with a JSON body → JSON.
pub async fn post_json<B, T>(path: &str, body: &B) -> ApiResult<T>
where
    B: Serialize + ?Sized,
    T: DeserializeOwned,
{
    read_json(send(|| request(Method::POST, path).json(body)).await?).await
}

/// `POST path` without a body; the answer's body (if any) is ignored.
pub async fn post_empty(path: &str) -> ApiResult<()> {
    send(|| request(Method::POST, path).build()).await.map(drop)
}

/// An answer read whatever its status (the caller decides what a failure means).
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub status_text: String,
    pub content_type: String,
    pub body: String,
}

impl RawResponse {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The answer as an [`ApiError`] (Dataverse's error body when it is one).
    pub fn error(&self) -> ApiError {
        ApiError::from_response(self.status, &self.status_text, &self.body)
    }
}

/// How many times a throttled (429) request is sent again before giving up.
const THROTTLE_RETRIES: u32 = 8;

/// Waits `ms` milliseconds (a `setTimeout` promise).
pub async fn sleep_ms(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Sends `method path` with `headers` and an optional text body; reads the whole answer.
/// A 429 is honoured: it waits for `Retry-After` (seconds, default 1) and sends again.
/// Only a failure to get any answer is an `Err`.
pub async fn send_raw(
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> ApiResult<RawResponse> {
    let mut attempt = 0;
    let mut renewed = false;
    crate::org::flow::ensure_token().await;
    loop {
        let mut builder = request(method.clone(), path);
        for (k, v) in headers {
            builder = builder.header(k, v);
        }
        let built = match body {
            Some(b) => builder.body(b.to_string()),
            None => builder.build(),
        };
        let request = built.map_err(ApiError::network)?;
        let response = request.send().await.map_err(ApiError::network)?;
        let status = response.status();
        if status == 429 && attempt < THROTTLE_RETRIES {
            attempt += 1;
            sleep_ms(retry_after_ms(&response, attempt)).await;
            continue;
        }
        if renewed_after(status, &mut renewed).await {
            continue;
        }
        notice_unauthorized(&response);
        let content_type = response.headers().get("content-type").unwrap_or_default();
        let status_text = response.status_text();
        let body = response.text().await.map_err(ApiError::network)?;
        return Ok(RawResponse {
            status,
            status_text,
            content_type,
            body,
        });
    }
}

/// Sends independent operations as one `$batch` with `Prefer: odata.continue-on-error`
/// (one request against the service protection limits, however many operations: at
/// most [`batch::MAX_OPS`]). One result per operation, in order; a refused one has the
/// server's words, one the batch never reached says so. `Err(None)`: the organization
/// has no `$batch` (404/405/501), so the caller sends them one by one.
pub async fn send_batch(ops: &[batch::Op]) -> Result<Vec<Result<(), ApiError>>, Option<ApiError>> {
    Ok(send_batch_answers(ops)
        .await?
        .into_iter()
        .map(|r| r.map(drop))
        .collect())
}

/// [`send_batch`] with each successful operation's body (a read's record).
pub async fn send_batch_answers(
    ops: &[batch::Op],
) -> Result<Vec<Result<String, ApiError>>, Option<ApiError>> {
    let boundary = format!("batch_{}", js_sys::Math::random().to_bits());
    let multipart = batch::build(&boundary, ops);
    let content_type = batch::content_type(&boundary);
    let raw = send_raw(
        Method::POST,
        "/api/data/v9.2/$batch",
        &[
            ("Content-Type", content_type.as_str()),
            ("Prefer", "odata.continue-on-error"),
            ("OData-Version", "4.0"),
            ("OData-MaxVersion", "4.0"),
        ],
        Some(&multipart),
    )
    .await
    .map_err(Some)?;
    if matches!(raw.status, 404 | 405 | 501) {
        return Err(None);
    }
    if !raw.ok() {
        return Err(Some(raw.error()));
    }
    let parts = batch::parse(&raw.content_type, &raw.body).map_err(|message| {
        Some(ApiError {
            status: raw.status,
            code: None,
            message,
        })
    })?;
    let mut parts = parts.into_iter();
    Ok((0..ops.len())
        .map(|_| match parts.next() {
            Some(p) if (200..300).contains(&p.status) => Ok(p.body),
            Some(p) => Err(ApiError::from_response(p.status, "", &p.body)),
            None => Err(ApiError {
                status: 0,
                code: None,
                message: "Not run: the batch stopped before this operation.".into(),
            }),
        })
        .collect())
}

/// `GET path` with extra headers (e.g. `Prefer: odata.maxpagesize=50`) → JSON.
pub async fn get_json_with<T: DeserializeOwned>(
    path: &str,
    headers: &[(&str, &str)],
) -> ApiResult<T> {
    let raw = send_raw(Method::GET, path, headers, None).await?;
    if !raw.ok() {
        return Err(raw.error());
    }
    serde_json::from_str(&raw.body).map_err(|e| ApiError::unreadable(raw.status, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dataverse_errors() {
        let e = ApiError::from_response(
            401,
            "Unauthorized",
            r#"{"error":{"code":"0x80040220","message":"The user name or password is incorrect."}}"#,
        );
        assert!(e.is_unauthorized());
        assert_eq!(e.code.as_deref(), Some("0x80040220"));
        assert_eq!(e.to_string(), "The user name or password is incorrect.");
    }

    #[test]
    fn falls_back_to_the_status_line() {
        let e = ApiError::from_response(502, "Bad Gateway", "<html>proxy</html>");
        assert_eq!(
            e.message,
            "The server answered with HTTP status 502 (Bad Gateway)."
        );
        assert_eq!(e.code, None);
        let e = ApiError::from_response(500, "", r#"{"error":{"code":"0x1","message":" "}}"#);
        assert_eq!(e.message, "The server answered with HTTP status 500.");
        assert!(!e.is_unauthorized());
    }

    #[test]
    fn a_retry_helps_only_a_passing_failure() {
        let at = |status| ApiError::from_response(status, "", "");
        assert!(at(429).passing() && at(503).passing() && at(0).passing());
        assert!(!at(403).passing() && !at(400).passing() && !at(404).passing());
    }
}
