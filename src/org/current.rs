//! The organization the console works with now, and how a request reaches it.
//!
//! * **Local**: the organization of the server that serves the console (`mailsync
//!   serve`): same-origin requests that carry its HttpOnly session cookie.
//! * **Dataverse**: a saved [`Environment`]: cross-origin requests to its Web API with
//!   `Authorization: Bearer <access token>` and no cookie (`credentials: omit`). The
//!   token is in memory only, and only ever sent to the environment it was issued for
//!   ([`Environment::owns`]); the refresh token is kept in sessionStorage (this tab).
//!
//! The pages keep writing paths as `/api/data/v9.2/...`; [`resolve`] turns them into the
//! URL of the organization in use. The choice (and the saved environments, which hold
//! no secret) is remembered in localStorage.

use std::cell::RefCell;

use super::{parse_saved, save_json, Environment};

const SAVED_KEY: &str = "mailsync.environments";
const CURRENT_KEY: &str = "mailsync.organization";
const REFRESH_KEY: &str = "mailsync.refresh";
/// The path prefix of the Web API, on either kind of organization.
pub const DATA_PREFIX: &str = "/api/data/v9.2/";

/// Which organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Org {
    Local,
    Dataverse(Environment),
}

impl Org {
    /// For the top bar: "Local organization" or the environment's host.
    pub fn label(&self) -> String {
        match self {
            Org::Local => "Local organization".to_string(),
            Org::Dataverse(e) => e.host().to_string(),
        }
    }

    /// The key the choice is remembered by: `local` or the environment's URL.
    pub fn key(&self) -> String {
        match self {
            Org::Local => "local".to_string(),
            Org::Dataverse(e) => e.url.clone(),
        }
    }
}

/// An access token in memory.
#[derive(Clone)]
struct Token {
    environment_url: String,
    value: String,
    /// `Date.now()` milliseconds when it should be renewed.
    renew_at_ms: f64,
}

struct State {
    org: Org,
    token: Option<Token>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State {
        org: initial_org(),
        token: None,
    });
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

pub(super) fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

/// The saved environments (junk in storage is dropped, never an error).
pub fn saved() -> Vec<Environment> {
    local_storage()
        .and_then(|s| s.get_item(SAVED_KEY).ok().flatten())
        .map(|json| parse_saved(&json))
        .unwrap_or_default()
}

/// Saves `env` (replacing one with the same URL).
pub fn save(env: Environment) {
    let mut list = saved();
    list.retain(|e| e.url != env.url);
    list.push(env);
    if let Some(s) = local_storage() {
        let _ = s.set_item(SAVED_KEY, &save_json(&list));
    }
}

/// Forgets a saved environment (and its tokens); the organization in use becomes the
/// local one if it was that environment.
pub fn remove(url: &str) {
    let list: Vec<Environment> = saved().into_iter().filter(|e| e.url != url).collect();
    if let Some(s) = local_storage() {
        let _ = s.set_item(SAVED_KEY, &save_json(&list));
    }
    forget_tokens(url);
    if matches!(current(), Org::Dataverse(e) if e.url == url) {
        select(Org::Local);
    }
}

fn initial_org() -> Org {
    let key = local_storage().and_then(|s| s.get_item(CURRENT_KEY).ok().flatten());
    match key {
        Some(url) if url != "local" => saved()
            .into_iter()
            .find(|e| e.url == url)
            .map_or(Org::Local, Org::Dataverse),
        _ => Org::Local,
    }
}

/// The organization in use.
pub fn current() -> Org {
    STATE.with(|s| s.borrow().org.clone())
}

/// Works with `org` from now on (remembered for the next visit).
pub fn select(org: Org) {
    if let Some(s) = local_storage() {
        let _ = s.set_item(CURRENT_KEY, &org.key());
    }
    STATE.with(|s| s.borrow_mut().org = org);
}

/// Keeps an access token for `environment_url` (in memory) and its refresh token (in
/// this tab's sessionStorage).
pub fn keep_tokens(environment_url: &str, access: &str, renew_at_ms: f64, refresh: Option<&str>) {
    STATE.with(|s| {
        s.borrow_mut().token = Some(Token {
            environment_url: environment_url.to_string(),
            value: access.to_string(),
            renew_at_ms,
        })
    });
    if let (Some(store), Some(r)) = (session_storage(), refresh) {
        let _ = store.set_item(&format!("{REFRESH_KEY}:{environment_url}"), r);
    }
}

/// Forgets the tokens of `environment_url` (sign-out, removal).
pub fn forget_tokens(environment_url: &str) {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        if s.token
            .as_ref()
            .is_some_and(|t| t.environment_url == environment_url)
        {
            s.token = None;
        }
    });
    if let Some(store) = session_storage() {
        let _ = store.remove_item(&format!("{REFRESH_KEY}:{environment_url}"));
    }
}

/// The refresh token kept for `environment_url`, if any.
pub fn refresh_token(environment_url: &str) -> Option<String> {
    session_storage()?
        .get_item(&format!("{REFRESH_KEY}:{environment_url}"))
        .ok()
        .flatten()
        .filter(|t| !t.is_empty())
}

/// Whether the token of `environment_url` should be renewed now (or there is none).
pub fn needs_token(environment_url: &str, now_ms: f64) -> bool {
    STATE.with(|s| {
        s.borrow()
            .token
            .as_ref()
            .filter(|t| t.environment_url == environment_url)
            .is_none_or(|t| now_ms >= t.renew_at_ms)
    })
}

/// Whether there is an access token for `environment_url` (even one to renew soon).
pub fn has_token(environment_url: &str) -> bool {
    STATE.with(|s| {
        s.borrow()
            .token
            .as_ref()
            .is_some_and(|t| t.environment_url == environment_url)
    })
}

/// Where a request for the console path `path` goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub url: String,
    /// `Authorization: Bearer ...`, only for the environment that issued it.
    pub bearer: Option<String>,
    /// Same-origin requests carry the local organization's cookie; others none.
    pub same_origin: bool,
}

/// The URL, token and credentials of a request for `path` (`/api/data/v9.2/...`, or an
/// absolute URL such as a `nextLink`).
pub fn resolve(path: &str) -> Resolved {
    let org = current();
    let token = STATE.with(|s| s.borrow().token.clone());
    route(
        &org,
        token
            .as_ref()
            .map(|t| (t.environment_url.as_str(), t.value.as_str())),
        path,
    )
}

/// [`resolve`]'s decision, pure.
fn route(org: &Org, token: Option<(&str, &str)>, path: &str) -> Resolved {
    match org {
        Org::Local => Resolved {
            url: local_path(path),
            bearer: None,
            same_origin: true,
        },
        Org::Dataverse(env) => {
            let url = match path.find(DATA_PREFIX) {
                Some(i) if path.starts_with('/') || env.owns(path) => {
                    format!("{}{}", env.api_base(), &path[i + DATA_PREFIX.len()..])
                }
                _ => path.to_string(),
            };
            let bearer = token
                .filter(|(for_url, _)| *for_url == env.url && env.owns(&url))
                .map(|(_, value)| value.to_string());
            Resolved {
                url,
                bearer,
                same_origin: false,
            }
        }
    }
}

/// An absolute URL of this origin made a path (the local organization writes absolute
/// `nextLink`s); anything else is left alone.
fn local_path(path: &str) -> String {
    match path.find("/api/") {
        Some(i) if i > 0 && path.contains("://") => path[i..].to_string(),
        _ => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Environment {
        Environment::new(
            "https://contoso.crm.dynamics.com",
            "",
            "11111111-2222-3333-4444-555555555555",
            None,
        )
        .unwrap()
    }

    #[test]
    fn local_requests_stay_on_this_origin_with_the_cookie() {
        let r = route(&Org::Local, None, "/api/data/v9.2/mailboxes?$top=1");
        assert_eq!(r.url, "/api/data/v9.2/mailboxes?$top=1");
        assert!(r.same_origin && r.bearer.is_none());
        let r = route(
            &Org::Local,
            None,
            "http://127.0.0.1:8080/api/data/v9.2/mailboxes?$skiptoken=x",
        );
        assert_eq!(r.url, "/api/data/v9.2/mailboxes?$skiptoken=x");
    }

    #[test]
    fn dataverse_requests_go_to_the_environment_with_its_token_only() {
        let org = Org::Dataverse(env());
        let token = Some(("https://contoso.crm.dynamics.com", "tok"));
        let r = route(&org, token, "/api/data/v9.2/WhoAmI()");
        assert_eq!(
            r.url,
            "https://contoso.crm.dynamics.com/api/data/v9.2/WhoAmI()"
        );
        assert_eq!(r.bearer.as_deref(), Some("tok"));
        assert!(!r.same_origin);
        // A nextLink of the environment keeps going there.
        let r = route(
            &org,
            token,
            "https://contoso.crm.dynamics.com/api/data/v9.2/mailboxes?$skiptoken=a",
        );
        assert_eq!(r.bearer.as_deref(), Some("tok"));
        // A link elsewhere never gets the token.
        let r = route(&org, token, "https://evil.example/api/data/v9.2/mailboxes");
        assert_eq!(r.url, "https://evil.example/api/data/v9.2/mailboxes");
        assert!(r.bearer.is_none());
        // Another environment's token is not this one's.
        let r = route(
            &org,
            Some(("https://other.crm.dynamics.com", "t2")),
            "/api/data/v9.2/x",
        );
        assert!(r.bearer.is_none());
    }
}
