//! The alerts that ask for action (core's `engine::prompt`): a cycle's creates held
//! back while an item waits for a decision, new prompts for duplicates and for items
//! linked elsewhere, and the decisions given through the Web API carried out.

use std::collections::HashSet;

use mailsync_core::engine::act::{self, Action, Here, Item, Kind};
use mailsync_core::engine::alerts::{level, Alert, On};
use mailsync_core::engine::prompt::{self, Decision, Prompt};
use mailsync_core::engine::Mailbox;
use mailsync_core::Timestamp;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::sql::{self, key_column, link, Linked};
use crate::engine::db;
use crate::engine::Engine;
use crate::mail::ews_act::Session;
use crate::store::{new_guid, write_tx, Result, StoreError};

/// A decision to ask for: the item and, for duplicates, the matching records.
pub struct Ask {
    prompt: Prompt,
    item: Item,
    name: String,
    /// `(record id, description)`.
    candidates: Vec<(String, String)>,
    /// A scheduling conflict's unavailable mailbox.
    unavailable: Option<String>,
}

/// Takes out of `actions` the records to create from items that wait for a decision,
/// and those that duplicate existing records (they become prompts).
pub fn hold_for_decisions(
    c: &Connection,
    mailbox: &str,
    kind: Kind,
    actions: Vec<Action>,
) -> rusqlite::Result<(Vec<Action>, Vec<Ask>)> {
    let mut keep = Vec::new();
    let mut asks = Vec::new();
    // Records an item linked elsewhere names, waiting for Relink or Ignore: not created
    // in Exchange meanwhile (Relink would make that a second item).
    let mut named: HashSet<String> = c
        .prepare_cached(
            "SELECT candidates FROM actprompt WHERE mailboxid = ?1 AND objecttypecode = ?2 AND prompt = ?3",
        )?
        .query_map(
            params![mailbox, kind.object_type_code(), Prompt::PreviouslyLinked.code()],
            |r| r.get::<_, String>(0),
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?
        .iter()
        .flat_map(|c| c.split(',').map(str::to_ascii_lowercase).collect::<Vec<_>>())
        .filter(|c| !c.is_empty())
        .collect();
    let mut waiting = c.prepare_cached(
        "SELECT 1 FROM actprompt WHERE mailboxid = ?1 AND objecttypecode = ?2 AND exchangeentryid = ?3",
    )?;
    for action in actions {
        let (item, values, linked_before) = match &action {
            Action::CreateRecord { item, values } => (item, values, false),
            Action::AskPreviouslyLinked { item, values } => (item, values, true),
            _ => {
                keep.push(action);
                continue;
            }
        };
        if waiting
            .query_row(params![mailbox, kind.object_type_code(), item.id], |_| {
                Ok(())
            })
            .optional()?
            .is_some()
        {
            continue;
        }
        let name = prompt::item_name(kind, values);
        if linked_before {
            // The record the marker names, when it is one of this organization's: Relink
            // links the item to it again.
            let record = item
                .marker
                .as_deref()
                .and_then(act::parse_marker)
                .map(|m| m.record);
            let candidates = match record {
                Some(r) => described(c, kind, &r)?.into_iter().collect(),
                None => Vec::new(),
            };
            named.extend(candidates.iter().map(|(id, _)| id.to_ascii_lowercase()));
            asks.push(Ask {
                prompt: Prompt::PreviouslyLinked,
                name,
                item: item.clone(),
                candidates,
                unavailable: None,
            });
            continue;
        }
        if kind == Kind::Appointment {
            match conflict(c, values)? {
                None => keep.push(action),
                Some((unavailable, candidates)) => asks.push(Ask {
                    prompt: Prompt::SchedulingConflict,
                    name,
                    item: item.clone(),
                    candidates,
                    unavailable: Some(unavailable),
                }),
            }
            continue;
        }
        let candidates = match prompt::duplicate_key(kind, values) {
            Some(key) => duplicates(c, kind, &key)?,
            None => Vec::new(),
        };
        if candidates.is_empty() {
            keep.push(action);
        } else {
            asks.push(Ask {
                prompt: Prompt::Duplicates,
                name,
                item: item.clone(),
                candidates,
                unavailable: None,
            });
        }
    }
    keep.retain(|a| {
        !matches!(a, Action::CreateItem { record_id, .. } if named.contains(&record_id.to_ascii_lowercase()))
    });
    Ok((keep, asks))
}

/// A record of this organization with a description, if it exists.
fn described(c: &Connection, kind: Kind, id: &str) -> rusqlite::Result<Option<(String, String)>> {
    let name = match kind {
        Kind::Contact => "COALESCE(fullname, '')",
        Kind::Appointment | Kind::Task => "COALESCE(subject, '')",
    };
    c.query_row(
        &format!(
            "SELECT {}, {name} FROM {} WHERE {} = ?1 COLLATE NOCASE",
            key_column(kind),
            kind.table(),
            key_column(kind)
        ),
        [id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// The records `key` (core's `prompt::duplicate_key`) matches.
fn duplicates(c: &Connection, kind: Kind, key: &str) -> rusqlite::Result<Vec<(String, String)>> {
    match kind {
        Kind::Contact => c
            .prepare_cached(
                "SELECT contactid, COALESCE(fullname, ''), COALESCE(emailaddress1, '') FROM contact \
                 WHERE emailaddress1 = ?1 COLLATE NOCASE ORDER BY createdon LIMIT 10",
            )?
            .query_map([key], |r| {
                let (id, name, email): (String, String, String) =
                    (r.get(0)?, r.get(1)?, r.get(2)?);
                Ok((id, format!("{name} <{email}>").trim().to_string()))
            })?
            .collect(),
        Kind::Appointment | Kind::Task => Ok(Vec::new()),
    }
}

/// Microsoft's booking check for a meeting tracked from Exchange: "server-side sync
/// uses the booking API to make sure that attendees are available at the specified
/// time. For example, if the organizer's calendar in Dynamics 365 has another
/// appointment at the same time, the booking fails". The organizer and the required
/// attendees who have a mailbox here are checked against their appointments that
/// overlap it and make them unavailable (Open or Scheduled, and not Free); a meeting
/// shown as Free books nobody. `Some((the unavailable mailbox, its appointments))`.
type Conflict = (String, Vec<(String, String)>);

fn conflict(c: &Connection, values: &act::Values) -> rusqlite::Result<Option<Conflict>> {
    let (Some(start), Some(end)) = (values.get("scheduledstart"), values.get("scheduledend"))
    else {
        return Ok(None);
    };
    if values.get("statuscode").map(String::as_str) == Some("1") {
        return Ok(None);
    }
    let uid = values.get("globalobjectid").cloned().unwrap_or_default();
    let people = [values.get("organizer"), values.get("requiredattendees")]
        .into_iter()
        .flatten()
        .flat_map(|list| list.split(';').map(str::to_string).collect::<Vec<_>>())
        .filter(|a| !a.is_empty());
    let mut busy = c.prepare_cached(
        "SELECT a.activityid, COALESCE(a.subject, ''), a.scheduledstart, m.name \
         FROM systemuser u JOIN mailbox m ON m.regardingobjectid = u.systemuserid \
         JOIN activityparty p ON p.partyid = u.systemuserid AND p.participationtypemask IN (5, 7) \
         JOIN appointment a ON a.activityid = p.activityid \
         WHERE u.internalemailaddress = ?1 COLLATE NOCASE AND a.statecode IN (0, 3) \
         AND a.statuscode <> 1 AND julianday(a.scheduledstart) < julianday(?3) \
         AND julianday(a.scheduledend) > julianday(?2) \
         AND (?4 = '' OR COALESCE(a.globalobjectid, '') <> ?4 COLLATE NOCASE) \
         ORDER BY a.scheduledstart LIMIT 10",
    )?;
    for address in people {
        let rows: Vec<(String, String, Option<String>, String)> = busy
            .query_map(params![address, start, end, uid], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        if let Some(mailbox) = rows.first().map(|r| r.3.clone()) {
            let candidates = rows
                .into_iter()
                .map(|(id, subject, at, _)| {
                    (
                        id,
                        format!("{subject} ({})", at.unwrap_or_default())
                            .trim()
                            .to_string(),
                    )
                })
                .collect();
            return Ok(Some((mailbox, candidates)));
        }
    }
    Ok(None)
}

/// Writes the alert that asks, on the mailbox, and what the engine needs to carry the
/// answer out. The duplicates are named in the alert's details as `contacts(<id>)`, so
/// the console links them and offers each for "Link to this record".
pub fn ask(
    tx: &Transaction<'_>,
    mailbox: &str,
    mailbox_name: &str,
    kind: Kind,
    a: &Ask,
    now: Timestamp,
) -> Result<()> {
    let set = match kind {
        Kind::Appointment => "appointments",
        Kind::Contact => "contacts",
        Kind::Task => "tasks",
    };
    let mut details = format!("Exchange item: {}", a.item.id);
    for (id, description) in &a.candidates {
        let label = match a.prompt {
            Prompt::Duplicates => "Duplicate",
            Prompt::SchedulingConflict => "Conflicts with",
            Prompt::PreviouslyLinked => "Linked before to",
        };
        details.push_str(&format!("\n{label}: {set}({id}) {description}"));
    }
    let alert = Alert {
        on: On::Mailbox,
        level: level::WARNING,
        tracecode: a.prompt.tracecode(),
        error_type: a.prompt.error_type().to_string(),
        text: a.prompt.text(
            kind,
            &a.name,
            a.unavailable.as_deref().unwrap_or(mailbox_name),
        ),
        details: details.clone(),
    };
    let stamp = now.to_rfc3339();
    let tracelog = db::insert_alert(tx, &alert, &details, (mailbox, "mailbox"), &stamp, now)?;
    let candidates: Vec<&str> = a.candidates.iter().map(|(id, _)| id.as_str()).collect();
    tx.execute(
        "INSERT INTO actprompt (actpromptid, mailboxid, objecttypecode, exchangeentryid, prompt, \
         itemname, candidates, tracelogid) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            new_guid()?,
            mailbox,
            kind.object_type_code(),
            a.item.id,
            a.prompt.code(),
            a.name,
            candidates.join(","),
            tracelog
        ],
    )?;
    Ok(())
}

/// A decision given and not yet carried out.
struct Decided {
    id: String,
    exchange_id: String,
    item_name: String,
    tracelog: String,
    decision: Decision,
    /// LinkToRecord's record, or for Relink the record the item was linked to.
    record: Option<String>,
    by: String,
}

type DecidedRow = (
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
    String,
    String,
);

fn decided(c: &Connection, mailbox: &str, kind: Kind) -> Result<Vec<Decided>> {
    let mut stmt = c.prepare_cached(
        "SELECT p.actpromptid, p.exchangeentryid, p.itemname, p.tracelogid, p.decision, \
         p.decisionrecordid, COALESCE(u.fullname, 'a user'), p.candidates FROM actprompt p \
         LEFT JOIN systemuser u ON u.systemuserid = p.decidedby \
         WHERE p.mailboxid = ?1 AND p.objecttypecode = ?2 AND p.decision IS NOT NULL",
    )?;
    let rows = stmt
        .query_map(params![mailbox, kind.object_type_code()], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<DecidedRow>>>()?;
    Ok(rows
        .into_iter()
        .filter_map(
            |(id, exchange_id, item_name, tracelog, d, record, by, candidates)| {
                let decision = Decision::from_code(d)?;
                let record = match decision {
                    Decision::Relink => candidates
                        .split(',')
                        .find(|c| !c.is_empty())
                        .map(str::to_string),
                    _ => record,
                };
                Some(Decided {
                    id,
                    exchange_id,
                    item_name,
                    tracelog,
                    decision,
                    record,
                    by,
                })
            },
        )
        .collect())
}

/// Carries out the decisions given on this mailbox's prompts of `kind`: the item read
/// again from Exchange and marked as linked here, saved or linked as decided, the alert
/// replaced by an Information alert saying what was done.
pub async fn carry_out_decisions(
    engine: &Engine,
    session: &Session<'_>,
    here: Here<'_>,
    mailbox: &Mailbox,
    user: &str,
    kind: Kind,
) -> std::result::Result<std::result::Result<(), crate::mail::Failure>, StoreError> {
    let mbox = mailbox.id.clone();
    let all = engine.store.call(move |c| decided(c, &mbox, kind)).await?;
    for d in all {
        let mut item = None;
        let mut target = None;
        if d.decision.saves() {
            item = match session.get(kind, &d.exchange_id).await {
                Ok(item) => item,
                Err(f) => return Ok(Err(f)),
            };
            if let Some(found) = item.as_mut() {
                // The record it becomes: the one chosen (when it still exists), else new.
                let chosen = d.record.clone();
                let exists = match chosen.clone() {
                    Some(r) => {
                        engine
                            .store
                            .call(move |c| Ok(described(c, kind, &r)?.is_some()))
                            .await?
                    }
                    None => false,
                };
                let record = match (exists, chosen) {
                    (true, Some(r)) => r,
                    _ => new_guid()?,
                };
                let m = act::marker(here, &record);
                match session
                    .update(kind, &found.id, &found.change_key, None, Some(&m), false)
                    .await
                {
                    Ok(Ok((_, change_key))) => found.change_key = change_key,
                    Ok(Err(_)) => {}
                    Err(f) => return Ok(Err(f)),
                }
                target = Some((record, exists));
            }
        }
        let (mbox, owner, now) = (mailbox.id.clone(), user.to_string(), engine.clock.now());
        engine
            .store
            .call(move |c| {
                write_tx(c, |tx| {
                    carry_out(
                        tx,
                        &mbox,
                        &owner,
                        kind,
                        &d,
                        item.as_ref().zip(target.as_ref()),
                        now,
                    )
                })
            })
            .await?;
    }
    Ok(Ok(()))
}

/// Writes one decision's result: the record and link, the alert replaced.
fn carry_out(
    tx: &Transaction<'_>,
    mailbox: &str,
    user: &str,
    kind: Kind,
    d: &Decided,
    found: Option<(&Item, &(String, bool))>,
    now: Timestamp,
) -> Result<()> {
    let text = match (d.decision.saves(), found) {
        (true, None) => format!(
            "The {} \"{}\" was deleted in Exchange before the decision of {} could be carried out; nothing was saved.",
            kind.noun(),
            d.item_name,
            d.by
        ),
        (true, Some((item, (record, exists)))) => {
            let linked = Linked {
                completed: act::completed_in_exchange(kind, &item.props),
                tracked: true,
            };
            match (d.decision, exists) {
                (Decision::LinkToRecord, false) => format!(
                    "The record chosen for the {} \"{}\" no longer exists; nothing was linked. The item stays in Exchange.",
                    kind.noun(),
                    d.item_name
                ),
                (_, true) => {
                    link(tx, mailbox, user, kind, &item.id, &item.change_key, record, linked)?;
                    // The link is older than the record: the plan that follows writes
                    // the record's values to Exchange.
                    tx.execute(
                        "UPDATE exchangesyncidmapping SET syncedversion = 0 WHERE mailboxid = ?1 \
                         AND objecttypecode = ?2 AND exchangeentryid = ?3",
                        params![mailbox, kind.object_type_code(), item.id],
                    )?;
                    d.decision.outcome(kind, &d.item_name, &d.by)
                }
                (_, false) => {
                    let values = act::to_record(kind, &item.props);
                    // A meeting another party's mailbox saved meanwhile: linked to it.
                    let saved = match kind {
                        Kind::Appointment => sql::meeting(tx, &values)?,
                        _ => None,
                    };
                    let record = match saved {
                        Some(id) => id,
                        None => {
                            sql::insert_record(tx, kind, record, user, &values)?;
                            record.clone()
                        }
                    };
                    link(tx, mailbox, user, kind, &item.id, &item.change_key, &record, linked)?;
                    d.decision.outcome(kind, &d.item_name, &d.by)
                }
            }
        }
        (false, _) => d.decision.outcome(kind, &d.item_name, &d.by),
    };
    tx.execute("DELETE FROM tracelog WHERE tracelogid = ?1", [&d.tracelog])?;
    tx.execute("DELETE FROM actprompt WHERE actpromptid = ?1", [&d.id])?;
    let (org, _) = db::org(tx)?;
    if org.alerts_for_information {
        let alert = Alert {
            on: On::Mailbox,
            level: level::INFORMATION,
            tracecode: prompt::OUTCOME_TRACECODE,
            error_type: String::new(),
            text,
            details: String::new(),
        };
        let stamp = now.to_rfc3339();
        db::insert_alert(tx, &alert, "", (mailbox, "mailbox"), &stamp, now)?;
    }
    Ok(())
}
