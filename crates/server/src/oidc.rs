//! OpenID Connect mode (`--oidc-issuer URL --oidc-audience URI`): the local organization
//! accepts `Authorization: Bearer <JWT>` access tokens as Dataverse accepts Microsoft
//! Entra ID's, besides its own sessions.
//!
//! A token is checked against the issuer's keys, found through its discovery document
//! (`<issuer>/.well-known/openid-configuration` → `jwks_uri`, both cached; the keys are
//! read again when a token names a key id not seen yet, at most once a minute): its
//! signature (RS256/384/512, PS256/384/512, ES256/384), `iss`, `aud`, `exp` and `nbf`
//! (a minute's leeway). Entra's issuer template `{tenantid}` is filled with the token's
//! `tid`, and Entra's v1 tokens (`https://sts.windows.net/<tid>/`) are accepted beside
//! v2 ones. The token's user is the systemuser whose `azureactivedirectoryobjectid` is
//! its `oid`, else whose `domainname` or `internalemailaddress` is its `upn`,
//! `unique_name` or `preferred_username` (without regard to case). Tokens are opaque to
//! clients; only this server reads them.
//!
//! A request without a valid token is answered 401 with Dataverse's
//! `WWW-Authenticate: Bearer authorization_uri=<authorize endpoint>, resource_id=<audience>`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::mail::http::{self, Url};
use crate::mail::{Timeouts, Tls};

/// How long the discovery document and the keys are kept.
const CACHE_FOR: Duration = Duration::from_secs(3600);
/// The keys are read again for an unknown key id at most this often.
const REFRESH_AT_MOST_EVERY: Duration = Duration::from_secs(60);
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 60;
/// A longer token is not one.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The issuer's discovery document, as far as it matters here.
#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
    #[serde(default)]
    authorization_endpoint: Option<String>,
}

#[derive(Default)]
struct Cache {
    discovery: Option<(Instant, Discovery)>,
    keys: Option<(Instant, JwkSet)>,
    last_refresh: Option<Instant>,
}

/// The OpenID Connect issuer and audience this server trusts.
pub struct Oidc {
    issuer: String,
    audiences: Vec<String>,
    tls: Tls,
    timeouts: Timeouts,
    cache: Mutex<Cache>,
    refresh: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .finish()
    }
}

/// What a valid token says of its user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// `oid`: the user's object id in the directory.
    pub object_id: Option<String>,
    /// `upn`, `unique_name` or `preferred_username`, in that order.
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Claims {
    iss: String,
    #[serde(default)]
    tid: Option<String>,
    #[serde(default)]
    oid: Option<String>,
    #[serde(default)]
    upn: Option<String>,
    #[serde(default)]
    unique_name: Option<String>,
    #[serde(default)]
    preferred_username: Option<String>,
}

/// Whether a bearer value is a JWT (three base64url parts) rather than a session token.
pub fn looks_like_jwt(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && !parts[0].is_empty()
        && !parts[1].is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The issuers a token from `discovered` may name: the discovered one with Entra's
/// `{tenantid}` filled with the token's `tid`, and, for Microsoft Entra ID, the v1
/// token issuer of the same tenant.
fn accepted_issuers(discovered: &str, tid: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    match tid {
        Some(tid) => {
            out.push(discovered.replace("{tenantid}", tid));
            if discovered.contains("login.microsoftonline.com") {
                out.push(format!("https://sts.windows.net/{tid}/"));
            }
        }
        None if !discovered.contains("{tenantid}") => out.push(discovered.to_string()),
        None => {}
    }
    out
}

impl Oidc {
    pub fn new(issuer: &str, audiences: &[String], tls: Tls, timeouts: Timeouts) -> Oidc {
        Oidc {
            issuer: issuer.trim_end_matches('/').to_string(),
            audiences: audiences.to_vec(),
            tls,
            timeouts,
            cache: Mutex::new(Cache::default()),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    /// `WWW-Authenticate` of a 401, as Dataverse sends it (the authorize endpoint once
    /// the discovery document has been read).
    pub fn challenge(&self) -> String {
        let authorize = self
            .cache
            .lock()
            .ok()
            .and_then(|c| {
                c.discovery
                    .as_ref()
                    .and_then(|(_, d)| d.authorization_endpoint.clone())
            })
            .unwrap_or_else(|| format!("{}/authorize", self.issuer));
        let resource = self.audiences.first().cloned().unwrap_or_default();
        format!("Bearer authorization_uri={authorize}, resource_id={resource}")
    }

    async fn get_json<T: for<'de> Deserialize<'de>>(&self, url: &str) -> Result<T, String> {
        let parsed = Url::parse(url)?;
        let resp = http::get(
            &parsed,
            &[("accept", "application/json".to_string())],
            &self.tls,
            &self.timeouts,
        )
        .await
        .map_err(|f| format!("{url}: {f}"))?;
        if resp.status != 200 {
            return Err(format!("{url}: HTTP {}", resp.status));
        }
        serde_json::from_slice(&resp.body).map_err(|e| format!("{url}: {e}"))
    }

    async fn discovery(&self) -> Result<Discovery, String> {
        if let Some((at, d)) = self.cache.lock().ok().and_then(|c| c.discovery.clone()) {
            if at.elapsed() < CACHE_FOR {
                return Ok(d);
            }
        }
        let d: Discovery = self
            .get_json(&format!("{}/.well-known/openid-configuration", self.issuer))
            .await?;
        if let Ok(mut c) = self.cache.lock() {
            c.discovery = Some((Instant::now(), d.clone()));
        }
        Ok(d)
    }

    /// The issuer's keys, read again when `kid` is not among them (at most once a
    /// minute) or the cache is old.
    async fn keys(&self, kid: Option<&str>) -> Result<JwkSet, String> {
        let cached = self.cache.lock().ok().and_then(|c| c.keys.clone());
        let knows = |set: &JwkSet| kid.is_none_or(|k| set.find(k).is_some());
        if let Some((at, set)) = &cached {
            if at.elapsed() < CACHE_FOR && knows(set) {
                return Ok(set.clone());
            }
        }
        // One refresh at a time; the others wait for it and use what it read.
        let _one = self.refresh.lock().await;
        let recent = self
            .cache
            .lock()
            .ok()
            .and_then(|c| c.last_refresh)
            .is_some_and(|t| t.elapsed() < REFRESH_AT_MOST_EVERY);
        if recent {
            if let Some((_, set)) = self.cache.lock().ok().and_then(|c| c.keys.clone()) {
                return Ok(set);
            }
        }
        let d = self.discovery().await?;
        let set: JwkSet = self.get_json(&d.jwks_uri).await?;
        if let Ok(mut c) = self.cache.lock() {
            c.keys = Some((Instant::now(), set.clone()));
            c.last_refresh = Some(Instant::now());
        }
        Ok(set)
    }

    /// The identity of a valid token; why it is not valid otherwise.
    pub async fn validate(&self, token: &str) -> Result<Identity, String> {
        if token.len() > MAX_TOKEN_LEN {
            return Err("the token is too long".into());
        }
        let header = jsonwebtoken::decode_header(token).map_err(|e| format!("not a JWT: {e}"))?;
        if !matches!(
            header.alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
                | Algorithm::ES256
                | Algorithm::ES384
        ) {
            return Err(format!(
                "tokens signed with {:?} are not accepted",
                header.alg
            ));
        }
        let set = self.keys(header.kid.as_deref()).await?;
        let jwk = match header.kid.as_deref() {
            Some(kid) => set.find(kid),
            None => set.keys.first(),
        }
        .ok_or("the token's signing key is not among the issuer's keys")?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("the issuer's key: {e}"))?;
        let mut v = Validation::new(header.alg);
        v.set_audience(&self.audiences);
        v.leeway = LEEWAY_SECS;
        v.validate_nbf = true;
        v.set_required_spec_claims(&["exp", "aud", "iss"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &v)
            .map_err(|e| format!("the token is not valid: {e}"))?
            .claims;
        let discovered = self.discovery().await?.issuer;
        let accepted = accepted_issuers(&discovered, claims.tid.as_deref());
        if !accepted.iter().any(|i| i == &claims.iss) {
            return Err(format!(
                "the token's issuer {} is not {}",
                claims.iss, discovered
            ));
        }
        Ok(Identity {
            object_id: claims.oid,
            name: claims
                .upn
                .or(claims.unique_name)
                .or(claims.preferred_username),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_with_the_tenant_template_and_v1_tokens() {
        let entra = "https://login.microsoftonline.com/{tenantid}/v2.0";
        let tid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        assert_eq!(
            accepted_issuers(entra, Some(tid)),
            [
                format!("https://login.microsoftonline.com/{tid}/v2.0"),
                format!("https://sts.windows.net/{tid}/"),
            ]
        );
        assert!(
            accepted_issuers(entra, None).is_empty(),
            "a template needs the tenant"
        );
        assert_eq!(
            accepted_issuers("http://localhost:8080", None),
            ["http://localhost:8080"]
        );
        assert_eq!(
            accepted_issuers("http://localhost:8080", Some(tid)),
            ["http://localhost:8080"]
        );
    }

    #[test]
    fn jwts_and_session_tokens() {
        assert!(looks_like_jwt("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"));
        assert!(!looks_like_jwt(&"ab".repeat(32)), "a session token");
        assert!(!looks_like_jwt("a.b"));
        assert!(!looks_like_jwt("a.b.c d"));
    }
}
