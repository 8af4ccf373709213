//! A failed connection as server-side synchronization reports it: the alert text in the
//! product's words, the error type (`errortypedisplay`), the trace code, and the
//! knowledge base's classification of that text (so the engine and the Log Analyzer
//! agree on what an error means).

use super::{ConnectionFailure, FailureKind, Mailbox, Profile};
use crate::classify::{classify, Evidence};
use crate::report::{Direction, Nature, Scope};

/// One error of a direction (or of the whole mailbox: approval).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncError {
    pub direction: Direction,
    /// `errortypedisplay`, e.g. `IncomingEmailServerServiceError`.
    pub error_type: String,
    pub tracecode: i64,
    /// `lastsyncerrorcode`: the HTTP status when there is one, else the trace code.
    pub code: i64,
    /// The alert text; also `lastsyncerror`.
    pub text: String,
    /// The server and its own words (`errordetails`).
    pub details: String,
    pub nature: Nature,
    pub scope: Scope,
    /// The knowledge-base entry, when one matched.
    pub rule: Option<String>,
}

/// Trace codes of the errors the engine writes. One per kind of error, so the same
/// error on the same record is recognised as the same alert.
pub mod codes {
    pub const LOCATION_UNDETERMINED: i64 = 12;
    pub const SECURE_CONNECTION: i64 = 31;
    pub const PROFILE_CREDENTIALS: i64 = 32;
    pub const NOT_APPROVED: i64 = 44;
    pub const MAILBOX_CREDENTIALS: i64 = 45;
    pub const NOT_APPROVED_BY_O365_ADMIN: i64 = 46;
    pub const SERVER_UNAVAILABLE: i64 = 52;
    pub const UNREACHABLE: i64 = 53;
    pub const RECIPIENT_REFUSED: i64 = 60;
    /// Appointments, contacts and tasks: the Exchange server unavailable (HTTP 503), as
    /// seed 003's log has it (trace code 126, ExchangeSyncServerServiceError, a 503).
    pub const ACT_SERVER_UNAVAILABLE: i64 = 126;
    /// Throttling (HTTP 429, ErrorServerBusy): a code of its own. No public Dataverse
    /// log shows one for it, 126 is ACT's 503 above, and the engine's own errors use
    /// 52 to 64: throttling takes the next free one (the knowledge base's
    /// `exchange-server-busy` entry says so).
    pub const SERVER_BUSY: i64 = 65;
    /// Appointments, contacts and tasks synchronize with another organization (the
    /// Exchange mailbox names it): the next free code, as for throttling.
    pub const OTHER_ORGANIZATION: i64 = 66;
    pub const SERVER_DEFERRED: i64 = 61;
    pub const ACCESS_DENIED: i64 = 62;
    pub const SERVER_NOT_FOUND: i64 = 63;
    pub const SERVER_ERROR: i64 = 64;
    pub const UNKNOWN: i64 = 2;
    /// Information: a Test & Enable passed, or was run.
    pub const TEST_COMPLETED: i64 = 1;
    /// Information: a profile's error reached the affected mailbox.
    pub const PROFILE_ERROR_NOTICE: i64 = 3;
}

struct Words {
    /// "received", "sent", "synchronized"
    done: &'static str,
    /// "receiving email", "sending email", "synchronizing appointments, contacts, and tasks"
    doing: &'static str,
    /// "receive email", "send email", ...
    verb: &'static str,
    /// "Incoming", "Outgoing": the error type's direction
    kind: &'static str,
}

fn words(dir: Direction) -> Words {
    match dir {
        Direction::Incoming => Words {
            done: "received",
            doing: "receiving email",
            verb: "receive email",
            kind: "IncomingEmail",
        },
        Direction::Outgoing => Words {
            done: "sent",
            doing: "sending email",
            verb: "send email",
            kind: "OutgoingEmail",
        },
        Direction::Act => Words {
            done: "synchronized",
            doing: "synchronizing appointments, contacts, and tasks",
            verb: "synchronize appointments, contacts, and tasks",
            kind: "ExchangeSync",
        },
    }
}

/// Whether the credentials of `dir` come from the profile (else from the mailbox):
/// its user name and password, or the app of server-to-server authentication.
fn profile_credentials(profile: &Profile, dir: Direction) -> bool {
    matches!(
        super::protocol::authentication(profile, dir).credential_retrieval,
        Some(1) | Some(2)
    )
}

/// The error `failure` of `dir` is, for `mailbox` on `profile`.
pub fn describe(
    dir: Direction,
    failure: &ConnectionFailure,
    mailbox: &Mailbox,
    profile: &Profile,
) -> SyncError {
    let w = words(dir);
    let m = &mailbox.name;
    let p = &profile.name;
    let server = if failure.server.is_empty() {
        "the email server".to_string()
    } else {
        failure.server.clone()
    };
    let subject = if dir == Direction::Act {
        "Appointments, contacts, and tasks cannot be synchronized".to_string()
    } else {
        format!("Email cannot be {}", w.done)
    };
    let (tracecode, http, text) = match failure.kind {
        FailureKind::Tls if dir == Direction::Act => (
            codes::SECURE_CONNECTION,
            None,
            format!("The mailbox {m} has been disabled for synchronizing appointments, contacts, and tasks for the mailbox because an error occurred while establishing a secure connection to the Exchange server. The owner of the email server profile {p} has been notified."),
        ),
        FailureKind::Tls => (
            codes::SECURE_CONNECTION,
            None,
            format!("{subject} for the mailbox {m} because an error occurred while establishing a secure connection to the email server {server}. The mailbox has been disabled for {} and the owner of the email server profile {p} has been notified.", w.doing),
        ),
        FailureKind::LocationUnknown => (
            codes::LOCATION_UNDETERMINED,
            None,
            format!("The mailbox location could not be determined while {} for the mailbox {m}: {server} could not be found. The mailbox {m} has been disabled for {} and the owner of the associated email server profile {p} has been notified.", w.doing, w.doing),
        ),
        FailureKind::Dns
        | FailureKind::Refused
        | FailureKind::Timeout
        | FailureKind::Closed => (
            codes::UNREACHABLE,
            None,
            format!("{subject} for the mailbox {m} because the connection to the email server failed: {server} {}. The owner of the email server profile {p} has been notified. The system will try to {} again later.",
                match failure.kind {
                    FailureKind::Dns => "could not be found (its name does not resolve)",
                    FailureKind::Refused => "refused the connection",
                    FailureKind::Closed => "closed the connection",
                    _ => "did not answer in time",
                }, w.verb),
        ),
        FailureKind::Deferred => (
            codes::SERVER_DEFERRED,
            None,
            format!("{subject} for the mailbox {m} because the email server {server} asked to try again later. The system will try to {} again later.", w.verb),
        ),
        FailureKind::Auth | FailureKind::NoCredentials | FailureKind::Http(401)
            if profile_credentials(profile, dir) =>
        (
            codes::PROFILE_CREDENTIALS,
            Some(401),
            format!("{subject} because the credentials specified in the associated email server profile are incorrect or have insufficient permissions for {}. The mailbox {m} has been disabled for {} and the owner of the email server profile {p} has been notified.", w.doing, w.doing),
        ),
        FailureKind::Auth | FailureKind::NoCredentials | FailureKind::Http(401) => (
            codes::MAILBOX_CREDENTIALS,
            Some(401),
            format!("{subject} because the credentials specified in the mailbox {m} are incorrect or have insufficient permissions for {}. The mailbox has been disabled for {}.", w.doing, w.doing),
        ),
        FailureKind::Http(s @ 502..=504) => (
            if dir == Direction::Act {
                codes::ACT_SERVER_UNAVAILABLE
            } else {
                codes::SERVER_UNAVAILABLE
            },
            Some(s),
            format!("{subject} for the mailbox {m}. The remote server returned an error: ({s}) Server Unavailable. The owner of the email server profile {p} has been notified. The system will try to {} again later.", w.verb),
        ),
        FailureKind::Http(429) => (
            codes::SERVER_BUSY,
            Some(429),
            format!("{subject} for the mailbox {m}. The server cannot service this request right now. Try again later. ErrorServerBusy"),
        ),
        FailureKind::NotApproved => (
            codes::NOT_APPROVED,
            None,
            format!("{subject} for the mailbox {m} because the email address of the mailbox {m} is not approved and the mailbox has been disabled. The owner of the associated email server profile {p} has been notified."),
        ),
        FailureKind::NotApprovedByO365Admin => (
            codes::NOT_APPROVED_BY_O365_ADMIN,
            None,
            format!("{subject} because the email address of the mailbox {m} requires an approval by an Office 365 administrator. The mailbox has been disabled for {} and the owner of the email server profile {p} has been notified.", w.doing),
        ),
        // KB 4014622 and "Troubleshooting and monitoring server-side synchronization".
        FailureKind::OtherOrganization => (
            codes::OTHER_ORGANIZATION,
            None,
            format!("Appointments, contacts, and tasks can't be synchronized because the email address of the mailbox {m} is configured with another organization. The best practice is to overwrite the configuration when you test and enable the mailbox in your primary organization. Also, change the synchronization method for your mailbox in nonprimary organizations to None."),
        ),
        FailureKind::Http(403) => (
            codes::ACCESS_DENIED,
            Some(403),
            format!("{subject} for the mailbox {m} because the email server {server} denied access to the mailbox: (403) Forbidden. The mailbox has been disabled for {}.", w.doing),
        ),
        FailureKind::Http(404) => (
            codes::SERVER_NOT_FOUND,
            Some(404),
            format!("{subject} for the mailbox {m} because the email server location {server} was not found: (404) Not Found. The mailbox has been disabled for {} and the owner of the email server profile {p} has been notified.", w.doing),
        ),
        FailureKind::Http(s) => (
            codes::SERVER_ERROR,
            Some(s),
            format!("{subject} for the mailbox {m} because the email server {server} returned an unexpected error: ({s}) {}. The owner of the email server profile {p} has been notified. The system will try to {} again later.", http_reason(s), w.verb),
        ),
        // The server's own words go to the details, not into the text the knowledge
        // base reads: whatever a server says must not pass for another error.
        FailureKind::Protocol | FailureKind::Rejected => (
            codes::UNKNOWN,
            None,
            format!("{subject} for the mailbox {m} because the email server {server} gave an unexpected answer while {}. The owner of the email server profile {p} has been notified. The system will try to {} again later.", w.doing, w.verb),
        ),
    };
    let c = classify(&Evidence {
        error_type: None,
        text: &text,
        http_status: http,
        error_code: None,
    });
    // An error no entry knows is retried: the product treats the unknown as transient.
    let nature = match c.nature {
        Nature::Unknown => Nature::Transient,
        n => n,
    };
    let scope = match c.scope {
        Scope::Unknown => Scope::Profile,
        s => s,
    };
    let error_type = match (tracecode, scope) {
        (codes::UNKNOWN, _) => format!("Unknown{}IntegrationError", w.kind),
        (_, Scope::Mailbox) => format!("{}MailboxError", w.kind),
        _ => format!("{}ServerServiceError", w.kind),
    };
    let details = if failure.message.is_empty() {
        server
    } else {
        format!("{server}: {}", failure.message)
    };
    SyncError {
        direction: dir,
        error_type,
        tracecode,
        code: http.map_or(tracecode, i64::from),
        text,
        details,
        nature,
        scope,
        rule: c.rule.map(|r| r.into_owned()),
    }
}

/// The reason phrase of an HTTP status, as .NET's WebException words it.
fn http_reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        505 => "HTTP Version Not Supported",
        507 => "Insufficient Storage",
        s if s >= 500 => "Server Error",
        s if s >= 400 => "Client Error",
        _ => "Unexpected Answer",
    }
}

/// An email the outgoing server would not take (email level: only that email fails).
pub fn recipient_refused(subject: &str, mailbox: &Mailbox, message: &str) -> SyncError {
    let text = format!(
        "The email message \"{subject}\" could not be sent from the mailbox {}: the email server refused the recipient ({message}). Other email is not affected.",
        mailbox.name
    );
    let c = classify(&Evidence {
        error_type: None,
        text: &text,
        http_status: None,
        error_code: None,
    });
    SyncError {
        direction: Direction::Outgoing,
        error_type: "OutgoingEmailDeliveryError".to_string(),
        tracecode: codes::RECIPIENT_REFUSED,
        code: codes::RECIPIENT_REFUSED,
        details: message.to_string(),
        text,
        nature: c.nature,
        scope: Scope::Email,
        rule: c.rule.map(|r| r.into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Connection;

    /// Every kind of failure, in every direction, with any HTTP status, is one the
    /// knowledge base knows: the engine never writes an error the analyzer cannot
    /// explain.
    #[test]
    fn every_failure_kind_has_a_knowledge_base_rule() {
        let mut kinds = vec![
            FailureKind::Dns,
            FailureKind::LocationUnknown,
            FailureKind::Refused,
            FailureKind::Timeout,
            FailureKind::Tls,
            FailureKind::Auth,
            FailureKind::NoCredentials,
            FailureKind::Protocol,
            FailureKind::Closed,
            FailureKind::Deferred,
            FailureKind::Rejected,
            FailureKind::NotApproved,
            FailureKind::NotApprovedByO365Admin,
            FailureKind::OtherOrganization,
        ];
        kinds.extend((100..=599).map(FailureKind::Http));
        for kind in kinds {
            for dir in [Direction::Incoming, Direction::Outgoing, Direction::Act] {
                for retrieval in [0, 1, 2] {
                    let e = err(kind, dir, retrieval);
                    let rule = e
                        .rule
                        .as_deref()
                        .unwrap_or_else(|| panic!("{kind:?} {dir:?}: no rule for {}", e.text));
                    let entry = crate::kb::by_id(rule).unwrap();
                    assert_eq!((e.nature, e.scope), (entry.nature, entry.scope), "{kind:?}");
                    assert!(
                        matches!(e.nature, Nature::Transient | Nature::Permanent),
                        "{kind:?}"
                    );
                }
            }
        }
    }

    fn profile(retrieval: i32) -> Profile {
        Profile {
            id: "p".into(),
            name: "IMAP/SMTP (test)".into(),
            server_type: Some(4),
            incoming: Connection {
                credential_retrieval: Some(retrieval),
                ..Default::default()
            },
            use_same_settings_for_outgoing: true,
            ..Default::default()
        }
    }

    fn mailbox() -> Mailbox {
        Mailbox {
            name: "Alice Example".into(),
            ..Default::default()
        }
    }

    fn err(kind: FailureKind, dir: Direction, retrieval: i32) -> SyncError {
        let f = ConnectionFailure {
            kind,
            server: "imap.example.test:993".into(),
            message: "the server's own words".into(),
        };
        describe(dir, &f, &mailbox(), &profile(retrieval))
    }

    #[test]
    fn trace_codes_follow_the_seed_and_throttling_has_its_own() {
        let act_503 = err(FailureKind::Http(503), Direction::Act, 0);
        assert_eq!(act_503.tracecode, 126, "seed 003: ACT's 503");
        assert_eq!(act_503.error_type, "ExchangeSyncServerServiceError");
        assert_eq!(
            err(FailureKind::Http(503), Direction::Incoming, 0).tracecode,
            codes::SERVER_UNAVAILABLE
        );
        for dir in [Direction::Incoming, Direction::Outgoing, Direction::Act] {
            let busy = err(FailureKind::Http(429), dir, 0);
            assert_eq!(busy.tracecode, codes::SERVER_BUSY);
            assert_ne!(busy.tracecode, 126);
            assert_eq!(busy.rule.as_deref(), Some("exchange-server-busy"));
        }
        // A name that does not resolve is retried; Autodiscover finding nothing is not.
        assert_eq!(
            err(FailureKind::Dns, Direction::Incoming, 0).nature,
            Nature::Transient
        );
        assert_eq!(
            err(FailureKind::LocationUnknown, Direction::Incoming, 0).nature,
            Nature::Permanent
        );
    }

    /// Every failure the engine can meet is one the knowledge base knows, with the
    /// nature and scope the reference gives it.
    #[test]
    fn failures_classify_as_their_knowledge_base_entries() {
        let cases = [
            (
                FailureKind::Tls,
                Direction::Incoming,
                0,
                "secure-connection",
                Nature::Permanent,
                Scope::Profile,
            ),
            (
                FailureKind::Tls,
                Direction::Act,
                0,
                "secure-connection-act",
                Nature::Permanent,
                Scope::Profile,
            ),
            (
                FailureKind::LocationUnknown,
                Direction::Outgoing,
                0,
                "mailbox-location-undetermined",
                Nature::Permanent,
                Scope::Profile,
            ),
            // A name that does not resolve is a network error: retried.
            (
                FailureKind::Dns,
                Direction::Incoming,
                0,
                "email-server-unreachable",
                Nature::Transient,
                Scope::Profile,
            ),
            (
                FailureKind::Refused,
                Direction::Incoming,
                0,
                "email-server-unreachable",
                Nature::Transient,
                Scope::Profile,
            ),
            (
                FailureKind::Timeout,
                Direction::Outgoing,
                0,
                "email-server-unreachable",
                Nature::Transient,
                Scope::Profile,
            ),
            (
                FailureKind::Auth,
                Direction::Incoming,
                0,
                "credentials-mailbox",
                Nature::Permanent,
                Scope::Mailbox,
            ),
            (
                FailureKind::NoCredentials,
                Direction::Incoming,
                0,
                "credentials-mailbox",
                Nature::Permanent,
                Scope::Mailbox,
            ),
            (
                FailureKind::Auth,
                Direction::Outgoing,
                1,
                "credentials-profile",
                Nature::Permanent,
                Scope::Profile,
            ),
            (
                FailureKind::Http(401),
                Direction::Incoming,
                1,
                "credentials-profile",
                Nature::Permanent,
                Scope::Profile,
            ),
            (
                FailureKind::Http(503),
                Direction::Incoming,
                0,
                "exchange-server-unavailable",
                Nature::Transient,
                Scope::Profile,
            ),
            (
                FailureKind::Http(429),
                Direction::Act,
                0,
                "exchange-server-busy",
                Nature::Transient,
                Scope::Profile,
            ),
            (
                FailureKind::NotApproved,
                Direction::Incoming,
                0,
                "email-address-not-approved",
                Nature::Permanent,
                Scope::Mailbox,
            ),
            (
                FailureKind::NotApprovedByO365Admin,
                Direction::Outgoing,
                2,
                "o365-admin-approval",
                Nature::Permanent,
                Scope::Mailbox,
            ),
        ];
        for (kind, dir, retrieval, rule, nature, scope) in cases {
            let e = err(kind, dir, retrieval);
            assert_eq!(
                e.rule.as_deref(),
                Some(rule),
                "{kind:?} {dir:?}: {}",
                e.text
            );
            assert_eq!((e.nature, e.scope), (nature, scope), "{kind:?}");
            assert!(e.details.contains("the server's own words"));
        }
        let unknown = err(FailureKind::Protocol, Direction::Incoming, 0);
        assert_eq!(
            unknown.rule.as_deref(),
            Some("email-server-unexpected-answer")
        );
        assert_eq!(unknown.nature, Nature::Transient);
        assert_eq!(unknown.error_type, "UnknownIncomingEmailIntegrationError");
        assert!(!unknown.text.contains("the server's own words"));
        assert_eq!(
            err(FailureKind::Auth, Direction::Incoming, 0).error_type,
            "IncomingEmailMailboxError"
        );
        assert_eq!(
            err(FailureKind::Tls, Direction::Outgoing, 0).error_type,
            "OutgoingEmailServerServiceError"
        );
        assert_eq!(
            err(FailureKind::Http(503), Direction::Incoming, 0).code,
            503
        );
        assert_eq!(
            err(FailureKind::Tls, Direction::Incoming, 0).code,
            codes::SECURE_CONNECTION
        );
        for (status, rule, nature, scope) in [
            (
                403,
                "email-server-access-denied",
                Nature::Permanent,
                Scope::Mailbox,
            ),
            (
                404,
                "email-server-not-found",
                Nature::Permanent,
                Scope::Profile,
            ),
            (
                500,
                "email-server-http-error",
                Nature::Transient,
                Scope::Profile,
            ),
        ] {
            let e = err(FailureKind::Http(status), Direction::Act, 0);
            assert_eq!(e.rule.as_deref(), Some(rule), "{status}: {}", e.text);
            assert_eq!(
                (e.nature, e.scope, e.code),
                (nature, scope, i64::from(status))
            );
        }
        let r = recipient_refused("Quote", &mailbox(), "550 5.1.1 unknown user");
        assert_eq!(
            (r.rule.as_deref(), r.scope),
            (Some("recipient-refused"), Scope::Email)
        );
    }
}
