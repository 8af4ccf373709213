//! A mailbox's sign-in to its mail provider, for the profiles whose credential
//! retrieval is "Gmail OAuth" (5) or "Azure AD OAuth" (7): Dynamics 365's "Sign in to
//! Gmail" on the mailbox (Microsoft's "Connect Gmail accounts by using OAuth 2.0").
//!
//! 1. `POST /mailboxes(<id>)/Microsoft.Dynamics.CRM.mailsync_BeginOAuthSignIn`: a
//!    caller who may change the mailbox's credentials (its user, or an administrator)
//!    starts a sign-in. A random `state` is recorded for ten minutes (its digest only,
//!    with the mailbox, the caller and the sealed PKCE verifier) and the answer names
//!    the address to send the browser to, `AuthorizationUrl`, and the redirect URI to
//!    register with the provider, `RedirectUri`.
//! 2. `GET /_grid/cmds/dlg_gmailoauth.aspx?mailsync_signin=<state>` (that address)
//!    sends the browser on to the provider's authorization endpoint, found then
//!    (Google's through its discovery document), with PKCE S256, the scopes the
//!    profile's protocols need, `login_hint` the mailbox's address, and for Google
//!    `access_type=offline&prompt=consent` (so a refresh token comes).
//! 3. The provider sends the browser back to the same path with `code` and `state`:
//!    the state is taken (single use), the code redeemed with the profile's client ID
//!    and secret and the verifier, the ID token's account compared with the mailbox's
//!    address (another account's tokens would read another mailbox), and the tokens
//!    sealed on the mailbox (`oauthrefreshtoken`, `oauthaccesstoken`,
//!    `oauthtokenexpireson`). The browser goes back to the console's mailbox page with
//!    the outcome in `oauth=signed-in` or `oauth_error=<words>`.
//!
//! Steps 2 and 3 carry no session: a top-level navigation from the provider brings no
//! bearer token, and the state alone, unguessable, single use and short lived, says
//! which sign-in it is.

use std::sync::Arc;

use std::time::Instant;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use mailsync_core::engine::protocol::{self, MailboxApp};
use mailsync_core::model::MAILBOX;
use mailsync_core::oauth::client::{self, Endpoints};
use mailsync_core::oauth::{self, Provider};
use mailsync_core::odata::Guid;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Deserialize;
use serde_json::json;

use super::privileges::{self, Tier};
use super::{Ctx, Reply};
use crate::error::ApiError;
use crate::listen::ClientAddr;
use crate::mail::delegated::{self, Providers};
use crate::mail::{Timeouts, Tls};
use crate::store::{self, secrets, Store};

/// The bound action, as a request path names it.
pub const ACTION: &str = "Microsoft.Dynamics.CRM.mailsync_BeginOAuthSignIn";
/// How long a started sign-in may take.
const PENDING_SECS: i64 = 600;
/// Sign-ins one user may have pending at once; the oldest go first.
const PENDING_PER_USER: i64 = 20;
/// The query parameter of step 2.
const BEGIN_PARAM: &str = "mailsync_signin";

/// What the redirect route needs: the store, the providers and how to reach them.
#[derive(Clone)]
pub struct SignIn {
    pub store: Store,
    pub providers: Arc<Providers>,
    pub tls: Tls,
    pub timeouts: Timeouts,
    /// Served over TLS: the session cookie's name (`auth::cookie_name`).
    pub https: bool,
    /// The server's sign-in guard (`auth::guard`): an address that keeps naming
    /// unknown sign-ins waits, as one that keeps failing to sign in does.
    pub security: Option<Arc<crate::state::Security>>,
}

/// The mailbox's app and address ([`protocol::mailbox_app`], as the engine takes them),
/// or why it cannot sign in.
fn setup(c: &Connection, mailbox: &str) -> Result<MailboxApp, String> {
    let loaded = crate::engine::db::load(c, mailbox)
        .map_err(|e| e.to_string())?
        .ok_or("The mailbox no longer exists.")?;
    let none = || {
        "The mailbox's email server profile does not sign mailboxes in with Gmail OAuth or \
         Azure AD OAuth: there is nothing to sign in to."
            .to_string()
    };
    let profile = loaded.profile.ok_or_else(none)?;
    protocol::mailbox_app(&loaded.mailbox, &profile)
        .map_err(|f| f.message)?
        .ok_or_else(none)
}

fn random<const N: usize>() -> Result<[u8; N], ApiError> {
    store::random_bytes::<N>()
        .map_err(|e| ApiError::internal(format!("no random numbers for a sign-in: {e}")))
}

/// `https://host` of the environment, from the Web API's base address.
fn origin(ctx: &Ctx) -> String {
    ctx.base
        .strip_suffix(&format!("/api{}", super::PREFIX))
        .unwrap_or(ctx.base)
        .to_string()
}

/// Step 1: the bound action.
pub fn begin(ctx: &Ctx, tx: &Connection, id: Guid) -> Result<Reply, ApiError> {
    let user = ctx.user;
    let from = privileges::from_clause(&MAILBOX, user);
    let visible: Option<String> = tx
        .query_row(
            &format!("SELECT mailboxid FROM {from} WHERE mailboxid = ?1"),
            [id.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    let Some(mailbox) = visible else {
        return Err(super::record_not_found(&MAILBOX, id));
    };
    let may = match privileges::updatable(Tier::of(user), &MAILBOX) {
        Some(None) => true,
        Some(Some(cols)) => cols.contains(&"oauthrefreshtoken"),
        None => false,
    };
    if !may {
        return Err(ApiError::forbidden(
            super::errcodes::PRIVILEGE_DENIED,
            "Only the mailbox's user or an administrator signs a mailbox in to its mail \
             provider (it sets the mailbox's credentials).",
        ));
    }
    let s = setup(tx, &mailbox).map_err(ApiError::bad_request)?;
    let state = client::random_token(&random::<16>()?);
    let nonce = client::random_token(&random::<16>()?);
    let verifier = client::pkce_verifier(&random::<32>()?);
    let origin = origin(ctx);
    let redirect_uri = format!("{origin}{}", oauth::REDIRECT_PATH);
    let now = store::now().0;
    tx.execute(
        "DELETE FROM oauthsignin WHERE createdon < ?1",
        [now - PENDING_SECS],
    )?;
    tx.execute(
        "DELETE FROM oauthsignin WHERE systemuserid = ?1 AND statehash NOT IN \
         (SELECT statehash FROM oauthsignin WHERE systemuserid = ?1 \
          ORDER BY createdon DESC LIMIT ?2)",
        params![user.systemuserid, PENDING_PER_USER - 1],
    )?;
    let key = store::digest(&state);
    // Begun from a browser session (the console): only that session may go on to the
    // provider, so a forwarded address does not sign someone else in.
    let session = crate::auth::session_cookie_value(ctx.headers, ctx.base.starts_with("https:"))
        .filter(|_| crate::auth::bearer(ctx.headers).is_none())
        .map(|c| store::digest(&c));
    tx.execute(
        &format!(
            "INSERT INTO oauthsignin (statehash, mailboxid, systemuserid, verifier, nonce, \
             redirecturi, createdon, sessionhash) VALUES (?1, ?2, ?3, {}, ?5, ?6, ?7, ?8)",
            secrets::seal_sql("oauthsignin", "verifier", "?4", "?1")
        ),
        params![
            key,
            mailbox,
            user.systemuserid,
            verifier,
            nonce,
            redirect_uri,
            now,
            session
        ],
    )?;
    Ok(Reply::json(
        StatusCode::OK,
        &json!({
            "@odata.context": format!("{}$metadata#Microsoft.Dynamics.CRM.mailsync_BeginOAuthSignInResponse", ctx.base),
            "AuthorizationUrl": format!("{redirect_uri}?{BEGIN_PARAM}={state}"),
            "RedirectUri": redirect_uri,
            "Provider": s.provider.name(),
            "Account": s.user,
        }),
    ))
}

/// A started sign-in, read back by its state.
struct Pending {
    mailbox: String,
    verifier: String,
    nonce: String,
    redirect_uri: String,
    /// The digest of the browser session that began it, if one did.
    session: Option<String>,
}

/// Reads (and, when `take`, deletes) the sign-in a state names, if it is still live.
fn pending(c: &mut Connection, state: &str, take: bool) -> Result<Option<Pending>, String> {
    let key = store::digest(state);
    let tx = c.transaction().map_err(|e| e.to_string())?;
    let p = tx
        .query_row(
            &format!(
                "SELECT mailboxid, {}, nonce, redirecturi, sessionhash FROM oauthsignin \
                 WHERE statehash = ?1 AND createdon >= ?2",
                "mailsync_open(verifier, 'oauthsignin', 'verifier', statehash)"
            ),
            params![key, store::now().0 - PENDING_SECS],
            |r| {
                Ok(Pending {
                    mailbox: r.get(0)?,
                    verifier: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    nonce: r.get(2)?,
                    redirect_uri: r.get(3)?,
                    session: r.get(4)?,
                })
            },
        )
        .optional()
        .map_err(|e| e.to_string())?;
    if take {
        tx.execute("DELETE FROM oauthsignin WHERE statehash = ?1", [&key])
            .map_err(|e| e.to_string())?;
    }
    tx.commit().map_err(|e| e.to_string())?;
    Ok(p)
}

#[derive(Deserialize)]
pub struct Params {
    mailsync_signin: Option<String>,
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Steps 2 and 3: `GET /_grid/cmds/dlg_gmailoauth.aspx`.
pub async fn redirect(
    State(s): State<SignIn>,
    client: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    Query(q): Query<Params>,
) -> Response {
    let addr = client.map(|Extension(ClientAddr(a))| a.ip());
    let guard = s.security.as_ref().map(|sec| &sec.logins);
    if let (Some(g), Some(a)) = (guard, addr) {
        if let Err(l) = g.check_address(a, Instant::now()) {
            let mut r = page(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many unknown sign-ins from this address; try again later.",
            );
            if let Ok(v) = HeaderValue::from_str(&l.retry_after.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
    }
    let unknown = || {
        if let (Some(g), Some(a)) = (guard, addr) {
            g.failed_address(a, Instant::now());
        }
    };
    fn bounded(v: &Option<String>) -> Option<&str> {
        v.as_deref().filter(|v| v.len() <= 4096)
    }
    if let Some(state) = bounded(&q.mailsync_signin) {
        let session =
            crate::auth::session_cookie_value(&headers, s.https).map(|c| store::digest(&c));
        return match to_provider(&s, state, session).await {
            Ok(url) => see_other(&url),
            Err(why) => {
                unknown();
                page(StatusCode::BAD_REQUEST, &why)
            }
        };
    }
    let Some(state) = bounded(&q.state) else {
        return page(
            StatusCode::BAD_REQUEST,
            "This address finishes a mailbox's sign-in; it was opened without one.",
        );
    };
    let state = state.to_string();
    let store = s.store.clone();
    let taken = store
        .call(move |c| pending(c, &state, true).map_err(crate::store::StoreError::Other))
        .await;
    let p = match taken {
        Ok(Some(p)) => p,
        Ok(None) => {
            unknown();
            return page(
                StatusCode::BAD_REQUEST,
                "This sign-in is unknown, was already finished, or took longer than ten \
                 minutes. Start it again from the mailbox.",
            );
        }
        Err(e) => {
            eprintln!("mailsync serve: a mailbox sign-in could not be read: {e}");
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The sign-in could not be read; start it again from the mailbox.",
            );
        }
    };
    let outcome = match (&q.error, bounded(&q.code)) {
        (Some(error), _) => Err(format!(
            "The provider did not sign the mailbox in: {} {}",
            words(error),
            q.error_description
                .as_deref()
                .map(words)
                .unwrap_or_default()
        )),
        (None, Some(code)) => finish(&s, &p, code).await,
        (None, None) => Err("The provider came back without an authorization code.".into()),
    };
    let back = match outcome {
        Ok(()) => format!("/mailboxes/{}?oauth=signed-in", p.mailbox),
        Err(why) => format!(
            "/mailboxes/{}?oauth_error={}",
            p.mailbox,
            mailsync_core::url::encode(&why)
        ),
    };
    see_other(&back)
}

/// The mailbox's profile side of a sign-in and its provider's endpoints (Google's
/// found then), or why not, in words for the page.
async fn setup_and_endpoints(s: &SignIn, mailbox: &str) -> Result<(MailboxApp, Endpoints), String> {
    let mailbox = mailbox.to_string();
    let setup = s
        .store
        .call(move |c| Ok(setup(c, &mailbox)))
        .await
        .map_err(|e| {
            eprintln!("mailsync serve: a mailbox sign-in could not be read: {e}");
            "The sign-in could not be read; start it again from the mailbox.".to_string()
        })??;
    let endpoints = s
        .providers
        .endpoints(&setup.provider, &s.tls, &s.timeouts)
        .await
        .map_err(|f| format!("{} cannot be reached: {f}", setup.provider.name()))?;
    Ok((setup, endpoints))
}

async fn to_provider(s: &SignIn, state: &str, session: Option<String>) -> Result<String, String> {
    let st = state.to_string();
    let p = s
        .store
        .call(move |c| pending(c, &st, false).map_err(crate::store::StoreError::Other))
        .await
        .map_err(|e| {
            eprintln!("mailsync serve: a mailbox sign-in could not be read: {e}");
            "The sign-in could not be read; start it again from the mailbox.".to_string()
        })?
        .ok_or(
            "This sign-in is unknown, was already finished, or took longer than ten minutes. \
             Start it again from the mailbox.",
        )?;
    if p.session.is_some() && p.session != session {
        return Err(
            "This sign-in was started in another browser session: the mailbox's user starts \
             it from the mailbox in their own browser."
                .into(),
        );
    }
    let (setup, endpoints) = setup_and_endpoints(s, &p.mailbox).await?;
    let mut url = client::authorize_url(
        &endpoints,
        &setup.client_id,
        &p.redirect_uri,
        &setup.scope,
        state,
        &p.nonce,
        &client::pkce_challenge(&p.verifier),
        Some(&setup.user),
        None,
    );
    if setup.provider == Provider::Google {
        // Google gives a refresh token only for offline access, and again only when
        // asked to show its consent.
        url.push_str("&access_type=offline&prompt=consent");
    }
    Ok(url)
}

async fn finish(s: &SignIn, p: &Pending, code: &str) -> Result<(), String> {
    let (setup, endpoints) = setup_and_endpoints(s, &p.mailbox).await?;
    let name = setup.provider.name();
    let tokens = delegated::redeem(
        &endpoints.token,
        &setup.client_id,
        &setup.client_secret,
        &p.redirect_uri,
        code,
        &p.verifier,
        &setup.scope,
        &s.tls,
        &s.timeouts,
    )
    .await
    .map_err(|f| format!("{name} did not give the mailbox's tokens: {}", f.message))?;
    let Some(refresh) = tokens.refresh_token.clone() else {
        return Err(format!(
            "{name} gave no refresh token, so the mailbox could not synchronize after an \
             hour. Sign in again and accept offline access."
        ));
    };
    let account = oauth::signed_in_account(tokens.id_token.as_deref(), &p.nonce, &setup.client_id)
        .map_err(|why| format!("{name} signed an account in, but it cannot be taken: {why}"))?;
    if !oauth::same_account(&setup.user, &account) {
        return Err(format!(
            "{account} signed in, but the mailbox is {}: sign in as {} to give the mailbox \
             its own account.",
            setup.user, setup.user
        ));
    }
    let expires_on =
        mailsync_core::Timestamp(store::now().0 + tokens.expires_in as i64).to_rfc3339();
    let (id, access) = (p.mailbox.clone(), tokens.access_token.clone());
    s.store
        .call(move |c| {
            let seal = |col: &str, v: &str| secrets::seal_sql("mailbox", col, v, "?4");
            c.execute(
                &format!(
                    "UPDATE mailbox SET oauthrefreshtoken = {}, oauthaccesstoken = {}, \
                     oauthtokenexpireson = ?3, modifiedon = strftime('%Y-%m-%dT%H:%M:%SZ','now'), \
                     versionnumber = versionnumber + 1 WHERE mailboxid = ?4",
                    seal("oauthrefreshtoken", "?1"),
                    seal("oauthaccesstoken", "?2")
                ),
                params![refresh, access, expires_on, id],
            )?;
            Ok(())
        })
        .await
        .map_err(|e| e.to_string())
}

/// A provider's error words, as plain bounded text.
fn words(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(300).collect()
}

fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The provider's address carries the state: no Referer to it from here.
    r.headers_mut()
        .insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    r
}

/// A plain page saying why a sign-in cannot go on (text only: nothing in it is markup).
fn page(status: StatusCode, why: &str) -> Response {
    let mut r = (status, format!("Sign-in to the mail provider: {why}\n")).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
