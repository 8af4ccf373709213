//! Classifies an error (a trace entry or the last sync error) against the knowledge
//! base; what no entry matches gets a nature and scope inferred from the evidence.

use crate::kb::{Entry, ENTRIES};
use crate::report::{Classification, Direction, Nature, Scope};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use std::sync::OnceLock;

/// What is known about one error.
#[derive(Debug, Clone, Copy, Default)]
pub struct Evidence<'a> {
    /// `errortypedisplay`, e.g. `IncomingEmailServerServiceError`.
    pub error_type: Option<&'a str>,
    /// Alert text or error details.
    pub text: &'a str,
    pub http_status: Option<u16>,
    pub error_code: Option<i64>,
}

struct Matcher {
    automaton: AhoCorasick,
    /// Pattern index to entry index.
    owner: Vec<usize>,
}

fn matcher() -> &'static Matcher {
    static M: OnceLock<Matcher> = OnceLock::new();
    M.get_or_init(|| {
        let mut patterns = Vec::new();
        let mut owner = Vec::new();
        for (i, e) in ENTRIES.iter().enumerate() {
            for p in e.phrases {
                patterns.push(*p);
                owner.push(i);
            }
        }
        let automaton = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostFirst)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .expect("knowledge-base phrases form a valid automaton");
        Matcher { automaton, owner }
    })
}

/// The first knowledge-base entry that matches, if any.
pub fn lookup(ev: &Evidence) -> Option<&'static Entry> {
    let m = matcher();
    let mut best = usize::MAX;
    let mut scan = |s: &str| {
        for hit in m.automaton.find_iter(s) {
            best = best.min(m.owner[hit.pattern().as_usize()]);
        }
    };
    scan(ev.text);
    if let Some(t) = ev.error_type {
        scan(t);
    }
    for (i, e) in ENTRIES.iter().enumerate().take(best.min(ENTRIES.len())) {
        let code_hit = ev.error_code.is_some_and(|c| e.codes.contains(&c));
        let http_hit = ev.http_status.is_some_and(|h| e.http.contains(&h));
        if code_hit || http_hit {
            best = i;
            break;
        }
    }
    ENTRIES.get(best)
}

/// The OData `$filter` selecting the records whose `column` text [`lookup`] (reading the
/// text alone, by phrase) classifies as `entry` (an entry id; `None`: recognized by no
/// entry): one of the entry's phrases and none of an earlier entry's, since the first
/// entry that matches wins. Phrases compare case-insensitively, as `contains` does in
/// Dataverse. So a number shown for an entry opens exactly its records.
pub fn text_filter(entry: Option<&str>, column: &str) -> String {
    let any = |entries: &[Entry]| -> Option<String> {
        let parts: Vec<String> = entries
            .iter()
            .flat_map(|e| e.phrases.iter())
            .map(|p| format!("contains({column},'{}')", p.replace('\'', "''")))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" or "))
    };
    match entry.and_then(|id| ENTRIES.iter().position(|e| e.id == id)) {
        Some(i) => {
            let own = any(&ENTRIES[i..=i]).unwrap_or_else(|| "false".into());
            match any(&ENTRIES[..i]) {
                Some(earlier) => format!("({own}) and not ({earlier})"),
                None => format!("({own})"),
            }
        }
        None => match any(ENTRIES) {
            Some(all) => format!("({column} eq null or not ({all}))"),
            None => "true".into(),
        },
    }
}

pub fn classify(ev: &Evidence) -> Classification {
    let direction = direction_of(ev.error_type);
    if let Some(e) = lookup(ev) {
        return Classification {
            nature: e.nature,
            // An entry that holds for every level leaves it to the evidence.
            scope: match e.scope {
                Scope::Unknown => scope_of(ev),
                s => s,
            },
            direction: e.direction.or(direction),
            rule: Some(e.id.into()),
            inferred: false,
            title: e.title.into(),
            cause: e.cause.into(),
            resolution: e.resolution.iter().map(|s| (*s).into()).collect(),
            source: Some(e.source.into()),
        };
    }
    infer(ev, direction)
}

fn has(text: &str, words: &[&str]) -> bool {
    words
        .iter()
        .any(|w| crate::extract::find_ci(text, w).is_some())
}

const TRANSIENT_WORDS: &[&str] = &[
    "timed out",
    "timeout",
    "try again later",
    "temporarily",
    "temporary",
    "connection was closed",
    "connection reset",
    "connection refused",
    "no connection could be made",
    "unable to connect",
    "could not connect",
    "name resolution",
    "network",
    "busy",
];
const PERMANENT_WORDS: &[&str] = &[
    "unauthorized",
    "forbidden",
    "access denied",
    "access is denied",
    "bad credentials",
    "wrong password",
    "incorrect password",
    "not approved",
    "unapproved",
    "has been disabled",
    "not supported",
    "unsupported",
];

/// Nature and scope from the evidence alone, marked as inferred.
fn infer(ev: &Evidence, direction: Option<Direction>) -> Classification {
    let transient_status = ev
        .http_status
        .is_some_and(|s| s >= 500 || s == 408 || s == 429);
    let permanent_status = ev.http_status.is_some_and(|s| s == 401 || s == 403);
    let nature = if permanent_status || (!transient_status && has(ev.text, PERMANENT_WORDS)) {
        Nature::Permanent
    } else if transient_status || has(ev.text, TRANSIENT_WORDS) {
        Nature::Transient
    } else {
        Nature::Unknown
    };
    let scope = scope_of(ev);
    let title: crate::report::Text = match (ev.error_type, nature) {
        (Some(t), _) => t.to_string().into(),
        (None, Nature::Transient) => "Transient error".into(),
        (None, Nature::Permanent) => "Permanent error".into(),
        (None, Nature::Prompt) => "Decision needed".into(),
        (None, Nature::Unknown) => "Unrecognized error".into(),
    };
    let cause = match nature {
        Nature::Transient => "Not in the knowledge base. The evidence (a timeout, a server error or a request to try again) suggests a temporary condition.",
        Nature::Permanent => "Not in the knowledge base. The evidence (refused credentials or access, or a disabled or unapproved mailbox) suggests it needs a corrective action.",
        Nature::Prompt | Nature::Unknown => "Not in the knowledge base, and the text gives no clear sign whether it is temporary.",
    };
    let resolution = match nature {
        Nature::Transient => vec!["Transient errors are retried up to 10 times, 5 minutes apart; watch whether the error count keeps growing.".into()],
        Nature::Permanent => vec!["Fix the cause named in the error text (credentials, permissions, approval).".into(), "Then Test & Enable the mailbox.".into()],
        Nature::Prompt | Nature::Unknown => vec!["Use the MailboxId and ActivityId to correlate with server-side telemetry.".into()],
    };
    Classification {
        nature,
        scope,
        direction,
        rule: None,
        inferred: true,
        title,
        cause: cause.into(),
        resolution,
        source: None,
    }
}

/// The level an error is about, from its error type and words.
fn scope_of(ev: &Evidence) -> Scope {
    let error_type = ev.error_type.unwrap_or("");
    if has(error_type, &["serverservice", "profile"]) || has(ev.text, &["email server profile"]) {
        Scope::Profile
    } else if has(ev.text, &["the email message", "this email"]) {
        Scope::Email
    } else if has(error_type, &["mailbox"]) || has(ev.text, &["the mailbox", "credentials"]) {
        Scope::Mailbox
    } else {
        Scope::Unknown
    }
}

/// The direction an error type names, e.g. `IncomingEmailServerServiceError`.
pub fn direction_of(error_type: Option<&str>) -> Option<Direction> {
    let t = error_type?;
    if has(t, &["incoming", "receiv"]) {
        Some(Direction::Incoming)
    } else if has(t, &["outgoing", "send"]) {
        Some(Direction::Outgoing)
    } else if has(
        t,
        &["exchangesync", "appointment", "contact", "task", "act"],
    ) {
        Some(Direction::Act)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use crate::odata::parse_filter;

    #[test]
    fn text_filters_select_what_lookup_classifies() {
        // Every filter parses, and names the entry's phrases before excluding earlier ones.
        for e in ENTRIES {
            let f = text_filter(Some(e.id), "lastsyncerror");
            assert!(
                parse_filter(&f, &crate::model::MAILBOX).is_ok(),
                "{}: {f}",
                e.id
            );
            if let Some(p) = e.phrases.first() {
                assert!(
                    f.starts_with(&format!(
                        "(contains(lastsyncerror,'{}')",
                        p.replace('\'', "''")
                    )),
                    "{f}"
                );
            }
        }
        let unknown = text_filter(None, "lastsyncerror");
        assert!(unknown.starts_with("(lastsyncerror eq null or not ("));
        assert!(parse_filter(&unknown, &crate::model::MAILBOX).is_ok());
        // The first entry excludes nothing; a later one excludes the earlier phrases.
        assert!(!text_filter(Some(ENTRIES[0].id), "x").contains("not"));
        let second = text_filter(Some("secure-connection"), "lastsyncerror");
        assert!(second.contains("and not (contains(lastsyncerror,'disabled for synchronizing"));
        // Short enough for a URL (Dataverse takes 32 KB) even encoded.
        assert!(unknown.len() < 12_000, "{}", unknown.len());
    }
    use super::*;

    fn rule(text: &str) -> Option<crate::report::Text> {
        classify(&Evidence {
            text,
            ..Default::default()
        })
        .rule
    }

    #[test]
    fn seed_alerts_match_their_entries() {
        let cases = [
            ("The mailbox has been disabled for synchronizing appointments, contacts, and tasks for the mailbox because an error occurred while establishing a secure connection to the Exchange server.", "secure-connection-act"),
            ("Email cannot be received for the mailbox because an error occurred while establishing a secure connection to the email server.", "secure-connection"),
            ("Email cannot be sent because the email address of the mailbox Ann requires an approval by an Office 365 administrator.", "o365-admin-approval"),
            ("Email cannot be received for the mailbox Ann because the email address of the mailbox Ann is not approved and the mailbox has been disabled.", "email-address-not-approved"),
            ("The mailbox location could not be determined while sending the email message Hello.", "mailbox-location-undetermined"),
            ("Email cannot be sent because the credentials specified in the associated email server profile are incorrect or have insufficient permissions for sending email.", "credentials-profile"),
            ("Appointments can't be synchronized because the Organizer field is not present.", "organizer-field-missing"),
            ("Appointments, contacts, and tasks can't be synchronized because the email address of the mailbox Ann is configured with another Microsoft Dynamics 365 organization.", "act-other-organization-primary"),
            ("Email cannot be received for the mailbox Ann. Make sure that the credentials specified in the mailbox are correct and have sufficient permissions for receiving email.", "gmail-receive-credentials"),
            ("An unknown error occurred while sending the email message \"Test Message\".", "gmail-unknown-send-error"),
            ("Exchange server returned UnknownIncomingEmailIntegrationError -2147220956 exception.", "isv-unexpected"),
            ("The email has Pending Send status", "pending-send"),
        ];
        for (text, want) in cases {
            assert_eq!(rule(text).as_deref(), Some(want), "{text}");
        }
    }

    #[test]
    fn codes_and_status_match_without_text() {
        let c = classify(&Evidence {
            text: "boom",
            error_code: Some(-2_147_220_956),
            ..Default::default()
        });
        assert_eq!(c.rule.as_deref(), Some("isv-unexpected"));
        let c = classify(&Evidence {
            text: "boom",
            http_status: Some(503),
            error_type: Some("IncomingEmailServerServiceError"),
            ..Default::default()
        });
        assert_eq!(c.rule.as_deref(), Some("exchange-server-unavailable"));
        assert_eq!(c.direction, Some(Direction::Incoming));
    }

    #[test]
    fn inference_when_unknown() {
        let c = classify(&Evidence {
            text: "Connection reset while reading the answer",
            ..Default::default()
        });
        assert!(c.inferred);
        assert_eq!(c.nature, Nature::Transient);
        let c = classify(&Evidence {
            text: "Request forbidden",
            http_status: Some(403),
            error_type: Some("MailboxError"),
            ..Default::default()
        });
        assert_eq!((c.nature, c.scope), (Nature::Permanent, Scope::Mailbox));
        let c = classify(&Evidence {
            text: "something odd",
            ..Default::default()
        });
        assert_eq!(
            (c.nature, c.scope, c.inferred),
            (Nature::Unknown, Scope::Unknown, true)
        );
    }

    #[test]
    fn timeouts_are_known_and_take_their_level_from_the_error_type() {
        let c = classify(&Evidence {
            error_type: Some("OutgoingEmailMailboxError"),
            text: ">Error : The operation has timed out while contacting smtp.contoso.com",
            ..Default::default()
        });
        assert_eq!(c.rule.as_deref(), Some("email-server-timeout"));
        assert!(!c.inferred);
        assert_eq!(
            (c.nature, c.scope, c.direction),
            (Nature::Transient, Scope::Mailbox, Some(Direction::Outgoing))
        );
        let c = classify(&Evidence {
            error_type: Some("ExchangeSyncServerServiceError"),
            text: "The request timed out.",
            ..Default::default()
        });
        assert_eq!(
            (c.rule.as_deref(), c.scope, c.direction),
            (
                Some("email-server-timeout"),
                Scope::Profile,
                Some(Direction::Act)
            )
        );
    }
}
