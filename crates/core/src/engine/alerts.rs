//! Which alerts (`tracelog` records) a pass writes and on which record, as seeds 000
//! and 001 describe: an email-level error on the email; a mailbox-level error on the
//! mailbox (its owner's wall and the mailbox form); a profile-level error on the email
//! server profile (its owner's wall and the profile form) and, when System Settings'
//! "Notify mailbox owner" is on, an Information alert needing no action on each
//! affected mailbox. Transient errors are Warnings, permanent ones Errors. Nothing of a
//! level is written while its System Settings toggle is off.

use super::cycle::Event;
use super::failure::codes;
use super::{Mailbox, OrgSettings, Profile};
use crate::report::{Direction, Scope};

/// The record an alert is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum On {
    Mailbox,
    Profile,
    /// An email activity, by id.
    Email(String),
}

/// The `level` option values.
pub mod level {
    pub const INFORMATION: i64 = 1;
    pub const WARNING: i64 = 2;
    pub const ERROR: i64 = 3;
}

/// One alert to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub on: On,
    pub level: i64,
    pub tracecode: i64,
    pub error_type: String,
    pub text: String,
    pub details: String,
}

fn allowed(org: &OrgSettings, level: i64) -> bool {
    match level {
        level::ERROR => org.alerts_for_errors,
        level::WARNING => org.alerts_for_warnings,
        _ => org.alerts_for_information,
    }
}

fn direction_words(dirs: &[Direction]) -> String {
    let words: Vec<&str> = dirs
        .iter()
        .map(|d| match d {
            Direction::Incoming => "incoming email",
            Direction::Outgoing => "outgoing email",
            Direction::Act => "appointments, contacts, and tasks",
        })
        .collect();
    words.join(", ")
}

const LOGGED: &str = "Logged ";
const TIMES: &str = " times.";

/// How many times the alert with these `errordetails` was logged (its last line says
/// when more than once).
pub fn occurrences(details: &str) -> i64 {
    details
        .lines()
        .last()
        .and_then(|l| l.strip_prefix(LOGGED)?.strip_suffix(TIMES)?.parse().ok())
        .unwrap_or(1)
}

/// `details` saying the alert was logged `n` times (the last line; none for once).
pub fn with_occurrences(details: &str, n: i64) -> String {
    let base = match details.rsplit_once('\n') {
        Some((head, last)) if last.starts_with(LOGGED) && last.ends_with(TIMES) => head,
        _ if details.starts_with(LOGGED) && details.ends_with(TIMES) => "",
        _ => details,
    };
    match (n > 1, base.is_empty()) {
        (false, _) => base.to_string(),
        (true, true) => format!("{LOGGED}{n}{TIMES}"),
        (true, false) => format!("{base}\n{LOGGED}{n}{TIMES}"),
    }
}

/// Whether an error's text tells that the owner of the (associated) email server
/// profile has been notified.
fn says_profile_owner_notified(text: &str) -> bool {
    (text.contains("owner of the associated email server profile")
        || text.contains("owner of the email server profile"))
        && text.contains("has been notified")
}

/// The alerts of `events`, for `mailbox` on `profile`; `email` names the email an
/// email-level error is about. The same alert twice in one pass (the same error on two
/// directions) is written once.
pub fn plan(
    events: &[Event],
    mailbox: &Mailbox,
    profile: &Profile,
    org: &OrgSettings,
    email: Option<&str>,
) -> Vec<Alert> {
    let mut out: Vec<Alert> = Vec::new();
    let mut push = |a: Alert| {
        let dup = out
            .iter()
            .any(|o| o.on == a.on && o.tracecode == a.tracecode && o.level == a.level);
        if allowed(org, a.level) && !dup {
            out.push(a);
        }
    };
    for event in events {
        match event {
            Event::Error { error, permanent } => {
                let lvl = if *permanent {
                    level::ERROR
                } else {
                    level::WARNING
                };
                let on = match (error.scope, email) {
                    (Scope::Email, Some(id)) => On::Email(id.to_string()),
                    (Scope::Profile, _) => On::Profile,
                    _ => On::Mailbox,
                };
                let is_profile = on == On::Profile;
                // A mailbox's error whose text says the profile's owner was notified
                // (the approval errors) is written where it says too: on the profile,
                // its owner's wall.
                let also_profile = on == On::Mailbox && says_profile_owner_notified(&error.text);
                push(Alert {
                    on,
                    level: lvl,
                    tracecode: error.tracecode,
                    error_type: error.error_type.clone(),
                    text: error.text.clone(),
                    details: error.details.clone(),
                });
                if also_profile && !profile.id.is_empty() {
                    push(Alert {
                        on: On::Profile,
                        level: lvl,
                        tracecode: error.tracecode,
                        error_type: error.error_type.clone(),
                        text: error.text.clone(),
                        details: error.details.clone(),
                    });
                }
                if is_profile && org.notify_mailbox_owner {
                    push(Alert {
                        on: On::Mailbox,
                        level: level::INFORMATION,
                        tracecode: codes::PROFILE_ERROR_NOTICE,
                        error_type: error.error_type.clone(),
                        text: format!(
                            "The email server profile {} has an error that affects the mailbox {}: {} The owner of the email server profile has been notified; no action is required from you.",
                            profile.name, mailbox.name, crate::words::sentence(&error.text)
                        ),
                        details: error.details.clone(),
                    });
                }
            }
            Event::Tested { passed, failed } if !passed.is_empty() => {
                let mut text = format!(
                    "The mailbox {} was tested and enabled for {}.",
                    mailbox.name,
                    direction_words(passed)
                );
                if !failed.is_empty() {
                    text.push_str(&format!(
                        " The test failed for {}; see the error alerts.",
                        direction_words(failed)
                    ));
                }
                push(Alert {
                    on: On::Mailbox,
                    level: level::INFORMATION,
                    tracecode: codes::TEST_COMPLETED,
                    error_type: String::new(),
                    text,
                    details: String::new(),
                });
            }
            Event::Tested { .. } => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::failure::{describe, recipient_refused};
    use crate::engine::{ConnectionFailure, FailureKind};

    fn error(kind: FailureKind, permanent: bool) -> Event {
        let f = ConnectionFailure {
            kind,
            server: "mail.example.test:993".into(),
            message: "words".into(),
        };
        Event::Error {
            error: describe(Direction::Incoming, &f, &mailbox(), &profile()),
            permanent,
        }
    }

    fn mailbox() -> Mailbox {
        Mailbox {
            name: "Alice".into(),
            ..Default::default()
        }
    }

    fn profile() -> Profile {
        Profile {
            name: "IMAP".into(),
            ..Default::default()
        }
    }

    #[test]
    fn occurrences_are_counted_in_the_details() {
        assert_eq!(occurrences("host: refused"), 1);
        let twice = with_occurrences("host: refused", 2);
        assert_eq!(twice, "host: refused\nLogged 2 times.");
        assert_eq!(occurrences(&twice), 2);
        let thrice = with_occurrences(&twice, 3);
        assert_eq!(thrice, "host: refused\nLogged 3 times.");
        assert_eq!(with_occurrences("", 2), "Logged 2 times.");
        assert_eq!(occurrences(&with_occurrences("", 7)), 7);
        assert_eq!(with_occurrences("x", 1), "x");
    }

    #[test]
    fn each_scope_lands_on_its_record() {
        let org = OrgSettings::default();
        let a = plan(
            &[error(FailureKind::Auth, true)],
            &mailbox(),
            &profile(),
            &org,
            None,
        );
        assert_eq!(
            (a.len(), &a[0].on, a[0].level),
            (1, &On::Mailbox, level::ERROR)
        );
        let a = plan(
            &[error(FailureKind::Refused, false)],
            &mailbox(),
            &profile(),
            &org,
            None,
        );
        assert_eq!(
            (a.len(), &a[0].on, a[0].level),
            (1, &On::Profile, level::WARNING)
        );
        let email = Event::Error {
            error: recipient_refused("Hello", &mailbox(), "550 no such user"),
            permanent: true,
        };
        let a = plan(&[email], &mailbox(), &profile(), &org, Some("e1"));
        assert_eq!(a[0].on, On::Email("e1".into()));
    }

    #[test]
    fn an_approval_error_reaches_the_profile_owner_as_its_text_says() {
        let org = OrgSettings::default();
        let p = Profile {
            id: "p1".into(),
            ..profile()
        };
        for kind in [
            FailureKind::NotApproved,
            FailureKind::NotApprovedByO365Admin,
        ] {
            let f = ConnectionFailure {
                kind,
                server: String::new(),
                message: String::new(),
            };
            let e = describe(Direction::Incoming, &f, &mailbox(), &p);
            assert!(e.text.contains("has been notified"), "{}", e.text);
            let a = plan(
                &[Event::Error {
                    error: e,
                    permanent: true,
                }],
                &mailbox(),
                &p,
                &org,
                None,
            );
            let on: Vec<&On> = a.iter().map(|a| &a.on).collect();
            assert_eq!(on, [&On::Mailbox, &On::Profile], "{kind:?}");
        }
        // A mailbox error that notifies nobody stays on the mailbox.
        let a = plan(
            &[error(FailureKind::Auth, true)],
            &mailbox(),
            &p,
            &org,
            None,
        );
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn profile_errors_inform_the_mailbox_owner_when_asked() {
        let org = OrgSettings {
            notify_mailbox_owner: true,
            ..Default::default()
        };
        let a = plan(
            &[error(FailureKind::Tls, true)],
            &mailbox(),
            &profile(),
            &org,
            None,
        );
        assert_eq!(a.len(), 2);
        assert_eq!((&a[1].on, a[1].level), (&On::Mailbox, level::INFORMATION));
        assert!(a[1].text.contains("no action is required"));
    }

    #[test]
    fn toggles_silence_their_level_and_duplicates_collapse() {
        let mut org = OrgSettings {
            alerts_for_warnings: false,
            ..Default::default()
        };
        let events = [
            error(FailureKind::Refused, false),
            error(FailureKind::Refused, false),
        ];
        assert!(plan(&events, &mailbox(), &profile(), &org, None).is_empty());
        org.alerts_for_warnings = true;
        assert_eq!(plan(&events, &mailbox(), &profile(), &org, None).len(), 1);
        org.alerts_for_information = false;
        let tested = Event::Tested {
            passed: vec![Direction::Incoming],
            failed: vec![],
        };
        assert!(plan(
            std::slice::from_ref(&tested),
            &mailbox(),
            &profile(),
            &org,
            None
        )
        .is_empty());
        org.alerts_for_information = true;
        let a = plan(&[tested], &mailbox(), &profile(), &org, None);
        assert_eq!(
            a[0].text,
            "The mailbox Alice was tested and enabled for incoming email."
        );
    }
}
