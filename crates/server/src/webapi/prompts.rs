//! `POST /tracelogs(<id>)/Microsoft.Dynamics.CRM.mailsync_<Decision>`: the answer to an
//! alert that asks for action (core's `engine::prompt`: duplicates found, a scheduling
//! conflict, previously linked items). The decision is recorded and the mailbox's
//! appointments, contacts and tasks made due now; the engine carries it out in that
//! cycle, then deletes the alert and writes an Information alert saying what was done.
//!
//! Who may answer: an administrator, or the user whose mailbox it is (its user, its
//! owner, or a member of its owning team): the decision creates or links records in
//! that user's name. Approvers manage mail configuration, not people's contacts.

use axum::http::StatusCode;
use mailsync_core::engine::prompt::{Decision, Prompt};
use mailsync_core::odata::Guid;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use super::privileges::{self, Tier};
use super::{errcodes, Ctx, Reply};
use crate::error::ApiError;

/// The bound actions' prefix in a request path.
pub const PREFIX: &str = "Microsoft.Dynamics.CRM.mailsync_";

pub fn decide(
    ctx: &Ctx,
    c: &Connection,
    alert: Guid,
    segment: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let name = segment
        .strip_prefix("Microsoft.Dynamics.CRM.")
        .unwrap_or(segment);
    let decision = Decision::from_action(name).ok_or_else(|| {
        ApiError::not_found(format!("Resource not found for the segment '{segment}'."))
    })?;
    let from = privileges::from_clause(&mailsync_core::model::TRACELOG, ctx.user);
    let row: Option<(String, Option<String>)> = c
        .query_row(
            &format!(
                "SELECT COALESCE(regardingobjectid, ''), errortypedisplay FROM {from} WHERE tracelogid = ?1"
            ),
            [alert.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((mailbox, error_type)) = row else {
        return Err(super::record_not_found(
            &mailsync_core::model::TRACELOG,
            alert,
        ));
    };
    let prompt: Option<(String, i64, String, Option<i64>)> = c
        .query_row(
            "SELECT actpromptid, prompt, candidates, decision FROM actprompt WHERE tracelogid = ?1",
            [alert.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let (Some((id, kind, candidates, decided)), Some(asked)) =
        (prompt, error_type.as_deref().and_then(Prompt::of_alert))
    else {
        return Err(ApiError::bad_request(format!(
            "The alert {alert} does not ask for a decision: {name} applies only to the alerts that \
             synchronizing appointments, contacts and tasks raises to ask the user."
        )));
    };
    if Prompt::from_code(kind) != Some(asked) || !asked.decisions().contains(&decision) {
        let offered: Vec<&str> = asked.decisions().iter().map(|d| d.action()).collect();
        return Err(ApiError::bad_request(format!(
            "{name} does not answer this alert ({}); it offers {}.",
            asked.error_type(),
            offered.join(", ")
        )));
    }
    if decided.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            errcodes::UNSUPPORTED_OPERATION,
            "A decision was already given on this alert; it is carried out in the mailbox's next synchronization cycle.",
        ));
    }
    if !may_decide(ctx, c, &mailbox)? {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            errcodes::PRIVILEGE_DENIED,
            "Only the mailbox's user or an administrator may answer this alert: the decision saves records in that user's name.",
        ));
    }
    let record = if decision == Decision::LinkToRecord {
        let wanted = record_id(body)?;
        if !candidates
            .split(',')
            .any(|c| c.eq_ignore_ascii_case(&wanted.to_string()))
        {
            return Err(ApiError::bad_request(format!(
                "RecordId {wanted} is not one of the duplicates this alert names."
            )));
        }
        Some(wanted.to_string())
    } else {
        None
    };
    c.execute(
        "UPDATE actprompt SET decision = ?2, decisionrecordid = ?3, decidedby = ?4 WHERE actpromptid = ?1",
        params![id, decision.code(), record, ctx.user.systemuserid],
    )?;
    // The next cycle is now: the decision is carried out as soon as the engine can.
    c.execute(
        "UPDATE mailbox SET receivingpostponeduntilforact = strftime('%Y-%m-%dT%H:%M:%SZ','now'), \
         postponemailboxprocessinguntil = MIN(COALESCE(postponemailboxprocessinguntil, \
         strftime('%Y-%m-%dT%H:%M:%SZ','now')), strftime('%Y-%m-%dT%H:%M:%SZ','now')) \
         WHERE mailboxid = ?1",
        [&mailbox],
    )?;
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

/// The user of the mailbox (its user, its owner or a member of its owning team), or an
/// administrator.
fn may_decide(ctx: &Ctx, c: &Connection, mailbox: &str) -> Result<bool, ApiError> {
    if Tier::of(ctx.user) == Tier::Administrator {
        return Ok(true);
    }
    let me = &ctx.user.systemuserid;
    Ok(c.query_row(
        "SELECT 1 FROM mailbox WHERE mailboxid = ?1 AND (regardingobjectid = ?2 OR ownerid = ?2 \
         OR ownerid IN (SELECT teamid FROM teammembership WHERE systemuserid = ?2))",
        params![mailbox, me],
        |_| Ok(()),
    )
    .optional()?
    .is_some())
}

/// `{"RecordId": "<guid>"}`, the action's parameter.
fn record_id(body: &[u8]) -> Result<Guid, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "mailsync_LinkToRecord needs a JSON body with RecordId: {e}"
        ))
    })?;
    v.get("RecordId")
        .and_then(Value::as_str)
        .and_then(Guid::parse)
        .ok_or_else(|| {
            ApiError::bad_request(
                "mailsync_LinkToRecord needs RecordId, the id of one of the duplicates.",
            )
        })
}
