//! The dashboard's queries and figures, as plain functions (host unit tests): the
//! `$filter` behind each number (the same filter opens the records behind it), the
//! buckets of "due next", the grouping of failing mailboxes (from a sample, or from
//! `$apply` groups), the 24 hours of alerts (counted per hour: `$apply` cannot group
//! by date and time) and, where the organization has them, of engine statistics.

use std::collections::HashMap;

use mailsync_core::classify::Evidence;
use mailsync_core::Timestamp;
use serde::Deserialize;
use serde_json::Value;

use crate::api::Total;

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
    pub count: Total,
    pub filter: String,
}

/// What the knowledge base recognizes in a failing mailbox's error text (by phrase,
/// as core's `classify::text_filter` selects it): its entry, or none.
fn entry_of(text: Option<&str>) -> Option<&'static mailsync_core::kb::Entry> {
    mailsync_core::classify::lookup(&Evidence {
        error_type: None,
        text: text.unwrap_or_default(),
        http_status: None,
        error_code: None,
    })
}

/// A group of failing mailboxes: one knowledge-base entry (or none) and one code.
type ErrorKey = (Option<&'static str>, Option<i64>);

/// The records of a group: failing, with this code and an error the knowledge base
/// classifies as this entry, so the number opens exactly its mailboxes.
fn error_filter((entry, code): ErrorKey) -> String {
    let code = match code {
        Some(code) => format!("lastsyncerrorcode eq {code}"),
        None => "lastsyncerrorcode eq null".to_string(),
    };
    format!(
        "{FAILING} and {code} and {}",
        mailsync_core::classify::text_filter(entry, "lastsyncerror")
    )
}

/// A group's name: the entry's title (with the code when the entry comes with several
/// codes), or the code of an error the knowledge base does not know.
fn error_label((entry, code): ErrorKey, codes_of_entry: usize) -> String {
    let code_text = code.map_or("no error code".to_string(), |c| format!("code {c}"));
    match entry.and_then(|id| mailsync_core::kb::ENTRIES.iter().find(|e| e.id == id)) {
        Some(e) if codes_of_entry > 1 => format!("{} ({code_text})", e.title),
        Some(e) => e.title.to_string(),
        None => format!("Not in the knowledge base ({code_text})"),
    }
}

/// Groups (entry, code) with their counts, named and filtered.
fn error_groups(counted: Vec<(ErrorKey, Total)>) -> Vec<Group> {
    let codes_of = |entry: Option<&str>| counted.iter().filter(|((e, _), _)| *e == entry).count();
    let mut groups: Vec<Group> = counted
        .iter()
        .map(|&(key, count)| Group {
            label: error_label(key, codes_of(key.0)),
            count,
            filter: error_filter(key),
        })
        .collect();
    sort_groups(&mut groups);
    groups
}

/// The `$apply` grouping failing mailboxes by `key` (a column or lookup property).
pub fn failing_groups_query(key: &str) -> String {
    use crate::api::encode;
    format!(
        "/api/data/v9.2/mailboxes?$apply=filter({})/groupby(({key}),aggregate($count%20as%20count))",
        encode(FAILING)
    )
}

/// The rows of a `$apply` grouping by `key` as (key value, count); a null key is
/// absent from its row, as Dataverse writes it.
fn apply_rows<'a>(rows: &'a [Value], key: &str) -> impl Iterator<Item = (&'a Value, u64)> + 'a {
    let key = key.to_string();
    rows.iter().filter_map(move |r| {
        let n = r["count"].as_u64()?;
        Some((r.get(&key).unwrap_or(&Value::Null), n))
    })
}

/// Failing mailboxes by profile from `$apply` groups by `_emailserverprofile_value`.
pub fn profiles_from_groups(rows: &[Value], names: &HashMap<String, String>) -> Vec<Group> {
    let mut out: Vec<Group> = apply_rows(rows, "_emailserverprofile_value")
        .map(|(id, n)| profile_group(id.as_str(), names, Total::new(n, Some(false))))
        .collect();
    sort_groups(&mut out);
    out
}

/// Failing mailboxes by error: by what the knowledge base recognizes in each error
/// (its entry), by code within one entry, named by the entry, largest first. Never
/// named after one mailbox's text: mailboxes failing for different reasons under one
/// code are different groups.
pub fn by_error(rows: &[Failing]) -> Vec<Group> {
    error_groups(by_error_keys(rows))
}

/// Failing mailboxes by error over all of them, from `$apply` rows grouping them by
/// `lastsyncerrorcode` and the `sample` (the newest failures) naming the errors: a code
/// under which the sample found one entry is that entry's bar, counted and filtered by
/// its code (so its number is what its link opens); a code the sample did not meet is
/// "Error code N". A code under which the sample found several entries comes back
/// apart (second), one group per entry with its text filter, for the caller to count.
pub fn errors_over_all(rows: &[Value], sample: &[Failing]) -> (Vec<Group>, Vec<Group>) {
    let sampled = by_error_keys(sample);
    let mut exact: Vec<(ErrorKey, Total)> = Vec::new();
    let mut mixed: Vec<(ErrorKey, Total)> = Vec::new();
    for (code, n) in apply_rows(rows, "lastsyncerrorcode") {
        let code = code.as_i64();
        let entries: Vec<ErrorKey> = sampled
            .iter()
            .filter(|((_, c), _)| *c == code)
            .map(|(k, _)| *k)
            .collect();
        match entries.as_slice() {
            [one] => exact.push((*one, Total::new(n, Some(false)))),
            [] => exact.push(((Some(UNSAMPLED), code), Total::new(n, Some(false)))),
            several => mixed.extend(several.iter().map(|k| (*k, Total::default()))),
        }
    }
    let entry_codes = |entry: Option<&str>| {
        exact
            .iter()
            .chain(&mixed)
            .filter(|((e, _), _)| *e == entry)
            .count()
    };
    let group = |(key, count): &(ErrorKey, Total), code_only: bool| {
        let (entry, code) = *key;
        Group {
            label: match entry {
                Some(UNSAMPLED) => {
                    code.map_or("(no error code)".into(), |c| format!("Error code {c}"))
                }
                _ => error_label(*key, entry_codes(entry)),
            },
            count: *count,
            filter: if code_only {
                match code {
                    Some(c) => format!("{FAILING} and lastsyncerrorcode eq {c}"),
                    None => format!("{FAILING} and lastsyncerrorcode eq null"),
                }
            } else {
                error_filter(*key)
            },
        }
    };
    let mut out: Vec<Group> = exact.iter().map(|g| group(g, true)).collect();
    sort_groups(&mut out);
    (out, mixed.iter().map(|g| group(g, false)).collect())
}

/// Marks a code the sample did not meet (no entry can be named for it).
const UNSAMPLED: &str = "\0unsampled";

/// The sample's (entry, code) keys with their counts.
fn by_error_keys(rows: &[Failing]) -> Vec<(ErrorKey, Total)> {
    let mut counted: Vec<(ErrorKey, Total)> = Vec::new();
    for r in rows {
        let key = (
            entry_of(r.lastsyncerror.as_deref()).map(|e| e.id),
            r.lastsyncerrorcode,
        );
        match counted.iter_mut().find(|(k, _)| *k == key) {
            Some((_, t)) => t.n += 1,
            None => counted.push((key, Total::new(1, Some(false)))),
        }
    }
    counted
}

/// Largest first, then by label.
pub fn sort_groups(groups: &mut [Group]) {
    groups.sort_by(|a, b| b.count.cmp(&a.count).then(a.label.cmp(&b.label)));
}

fn profile_group(id: Option<&str>, names: &HashMap<String, String>, count: Total) -> Group {
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
        .map(|id| profile_group(Some(id), names, Total::default()))
        .chain([profile_group(None, names, Total::default())])
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
        .map(|(id, n)| profile_group(id.as_deref(), names, Total::new(n, Some(false))))
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

/// An hour of a chart: everything counted in it, and the failed part of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hour {
    pub start: Timestamp,
    pub total: i64,
    pub failed: i64,
}

/// The starts of the last 24 hours up to `now`'s hour, oldest first.
pub fn day_hours(now: Timestamp) -> Vec<Timestamp> {
    let this_hour = now.0 - now.0.rem_euclid(3600);
    (0..24)
        .map(|i| Timestamp(this_hour - (23 - i) * 3600))
        .collect()
}

/// The alerts last logged in the hour starting at `start`, and the errors among them:
/// the two filters on `tracelogs` counted for each hour of the alerts chart (the same
/// filters the alerts wall opens).
pub fn alert_hour_filters(start: Timestamp) -> [String; 2] {
    let all = format!(
        "modifiedon ge {} and modifiedon lt {}",
        start.to_rfc3339(),
        Timestamp(start.0 + 3600).to_rfc3339()
    );
    [all.clone(), format!("level eq 3 and {all}")]
}

/// The alerts chart from the counts of [`alert_hour_filters`] of each hour, in order.
pub fn alert_hours(starts: &[Timestamp], counts: &[Total]) -> Vec<Hour> {
    starts
        .iter()
        .zip(counts.chunks(2))
        .map(|(&start, c)| Hour {
            start,
            total: c.first().map_or(0, |t| t.n as i64),
            failed: c.get(1).map_or(0, |t| t.n as i64),
        })
        .collect()
}

/// The engine's sync cycles (and Test & Enable runs) of the last 24 hours up to
/// `now`'s hour, oldest first, every profile summed.
pub fn hours(stats: &[Statistic], now: Timestamp) -> Vec<Hour> {
    let mut out: Vec<Hour> = day_hours(now)
        .into_iter()
        .map(|start| Hour {
            start,
            total: 0,
            failed: 0,
        })
        .collect();
    for s in stats {
        let Some(t) = Timestamp::parse(&s.mailsync_hour).map(|p| p.at) else {
            continue;
        };
        if let Some(h) = out.iter_mut().find(|h| h.start == t) {
            h.total += s.mailsync_cycles + s.mailsync_tests;
            h.failed += s.mailsync_failures + s.mailsync_testfailures;
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
        assert_eq!(e[0].count, Total::new(2, Some(false)));
        assert!(e[0].filter.contains("and lastsyncerrorcode eq 31 and "));
        assert_eq!(e[1].label, "Not in the knowledge base (code 9)");
        let names = HashMap::from([("p1".to_string(), "IMAP".to_string())]);
        let p = by_profile(&rows, &names);
        assert_eq!((p[0].label.as_str(), p[0].count.n), ("IMAP", 2));
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
                total: 6,
                failed: 3
            }
        );
        assert_eq!(h[0].start.0, 1_800_003_600 - 23 * 3600);
        assert_eq!(h.iter().map(|h| h.total).sum::<i64>(), 6);
    }

    #[test]
    fn errors_group_by_knowledge_base_entry_then_code() {
        let secure = "Email cannot be received for the mailbox {} because an error occurred while establishing a secure connection to the email server.";
        let rows = [
            failing(Some(31), &secure.replace("{}", "A"), "p1"),
            failing(Some(31), &secure.replace("{}", "B"), "p1"),
            // The same code, another reason: its own group, not named after the first.
            failing(Some(31), "something the knowledge base does not know", "p1"),
            failing(Some(32), &secure.replace("{}", "C"), "p2"),
        ];
        let e = by_error(&rows);
        let got: Vec<_> = e.iter().map(|g| (g.label.as_str(), g.count.n)).collect();
        assert_eq!(
            got,
            [
                ("Error while establishing a secure connection (code 31)", 2),
                ("Error while establishing a secure connection (code 32)", 1),
                ("Not in the knowledge base (code 31)", 1),
            ]
        );
        // Each filter selects its entry's text and code: what the link opens.
        assert!(e[0]
            .filter
            .contains("lastsyncerrorcode eq 31 and (contains(lastsyncerror,"));
        assert!(e[2]
            .filter
            .contains("lastsyncerrorcode eq 31 and (lastsyncerror eq null or not ("));
        assert!(
            mailsync_core::odata::parse_filter(&e[0].filter, &mailsync_core::model::MAILBOX)
                .is_ok()
        );
        // One code per entry: just the entry's title.
        let one = by_error(&rows[..2]);
        assert_eq!(one[0].label, "Error while establishing a secure connection");
        assert_eq!(one[0].count.to_string(), "2");
    }

    #[test]
    fn errors_over_all_count_by_code_and_split_mixed_codes() {
        let secure = "an error occurred while establishing a secure connection to the email server";
        let sample = [
            failing(Some(31), secure, "p1"),
            failing(Some(40), secure, "p1"),
            failing(Some(40), "something unknown", "p1"),
        ];
        let rows: Vec<Value> = serde_json::from_str(
            r#"[{"lastsyncerrorcode":31,"count":7000},{"lastsyncerrorcode":40,"count":12},{"lastsyncerrorcode":77,"count":3}]"#,
        )
        .unwrap();
        let (exact, mixed) = errors_over_all(&rows, &sample);
        let got: Vec<_> = exact
            .iter()
            .map(|g| (g.label.as_str(), g.count.n))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "Error while establishing a secure connection (code 31)",
                    7000
                ),
                ("Error code 77", 3)
            ]
        );
        // Counted by code: the number is what the code filter opens.
        assert!(exact[0].filter.ends_with("and lastsyncerrorcode eq 31"));
        // Code 40 holds two errors: each by its text, to be counted by the caller.
        assert_eq!(mixed.len(), 2);
        assert!(mixed
            .iter()
            .all(|g| g.filter.contains("lastsyncerrorcode eq 40 and (")));
    }

    #[test]
    fn profiles_from_apply_rows() {
        let rows: Vec<Value> =
            serde_json::from_str(r#"[{"_emailserverprofile_value":"p1","count":4},{"count":1}]"#)
                .unwrap();
        let names = HashMap::from([("p1".to_string(), "IMAP".to_string())]);
        let p = profiles_from_groups(&rows, &names);
        assert_eq!((p[0].label.as_str(), p[0].count.n), ("IMAP", 4));
        assert_eq!(p[1].label, "(no profile)");
        assert!(failing_groups_query("_emailserverprofile_value")
            .contains("/groupby((_emailserverprofile_value),aggregate($count%20as%20count))"));
    }

    #[test]
    fn alert_hours_pair_the_counts_with_their_hours() {
        let starts = day_hours(Timestamp(7200 * 24 + 10));
        assert_eq!(starts.len(), 24);
        let [all, errors] = alert_hour_filters(starts[23]);
        assert!(all.starts_with("modifiedon ge "));
        assert!(errors.starts_with("level eq 3 and modifiedon ge "));
        assert_eq!(alerts_href(starts[23]).matches("Z").count(), 2);
        let counts: Vec<Total> = (0..48).map(|i| Total::new(i, Some(false))).collect();
        let h = alert_hours(&starts, &counts);
        assert_eq!((h[0].total, h[0].failed), (0, 1));
        assert_eq!((h[23].total, h[23].failed), (46, 47));
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
