//! Signing in to a Dataverse environment, in the browser: the redirect to the identity
//! provider and back, the token calls, renewal and sign-out (the protocol pieces are
//! `oauth.rs`'s; this module does the fetches, storage and navigation).

use gloo_net::http::{Request, RequestBuilder};
use web_sys::RequestCredentials;

use super::current::{self, session_storage, Org};
use super::{
    authorize_url, check_id_token, check_state, discovery_url, explain, parse_discovery,
    parse_redirect, parse_token_response_for, refresh_request_body, renew_at,
    strip_redirect_params, token_request_body, unreadable_token_answer, Endpoints, Environment,
    Pending, Redirect, SignInError,
};

const PENDING_KEY: &str = "mailsync.signin";
/// Where sign-in errors wait for the sign-in page (this tab).
const ERROR_KEY: &str = "mailsync.signin-error";

/// The redirect URI the console registers: its own origin's `/signin`.
pub fn redirect_uri() -> String {
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    format!("{origin}/signin")
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

fn random<const N: usize>() -> Result<[u8; N], SignInError> {
    let mut bytes = [0u8; N];
    web_sys::window()
        .and_then(|w| w.crypto().ok())
        .and_then(|c| c.get_random_values_with_u8_array(&mut bytes).ok())
        .ok_or_else(|| SignInError {
            code: "no_crypto".into(),
            message:
                "This browser gives the page no secure random numbers (crypto.getRandomValues)."
                    .into(),
            hint: "Use a current browser over HTTPS or on localhost.".into(),
        })?;
    Ok(bytes)
}

fn fetch_failed(what: &str, e: impl std::fmt::Display) -> SignInError {
    SignInError {
        code: "network".into(),
        message: format!("{what} could not be reached: {e}."),
        hint: "Check the network, and that the console's Content-Security-Policy allows the \
               identity provider (mailsync serve --connect-src)."
            .into(),
    }
}

/// The identity provider's endpoints, from its discovery document (CORS-enabled at
/// Microsoft Entra ID).
async fn endpoints(env: &Environment) -> Result<Endpoints, SignInError> {
    let url = discovery_url(&env.authority());
    let resp = Request::get(&url)
        .credentials(RequestCredentials::Omit)
        .send()
        .await
        .map_err(|e| fetch_failed(&url, e))?;
    let body = resp.text().await.map_err(|e| fetch_failed(&url, e))?;
    parse_discovery(&body).map_err(|m| SignInError {
        code: "discovery".into(),
        message: format!("The identity provider's discovery document {url} cannot be read: {m}"),
        hint: "Check the tenant (and the authority, if you gave one).".into(),
    })
}

/// Starts signing in to `env`: keeps the PKCE verifier, `state` and `nonce` in this tab's
/// sessionStorage and sends the browser to the authorize endpoint. Comes back to
/// `/signin`, which finishes (see [`complete`]) and goes on to `return_to`.
pub async fn begin(env: &Environment, return_to: &str) -> Result<(), SignInError> {
    let ep = endpoints(env).await?;
    let pending = Pending::new(&env.url, return_to, &random::<64>()?);
    let store = session_storage().ok_or_else(|| SignInError {
        code: "no_storage".into(),
        message: "This browser gives the page no sessionStorage, which sign-in needs across \
                  the redirect."
            .into(),
        hint: "Allow site data for this console.".into(),
    })?;
    let _ = store.set_item(PENDING_KEY, &pending.to_json());
    let url = authorize_url(
        &ep,
        &env.client_id,
        &redirect_uri(),
        &env.scope(),
        &pending.state,
        &pending.nonce,
        &pending.challenge(),
        None,
        None,
    );
    if let Some(w) = web_sys::window() {
        let _ = w.location().assign(&url);
    }
    Ok(())
}

/// After the identity provider's redirect: the code is removed from the address bar at
/// once, redeemed for tokens, and the environment becomes the one in use. `None` when
/// the page was not opened by a redirect; `Some(Ok(return_to))` when signed in.
pub async fn complete() -> Option<Result<String, SignInError>> {
    let window = web_sys::window()?;
    let search = window.location().search().ok()?;
    let redirect = parse_redirect(search.trim_start_matches('?'));
    if matches!(redirect, Redirect::None) {
        return None;
    }
    // The code leaves the address bar and history before anything else.
    if let (Ok(href), Ok(history)) = (window.location().href(), window.history()) {
        let _ = history.replace_state_with_url(
            &wasm_bindgen::JsValue::NULL,
            "",
            Some(&strip_redirect_params(&href)),
        );
    }
    let store = session_storage();
    let pending = store
        .as_ref()
        .and_then(|s| s.get_item(PENDING_KEY).ok().flatten())
        .and_then(|j| Pending::from_json(&j));
    if let Some(s) = &store {
        let _ = s.remove_item(PENDING_KEY);
    }
    Some(finish(redirect, pending).await)
}

async fn finish(redirect: Redirect, pending: Option<Pending>) -> Result<String, SignInError> {
    let uri = redirect_uri();
    let (code, state) = match redirect {
        Redirect::Error {
            error, description, ..
        } => return Err(explain(&error, &description, &uri)),
        Redirect::Code { code, state } => (code, state),
        Redirect::None => unreachable!("complete() returns early"),
    };
    let pending = pending.ok_or_else(|| SignInError {
        code: "no_pending".into(),
        message: "The sign-in answer arrived, but this tab did not start a sign-in (or it \
                  was started in another tab)."
            .into(),
        hint: "Sign in again from this tab.".into(),
    })?;
    check_state(&pending, &state)?;
    let env = current::saved()
        .into_iter()
        .find(|e| e.url == pending.environment_url)
        .ok_or_else(|| SignInError {
            code: "unknown_environment".into(),
            message: format!(
                "The sign-in was for {}, which is no longer among the saved environments.",
                pending.environment_url
            ),
            hint: "Add the environment again and sign in.".into(),
        })?;
    let ep = endpoints(&env).await?;
    let body = token_request_body(&env.client_id, &uri, &code, &pending.verifier, &env.scope());
    let tokens = token_call(&ep.token, body, &uri).await?;
    if let Some(id) = &tokens.id_token {
        check_id_token(id, &pending.nonce, &env.client_id)?;
    }
    current::keep_tokens(
        &env.url,
        &tokens.access_token,
        renew_at(tokens.expires_in, now_ms()),
        tokens.refresh_token.as_deref(),
    );
    current::select(Org::Dataverse(env));
    Ok(pending.return_to)
}

/// A token endpoint call (a CORS request without credentials). A failure without a
/// readable answer is the "registered as Web, not Single-page application" case.
async fn token_call(
    endpoint: &str,
    body: String,
    redirect_uri: &str,
) -> Result<super::Tokens, SignInError> {
    let request = RequestBuilder::new(endpoint)
        .method(gloo_net::http::Method::POST)
        .credentials(RequestCredentials::Omit)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .map_err(|e| fetch_failed(endpoint, e))?;
    let Ok(resp) = request.send().await else {
        return Err(unreadable_token_answer(redirect_uri));
    };
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    parse_token_response_for(status, &text, redirect_uri)
}

/// Renews the access token of `env` with its refresh token (before it expires, and
/// after a 401). `Ok(false)` when there is no refresh token: the user signs in again.
pub async fn renew(env: &Environment) -> Result<bool, SignInError> {
    let Some(refresh) = current::refresh_token(&env.url) else {
        return Ok(false);
    };
    let ep = endpoints(env).await?;
    let body = refresh_request_body(&env.client_id, &refresh, &env.scope());
    match token_call(&ep.token, body, &redirect_uri()).await {
        Ok(t) => {
            current::keep_tokens(
                &env.url,
                &t.access_token,
                renew_at(t.expires_in, now_ms()),
                Some(t.refresh_token.as_deref().unwrap_or(&refresh)),
            );
            Ok(true)
        }
        Err(e) => {
            current::forget_tokens(&env.url);
            Err(e)
        }
    }
}

/// A valid token for the environment in use, renewed first when it is about to expire;
/// `false` when there is none to be had (signed out).
pub async fn ensure_token() -> bool {
    let Org::Dataverse(env) = current::current() else {
        return true;
    };
    if !current::needs_token(&env.url, now_ms()) {
        return true;
    }
    match renew(&env).await {
        Ok(true) => true,
        // An access token that is merely due for renewal still works for a while.
        _ => current::has_token(&env.url),
    }
}

/// Signs out of the environment in use: its tokens are forgotten.
pub fn sign_out(env: &Environment) {
    current::forget_tokens(&env.url);
}

/// Keeps a sign-in error for the sign-in page (which shows it once).
pub fn keep_error(e: &SignInError) {
    if let Some(s) = session_storage() {
        let _ = s.set_item(
            ERROR_KEY,
            &serde_json::json!({"code": e.code, "message": e.message, "hint": e.hint}).to_string(),
        );
    }
}

/// The sign-in error kept by [`keep_error`], once.
pub fn take_error() -> Option<SignInError> {
    let s = session_storage()?;
    let json = s.get_item(ERROR_KEY).ok().flatten()?;
    let _ = s.remove_item(ERROR_KEY);
    let v: serde_json::Value = serde_json::from_str(&json).ok()?;
    let field = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    Some(SignInError {
        code: field("code"),
        message: field("message"),
        hint: field("hint"),
    })
}
