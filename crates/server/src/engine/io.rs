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

/// The mail clients' trust store and time limits.
#[derive(Clone)]
pub struct Io {
    pub tls: Tls,
    pub timeouts: Timeouts,
    /// Where Autodiscover may send a profile's credentials.
    pub autodiscover_hosts: mail::ews::AutodiscoverHosts,
    /// Exchange Online's apps and their tokens (shared by every pass).
    pub apps: Arc<Apps>,
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

/// A plan that needs credentials and has none: core's planning prevents it, but a
/// protocol that always logs in must not connect without.
fn need_credentials(plan: &Plan) -> Result<Credentials, ConnectionFailure> {
    credentials(plan).ok_or_else(|| ConnectionFailure {
        kind: FailureKind::NoCredentials,
        server: server(plan),
        message: "No user name and password are available for this connection.".into(),
    })
}

fn unsupported(plan: &Plan) -> ConnectionFailure {
    ConnectionFailure {
        kind: FailureKind::Protocol,
        server: server(plan),
        message: format!("{:?} does not connect to {}", plan.protocol, server(plan)),
    }
}

impl Io {
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
        let creds = need_credentials(plan)?;
        let since = since.map(|t| {
            let (year, month, day, ..) = t.civil();
            mail::Day { year, month, day }
        });
        let t = &self.timeouts;
        mail::imap::poll_since(&ep, &creds, &self.tls, t, after, since, limit)
            .await
            .map_err(|f| failure(plan, f))
    }

    pub async fn pop3_poll(
        &self,
        plan: &Plan,
        seen: &HashSet<String>,
        limit: usize,
    ) -> Result<mail::pop3::Maildrop, ConnectionFailure> {
        let ep = endpoint(plan).ok_or_else(|| unsupported(plan))?;
        let creds = need_credentials(plan)?;
        mail::pop3::poll(&ep, &creds, &self.tls, &self.timeouts, seen, limit)
            .await
            .map_err(|f| failure(plan, f))
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
                let creds = credentials(plan);
                mail::smtp::send(&ep, creds.as_ref(), &self.tls, &self.timeouts, msgs).await
            }
            Protocol::Ews => {
                let (url, creds) = self.ews_url(plan).await?;
                let as_user = plan.impersonate.as_deref();
                mail::ews::send(&url, &creds, as_user, &self.tls, &self.timeouts, msgs).await
            }
            Protocol::Imap | Protocol::Pop3 => return Err(unsupported(plan)),
        }
        .map_err(|f| failure(plan, f))?;
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
                let creds = credentials(plan);
                mail::smtp::check(&ep, creds.as_ref(), &self.tls, &self.timeouts)
                    .await
                    .map_err(|f| failure(plan, f))
            }
            Protocol::Ews => self.ews_inbox(plan).await.map(drop),
        }
    }
}
