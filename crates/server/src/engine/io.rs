//! A direction's connection, as core's `engine::protocol::Plan` describes it, through
//! the mail clients of `crate::mail`; their failures become core's
//! `ConnectionFailure`, which core classifies.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailsync_core::engine::protocol::{App, Plan, Protocol, Security, Target};
use mailsync_core::engine::{ConnectionFailure, FailureKind};
use mailsync_core::Timestamp;

use crate::mail::ews::EwsAuth;
use crate::mail::{self, Credentials, Endpoint, Timeouts, Tls};
use crate::store::{self, secrets, Store};

/// The mail clients' trust store and time limits.
#[derive(Clone)]
pub struct Io {
    pub tls: Tls,
    pub timeouts: Timeouts,
    /// Where Autodiscover may send a profile's credentials.
    pub autodiscover_hosts: mail::ews::AutodiscoverHosts,
    /// Exchange Online's apps and their tokens (shared by every pass).
    pub apps: Arc<Apps>,
    /// Mailboxes signed in with OAuth: their providers and access tokens.
    pub mailbox_tokens: Arc<MailboxTokens>,
}

/// "Gmail OAuth" and "Azure AD OAuth" mailboxes: each one's access token, renewed with
/// its refresh token when it is a minute from expiring. A renewal is written to the
/// mailbox at once (the access token and `oauthtokenexpireson`, and the refresh token
/// when the provider gives a new one, as Entra ID does), so the next pass, and the next
/// run of the server, starts from it.
pub struct MailboxTokens {
    pub providers: mail::delegated::Providers,
    store: Store,
    /// Mailbox id → (digest of the refresh token it came from, token, good until).
    cache: Mutex<HashMap<String, (String, String, Instant)>>,
    /// Renewals asked of the providers so far (tests read it).
    pub renewed: AtomicU64,
}

impl MailboxTokens {
    pub fn new(providers: mail::delegated::Providers, store: Store) -> MailboxTokens {
        MailboxTokens {
            providers,
            store,
            cache: Mutex::new(HashMap::new()),
            renewed: AtomicU64::new(0),
        }
    }
}

/// Exchange Online with server-to-server authentication: Microsoft Entra ID's
/// authority, the organization's own app (the server's options: Dataverse's trust
/// with Exchange Online in its tenant), and the tokens got, each kept until a minute
/// before it expires.
pub struct Apps {
    pub authority: String,
    /// `(tenant, client id, credential)`.
    pub organization: Option<(String, String, mail::oauth::Credential)>,
    /// `(tenant, client id / secret digest)` → the token and until when it is used.
    cache: Mutex<HashMap<(String, String), (String, Instant)>>,
    /// One token request at a time: passes that start together wait for the first
    /// one's token instead of each asking Entra ID.
    fetching: tokio::sync::Mutex<()>,
    /// Tokens asked of Entra ID so far (tests and benchmarks read it).
    pub fetched: AtomicU64,
}

impl Apps {
    pub fn new(
        authority: &str,
        organization: Option<(String, String, mail::oauth::Credential)>,
    ) -> Apps {
        Apps {
            authority: authority.trim_end_matches('/').to_string(),
            organization,
            cache: Mutex::new(HashMap::new()),
            fetching: tokio::sync::Mutex::new(()),
            fetched: AtomicU64::new(0),
        }
    }
}

/// Where a plan connects, in words for alerts ("imap.example.com:993").
pub fn server(plan: &Plan) -> String {
    match &plan.target {
        Target::Server { host, port, .. } => format!("{host}:{port}"),
        Target::Url(u) => u.clone(),
        Target::Autodiscover { email } => format!("autodiscover for {email}"),
    }
}

pub fn failure(plan: &Plan, f: mail::Failure) -> ConnectionFailure {
    let kind = match f.kind {
        mail::FailureKind::Dns => FailureKind::Dns,
        mail::FailureKind::Refused => FailureKind::Refused,
        mail::FailureKind::Timeout => FailureKind::Timeout,
        mail::FailureKind::Tls => FailureKind::Tls,
        mail::FailureKind::Auth => FailureKind::Auth,
        mail::FailureKind::Protocol => FailureKind::Protocol,
        mail::FailureKind::Closed => FailureKind::Closed,
        mail::FailureKind::Deferred => FailureKind::Deferred,
        mail::FailureKind::Rejected => FailureKind::Rejected,
        mail::FailureKind::Http(s) => FailureKind::Http(s),
    };
    ConnectionFailure {
        kind,
        server: server(plan),
        message: format!("{}: {}", f.stage, f.message),
    }
}

fn endpoint(plan: &Plan) -> Option<Endpoint> {
    match &plan.target {
        Target::Server {
            host,
            port,
            security,
        } => Some(Endpoint::new(
            host.clone(),
            *port,
            match security {
                Security::Plain => mail::Security::Plain,
                Security::StartTls => mail::Security::StartTls,
                Security::Tls => mail::Security::Tls,
            },
        )),
        _ => None,
    }
}

fn credentials(plan: &Plan) -> Option<Credentials> {
    plan.credentials
        .as_ref()
        .map(|c| Credentials::new(c.username.clone(), c.password.clone()))
}

fn unsupported(plan: &Plan) -> ConnectionFailure {
    ConnectionFailure {
        kind: FailureKind::Protocol,
        server: server(plan),
        message: format!("{:?} does not connect to {}", plan.protocol, server(plan)),
    }
}

impl Io {
    /// Who signs in for a plan: the mailbox's address with its access token (per-mailbox
    /// OAuth; `renew`: a new one even if the one in hand looks good), else the plan's
    /// user name and password, else nobody.
    /// The flag: the access token was renewed for this call.
    async fn sign_in(
        &self,
        plan: &Plan,
        renew: bool,
    ) -> Result<(Option<Credentials>, bool), ConnectionFailure> {
        match &plan.oauth {
            Some(o) => {
                let (token, fresh) = self.mailbox_token(plan, o, renew).await?;
                Ok((Some(Credentials::bearer(o.app.user.clone(), token)), fresh))
            }
            None => Ok((credentials(plan), false)),
        }
    }

    /// Runs one conversation with who signs in for `plan`. A mailbox whose access token
    /// the server refuses (revoked, or its sign-in withdrawn before it expired) is
    /// tried once more with a renewed one: the renewal then says in the provider's
    /// words whether the user must sign in again. `required`: a protocol that always
    /// signs in (core's planning prevents a plan without anyone, but such a plan must
    /// not connect).
    async fn signed_in<T, F, Fut>(
        &self,
        plan: &Plan,
        required: bool,
        talk: F,
    ) -> Result<T, ConnectionFailure>
    where
        F: Fn(Option<Credentials>) -> Fut,
        Fut: std::future::Future<Output = Result<T, mail::Failure>>,
    {
        let who = |(c, fresh): (Option<Credentials>, bool)| {
            if required && c.is_none() {
                Err(ConnectionFailure {
                    kind: FailureKind::NoCredentials,
                    server: server(plan),
                    message: "No user name and password are available for this connection.".into(),
                })
            } else {
                Ok((c, fresh))
            }
        };
        let (creds, fresh) = who(self.sign_in(plan, false).await?)?;
        match talk(creds).await {
            Err(f) if f.kind == mail::FailureKind::Auth && plan.oauth.is_some() && !fresh => {
                let (creds, _) = who(self.sign_in(plan, true).await?)?;
                talk(creds).await.map_err(|f| failure(plan, f))
            }
            other => other.map_err(|f| failure(plan, f)),
        }
    }

    /// A mailbox's access token: the one in hand while it has a minute left, else a new
    /// one for its refresh token, written to the mailbox.
    async fn mailbox_token(
        &self,
        plan: &Plan,
        o: &mailsync_core::engine::protocol::MailboxOAuth,
        renew: bool,
    ) -> Result<(String, bool), ConnectionFailure> {
        let tokens = &self.mailbox_tokens;
        // The refresh token names its cache entry by digest (the token is kept once).
        let key = store::digest(&o.refresh_token);
        let margin = Duration::from_secs(60);
        if renew {
            if let Ok(mut c) = tokens.cache.lock() {
                c.remove(&o.mailbox_id);
            }
        } else if let Some((k, token, until)) = tokens
            .cache
            .lock()
            .ok()
            .and_then(|c| c.get(&o.mailbox_id).cloned())
        {
            if k == key && until > Instant::now() + margin {
                return Ok((token, false));
            }
        }
        if let Some((token, until)) = o.access_token.as_ref().filter(|_| !renew) {
            let left = until.0 - store::now().0;
            if left > margin.as_secs() as i64 {
                let until = Instant::now() + Duration::from_secs(left as u64);
                if let Ok(mut c) = tokens.cache.lock() {
                    c.insert(o.mailbox_id.clone(), (key, token.clone(), until));
                }
                return Ok((token.clone(), false));
            }
        }
        let name = o.app.provider.name();
        let refused = |f: mail::Failure| {
            let mut c = failure(plan, f);
            if c.kind == FailureKind::Auth {
                c.message = format!(
                    "{name} refused the mailbox's sign-in ({}); its user signs in again with \
                     Sign in to {name} on the mailbox.",
                    c.message
                );
            }
            c
        };
        let endpoints = tokens
            .providers
            .endpoints(&o.app.provider, &self.tls, &self.timeouts)
            .await
            .map_err(refused)?;
        tokens.renewed.fetch_add(1, Ordering::Relaxed);
        let got = mail::delegated::refresh(
            &endpoints.token,
            &o.app.client_id,
            &o.app.client_secret,
            &o.refresh_token,
            &o.app.scope,
            &self.tls,
            &self.timeouts,
        )
        .await
        .map_err(refused)?;
        let expires_on = store::now().0 + got.expires_in as i64;
        let until = Instant::now() + Duration::from_secs(got.expires_in);
        let new_key = got
            .refresh_token
            .as_deref()
            .map_or(key.clone(), store::digest);
        if let Ok(mut c) = tokens.cache.lock() {
            c.insert(
                o.mailbox_id.clone(),
                (new_key, got.access_token.clone(), until),
            );
        }
        let (id, old) = (o.mailbox_id.clone(), o.refresh_token.clone());
        let (access, rotated) = (got.access_token.clone(), got.refresh_token.clone());
        let written = tokens
            .store
            .call(move |c| store_renewal(c, &id, &old, &access, expires_on, rotated.as_deref()))
            .await;
        if let Err(e) = written {
            // The token works; only the next pass renews once more.
            eprintln!("mailsync engine: cannot keep a mailbox's renewed OAuth token: {e}");
        }
        Ok((got.access_token, true))
    }

    /// The limits for one profile: its "Timeout Mailbox Connection" when set.
    pub fn with_timeout(&self, ms: Option<i64>) -> Io {
        let mut io = self.clone();
        if let Some(ms) = ms.filter(|ms| *ms > 0) {
            let d = Duration::from_millis(ms as u64);
            io.timeouts = Timeouts { connect: d, io: d };
        }
        io
    }

    pub async fn imap_poll(
        &self,
        plan: &Plan,
        after: Option<(u32, u32)>,
        since: Option<Timestamp>,
        limit: usize,
    ) -> Result<mail::imap::Mailbox, ConnectionFailure> {
        let ep = endpoint(plan).ok_or_else(|| unsupported(plan))?;
        let since = since.map(|t| {
            let (year, month, day, ..) = t.civil();
            mail::Day { year, month, day }
        });
        let (ep, t) = (&ep, &self.timeouts);
        self.signed_in(plan, true, |c| async move {
            let c = c.unwrap_or_else(|| Credentials::new("", ""));
            mail::imap::poll_since(ep, &c, &self.tls, t, after, since, limit).await
        })
        .await
    }

    pub async fn pop3_poll(
        &self,
        plan: &Plan,
        seen: &HashSet<String>,
        limit: usize,
    ) -> Result<mail::pop3::Maildrop, ConnectionFailure> {
        let ep = endpoint(plan).ok_or_else(|| unsupported(plan))?;
        let ep = &ep;
        self.signed_in(plan, true, |c| async move {
            let c = c.unwrap_or_else(|| Credentials::new("", ""));
            mail::pop3::poll(ep, &c, &self.tls, &self.timeouts, seen, limit).await
        })
        .await
    }

    /// Sends each message through the plan's outgoing protocol (SMTP, or EWS's
    /// CreateItem): one result per message, or the failure of the whole connection.
    pub async fn send(
        &self,
        plan: &Plan,
        msgs: &[mail::smtp::Outgoing],
    ) -> Result<Vec<Result<(), ConnectionFailure>>, ConnectionFailure> {
        let results = match plan.protocol {
            Protocol::Smtp => {
                let ep = endpoint(plan).ok_or_else(|| unsupported(plan))?;
                let ep = &ep;
                self.signed_in(plan, false, |c| async move {
                    mail::smtp::send(ep, c.as_ref(), &self.tls, &self.timeouts, msgs).await
                })
                .await?
            }
            Protocol::Ews => {
                let (url, creds) = self.ews_url(plan).await?;
                let as_user = plan.impersonate.as_deref();
                mail::ews::send(&url, &creds, as_user, &self.tls, &self.timeouts, msgs)
                    .await
                    .map_err(|f| failure(plan, f))?
            }
            Protocol::Imap | Protocol::Pop3 => return Err(unsupported(plan)),
        };
        Ok(results
            .into_iter()
            .map(|r| r.map_err(|f| failure(plan, f)))
            .collect())
    }

    /// Exchange Online: the app's access token, from the cache while it is good.
    async fn app_token(&self, plan: &Plan, app: &App) -> Result<String, ConnectionFailure> {
        let (tenant, client_id, credential) = match app {
            App::Profile {
                tenant,
                client_id,
                secret,
            } => (
                tenant.clone(),
                client_id.clone(),
                mail::oauth::Credential::Secret(secret.clone()),
            ),
            App::Organization => {
                self.apps
                    .organization
                    .clone()
                    .ok_or_else(|| ConnectionFailure {
                        kind: FailureKind::NoCredentials,
                        server: server(plan),
                        message:
                            "Server-to-server authentication needs the organization's app for \
                          Exchange Online: start mailsync serve with --exchange-online-tenant and \
                          --exchange-online-client-id, its secret in \
                          MAILSYNC_EXCHANGE_ONLINE_CLIENT_SECRET or its certificate in \
                          --exchange-online-certificate."
                                .into(),
                    })?
            }
        };
        // Keyed by the secret too: a profile that names an app with a wrong secret
        // must not ride on the token another profile's right secret got.
        let key = (
            tenant.to_ascii_lowercase(),
            format!("{client_id}/{}", credential.digest()),
        );
        let cached = |key: &(String, String)| {
            self.apps
                .cache
                .lock()
                .ok()
                .and_then(|c| c.get(key).cloned())
                .filter(|(_, until)| *until > Instant::now())
                .map(|(token, _)| token)
        };
        if let Some(token) = cached(&key) {
            return Ok(token);
        }
        let _one_at_a_time = self.apps.fetching.lock().await;
        if let Some(token) = cached(&key) {
            return Ok(token);
        }
        let now = Instant::now();
        self.apps.fetched.fetch_add(1, Ordering::Relaxed);
        let t = mail::oauth::client_credentials(
            &self.apps.authority,
            &tenant,
            &client_id,
            &credential,
            &self.tls,
            &self.timeouts,
        )
        .await
        .map_err(|f| failure(plan, f))?;
        let until = now + Duration::from_secs(t.expires_in.saturating_sub(60));
        if let Ok(mut cache) = self.apps.cache.lock() {
            cache.insert(key, (t.access_token.clone(), until));
        }
        Ok(t.access_token)
    }

    /// How EWS is called for a plan: the app's token (server-to-server), else the
    /// plan's user name and password.
    async fn ews_auth(&self, plan: &Plan) -> Result<EwsAuth, ConnectionFailure> {
        Ok(match &plan.app {
            Some(app) => EwsAuth::Bearer(self.app_token(plan, app).await?),
            // Without a password EWS is asked without one (and answers 401).
            None => EwsAuth::Basic(credentials(plan).unwrap_or_else(|| Credentials::new("", ""))),
        })
    }

    /// Exchange: the EWS URL of a plan (autodiscover when the profile asks) and how to
    /// authenticate there.
    async fn ews_url(&self, plan: &Plan) -> Result<(String, EwsAuth), ConnectionFailure> {
        let creds = self.ews_auth(plan).await?;
        let url = match &plan.target {
            Target::Url(u) => u.clone(),
            Target::Autodiscover { email } => {
                mail::ews::autodiscover(
                    email,
                    &self.autodiscover_hosts,
                    &creds,
                    &self.tls,
                    &self.timeouts,
                )
                .await
                .map_err(|f| {
                    // Autodiscover that finds nothing: "the mailbox location could
                    // not be determined", whatever stopped it.
                    let mut c = failure(plan, f);
                    if c.kind != FailureKind::Auth {
                        c.kind = FailureKind::LocationUnknown;
                    }
                    c
                })?
            }
            Target::Server { .. } => return Err(unsupported(plan)),
        };
        Ok((url, creds))
    }

    /// Exchange: the inbox's counts through EWS (GetFolder).
    pub async fn ews_inbox(&self, plan: &Plan) -> Result<mail::ews::EwsInbox, ConnectionFailure> {
        let (url, creds) = self.ews_url(plan).await?;
        let as_user = plan.impersonate.as_deref();
        mail::ews::get_inbox(&url, &creds, as_user, &self.tls, &self.timeouts)
            .await
            .map_err(|f| failure(plan, f))
    }

    /// Exchange: a session on the mailbox for appointments, contacts and tasks, and
    /// the EWS URL it talks to.
    pub async fn ews_session(
        &self,
        plan: &Plan,
    ) -> Result<(mail::ews_act::Session<'_>, String), ConnectionFailure> {
        let (url, creds) = self.ews_url(plan).await?;
        let session = mail::ews_act::Session::new(
            &url,
            creds,
            plan.impersonate.as_deref(),
            &self.tls,
            &self.timeouts,
        )
        .map_err(|f| failure(plan, f))?;
        Ok((session, url))
    }

    /// Exchange: the inbox's items not in `seen` (FindItem).
    pub async fn ews_find(
        &self,
        plan: &Plan,
        seen: &HashSet<String>,
        limit: usize,
    ) -> Result<mail::ews::EwsFound, ConnectionFailure> {
        let (url, creds) = self.ews_url(plan).await?;
        let as_user = plan.impersonate.as_deref();
        mail::ews::find_inbox(
            &url,
            &creds,
            as_user,
            &self.tls,
            &self.timeouts,
            seen,
            limit,
        )
        .await
        .map_err(|f| failure(plan, f))
    }

    /// Test & Enable's check of a direction: connect, secure, sign in and open the
    /// mailbox (IMAP SELECT, POP3 STAT, SMTP AUTH, EWS GetFolder), without taking or
    /// sending anything.
    pub async fn check(&self, plan: &Plan) -> Result<(), ConnectionFailure> {
        match plan.protocol {
            Protocol::Imap => self.imap_poll(plan, None, None, 0).await.map(drop),
            Protocol::Pop3 => self.pop3_poll(plan, &HashSet::new(), 0).await.map(drop),
            Protocol::Smtp => {
                let ep = endpoint(plan).ok_or_else(|| unsupported(plan))?;
                let ep = &ep;
                self.signed_in(plan, false, |c| async move {
                    mail::smtp::check(ep, c.as_ref(), &self.tls, &self.timeouts).await
                })
                .await
            }
            Protocol::Ews => self.ews_inbox(plan).await.map(drop),
        }
    }
}

/// Writes a renewal to the mailbox, unless its user signed in again meanwhile (its
/// refresh token is no longer the one renewed).
fn store_renewal(
    c: &mut rusqlite::Connection,
    mailbox: &str,
    old_refresh: &str,
    access: &str,
    expires_on: i64,
    rotated: Option<&str>,
) -> crate::store::Result<()> {
    let seal = |column: &str, value: &str| secrets::seal_sql("mailbox", column, value, "mailboxid");
    let sql = format!(
        "UPDATE mailbox SET oauthaccesstoken = {}, oauthtokenexpireson = ?2, \
         oauthrefreshtoken = CASE WHEN ?3 IS NULL THEN oauthrefreshtoken ELSE {} END \
         WHERE mailboxid = ?4 AND {} = ?5",
        seal("oauthaccesstoken", "?1"),
        seal("oauthrefreshtoken", "?3"),
        secrets::open_sql("mailbox", "oauthrefreshtoken"),
    );
    let until = mailsync_core::Timestamp(expires_on).to_rfc3339();
    c.execute(
        &sql,
        rusqlite::params![access, until, rotated, mailbox, old_refresh],
    )?;
    Ok(())
}
