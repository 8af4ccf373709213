//! `GET /mailboxes(<id>)/Microsoft.Dynamics.CRM.DownloadMailboxDetails()`: the mailbox's
//! Mailbox Details log as `text/plain`, in the product's layout (core's
//! `writer::render`), from the stored mailbox, its profile and its last 10 error and
//! warning alerts (the log's traces are errors; Information alerts are not), so
//! the Log Analyzer reads it back to the stored facts.

use axum::http::{header, HeaderValue, StatusCode};
use mailsync_core::model::{EMAILSERVERPROFILE, MAILBOX};
use mailsync_core::odata::Guid;
use mailsync_core::writer::{compose, MAX_TRACES};
use serde_json::{json, Map, Value};

use super::json::to_json;
use super::privileges;
use super::rules::Stored;
use super::write::load;
use super::{record_not_found, Ctx, Reply};
use crate::error::ApiError;
use crate::odata_sql::SqlParam;

/// A stored record as the Web API returns it (readable columns by property name).
fn record(stored: &Stored) -> Value {
    let mut m = Map::new();
    for (col, v) in stored.cols.iter().zip(&stored.values) {
        if col.readable() {
            m.insert(col.property(), to_json(col.kind, v));
        }
    }
    Value::Object(m)
}

pub fn mailbox_details(ctx: &Ctx, c: &rusqlite::Connection, id: Guid) -> Result<Reply, ApiError> {
    let from = privileges::from_clause(&MAILBOX, ctx.user);
    let mailbox = load(c, &MAILBOX, &from, id)?.ok_or_else(|| record_not_found(&MAILBOX, id))?;
    let profile = match mailbox.get("emailserverprofile") {
        SqlParam::Text(p) => Guid::parse(p),
        _ => None,
    };
    let profile = match profile {
        // Through the user's view: a user without a role reads the profile's settings,
        // never the accounts it signs in with.
        Some(pid) => load(
            c,
            &EMAILSERVERPROFILE,
            &privileges::from_clause(&EMAILSERVERPROFILE, ctx.user),
            pid,
        )?
        .map(|p| record(&p)),
        None => None,
    };
    let mut stmt = c.prepare(&format!(
        "SELECT level, tracecode, errortypedisplay, errordetails, text FROM tracelog \
         WHERE regardingobjectid = ?1 AND level >= 2 ORDER BY modifiedon DESC, tracelogid \
         LIMIT {MAX_TRACES}"
    ))?;
    let alerts = stmt
        .query_map([id.to_string()], |r| {
            Ok(json!({
                "level": r.get::<_, Option<i64>>(0)?,
                "tracecode": r.get::<_, Option<i64>>(1)?,
                "errortypedisplay": r.get::<_, Option<String>>(2)?,
                "errordetails": r.get::<_, Option<String>>(3)?,
                "text": r.get::<_, Option<String>>(4)?,
            }))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let text = compose(&record(&mailbox), profile.as_ref(), &alerts);
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
