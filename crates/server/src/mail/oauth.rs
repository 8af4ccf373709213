//! OAuth 2.0 client credentials against Microsoft Entra ID (v2.0 endpoint): the access
//! token an app uses to call Exchange Online, as Dataverse's server-side
//! synchronization does for server-to-server profiles.
//!
//! `POST {authority}/{tenant}/oauth2/v2.0/token` with `grant_type=client_credentials`,
//! `client_id`, `client_secret` and `scope=https://outlook.office365.com/.default`
//! ("Authenticate an EWS application by using OAuth", Microsoft Learn). An app whose
//! credential is a certificate sends a client assertion instead ("Microsoft identity
//! platform application authentication certificate credentials"): a JWT naming the
//! certificate by its SHA-1 thumbprint (`x5t`), with `aud` the token endpoint, `iss` and
//! `sub` the client id, a `jti` and a ten-minute lifetime, signed RS256 with the
//! certificate's private key (ring). Entra ID's refusals (`invalid_client`, AADSTS
//! codes) come back as an authentication failure in Entra's own words; the secret or
//! key is never part of any message.

use std::sync::Arc;

use base64::Engine as _;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
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

/// How an app proves who it is.
#[derive(Clone)]
pub enum Credential {
    Secret(String),
    Certificate(Arc<AppCertificate>),
}

impl Credential {
    /// A digest of the credential, for a token cache's key (the secret itself is not
    /// kept twice): a token got with one credential is not used for another.
    pub fn digest(&self) -> String {
        match self {
            Credential::Secret(s) => crate::store::digest(s),
            Credential::Certificate(c) => format!("cert:{}", c.x5t),
        }
    }
}

/// An app's certificate credential: the certificate's SHA-1 thumbprint and its RSA
/// private key.
pub struct AppCertificate {
    x5t: String,
    key: RsaKeyPair,
}

impl AppCertificate {
    /// From one PEM text holding the certificate (`CERTIFICATE`, the first one) and its
    /// unencrypted RSA private key (`PRIVATE KEY`, PKCS #8, or `RSA PRIVATE KEY`).
    /// Read with rustls's PEM reader, as `--tls-cert` and `--trust-ca` are.
    pub fn from_pem(text: &str) -> Result<AppCertificate, String> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let cert = CertificateDer::pem_slice_iter(text.as_bytes())
            .next()
            .and_then(Result::ok)
            .ok_or("no CERTIFICATE block: the file must hold the app's certificate")?;
        let key = match PrivateKeyDer::from_pem_slice(text.as_bytes()) {
            Ok(PrivateKeyDer::Pkcs8(der)) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()),
            Ok(PrivateKeyDer::Pkcs1(der)) => RsaKeyPair::from_der(der.secret_pkcs1_der()),
            Ok(_) => return Err("the private key is not an RSA key".into()),
            Err(_) if text.contains("ENCRYPTED PRIVATE KEY") => {
                return Err(
                    "the private key is encrypted: give it unencrypted (readable by this \
                     user only)"
                        .into(),
                )
            }
            Err(_) => {
                return Err(
                    "no PRIVATE KEY block: the file must hold the certificate's private key".into(),
                )
            }
        }
        .map_err(|e| format!("the private key is not an RSA key ring can use: {e}"))?;
        let thumbprint = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &cert);
        Ok(AppCertificate {
            x5t: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(thumbprint.as_ref()),
            key,
        })
    }

    /// A client assertion for `client_id` at `audience` (the token endpoint), valid ten
    /// minutes from `now` (seconds since the epoch).
    fn assertion(&self, client_id: &str, audience: &str, now: u64) -> Result<String, String> {
        let b64 = |v: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
        };
        let mut jti = [0u8; 16];
        getrandom::getrandom(&mut jti).map_err(|e| format!("no randomness: {e}"))?;
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": self.x5t});
        let claims = serde_json::json!({
            "aud": audience, "iss": client_id, "sub": client_id,
            "jti": jti.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "nbf": now, "iat": now, "exp": now + 600,
        });
        let input = format!("{}.{}", b64(&header), b64(&claims));
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "the client assertion could not be signed".to_string())?;
        Ok(format!(
            "{input}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&signature)
        ))
    }
}

/// A test app's credential: a self-signed RSA certificate (openssl, which
/// `scripts/mailservers.sh` also uses for the registered one) and its key in one PEM file
/// in `dir`; `(credential, certificate alone)`.
#[cfg(test)]
pub fn test_credential(
    dir: &std::path::Path,
    name: &str,
) -> (std::path::PathBuf, std::path::PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .arg("-subj")
        .arg(format!("/CN={name}"))
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let credential = dir.join("credential.pem");
    std::fs::write(
        &credential,
        std::fs::read_to_string(&cert).unwrap() + &std::fs::read_to_string(&key).unwrap(),
    )
    .unwrap();
    (credential, cert)
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

/// A token endpoint's refusal: an authentication failure for 400, 401 and 403, and the
/// provider's words, `error: error_description` ("invalid_client: AADSTS7000215:
/// Invalid client secret provided. ...", "invalid_grant: Token has been expired or
/// revoked."), else the body's start.
pub(crate) fn refusal(resp: &http::Response) -> (FailureKind, String) {
    let json: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
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
    (kind, words)
}

/// A tenant goes into a token endpoint's path: only a tenant id or domain name may.
pub(crate) fn check_tenant(tenant: &str) -> Result<(), Failure> {
    if tenant.is_empty()
        || !tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(Failure::new(
            FailureKind::Auth,
            "token",
            format!(
                "not a tenant id or domain: {}",
                printable(tenant.as_bytes(), 80)
            ),
        ));
    }
    Ok(())
}

/// The client credentials flow for `client_id` in `tenant`.
pub async fn client_credentials(
    authority: &str,
    tenant: &str,
    client_id: &str,
    credential: &Credential,
    tls: &Tls,
    timeouts: &Timeouts,
) -> Result<Token, Failure> {
    const STAGE: &str = "token";
    check_tenant(tenant)?;
    let url = format!(
        "{}/{tenant}/oauth2/v2.0/token",
        authority.trim_end_matches('/')
    );
    let proof = match credential {
        Credential::Secret(secret) => format!("client_secret={}", form(secret)),
        Credential::Certificate(cert) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let jwt = cert
                .assertion(client_id, &url, now)
                .map_err(|m| Failure::new(FailureKind::Auth, STAGE, m))?;
            format!(
                "client_assertion_type={}&client_assertion={jwt}",
                form("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            )
        }
    };
    let url = Url::parse(&url).map_err(|m| Failure::new(FailureKind::Protocol, STAGE, m))?;
    let body = format!(
        "grant_type=client_credentials&client_id={}&{proof}&scope={}",
        form(client_id),
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
        let (kind, words) = refusal(&resp);
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

    /// The client assertion Entra ID takes: RS256 over header and claims, the header's
    /// x5t the certificate's SHA-1 thumbprint, verified here with the key's public half.
    #[test]
    fn client_assertions_are_signed_jwts_naming_the_certificate() {
        use rustls::pki_types::{pem::PemObject, CertificateDer};
        let dir = std::env::temp_dir().join(format!("mailsync-assertion-{}", std::process::id()));
        let (credential, cert) = test_credential(&dir, "assertion test");
        let pem = std::fs::read_to_string(&credential).unwrap();
        let app = AppCertificate::from_pem(&pem).unwrap();
        let jwt = app
            .assertion(
                "client-1",
                "https://login.example/t/oauth2/v2.0/token",
                1_800_000_000,
            )
            .unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        let decode = |p: &str| -> Value {
            serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(p)
                    .unwrap(),
            )
            .unwrap()
        };
        let (header, claims) = (decode(parts[0]), decode(parts[1]));
        assert_eq!(header["alg"], "RS256");
        let der = CertificateDer::from_pem_file(&cert).unwrap();
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
        assert_eq!(
            header["x5t"],
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha1.as_ref())
        );
        assert_eq!(claims["aud"], "https://login.example/t/oauth2/v2.0/token");
        assert_eq!(
            (claims["iss"].as_str(), claims["sub"].as_str()),
            (Some("client-1"), Some("client-1"))
        );
        assert_eq!(claims["exp"].as_u64(), Some(1_800_000_600));
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            app.key.public().as_ref(),
        );
        let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[2])
            .unwrap();
        public
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .unwrap();
        // No key, or an encrypted one, is a clear error.
        assert!(AppCertificate::from_pem(&std::fs::read_to_string(&cert).unwrap()).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn form_values_are_percent_encoded() {
        assert_eq!(
            form("https://outlook.office365.com/.default"),
            "https%3A%2F%2Foutlook.office365.com%2F.default"
        );
        assert_eq!(form("a b&c=d~"), "a%20b%26c%3Dd~");
    }
}
