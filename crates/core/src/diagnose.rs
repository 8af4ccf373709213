//! A parsed log to a [`Report`]: next synchronization and why not now, per direction;
//! processing state; Test & Enable; last sync cycle; profile; traces; findings.

use crate::classify::{classify, Evidence};
use crate::decode::decode;
use crate::extract::{self, extract};
use crate::options::{self, parse_bool, parse_int};
use crate::parse::{parse, ParsedLog, Section};
use crate::report::*;
use crate::rules::{self, ConnectionRule, ProfileSettings};
use crate::time::{human_span, relative, Timestamp};
use crate::words::{capitalize, count, list, sentence, unstop};

/// Consecutive failures after which a transient error turns permanent.
pub const RETRY_LIMIT: u32 = 10;
/// How late a due mailbox may be before it counts as overdue.
const OVERDUE_GRACE_SECS: i64 = 15 * 60;
/// A log whose latest entry is younger than this is judged against the clock; an
/// older one as of that entry.
pub const FRESH_SECS: i64 = 24 * 3600;
/// The dates that record something that happened. Scheduled times (the postpone
/// values) lie ahead of the moment the log was written, so they do not say when it was.
pub const EVENT_KEYS: [&str; 4] = [
    "processinglastattemptedon",
    "lastsyncerroroccurredon",
    "lastsuccessfulsynccompletedon",
    "testmailboxaccesscompletedon",
];

/// Analyzes one file's bytes. `now` is the clock: time-relative findings (overdue,
/// stuck) are judged against it only when the log's latest entry is less than
/// [`FRESH_SECS`] old, else as of that entry; the report's `as_of` says which.
pub fn analyze(file: &str, bytes: &[u8], now: Option<Timestamp>) -> Report {
    match decode(bytes) {
        Ok(text) => analyze_text(file, &text, now),
        Err(reason) => Report::failed(file, reason),
    }
}

pub fn analyze_text(file: &str, text: &str, now: Option<Timestamp>) -> Report {
    let log = parse(text);
    if !log.looks_like_log() {
        return Report::failed(
            file,
            "this is text that is not a Mailbox Details log: none of the log's sections or fields were found"
                .to_string(),
        );
    }
    let latest = latest_entry(&log);
    let mut d = Diagnoser {
        log,
        trace_count: 0,
        now,
        latest,
        reference: Reference::choose(latest.map(|(t, _)| t), now),
        findings: Vec::new(),
        unzoned_dates: false,
    };
    d.report(file)
}

/// The log's latest recorded event and the field holding it.
pub fn latest_entry(log: &ParsedLog) -> Option<(Timestamp, &'static str)> {
    let mut best: Option<(Timestamp, &'static str)> = None;
    for key in EVENT_KEYS {
        let Some(d) = log.get(key).and_then(Timestamp::parse) else {
            continue;
        };
        // .NET's DateTime.MinValue stands for "never".
        if d.at.civil().0 > 1 && best.is_none_or(|(b, _)| d.at > b) {
            best = Some((d.at, key));
        }
    }
    best
}

/// The time findings are judged against.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Reference {
    basis: AsOfBasis,
    at: Option<Timestamp>,
}

impl Reference {
    fn choose(latest: Option<Timestamp>, now: Option<Timestamp>) -> Reference {
        match (latest, now) {
            (Some(l), Some(n)) if n.0 - l.0 < FRESH_SECS => Reference {
                basis: AsOfBasis::Now,
                at: Some(n),
            },
            (Some(l), _) => Reference {
                basis: AsOfBasis::LatestEntry,
                at: Some(l),
            },
            (None, _) => Reference {
                basis: AsOfBasis::Unknown,
                at: None,
            },
        }
    }
}

/// A date field: absent, `Null` (or .NET's MinValue, "never"), unreadable, or a time.
#[derive(Debug, Clone, Copy, PartialEq)]
enum DateField {
    Absent,
    Empty,
    Unreadable,
    At(Timestamp),
}

impl Report {
    pub fn failed(file: &str, reason: String) -> Report {
        Report {
            file: file.to_string(),
            status: Status::Error,
            error: Some(reason),
            mailbox_id: None,
            next_sync_at: None,
            next_sync_note: None,
            processing_now: false,
            host_id: None,
            processing_last_attempted_on: None,
            time_assumption: None,
            as_of: None,
            missing_sections: Vec::new(),
            directions: Directions::default(),
            idle: Idle::default(),
            test_and_enable: TestAndEnable::default(),
            last_sync: LastSync {
                retry_limit: RETRY_LIMIT,
                ..LastSync::default()
            },
            profile: None,
            fields: Fields::default(),
            traces: Vec::new(),
            findings: Vec::new(),
        }
    }
}

struct Diagnoser<'a> {
    log: ParsedLog<'a>,
    trace_count: usize,
    /// The clock, as handed in.
    now: Option<Timestamp>,
    latest: Option<(Timestamp, &'static str)>,
    reference: Reference,
    findings: Vec<Finding>,
    unzoned_dates: bool,
}

fn dir_words(dir: Direction) -> &'static str {
    match dir {
        Direction::Incoming => "incoming email",
        Direction::Outgoing => "outgoing email",
        Direction::Act => "appointments, contacts and tasks",
    }
}

fn dir_code(dir: Direction) -> &'static str {
    match dir {
        Direction::Incoming => "incoming",
        Direction::Outgoing => "outgoing",
        Direction::Act => "act",
    }
}

impl<'a> Diagnoser<'a> {
    fn find(
        &mut self,
        severity: Severity,
        code: impl Into<Text>,
        message: String,
        resolution: Option<Text>,
    ) {
        let code = code.into();
        // One finding per code; a repeated code keeps the more severe one.
        if let Some(f) = self.findings.iter_mut().find(|f| f.code == code) {
            if severity < f.severity {
                *f = Finding {
                    severity,
                    code,
                    message,
                    resolution,
                };
            }
            return;
        }
        self.findings.push(Finding {
            severity,
            code,
            message,
            resolution,
        });
    }

    fn text(&self, key: &str) -> Option<&'a str> {
        self.log.get(key)
    }

    fn int(&mut self, key: &str) -> Option<i64> {
        let raw = self.text(key)?;
        let v = parse_int(raw);
        if v.is_none() {
            self.unreadable(key, raw, "a number");
        }
        v
    }

    fn boolean(&mut self, key: &str) -> Option<bool> {
        let raw = self.text(key)?;
        let v = parse_bool(raw);
        if v.is_none() {
            self.unreadable(key, raw, "True or False");
        }
        v
    }

    fn option(&mut self, key: &str, read: impl Fn(&str) -> Option<i32>) -> Option<i32> {
        let raw = self.text(key)?;
        let v = read(raw);
        if v.is_none() {
            self.unreadable(key, raw, "a known option");
        }
        v
    }

    fn date(&mut self, key: &str) -> Option<Timestamp> {
        match self.date_field(key) {
            DateField::At(t) => Some(t),
            _ => None,
        }
    }

    fn date_field(&mut self, key: &str) -> DateField {
        let Some(raw) = self.text(key) else {
            return if self.log.has_key(key) {
                DateField::Empty
            } else {
                DateField::Absent
            };
        };
        match Timestamp::parse(raw) {
            // .NET's DateTime.MinValue (1/1/0001) stands for "never".
            Some(d) if d.at.civil().0 <= 1 => DateField::Empty,
            Some(d) => {
                self.unzoned_dates |= !d.zoned;
                DateField::At(d.at)
            }
            None => {
                self.find(
                    Severity::Warning,
                    format!("unreadable_date.{key}"),
                    format!("{key} has a date that cannot be read: \"{raw}\"; it is ignored."),
                    Some("Download the Mailbox Details again; dates are expected as M/d/yyyy h:mm:ss AM/PM or ISO 8601.".into()),
                );
                DateField::Unreadable
            }
        }
    }

    fn unreadable(&mut self, key: &str, raw: &str, expected: &str) {
        self.find(
            Severity::Warning,
            format!("unreadable_value.{key}"),
            format!("{key} has the value \"{raw}\", expected {expected}; it is ignored."),
            None,
        );
    }

    fn report(&mut self, file: &str) -> Report {
        let log = &self.log;
        let mut fields = Fields::with_capacity(log.fields.len(), 1024);
        for (k, v) in &log.fields {
            fields.push(k, *v);
        }
        let not_configured = log.not_configured
            && !log
                .fields
                .iter()
                .any(|(k, _)| crate::parse::is_known_key(k));
        if not_configured {
            let mut r = Report::failed(file, String::new());
            r.status = Status::NotConfigured;
            r.error = None;
            r.fields = fields;
            r.findings.push(Finding {
                severity: Severity::Error,
                code: "not_configured".into(),
                message: "The mailbox is not configured correctly for server-side synchronization: the product found no mailbox state to report.".to_string(),
                resolution: Some("Open the mailbox, set its email server profile and synchronization methods to Server-Side Synchronization, approve it and Test & Enable.".into()),
            });
            return r;
        }

        let mailbox_id = self.text("mailboxid").map(str::to_string);
        if mailbox_id.is_none() {
            self.find(
                Severity::Warning,
                "missing_mailbox_id",
                "The log has no mailboxid.".to_string(),
                None,
            );
        }
        let host_id = self.text("hostid").map(str::to_string);
        let state = self.int("processingstatecode");
        let last_attempt = self.date("processinglastattemptedon");
        let next = self.date("postponemailboxprocessinguntil");
        let processing_now = state == Some(1) && host_id.is_some();
        self.processing(state, host_id.as_deref(), last_attempt);

        let directions = Directions {
            incoming: self.direction(
                Direction::Incoming,
                "incomingemaildeliverymethod",
                "enabledforincomingemail",
                "receivingpostponeduntil",
                next,
            ),
            outgoing: self.direction(
                Direction::Outgoing,
                "outgoingemaildeliverymethod",
                "enabledforoutgoingemail",
                "postponesendinguntil",
                next,
            ),
            act: self.direction(
                Direction::Act,
                "actdeliverymethod",
                "enabledforact",
                "receivingpostponeduntilforact",
                next,
            ),
        };
        let any_sss = [&directions.incoming, &directions.outgoing, &directions.act]
            .iter()
            .any(|d| {
                d.runs_next_cycle
                    || d.enabled.is_some()
                        && d.method_label
                            .as_deref()
                            .is_some_and(|l| l.starts_with("Server-Side"))
            });
        let stopped = stopped_directions(&directions);
        if stopped.is_none() {
            self.overdue(next, processing_now);
        }
        let idle = self.idle();
        let test_and_enable = self.test_and_enable(next);
        let next_sync_note = stopped.map(|disabled| {
            let mut note = if disabled.len() == 3 {
                "Disabled in every direction".to_string()
            } else {
                format!(
                    "Disabled for {}, and no other direction uses server-side synchronization",
                    list(&disabled)
                )
            };
            note.push_str(": it will not synchronize until the mailbox is tested and enabled again (Test & Enable).");
            if test_and_enable.scheduled == Some(true) {
                note.push_str(" Test & Enable is pending.");
            }
            note
        });
        let last_sync = self.last_sync(any_sss, &directions);
        let profile = self.profile();
        let traces = self.traces();
        let (status, missing_sections) = self.completeness();

        let time_assumption = self.unzoned_dates.then(|| {
            "Dates without a time zone are read as UTC, which online organizations write; an on-premises server may have written its own local time.".to_string()
        });
        let as_of = self.as_of();
        let mut findings = std::mem::take(&mut self.findings);
        findings.sort_by_key(|f| f.severity);
        Report {
            file: file.to_string(),
            status,
            error: None,
            mailbox_id,
            next_sync_at: next
                .filter(|_| next_sync_note.is_none())
                .map(Timestamp::to_rfc3339),
            next_sync_note,
            processing_now,
            host_id,
            processing_last_attempted_on: last_attempt.map(Timestamp::to_rfc3339),
            time_assumption,
            as_of: Some(as_of),
            missing_sections,
            directions,
            idle,
            test_and_enable,
            last_sync,
            profile,
            fields,
            traces,
            findings,
        }
    }

    fn processing(
        &mut self,
        state: Option<i64>,
        host: Option<&str>,
        last_attempt: Option<Timestamp>,
    ) {
        match (state, host) {
            (Some(1), Some(h)) => {
                let since = last_attempt
                    .map(|t| format!(" since {}", t.to_short_utc()))
                    .unwrap_or_default();
                self.find(
                    Severity::Info,
                    "processing_now",
                    format!("Being processed right now by host {h}{since}."),
                    None,
                );
                if let (Some(at), Some(t)) = (self.reference.at, last_attempt) {
                    if at.0 - t.0 > 3600 {
                        let span = human_span((at.0 - t.0) as u64);
                        let message = if self.reference.basis == AsOfBasis::Now {
                            format!("Processing started {span} ago and has not finished.")
                        } else {
                            format!(
                                "Processing had started {span} before the log's latest entry ({}) and had not finished by then.",
                                at.to_short_utc()
                            )
                        };
                        self.find(Severity::Warning, "processing_stuck", message, Some("If it stays like this, restart the Asynchronous Processing Service on that host (on-premises) or contact support with the MailboxId.".into()));
                    }
                }
            }
            (Some(1), None) => self.find(
                Severity::Warning,
                "processing_without_host",
                "processingstatecode is 1 (being processed) but no hostid is given.".to_string(),
                None,
            ),
            _ => {}
        }
    }

    fn direction(
        &mut self,
        dir: Direction,
        method_key: &str,
        enabled_key: &str,
        postpone_key: &str,
        next: Option<Timestamp>,
    ) -> DirectionState {
        let method = self.option(method_key, |v| options::delivery_method(dir, v));
        let enabled = self.boolean(enabled_key);
        let postponed = self.date(postpone_key);
        let words = dir_words(dir);
        let sss = method.is_some_and(|m| options::is_server_side_sync(dir, m));
        let (runs, reason) = match (method, enabled, next) {
            (None, _, _) => (
                false,
                format!("The synchronization method for {words} is not in the log."),
            ),
            (Some(m), _, _) if !sss => (
                false,
                format!(
                    "{} uses {}, not server-side synchronization.",
                    capitalize(words),
                    options::delivery_method_label(dir, m)
                ),
            ),
            (_, Some(false), _) => {
                self.find(
                    Severity::Error,
                    format!("{}_disabled", dir_code(dir)),
                    format!("The mailbox is disabled for {words}: a permanent error or a failed Test & Enable stopped it."),
                    Some("Fix the cause shown in the last sync error and traces, then Test & Enable the mailbox.".into()),
                );
                (false, format!("Disabled for {words}; it will not run until the mailbox is tested and enabled again."))
            }
            (_, None, _) => (
                false,
                format!("Whether {words} is enabled is not in the log."),
            ),
            (_, _, None) => (
                false,
                "The next processing time (postponemailboxprocessinguntil) is not in the log."
                    .to_string(),
            ),
            (_, _, Some(n)) => match postponed {
                Some(p) if p > n => (
                    false,
                    format!(
                        "Postponed until {}, {} after the next cycle at {}.",
                        p.to_short_utc(),
                        human_span((p.0 - n.0) as u64),
                        n.to_short_utc()
                    ),
                ),
                _ => (
                    true,
                    format!("Runs in the next cycle at {}.", n.to_short_utc()),
                ),
            },
        };
        DirectionState {
            method,
            method_label: method.map(|m| options::delivery_method_label(dir, m).to_string()),
            enabled,
            postponed_until: postponed.map(Timestamp::to_rfc3339),
            runs_next_cycle: runs,
            reason,
        }
    }

    fn overdue(&mut self, next: Option<Timestamp>, processing_now: bool) {
        if let (Some(at), Some(n)) = (self.reference.at, next) {
            let late = at.0 - n.0;
            if !processing_now && late > OVERDUE_GRACE_SECS {
                let message = if self.reference.basis == AsOfBasis::Now {
                    format!(
                        "The next synchronization was due at {}: {}.",
                        n.to_short_utc(),
                        relative(n, at)
                    )
                } else {
                    format!(
                        "The next synchronization was due at {}, {} before the log's latest entry ({}): it was overdue when the log was written.",
                        n.to_short_utc(),
                        human_span(late as u64),
                        at.to_short_utc()
                    )
                };
                self.find(
                    Severity::Warning,
                    "overdue",
                    message,
                    Some("The asynchronous service has not picked the mailbox up: check that it is running (on-premises) and that the mailbox is approved and enabled.".into()),
                );
            }
        }
    }

    /// The reference time, and why, for the report.
    fn as_of(&self) -> AsOf {
        let latest = self.latest.map(|(t, _)| t.to_short_utc());
        let field = self.latest.map(|(_, k)| k).unwrap_or_default();
        let explanation = match (self.reference.basis, latest) {
            (AsOfBasis::Now, Some(l))
                if self
                    .latest
                    .zip(self.reference.at)
                    .is_some_and(|((t, _), now)| t > now) =>
            {
                format!(
                    "Judged against the current time: the log's latest entry ({field}, {l}) is later than it (the log's clock or time zone may differ)."
                )
            }
            (AsOfBasis::Now, Some(l)) => format!(
                "Judged against the current time: the log's latest entry ({field}, {l}) is less than 24 hours old."
            ),
            (AsOfBasis::LatestEntry, Some(l)) => format!(
                "As of {l}, the time of the log's latest entry ({field}): {}",
                if self.now.is_some() {
                    "the log is more than 24 hours old, so nothing is compared with the current time."
                } else {
                    "no current time was given."
                }
            ),
            _ => "The log has no dated event, so its age is unknown: nothing is judged relative to a time.".to_string(),
        };
        AsOf {
            basis: self.reference.basis,
            at: self.reference.at.map(Timestamp::to_rfc3339),
            latest_entry: self.latest.map(|(t, _)| t.to_rfc3339()),
            latest_entry_field: self.latest.map(|(_, k)| k.to_string()),
            explanation,
        }
    }

    fn idle(&mut self) -> Idle {
        let email = self.int("noemailcount");
        let act = self.int("noactcount");
        let explanation = match (email, act) {
            (None, None) => None,
            _ => {
                let cycles = |n: Option<i64>| {
                    n.map_or("an unknown number of cycles".to_string(), |n| {
                        count(n, "cycle", "cycles")
                    })
                };
                Some(format!(
                    "{} in a row found no email, and {} in a row found no appointments, contacts or tasks to synchronize; an idle mailbox is polled less often.",
                    capitalize(&cycles(email)),
                    cycles(act)
                ))
            }
        };
        Idle {
            no_email_count: email,
            no_act_count: act,
            explanation,
        }
    }

    fn test_and_enable(&mut self, next: Option<Timestamp>) -> TestAndEnable {
        let scheduled = self.boolean("testemailconfigurationscheduled");
        let retry_count = self.int("testemailconfigurationretrycount");
        let completed_field = self.date_field("testmailboxaccesscompletedon");
        let completed = match completed_field {
            DateField::At(t) => Some(t),
            _ => None,
        };
        let postponed = self.date("postponetestemailconfigurationuntil");
        let runs_at = if scheduled == Some(true) {
            match (postponed, next) {
                (Some(p), Some(n)) => Some(p.max(n)),
                (p, n) => p.or(n),
            }
        } else {
            None
        };
        if scheduled == Some(true) {
            let when = runs_at
                .map(|t| format!(" It runs at {}.", t.to_short_utc()))
                .unwrap_or_default();
            self.find(
                Severity::Info,
                "test_pending",
                format!("Test & Enable is pending.{when}"),
                None,
            );
            if let (Some(at), Some(t)) = (self.reference.at, runs_at) {
                if at.0 - t.0 > 3600 {
                    let message = if self.reference.basis == AsOfBasis::Now {
                        format!(
                            "Test & Enable was due at {} and is still pending ({}).",
                            t.to_short_utc(),
                            relative(t, at)
                        )
                    } else {
                        format!(
                            "Test & Enable was due at {} and was still pending {} later, at the log's latest entry ({}).",
                            t.to_short_utc(),
                            human_span((at.0 - t.0) as u64),
                            at.to_short_utc()
                        )
                    };
                    self.find(
                        Severity::Warning,
                        "test_pending_overdue",
                        message,
                        Some("Check that the asynchronous service is running and the mailbox is approved; then run Test & Enable again.".into()),
                    );
                }
            }
        } else if scheduled == Some(false) && completed_field == DateField::Empty {
            self.find(
                Severity::Warning,
                "never_tested",
                "The mailbox has never been tested.".to_string(),
                Some("Approve the mailbox if needed, then Test & Enable it.".into()),
            );
        }
        if let Some(n) = retry_count.filter(|n| *n > 0) {
            self.find(
                Severity::Warning,
                "test_retrying",
                format!(
                    "Test & Enable failed and has been retried {}.",
                    count(n, "time", "times")
                ),
                Some("Look at the last sync error and traces for the cause.".into()),
            );
        }
        TestAndEnable {
            scheduled,
            retry_count,
            completed_on: completed.map(Timestamp::to_rfc3339),
            postponed_until: postponed.map(Timestamp::to_rfc3339),
            runs_at: runs_at.map(Timestamp::to_rfc3339),
        }
    }

    fn last_sync(&mut self, any_sss: bool, directions: &Directions) -> LastSync {
        let succeeded = self.date_field("lastsuccessfulsynccompletedon");
        let error = self.text("lastsyncerror").map(str::to_string);
        let code = self.int("lastsyncerrorcode");
        let error_count = self.int("lastsyncerrorcount");
        let occurred = self.date("lastsyncerroroccurredon");
        let items_processed = self.int("itemsprocessedforlastsync");
        let items_failed = self.int("itemsfailedforlastsync");
        let attempted = self.date("processinglastattemptedon");
        let has_error =
            error.is_some() || code.is_some_and(|c| c != 0) || error_count.is_some_and(|c| c > 0);
        // Seed 003: "If this time is before the lastsuccessfulsynccompletedon and
        // processinglastattemptedon times, no error happened on the last sync."
        let failed = has_error
            && error_count != Some(0)
            && match (occurred, succeeded) {
                (Some(o), DateField::At(s)) => !(o <= s && attempted.is_none_or(|a| o < a)),
                (None, DateField::At(_)) => false,
                (_, DateField::Empty) => true,
                // The last success unknown: only a running count of consecutive
                // failures says that the last cycle failed.
                (_, DateField::Absent | DateField::Unreadable) => {
                    error_count.is_some_and(|c| c > 0)
                }
            };
        let classification = failed.then(|| {
            let text = error.as_deref().unwrap_or("");
            classify(&Evidence {
                error_type: None,
                text,
                http_status: None,
                error_code: code.or_else(|| extract::error_code(text)),
            })
        });
        let n = error_count.unwrap_or(1).max(1);
        let permanent = classification
            .as_ref()
            .is_some_and(|c| c.nature == Nature::Permanent);
        // The directions the error is about (all when it does not say) that use
        // server-side synchronization (or may) and are disabled.
        let disabled: Vec<&'static str> = if failed {
            let about = classification.as_ref().and_then(|c| c.direction);
            [
                (Direction::Incoming, &directions.incoming),
                (Direction::Outgoing, &directions.outgoing),
                (Direction::Act, &directions.act),
            ]
            .into_iter()
            .filter(|(dir, d)| {
                about.is_none_or(|a| a == *dir)
                    && d.enabled == Some(false)
                    && d.method
                        .is_none_or(|m| options::is_server_side_sync(*dir, m))
            })
            .map(|(dir, _)| dir_words(dir))
            .collect()
        } else {
            Vec::new()
        };
        let limit_reached = n >= i64::from(RETRY_LIMIT);
        let outcome = match succeeded {
            _ if failed && (limit_reached || !disabled.is_empty()) => {
                LastSyncOutcome::FailedDisabled
            }
            _ if failed && permanent => LastSyncOutcome::FailedPermanent,
            _ if failed => LastSyncOutcome::Retrying,
            DateField::At(_) => LastSyncOutcome::Succeeded,
            DateField::Empty => LastSyncOutcome::NeverSucceeded,
            DateField::Absent | DateField::Unreadable => LastSyncOutcome::Unknown,
        };
        if failed {
            let what = error
                .clone()
                .or_else(|| code.map(|c| format!("error code {c}")));
            let resolution = classification
                .as_ref()
                .and_then(|c| c.resolution.first().cloned());
            if limit_reached {
                self.find(
                    Severity::Error,
                    "retry_limit_reached",
                    format!(
                        "The last sync failed {} in a row, reaching the limit of {RETRY_LIMIT}: the error is now permanent and the mailbox is disabled.{}",
                        count(n, "time", "times"),
                        what.as_deref()
                            .map(|w| format!(" The error: {}", sentence(w)))
                            .unwrap_or_default()
                    ),
                    resolution.clone(),
                );
            } else if permanent {
                self.find(
                    Severity::Error,
                    "last_sync_failed",
                    match what.as_deref() {
                        Some(w) => format!(
                            "The last sync failed with a permanent error: {}",
                            sentence(w)
                        ),
                        None => "The last sync failed with a permanent error.".to_string(),
                    },
                    resolution.clone(),
                );
            } else if !disabled.is_empty() {
                self.find(
                    Severity::Warning,
                    "last_sync_failed_disabled",
                    format!(
                        "The last sync failed{} ({}). The mailbox is disabled for {}, so it is not retried until it is tested and enabled again.",
                        what.as_deref()
                            .map(|w| format!(": {}", unstop(w)))
                            .unwrap_or_default(),
                        count(n, "consecutive failure", "consecutive failures"),
                        list(&disabled)
                    ),
                    resolution.clone(),
                );
            } else {
                self.find(
                    Severity::Warning,
                    "error_streak",
                    format!(
                        "The last sync failed{} ({n} of {RETRY_LIMIT} consecutive failures before the mailbox is disabled).",
                        what.as_deref()
                            .map(|w| format!(": {}", unstop(w)))
                            .unwrap_or_default()
                    ),
                    resolution.clone(),
                );
            }
            if let Some(c) = classification.as_ref().filter(|c| c.rule.is_some()) {
                let sev = if c.nature == Nature::Permanent {
                    Severity::Error
                } else {
                    Severity::Warning
                };
                self.find(
                    sev,
                    format!("kb.{}", c.rule.as_deref().unwrap_or_default()),
                    format!("{} (last sync error).", c.title),
                    resolution,
                );
            }
        }
        // Only a recorded "never" (Null) says so: an absent field or section says nothing.
        if succeeded == DateField::Empty && any_sss {
            self.find(
                Severity::Warning,
                "never_synced",
                "The mailbox has never completed a synchronization successfully.".to_string(),
                Some("Approve the mailbox if required and Test & Enable it.".into()),
            );
        }
        if let Some(n) = items_failed.filter(|n| *n > 0) {
            self.find(
                Severity::Warning,
                "items_failed",
                format!(
                    "{} met the promotion criteria but failed to be created in the last cycle.",
                    count(n, "item", "items")
                ),
                Some("Look for synchronous plug-ins or workflows on email creation (see UnknownIncomingEmailIntegrationError -2147220956).".into()),
            );
        }
        let summary = match outcome {
            LastSyncOutcome::Unknown => {
                let section_missing = !self.log.has_section(Section::LastSync)
                    && !Section::LastSync.keys().iter().any(|k| self.log.has_key(k));
                if section_missing {
                    "Unknown (section missing)".to_string()
                } else if succeeded == DateField::Unreadable {
                    "Unknown (the date of the last success cannot be read)".to_string()
                } else {
                    "Unknown (lastsuccessfulsynccompletedon is not in the log)".to_string()
                }
            }
            LastSyncOutcome::NeverSucceeded => "Never succeeded".to_string(),
            LastSyncOutcome::Succeeded => match succeeded {
                DateField::At(t) => format!("Succeeded at {}", t.to_short_utc()),
                _ => "Succeeded".to_string(),
            },
            LastSyncOutcome::Retrying => format!("Failed, {n} of {RETRY_LIMIT} before disabling"),
            LastSyncOutcome::FailedPermanent => "Failed with a permanent error".to_string(),
            LastSyncOutcome::FailedDisabled if disabled.is_empty() => format!(
                "Failed {} in a row: the retry limit of {RETRY_LIMIT} is reached, disabled until Test & Enable",
                count(n, "time", "times")
            ),
            LastSyncOutcome::FailedDisabled => format!(
                "Failed ({} in a row); disabled for {} until Test & Enable",
                count(n, "time", "times"),
                list(&disabled)
            ),
        };
        LastSync {
            succeeded_on: match succeeded {
                DateField::At(t) => Some(t.to_rfc3339()),
                _ => None,
            },
            error,
            error_code: code,
            error_count,
            error_occurred_on: occurred.map(Timestamp::to_rfc3339),
            last_cycle_failed: failed,
            retry_limit: RETRY_LIMIT,
            items_processed,
            items_failed,
            classification,
            outcome,
            summary,
        }
    }

    /// `keys`: the five keys of one direction, in [`Section::keys`] order.
    fn connection(&mut self, keys: &'static [&'static str]) -> ConnectionSettings {
        let [protocol, credentials, impersonation, ssl, port] = keys else {
            unreachable!("a connection section has five keys")
        };
        ConnectionSettings {
            authentication_protocol: self.option(protocol, options::auth_protocol),
            authentication_protocol_label: None,
            credential_retrieval: self.option(credentials, options::credential_retrieval),
            credential_retrieval_label: None,
            use_impersonation: self.boolean(impersonation),
            use_ssl: self.boolean(ssl),
            port: self.int(port),
        }
        .labelled()
    }

    fn profile(&mut self) -> Option<Profile> {
        let any = Section::ProfileGeneral
            .keys()
            .iter()
            .chain(Section::ProfileIncoming.keys())
            .chain(Section::ProfileOutgoing.keys())
            .any(|k| self.log.has_key(k));
        if !any {
            return None;
        }
        let server_type = self.option("servertype", options::server_type);
        let use_autodiscover = self.boolean("useautodiscover");
        let max_conn = self.int("maxconcurrentconnections");
        let polling = self.int("minpollingintervalinminutes");
        let incoming = self.connection(Section::ProfileIncoming.keys());
        let outgoing = self.connection(Section::ProfileOutgoing.keys());
        let settings = ProfileSettings {
            server_type,
            // The Mailbox Details log does not write it.
            exchange_version: None,
            use_autodiscover,
            max_concurrent_connections: max_conn,
            min_polling_interval_minutes: polling,
            incoming: rule_of(&incoming),
            outgoing: rule_of(&outgoing),
        };
        for f in rules::check_profile(&settings) {
            self.find(f.severity, f.code, f.message, f.resolution);
        }
        let effective = polling.map(rules::effective_polling_minutes);
        let mut ex = Vec::new();
        if let Some(st) = server_type {
            ex.push(format!(
                "Server type {st}: {}.",
                options::server_type_label(st)
            ));
        }
        match use_autodiscover {
            Some(true) => ex.push("Auto Discover Server Location is on: the mailbox's server is found automatically.".to_string()),
            Some(false) => ex.push("Auto Discover Server Location is off: the server location (EWS URL or host) is set in the profile.".to_string()),
            None => {}
        }
        if let Some(n) = max_conn {
            ex.push(format!(
                "Up to {} to the server for this profile's mailboxes.",
                count(n, "simultaneous connection", "simultaneous connections")
            ));
        }
        match polling {
            Some(0) => ex.push("Minimum polling interval 0: the 5-minute minimum applies, so mailboxes sync every 5 minutes.".to_string()),
            Some(n) => ex.push(format!(
                "Mailboxes are polled at most every {}.",
                count(rules::effective_polling_minutes(n), "minute", "minutes")
            )),
            None => {}
        }
        for (name, c) in [("Incoming", &incoming), ("Outgoing", &outgoing)] {
            if let Some(summary) = c.summary() {
                ex.push(format!("{name}: {summary}."));
            }
        }
        Some(Profile {
            server_type,
            server_type_label: server_type.map(|s| options::server_type_label(s).to_string()),
            use_autodiscover,
            max_concurrent_connections: max_conn,
            min_polling_interval_minutes: polling,
            effective_polling_minutes: effective,
            incoming,
            outgoing,
            explanations: ex,
        })
    }

    fn traces(&mut self) -> Vec<Trace> {
        let raws = std::mem::take(&mut self.log.traces);
        self.trace_count = raws.len();
        let mut out = Vec::with_capacity(raws.len());
        for raw in raws {
            let facts = extract(&raw.details);
            let tracecode = raw.tracecode.and_then(parse_int);
            let c = classify(&Evidence {
                error_type: raw.error_type,
                text: &raw.details,
                http_status: facts.http_status,
                error_code: facts.error_code,
            });
            out.push(Trace {
                tracecode,
                error_type: raw.error_type.map(str::to_string),
                activity_id: facts.activity_id,
                t: facts.t,
                http_status: facts.http_status,
                error_code: facts.error_code,
                message: facts.message,
                details: raw.details,
                exceptions: facts.exceptions,
                nature: c.nature,
                scope: c.scope,
                rule: c.rule.clone(),
                inferred: c.inferred,
                classification: c,
            });
        }
        // One finding per distinct cause: (finding code, first trace, occurrences).
        let mut groups: Vec<(String, usize, usize)> = Vec::new();
        for (i, t) in out.iter().enumerate() {
            let key = trace_finding_code(t);
            match groups.iter_mut().find(|g| g.0 == key) {
                Some(g) => g.2 += 1,
                None => groups.push((key, i, 1)),
            }
        }
        for (key, first, n) in groups {
            let t = &out[first];
            let c = &t.classification;
            let times = if n == 1 {
                "once".to_string()
            } else {
                format!("{n} times")
            };
            let (sev, message) = if c.inferred {
                (Severity::Info, format!("{} in recent traces ({times}), not in the knowledge base; judged {} from the evidence.", c.title, nature_word(c.nature)))
            } else {
                let sev = if c.nature == Nature::Permanent {
                    Severity::Warning
                } else {
                    Severity::Info
                };
                (
                    sev,
                    format!(
                        "{}: {times} in recent traces ({}, {}-level).",
                        c.title,
                        nature_word(c.nature),
                        scope_word(c.scope)
                    ),
                )
            };
            self.find(sev, key, message, c.resolution.first().cloned());
        }
        out
    }

    /// Whether every section is there, and the headings of those that are not.
    fn completeness(&mut self) -> (Status, Vec<String>) {
        let mut missing = Vec::new();
        let mut missing_keys = Vec::new();
        for s in Section::ALL {
            if s == Section::ProfileDetails {
                continue;
            }
            let keys = s.keys();
            let present = self.log.has_section(s)
                || keys.iter().any(|k| self.log.has_key(k))
                || (s == Section::Traces && self.trace_count > 0);
            if !present {
                missing.push(s.heading());
            } else {
                missing_keys.extend(keys.iter().filter(|k| !self.log.has_key(k)).copied());
            }
        }
        if missing.is_empty() && missing_keys.is_empty() {
            return (Status::Ok, Vec::new());
        }
        let missing_sections = missing.iter().map(|h| h.to_string()).collect();
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!("sections {}", missing.join(", ")));
        }
        if !missing_keys.is_empty() {
            parts.push(format!("fields {}", missing_keys.join(", ")));
        }
        self.find(
            Severity::Warning,
            "partial_file",
            format!("The file is incomplete (cut short or edited): missing {}. What it holds is reported.", parts.join("; ")),
            Some("Download the Mailbox Details again from the mailbox record.".into()),
        );
        (Status::Partial, missing_sections)
    }
}

/// `kb.<rule>` for known causes, `trace_unrecognized.<error type>` otherwise.
pub fn trace_finding_code(t: &Trace) -> String {
    match &t.rule {
        Some(r) => format!("kb.{r}"),
        None => format!(
            "trace_unrecognized.{}",
            t.error_type.as_deref().unwrap_or("unknown")
        ),
    }
}

fn rule_of(c: &ConnectionSettings) -> ConnectionRule {
    ConnectionRule {
        credential_retrieval: c.credential_retrieval,
        authentication_protocol: c.authentication_protocol,
        use_impersonation: c.use_impersonation,
        use_ssl: c.use_ssl,
        port: c.port,
    }
}

impl ConnectionSettings {
    /// "Server to Server Authentication, authentication Auto Detect, no impersonation,
    /// SSL on, port 443"; `None` when the log gave none of them.
    pub fn summary(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(l) = &self.credential_retrieval_label {
            parts.push(l.clone());
        }
        if let Some(l) = &self.authentication_protocol_label {
            parts.push(format!("authentication {l}"));
        }
        if let Some(i) = self.use_impersonation {
            parts.push(
                if i {
                    "with impersonation"
                } else {
                    "no impersonation"
                }
                .to_string(),
            );
        }
        if let Some(s) = self.use_ssl {
            parts.push(if s { "SSL on" } else { "SSL off" }.to_string());
        }
        if let Some(p) = self.port {
            parts.push(format!("port {p}"));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    fn labelled(mut self) -> Self {
        self.authentication_protocol_label = self
            .authentication_protocol
            .map(|v| options::auth_protocol_label(v).to_string());
        self.credential_retrieval_label = self
            .credential_retrieval
            .map(|v| options::credential_retrieval_label(v).to_string());
        self
    }
}

/// The directions that use server-side synchronization and are disabled, when no
/// direction can run (each is disabled or uses another method): the mailbox will not
/// synchronize until Test & Enable. None when some direction may run or it is unknown.
fn stopped_directions(d: &Directions) -> Option<Vec<&'static str>> {
    let all = [
        (Direction::Incoming, &d.incoming),
        (Direction::Outgoing, &d.outgoing),
        (Direction::Act, &d.act),
    ];
    let other_method = |dir: Direction, s: &DirectionState| {
        s.method
            .is_some_and(|m| !options::is_server_side_sync(dir, m))
    };
    if !all
        .iter()
        .all(|(dir, s)| s.enabled == Some(false) || other_method(*dir, s))
    {
        return None;
    }
    let disabled: Vec<&'static str> = all
        .iter()
        .filter(|(dir, s)| s.enabled == Some(false) && !other_method(*dir, s))
        .map(|(dir, _)| dir_words(*dir))
        .collect();
    (!disabled.is_empty()).then_some(disabled)
}

pub fn nature_word(n: Nature) -> &'static str {
    match n {
        Nature::Transient => "transient",
        Nature::Permanent => "permanent",
        Nature::Prompt => "asks for a decision",
        Nature::Unknown => "unknown",
    }
}

pub fn scope_word(s: Scope) -> &'static str {
    match s {
        Scope::Email => "email",
        Scope::Mailbox => "mailbox",
        Scope::Profile => "profile",
        Scope::Unknown => "unknown",
    }
}
