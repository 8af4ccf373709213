//! The synchronization engine of the local organization: it processes each mailbox
//! when it is due, never more at once per profile than the profile's
//! `maxconcurrentconnections`, through real connections to the mail servers. The rules
//! (what is due, what a result means, which alerts to write) are core's
//! `mailsync_core::engine`; this module does the I/O around them.
//!
//! * `clock.rs`: the time (the system's, or one a test moves).
//! * `pass.rs`: one pass over one mailbox: read, ask core, connect, judge, write.
//! * `io.rs`: a direction's connection through `crate::mail` (IMAP, POP3, SMTP, EWS).
//! * `db.rs`: the engine's SQL: due mailboxes, the mailbox as core's state and back,
//!   alerts without duplicates, received and sent email, statistics.
//! * `act.rs`: appointments, contacts and tasks over EWS (core's `engine::act` rules):
//!   the primary organization, each folder's changes both ways, links and sync states.
//! * `notice.rs`: the email to a profile's owner when most of its mailboxes fail.
//!
//! `Engine::start` runs the scheduler: at every tick, and whenever a pass ends, it picks
//! the due mailboxes (the most overdue first), takes a connection of each one's profile
//! (a semaphore per profile) and runs its pass on its own task; a mailbox whose profile
//! has no free connection waits until one is.

mod act;
mod clock;
pub(crate) mod db;
mod io;
mod notice;
mod pass;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

#[allow(unused_imports)]
pub use clock::ManualClock;
pub use clock::{Clock, SystemClock};
pub use pass::Outcome;

use crate::mail::{Timeouts, Tls};
use crate::store::{Store, StoreError};
use mailsync_core::Timestamp;

/// How many due mailboxes one look at the schedule takes at most.
const DUE_PER_TICK: usize = 2000;
/// Looks at the schedule in one dispatch while they find mailboxes with nothing to do.
const SIFT_ROUNDS: usize = 20;
/// Candidates read beyond a profile's free connections: mailboxes whose pass has just
/// started are still due in the database and are skipped.
const STARTING_SLACK: usize = 8;

/// `mailsync serve`'s options for the engine.
#[derive(Debug, Clone, clap::Args)]
pub struct EngineArgs {
    /// Run the synchronization engine (`off`: serve the API and the console only).
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub engine: Switch,
    /// Failures in a row of the same transient error before it becomes permanent and
    /// the direction is disabled.
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(i64).range(1..=100))]
    pub retry_limit: i64,
    /// Seconds between the attempts of a transient error.
    #[arg(long, value_name = "SECS", default_value_t = 300,
          value_parser = clap::value_parser!(i64).range(1..))]
    pub retry_interval: i64,
    /// A CA certificate (PEM) to trust for mail servers, besides the public roots;
    /// repeat for more.
    #[arg(long = "trust-ca", value_name = "PEM")]
    pub trust_ca: Vec<PathBuf>,
    /// Seconds a mail server may take to connect or to answer.
    #[arg(long, value_name = "SECS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub mail_timeout: u64,
    /// A host Exchange Autodiscover may send a profile's credentials to, besides the
    /// mailbox's own domain and Microsoft's Autodiscover hosts (outlook.office365.com,
    /// autodiscover-s.outlook.com); repeatable.
    #[arg(long = "autodiscover-host", value_name = "HOST")]
    pub autodiscover_hosts: Vec<String>,
    /// Microsoft Entra ID, where Exchange Online's access tokens come from.
    #[arg(
        long,
        value_name = "URL",
        default_value = "https://login.microsoftonline.com"
    )]
    pub entra_authority: String,
    /// Google's OpenID Connect issuer, where "Gmail OAuth" mailboxes sign in and renew
    /// their tokens (its endpoints come from its discovery document).
    #[arg(
        long,
        value_name = "URL",
        default_value = "https://accounts.google.com"
    )]
    pub google_authority: String,
    /// The organization's app for Exchange Online server-to-server authentication: its
    /// tenant (Dataverse's own trust with Exchange Online in the same tenant). Its
    /// secret is read from MAILSYNC_EXCHANGE_ONLINE_CLIENT_SECRET, never from the
    /// command line (where any local user sees it).
    #[arg(long, value_name = "TENANT", requires = "exchange_online_client_id")]
    pub exchange_online_tenant: Option<String>,
    /// The organization's app for Exchange Online: its application (client) id.
    #[arg(long, value_name = "ID", requires = "exchange_online_tenant")]
    pub exchange_online_client_id: Option<String>,
    /// The app's certificate credential instead of a secret: one PEM file with the
    /// certificate registered on the app and its unencrypted RSA private key (keep it
    /// readable by mailsync's user only).
    #[arg(long, value_name = "PEM", requires = "exchange_online_client_id")]
    pub exchange_online_certificate: Option<PathBuf>,
    /// The app's secret when given in code (tests); otherwise the environment's.
    #[arg(skip)]
    pub exchange_online_secret: Option<String>,
}

/// The environment variable holding the organization's Exchange Online app secret.
pub const EXCHANGE_ONLINE_SECRET_ENV: &str = "MAILSYNC_EXCHANGE_ONLINE_CLIENT_SECRET";

/// The organization's Exchange Online app from the options and the environment.
fn organization_app(
    args: &EngineArgs,
) -> Result<Option<(String, String, crate::mail::oauth::Credential)>, String> {
    use crate::mail::oauth::{AppCertificate, Credential};
    let (Some(tenant), Some(client)) = (
        &args.exchange_online_tenant,
        &args.exchange_online_client_id,
    ) else {
        return Ok(None);
    };
    let credential = match (&args.exchange_online_certificate, &args.exchange_online_secret) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--exchange-online-certificate {}: {e}", path.display()))?;
            let cert = AppCertificate::from_pem(&text)
                .map_err(|e| format!("--exchange-online-certificate {}: {e}", path.display()))?;
            Credential::Certificate(Arc::new(cert))
        }
        (None, Some(s)) => Credential::Secret(s.clone()),
        (None, None) => Credential::Secret(std::env::var(EXCHANGE_ONLINE_SECRET_ENV).map_err(
            |_| {
                format!(
                    "--exchange-online-client-id needs the app's secret in \
                     {EXCHANGE_ONLINE_SECRET_ENV} or its certificate (--exchange-online-certificate)"
                )
            },
        )?),
    };
    Ok(Some((tenant.clone(), client.clone(), credential)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

#[derive(Default)]
struct Dispatch {
    in_flight: HashSet<String>,
    /// A profile's connections: its limit and the semaphore of that limit.
    limits: HashMap<String, (i64, Arc<Semaphore>)>,
}

pub struct Engine {
    store: Store,
    clock: Arc<dyn Clock>,
    config: mailsync_core::engine::Config,
    io: io::Io,
    dispatch: Mutex<Dispatch>,
    /// Told when a pass ends: its connection is free for the next due mailbox now,
    /// not at the next tick.
    freed: tokio::sync::Notify,
    /// Set when `mailsync serve` stops: passes cut short then are not errors.
    stopping: std::sync::atomic::AtomicBool,
}

impl Engine {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        args: &EngineArgs,
    ) -> Result<Arc<Engine>, String> {
        let tls = Tls::new(&args.trust_ca)?;
        let t = Duration::from_secs(args.mail_timeout);
        let tokens_store = store.clone();
        Ok(Arc::new(Engine {
            store,
            clock,
            config: mailsync_core::engine::Config {
                retry_limit: args.retry_limit,
                retry_interval_secs: args.retry_interval,
                host_id: host_id(),
            },
            io: io::Io {
                tls,
                timeouts: Timeouts { connect: t, io: t },
                autodiscover_hosts: crate::mail::ews::AutodiscoverHosts::with(
                    &args.autodiscover_hosts,
                ),
                apps: Arc::new(io::Apps::new(
                    &args.entra_authority,
                    organization_app(args)?,
                )),
                mailbox_tokens: Arc::new(io::MailboxTokens::new(
                    crate::mail::delegated::Providers::new(
                        &args.google_authority,
                        &args.entra_authority,
                    ),
                    tokens_store,
                )),
            },
            dispatch: Mutex::new(Dispatch::default()),
            freed: tokio::sync::Notify::new(),
            stopping: std::sync::atomic::AtomicBool::new(false),
        }))
    }

    /// Runs the scheduler until the process ends.
    pub fn start(self: Arc<Self>) -> JoinHandle<()> {
        tokio::spawn(async move {
            match self.store.call(|c| db::reset_processing(c)).await {
                Ok(n) if n > 0 => eprintln!(
                    "mailsync engine: {n} mailboxes were marked as being processed (by an \
                     earlier run, or in the seeded data); they are processed again"
                ),
                Ok(_) => {}
                Err(e) => eprintln!("mailsync engine: {e}"),
            }
            while !self.stopping() {
                if let Err(e) = self.dispatch().await {
                    eprintln!("mailsync engine: {e}");
                }
                tokio::select! {
                    () = self.clock.tick() => {}
                    () = self.freed.notified() => {}
                }
            }
        })
    }

    /// Starts a pass for every due mailbox whose profile has a free connection.
    pub async fn dispatch(
        self: &Arc<Self>,
    ) -> Result<Vec<JoinHandle<Option<Outcome>>>, StoreError> {
        let now = self.clock.now();
        let mut passes = Vec::new();
        // Candidates with nothing to do are moved out of the way without a connection;
        // while a look finds such, the next one may find real work behind them.
        for _ in 0..SIFT_ROUNDS {
            let due = self.due(now).await?;
            let (due, moved) = pass::sift(self, due, now).await?;
            passes.extend(self.start_passes(due));
            if moved == 0 {
                break;
            }
        }
        Ok(passes)
    }

    /// Each profile's due mailboxes up to its free connections (a few more: some may be
    /// starting already), so a full profile's are not read only to be skipped and
    /// cannot hide another profile's.
    async fn due(&self, now: Timestamp) -> Result<Vec<db::Candidate>, StoreError> {
        let free: HashMap<String, (i64, usize)> = self.dispatch.lock().map_or_else(
            |_| HashMap::new(),
            |d| {
                d.limits
                    .iter()
                    .map(|(k, (limit, s))| (k.clone(), (*limit, s.available_permits())))
                    .collect()
            },
        );
        self.store
            .call(move |c| {
                db::due(c, now, DUE_PER_TICK, |profile, max| {
                    let limit = max.clamp(1, 300);
                    let permits = match free.get(profile.unwrap_or_default()) {
                        Some((known, permits)) if *known == limit => *permits,
                        _ => limit as usize,
                    };
                    if permits == 0 {
                        0
                    } else {
                        permits + STARTING_SLACK
                    }
                })
            })
            .await
    }

    /// Starts a pass for each candidate whose profile has a free connection.
    fn start_passes(self: &Arc<Self>, due: Vec<db::Candidate>) -> Vec<JoinHandle<Option<Outcome>>> {
        let mut passes = Vec::new();
        for candidate in due {
            let permit = {
                let Ok(mut d) = self.dispatch.lock() else {
                    break;
                };
                if d.in_flight.contains(&candidate.mailbox) {
                    continue;
                }
                let limit = candidate.max_connections.clamp(1, 300);
                let key = candidate.profile.clone().unwrap_or_default();
                let entry = d
                    .limits
                    .entry(key)
                    .or_insert_with(|| (limit, Arc::new(Semaphore::new(limit as usize))));
                // A changed limit applies to the passes that start from now on.
                if entry.0 != limit {
                    *entry = (limit, Arc::new(Semaphore::new(limit as usize)));
                }
                let Ok(permit) = entry.1.clone().try_acquire_owned() else {
                    continue;
                };
                d.in_flight.insert(candidate.mailbox.clone());
                permit
            };
            let engine = self.clone();
            passes.push(tokio::spawn(async move {
                let id = candidate.mailbox;
                let result = pass::run(&engine, &id).await;
                drop(permit);
                if let Ok(mut d) = engine.dispatch.lock() {
                    d.in_flight.remove(&id);
                }
                engine.freed.notify_one();
                match result {
                    Ok(outcome) => outcome,
                    Err(_) if engine.stopping() => None,
                    Err(e) => {
                        eprintln!("mailsync engine: mailbox {id}: {e}");
                        let key = id.clone();
                        let _ = engine
                            .store
                            .call(move |c| db::end_processing(c, &key))
                            .await;
                        None
                    }
                }
            }));
        }
        passes
    }

    /// The server is stopping: no new passes, and the ones cut short are not reported
    /// (their mailboxes are reset at the next start).
    pub fn stop(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.freed.notify_one();
    }

    fn stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Runs every pass due now to its end (tests and benchmarks drive the engine so).
    #[allow(dead_code)]
    pub async fn run_due(self: &Arc<Self>) -> Result<Vec<Outcome>, StoreError> {
        let mut out = Vec::new();
        for pass in self.dispatch().await? {
            if let Ok(Some(o)) = pass.await {
                out.push(o);
            }
        }
        Ok(out)
    }
}

/// The name written to `hostid` while a mailbox is processed: this machine's.
fn host_id() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "mailsync".to_string())
}
