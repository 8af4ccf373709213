//! The dashboard's queries and figures, as plain functions (host unit tests): the
//! `$filter` behind each number (the same filter opens the records behind it), the
//! buckets of "due next", the grouping of failing mailboxes, the 24 hours of
//! statistics.

use std::collections::HashMap;

use mailsync_core::classify::{classify, Evidence};
use mailsync_core::Timestamp;
use serde::Deserialize;

/// Mailboxes by status: label, `$filter`.
pub const STATUSES: &[(&str, &str)] = &[
    (
        "Enabled",
        "statecode eq 0 and (enabledforincomingemail eq true or enabledforoutgoingemail eq true or enabledforact eq true)",
    ),
    (
        "Disabled",
        "statecode eq 0 and enabledforincomingemail eq false and enabledforoutgoingemail eq false and enabledforact eq false",
    ),
    ("Pending test", "testemailconfigurationscheduled eq true"),
    ("Failing", FAILING),
    ("Never tested", "testmailboxaccesscompletedon eq null"),
];

/// A mailbox whose last errors are still going on (the streak resets on success).
pub const FAILING: &str = "statecode eq 0 and lastsyncerrorcount gt 0";

/// Mailboxes the engine synchronizes: active, with a direction enabled, no test
/// pending (a pending test runs at its own time; "Pending test" counts them).
const SCHEDULED: &str = "statecode eq 0 and testemailconfigurationscheduled eq false and (enabledforincomingemail eq true or enabledforoutgoingemail eq true or enabledforact eq true)";

/// "When mailboxes are due next": label and `$filter`, relative to `now`.
pub fn due_buckets(now: Timestamp) -> Vec<(&'static str, String)> {
    let at = |mins: i64| Timestamp(now.0 + mins * 60).to_rfc3339();
    let next = "postponemailboxprocessinguntil";
    vec![
        (
            "Due now or overdue",
            format!("{SCHEDULED} and ({next} eq null or {next} le {})", at(0)),
        ),
        (
            "In 5 minutes",
            format!(
                "{SCHEDULED} and {next} gt {} and {next} le {}",
                at(0),
                at(5)
            ),
        ),
        (
            "In 5 to 15 minutes",
            format!(
                "{SCHEDULED} and {next} gt {} and {next} le {}",
                at(5),
                at(15)
            ),
        ),
        (
            "In 15 to 60 minutes",
            format!(
                "{SCHEDULED} and {next} gt {} and {next} le {}",
                at(15),
                at(60)
            ),
        ),
        ("Later", format!("{SCHEDULED} and {next} gt {}", at(60))),
    ]
}

/// The Mailboxes grid showing the mailboxes of `filter`.
pub fn mailboxes_href(filter: &str, label: &str) -> String {
    use crate::api::encode;
    format!(
        "/mailboxes?view=all&f={}&fl={}",
        encode(filter),
        encode(label)
    )
}

/// The alerts wall of the alerts last logged in the hour starting at `start`.
pub fn alerts_href(start: Timestamp) -> String {
    format!(
        "/alerts?from={}&to={}",
        start.to_rfc3339(),
        Timestamp(start.0 + 3600).to_rfc3339()
    )
}

/// A failing mailbox as the dashboard reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct Failing {
    #[serde(default)]
    pub lastsyncerrorcode: Option<i64>,
    #[serde(default)]
    pub lastsyncerror: Option<String>,
    #[serde(default, rename = "_emailserverprofile_value")]
    pub profile: Option<String>,
}

/// One bar: its label, its number and the filter of the records behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub label: String,
    pub count: u64,
    pub filter: String,
}

/// Failing mailboxes by error: by error code, named by what the knowledge base calls
/// the error (its newest text otherwise), largest first.
pub fn by_error(rows: &[Failing]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<Option<i64>, usize> = HashMap::new();
    for r in rows {
        let i = *index.entry(r.lastsyncerrorcode).or_insert_with(|| {
            let text = r.lastsyncerror.clone().unwrap_or_default();
            let c = classify(&Evidence {
                error_type: None,
                text: &text,
                http_status: None,
                error_code: None,
            });
            let label = if c.inferred {
                text
            } else {
                c.title.to_string()
            };
            let filter = match r.lastsyncerrorcode {
                Some(code) => format!("{FAILING} and lastsyncerrorcode eq {code}"),
                None => format!("{FAILING} and lastsyncerrorcode eq null"),
            };
            groups.push(Group {
                label,
                count: 0,
                filter,
            });
            groups.len() - 1
        });
        groups[i].count += 1;
    }
    sort_groups(&mut groups);
    groups
}

/// Largest first, then by label.
pub fn sort_groups(groups: &mut [Group]) {
    groups.sort_by(|a, b| b.count.cmp(&a.count).then(a.label.cmp(&b.label)));
}

fn profile_group(id: Option<&str>, names: &HashMap<String, String>, count: u64) -> Group {
    match id {
        Some(id) => Group {
            label: names.get(id).cloned().unwrap_or_else(|| id.to_string()),
            count,
            filter: format!("{FAILING} and _emailserverprofile_value eq {id}"),
        },
        None => Group {
            label: "(no profile)".into(),
            count,
            filter: format!("{FAILING} and _emailserverprofile_value eq null"),
        },
    }
}

/// A group for every profile and one for mailboxes without a profile, uncounted.
pub fn every_profile(names: &HashMap<String, String>) -> Vec<Group> {
    names
        .keys()
        .map(|id| profile_group(Some(id), names, 0))
        .chain([profile_group(None, names, 0)])
        .collect()
}

/// Failing mailboxes by profile (`names`: profile id → name), largest first.
pub fn by_profile(rows: &[Failing], names: &HashMap<String, String>) -> Vec<Group> {
    let mut counts: HashMap<Option<String>, u64> = HashMap::new();
    for r in rows {
        *counts.entry(r.profile.clone()).or_default() += 1;
    }
    let mut groups: Vec<Group> = counts
        .into_iter()
        .map(|(id, count)| profile_group(id.as_deref(), names, count))
        .collect();
    sort_groups(&mut groups);
    groups
}

/// One hour of `mailsync_syncstatistics` (one record per hour and profile).
#[derive(Debug, Clone, Deserialize)]
pub struct Statistic {
    pub mailsync_hour: String,
    #[serde(default)]
    pub mailsync_cycles: i64,
    #[serde(default)]
    pub mailsync_failures: i64,
    #[serde(default)]
    pub mailsync_tests: i64,
    #[serde(default)]
    pub mailsync_testfailures: i64,
}

/// An hour of the chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hour {
    pub start: Timestamp,
    /// Sync cycles and Test & Enable runs.
    pub passes: i64,
    pub failures: i64,
}

/// The last 24 hours up to `now`'s hour, oldest first, every profile summed.
pub fn hours(stats: &[Statistic], now: Timestamp) -> Vec<Hour> {
    let this_hour = now.0 - now.0.rem_euclid(3600);
    let mut out: Vec<Hour> = (0..24)
        .map(|i| Hour {
            start: Timestamp(this_hour - (23 - i) * 3600),
            passes: 0,
            failures: 0,
        })
        .collect();
    for s in stats {
        let Some(t) = Timestamp::parse(&s.mailsync_hour).map(|p| p.at) else {
            continue;
        };
        if let Some(h) = out.iter_mut().find(|h| h.start == t) {
            h.passes += s.mailsync_cycles + s.mailsync_tests;
            h.failures += s.mailsync_failures + s.mailsync_testfailures;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failing(code: Option<i64>, text: &str, profile: &str) -> Failing {
        Failing {
            lastsyncerrorcode: code,
            lastsyncerror: Some(text.into()),
            profile: Some(profile.into()),
        }
    }

    #[test]
    fn groups_failing_mailboxes_by_error_and_profile() {
        let rows = [
            failing(Some(31), "Email cannot be received for the mailbox A because an error occurred while establishing a secure connection to the email server.", "p1"),
            failing(Some(31), "Email cannot be received for the mailbox B because an error occurred while establishing a secure connection to the email server.", "p1"),
            failing(Some(9), "something odd", "p2"),
        ];
        let e = by_error(&rows);
        assert_eq!(e[0].label, "Error while establishing a secure connection");
        assert_eq!(e[0].count, 2);
        assert!(e[0].filter.ends_with("and lastsyncerrorcode eq 31"));
        assert_eq!(e[1].label, "something odd");
        let names = HashMap::from([("p1".to_string(), "IMAP".to_string())]);
        let p = by_profile(&rows, &names);
        assert_eq!((p[0].label.as_str(), p[0].count), ("IMAP", 2));
        assert_eq!(p[1].label, "p2");
        assert!(p[1].filter.ends_with("_emailserverprofile_value eq p2"));
        let all = every_profile(&names);
        assert_eq!(all.len(), 2);
        assert!(all
            .iter()
            .any(|g| g.label == "IMAP" && g.filter == p[0].filter));
        assert!(all
            .iter()
            .any(|g| g.filter.ends_with("_emailserverprofile_value eq null")));
    }

    #[test]
    fn hours_sum_the_profiles_and_cover_a_day() {
        let now = Timestamp(1_800_003_700);
        let hour = Timestamp(1_800_003_600).to_rfc3339();
        let stats = [
            Statistic {
                mailsync_hour: hour.clone(),
                mailsync_cycles: 3,
                mailsync_failures: 1,
                mailsync_tests: 1,
                mailsync_testfailures: 0,
            },
            Statistic {
                mailsync_hour: hour,
                mailsync_cycles: 2,
                mailsync_failures: 2,
                mailsync_tests: 0,
                mailsync_testfailures: 0,
            },
            Statistic {
                mailsync_hour: "2000-01-01T00:00:00Z".into(),
                mailsync_cycles: 9,
                mailsync_failures: 0,
                mailsync_tests: 0,
                mailsync_testfailures: 0,
            },
        ];
        let h = hours(&stats, now);
        assert_eq!(h.len(), 24);
        assert_eq!(
            h[23],
            Hour {
                start: Timestamp(1_800_003_600),
                passes: 6,
                failures: 3
            }
        );
        assert_eq!(h[0].start.0, 1_800_003_600 - 23 * 3600);
        assert_eq!(h.iter().map(|h| h.passes).sum::<i64>(), 6);
    }

    #[test]
    fn due_buckets_partition_time() {
        let b = due_buckets(Timestamp(0));
        assert_eq!(b.len(), 5);
        assert!(b[0]
            .1
            .contains("postponemailboxprocessinguntil le 1970-01-01T00:00:00Z"));
        assert!(b[4]
            .1
            .ends_with("postponemailboxprocessinguntil gt 1970-01-01T01:00:00Z"));
        assert!(mailboxes_href(FAILING, "Failing")
            .starts_with("/mailboxes?view=all&f=statecode%20eq%200"));
    }
}
