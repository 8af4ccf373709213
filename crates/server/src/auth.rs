//! Sign-in over HTTP: `POST /api/auth/login`, `POST /api/auth/logout`,
//! `GET /api/auth/me`, the `require_user` middleware and the `CurrentUser` extractor.
//!
//! A session is presented either as the `mailsync_session` cookie (HttpOnly,
//! SameSite=Strict: the console's requests) or as `Authorization: Bearer <token>`
//! (scripts, tests, other clients). Both carry the same token.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::api::{ApiError, AppState};
use crate::store::auth::{self as store_auth, SignedInUser, SESSION_SECS};
use crate::store::now;

/// The session cookie's name.
pub const COOKIE: &str = "mailsync_session";

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

/// The session token of a request: the bearer token, else the session cookie.
fn request_token(headers: &HeaderMap) -> Option<String> {
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, token) = auth.trim().split_once(' ').unwrap_or((auth, ""));
        if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() {
            return Some(token.trim().to_string());
        }
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE && !value.is_empty())
        .map(|(_, value)| value.to_string())
}

/// Middleware: lets the request through with its `CurrentUser` when it carries a valid
/// session, answers 401 otherwise.
pub async fn require_user(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(token) = request_token(request.headers()) else {
        return not_signed_in().into_response();
    };
    let lookup = token.clone();
    let user = state
        .store
        .call(move |c| store_auth::session_user(c, &lookup, now()))
        .await;
    match user {
        Ok(Some(user)) => {
            request.extensions_mut().insert(CurrentUser(user));
            request.extensions_mut().insert(SessionToken(token));
            next.run(request).await
        }
        Ok(None) => ApiError::unauthorized(
            "The session has expired or is not valid: sign in again (POST /api/auth/login).",
        )
        .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
}

fn session_cookie(token: &str, max_age: i64) -> HeaderValue {
    // Not `Secure`: the local organization is served over plain HTTP on loopback.
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("mailsync_session=; Path=/; Max-Age=0"))
}

/// `POST /api/auth/login` `{"username", "password"}` → 200 `{"access_token", ...}` and
/// the session cookie; wrong credentials → 401.
pub async fn login(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
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
    let Ok(Ok(_slot)) = tokio::time::timeout(VERIFY_WAIT, verifications().acquire()).await else {
        let mut resp = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "0x80072326",
            "Too many sign-in attempts are being checked at once; try again in a few seconds.",
        )
        .into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return Ok(resp);
    };
    let token = state
        .store
        .call(
            move |c| match store_auth::check_credentials(c, &username, &password)? {
                Some(id) => store_auth::create_session(c, &id, now()).map(Some),
                None => Ok(None),
            },
        )
        .await?
        .ok_or_else(|| ApiError::unauthorized("The user name or password is incorrect."))?;
    let mut resp = Json(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": SESSION_SECS,
    }))
    .into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&token, SESSION_SECS));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
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
    resp.headers_mut()
        .insert(header::SET_COOKIE, session_cookie("", 0));
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
        assert_eq!(request_token(&h), None);
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; mailsync_session=tok1; c=d"),
        );
        assert_eq!(request_token(&h).as_deref(), Some("tok1"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer  tok2 "),
        );
        assert_eq!(request_token(&h).as_deref(), Some("tok2"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(request_token(&h).as_deref(), Some("tok1"));
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("mailsync_session="),
        );
        assert_eq!(request_token(&h), None);
    }
}
