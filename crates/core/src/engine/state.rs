//! What the engine reads and writes: a mailbox's synchronization state (the mailbox
//! columns the engine owns), the profile and organization settings it obeys, its
//! limits, and what one connection reported.

use crate::report::Direction;
use crate::time::Timestamp;

/// The engine's limits. Dataverse's are the defaults; tests and benchmarks shorten them.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Consecutive failures with the same error before a transient error becomes
    /// permanent (the Mailbox Details log's "limit of 10").
    pub retry_limit: i64,
    /// Seconds between the attempts of a transient error.
    pub retry_interval_secs: i64,
    /// The name written to `hostid` while a mailbox is processed.
    pub host_id: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            retry_limit: i64::from(crate::RETRY_LIMIT),
            retry_interval_secs: 300,
            host_id: "mailsync".to_string(),
        }
    }
}

/// The organization's System Settings that steer the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgSettings {
    pub require_approval_for_users: bool,
    pub require_approval_for_queues: bool,
    pub alerts_for_errors: bool,
    pub alerts_for_warnings: bool,
    pub alerts_for_information: bool,
    pub notify_mailbox_owner: bool,
    /// "Process email using" is the Email Router (`emailconnectionchannel` 1): email
    /// delivered by "Server-Side Synchronization or Email Router" is the router's.
    pub email_router: bool,
}

impl Default for OrgSettings {
    fn default() -> Self {
        OrgSettings {
            require_approval_for_users: false,
            require_approval_for_queues: false,
            alerts_for_errors: true,
            alerts_for_warnings: true,
            alerts_for_information: true,
            notify_mailbox_owner: false,
            email_router: false,
        }
    }
}

/// One direction's connection settings of a profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connection {
    pub location: Option<String>,
    pub credential_retrieval: Option<i32>,
    pub use_ssl: bool,
    pub port: Option<i64>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `incominguseimpersonation` / `outgoinguseimpersonation` (Exchange only).
    pub use_impersonation: bool,
}

/// The email server profile, as the engine uses it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub id: String,
    pub name: String,
    pub server_type: Option<i32>,
    pub use_autodiscover: bool,
    pub incoming: Connection,
    pub outgoing: Connection,
    pub use_same_settings_for_outgoing: bool,
    pub max_concurrent_connections: i64,
    pub min_polling_interval_minutes: i64,
    /// Milliseconds, when `timeoutmailboxconnection` is on.
    pub connection_timeout_ms: Option<i64>,
    /// `sendemailalert`: email the owner when more than half of the mailboxes fail
    /// within an hour.
    pub send_email_alert: bool,
    /// `processemailsreceivedafter`: the date its mailboxes without one of their own
    /// take mail from.
    pub process_emails_received_after: Option<Timestamp>,
    /// "OAuth (Cross Tenant)": the profile's own app in its Exchange Online tenant
    /// (`exchangeonlinetenantid`, `oauthclientid`, `oauthclientsecret`).
    pub exchange_online_tenant: Option<String>,
    pub oauth_client_id: Option<String>,
    pub oauth_client_secret: Option<String>,
    /// `aadresourceid`: the resource of "Azure AD OAuth" mailboxes' permissions.
    pub aad_resource_id: Option<String>,
}

/// Whose mailbox it is: approval rules differ for users and queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regarding {
    User,
    Queue,
    Unknown,
}

/// A mailbox's columns the engine reads and writes, by their Dataverse meaning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mailbox {
    pub id: String,
    pub name: String,
    pub email_address: Option<String>,
    pub regarding: Option<Regarding>,
    pub approval: i64,
    pub approved_by_o365_admin: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Per-mailbox OAuth ("Gmail OAuth", "Azure AD OAuth"): the tokens its user's
    /// sign-in got (`oauthrefreshtoken`, `oauthaccesstoken`) and when the access token
    /// expires (`oauthtokenexpireson`).
    pub oauth_refresh_token: Option<String>,
    pub oauth_access_token: Option<String>,
    pub oauth_token_expires_on: Option<Timestamp>,
    pub allow_credentials: bool,
    pub incoming_method: Option<i32>,
    pub outgoing_method: Option<i32>,
    pub act_method: Option<i32>,
    pub enabled_incoming: bool,
    pub enabled_outgoing: bool,
    pub enabled_act: bool,
    pub incoming_status: i64,
    pub outgoing_status: i64,
    pub act_status: i64,
    pub mailbox_status: i64,
    pub test_scheduled: bool,
    pub test_retry_count: i64,
    pub test_completed_on: Option<Timestamp>,
    pub postpone_test_until: Option<Timestamp>,
    pub processing_state: i64,
    pub host_id: Option<String>,
    pub processing_last_attempted_on: Option<Timestamp>,
    pub no_email_count: i64,
    pub no_act_count: i64,
    pub postpone_processing_until: Option<Timestamp>,
    pub postpone_sending_until: Option<Timestamp>,
    pub receiving_postponed_until: Option<Timestamp>,
    pub receiving_postponed_until_act: Option<Timestamp>,
    pub last_success: Option<Timestamp>,
    pub last_sync_started: Option<Timestamp>,
    pub last_error_on: Option<Timestamp>,
    pub last_error: Option<String>,
    pub last_error_code: Option<i64>,
    pub last_error_count: i64,
    pub items_processed: i64,
    pub items_failed: i64,
    pub transient_failures: i64,
    pub processed_times: i64,
    pub average_duration_ms: i64,
    pub last_duration_ms: i64,
    /// `statecode`: 0 active, 1 inactive (never processed).
    pub state_code: i64,
    /// `processemailreceivedafter`: mail received before it is not taken.
    pub process_email_received_after: Option<Timestamp>,
}

impl Mailbox {
    /// The mailbox's delivery method for `dir` is server-side synchronization.
    pub fn uses_sss(&self, dir: Direction) -> bool {
        let method = match dir {
            Direction::Incoming => self.incoming_method,
            Direction::Outgoing => self.outgoing_method,
            Direction::Act => self.act_method,
        };
        method.is_some_and(|m| crate::options::is_server_side_sync(dir, m))
    }

    pub fn enabled(&self, dir: Direction) -> bool {
        match dir {
            Direction::Incoming => self.enabled_incoming,
            Direction::Outgoing => self.enabled_outgoing,
            Direction::Act => self.enabled_act,
        }
    }

    pub(crate) fn set_enabled(&mut self, dir: Direction, on: bool) {
        match dir {
            Direction::Incoming => self.enabled_incoming = on,
            Direction::Outgoing => self.enabled_outgoing = on,
            Direction::Act => self.enabled_act = on,
        }
    }

    pub(crate) fn set_status(&mut self, dir: Direction, status: i64) {
        match dir {
            Direction::Incoming => self.incoming_status = status,
            Direction::Outgoing => self.outgoing_status = status,
            Direction::Act => self.act_status = status,
        }
    }

    /// The postpone value of a direction.
    pub fn postponed(&self, dir: Direction) -> Option<Timestamp> {
        match dir {
            Direction::Incoming => self.receiving_postponed_until,
            Direction::Outgoing => self.postpone_sending_until,
            Direction::Act => self.receiving_postponed_until_act,
        }
    }

    pub(crate) fn set_postponed(&mut self, dir: Direction, t: Timestamp) {
        match dir {
            Direction::Incoming => self.receiving_postponed_until = Some(t),
            Direction::Outgoing => self.postpone_sending_until = Some(t),
            Direction::Act => self.receiving_postponed_until_act = Some(t),
        }
    }
}

/// Option values of the status columns.
pub mod status {
    pub const NOT_RUN: i64 = 0;
    pub const SUCCESS: i64 = 1;
    pub const FAILURE: i64 = 2;
}

/// Why a connection failed, as the server's mail clients see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The server's name does not resolve: a network error, transient and retried
    /// (seed 002: network issues are transient).
    Dns,
    /// The mailbox's location could not be determined: no server location in the
    /// profile, no address to autodiscover, or Autodiscover that found nothing.
    LocationUnknown,
    /// Nothing listens (connection refused).
    Refused,
    /// No answer in time.
    Timeout,
    /// The TLS handshake or the certificate failed.
    Tls,
    /// The server refused the credentials.
    Auth,
    /// No credentials are available to connect with.
    NoCredentials,
    /// The server said something unexpected.
    Protocol,
    /// The connection broke mid-conversation (the server hung up, a reset).
    Closed,
    /// Outgoing: the server asked to try an email again later (an SMTP 4xx:
    /// greylisting, a full queue).
    Deferred,
    /// Outgoing: the server refused an email for good (an SMTP 5xx to MAIL FROM,
    /// RCPT TO or DATA); only that email fails.
    Rejected,
    /// An HTTP status from Exchange Web Services.
    Http(u16),
    /// The mailbox's address is not approved (the engine's own check).
    NotApproved,
    /// The Exchange Online address is not approved by a Microsoft 365 administrator.
    NotApprovedByO365Admin,
    /// Appointments, contacts and tasks: the Exchange mailbox records another
    /// organization as the one it synchronizes them with.
    OtherOrganization,
}

/// One failed connection: the kind, the server it was for and the server's (or the
/// system's) own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionFailure {
    pub kind: FailureKind,
    /// `host:port`, or the URL; empty when no connection was attempted.
    pub server: String,
    pub message: String,
}

/// What one direction of a cycle or a test did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectionResult {
    /// Connected and synchronized: `items` promoted or sent, `failed` that could not be.
    Done {
        items: i64,
        failed: i64,
    },
    Failed(ConnectionFailure),
}
