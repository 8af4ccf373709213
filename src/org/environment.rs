//! Dataverse environments the console can sign in to: their normalized URL, the Entra ID
//! tenant and app registration used to sign in, the saved list (JSON in localStorage) and
//! links that name an environment (`?org=<url>`).

use serde::{Deserialize, Serialize};

use super::url::{self, parse_absolute};

/// The tenant used when none is given: any work or school account, whose home tenant
/// then decides (multi-tenant app registrations only; see AADSTS50194 in `oauth::explain`).
pub const DEFAULT_TENANT: &str = "organizations";

/// Host suffixes of Dataverse / Dynamics 365 environments, per cloud:
/// commercial and GCC (`crm*.dynamics.com`), GCC High (`crm.microsoftdynamics.us`),
/// DoD (`crm.appsplatform.us`), China operated by 21Vianet (`crm.dynamics.cn`) and the
/// former Microsoft Cloud Germany (`crm.microsoftdynamics.de`). Source:
/// power-platform admin "Datacenter regions" (new-datacenter-regions.md).
const DATAVERSE_SUFFIXES: &[&str] = &[
    ".dynamics.com",
    ".dynamics.us",
    ".microsoftdynamics.us",
    ".appsplatform.us",
    ".dynamics.cn",
    ".microsoftdynamics.de",
];

/// One environment the console can sign in to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    /// `https://contoso.crm.dynamics.com`: lower-case host, https only, no path, query or
    /// trailing slash (see [`normalize_url`]).
    pub url: String,
    /// The Entra ID tenant: `organizations` (default), a tenant ID or a verified domain.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// The app registration's Application (client) ID.
    pub client_id: String,
    /// An OpenID Connect issuer other than Entra ID's (tests use a local one); `None`
    /// means Entra ID: `https://login.microsoftonline.com/{tenant}/v2.0` (the national
    /// cloud's login host for US Government and China environments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
}

fn default_tenant() -> String {
    DEFAULT_TENANT.to_string()
}

/// What a page link's `org=` parameter names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkTarget {
    /// The link names no environment.
    None,
    /// A saved environment (its index in the saved list).
    Saved(usize),
    /// A valid environment URL that is not saved (normalized): ask the user to confirm it
    /// before anything (sign-in included) is sent there.
    Unknown(String),
    /// The parameter is there but is not a usable environment URL.
    Invalid(String),
}

impl Environment {
    /// A checked environment: the URL is normalized, an empty tenant becomes
    /// `organizations`, the client ID must be a GUID when signing in with Entra ID, and a
    /// custom authority must be https (http only on loopback, for tests).
    pub fn new(
        url: &str,
        tenant: &str,
        client_id: &str,
        authority: Option<&str>,
    ) -> Result<Environment, String> {
        let url = normalize_url(url)?;
        let authority = match authority.map(str::trim).filter(|a| !a.is_empty()) {
            Some(a) => Some(normalize_authority(a)?),
            None => None,
        };
        let tenant = normalize_tenant(tenant)?;
        let client_id = client_id.trim();
        if client_id.is_empty() {
            return Err(
                "Enter the client ID: the Application (client) ID of the app \
                        registration."
                    .to_string(),
            );
        }
        if authority.is_none() && !is_guid(client_id) {
            return Err(format!(
                "“{client_id}” is not an Application (client) ID: it is a GUID like \
                 11111111-2222-3333-4444-555555555555, shown on the app registration's \
                 Overview page."
            ));
        }
        if client_id.len() > 200
            || client_id
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!("“{client_id}” is not a valid client ID."));
        }
        Ok(Environment {
            url,
            tenant,
            client_id: client_id.to_string(),
            authority,
        })
    }

    /// The OpenID Connect issuer to sign in with (no trailing slash).
    pub fn authority(&self) -> String {
        match self
            .authority
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            Some(a) => a.trim_end_matches('/').to_string(),
            None => {
                let tenant = match self.tenant.trim() {
                    "" => DEFAULT_TENANT,
                    t => t,
                };
                format!(
                    "https://{}/{}/v2.0",
                    entra_login_host(&self.url),
                    url::encode(tenant)
                )
            }
        }
    }

    /// The scopes to ask for: Dataverse as the signed-in user, plus the ID token and a
    /// refresh token.
    pub fn scope(&self) -> String {
        format!("{}/user_impersonation openid offline_access", self.url)
    }

    /// The Web API's base, ending in `/`.
    pub fn api_base(&self) -> String {
        format!("{}/api/data/v9.2/", self.url)
    }

    /// The host (with a port, if any), for labels.
    pub fn host(&self) -> &str {
        self.url
            .strip_prefix("https://")
            .or_else(|| self.url.strip_prefix("http://"))
            .unwrap_or(&self.url)
    }

    /// Whether `request_url` goes to this environment (same scheme, host and port): a
    /// token issued for this environment may be sent only with such requests.
    pub fn owns(&self, request_url: &str) -> bool {
        same_environment(&self.url, request_url)
    }
}

/// Normalizes an environment URL to `https://host`: lower-case host, https only, no path,
/// query or trailing slash; a bare host name gets `https://`; `:443` is dropped. Errors
/// are sentences saying what is wrong.
pub fn normalize_url(input: &str) -> Result<String, String> {
    let input = input.trim();
    if input.is_empty() {
        return Err(
            "Enter the environment URL, like https://contoso.crm.dynamics.com.".to_string(),
        );
    }
    let with_scheme;
    let full = if input.contains("://") {
        input
    } else {
        // `host`, `host/path` or `host:port` (but not `mailto:x` or `javascript:x`).
        let head = input.split(['/', '?', '#']).next().unwrap_or("");
        if let Some((_, after)) = head.split_once(':') {
            if after.is_empty() || !after.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "“{input}” is not an environment URL: it looks like \
                     https://contoso.crm.dynamics.com."
                ));
            }
        }
        with_scheme = format!("https://{input}");
        &with_scheme
    };
    let parts = parse_absolute(full)?;
    match parts.scheme.as_str() {
        "https" => {}
        // A local organization on this machine (development, the browser tests) may be
        // plain HTTP: nothing leaves the machine.
        "http" if parts.is_loopback() => {}
        "http" => {
            return Err(format!(
                "Use https://: Dataverse environments are only reached over HTTPS \
                 (https://{}).",
                parts.host
            ))
        }
        other => {
            return Err(format!(
                "“{other}://” is not https://: the environment URL looks like \
                 https://contoso.crm.dynamics.com."
            ))
        }
    }
    let base = parts.origin();
    if !parts.host.contains('.') && !parts.is_loopback() && !parts.host.starts_with('[') {
        return Err(format!(
            "“{}” is not a full host name: the environment URL looks like \
             https://{}.crm.dynamics.com.",
            parts.host, parts.host
        ));
    }
    let rest = parts.rest;
    let path_end = rest.find(['?', '#']).unwrap_or(rest.len());
    let (path, tail) = rest.split_at(path_end);
    if !path.trim_matches('/').is_empty() {
        return Err(format!(
            "The environment URL has a path ({path}): enter just {base}."
        ));
    }
    if let Some(q) = tail.strip_prefix('?') {
        let q = q.split('#').next().unwrap_or("");
        if !q.is_empty() {
            return Err(format!(
                "The environment URL has a query (?{q}): enter just {base}."
            ));
        }
    }
    if let Some(i) = tail.find('#') {
        if !tail[i + 1..].is_empty() {
            return Err(format!(
                "The environment URL has a fragment ({}): enter just {base}.",
                &tail[i..]
            ));
        }
    }
    Ok(base)
}

/// Normalizes an OpenID Connect issuer: https (http only on a loopback host, for tests),
/// lower-case host, the path kept, no query or fragment, no trailing slash.
pub fn normalize_authority(input: &str) -> Result<String, String> {
    let input = input.trim();
    let parts = parse_absolute(input).map_err(|e| format!("Authority: {e}"))?;
    match parts.scheme.as_str() {
        "https" => {}
        "http" if parts.is_loopback() => {}
        _ => {
            return Err(format!(
                "The authority must be an https:// address (http:// only on this \
                 machine, for tests): “{input}”."
            ))
        }
    }
    if parts.rest.contains(['?', '#']) {
        return Err(format!(
            "The authority must not have a query or fragment: “{input}”."
        ));
    }
    Ok(format!(
        "{}{}",
        parts.origin(),
        parts.rest.trim_end_matches('/')
    ))
}

/// Checks a tenant: empty means `organizations`; otherwise `organizations`, `common`, a
/// tenant ID (GUID) or a domain name.
pub fn normalize_tenant(input: &str) -> Result<String, String> {
    let t = input.trim();
    if t.is_empty() {
        return Ok(DEFAULT_TENANT.to_string());
    }
    let lower = t.to_ascii_lowercase();
    if lower == "consumers" {
        return Err(
            "“consumers” is for personal Microsoft accounts, which cannot sign in \
                    to Dataverse: use “organizations”, the tenant ID or its domain."
                .to_string(),
        );
    }
    if lower == "organizations" || lower == "common" || is_guid(t) {
        return Ok(lower);
    }
    let domain_ok = t.contains('.')
        && t.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if domain_ok {
        Ok(lower)
    } else {
        Err(format!(
            "“{t}” is not a tenant: use “organizations”, the Directory (tenant) ID (a GUID) \
             or a verified domain such as contoso.onmicrosoft.com."
        ))
    }
}

/// `8-4-4-4-12` hexadecimal digits (either case).
pub fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether the URL (or bare host) is a Dataverse environment's, by its host's suffix.
/// Unknown hosts are allowed, but the console says they are unusual.
pub fn is_known_dataverse_host(url: &str) -> bool {
    let Some(host) = host_of(url) else {
        return false;
    };
    DATAVERSE_SUFFIXES.iter().any(|s| host.ends_with(s))
}

/// The lower-case host of a URL or bare host that [`normalize_url`] accepts.
fn host_of(url: &str) -> Option<String> {
    let norm = normalize_url(url).ok()?;
    parse_absolute(&norm).ok().map(|p| p.host)
}

/// The Entra ID login host for an environment: the national cloud's for US Government
/// GCC High / DoD (`login.microsoftonline.us`) and China (`login.chinacloudapi.cn`),
/// else the global one (commercial and GCC).
pub fn entra_login_host(environment_url: &str) -> &'static str {
    let host = host_of(environment_url).unwrap_or_default();
    if host.ends_with(".microsoftdynamics.us") || host.ends_with(".appsplatform.us") {
        "login.microsoftonline.us"
    } else if host.ends_with(".dynamics.cn") {
        "login.chinacloudapi.cn"
    } else {
        "login.microsoftonline.com"
    }
}

/// Whether `request_url` is on the environment `environment_url` (same https origin):
/// `https://contoso.crm.dynamics.com.evil.com` or `https://contoso.crm.dynamics.com@evil`
/// are not.
pub fn same_environment(environment_url: &str, request_url: &str) -> bool {
    let (Ok(env), Ok(req)) = (
        parse_absolute(environment_url.trim()),
        parse_absolute(request_url.trim()),
    ) else {
        return false;
    };
    // Same scheme, host and port; plain HTTP only on a loopback host (`normalize_url`).
    let scheme_ok = env.scheme == "https" || (env.scheme == "http" && env.is_loopback());
    scheme_ok
        && req.scheme == env.scheme
        && env.host == req.host
        && env.effective_port() == req.effective_port()
}

/// Reads the saved list, dropping entries that are not valid environments (and later
/// duplicates of a URL); anything that is not a JSON array gives an empty list.
pub fn parse_saved(json: &str) -> Vec<Environment> {
    let Ok(serde_json::Value::Array(items)) = serde_json::from_str::<serde_json::Value>(json)
    else {
        return Vec::new();
    };
    let mut out: Vec<Environment> = Vec::new();
    for item in items {
        let s = |k: &str| item.get(k).and_then(|v| v.as_str());
        let (Some(url), Some(client_id)) = (s("url"), s("client_id")) else {
            continue;
        };
        let tenant = match item.get("tenant") {
            None | Some(serde_json::Value::Null) => "",
            Some(serde_json::Value::String(t)) => t.as_str(),
            Some(_) => continue,
        };
        let authority = match item.get("authority") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(a)) => Some(a.as_str()),
            Some(_) => continue,
        };
        if let Ok(env) = Environment::new(url, tenant, client_id, authority) {
            if !out.iter().any(|e| e.url == env.url) {
                out.push(env);
            }
        }
    }
    out
}

/// The saved list as JSON (read back by [`parse_saved`]).
pub fn save_json(list: &[Environment]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".to_string())
}

/// The query (without `?`) of a link to an environment: `org=<percent-encoded url>`.
pub fn link_query(environment_url: &str) -> String {
    format!("org={}", url::encode(environment_url))
}

/// What the page query's (`location.search`, with or without `?`) `org=` parameter names.
pub fn link_target(query: &str, saved: &[Environment]) -> LinkTarget {
    let query = query.split('#').next().unwrap_or("");
    let Some(org) = url::query_value(query, "org") else {
        return LinkTarget::None;
    };
    if org.trim().is_empty() {
        return LinkTarget::Invalid(
            "The link's org= parameter is empty: it should name an environment URL.".to_string(),
        );
    }
    match normalize_url(&org) {
        Err(e) => LinkTarget::Invalid(format!("The link's environment is not usable. {e}")),
        Ok(u) => match saved.iter().position(|e| e.url == u) {
            Some(i) => LinkTarget::Saved(i),
            None => LinkTarget::Unknown(u),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CID: &str = "11111111-2222-3333-4444-555555555555";

    fn env(url: &str) -> Environment {
        Environment::new(url, "", CID, None).unwrap()
    }

    #[test]
    fn normalize_accepts_and_cleans() {
        for (input, want) in [
            (
                "https://contoso.crm.dynamics.com",
                "https://contoso.crm.dynamics.com",
            ),
            (
                "https://contoso.crm.dynamics.com/",
                "https://contoso.crm.dynamics.com",
            ),
            (
                "https://contoso.crm.dynamics.com//",
                "https://contoso.crm.dynamics.com",
            ),
            (
                "  HTTPS://Contoso.CRM4.Dynamics.COM/  ",
                "https://contoso.crm4.dynamics.com",
            ),
            (
                "contoso.crm.dynamics.com",
                "https://contoso.crm.dynamics.com",
            ),
            (
                "Contoso.crm.dynamics.com/",
                "https://contoso.crm.dynamics.com",
            ),
            (
                "https://contoso.crm.dynamics.com.",
                "https://contoso.crm.dynamics.com",
            ),
            (
                "https://contoso.crm.dynamics.com:443",
                "https://contoso.crm.dynamics.com",
            ),
            (
                "https://contoso.crm.dynamics.com/?",
                "https://contoso.crm.dynamics.com",
            ),
            (
                "https://contoso.crm.dynamics.com/#",
                "https://contoso.crm.dynamics.com",
            ),
            (
                "https://org.example.test:8443",
                "https://org.example.test:8443",
            ),
            ("org.example.test:8443", "https://org.example.test:8443"),
            ("https://localhost:8443/", "https://localhost:8443"),
            ("https://127.0.0.1:8443", "https://127.0.0.1:8443"),
        ] {
            assert_eq!(normalize_url(input).as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn normalize_rejects_with_clear_messages() {
        let err = |s: &str| normalize_url(s).unwrap_err();
        assert!(err("").contains("Enter the environment URL"));
        assert!(err("   ").contains("Enter the environment URL"));
        let e = err("http://contoso.crm.dynamics.com");
        assert!(e.contains("https://"), "{e}");
        assert!(e.contains("https://contoso.crm.dynamics.com"), "{e}");
        assert!(err("ftp://contoso.crm.dynamics.com").contains("not https://"));
        let e = err("https://contoso.crm.dynamics.com/main.aspx?appid=1");
        assert!(e.contains("has a path (/main.aspx)"), "{e}");
        assert!(
            e.contains("enter just https://contoso.crm.dynamics.com."),
            "{e}"
        );
        let e = err("https://contoso.crm.dynamics.com/api/data/v9.2/");
        assert!(e.contains("has a path"), "{e}");
        let e = err("https://contoso.crm.dynamics.com?x=1");
        assert!(e.contains("has a query (?x=1)"), "{e}");
        let e = err("https://contoso.crm.dynamics.com/#/home");
        assert!(e.contains("has a fragment (#/home)"), "{e}");
        let e = err("https://contoso");
        assert!(e.contains("not a full host name"), "{e}");
        assert!(e.contains("https://contoso.crm.dynamics.com"), "{e}");
        assert!(err("contoso").contains("not a full host name"));
        assert!(err("https://").contains("no host name"));
        assert!(err("https://user@contoso.crm.dynamics.com").contains("user name"));
        assert!(err("https://contoso crm.dynamics.com").contains("not a valid host"));
        assert!(err("https://contoso.crm.dynamics.com:abc").contains("port"));
        assert!(err("mailto:someone@contoso.com").contains("not an environment URL"));
        assert!(err("javascript:alert(1)").contains("not an environment URL"));
        assert!(err("contoso.crm.dynamics.com:").contains("not an environment URL"));
        assert!(err("https://contoso.crm.dynamics.com\\x").contains("backslash"));
    }

    #[test]
    fn known_dataverse_hosts() {
        for yes in [
            "https://contoso.crm.dynamics.com",
            "https://contoso.crm4.dynamics.com/",
            "contoso.api.crm.dynamics.com",
            "https://contoso.crm9.dynamics.com",
            "https://contoso.crm.microsoftdynamics.us",
            "https://contoso.crm.appsplatform.us",
            "https://contoso.crm.dynamics.cn",
            "https://contoso.crm.microsoftdynamics.de",
            "https://contoso.crm.dynamics.us",
            "HTTPS://CONTOSO.CRM.DYNAMICS.COM",
        ] {
            assert!(is_known_dataverse_host(yes), "{yes}");
        }
        for no in [
            "https://dynamics.com",
            "https://contoso.notdynamics.com",
            "https://contoso.crm.dynamics.com.evil.com",
            "https://dynamics.com.evil.com",
            "https://example.com",
            "http://contoso.crm.dynamics.com",
            "https://contoso.crm.dynamics.com/path",
            "not a url",
            "",
        ] {
            assert!(!is_known_dataverse_host(no), "{no}");
        }
    }

    #[test]
    fn derived_urls() {
        let e = env("https://Contoso.crm.dynamics.com/");
        assert_eq!(e.url, "https://contoso.crm.dynamics.com");
        assert_eq!(e.tenant, "organizations");
        assert_eq!(
            e.authority(),
            "https://login.microsoftonline.com/organizations/v2.0"
        );
        assert_eq!(
            e.scope(),
            "https://contoso.crm.dynamics.com/user_impersonation openid offline_access"
        );
        assert_eq!(
            e.api_base(),
            "https://contoso.crm.dynamics.com/api/data/v9.2/"
        );
        assert_eq!(e.host(), "contoso.crm.dynamics.com");

        let e = Environment::new(
            "contoso.crm.dynamics.com",
            "Contoso.onmicrosoft.com",
            CID,
            None,
        )
        .unwrap();
        assert_eq!(
            e.authority(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0"
        );

        let e = Environment::new(
            "https://org.example.test:8443",
            "",
            "console",
            Some("http://127.0.0.1:9000/issuer/"),
        )
        .unwrap();
        assert_eq!(e.authority(), "http://127.0.0.1:9000/issuer");
        assert_eq!(e.host(), "org.example.test:8443");
        assert_eq!(e.api_base(), "https://org.example.test:8443/api/data/v9.2/");
    }

    #[test]
    fn authority_follows_the_national_cloud() {
        assert_eq!(
            env("https://x.crm9.dynamics.com").authority(),
            "https://login.microsoftonline.com/organizations/v2.0"
        );
        assert_eq!(
            env("https://x.crm.microsoftdynamics.us").authority(),
            "https://login.microsoftonline.us/organizations/v2.0"
        );
        assert_eq!(
            env("https://x.crm.appsplatform.us").authority(),
            "https://login.microsoftonline.us/organizations/v2.0"
        );
        assert_eq!(
            env("https://x.crm.dynamics.cn").authority(),
            "https://login.chinacloudapi.cn/organizations/v2.0"
        );
        // A hand-built value with an empty tenant still gives a usable authority.
        let mut e = env("https://x.crm.dynamics.com");
        e.tenant = String::new();
        assert_eq!(
            e.authority(),
            "https://login.microsoftonline.com/organizations/v2.0"
        );
        e.authority = Some("  ".to_string());
        assert_eq!(
            e.authority(),
            "https://login.microsoftonline.com/organizations/v2.0"
        );
    }

    #[test]
    fn new_checks_every_field() {
        assert!(Environment::new("https://x.crm.dynamics.com", "", "", None)
            .unwrap_err()
            .contains("Enter the client ID"));
        assert!(
            Environment::new("https://x.crm.dynamics.com", "", "my-app", None)
                .unwrap_err()
                .contains("GUID")
        );
        // A custom authority accepts any client id without spaces.
        assert!(Environment::new(
            "https://x.crm.dynamics.com",
            "",
            "my-app",
            Some("https://idp.example.test")
        )
        .is_ok());
        assert!(Environment::new(
            "https://x.crm.dynamics.com",
            "",
            "my app",
            Some("https://idp.example.test")
        )
        .is_err());
        // Client id is trimmed.
        assert_eq!(
            Environment::new("https://x.crm.dynamics.com", "", &format!(" {CID} "), None)
                .unwrap()
                .client_id,
            CID
        );
        assert!(Environment::new("http://x.crm.dynamics.com", "", CID, None).is_err());
        // Authority: https, or http on loopback only.
        assert!(Environment::new(
            "https://x.crm.dynamics.com",
            "",
            CID,
            Some("http://idp.example.test")
        )
        .unwrap_err()
        .contains("https://"));
        assert!(Environment::new(
            "https://x.crm.dynamics.com",
            "",
            CID,
            Some("http://localhost:9000")
        )
        .is_ok());
        assert!(Environment::new(
            "https://x.crm.dynamics.com",
            "",
            CID,
            Some("https://idp.example.test/?x=1")
        )
        .unwrap_err()
        .contains("query"));
        // An empty authority is None.
        assert_eq!(
            Environment::new("https://x.crm.dynamics.com", "", CID, Some(" "))
                .unwrap()
                .authority,
            None
        );
    }

    #[test]
    fn tenants() {
        assert_eq!(normalize_tenant("").unwrap(), "organizations");
        assert_eq!(
            normalize_tenant(" Organizations ").unwrap(),
            "organizations"
        );
        assert_eq!(normalize_tenant("common").unwrap(), "common");
        assert_eq!(
            normalize_tenant("AAAAAAAA-bbbb-cccc-dddd-eeeeeeeeeeee").unwrap(),
            "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
        );
        assert_eq!(
            normalize_tenant("contoso.onmicrosoft.com").unwrap(),
            "contoso.onmicrosoft.com"
        );
        assert!(normalize_tenant("consumers")
            .unwrap_err()
            .contains("personal Microsoft accounts"));
        for bad in ["contoso", "a/b.com", "x..com", "x y.com", "../v2.0"] {
            assert!(normalize_tenant(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn guids() {
        assert!(is_guid(CID));
        assert!(is_guid("00000007-0000-0000-C000-000000000000"));
        assert!(!is_guid("00000007-0000-0000-c000-00000000000"));
        assert!(!is_guid("00000007-0000-0000-c000-00000000000g"));
        assert!(!is_guid("{00000007-0000-0000-c000-000000000000}"));
        assert!(!is_guid(""));
    }

    #[test]
    fn same_environment_is_exact_origin() {
        let e = env("https://contoso.crm.dynamics.com");
        assert!(e.owns("https://contoso.crm.dynamics.com/api/data/v9.2/WhoAmI"));
        assert!(e.owns("https://CONTOSO.crm.dynamics.com:443/api/data/v9.2/"));
        assert!(e.owns("https://contoso.crm.dynamics.com"));
        assert!(!e.owns("http://contoso.crm.dynamics.com/api/data/v9.2/"));
        assert!(!e.owns("https://contoso.crm.dynamics.com.evil.com/api/data/v9.2/"));
        assert!(!e.owns("https://contoso.crm.dynamics.com@evil.com/"));
        assert!(!e.owns("https://evil.com/https://contoso.crm.dynamics.com/"));
        assert!(!e.owns("https://contoso.crm.dynamics.com:8443/"));
        assert!(!e.owns("https://other.crm.dynamics.com/"));
        assert!(!e.owns("/api/data/v9.2/"));
        assert!(!e.owns(""));
        // A local organization on this machine over plain HTTP: exactly its origin.
        let local = env("http://127.0.0.1:18090");
        assert!(local.owns("http://127.0.0.1:18090/api/data/v9.2/WhoAmI"));
        assert!(!local.owns("http://127.0.0.1:18091/api/data/v9.2/"));
        assert!(!local.owns("https://127.0.0.1:18090/api/data/v9.2/"));
        assert!(normalize_url("http://evil.example").is_err());
        assert!(same_environment(
            "https://org.example.test:8443",
            "https://org.example.test:8443/api"
        ));
        assert!(!same_environment(
            "https://org.example.test:8443",
            "https://org.example.test/api"
        ));
    }

    #[test]
    fn saved_list_round_trips() {
        let list = vec![
            env("https://a.crm.dynamics.com"),
            Environment::new(
                "https://b.crm4.dynamics.com",
                "contoso.onmicrosoft.com",
                CID,
                Some("https://idp.example.test/t/v2.0"),
            )
            .unwrap(),
        ];
        let json = save_json(&list);
        assert_eq!(parse_saved(&json), list);
        // No `authority` key when None.
        assert!(!json.contains(r#""authority":null"#));
        assert_eq!(save_json(&[]), "[]");
    }

    #[test]
    fn saved_list_tolerates_junk() {
        assert!(parse_saved("").is_empty());
        assert!(parse_saved("not json").is_empty());
        assert!(parse_saved("{}").is_empty());
        assert!(parse_saved("null").is_empty());
        let json = format!(
            r#"[
            1, "x", null, [], {{}},
            {{"url": "https://a.crm.dynamics.com/", "client_id": "{CID}"}},
            {{"url": "http://b.crm.dynamics.com", "client_id": "{CID}"}},
            {{"url": "https://c.crm.dynamics.com", "client_id": "not a guid"}},
            {{"url": "https://d.crm.dynamics.com", "client_id": 5}},
            {{"url": "https://e.crm.dynamics.com", "client_id": "{CID}", "tenant": 7}},
            {{"url": "https://f.crm.dynamics.com", "client_id": "{CID}", "tenant": null, "authority": null, "extra": true}},
            {{"url": "https://A.crm.dynamics.com", "client_id": "{CID}", "tenant": "common"}},
            {{"url": "https://g.crm.dynamics.com", "client_id": "{CID}", "authority": "ftp://x"}},
            {{"url": "https://h.crm.dynamics.com", "client_id": "{CID}", "authority": 1}},
            {{"url": "https://i.crm.dynamics.com", "client_id": "{CID}", "tenant": "consumers"}}
        ]"#
        );
        let list = parse_saved(&json);
        let urls: Vec<&str> = list.iter().map(|e| e.url.as_str()).collect();
        assert_eq!(
            urls,
            ["https://a.crm.dynamics.com", "https://f.crm.dynamics.com"]
        );
        assert_eq!(list[0].tenant, "organizations");
        assert_eq!(list[1].authority, None);
    }

    #[test]
    fn links() {
        let saved = vec![
            env("https://a.crm.dynamics.com"),
            env("https://b.crm.dynamics.com"),
        ];
        assert_eq!(link_target("", &saved), LinkTarget::None);
        assert_eq!(link_target("?", &saved), LinkTarget::None);
        assert_eq!(link_target("?page=2", &saved), LinkTarget::None);
        assert_eq!(
            link_target("?org=https%3A%2F%2Fb.crm.dynamics.com", &saved),
            LinkTarget::Saved(1)
        );
        assert_eq!(
            link_target("x=1&org=HTTPS%3A%2F%2FA.CRM.dynamics.com%2F", &saved),
            LinkTarget::Saved(0)
        );
        // Unencoded still works, and bare hosts too.
        assert_eq!(
            link_target("?org=https://b.crm.dynamics.com/", &saved),
            LinkTarget::Saved(1)
        );
        assert_eq!(
            link_target("?org=c.crm.dynamics.com", &saved),
            LinkTarget::Unknown("https://c.crm.dynamics.com".to_string())
        );
        assert_eq!(
            link_target("?org=https%3A%2F%2Fc.crm.dynamics.com", &[]),
            LinkTarget::Unknown("https://c.crm.dynamics.com".to_string())
        );
        // The first org wins.
        assert_eq!(
            link_target("?org=a.crm.dynamics.com&org=b.crm.dynamics.com", &saved),
            LinkTarget::Saved(0)
        );
        match link_target("?org=http%3A%2F%2Fa.crm.dynamics.com", &saved) {
            LinkTarget::Invalid(m) => assert!(m.contains("https://"), "{m}"),
            other => panic!("{other:?}"),
        }
        match link_target("?org=", &saved) {
            LinkTarget::Invalid(m) => assert!(m.contains("empty"), "{m}"),
            other => panic!("{other:?}"),
        }
        match link_target("?org=javascript%3Aalert(1)", &saved) {
            LinkTarget::Invalid(_) => {}
            other => panic!("{other:?}"),
        }
        // A fragment is not part of the value.
        assert_eq!(
            link_target("?org=a.crm.dynamics.com#top", &saved),
            LinkTarget::Saved(0)
        );
    }

    #[test]
    fn link_query_round_trips() {
        let q = link_query("https://b.crm.dynamics.com");
        assert_eq!(q, "org=https%3A%2F%2Fb.crm.dynamics.com");
        let saved = vec![env("https://b.crm.dynamics.com")];
        assert_eq!(link_target(&q, &saved), LinkTarget::Saved(0));
        assert_eq!(link_target(&format!("?{q}"), &saved), LinkTarget::Saved(0));
    }
}
