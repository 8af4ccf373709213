//! `GET /mailboxes(<id>)/Microsoft.Dynamics.CRM.DownloadMailboxDetails()`: the mailbox's
//! Mailbox Details log as `text/plain`, in the product's layout (core's
//! `writer::render`), from the stored mailbox, its profile and its last 10 error and
//! warning alerts (the log's traces are errors; Information alerts are not), so
//! the Log Analyzer reads it back to the stored facts.

use std::collections::HashMap;

use axum::http::{header, HeaderValue, StatusCode};
use mailsync_core::model::{Kind, EMAILSERVERPROFILE, MAILBOX};
use mailsync_core::odata::Guid;
use mailsync_core::writer::{render, TraceEntry};
use mailsync_core::Timestamp;

use super::privileges;
use super::write::load;
use super::{record_not_found, Ctx, Reply};
use crate::error::ApiError;
use crate::odata_sql::SqlParam;

/// The log's spelling of a stored value of `kind`.
fn log_value(key: &str, kind: Kind, v: &SqlParam) -> Option<String> {
    Some(match (kind, v) {
        (_, SqlParam::Null) => return None,
        (Kind::Bool, SqlParam::Int(i)) => if *i != 0 { "True" } else { "False" }.to_string(),
        (Kind::DateTime, SqlParam::Text(s)) => Timestamp::parse(s)?.at.to_log_format(),
        (Kind::Choice, SqlParam::Int(i)) => choice(key, *i),
        (_, SqlParam::Int(i)) => i.to_string(),
        (_, SqlParam::Real(f)) => f.to_string(),
        (_, SqlParam::Text(s)) => s.clone(),
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

pub fn mailbox_details(ctx: &Ctx, c: &rusqlite::Connection, id: Guid) -> Result<Reply, ApiError> {
    let from = privileges::from_clause(&MAILBOX, ctx.user);
    let mailbox = load(c, &MAILBOX, &from, id)?.ok_or_else(|| record_not_found(&MAILBOX, id))?;
    let mut fields: HashMap<&'static str, String> = HashMap::new();
    for (col, v) in mailbox.cols.iter().zip(&mailbox.values) {
        if col.readable() {
            if let Some(s) = log_value(col.name, col.kind, v) {
                fields.insert(col.name, s);
            }
        }
    }
    let profile = match mailbox.get("emailserverprofile") {
        SqlParam::Text(p) => Guid::parse(p),
        _ => None,
    };
    if let Some(pid) = profile {
        // Through the user's view: a user without a role reads the profile's settings,
        // never the accounts it signs in with.
        let from = privileges::from_clause(&EMAILSERVERPROFILE, ctx.user);
        if let Some(p) = load(c, &EMAILSERVERPROFILE, &from, pid)? {
            for (col, v) in p.cols.iter().zip(&p.values) {
                if col.readable() && !fields.contains_key(col.name) {
                    if let Some(s) = log_value(col.name, col.kind, v) {
                        fields.insert(col.name, s);
                    }
                }
            }
        }
    }
    let mut stmt = c.prepare(
        "SELECT tracecode, errortypedisplay, errordetails, text FROM tracelog \
         WHERE regardingobjectid = ?1 AND level >= 2 ORDER BY modifiedon DESC, tracelogid LIMIT 10",
    )?;
    let traces = stmt
        .query_map([id.to_string()], |r| {
            let details: Option<String> = r.get(2)?;
            let text: Option<String> = r.get(3)?;
            Ok(TraceEntry {
                tracecode: r.get::<_, Option<i64>>(0)?.unwrap_or(0),
                error_type: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                details: details.or(text).unwrap_or_default(),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let text = render(&|key: &str| fields.get(key).cloned(), &traces);
    let mut resp = Reply::empty(StatusCode::OK);
    resp.body = text.into_bytes();
    let h = &mut resp.headers;
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Ok(v) =
        HeaderValue::from_str(&format!("attachment; filename=\"MailboxDetails-{id}.log\""))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}
