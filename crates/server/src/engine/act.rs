//! Appointments, contacts and tasks of one mailbox over EWS: the primary organization
//! recorded in the Exchange mailbox, then, for contacts and tasks, the folder's changes
//! (SyncFolderItems from the sync state kept per mailbox and folder), core's
//! `engine::act::plan` of what to do, the EWS writes, and the records, links and new
//! sync state written in one transaction per folder.
//!
//! Queue mailboxes have no appointments, contacts and tasks ("queue mailboxes don't
//! support appointment, contact, or task sync"): nothing is done for them.

use std::collections::HashMap;

use mailsync_core::engine::act::{self, Action, Change, Item, Kind, Link, Primary, Record, Values};
use mailsync_core::engine::alerts::{level, Alert, On};
use mailsync_core::engine::prompt::{self, Decision, Prompt};
use mailsync_core::engine::protocol::Plan;
use mailsync_core::engine::{ConnectionFailure, DirectionResult, FailureKind, Mailbox};
use mailsync_core::Timestamp;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::db;
use super::io::{failure, Io};
use super::Engine;
use crate::mail::ews_act::{Session, SyncPage};
use crate::store::{new_guid, write_tx, Result, StoreError};

/// Actions one folder takes in one cycle; the rest wait for the next.
const ACTIONS_PER_CYCLE: usize = 500;
/// SyncFolderItems pages one folder reads in one cycle at most.
const PAGES_PER_CYCLE: usize = 20;
/// Records of a user one cycle reads at most per kind.
const RECORDS_PER_KIND: usize = 20_000;

/// What the engine reads about the mailbox and the organization first.
struct Context {
    org_id: String,
    settings: act::Settings,
    marked_primary: bool,
    /// The mailbox's user; `None` for a queue's mailbox.
    user: Option<String>,
}

fn context(c: &Connection, mailbox: &str) -> Result<Option<Context>> {
    let org: Option<(String, Option<String>)> = c
        .query_row(
            "SELECT organizationid, orgdborgsettings FROM organization LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((org_id, orgdb)) = org else {
        return Ok(None);
    };
    let row: Option<(bool, Option<String>, Option<String>)> = c
        .query_row(
            "SELECT orgmarkedasprimaryforexchangesync, regardingobjectid, regardingobjecttypecode \
             FROM mailbox WHERE mailboxid = ?1",
            [mailbox],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    Ok(row.map(|(marked_primary, regarding, kind)| Context {
        org_id,
        settings: act::Settings::from_org(orgdb.as_deref()),
        marked_primary,
        user: regarding.filter(|_| kind.as_deref() == Some("systemuser")),
    }))
}

/// A Test & Enable (`testing`) records this organization as the mailbox's primary one
/// where it may; a sync cycle synchronizes contacts and tasks both ways.
pub async fn run(
    engine: &Engine,
    io: &Io,
    mailbox: &Mailbox,
    plan: &Plan,
    testing: bool,
) -> std::result::Result<DirectionResult, StoreError> {
    let key = mailbox.id.clone();
    let Some(ctx) = engine.store.call(move |c| context(c, &key)).await? else {
        return Ok(done(0, 0));
    };
    let Some(user) = ctx.user.clone() else {
        return Ok(done(0, 0));
    };
    let (session, url) = match io.ews_session(plan).await {
        Ok(s) => s,
        Err(f) => return Ok(DirectionResult::Failed(f)),
    };
    if let Err(f) = primary(&session, &url, plan, &ctx, testing).await {
        return Ok(DirectionResult::Failed(f));
    }
    if testing {
        return Ok(done(0, 0));
    }
    let (mut items, mut failed) = (0, 0);
    for kind in Kind::ALL {
        match folder(engine, &session, plan, mailbox, &ctx, &user, kind).await? {
            Ok((n, f)) => {
                items += n;
                failed += f;
            }
            Err(f) => return Ok(DirectionResult::Failed(f)),
        }
    }
    Ok(done(items, failed))
}

fn done(items: i64, failed: i64) -> DirectionResult {
    DirectionResult::Done { items, failed }
}

/// Reads the organization the Exchange mailbox names and claims it where core says so.
async fn primary(
    session: &Session<'_>,
    url: &str,
    plan: &Plan,
    ctx: &Context,
    testing: bool,
) -> std::result::Result<(), ConnectionFailure> {
    let recorded = session.organization().await.map_err(|f| failure(plan, f))?;
    let state = match &recorded {
        None => Primary::Unclaimed,
        Some(id) if id.eq_ignore_ascii_case(&ctx.org_id) => Primary::Ours,
        Some(id) => Primary::Other(id.clone()),
    };
    match act::claim(&state, ctx.marked_primary, testing) {
        Ok(false) => Ok(()),
        Ok(true) => session
            .claim(&ctx.org_id, recorded.is_some())
            .await
            .map_err(|f| failure(plan, f)),
        Err(other) => Err(ConnectionFailure {
            kind: FailureKind::OtherOrganization,
            server: url.to_string(),
            message: format!("the Exchange mailbox synchronizes with the organization {other}"),
        }),
    }
}

/// One folder: read, ask Exchange, plan, write to Exchange, write here. `Ok(Err)` when
/// Exchange failed as a whole (the direction fails); item-level refusals are counted.
async fn folder(
    engine: &Engine,
    session: &Session<'_>,
    plan: &Plan,
    mailbox: &Mailbox,
    ctx: &Context,
    user: &str,
    kind: Kind,
) -> std::result::Result<std::result::Result<(i64, i64), ConnectionFailure>, StoreError> {
    if let Err(f) = decisions(engine, session, mailbox, user, kind).await? {
        return Ok(Err(failure(plan, f)));
    }
    let (mbox, owner) = (mailbox.id.clone(), user.to_string());
    let (state, links, records) = engine
        .store
        .call(move |c| read_folder(c, &mbox, &owner, kind))
        .await?;
    let (changes, new_state) = match changes(session, kind, state).await {
        Ok(c) => c,
        Err(f) => return Ok(Err(failure(plan, f))),
    };
    let actions = act::plan(
        kind,
        user,
        ctx.settings,
        &links,
        &changes,
        &records,
        ACTIONS_PER_CYCLE,
    );
    // Items waiting for a decision stay out; new duplicates become prompts.
    let mbox = mailbox.id.clone();
    let (actions, prompts) = engine
        .store
        .call(move |c| Ok(hold_for_decisions(c, &mbox, kind, actions)?))
        .await?;
    // Exchange first: what it refuses is not recorded here, and tried again next cycle.
    let mut applied = Vec::new();
    let mut failed = 0i64;
    for action in actions {
        let result = match &action {
            Action::CreateItem { props, .. } => {
                session.create(kind, props, &[]).await.map(|r| r.map(Some))
            }
            Action::UpdateItem {
                exchange_id,
                change_key,
                props,
                ..
            } => session
                .update(kind, exchange_id, change_key, props)
                .await
                .map(|r| r.map(Some)),
            Action::DeleteItem { exchange_id, .. } => session
                .delete(kind, exchange_id)
                .await
                .map(|r| r.map(|_| None)),
            _ => Ok(Ok(None)),
        };
        match result {
            Ok(Ok(written)) => applied.push((action, written)),
            Ok(Err(_item_error)) => failed += 1,
            Err(f) => return Ok(Err(failure(plan, f))),
        }
    }
    let count = applied.len() as i64;
    let (mbox, owner) = (mailbox.id.clone(), user.to_string());
    let (name, now) = (mailbox.name.clone(), engine.clock.now());
    engine
        .store
        .call(move |c| {
            write_tx(c, |tx| {
                write_folder(tx, &mbox, &owner, kind, &applied, &new_state)?;
                for p in &prompts {
                    ask(tx, &mbox, &name, kind, p, now)?;
                }
                Ok(())
            })
        })
        .await?;
    Ok(Ok((count, failed)))
}

/// The folder's changes since `state`, page after page; a state Exchange refuses
/// starts the folder again (every item comes as a Create, linked ones are matched).
async fn changes(
    session: &Session<'_>,
    kind: Kind,
    mut state: Option<String>,
) -> std::result::Result<(Vec<Change>, Option<String>), crate::mail::Failure> {
    let mut all: Vec<Change> = Vec::new();
    let mut restarted = false;
    for _ in 0..PAGES_PER_CYCLE {
        let page: SyncPage = match session.sync(kind, state.as_deref()).await? {
            Some(p) => p,
            None if !restarted => {
                restarted = true;
                state = None;
                all.clear();
                continue;
            }
            None => break,
        };
        all.extend(page.changes);
        if !page.state.is_empty() {
            state = Some(page.state);
        }
        if page.last {
            break;
        }
    }
    // One change per item, the latest, where the latest happened.
    let id = |c: &Change| match c {
        Change::Upsert(i) => i.id.clone(),
        Change::Delete(id) => id.clone(),
    };
    let mut last: HashMap<String, usize> = HashMap::new();
    for (i, c) in all.iter().enumerate() {
        last.insert(id(c), i);
    }
    let changes = all
        .iter()
        .enumerate()
        .filter(|(i, c)| last.get(&id(c)) == Some(i))
        .map(|(_, c)| c.clone())
        .collect();
    Ok((changes, state))
}

type Folder = (Option<String>, Vec<Link>, Vec<Record>);

fn read_folder(c: &mut Connection, mailbox: &str, user: &str, kind: Kind) -> Result<Folder> {
    let state: Option<String> = c
        .query_row(
            "SELECT syncstate FROM exchangesyncstate WHERE mailboxid = ?1 AND folder = ?2",
            params![mailbox, kind.folder()],
            |r| r.get(0),
        )
        .optional()?;
    let mut stmt = c.prepare_cached(
        "SELECT exchangeentryid, exchangechangekey, objectid, syncedversion, recordownerid, \
         completedinexchange, tracked FROM exchangesyncidmapping WHERE mailboxid = ?1 AND objecttypecode = ?2",
    )?;
    let links: Vec<Link> = stmt
        .query_map(params![mailbox, kind.object_type_code()], |r| {
            Ok(Link {
                exchange_id: r.get(0)?,
                change_key: r.get(1)?,
                record_id: r.get(2)?,
                version: r.get(3)?,
                owner: r.get(4)?,
                completed_in_exchange: r.get(5)?,
                tracked: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let (table, key) = (kind.table(), key_column(kind));
    let columns = act::columns(kind);
    let select = format!(
        "SELECT {key}, versionnumber, ownerid, {} FROM {table}",
        columns.join(", ")
    );
    let read = |r: &rusqlite::Row<'_>| -> rusqlite::Result<Record> {
        let mut values = Values::new();
        for (i, column) in columns.iter().enumerate() {
            let v: rusqlite::types::Value = r.get(3 + i)?;
            let text = match v {
                rusqlite::types::Value::Text(t) => Some(t),
                rusqlite::types::Value::Integer(n) => Some(n.to_string()),
                rusqlite::types::Value::Real(f) => Some(f.to_string()),
                _ => None,
            };
            if let Some(t) = text {
                values.insert(column.to_string(), t);
            }
        }
        let owner: Option<String> = r.get(2)?;
        Ok(Record {
            id: r.get(0)?,
            version: r.get(1)?,
            selected: act::selected(kind, user, owner.as_deref(), &values),
            owner,
            values,
        })
    };
    let mut records: Vec<Record> = c
        .prepare(&format!(
            "{select} WHERE ownerid = ?1 ORDER BY modifiedon LIMIT {RECORDS_PER_KIND}"
        ))?
        .query_map([user], read)?
        .collect::<rusqlite::Result<_>>()?;
    let mut one = c.prepare(&format!("{select} WHERE {key} = ?1"))?;
    for link in &links {
        if records.iter().any(|r| r.id == link.record_id) {
            continue;
        }
        if let Some(r) = one.query_row([&link.record_id], read).optional()? {
            records.push(r);
        }
    }
    Ok((state, links, records))
}

fn key_column(kind: Kind) -> &'static str {
    match kind {
        Kind::Contact => "contactid",
        Kind::Task => "activityid",
    }
}

/// Writes what was done in one transaction: records, links, the new sync state.
fn write_folder(
    tx: &Transaction<'_>,
    mailbox: &str,
    user: &str,
    kind: Kind,
    applied: &[(Action, Option<(String, String)>)],
    state: &Option<String>,
) -> Result<()> {
    let otc = kind.object_type_code();
    for (action, written) in applied {
        match action {
            Action::CreateRecord { item, values } => {
                let id = new_guid()?;
                insert_record(tx, kind, &id, user, values)?;
                link(
                    tx,
                    mailbox,
                    user,
                    kind,
                    &item.id,
                    &item.change_key,
                    &id,
                    Linked {
                        completed: act::completed_in_exchange(kind, &item.props),
                        tracked: true,
                    },
                )?;
            }
            Action::UpdateRecord {
                record_id,
                item,
                values,
            } => {
                update_record(tx, kind, record_id, values)?;
                link(
                    tx,
                    mailbox,
                    user,
                    kind,
                    &item.id,
                    &item.change_key,
                    record_id,
                    Linked {
                        completed: act::completed_in_exchange(kind, &item.props),
                        tracked: false,
                    },
                )?;
            }
            Action::DeleteRecord {
                record_id,
                exchange_id,
            } => {
                tx.execute(
                    &format!(
                        "DELETE FROM {} WHERE {} = ?1",
                        kind.table(),
                        key_column(kind)
                    ),
                    [record_id],
                )?;
                unlink(tx, mailbox, otc, exchange_id)?;
            }
            Action::Unlink { exchange_id } | Action::DeleteItem { exchange_id, .. } => {
                unlink(tx, mailbox, otc, exchange_id)?;
            }
            Action::CreateItem { record_id, props }
            | Action::UpdateItem {
                record_id, props, ..
            } => {
                if let Some((id, change_key)) = written {
                    link(
                        tx,
                        mailbox,
                        user,
                        kind,
                        id,
                        change_key,
                        record_id,
                        Linked {
                            completed: act::completed_in_exchange(kind, props),
                            tracked: false,
                        },
                    )?;
                }
            }
        }
    }
    if let Some(state) = state {
        tx.execute(
            "INSERT INTO exchangesyncstate (mailboxid, folder, syncstate) VALUES (?1, ?2, ?3) \
             ON CONFLICT (mailboxid, folder) DO UPDATE SET syncstate = excluded.syncstate",
            params![mailbox, kind.folder(), state],
        )?;
    }
    Ok(())
}

fn unlink(tx: &Transaction<'_>, mailbox: &str, otc: i64, exchange_id: &str) -> Result<()> {
    tx.execute(
        "DELETE FROM exchangesyncidmapping WHERE mailboxid = ?1 AND objecttypecode = ?2 \
         AND exchangeentryid = ?3",
        params![mailbox, otc, exchange_id],
    )?;
    Ok(())
}

/// What a link records of the item besides its id.
struct Linked {
    /// Completed in Exchange (tasks).
    completed: bool,
    /// The user tracked it (see core's `act::Link::tracked`); a link once tracked
    /// stays so.
    tracked: bool,
}

/// Links (or re-links) an item and a record, as of the record's version now.
#[allow(clippy::too_many_arguments)]
fn link(
    tx: &Transaction<'_>,
    mailbox: &str,
    user: &str,
    kind: Kind,
    exchange_id: &str,
    change_key: &str,
    record_id: &str,
    linked: Linked,
) -> Result<()> {
    let (version, owner, subject): (i64, Option<String>, Option<String>) = tx.query_row(
        &format!(
            "SELECT versionnumber, ownerid, {} FROM {} WHERE {} = ?1",
            match kind {
                Kind::Contact => "fullname",
                Kind::Task => "subject",
            },
            kind.table(),
            key_column(kind)
        ),
        [record_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let id = new_guid()?;
    tx.execute(
        "INSERT INTO exchangesyncidmapping (exchangesyncidmappingid, mailboxid, exchangeentryid, \
         objectid, objecttypecode, ownerid, itemsubject, exchangechangekey, syncedversion, \
         recordownerid, completedinexchange, tracked) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
         ON CONFLICT (mailboxid, objecttypecode, exchangeentryid) DO UPDATE SET \
         objectid = excluded.objectid, itemsubject = excluded.itemsubject, \
         exchangechangekey = excluded.exchangechangekey, syncedversion = excluded.syncedversion, \
         recordownerid = excluded.recordownerid, completedinexchange = excluded.completedinexchange, \
         tracked = MAX(tracked, excluded.tracked), \
         modifiedon = strftime('%Y-%m-%dT%H:%M:%SZ','now')",
        params![
            id,
            mailbox,
            exchange_id,
            record_id,
            kind.object_type_code(),
            user,
            subject,
            change_key,
            version,
            owner,
            linked.completed,
            linked.tracked
        ],
    )?;
    Ok(())
}

fn sql_value(numeric: bool, v: Option<&String>) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match v {
        None => Value::Null,
        Some(t) if numeric => t.trim().parse::<i64>().map_or(Value::Null, Value::Integer),
        Some(t) => Value::Text(t.clone()),
    }
}

/// The contact's computed full name, from the values written.
fn full_name(values: &Values) -> Option<String> {
    act::full_name(
        values.get("firstname").map(String::as_str),
        values.get("middlename").map(String::as_str),
        values.get("lastname").map(String::as_str),
    )
}

fn insert_record(
    tx: &Transaction<'_>,
    kind: Kind,
    id: &str,
    user: &str,
    values: &Values,
) -> Result<()> {
    let mut names = vec![key_column(kind), "ownerid"];
    let mut args: Vec<rusqlite::types::Value> =
        vec![id.to_string().into(), user.to_string().into()];
    for (column, numeric) in act::columns_from_exchange(kind) {
        if let Some(v) = values.get(column) {
            names.push(column);
            args.push(sql_value(numeric, Some(v)));
        }
    }
    if kind == Kind::Contact {
        names.push("fullname");
        args.push(sql_value(false, full_name(values).as_ref()));
    }
    let marks: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
    tx.execute(
        &format!(
            "INSERT INTO {} ({}) VALUES ({})",
            kind.table(),
            names.join(", "),
            marks.join(", ")
        ),
        rusqlite::params_from_iter(args),
    )?;
    Ok(())
}

fn update_record(tx: &Transaction<'_>, kind: Kind, id: &str, values: &Values) -> Result<()> {
    let mut sets = Vec::new();
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    for (column, numeric) in act::columns_from_exchange(kind) {
        args.push(sql_value(numeric, values.get(column)));
        sets.push(format!("{column} = ?{}", args.len()));
    }
    if kind == Kind::Contact {
        args.push(sql_value(false, full_name(values).as_ref()));
        sets.push(format!("fullname = ?{}", args.len()));
    }
    args.push(id.to_string().into());
    tx.execute(
        &format!(
            "UPDATE {} SET {} WHERE {} = ?{}",
            kind.table(),
            sets.join(", "),
            key_column(kind),
            args.len()
        ),
        rusqlite::params_from_iter(args),
    )?;
    Ok(())
}

/// A decision to ask for: the item and, for duplicates, the matching records.
struct Ask {
    prompt: Prompt,
    item: Item,
    name: String,
    /// `(record id, description)`.
    candidates: Vec<(String, String)>,
}

/// Takes out of `actions` the records to create from items that wait for a decision,
/// and those that duplicate existing records (they become prompts).
fn hold_for_decisions(
    c: &Connection,
    mailbox: &str,
    kind: Kind,
    actions: Vec<Action>,
) -> rusqlite::Result<(Vec<Action>, Vec<Ask>)> {
    let mut keep = Vec::new();
    let mut asks = Vec::new();
    let mut waiting = c.prepare_cached(
        "SELECT 1 FROM actprompt WHERE mailboxid = ?1 AND objecttypecode = ?2 AND exchangeentryid = ?3",
    )?;
    for action in actions {
        let Action::CreateRecord { item, values } = &action else {
            keep.push(action);
            continue;
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
        let candidates = match prompt::duplicate_key(kind, values) {
            Some(key) => duplicates(c, kind, &key)?,
            None => Vec::new(),
        };
        if candidates.is_empty() {
            keep.push(action);
        } else {
            asks.push(Ask {
                prompt: Prompt::Duplicates,
                name: prompt::item_name(kind, values),
                item: item.clone(),
                candidates,
            });
        }
    }
    Ok((keep, asks))
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
        Kind::Task => Ok(Vec::new()),
    }
}

/// Writes the alert that asks, on the mailbox, and what the engine needs to carry the
/// answer out. The duplicates are named in the alert's details as `contacts(<id>)`, so
/// the console links them and offers each for "Link to this record".
fn ask(
    tx: &Transaction<'_>,
    mailbox: &str,
    mailbox_name: &str,
    kind: Kind,
    a: &Ask,
    now: Timestamp,
) -> Result<()> {
    let set = match kind {
        Kind::Contact => "contacts",
        Kind::Task => "tasks",
    };
    let mut details = format!("Exchange item: {}", a.item.id);
    for (id, description) in &a.candidates {
        details.push_str(&format!("\nDuplicate: {set}({id}) {description}"));
    }
    let alert = Alert {
        on: On::Mailbox,
        level: level::WARNING,
        tracecode: a.prompt.tracecode(),
        error_type: a.prompt.error_type().to_string(),
        text: a.prompt.text(kind, &a.name, mailbox_name),
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
    record: Option<String>,
    by: String,
}

type DecidedRow = (String, String, String, String, i64, Option<String>, String);

/// Carries out the decisions given on this mailbox's prompts of `kind`: the item read
/// again from Exchange, saved or linked as decided, the alert replaced by an
/// Information alert saying what was done.
async fn decisions(
    engine: &Engine,
    session: &Session<'_>,
    mailbox: &Mailbox,
    user: &str,
    kind: Kind,
) -> std::result::Result<std::result::Result<(), crate::mail::Failure>, StoreError> {
    let mbox = mailbox.id.clone();
    let decided: Vec<Decided> = engine
        .store
        .call(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT p.actpromptid, p.exchangeentryid, p.itemname, p.tracelogid, p.decision, \
                 p.decisionrecordid, COALESCE(u.fullname, 'a user') FROM actprompt p \
                 LEFT JOIN systemuser u ON u.systemuserid = p.decidedby \
                 WHERE p.mailboxid = ?1 AND p.objecttypecode = ?2 AND p.decision IS NOT NULL",
            )?;
            let rows = stmt
                .query_map(params![mbox, kind.object_type_code()], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<DecidedRow>>>()?;
            Ok(rows
                .into_iter()
                .filter_map(|(id, exchange_id, item_name, tracelog, d, record, by)| {
                    Some(Decided {
                        id,
                        exchange_id,
                        item_name,
                        tracelog,
                        decision: Decision::from_code(d)?,
                        record,
                        by,
                    })
                })
                .collect())
        })
        .await?;
    for d in decided {
        let item = if d.decision.saves() {
            match session.get(kind, &d.exchange_id).await {
                Ok(item) => item,
                Err(f) => return Ok(Err(f)),
            }
        } else {
            None
        };
        let (mbox, owner, now) = (mailbox.id.clone(), user.to_string(), engine.clock.now());
        engine
            .store
            .call(move |c| {
                write_tx(c, |tx| {
                    carry_out(tx, &mbox, &owner, kind, &d, item.as_ref(), now)
                })
            })
            .await?;
    }
    Ok(Ok(()))
}

fn record_exists(tx: &Transaction<'_>, kind: Kind, id: &str) -> Result<bool> {
    Ok(tx
        .query_row(
            &format!(
                "SELECT 1 FROM {} WHERE {} = ?1",
                kind.table(),
                key_column(kind)
            ),
            [id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

fn carry_out(
    tx: &Transaction<'_>,
    mailbox: &str,
    user: &str,
    kind: Kind,
    d: &Decided,
    item: Option<&Item>,
    now: Timestamp,
) -> Result<()> {
    let text = match (d.decision.saves(), item) {
        (true, None) => format!(
            "The {} \"{}\" was deleted in Exchange before the decision of {} could be carried out; nothing was saved.",
            kind.noun(),
            d.item_name,
            d.by
        ),
        (true, Some(item)) => {
            let completed = act::completed_in_exchange(kind, &item.props);
            let existing = match d.record.as_deref() {
                Some(r) if record_exists(tx, kind, r)? => Some(r),
                _ => None,
            };
            match (d.decision, existing) {
                (Decision::LinkToRecord, Some(record)) => {
                    let linked = Linked {
                        completed,
                        tracked: true,
                    };
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
                (Decision::LinkToRecord, None) => format!(
                    "The record chosen for the {} \"{}\" no longer exists; nothing was linked. The item stays in Exchange.",
                    kind.noun(),
                    d.item_name
                ),
                _ => {
                    let id = new_guid()?;
                    insert_record(tx, kind, &id, user, &act::to_record(kind, &item.props))?;
                    let linked = Linked {
                        completed,
                        tracked: true,
                    };
                    link(tx, mailbox, user, kind, &item.id, &item.change_key, &id, linked)?;
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
