//! The analysis result of one Mailbox Details log: the shape `mailsync analyze --json`
//! prints, the console renders and exports. Field names are part of the CLI contract.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Text that is usually the knowledge base's own (static) and only sometimes built.
pub type Text = Cow<'static, str>;

/// Whether a file could be read as a Mailbox Details log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every section was found.
    Ok,
    /// The file was cut short or sections are missing; what it holds is reported.
    Partial,
    /// The one-line "not configured correctly for Server Side Sync" file.
    NotConfigured,
    /// Not a Mailbox Details log at all; `error` says why.
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Nature {
    Transient,
    Permanent,
    /// Asks the user to decide (the ACT prompts: duplicates, a scheduling conflict,
    /// previously linked items); nothing is disabled meanwhile.
    Prompt,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Email,
    Mailbox,
    Profile,
    Unknown,
}

/// A synchronization direction of a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Incoming,
    Outgoing,
    /// Appointments, contacts and tasks.
    Act,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub file: String,
    pub status: Status,
    pub error: Option<String>,
    pub mailbox_id: Option<String>,
    /// RFC 3339 UTC. None when the log does not give it, or when no synchronization is
    /// to be expected then (`next_sync_note` says why).
    pub next_sync_at: Option<String>,
    /// Why no next synchronization is to be expected, e.g. the mailbox is disabled in
    /// every direction and waits for Test & Enable.
    #[serde(default)]
    pub next_sync_note: Option<String>,
    pub processing_now: bool,
    pub host_id: Option<String>,
    pub processing_last_attempted_on: Option<String>,
    /// How the file's local dates were read, e.g. "dates without a zone are read as UTC".
    pub time_assumption: Option<String>,
    /// What time-relative judgements (overdue, stuck, "in 4 min") are measured against;
    /// None for a file that could not be analyzed.
    #[serde(default)]
    pub as_of: Option<AsOf>,
    /// Headings of the sections the file does not hold: what they would say is unknown.
    #[serde(default)]
    pub missing_sections: Vec<String>,
    pub directions: Directions,
    pub idle: Idle,
    pub test_and_enable: TestAndEnable,
    pub last_sync: LastSync,
    pub profile: Option<Profile>,
    /// Every `key : value` line as written, `Null` as null, unknown keys included.
    pub fields: Fields,
    pub traces: Vec<Trace>,
    /// Ordered by severity, errors first.
    pub findings: Vec<Finding>,
}

/// The time a report is judged as of, and why that one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AsOf {
    pub basis: AsOfBasis,
    /// The reference time (RFC 3339): the clock when the analysis ran, or the log's
    /// latest entry; None when nothing is judged relative to a time.
    pub at: Option<String>,
    /// The log's latest recorded event (RFC 3339): the latest of the dates that record
    /// something that happened (attempts, completions, errors), not scheduled times.
    pub latest_entry: Option<String>,
    /// The field that holds it, e.g. `lastsyncerroroccurredon`.
    pub latest_entry_field: Option<String>,
    /// In words, e.g. "As of 2024-03-14 09:10 UTC, the time of the log's latest entry …".
    pub explanation: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AsOfBasis {
    /// The clock when the analysis ran: the log's latest entry is less than 24 hours old.
    Now,
    /// The log's latest entry: the log is older than that, or no clock was given.
    LatestEntry,
    /// No reference: the log has no dated event, so its age is unknown.
    Unknown,
}

impl AsOf {
    /// "in 3 min" / "overdue by 2 h" for `target`, measured against this reference:
    /// `now` (the clock as it is when shown) for [`AsOfBasis::Now`], the log's latest
    /// entry otherwise (and said so); None when there is no reference.
    pub fn relative(&self, target: crate::Timestamp, now: crate::Timestamp) -> Option<String> {
        match self.basis {
            AsOfBasis::Now => Some(crate::time::relative(target, now)),
            AsOfBasis::LatestEntry => {
                let at = crate::Timestamp::parse(self.at.as_deref()?)?.at;
                Some(format!(
                    "{} as of the log's latest entry",
                    crate::time::relative(target, at)
                ))
            }
            AsOfBasis::Unknown => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Directions {
    pub incoming: DirectionState,
    pub outgoing: DirectionState,
    pub act: DirectionState,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DirectionState {
    /// The Dataverse option value of the delivery-method column for this direction
    /// (incoming/outgoing: 0 None, 1 Outlook, 2 SSS, 3 Forward; act: 0 Outlook, 1 SSS, 2 None).
    pub method: Option<i32>,
    pub method_label: Option<String>,
    pub enabled: Option<bool>,
    /// This direction's own postpone value (RFC 3339).
    pub postponed_until: Option<String>,
    pub runs_next_cycle: bool,
    /// Why it does not run next cycle, or a short confirmation when it does.
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Idle {
    pub no_email_count: Option<i64>,
    pub no_act_count: Option<i64>,
    pub explanation: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TestAndEnable {
    pub scheduled: Option<bool>,
    pub retry_count: Option<i64>,
    pub completed_on: Option<String>,
    pub postponed_until: Option<String>,
    /// When a pending test will run (the later of its own postpone value and the next cycle).
    pub runs_at: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LastSync {
    pub succeeded_on: Option<String>,
    pub error: Option<String>,
    pub error_code: Option<i64>,
    pub error_count: Option<i64>,
    pub error_occurred_on: Option<String>,
    /// True when the recorded error is newer than the last success: the last cycle failed.
    pub last_cycle_failed: bool,
    pub retry_limit: u32,
    pub items_processed: Option<i64>,
    pub items_failed: Option<i64>,
    /// The last sync error classified against the knowledge base.
    pub classification: Option<Classification>,
    /// What the log says about the last cycle, unknown when it does not hold it.
    #[serde(default)]
    pub outcome: LastSyncOutcome,
    /// The outcome in a few words, e.g. "Unknown (section missing)", "Never succeeded",
    /// "Failed, 2 of 10 before disabling".
    #[serde(default)]
    pub summary: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LastSyncOutcome {
    /// The log does not hold it (section or field missing, or the date unreadable).
    #[default]
    Unknown,
    /// No successful cycle is recorded (`Null`) and no failure either.
    NeverSucceeded,
    Succeeded,
    /// Failed with a transient error, retried until the retry limit.
    Retrying,
    /// Failed with a permanent error; the log does not show the mailbox disabled.
    FailedPermanent,
    /// Failed, and the directions the error concerns are disabled (or the retry limit is
    /// reached): nothing is retried until Test & Enable.
    FailedDisabled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub server_type: Option<i32>,
    pub server_type_label: Option<String>,
    pub use_autodiscover: Option<bool>,
    pub max_concurrent_connections: Option<i64>,
    pub min_polling_interval_minutes: Option<i64>,
    /// The effective polling interval (0 means the 5-minute minimum).
    pub effective_polling_minutes: Option<i64>,
    pub incoming: ConnectionSettings,
    pub outgoing: ConnectionSettings,
    /// One line per setting in plain words.
    pub explanations: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectionSettings {
    pub authentication_protocol: Option<i32>,
    pub authentication_protocol_label: Option<String>,
    pub credential_retrieval: Option<i32>,
    pub credential_retrieval_label: Option<String>,
    pub use_impersonation: Option<bool>,
    pub use_ssl: Option<bool>,
    pub port: Option<i64>,
}

/// How a trace or error was classified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    pub nature: Nature,
    pub scope: Scope,
    pub direction: Option<Direction>,
    /// Knowledge-base entry id, or None when inferred from the evidence.
    pub rule: Option<Text>,
    pub inferred: bool,
    pub title: Text,
    pub cause: Text,
    pub resolution: Vec<Text>,
    pub source: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    pub tracecode: Option<i64>,
    pub error_type: Option<String>,
    pub activity_id: Option<String>,
    pub t: Option<i64>,
    pub http_status: Option<u16>,
    pub error_code: Option<i64>,
    /// The first line of the error text.
    pub message: Option<String>,
    /// The whole `errordetails` text, stack trace included.
    pub details: String,
    pub exceptions: Vec<ExceptionInfo>,
    pub nature: Nature,
    pub scope: Scope,
    pub rule: Option<Text>,
    pub inferred: bool,
    pub classification: Classification,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExceptionInfo {
    pub exception_type: String,
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    /// Stable, machine-readable, e.g. `error_streak`.
    pub code: Text,
    pub message: String,
    pub resolution: Option<Text>,
}

/// The raw `key : value` lines in file order (the last line wins for a repeated key),
/// written to JSON as an object. One text buffer with spans, not a map of Strings:
/// per-field allocations were a fifth of the analyzer's time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields {
    text: String,
    /// key start, key end, value start, value end (start == u32::MAX: `Null`).
    spans: Vec<[u32; 4]>,
}

impl Fields {
    pub fn with_capacity(fields: usize, bytes: usize) -> Self {
        Fields {
            text: String::with_capacity(bytes),
            spans: Vec::with_capacity(fields),
        }
    }

    pub fn push(&mut self, key: &str, value: Option<&str>) {
        let at = |t: &String| u32::try_from(t.len()).unwrap_or(u32::MAX);
        let ks = at(&self.text);
        self.text.push_str(key);
        let ke = at(&self.text);
        let (vs, ve) = match value {
            Some(v) => {
                let vs = at(&self.text);
                self.text.push_str(v);
                (vs, at(&self.text))
            }
            None => (u32::MAX, u32::MAX),
        };
        self.spans.push([ks, ke, vs, ve]);
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.spans.iter().map(|&[ks, ke, vs, ve]| {
            let slice = |a: u32, b: u32| self.text.get(a as usize..b as usize).unwrap_or("");
            (slice(ks, ke), (vs != u32::MAX).then(|| slice(vs, ve)))
        })
    }

    /// The value of the last line with this key: `Some(None)` for `Null`.
    pub fn get(&self, key: &str) -> Option<Option<&str>> {
        let mut found = None;
        for (k, v) in self.iter() {
            if k == key {
                found = Some(v);
            }
        }
        found
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.iter().any(|(k, _)| k == key)
    }
}

impl Serialize for Fields {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let all: Vec<(&str, Option<&str>)> = self.iter().collect();
        let mut m = s.serialize_map(None)?;
        for (i, (k, v)) in all.iter().enumerate() {
            // JSON objects hold a key once: emit only its last line's value.
            if !all[i + 1..].iter().any(|(later, _)| later == k) {
                m.serialize_entry(k, v)?;
            }
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Fields;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of field values")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Fields, A::Error> {
                let mut f = Fields::default();
                while let Some((k, v)) = a.next_entry::<String, Option<String>>()? {
                    f.push(&k, v.as_deref());
                }
                Ok(f)
            }
        }
        d.deserialize_map(V)
    }
}

impl Report {
    /// Whether the file lacks this section: what it would say is unknown.
    pub fn lacks(&self, section: crate::parse::Section) -> bool {
        self.missing_sections.iter().any(|h| h == section.heading())
    }
}
