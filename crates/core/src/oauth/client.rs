//! OAuth 2.0 authorization code flow with PKCE (S256) against Microsoft Entra ID v2.0 (or
//! another OpenID Connect issuer), as pure functions: the caller supplies randomness from
//! the browser's `crypto.getRandomValues`, does the fetches and the storage.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::url::{self, form};

/// base64url that decodes with or without `=` padding (ID tokens come without).
const URL_SAFE_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Query parameters the identity provider adds to the redirect URI; the console removes
/// them from the address bar at once (`history.replaceState`).
pub const REDIRECT_PARAMS: [&str; 8] = [
    "code",
    "state",
    "session_state",
    "error",
    "error_description",
    "error_uri",
    "iss",
    "client_info",
];

// ---------------------------------------------------------------------------------------
// PKCE, state and nonce

/// The PKCE code verifier: 32 random bytes as base64url without padding (43 characters,
/// within RFC 7636's 43..=128 of unreserved characters).
pub fn pkce_verifier(random: &[u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

/// The S256 code challenge: base64url(SHA-256(ASCII(verifier))), no padding.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A `state` or `nonce` value: 16 random bytes as base64url (22 characters).
pub fn random_token(random: &[u8; 16]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

// ---------------------------------------------------------------------------------------
// Discovery

/// The endpoints of an OpenID Connect issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub authorization: String,
    pub token: String,
    pub end_session: Option<String>,
    pub issuer: String,
}

/// `{authority}/.well-known/openid-configuration` (a trailing slash is not doubled).
pub fn discovery_url(authority: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        authority.trim().trim_end_matches('/')
    )
}

/// Reads an OpenID Connect discovery document. The endpoints must be https (http only on
/// a loopback host, for tests); an issuer that lists its PKCE methods must offer S256.
pub fn parse_discovery(json: &str) -> Result<Endpoints, String> {
    let v: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| format!("The OpenID configuration is not JSON ({e})."))?;
    if !v.is_object() {
        return Err("The OpenID configuration is not a JSON object.".to_string());
    }
    let field = |name: &str| -> Result<String, String> {
        match v.get(name).and_then(|x| x.as_str()).map(str::trim) {
            Some(s) if !s.is_empty() => {
                check_endpoint(s).map_err(|e| format!("The OpenID configuration's {name}: {e}"))?;
                Ok(s.to_string())
            }
            _ => Err(format!("The OpenID configuration has no {name}.")),
        }
    };
    let authorization = field("authorization_endpoint")?;
    let token = field("token_endpoint")?;
    let issuer = match v.get("issuer").and_then(|x| x.as_str()).map(str::trim) {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => return Err("The OpenID configuration has no issuer.".to_string()),
    };
    let end_session = match v.get("end_session_endpoint") {
        None | Some(serde_json::Value::Null) => None,
        Some(_) => Some(field("end_session_endpoint")?),
    };
    if let Some(methods) = v
        .get("code_challenge_methods_supported")
        .and_then(|m| m.as_array())
    {
        if !methods.iter().any(|m| m.as_str() == Some("S256")) {
            return Err(
                "The identity provider does not support PKCE with S256, which the console \
                 requires."
                    .to_string(),
            );
        }
    }
    Ok(Endpoints {
        authorization,
        token,
        end_session,
        issuer,
    })
}

fn check_endpoint(s: &str) -> Result<(), String> {
    let p = url::parse_absolute(s)?;
    match p.scheme.as_str() {
        "https" => Ok(()),
        "http" if p.is_loopback() => Ok(()),
        _ => Err(format!("“{s}” is not an https:// address.")),
    }
}

/// Appends `query` (already encoded) to `endpoint`, which may have a query of its own.
fn with_query(endpoint: &str, query: &str) -> String {
    // A fragment has no place in an endpoint; it would swallow the query.
    let base = endpoint.split('#').next().unwrap_or(endpoint);
    if base.contains('?') {
        let sep = if base.ends_with('?') || base.ends_with('&') {
            ""
        } else {
            "&"
        };
        format!("{base}{sep}{query}")
    } else {
        format!("{base}?{query}")
    }
}

// ---------------------------------------------------------------------------------------
// Requests

/// The authorization request to send the browser to.
#[allow(clippy::too_many_arguments)]
pub fn authorize_url(
    endpoints: &Endpoints,
    client_id: &str,
    redirect_uri: &str,
    scope: &str,
    state: &str,
    nonce: &str,
    challenge: &str,
    login_hint: Option<&str>,
    prompt: Option<&str>,
) -> String {
    let mut pairs = vec![
        ("client_id", client_id),
        ("response_type", "code"),
        ("redirect_uri", redirect_uri),
        ("response_mode", "query"),
        ("scope", scope),
        ("state", state),
        ("nonce", nonce),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    if let Some(h) = login_hint.map(str::trim).filter(|h| !h.is_empty()) {
        pairs.push(("login_hint", h));
    }
    if let Some(p) = prompt.map(str::trim).filter(|p| !p.is_empty()) {
        pairs.push(("prompt", p));
    }
    with_query(&endpoints.authorization, &form(&pairs))
}

/// The token request redeeming the code (`application/x-www-form-urlencoded`).
pub fn token_request_body(
    client_id: &str,
    redirect_uri: &str,
    code: &str,
    verifier: &str,
    scope: &str,
) -> String {
    form(&[
        ("client_id", client_id),
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
        ("scope", scope),
    ])
}

/// The token request renewing with a refresh token (`application/x-www-form-urlencoded`).
pub fn refresh_request_body(client_id: &str, refresh_token: &str, scope: &str) -> String {
    form(&[
        ("client_id", client_id),
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("scope", scope),
    ])
}

/// The sign-out address (RP-initiated logout), when the issuer has one.
pub fn end_session_url(
    endpoints: &Endpoints,
    post_logout_redirect_uri: &str,
    logout_hint: Option<&str>,
) -> Option<String> {
    let end = endpoints.end_session.as_deref()?;
    let mut pairs = vec![("post_logout_redirect_uri", post_logout_redirect_uri)];
    if let Some(h) = logout_hint.map(str::trim).filter(|h| !h.is_empty()) {
        pairs.push(("logout_hint", h));
    }
    Some(with_query(end, &form(&pairs)))
}

// ---------------------------------------------------------------------------------------
// Token answers

/// A token endpoint's answer. `Debug` does not print the tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct Tokens {
    pub access_token: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |s: &Option<String>| s.as_ref().map(|t| format!("<{} chars>", t.len()));
        f.debug_struct("Tokens")
            .field(
                "access_token",
                &format_args!("<{} chars>", self.access_token.len()),
            )
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &redacted(&self.refresh_token))
            .field("id_token", &redacted(&self.id_token))
            .finish()
    }
}

/// When the answer has no usable `expires_in` (Entra ID always sends one).
const DEFAULT_EXPIRES_IN: u64 = 3600;
/// The longest an access token is kept, whatever the answer says.
const MAX_EXPIRES_IN: u64 = 86_400;

/// Reads a token endpoint's answer. Errors are explained by [`explain`] without the
/// redirect URI; [`parse_token_response_for`] names it in the hints.
pub fn parse_token_response(status: u16, body: &str) -> Result<Tokens, SignInError> {
    parse_token_response_for(status, body, "")
}

/// [`parse_token_response`], naming `redirect_uri` in the hints (what to register). A
/// status of 0 is a fetch that got no readable answer (see [`unreadable_token_answer`]).
pub fn parse_token_response_for(
    status: u16,
    body: &str,
    redirect_uri: &str,
) -> Result<Tokens, SignInError> {
    let json: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let s = |k: &str| {
        json.as_ref()
            .and_then(|v| v.get(k))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    if let Some(error) = s("error").filter(|e| !e.is_empty()) {
        let mut description = s("error_description").unwrap_or_default();
        if aadsts_code(&description).is_none() {
            let first_code = json
                .as_ref()
                .and_then(|v| v.get("error_codes"))
                .and_then(|c| c.as_array())
                .and_then(|c| c.first())
                .and_then(|c| c.as_u64());
            if let Some(c) = first_code {
                description = format!("AADSTS{c}: {description}");
            }
        }
        return Err(explain(&error, &description, redirect_uri));
    }
    if status == 0 {
        return Err(unreadable_token_answer(redirect_uri));
    }
    if !(200..300).contains(&status) {
        return Err(SignInError {
            code: format!("http_{status}"),
            message: format!(
                "The sign-in service's token endpoint answered HTTP {status} without an \
                 error description."
            ),
            hint: "Try again in a moment; if it keeps failing, check the environment's \
                   authority and tenant."
                .to_string(),
        });
    }
    let Some(access_token) = s("access_token").filter(|t| !t.is_empty()) else {
        return Err(SignInError {
            code: "invalid_token_response".to_string(),
            message: "The sign-in service's answer has no access token.".to_string(),
            hint: "Sign in again; if it keeps failing, check the environment's authority."
                .to_string(),
        });
    };
    if let Some(t) = s("token_type") {
        if !t.eq_ignore_ascii_case("bearer") {
            return Err(SignInError {
                code: "unsupported_token_type".to_string(),
                message: format!(
                    "The sign-in service issued a “{t}” token; Dataverse takes Bearer \
                     tokens."
                ),
                hint: "Check the environment's authority.".to_string(),
            });
        }
    }
    let expires_in = json
        .as_ref()
        .and_then(|v| v.get("expires_in"))
        .and_then(|e| match e {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
        .unwrap_or(DEFAULT_EXPIRES_IN)
        // A day at most: no answer makes a token live for ever, or overflows a clock.
        .min(MAX_EXPIRES_IN);
    Ok(Tokens {
        access_token,
        expires_in,
        refresh_token: s("refresh_token").filter(|t| !t.is_empty()),
        id_token: s("id_token").filter(|t| !t.is_empty()),
    })
}

/// When to renew an access token that lives `expires_in` seconds from `now_ms`: five
/// minutes before it expires, but never earlier than half its lifetime (so a short-lived
/// token is not renewed at once, over and over).
pub fn renew_at(expires_in: u64, now_ms: f64) -> f64 {
    let lifetime_ms = expires_in as f64 * 1000.0;
    let lead_ms = (5.0 * 60.0 * 1000.0_f64).min(lifetime_ms / 2.0);
    now_ms + lifetime_ms - lead_ms
}

// ---------------------------------------------------------------------------------------
// ID token (read only to check the sign-in; the access token is never parsed)

fn id_token_payload(id_token: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let mut parts = id_token.trim().split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = URL_SAFE_ANY_PAD.decode(payload).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        serde_json::Value::Object(m) => Some(m),
        _ => None,
    }
}

/// The ID token's `nonce` claim. The token came straight from the token endpoint over
/// TLS, so its signature is not checked (OpenID Connect Core 3.1.3.7); the payload is
/// read only to tie it to this sign-in.
pub fn id_token_nonce(id_token: &str) -> Option<String> {
    id_token_claim(id_token, "nonce")
}

/// A claim of the ID token as text (`preferred_username`, `name`, `oid`, `tid`, ...):
/// strings as they are, numbers and booleans written out, anything else `None`.
pub fn id_token_claim(id_token: &str, name: &str) -> Option<String> {
    match id_token_payload(id_token)?.get(name)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Checks that the ID token belongs to this sign-in: its `nonce` is the one sent and its
/// `aud` is the app's client ID.
pub fn check_id_token(id_token: &str, nonce: &str, client_id: &str) -> Result<(), SignInError> {
    let mismatch = |what: &str| SignInError {
        code: "id_token_mismatch".to_string(),
        message: format!("The sign-in answer does not belong to this sign-in ({what})."),
        hint: "Sign in again from this tab.".to_string(),
    };
    let Some(payload) = id_token_payload(id_token) else {
        return Err(mismatch("its ID token cannot be read"));
    };
    if payload.get("nonce").and_then(|n| n.as_str()) != Some(nonce) || nonce.is_empty() {
        return Err(mismatch("the ID token's nonce differs"));
    }
    let aud_ok = match payload.get("aud") {
        Some(serde_json::Value::String(a)) => a == client_id,
        Some(serde_json::Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(client_id)),
        _ => false,
    };
    if !aud_ok {
        return Err(mismatch("the ID token was issued to another app"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The redirect back

/// What the page's query says after the identity provider redirected back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redirect {
    /// Not a sign-in answer.
    None,
    /// Success: redeem `code` after [`check_state`].
    Code { code: String, state: String },
    /// The sign-in failed or was cancelled; `state` is empty when absent.
    Error {
        error: String,
        description: String,
        state: String,
    },
}

/// Reads the page's query (`location.search`, with or without `?`). A `code` counts only
/// together with a `state` (the console always sends one), so an unrelated `code=` in a
/// page address is not taken for a sign-in answer.
pub fn parse_redirect(query: &str) -> Redirect {
    let query = query.split('#').next().unwrap_or("");
    let get = |n: &str| url::query_value(query, n);
    if let Some(error) = get("error").filter(|e| !e.is_empty()) {
        return Redirect::Error {
            error,
            description: get("error_description").unwrap_or_default(),
            state: get("state").unwrap_or_default(),
        };
    }
    match (get("code"), get("state")) {
        (Some(code), Some(state)) if !code.is_empty() && !state.is_empty() => {
            Redirect::Code { code, state }
        }
        _ => Redirect::None,
    }
}

/// The page address without the sign-in answer's parameters ([`REDIRECT_PARAMS`]); other
/// parameters stay as written, in order, and so does the fragment.
pub fn strip_redirect_params(url: &str) -> String {
    let (before_fragment, fragment) = match url.find('#') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let Some((base, query)) = before_fragment.split_once('?') else {
        return url.to_string();
    };
    let kept: Vec<&str> = url::raw_pairs(query)
        .filter(|p| !REDIRECT_PARAMS.contains(&url::pair_name(p).as_str()))
        .collect();
    if kept.is_empty() {
        format!("{base}{fragment}")
    } else {
        format!("{base}?{}{fragment}", kept.join("&"))
    }
}

/// A path on the console's own origin to return to after signing in: must start with a
/// single `/` (not `//` or `/\`, which browsers read as another host); anything else
/// gives `/`.
pub fn safe_return_to(path: &str) -> String {
    let p = path.trim();
    let ok = p.starts_with('/')
        && !p.starts_with("//")
        && !p.starts_with("/\\")
        && !p.chars().any(|c| c.is_control());
    if ok {
        p.to_string()
    } else {
        "/".to_string()
    }
}

// ---------------------------------------------------------------------------------------
// Sign-in in progress (kept in sessionStorage across the redirect)

/// What the console keeps in sessionStorage while the browser is at the identity provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The environment the sign-in is for (its normalized URL).
    pub environment_url: String,
    pub verifier: String,
    pub state: String,
    pub nonce: String,
    /// The console path to go back to (see [`safe_return_to`]).
    pub return_to: String,
}

impl Pending {
    /// A new sign-in for `environment_url`, from 64 random bytes: 32 for the PKCE
    /// verifier, 16 each for `state` and `nonce`.
    pub fn new(environment_url: &str, return_to: &str, random: &[u8; 64]) -> Pending {
        let mut verifier = [0u8; 32];
        let mut state = [0u8; 16];
        let mut nonce = [0u8; 16];
        verifier.copy_from_slice(&random[..32]);
        state.copy_from_slice(&random[32..48]);
        nonce.copy_from_slice(&random[48..]);
        Pending {
            environment_url: environment_url.to_string(),
            verifier: pkce_verifier(&verifier),
            state: random_token(&state),
            nonce: random_token(&nonce),
            return_to: safe_return_to(return_to),
        }
    }

    /// The S256 challenge for this sign-in's verifier.
    pub fn challenge(&self) -> String {
        pkce_challenge(&self.verifier)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads it back; `None` for junk or a value missing its verifier, state or nonce.
    /// `return_to` is re-checked with [`safe_return_to`].
    pub fn from_json(json: &str) -> Option<Pending> {
        let mut p: Pending = serde_json::from_str(json).ok()?;
        if p.environment_url.is_empty()
            || p.verifier.is_empty()
            || p.state.is_empty()
            || p.nonce.is_empty()
        {
            return None;
        }
        p.return_to = safe_return_to(&p.return_to);
        Some(p)
    }
}

/// The redirect's `state` must be exactly the one this tab sent.
pub fn check_state(pending: &Pending, returned_state: &str) -> Result<(), SignInError> {
    if returned_state.is_empty() {
        return Err(SignInError {
            code: "state_missing".to_string(),
            message: "The sign-in answer has no state, so it cannot be matched to the \
                      sign-in this tab started."
                .to_string(),
            hint: "Sign in again from this tab.".to_string(),
        });
    }
    if pending.state.is_empty() || pending.state != returned_state {
        return Err(SignInError {
            code: "state_mismatch".to_string(),
            message: "The sign-in answer does not belong to the sign-in this tab started \
                      (its state differs)."
                .to_string(),
            hint: "Sign in again from this tab; an old sign-in link or a sign-in started in \
                   another tab cannot be completed here."
                .to_string(),
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Errors

/// A failed sign-in, explained: `code` is the AADSTS code when there is one (else the
/// OAuth error), `message` what happened, `hint` what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInError {
    pub code: String,
    pub message: String,
    pub hint: String,
}

impl std::fmt::Display for SignInError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.message, self.hint, self.code)
    }
}

impl std::error::Error for SignInError {}

/// The first `AADSTS<digits>` in a description, e.g. `AADSTS65001`.
pub fn aadsts_code(description: &str) -> Option<String> {
    let upper = description.to_ascii_uppercase();
    let mut from = 0;
    while let Some(i) = upper[from..].find("AADSTS") {
        let start = from + i + "AADSTS".len();
        let digits: String = upper[start..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        if !digits.is_empty() {
            return Some(format!("AADSTS{digits}"));
        }
        from = start;
    }
    None
}

/// The description's first line (Entra ID's continue with Trace ID, Correlation ID and
/// Timestamp).
fn summary(description: &str) -> &str {
    description
        .split(['\r', '\n'])
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

fn uri_text(redirect_uri: &str) -> String {
    if redirect_uri.trim().is_empty() {
        "the console's address (the redirect URI it sends)".to_string()
    } else {
        redirect_uri.trim().to_string()
    }
}

/// Explains an OAuth error from the redirect or the token endpoint: AADSTS codes in the
/// description first, then the OAuth `error`, else a fallback quoting the description.
pub fn explain(error: &str, description: &str, redirect_uri: &str) -> SignInError {
    let aadsts = aadsts_code(description);
    let said = summary(description);
    let uri = uri_text(redirect_uri);
    let code = aadsts.clone().unwrap_or_else(|| {
        if error.is_empty() {
            "sign_in_failed".to_string()
        } else {
            error.to_string()
        }
    });
    let with_quote = |m: String| {
        if said.is_empty() {
            m
        } else {
            format!("{m} The sign-in service said: “{said}”")
        }
    };
    let make = |message: String, hint: String| SignInError {
        code: code.clone(),
        message: with_quote(message),
        hint,
    };
    let sign_in_again = || "Sign in again.".to_string();
    let register_spa = || {
        format!(
            "In the app registration (Microsoft Entra admin center → App registrations → \
             the app → Authentication), remove {uri} from the “Web” platform if it is \
             there and add exactly {uri} under “Single-page application”; then sign in \
             again."
        )
    };
    let wrong_tenant_hint = || {
        "Sign in with an account of the environment's tenant (pick another account), or \
         have an administrator add your account to that tenant as a guest; check that the \
         environment's tenant setting is the tenant the environment belongs to."
            .to_string()
    };

    match aadsts.as_deref().map(|c| &c["AADSTS".len()..]) {
        Some("65001") => make(
            "The app has not been given consent to use Dataverse (Dynamics CRM, \
             user_impersonation) for you in this tenant."
                .to_string(),
            "An administrator grants consent: Microsoft Entra admin center → App \
             registrations → the app → API permissions, add Dynamics CRM → \
             user_impersonation if it is missing, then “Grant admin consent”. Where users \
             may consent to apps, signing in again and accepting the consent prompt is \
             enough."
                .to_string(),
        ),
        Some("65004") => make(
            "The permissions the console asked for were declined.".to_string(),
            "Sign in again and accept them, or ask an administrator to grant consent for \
             the organization (API permissions → Grant admin consent)."
                .to_string(),
        ),
        Some("50105") => make(
            "Your account is not assigned to this app, and the app requires assignment."
                .to_string(),
            "An administrator assigns you, or a group you are in, to the app: Enterprise \
             applications → the app → Users and groups."
                .to_string(),
        ),
        Some("53003") => make(
            "Sign-in was blocked by a Conditional Access policy.".to_string(),
            "Ask your administrator which policy applies (the sign-in logs show it); it \
             may require a compliant device, a trusted network or another sign-in method."
                .to_string(),
        ),
        Some("50020") | Some("90072") => make(
            "The account you signed in with is not a member of the tenant the app \
             signs in to."
                .to_string(),
            wrong_tenant_hint(),
        ),
        Some("50034") => make(
            "That user account does not exist in this tenant.".to_string(),
            format!("Check the user name. {}", wrong_tenant_hint()),
        ),
        Some("700016") => make(
            "The app (this client ID) was not found in the tenant.".to_string(),
            "Check the environment's client ID (the app registration's Application \
             (client) ID) and tenant: the app must be registered in that tenant, or be \
             multi-tenant and consented to there."
                .to_string(),
        ),
        Some("90002") | Some("50059") => make(
            "The tenant was not found.".to_string(),
            "Check the environment's tenant: “organizations”, the Directory (tenant) ID \
             or a verified domain such as contoso.onmicrosoft.com."
                .to_string(),
        ),
        Some("50194") => make(
            "The app is registered for a single tenant, so it cannot sign in through \
             “organizations” or “common”."
                .to_string(),
            "Set the environment's tenant to the app registration's Directory (tenant) ID \
             or the tenant's domain."
                .to_string(),
        ),
        Some("50011") | Some("500113") | Some("900971") => make(
            format!("The redirect URI {uri} is not registered for the app."),
            format!(
                "In the app registration → Authentication, add exactly {uri} as a \
                 “Single-page application” redirect URI (scheme, host, port, path and \
                 trailing slash must all match)."
            ),
        ),
        Some("9002326") | Some("7000218") => make(
            format!(
                "The token request was refused: {uri} is registered as a “Web” redirect \
                 URI, and a browser page can only redeem codes for “Single-page \
                 application” redirect URIs."
            ),
            register_spa(),
        ),
        Some("9002327") => make(
            format!(
                "The code was issued for the “Single-page application” redirect URI {uri} \
                 but was redeemed without the browser's Origin header, as a server or \
                 proxy would."
            ),
            "Sign in again from the console page itself; if this repeats, a proxy or \
             browser extension is removing the Origin header from the token request."
                .to_string(),
        ),
        Some("70011") => make(
            "The scope the console asked for is not valid, which usually means the \
             environment URL is wrong."
                .to_string(),
            "Check the environment URL (https://<org>.crm<n>.dynamics.com, as the Power \
             Platform admin center shows it): the console asks for \
             <environment URL>/user_impersonation."
                .to_string(),
        ),
        Some("650057") => make(
            "The app registration does not list the permission the console asked for \
             (Dynamics CRM → user_impersonation), or the environment URL is wrong."
                .to_string(),
            "Add the API permission Dynamics CRM → user_impersonation to the app \
             registration (and grant consent), and check the environment URL."
                .to_string(),
        ),
        Some("500011") => make(
            "Dataverse was not found in this tenant for the environment URL given.".to_string(),
            "Check the environment URL and the tenant: the environment must belong to the \
             tenant you sign in to."
                .to_string(),
        ),
        Some("54005") => make(
            "The sign-in code was already used.".to_string(),
            "Sign in again (reloading or going back to the page with the sign-in answer \
             cannot reuse it)."
                .to_string(),
        ),
        Some("70008") | Some("700082") | Some("700084") | Some("50173") | Some("50132") => make(
            "The sign-in has expired (the code or the refresh token is no longer \
                 valid; refresh tokens given to a single-page app last 24 hours)."
                .to_string(),
            sign_in_again(),
        ),
        Some("50058") | Some("50076") | Some("50079") | Some("50072") | Some("50074")
        | Some("160021") => make(
            "You need to sign in interactively (no session, or more verification is \
             needed)."
                .to_string(),
            sign_in_again(),
        ),
        _ => match error {
            "access_denied" => make(
                "Sign-in was cancelled, or access was denied.".to_string(),
                "Sign in again when you are ready; if you did not cancel, ask an \
                 administrator whether your account may use the app."
                    .to_string(),
            ),
            "interaction_required" | "login_required" => make(
                "You need to sign in interactively (no session, or more verification is \
                 needed)."
                    .to_string(),
                sign_in_again(),
            ),
            "consent_required" => make(
                "Consent is needed before the app can use Dataverse for you.".to_string(),
                "Sign in again and accept the consent prompt, or ask an administrator to \
                 grant consent for Dynamics CRM → user_impersonation."
                    .to_string(),
            ),
            "invalid_grant" => make(
                "The sign-in code or refresh token was not accepted (expired, used, or \
                 issued to another sign-in)."
                    .to_string(),
                sign_in_again(),
            ),
            "temporarily_unavailable" | "server_error" => make(
                "The sign-in service had a temporary problem.".to_string(),
                "Try again in a moment.".to_string(),
            ),
            _ => SignInError {
                code,
                message: if description.trim().is_empty() {
                    format!(
                        "Sign-in failed: {}.",
                        if error.is_empty() {
                            "unknown error"
                        } else {
                            error
                        }
                    )
                } else {
                    format!(
                        "Sign-in failed ({}): {}",
                        if error.is_empty() { "error" } else { error },
                        description.trim()
                    )
                },
                hint: "If it keeps failing, give this message (with its Trace ID and \
                       Correlation ID, if any) to the administrator of the app \
                       registration."
                    .to_string(),
            },
        },
    }
}

/// A token request that failed without a readable answer. From a browser page, that is
/// what Entra ID's missing CORS headers look like when the redirect URI is registered as
/// “Web” instead of “Single-page application”.
pub fn unreadable_token_answer(redirect_uri: &str) -> SignInError {
    let uri = uri_text(redirect_uri);
    SignInError {
        code: "token_unreadable".to_string(),
        message: format!(
            "The token request failed without a readable answer: the sign-in service did \
             not allow this page to read it (no CORS headers). Microsoft Entra ID answers \
             so when the redirect URI {uri} is registered as “Web” instead of \
             “Single-page application”."
        ),
        hint: format!(
            "In the app registration (Microsoft Entra admin center → App registrations → \
             the app → Authentication), remove {uri} from the “Web” platform and add \
             exactly {uri} under “Single-page application”; then sign in again. If it is \
             registered so already, check the network connection."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REDIRECT: &str = "https://console.example.test/";
    const CID: &str = "11111111-2222-3333-4444-555555555555";

    fn endpoints() -> Endpoints {
        Endpoints {
            authorization: "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize"
                .to_string(),
            token: "https://login.microsoftonline.com/organizations/oauth2/v2.0/token".to_string(),
            end_session: Some(
                "https://login.microsoftonline.com/organizations/oauth2/v2.0/logout".to_string(),
            ),
            issuer: "https://login.microsoftonline.com/{tenantid}/v2.0".to_string(),
        }
    }

    fn jwt(payload: &str) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(payload),
            "c2ln"
        )
    }

    /// RFC 7636 appendix B.
    const RFC_BYTES: [u8; 32] = [
        116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37,
        77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
    ];

    #[test]
    fn pkce_rfc7636_appendix_b() {
        let verifier = pkce_verifier(&RFC_BYTES);
        assert_eq!(verifier, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(
            pkce_challenge(&verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn pkce_shapes() {
        for seed in [0u8, 0xFF, 0x3E, 0x3F] {
            let v = pkce_verifier(&[seed; 32]);
            assert_eq!(v.len(), 43);
            assert!(v
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            let c = pkce_challenge(&v);
            assert_eq!(c.len(), 43);
            assert!(!c.contains(['+', '/', '=']));
        }
        assert_ne!(pkce_verifier(&[1; 32]), pkce_verifier(&[2; 32]));
        let t = random_token(&[0xFB; 16]);
        assert_eq!(t.len(), 22);
        assert!(!t.contains(['+', '/', '=']));
        assert_eq!(random_token(&[0; 16]), "AAAAAAAAAAAAAAAAAAAAAA");
    }

    #[test]
    fn discovery() {
        assert_eq!(
            discovery_url("https://login.microsoftonline.com/organizations/v2.0"),
            "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("http://127.0.0.1:9000/"),
            "http://127.0.0.1:9000/.well-known/openid-configuration"
        );
        let doc = r#"{
            "token_endpoint": "https://login.microsoftonline.com/organizations/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
            "jwks_uri": "https://login.microsoftonline.com/organizations/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0",
            "authorization_endpoint": "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize",
            "end_session_endpoint": "https://login.microsoftonline.com/organizations/oauth2/v2.0/logout"
        }"#;
        assert_eq!(parse_discovery(doc).unwrap(), endpoints());

        let local = r#"{"issuer":"http://127.0.0.1:9000","authorization_endpoint":"http://127.0.0.1:9000/authorize",
            "token_endpoint":"http://127.0.0.1:9000/token","code_challenge_methods_supported":["plain","S256"]}"#;
        let e = parse_discovery(local).unwrap();
        assert_eq!(e.end_session, None);
        assert_eq!(e.token, "http://127.0.0.1:9000/token");
    }

    #[test]
    fn discovery_errors() {
        assert!(parse_discovery("<html>").unwrap_err().contains("not JSON"));
        assert!(parse_discovery("[]")
            .unwrap_err()
            .contains("not a JSON object"));
        let e = parse_discovery(r#"{"issuer":"https://i","token_endpoint":"https://i/t"}"#)
            .unwrap_err();
        assert!(e.contains("authorization_endpoint"), "{e}");
        let e = parse_discovery(
            r#"{"issuer":"https://i","authorization_endpoint":"https://i/a","token_endpoint":""}"#,
        )
        .unwrap_err();
        assert!(e.contains("token_endpoint"), "{e}");
        let e = parse_discovery(
            r#"{"authorization_endpoint":"https://i/a","token_endpoint":"https://i/t"}"#,
        )
        .unwrap_err();
        assert!(e.contains("issuer"), "{e}");
        let e = parse_discovery(
            r#"{"issuer":"http://idp.example","authorization_endpoint":"http://idp.example/a","token_endpoint":"https://idp.example/t"}"#,
        )
        .unwrap_err();
        assert!(e.contains("https://"), "{e}");
        let e = parse_discovery(
            r#"{"issuer":"https://i","authorization_endpoint":"https://i/a","token_endpoint":"https://i/t","code_challenge_methods_supported":["plain"]}"#,
        )
        .unwrap_err();
        assert!(e.contains("S256"), "{e}");
        let e = parse_discovery(
            r#"{"issuer":"https://i","authorization_endpoint":"https://i/a","token_endpoint":"https://i/t","end_session_endpoint":5}"#,
        )
        .unwrap_err();
        assert!(e.contains("end_session_endpoint"), "{e}");
    }

    #[test]
    fn authorize_url_is_complete_and_encoded() {
        let scope = "https://contoso.crm.dynamics.com/user_impersonation openid offline_access";
        let u = authorize_url(
            &endpoints(),
            CID,
            REDIRECT,
            scope,
            "st-ate_1",
            "n0nce",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            Some("a+b@contoso.com"),
            Some("select_account"),
        );
        let (base, query) = u.split_once('?').unwrap();
        assert_eq!(base, endpoints().authorization);
        assert_eq!(
            query,
            "client_id=11111111-2222-3333-4444-555555555555\
             &response_type=code\
             &redirect_uri=https%3A%2F%2Fconsole.example.test%2F\
             &response_mode=query\
             &scope=https%3A%2F%2Fcontoso.crm.dynamics.com%2Fuser_impersonation%20openid%20offline_access\
             &state=st-ate_1&nonce=n0nce\
             &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
             &code_challenge_method=S256\
             &login_hint=a%2Bb%40contoso.com&prompt=select_account"
        );
        // The values decode back exactly.
        assert_eq!(url::query_value(query, "scope").as_deref(), Some(scope));
        assert_eq!(
            url::query_value(query, "login_hint").as_deref(),
            Some("a+b@contoso.com")
        );

        let u = authorize_url(
            &endpoints(),
            CID,
            REDIRECT,
            "s",
            "t",
            "n",
            "c",
            None,
            Some(" "),
        );
        assert!(!u.contains("login_hint") && !u.contains("prompt"), "{u}");

        // An endpoint with a query of its own (e.g. a B2C policy) keeps it.
        let mut e = endpoints();
        e.authorization = "https://idp.example.test/authorize?p=b2c_1_signin".to_string();
        let u = authorize_url(&e, CID, REDIRECT, "s", "t", "n", "c", None, None);
        assert!(
            u.starts_with("https://idp.example.test/authorize?p=b2c_1_signin&client_id="),
            "{u}"
        );
    }

    #[test]
    fn token_bodies() {
        let scope = "https://contoso.crm.dynamics.com/user_impersonation openid offline_access";
        let body = token_request_body(CID, REDIRECT, "0.AX&y=z", "ver_ifier-1", scope);
        assert_eq!(
            body,
            "client_id=11111111-2222-3333-4444-555555555555\
             &grant_type=authorization_code\
             &code=0.AX%26y%3Dz\
             &redirect_uri=https%3A%2F%2Fconsole.example.test%2F\
             &code_verifier=ver_ifier-1\
             &scope=https%3A%2F%2Fcontoso.crm.dynamics.com%2Fuser_impersonation%20openid%20offline_access"
        );
        let pairs = url::query_pairs(&body);
        assert!(pairs.contains(&("code".to_string(), "0.AX&y=z".to_string())));

        let body = refresh_request_body(CID, "1.rt+/=", scope);
        assert_eq!(
            body,
            "client_id=11111111-2222-3333-4444-555555555555\
             &grant_type=refresh_token\
             &refresh_token=1.rt%2B%2F%3D\
             &scope=https%3A%2F%2Fcontoso.crm.dynamics.com%2Fuser_impersonation%20openid%20offline_access"
        );
        assert_eq!(
            url::query_value(&body, "refresh_token").as_deref(),
            Some("1.rt+/=")
        );
    }

    #[test]
    fn end_session() {
        assert_eq!(
            end_session_url(&endpoints(), REDIRECT, Some("a@contoso.com")).as_deref(),
            Some(
                "https://login.microsoftonline.com/organizations/oauth2/v2.0/logout\
                 ?post_logout_redirect_uri=https%3A%2F%2Fconsole.example.test%2F\
                 &logout_hint=a%40contoso.com"
            )
        );
        let mut e = endpoints();
        e.end_session = None;
        assert_eq!(end_session_url(&e, REDIRECT, None), None);
    }

    #[test]
    fn token_response_success() {
        let t = parse_token_response(
            200,
            r#"{"token_type":"Bearer","scope":"https://contoso.crm.dynamics.com/user_impersonation",
                "expires_in":4339,"ext_expires_in":4339,"access_token":"eyJ0.a.b",
                "refresh_token":"0.AR","id_token":"h.p.s"}"#,
        )
        .unwrap();
        assert_eq!(
            t,
            Tokens {
                access_token: "eyJ0.a.b".to_string(),
                expires_in: 4339,
                refresh_token: Some("0.AR".to_string()),
                id_token: Some("h.p.s".to_string()),
            }
        );
        // Debug never prints the tokens.
        let dbg = format!("{t:?}");
        assert!(!dbg.contains("eyJ0") && !dbg.contains("0.AR"), "{dbg}");
        assert!(dbg.contains("<8 chars>"), "{dbg}");

        let t = parse_token_response(
            200,
            r#"{"token_type":"bearer","access_token":"x","expires_in":"3599","refresh_token":""}"#,
        )
        .unwrap();
        assert_eq!(t.expires_in, 3599);
        assert_eq!(t.refresh_token, None);
        assert_eq!(t.id_token, None);
        let t = parse_token_response(200, r#"{"access_token":"x"}"#).unwrap();
        assert_eq!(t.expires_in, DEFAULT_EXPIRES_IN);
    }

    #[test]
    fn token_response_errors() {
        let body = r#"{"error":"invalid_request","error_description":"AADSTS9002326: Cross-origin token redemption is permitted only for the 'Single-Page Application' client-type.\r\nTrace ID: 578a738f\r\nCorrelation ID: cabc0d01\r\nTimestamp: 2022-07-03 18:51:58Z","error_codes":[9002326]}"#;
        let e = parse_token_response_for(400, body, REDIRECT).unwrap_err();
        assert_eq!(e.code, "AADSTS9002326");
        assert!(e.hint.contains("Single-page application"), "{e:?}");
        assert!(e.hint.contains(REDIRECT), "{e:?}");
        assert!(e.message.contains("“Web”"), "{e:?}");
        assert!(e.message.contains("Cross-origin token redemption"), "{e:?}");
        assert!(!e.message.contains("Trace ID"), "{e:?}");

        // Without a redirect URI the hint still says what to register.
        let e = parse_token_response(400, body).unwrap_err();
        assert!(e.hint.contains("the console's address"), "{e:?}");

        // error_codes fill in a description without AADSTS.
        let e = parse_token_response(
            400,
            r#"{"error":"invalid_grant","error_description":"consent","error_codes":[65001]}"#,
        )
        .unwrap_err();
        assert_eq!(e.code, "AADSTS65001");

        // An error body wins even with status 200.
        let e = parse_token_response(200, r#"{"error":"invalid_grant"}"#).unwrap_err();
        assert_eq!(e.code, "invalid_grant");

        let e = parse_token_response(502, "<html>Bad gateway</html>").unwrap_err();
        assert_eq!(e.code, "http_502");
        let e = parse_token_response_for(0, "", REDIRECT).unwrap_err();
        assert_eq!(e, unreadable_token_answer(REDIRECT));
        let e = parse_token_response(200, "{}").unwrap_err();
        assert_eq!(e.code, "invalid_token_response");
        let e = parse_token_response(200, r#"{"access_token":""}"#).unwrap_err();
        assert_eq!(e.code, "invalid_token_response");
        let e = parse_token_response(200, "not json").unwrap_err();
        assert_eq!(e.code, "invalid_token_response");
        let e =
            parse_token_response(200, r#"{"access_token":"x","token_type":"pop"}"#).unwrap_err();
        assert_eq!(e.code, "unsupported_token_type");
    }

    #[test]
    fn renewal_time() {
        // One hour: five minutes before expiry.
        assert_eq!(renew_at(3600, 1_000.0), 1_000.0 + 3_300_000.0);
        // Ten minutes: still five minutes before (= half).
        assert_eq!(renew_at(600, 0.0), 300_000.0);
        // Short lifetimes: at half, never at once.
        assert_eq!(renew_at(120, 0.0), 60_000.0);
        assert_eq!(renew_at(1, 10.0), 510.0);
        assert_eq!(renew_at(0, 10.0), 10.0);
        // Always in the future for a positive lifetime, before the expiry.
        for s in [1u64, 59, 300, 301, 599, 601, 5000, 86_400] {
            let at = renew_at(s, 0.0);
            assert!(at > 0.0 && at < s as f64 * 1000.0, "{s}: {at}");
            assert!(at >= s as f64 * 500.0, "{s}: {at}");
        }
    }

    #[test]
    fn id_token_claims() {
        let t = jwt(
            r#"{"aud":"11111111-2222-3333-4444-555555555555","nonce":"abc","preferred_username":"adele@contoso.com","name":"Adele Vance","exp":1700000000,"email_verified":true,"roles":["x"]}"#,
        );
        assert_eq!(id_token_nonce(&t).as_deref(), Some("abc"));
        assert_eq!(
            id_token_claim(&t, "preferred_username").as_deref(),
            Some("adele@contoso.com")
        );
        assert_eq!(id_token_claim(&t, "name").as_deref(), Some("Adele Vance"));
        assert_eq!(id_token_claim(&t, "exp").as_deref(), Some("1700000000"));
        assert_eq!(
            id_token_claim(&t, "email_verified").as_deref(),
            Some("true")
        );
        assert_eq!(id_token_claim(&t, "roles"), None);
        assert_eq!(id_token_claim(&t, "missing"), None);

        // Padded payloads and non-ASCII names decode too.
        let padded = format!(
            "h.{}.s",
            base64::engine::general_purpose::URL_SAFE.encode(r#"{"name":"Zoë","nonce":"n1"}"#)
        );
        assert!(padded.contains('='));
        assert_eq!(id_token_claim(&padded, "name").as_deref(), Some("Zoë"));
        assert_eq!(id_token_nonce(&padded).as_deref(), Some("n1"));

        for junk in [
            "",
            "abc",
            "a.b",
            "a.b.c.d",
            "a.!!!.c",
            &format!("a.{}.c", URL_SAFE_NO_PAD.encode("[1]")),
            &format!("a.{}.c", URL_SAFE_NO_PAD.encode("not json")),
        ] {
            assert_eq!(id_token_nonce(junk), None, "{junk}");
        }
    }

    #[test]
    fn id_token_check() {
        let t = jwt(&format!(r#"{{"aud":"{CID}","nonce":"abc"}}"#));
        assert_eq!(check_id_token(&t, "abc", CID), Ok(()));
        assert_eq!(
            check_id_token(&t, "abd", CID).unwrap_err().code,
            "id_token_mismatch"
        );
        assert!(check_id_token(&t, "abc", "other").is_err());
        assert!(check_id_token("junk", "abc", CID).is_err());
        let t = jwt(&format!(r#"{{"aud":["x","{CID}"],"nonce":"abc"}}"#));
        assert_eq!(check_id_token(&t, "abc", CID), Ok(()));
        let t = jwt(&format!(r#"{{"aud":"{CID}","nonce":""}}"#));
        assert!(check_id_token(&t, "", CID).is_err());
    }

    #[test]
    fn redirects() {
        assert_eq!(parse_redirect(""), Redirect::None);
        assert_eq!(parse_redirect("?page=2"), Redirect::None);
        // `code` without `state` is not a sign-in answer.
        assert_eq!(parse_redirect("?code=abc"), Redirect::None);
        assert_eq!(parse_redirect("?code=&state=x"), Redirect::None);
        assert_eq!(
            parse_redirect("?code=0.AXo%2Bx-y_z&state=st1&session_state=ss"),
            Redirect::Code {
                code: "0.AXo+x-y_z".to_string(),
                state: "st1".to_string()
            }
        );
        assert_eq!(
            parse_redirect("state=st1&code=c#frag"),
            Redirect::Code {
                code: "c".to_string(),
                state: "st1".to_string()
            }
        );
        assert_eq!(
            parse_redirect(
                "?error=access_denied&error_description=AADSTS65004%3a+User+declined+to+consent.%0d%0aTrace+ID%3a+x&state=st1"
            ),
            Redirect::Error {
                error: "access_denied".to_string(),
                description: "AADSTS65004: User declined to consent.\r\nTrace ID: x".to_string(),
                state: "st1".to_string()
            }
        );
        // An error wins over a code, and a missing state is empty.
        assert_eq!(
            parse_redirect("?code=c&error=server_error"),
            Redirect::Error {
                error: "server_error".to_string(),
                description: String::new(),
                state: String::new()
            }
        );
    }

    #[test]
    fn strip_params() {
        assert_eq!(
            strip_redirect_params(
                "https://console.example.test/?code=abc&state=s&session_state=x&iss=https%3A%2F%2Fi"
            ),
            "https://console.example.test/"
        );
        assert_eq!(
            strip_redirect_params(
                "https://console.example.test/mailboxes?org=https%3A%2F%2Fa.crm.dynamics.com&code=abc&state=s&page=2#top"
            ),
            "https://console.example.test/mailboxes?org=https%3A%2F%2Fa.crm.dynamics.com&page=2#top"
        );
        assert_eq!(
            strip_redirect_params(
                "https://c.test/?error=access_denied&error_description=x+y&error_uri=u&state=s&client_info=ci"
            ),
            "https://c.test/"
        );
        // Encoded names are recognized; lookalikes are kept.
        assert_eq!(
            strip_redirect_params("https://c.test/?c%6Fde=1&codes=2&&x"),
            "https://c.test/?codes=2&x"
        );
        assert_eq!(
            strip_redirect_params("https://c.test/p#code=1"),
            "https://c.test/p#code=1"
        );
        assert_eq!(strip_redirect_params("https://c.test/?"), "https://c.test/");
        assert_eq!(strip_redirect_params("/rel?code=1#h"), "/rel#h");
    }

    #[test]
    fn return_to_is_same_origin() {
        assert_eq!(safe_return_to("/mailboxes?org=x#y"), "/mailboxes?org=x#y");
        assert_eq!(safe_return_to("/"), "/");
        for bad in [
            "",
            "mailboxes",
            "//evil.com/x",
            "/\\evil.com",
            "https://evil.com/",
            "javascript:alert(1)",
            "/a\nb",
        ] {
            assert_eq!(safe_return_to(bad), "/", "{bad:?}");
        }
    }

    #[test]
    fn pending_round_trip_and_state() {
        let mut random = [0u8; 64];
        for (i, b) in random.iter_mut().enumerate() {
            *b = i as u8;
        }
        random[..32].copy_from_slice(&RFC_BYTES);
        let p = Pending::new("https://contoso.crm.dynamics.com", "/mailboxes", &random);
        assert_eq!(p.verifier, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(p.challenge(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert_eq!(p.state.len(), 22);
        assert_eq!(p.nonce.len(), 22);
        assert_ne!(p.state, p.nonce);
        assert_eq!(p.return_to, "/mailboxes");

        let json = p.to_json();
        assert_eq!(Pending::from_json(&json), Some(p.clone()));
        assert_eq!(Pending::from_json(""), None);
        assert_eq!(Pending::from_json("{}"), None);
        assert_eq!(
            Pending::from_json(&json.replace(&p.verifier, "")),
            None,
            "empty verifier"
        );
        // A tampered return_to is made safe.
        let evil = json.replace("/mailboxes", "//evil.com");
        assert_eq!(Pending::from_json(&evil).unwrap().return_to, "/");
        assert_eq!(
            Pending::new("https://x", "https://evil.com", &random).return_to,
            "/"
        );

        assert_eq!(check_state(&p, &p.state), Ok(()));
        assert_eq!(check_state(&p, "other").unwrap_err().code, "state_mismatch");
        assert_eq!(
            check_state(&p, &p.state.to_uppercase()).unwrap_err().code,
            "state_mismatch"
        );
        assert_eq!(
            check_state(&p, &format!("{} ", p.state)).unwrap_err().code,
            "state_mismatch"
        );
        assert_eq!(check_state(&p, "").unwrap_err().code, "state_missing");
        let mut empty = p.clone();
        empty.state.clear();
        assert!(check_state(&empty, "x").is_err());
    }

    #[test]
    fn aadsts_codes() {
        assert_eq!(
            aadsts_code("AADSTS50011: The redirect URI").as_deref(),
            Some("AADSTS50011")
        );
        assert_eq!(
            aadsts_code("x aadsts700016: app").as_deref(),
            Some("AADSTS700016")
        );
        assert_eq!(
            aadsts_code("AADSTS: AADSTS12 y").as_deref(),
            Some("AADSTS12")
        );
        assert_eq!(aadsts_code("no code"), None);
        assert_eq!(aadsts_code(""), None);
    }

    fn ex(error: &str, code: &str) -> SignInError {
        explain(
            error,
            &format!("{code}: Something happened.\r\nTrace ID: t\r\nCorrelation ID: c"),
            REDIRECT,
        )
    }

    #[test]
    fn explain_maps_known_codes() {
        let e = ex("invalid_client", "AADSTS65001");
        assert_eq!(e.code, "AADSTS65001");
        assert!(e.message.contains("consent") && e.message.contains("user_impersonation"));
        assert!(e.hint.contains("Grant admin consent") && e.hint.contains("Dynamics CRM"));
        assert!(
            e.message.contains("“AADSTS65001: Something happened.”"),
            "{e:?}"
        );

        for c in ["AADSTS50020", "AADSTS90072"] {
            let e = ex("invalid_request", c);
            assert!(e.message.contains("not a member of the tenant"), "{c}");
            assert!(e.hint.contains("tenant"), "{c}");
        }
        assert!(ex("invalid_request", "AADSTS50034")
            .message
            .contains("does not exist"));
        let e = ex("unauthorized_client", "AADSTS700016");
        assert!(e.hint.contains("client ID") && e.hint.contains("tenant"));

        let e = ex("invalid_request", "AADSTS50011");
        assert!(e.hint.contains(&format!(
            "add exactly {REDIRECT} as a “Single-page application”"
        )));
        assert!(e.message.contains(REDIRECT));

        let e = ex("invalid_request", "AADSTS9002326");
        assert!(e.message.contains("“Web”"));
        assert!(e.hint.contains("under “Single-page application”"));
        assert!(e.hint.contains(REDIRECT));
        let e = ex("invalid_client", "AADSTS7000218");
        assert!(e.hint.contains("“Single-page application”"));

        let e = ex("invalid_request", "AADSTS9002327");
        assert!(e.message.contains("Origin header"), "{e:?}");

        for c in ["AADSTS70011", "AADSTS650057", "AADSTS500011"] {
            let e = ex("invalid_scope", c);
            assert!(e.hint.contains("environment URL"), "{c}: {e:?}");
        }
        for c in ["AADSTS54005", "AADSTS70008", "AADSTS700084", "AADSTS700082"] {
            let e = ex("invalid_grant", c);
            assert!(e.hint.contains("Sign in again"), "{c}: {e:?}");
        }
        let e = ex("invalid_request", "AADSTS50194");
        assert!(e.hint.contains("tenant ID") || e.hint.contains("(tenant) ID"));
        assert!(ex("access_denied", "AADSTS50105")
            .hint
            .contains("Users and groups"));
        assert!(ex("access_denied", "AADSTS53003")
            .message
            .contains("Conditional Access"));
        assert!(ex("access_denied", "AADSTS65004")
            .message
            .contains("declined"));
        assert!(ex("invalid_request", "AADSTS90002")
            .hint
            .contains("organizations"));
        assert!(ex("interaction_required", "AADSTS50076")
            .message
            .contains("interactively"));
    }

    #[test]
    fn explain_maps_oauth_errors() {
        let e = explain("access_denied", "", REDIRECT);
        assert_eq!(e.code, "access_denied");
        assert!(e.message.contains("cancelled"));
        assert!(!e.message.contains("said"));
        for err in ["interaction_required", "login_required"] {
            let e = explain(err, "", REDIRECT);
            assert_eq!(e.code, err);
            assert!(e.hint.contains("Sign in again"));
        }
        assert!(explain("consent_required", "", REDIRECT)
            .hint
            .contains("consent"));
        assert!(explain("invalid_grant", "bad", REDIRECT)
            .hint
            .contains("Sign in again"));
        assert!(explain("temporarily_unavailable", "", REDIRECT)
            .hint
            .contains("moment"));
    }

    #[test]
    fn explain_fallback_quotes_the_description() {
        let d =
            "AADSTS50057: The user account is disabled.\r\nTrace ID: abc\r\nCorrelation ID: def";
        let e = explain("invalid_grant_x", d, REDIRECT);
        assert_eq!(e.code, "AADSTS50057");
        assert!(e.message.contains("The user account is disabled."), "{e:?}");
        assert!(e.message.contains("Correlation ID: def"), "{e:?}");
        assert!(e.message.contains("invalid_grant_x"), "{e:?}");
        let e = explain("weird", "", REDIRECT);
        assert_eq!(e.code, "weird");
        assert_eq!(e.message, "Sign-in failed: weird.");
        let e = explain("", "", REDIRECT);
        assert_eq!(e.code, "sign_in_failed");
        assert!(!e.hint.is_empty());
        // Display shows all three parts.
        let shown = e.to_string();
        assert!(shown.contains(&e.message) && shown.contains(&e.hint) && shown.contains(&e.code));
    }

    #[test]
    fn unreadable_answer_names_the_platform_and_uri() {
        let e = unreadable_token_answer(REDIRECT);
        assert!(e.message.contains("“Web”"), "{e:?}");
        assert!(e.message.contains("“Single-page application”"), "{e:?}");
        assert!(e.message.contains(REDIRECT));
        assert!(e.hint.contains(&format!(
            "add exactly {REDIRECT} under “Single-page application”"
        )));
        let e = unreadable_token_answer("");
        assert!(e.hint.contains("the console's address"));
    }
}
