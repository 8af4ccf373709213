//! Sign-in over HTTP: `POST /api/auth/login`, `POST /api/auth/logout`,
//! `GET /api/auth/me`, the `require_user` middleware and the `CurrentUser` extractor.
//!
//! A session is presented either as the session cookie (HttpOnly, SameSite=Strict;
//! `__Host-mailsync_session` and `Secure` under TLS, `mailsync_session` on plain HTTP:
//! the console's requests) or as `Authorization: Bearer <token>` (scripts, tests, other
//! clients). Both carry the same token. A session ends 8 hours after sign-in or after
//! `--session-idle-timeout` without a request, whichever comes first.
//!
//! Sign-in is guarded against guessing (`guard`): failures are counted per account and
//! per client address, with growing delays (429 and `Retry-After`) past a few. Forged
//! cross-site sign-in, sign-out and cookie-authenticated requests are refused by
//! `crate::boundary`.

pub mod guard;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;

use crate::error::{codes, ApiError};
use crate::listen::ClientAddr;
use crate::state::AppState;
use crate::store::auth::{self as store_auth, SignedInUser, SESSION_SECS};
use crate::store::now;

/// The session cookie's name on plain HTTP.
pub const COOKIE: &str = "mailsync_session";
/// The session cookie's name under TLS: `__Host-` makes browsers refuse it unless it
/// is `Secure`, has `Path=/` and no `Domain`, so no sibling host can set or shadow it.
pub const SECURE_COOKIE: &str = "__Host-mailsync_session";

/// Largest sign-in body: a user name and a password of `MAX_FIELD` bytes each, as JSON.
pub const LOGIN_BODY_LIMIT: usize = 8 * 1024;

/// Longest user name and password accepted (argon2 over megabytes is a denial of service).
const MAX_FIELD: usize = 1024;

/// Password checks (argon2id, CPU- and memory-heavy by design) at once: half the cores,
/// at least one, so a flood of guesses cannot take every core from the API and engine.
fn verifications() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        tokio::sync::Semaphore::new((cores / 2).max(1))
    })
}

/// How long a sign-in waits for a verification slot before it is told to come back.
const VERIFY_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The signed-in user of a request (set by `require_user`).
#[derive(Debug, Clone)]
pub struct CurrentUser(pub SignedInUser);

/// The token the request was signed in with.
#[derive(Debug, Clone)]
struct SessionToken(String);

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<CurrentUser>()
            .cloned()
            .ok_or_else(not_signed_in)
    }
}

fn not_signed_in() -> ApiError {
    ApiError::unauthorized(
        "Sign in first: send the session cookie or an Authorization: Bearer token \
         (POST /api/auth/login).",
    )
}

/// The session cookie's name on this server.
pub fn cookie_name(tls: bool) -> &'static str {
    if tls {
        SECURE_COOKIE
    } else {
        COOKIE
    }
}

/// The bearer token of a request, if it has one.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())?;
    let (scheme, token) = auth.trim().split_once(' ').unwrap_or((auth, ""));
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .then(|| token.trim().to_string())
}

/// The session cookie of a request (named as `cookie_name(tls)` says).
pub fn session_cookie_value(headers: &HeaderMap, tls: bool) -> Option<String> {
    let wanted = cookie_name(tls);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == wanted && !value.is_empty())
        .map(|(_, value)| value.to_string())
}

/// The session token of a request: the bearer token, else the session cookie.
fn request_token(headers: &HeaderMap, tls: bool) -> Option<String> {
    bearer(headers).or_else(|| session_cookie_value(headers, tls))
}

/// Middleware: lets the request through with its `CurrentUser` when it carries a valid
/// session, answers 401 otherwise.
pub async fn require_user(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(token) = request_token(request.headers(), state.security.tls) else {
        return unauthorized(&state, not_signed_in());
    };
    if let Some(oidc) = state.security.oidc.as_ref() {
        if crate::oidc::looks_like_jwt(&token) {
            return match bearer_user(&state, oidc, &token).await {
                Ok(user) => {
                    request.extensions_mut().insert(CurrentUser(user));
                    next.run(request).await
                }
                Err(e) => unauthorized(&state, e),
            };
        }
    }
    let lookup = token.clone();
    let idle = state.security.session_idle.as_secs() as i64;
    let user = state
        .store
        .call(move |c| store_auth::session_user(c, &lookup, now(), idle))
        .await;
    match user {
        Ok(Some(user)) => {
            request.extensions_mut().insert(CurrentUser(user));
            request.extensions_mut().insert(SessionToken(token));
            next.run(request).await
        }
        Ok(None) => unauthorized(
            &state,
            ApiError::unauthorized(
                "The session has expired or is not valid: sign in again (POST /api/auth/login).",
            ),
        ),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The user of a bearer JWT (OpenID Connect mode).
async fn bearer_user(
    state: &AppState,
    oidc: &crate::oidc::Oidc,
    token: &str,
) -> Result<SignedInUser, ApiError> {
    let identity = oidc
        .validate(token)
        .await
        .map_err(|why| ApiError::unauthorized(format!("The access token was refused: {why}.")))?;
    let (oid, name) = (identity.object_id.clone(), identity.name.clone());
    state
        .store
        .call(move |c| store_auth::user_of_identity(c, oid.as_deref(), name.as_deref()))
        .await?
        .ok_or_else(|| {
            ApiError::unauthorized(format!(
                "The access token is valid, but no enabled user of this organization has the \
                 object id {} or the name {}.",
                identity.object_id.as_deref().unwrap_or("(none)"),
                identity.name.as_deref().unwrap_or("(none)")
            ))
        })
}

/// A 401, with Dataverse's challenge naming the token issuer in OpenID Connect mode.
fn unauthorized(state: &AppState, e: ApiError) -> Response {
    let mut resp = e.into_response();
    if let Some(oidc) = state.security.oidc.as_ref() {
        if let Ok(v) = HeaderValue::from_str(&oidc.challenge()) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
    }
    resp
}

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
}

fn session_cookie(token: &str, max_age: i64, tls: bool) -> HeaderValue {
    let name = cookie_name(tls);
    // `Secure` only under TLS: on plain HTTP (loopback) browsers would drop the cookie.
    let secure = if tls { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("mailsync_session=; Path=/; Max-Age=0"))
}

/// A body read up to `limit` bytes; more is a 413 that names the limit (at once when
/// `Content-Length` says so, before anything is read).
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::INVALID_ARGUMENT,
            format!(
                "The request body is larger than the {} this resource accepts.",
                describe_size(limit)
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())
}

/// `8 KB`, `16 MB`.
pub fn describe_size(bytes: usize) -> String {
    if bytes >= 1024 * 1024 {
        format!("{} MB", bytes / (1024 * 1024))
    } else {
        format!("{} KB", bytes.div_ceil(1024))
    }
}

/// A JSON body must say so: `text/plain` and form posts are what a foreign page can
/// send without asking (no CORS preflight), so they are never read as JSON.
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        codes::INVALID_ARGUMENT,
        format!(
            "The request body must be sent with 'Content-Type: application/json' (got {}).",
            if ct.is_empty() {
                "none".to_string()
            } else {
                format!("'{ct}'")
            }
        ),
    ))
}

/// 429 for a locked account or address.
fn locked(retry_after: u64) -> Response {
    let mut resp = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        crate::throttle::REQUESTS_EXCEEDED,
        format!(
            "Too many failed sign-in attempts for this account or from this address; try \
             again in {retry_after} seconds."
        ),
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// `POST /api/auth/login` `{"username", "password"}` → 200 `{"access_token", ...}` and
/// the session cookie; wrong credentials → 401; too many failures → 429.
pub async fn login(
    State(state): State<AppState>,
    client: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    require_json(&headers)?;
    let body = read_body(&headers, body, LOGIN_BODY_LIMIT).await?;
    let Login { username, password } = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "The body must be JSON {{\"username\": \"...\", \"password\": \"...\"}}: {e}"
        ))
    })?;
    if username.len() > MAX_FIELD || password.len() > MAX_FIELD {
        return Err(ApiError::bad_request(format!(
            "The user name and password are limited to {MAX_FIELD} bytes."
        )));
    }
    let addr = client.map(|Extension(ClientAddr(a))| a.ip());
    let guard = &state.security.logins;
    if let Err(l) = guard.check(&username, addr, std::time::Instant::now()) {
        return Ok(locked(l.retry_after));
    }
    let Ok(Ok(_slot)) = tokio::time::timeout(VERIFY_WAIT, verifications().acquire()).await else {
        let mut resp = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            crate::throttle::CONCURRENCY_EXCEEDED,
            "Too many sign-in attempts are being checked at once; try again in a few seconds.",
        )
        .into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return Ok(resp);
    };
    let name = username.clone();
    let token = state
        .store
        .call(
            move |c| match store_auth::check_credentials(c, &name, &password)? {
                Some(id) => store_auth::create_session(c, &id, now()).map(Some),
                None => Ok(None),
            },
        )
        .await?;
    let Some(token) = token else {
        guard.failed(&username, addr, std::time::Instant::now());
        return Err(ApiError::unauthorized(
            "The user name or password is incorrect.",
        ));
    };
    guard.succeeded(&username);
    let mut resp = Json(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": SESSION_SECS,
    }))
    .into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&token, SESSION_SECS, state.security.tls),
    );
    Ok(resp)
}

/// `POST /api/auth/logout`: ends the session used for the request and clears the cookie.
pub async fn logout(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    if let Some(SessionToken(token)) = request.extensions().get::<SessionToken>().cloned() {
        state
            .store
            .call(move |c| store_auth::delete_session(c, &token))
            .await?;
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie("", 0, state.security.tls),
    );
    Ok(resp)
}

/// `GET /api/auth/me`: the signed-in user and their roles.
pub async fn me(user: CurrentUser) -> Json<SignedInUser> {
    Json(user.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_from_bearer_or_cookie() {
        let mut h = HeaderMap::new();
        assert_eq!(request_token(&h, false), None);
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; mailsync_session=tok1; c=d"),
        );
        assert_eq!(request_token(&h, false).as_deref(), Some("tok1"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer  tok2 "),
        );
        assert_eq!(request_token(&h, false).as_deref(), Some("tok2"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(request_token(&h, false).as_deref(), Some("tok1"));
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("mailsync_session="),
        );
        assert_eq!(request_token(&h, false), None);
        // Under TLS only the `__Host-` cookie counts.
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("mailsync_session=plain; __Host-mailsync_session=tls"),
        );
        assert_eq!(request_token(&h, true).as_deref(), Some("tls"));
        assert_eq!(request_token(&h, false).as_deref(), Some("plain"));
    }

    #[test]
    fn json_bodies_must_say_so() {
        let mut h = HeaderMap::new();
        assert_eq!(require_json(&h).unwrap_err().status, 415);
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(require_json(&h).unwrap_err().status, 415);
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/JSON; charset=utf-8"),
        );
        assert!(require_json(&h).is_ok());
        assert_eq!(describe_size(8 * 1024), "8 KB");
        assert_eq!(describe_size(16 * 1024 * 1024), "16 MB");
    }
}
