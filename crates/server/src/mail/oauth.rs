//! OAuth 2.0 client credentials against Microsoft Entra ID (v2.0 endpoint): the access
//! token an app uses to call Exchange Online, as Dataverse's server-side
//! synchronization does for server-to-server profiles.
//!
//! `POST {authority}/{tenant}/oauth2/v2.0/token` with `grant_type=client_credentials`,
//! `client_id`, `client_secret` and `scope=https://outlook.office365.com/.default`
//! ("Authenticate an EWS application by using OAuth", Microsoft Learn). Entra ID's
//! refusals (`invalid_client`, AADSTS codes) come back as an authentication failure in
//! Entra's own words; the secret is never part of any message.

use serde_json::Value;

use super::http::{self, Url};
use super::net::printable;
use super::{Failure, FailureKind, Timeouts, Tls};

/// The scope of an app-only token for Exchange Online's EWS.
pub const EXCHANGE_SCOPE: &str = "https://outlook.office365.com/.default";

/// An access token and how many seconds it is valid for.
#[derive(Debug, Clone)]
pub struct Token {
    pub access_token: String,
    pub expires_in: u64,
}

/// `application/x-www-form-urlencoded` for one value (RFC 3986 unreserved kept).
fn form(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The client credentials flow for `client_id` in `tenant`.
pub async fn client_credentials(
    authority: &str,
    tenant: &str,
    client_id: &str,
    secret: &str,
    tls: &Tls,
    timeouts: &Timeouts,
) -> Result<Token, Failure> {
    const STAGE: &str = "token";
    // The tenant goes into the path: only a tenant id or domain name may.
    if tenant.is_empty()
        || !tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(Failure::new(
            FailureKind::Auth,
            STAGE,
            format!(
                "not a tenant id or domain: {}",
                printable(tenant.as_bytes(), 80)
            ),
        ));
    }
    let url = format!(
        "{}/{tenant}/oauth2/v2.0/token",
        authority.trim_end_matches('/')
    );
    let url = Url::parse(&url).map_err(|m| Failure::new(FailureKind::Protocol, STAGE, m))?;
    let body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}&scope={}",
        form(client_id),
        form(secret),
        form(EXCHANGE_SCOPE)
    );
    let headers = [
        (
            "content-type",
            "application/x-www-form-urlencoded".to_string(),
        ),
        ("accept", "application/json".to_string()),
    ];
    let resp = http::post(&url, &headers, body, tls, timeouts).await?;
    let json: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    if resp.status != 200 {
        // Entra ID's words: `error` and `error_description` ("AADSTS7000215: Invalid
        // client secret provided. ...").
        let error = json["error"].as_str().unwrap_or("");
        let description = json["error_description"].as_str().unwrap_or("");
        let words = if error.is_empty() && description.is_empty() {
            printable(&resp.body, 200)
        } else {
            printable(format!("{error}: {description}").as_bytes(), 400)
        };
        let kind = if matches!(resp.status, 400 | 401 | 403) {
            FailureKind::Auth
        } else {
            FailureKind::Http(resp.status)
        };
        return Err(Failure::new(
            kind,
            STAGE,
            format!("Microsoft Entra ID refused the app {client_id} in tenant {tenant}: HTTP {} {words}", resp.status),
        ));
    }
    match (json["access_token"].as_str(), json["expires_in"].as_u64()) {
        (Some(t), expires) if !t.is_empty() => Ok(Token {
            access_token: t.to_string(),
            // Entra ID sends expires_in as a number; an absent one is taken as an hour.
            expires_in: expires
                .or_else(|| json["expires_in"].as_str().and_then(|s| s.parse().ok()))
                .unwrap_or(3600),
        }),
        _ => Err(Failure::new(
            FailureKind::Protocol,
            STAGE,
            "the token endpoint answered without an access_token",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_percent_encoded() {
        assert_eq!(
            form("https://outlook.office365.com/.default"),
            "https%3A%2F%2Foutlook.office365.com%2F.default"
        );
        assert_eq!(form("a b&c=d~"), "a%20b%26c%3Dd~");
    }
}
