//! The synchronization engine's I/O: one call per protocol conversation with a mail
//! server, each returning plain values or a classified [`Failure`]. Nothing here keeps
//! state between calls; the scheduler and rules on top decide what to poll and send.
//!
//! ```text
//! imap::poll_since(&ep, &creds, &tls, &timeouts, after: Option<(uidvalidity, uid)>,
//!                  since: Option<Day>, limit)
//!     -> Result<imap::Mailbox { uidvalidity, uidnext, exists, new: Vec<imap::Message> }, Failure>
//! pop3::poll(&ep, &creds, &tls, &timeouts, seen: &HashSet<String>, limit)
//!     -> Result<pop3::Maildrop { count, octets, new: Vec<pop3::Message> }, Failure>
//! smtp::check(&ep, creds: Option<&Credentials>, &tls, &timeouts) -> Result<(), Failure>
//! smtp::send(&ep, creds: Option<&Credentials>, &tls, &timeouts, &[smtp::Outgoing])
//!     -> Result<Vec<Result<(), Failure>>, Failure>   // one result per message, in order
//! ews::get_inbox(url, &creds, &tls, &timeouts) -> Result<ews::EwsInbox { total, unread }, Failure>
//! ews::send(url, &creds, &tls, &timeouts, &[smtp::Outgoing])
//!     -> Result<Vec<Result<(), Failure>>, Failure>   // CreateItem, one result per message
//! ews::find_inbox(url, &creds, &tls, &timeouts, seen: &HashSet<String>, limit)
//!     -> Result<ews::EwsFound { total, new: Vec<ews::EwsItem> }, Failure>   // FindItem
//! ews::autodiscover(email, &creds, &tls, &timeouts) -> Result<String /* EWS URL */, Failure>
//! ```
//!
//! * [`Endpoint`] is host, port and [`Security`] (`Plain`, `StartTls`: STARTTLS/STLS
//!   after the greeting, `Tls`: implicit TLS); the engine maps a profile's `usessl` and
//!   port to it.
//! * [`Tls`] is the trust store (webpki roots plus extra CA PEM files), built once and
//!   cloned cheaply into every call.
//! * [`Timeouts`]: `connect` bounds DNS plus TCP connect, `io` bounds each read, write
//!   and the TLS handshake.
//! * [`Failure`] says what kind of problem it was ([`FailureKind`]), at which stage,
//!   and the server's own words or the OS/TLS error. Stages: `dns`, `connect`, `tls`,
//!   `greeting`, `starttls` (also STLS), `login` (IMAP LOGIN, POP3 USER/PASS); IMAP
//!   `select`, `search`, `fetch`; POP3 `stat`, `uidl`, `list`, `top`; SMTP `ehlo`,
//!   `auth`, `mail`, `rcpt`, `data`, `rset`; EWS `http` (GetFolder), `createitem`,
//!   `finditem`, `autodiscover`. Failures
//!   while saying goodbye (LOGOUT, QUIT) are ignored: the result is already in hand.
//!
//! Every future is `Send`. Every read is bounded (line length, literal and body sizes)
//! and no server input panics. The timeouts bound each step, not a whole call: a
//! server trickling bytes keeps a call alive, so a caller that needs a deadline wraps
//! the call in `tokio::time::timeout`. The test servers are `scripts/mailservers.sh
//! start` (dovecot, aiosmtpd, a fake EWS).

pub mod delegated;
pub mod ews;
pub mod ews_act;
mod headers;
pub(crate) mod http;
pub mod imap;
mod net;
pub mod oauth;
pub mod pop3;
pub mod smtp;
mod tls;

#[cfg(test)]
mod tests;

use std::fmt;
use std::time::Duration;

pub use headers::Headers;
pub use tls::Tls;

/// How a connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// Clear text all along.
    Plain,
    /// Clear text greeting, then STARTTLS (IMAP, SMTP) or STLS (POP3) before logging in.
    StartTls,
    /// TLS from the first byte (IMAPS 993, POP3S 995, SMTPS 465, HTTPS).
    Tls,
}

/// A calendar day, for IMAP's `SEARCH SINCE` (day granularity, no time, no zone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Day {
    pub year: i64,
    pub month: u32,
    pub day: u32,
}

impl Day {
    /// `3-Dec-2026`, RFC 3501's date.
    pub fn imap(&self) -> String {
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let month = MONTHS[(self.month.clamp(1, 12) - 1) as usize];
        format!("{}-{month}-{}", self.day, self.year)
    }
}

/// A mail server address for one direction of a mailbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub security: Security,
}

impl Endpoint {
    pub fn new(host: impl Into<String>, port: u16, security: Security) -> Endpoint {
        Endpoint {
            host: host.into(),
            port,
            security,
        }
    }
}

/// Who signs in: a user name with a password, or (`bearer`) with an OAuth 2.0 access
/// token, sent with SASL XOAUTH2 (IMAP AUTHENTICATE, POP3 AUTH, SMTP AUTH).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    /// The password, or the access token when `bearer`.
    pub password: String,
    pub bearer: bool,
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            password: password.into(),
            bearer: false,
        }
    }

    /// An address and its access token, for XOAUTH2.
    pub fn bearer(username: impl Into<String>, access_token: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            password: access_token.into(),
            bearer: true,
        }
    }

    /// SASL XOAUTH2's initial response, base64.
    pub(crate) fn xoauth2(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(mailsync_core::oauth::xoauth2(
            &self.username,
            &self.password,
        ))
    }
}

/// What an XOAUTH2 server's error challenge says (`{"status":"401","schemes":"bearer",
/// "scope":"..."}`, base64, which the client answers with an empty line): in words for
/// the failure, or the raw text when it is not that JSON.
pub(crate) fn xoauth2_error(challenge: &[u8]) -> String {
    use base64::Engine as _;
    let text = std::str::from_utf8(challenge).unwrap_or("").trim();
    let json = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    match json {
        Some(v) => format!(
            "the server refused the access token (status {}, scope {})",
            v["status"].as_str().unwrap_or("unknown"),
            v["scope"].as_str().unwrap_or("unknown")
        ),
        None if text.is_empty() => "the server refused the access token".into(),
        None => format!(
            "the server refused the access token: {}",
            net::printable(text.as_bytes(), 200)
        ),
    }
}

// Never print a password, not even in a test failure.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("bearer", &self.bearer)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// DNS resolution plus the TCP connect.
    pub connect: Duration,
    /// Each read or write, and the TLS handshake.
    pub io: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(15),
            io: Duration::from_secs(60),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The host name does not resolve.
    Dns,
    /// Nothing accepts connections there (or the network refuses the route).
    Refused,
    /// A connect, handshake, read or write took longer than its timeout.
    Timeout,
    /// The TLS handshake failed: certificate not trusted or for another name, a server
    /// not speaking TLS, no STARTTLS offered.
    Tls,
    /// The server refused the credentials (IMAP NO/BAD to LOGIN, POP3 -ERR to USER/PASS,
    /// SMTP 535, HTTP 401).
    Auth,
    /// The server answered something unexpected or refused a command.
    Protocol,
    /// The connection broke mid-conversation: the server hung up or the network
    /// reset it.
    Closed,
    /// SMTP: the server refused this message for good (a 5xx to MAIL FROM, RCPT TO or
    /// DATA), or it can never be sent (no or malformed recipients, too big); EWS: a
    /// CreateItem error such as `ErrorInvalidRecipients`.
    Rejected,
    /// SMTP: the server asked to try this message again later (a 4xx: greylisting, a
    /// full queue); EWS: `ErrorServerBusy` and the like.
    Deferred,
    /// An HTTP status that is neither success nor 401.
    Http(u16),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub stage: &'static str,
    /// The server's own words, or the OS/TLS error.
    pub message: String,
}

impl Failure {
    pub(crate) fn new(kind: FailureKind, stage: &'static str, message: impl Into<String>) -> Self {
        Failure {
            kind,
            stage,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} at {}: {}", self.kind, self.stage, self.message)
    }
}

impl std::error::Error for Failure {}
