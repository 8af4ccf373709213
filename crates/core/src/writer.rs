//! Writes a Mailbox Details log in the layout the product downloads, so that the local
//! organization's "Download Mailbox Details" and the test corpora read back through
//! the same parser administrators' real files go through.
//!
//! [`compose`] makes the log of a mailbox from Web API records (the mailbox, its email
//! server profile, its alerts): the console composes it in the browser for any
//! organization, the local one answers `DownloadMailboxDetails()` with the same text.

use serde_json::Value;

use crate::model::{Kind, EMAILSERVERPROFILE, MAILBOX};
use crate::parse::Section;
use crate::Timestamp;

/// Most traces a log holds: the latest error and warning alerts.
pub const MAX_TRACES: usize = 10;

/// The log's spelling of a Web API value of a column of `kind` (`None`: null).
pub fn log_value(key: &str, kind: Kind, v: &Value) -> Option<String> {
    Some(match (kind, v) {
        (_, Value::Null) => return None,
        (Kind::Bool, Value::Bool(b)) => if *b { "True" } else { "False" }.to_string(),
        (Kind::DateTime, Value::String(s)) => Timestamp::parse(s)?.at.to_log_format(),
        (Kind::Choice, Value::Number(n)) => choice(key, n.as_i64()?),
        (_, Value::Number(n)) => n.to_string(),
        (_, Value::String(s)) => s.clone(),
        _ => return None,
    })
}

/// Option values as the product's log writes them.
fn choice(key: &str, v: i64) -> String {
    let name = match (key, v) {
        // Dataverse numbers ACT 0 Outlook, 1 SSS, 2 None; the log names the method.
        ("actdeliverymethod", 0) => "Outlook",
        ("actdeliverymethod", 1) => "EmailRouter",
        ("actdeliverymethod", 2) => "None",
        ("incomingemaildeliverymethod" | "outgoingemaildeliverymethod", 0) => "None",
        ("incomingemaildeliverymethod" | "outgoingemaildeliverymethod", 1) => "Outlook",
        ("incomingemaildeliverymethod" | "outgoingemaildeliverymethod", 2) => "EmailRouter",
        ("incomingemaildeliverymethod", 3) => "ForwardMailbox",
        ("incomingcredentialretrieval" | "outgoingcredentialretrieval", 2) => "S2S",
        ("incomingauthenticationprotocol" | "outgoingauthenticationprotocol", 0) => "AutoDetect",
        ("incomingauthenticationprotocol" | "outgoingauthenticationprotocol", 1) => "Negotiate",
        ("incomingauthenticationprotocol" | "outgoingauthenticationprotocol", 2) => "Ntlm",
        ("incomingauthenticationprotocol" | "outgoingauthenticationprotocol", 3) => "Basic",
        ("incomingauthenticationprotocol" | "outgoingauthenticationprotocol", 4) => "OAuth",
        _ => return v.to_string(),
    };
    name.to_string()
}

/// The Mailbox Details log of `mailbox` (a Web API record of `mailboxes`), with its
/// `profile` (of `emailserverprofiles`) and its alerts (of `tracelogs`, newest first:
/// the errors and warnings among them become its traces). A value the records do not
/// hold is written `Null`, as the product writes an unknown.
pub fn compose(mailbox: &Value, profile: Option<&Value>, alerts: &[Value]) -> String {
    let value = |key: &str| {
        [(&MAILBOX, Some(mailbox)), (&EMAILSERVERPROFILE, profile)]
            .into_iter()
            .find_map(|(table, record)| {
                let column = table.column(key).filter(|c| c.readable())?;
                log_value(key, column.kind, &record?[column.property()])
            })
    };
    let traces: Vec<TraceEntry> = alerts
        .iter()
        .filter(|a| a["level"].as_i64().is_some_and(|l| l >= 2))
        .take(MAX_TRACES)
        .map(|a| {
            let text = |k: &str| a[k].as_str().filter(|s| !s.is_empty()).map(str::to_string);
            TraceEntry {
                tracecode: a["tracecode"].as_i64().unwrap_or(0),
                error_type: text("errortypedisplay").unwrap_or_default(),
                details: text("errordetails")
                    .or_else(|| text("text"))
                    .unwrap_or_default(),
            }
        })
        .collect();
    render(&value, &traces)
}

#[derive(Debug, Clone, PartialEq)]
pub struct TraceEntry {
    pub tracecode: i64,
    pub error_type: String,
    /// Written after `errordetails : `; may span lines.
    pub details: String,
}

/// Heading legends as the product writes them.
fn legend(s: Section) -> &'static str {
    match s {
        Section::Methods => " (2 is server-side sync or email router, 1 is Outlook sync, 0 is none)",
        Section::Idle => " (shows how many times the mailbox was processed with no email items or Appointments, Contacts and Tasks to synchronize)",
        Section::Backoff => " (shows when the mailbox is scheduled to process next time)",
        Section::ProfileGeneral => " (servertype: 1 is others, 0 is Exchange)",
        _ => "",
    }
}

/// Renders every section; `value(key)` gives a field's text, `None` writes `Null`.
pub fn render(value: &dyn Fn(&str) -> Option<String>, traces: &[TraceEntry]) -> String {
    let mut out = String::with_capacity(3072 + traces.len() * 400);
    for s in Section::ALL {
        if s == Section::Traces {
            break;
        }
        out.push_str(s.heading());
        out.push_str(legend(s));
        out.push('\n');
        for key in s.keys() {
            out.push_str(key);
            out.push_str(" : ");
            out.push_str(value(key).as_deref().unwrap_or("Null"));
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(Section::Traces.heading());
    out.push('\n');
    for t in traces {
        out.push_str(&format!(
            "tracecode : {}\nerrortypedisplay : {}\nerrordetails : {}\n\n",
            t.tracecode, t.error_type, t.details
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;
    use serde_json::json;

    #[test]
    fn composes_a_log_the_parser_reads_back() {
        let mailbox = json!({
            "mailboxid": "6f1f3c1e-0000-0000-0000-000000000001",
            "incomingemaildeliverymethod": 2,
            "actdeliverymethod": 1,
            "enabledforincomingemail": true,
            "enabledforact": false,
            "lastsyncerrorcount": 3,
            "lastsuccessfulsynccompletedon": null,
            "processinglastattemptedon": "2026-11-30T08:15:00Z",
        });
        let profile = json!({ "servertype": 0, "incomingauthenticationprotocol": 4 });
        let alerts = [
            json!({ "level": 1, "tracecode": 1, "text": "information only" }),
            json!({ "level": 3, "tracecode": 44, "errortypedisplay": "Fatal", "text": "Mailbox disabled" }),
            json!({ "level": 2, "tracecode": 7, "errordetails": "Timed out" }),
        ];
        let text = compose(&mailbox, Some(&profile), &alerts);
        let log = parse(&text);
        assert_eq!(
            log.get("mailboxid"),
            Some("6f1f3c1e-0000-0000-0000-000000000001")
        );
        assert_eq!(log.get("incomingemaildeliverymethod"), Some("EmailRouter"));
        assert_eq!(log.get("actdeliverymethod"), Some("EmailRouter"));
        assert_eq!(log.get("enabledforincomingemail"), Some("True"));
        assert_eq!(log.get("enabledforact"), Some("False"));
        assert_eq!(log.get("lastsyncerrorcount"), Some("3"));
        assert_eq!(log.get("servertype"), Some("0"));
        assert_eq!(log.get("incomingauthenticationprotocol"), Some("OAuth"));
        // Null and absent are both unknown: written `Null`, never guessed.
        assert!(log.has_key("lastsuccessfulsynccompletedon"));
        assert_eq!(log.get("lastsuccessfulsynccompletedon"), None);
        assert_eq!(log.get("outgoingportnumber"), None);
        assert!(log.get("processinglastattemptedon").is_some());
        // Only warnings and errors become traces, newest first as given.
        let codes: Vec<_> = log.traces.iter().map(|t| t.tracecode).collect();
        assert_eq!(codes, [Some("44"), Some("7")]);
        assert_eq!(log.traces[0].details, "Mailbox disabled");
        assert_eq!(log.traces[1].details, "Timed out");
    }

    #[test]
    fn keeps_at_most_the_latest_traces() {
        let alerts: Vec<_> = (0..25)
            .map(|i| json!({ "level": 3, "tracecode": i, "text": "x" }))
            .collect();
        let log = parse(&compose(&json!({}), None, &alerts)).traces.len();
        assert_eq!(log, MAX_TRACES);
    }
}
