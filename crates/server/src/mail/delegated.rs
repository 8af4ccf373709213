//! Per-mailbox OAuth 2.0 ("Gmail OAuth", "Azure AD OAuth"): the calls to the provider's
//! token endpoint that a mailbox's sign-in and its synchronization make, as a
//! confidential client (the profile's client ID and secret).
//!
//! * Google: the endpoints come from its discovery document
//!   (`<issuer>/.well-known/openid-configuration`, cached for an hour), so a stand-in
//!   issuer in tests is found the same way as `https://accounts.google.com`.
//! * Microsoft Entra ID: `{authority}/{tenant}/oauth2/v2.0/authorize` and `/token`.
//!
//! The request bodies and the reading of the answers are core's
//! (`mailsync_core::oauth::client`, which the console signs in with); this module adds
//! the client secret and does the HTTP. Refusals come back as authentication failures
//! in the provider's words; no token or secret is ever part of a message.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use mailsync_core::oauth::client::{self, Endpoints, Tokens};
use mailsync_core::oauth::Provider;
use mailsync_core::url::form;

use super::http::{self, Url};
use super::{Failure, FailureKind, Timeouts, Tls};

/// How long Google's discovery document is kept.
const DISCOVERY_FOR: Duration = Duration::from_secs(3600);

/// Where each provider is.
pub struct Providers {
    /// Google's OpenID Connect issuer (`https://accounts.google.com`).
    google_issuer: String,
    /// Microsoft Entra ID (`https://login.microsoftonline.com`).
    entra_authority: String,
    google: Mutex<Option<(Instant, Endpoints)>>,
}

impl Providers {
    pub fn new(google_issuer: &str, entra_authority: &str) -> Providers {
        Providers {
            google_issuer: google_issuer.trim_end_matches('/').to_string(),
            entra_authority: entra_authority.trim_end_matches('/').to_string(),
            google: Mutex::new(None),
        }
    }

    /// The provider's authorization and token endpoints.
    pub async fn endpoints(
        &self,
        provider: &Provider,
        tls: &Tls,
        timeouts: &Timeouts,
    ) -> Result<Endpoints, Failure> {
        match provider {
            Provider::Entra { tenant } => {
                super::oauth::check_tenant(tenant)?;
                let base = format!("{}/{tenant}/oauth2/v2.0", self.entra_authority);
                Ok(Endpoints {
                    authorization: format!("{base}/authorize"),
                    token: format!("{base}/token"),
                    end_session: None,
                    issuer: format!("{}/{tenant}/v2.0", self.entra_authority),
                })
            }
            Provider::Google => {
                if let Some((at, e)) = self.google.lock().ok().and_then(|g| g.clone()) {
                    if at.elapsed() < DISCOVERY_FOR {
                        return Ok(e);
                    }
                }
                let url = client::discovery_url(&self.google_issuer);
                let parsed = Url::parse(&url)
                    .map_err(|m| Failure::new(FailureKind::Protocol, "token", m))?;
                let resp = http::get(
                    &parsed,
                    &[("accept", "application/json".into())],
                    tls,
                    timeouts,
                )
                .await?;
                if resp.status != 200 {
                    return Err(Failure::new(
                        FailureKind::Http(resp.status),
                        "token",
                        format!("{url} answered HTTP {}", resp.status),
                    ));
                }
                let e = client::parse_discovery(&String::from_utf8_lossy(&resp.body))
                    .map_err(|m| Failure::new(FailureKind::Protocol, "token", m))?;
                if let Ok(mut g) = self.google.lock() {
                    *g = Some((Instant::now(), e.clone()));
                }
                Ok(e)
            }
        }
    }
}

/// Redeems an authorization code (with its PKCE verifier) for the mailbox's tokens.
#[allow(clippy::too_many_arguments)]
pub async fn redeem(
    token_url: &str,
    client_id: &str,
    secret: &str,
    redirect_uri: &str,
    code: &str,
    verifier: &str,
    scope: &str,
    tls: &Tls,
    timeouts: &Timeouts,
) -> Result<Tokens, Failure> {
    let body = client::token_request_body(client_id, redirect_uri, code, verifier, scope);
    call(token_url, body, secret, tls, timeouts).await
}

/// A new access token (and, from Entra ID, a new refresh token) for a refresh token.
pub async fn refresh(
    token_url: &str,
    client_id: &str,
    secret: &str,
    refresh_token: &str,
    scope: &str,
    tls: &Tls,
    timeouts: &Timeouts,
) -> Result<Tokens, Failure> {
    let body = client::refresh_request_body(client_id, refresh_token, scope);
    call(token_url, body, secret, tls, timeouts).await
}

/// Posts core's request `body` to the token endpoint as the confidential client it is
/// (the profile's client secret added), and reads the answer.
async fn call(
    token_url: &str,
    body: String,
    secret: &str,
    tls: &Tls,
    timeouts: &Timeouts,
) -> Result<Tokens, Failure> {
    let body = format!("{body}&{}", form(&[("client_secret", secret)]));
    const STAGE: &str = "token";
    let url = Url::parse(token_url).map_err(|m| Failure::new(FailureKind::Protocol, STAGE, m))?;
    let headers = [
        (
            "content-type",
            "application/x-www-form-urlencoded".to_string(),
        ),
        ("accept", "application/json".to_string()),
    ];
    let resp = http::post(&url, &headers, body, tls, timeouts).await?;
    if resp.status != 200 {
        let (kind, words) = super::oauth::refusal(&resp);
        return Err(Failure::new(
            kind,
            STAGE,
            format!("the token endpoint refused: HTTP {} {words}", resp.status),
        ));
    }
    client::parse_token_response(resp.status, &String::from_utf8_lossy(&resp.body))
        .map_err(|e| Failure::new(FailureKind::Protocol, STAGE, e.message))
}
