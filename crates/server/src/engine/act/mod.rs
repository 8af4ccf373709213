//! Appointments, contacts and tasks of one mailbox over EWS: the primary organization
//! recorded in the Exchange mailbox, then, for appointments, contacts and tasks, the folder's changes
//! (SyncFolderItems from the sync state kept per mailbox and folder), core's
//! `engine::act::plan` of what to do, the EWS writes, and the records, links and new
//! sync state written in one transaction per folder. `sql.rs` is that SQL; `prompts.rs`
//! the alerts that ask for action and the decisions given on them.
//!
//! Queue mailboxes have no appointments, contacts and tasks ("queue mailboxes don't
//! support appointment, contact, or task sync"): nothing is done for them.

mod prompts;
mod sql;

use std::collections::HashMap;

use mailsync_core::engine::act::{self, Action, Change, Here, Kind, Primary};
use mailsync_core::engine::protocol::Plan;
use mailsync_core::engine::{ConnectionFailure, DirectionResult, FailureKind, Mailbox};
use rusqlite::{Connection, OptionalExtension};

use super::io::{failure, Io};
use super::Engine;
use crate::mail::ews_act::{Session, SyncPage};
use crate::store::{new_guid, write_tx, Result, StoreError};

/// Actions one folder takes in one cycle; the rest wait for the next.
const ACTIONS_PER_CYCLE: usize = 500;
/// New items one CreateItem carries (Exchange takes many; 100 keeps a request small).
const CREATE_BATCH: usize = 100;
/// SyncFolderItems pages one folder reads in one cycle at most.
const PAGES_PER_CYCLE: usize = 20;
/// Items one GetItem reads again (the fake EWS, like Exchange's throttling policy,
/// takes at most 250 per request).
const GET_BATCH: usize = 100;

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
/// where it may; a sync cycle synchronizes appointments, contacts and tasks both ways.
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

/// A new meeting's UID, as Outlook makes them: the Outlook global object ID prefix,
/// then 16 random bytes.
fn meeting_uid() -> Result<String> {
    let id = new_guid()?.replace('-', "").to_ascii_uppercase();
    Ok(format!("040000008200E00074C5B7101A82E00800000000{id}"))
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

/// One folder: decisions given meanwhile carried out, then read, ask Exchange, plan,
/// write to Exchange, write here. `Ok(Err)` when Exchange failed as a whole (the
/// direction fails); item-level refusals are counted.
#[allow(clippy::too_many_arguments)]
async fn folder(
    engine: &Engine,
    session: &Session<'_>,
    plan: &Plan,
    mailbox: &Mailbox,
    ctx: &Context,
    user: &str,
    kind: Kind,
) -> std::result::Result<std::result::Result<(i64, i64), ConnectionFailure>, StoreError> {
    let here = Here {
        org: &ctx.org_id,
        mailbox: &mailbox.id,
        now: engine.clock.now(),
    };
    if let Err(f) = prompts::carry_out_decisions(engine, session, here, mailbox, user, kind).await?
    {
        return Ok(Err(failure(plan, f)));
    }
    let (mbox, owner) = (mailbox.id.clone(), user.to_string());
    let (state, links, records) = engine
        .store
        .call(move |c| sql::read_folder(c, &mbox, &owner, kind))
        .await?;
    let (changes, new_state) = match changes(session, kind, state).await {
        Ok(c) => c,
        Err(f) => return Ok(Err(failure(plan, f))),
    };
    let actions = act::plan(
        kind,
        here,
        user,
        ctx.settings,
        &links,
        &changes,
        &records,
        ACTIONS_PER_CYCLE,
    );
    // Items waiting for a decision stay out; new duplicates and items linked elsewhere
    // become prompts.
    let mbox = mailbox.id.clone();
    let (actions, asks) = engine
        .store
        .call(move |c| Ok(prompts::hold_for_decisions(c, &mbox, kind, actions)?))
        .await?;
    // Exchange first: what it refuses is not recorded here, and tried again next cycle.
    let mut applied = Vec::new();
    let mut failed = 0i64;
    let (mut creates, others): (Vec<Action>, Vec<Action>) = actions
        .into_iter()
        .partition(|a| matches!(a, Action::CreateItem { .. }));
    // A new meeting gets its UID here: the appointment's global object ID, by which
    // its attendees' copies are linked.
    if kind == Kind::Appointment {
        for a in &mut creates {
            if let Action::CreateItem { props, .. } = a {
                if !props.contains_key("UID") {
                    props.insert("UID".into(), meeting_uid()?);
                }
            }
        }
    }
    // New items go CREATE_BATCH to a CreateItem, meetings whose invitations go apart
    // from those whose do not.
    let (invited, quiet): (Vec<Action>, Vec<Action>) = creates.into_iter().partition(|a| {
        matches!(a, Action::CreateItem { props, .. } if kind == Kind::Appointment
            && crate::mail::ews_act::invites(props, here.now))
    });
    for (invite, chunk) in invited
        .chunks(CREATE_BATCH)
        .map(|c| (true, c))
        .chain(quiet.chunks(CREATE_BATCH).map(|c| (false, c)))
    {
        let items: Vec<(&act::Values, String)> = chunk
            .iter()
            .filter_map(|a| match a {
                Action::CreateItem { record_id, props } => {
                    Some((props, act::marker(here, record_id)))
                }
                _ => None,
            })
            .collect();
        let answers = match session.create_many(kind, &items, invite).await {
            Ok(a) => a,
            Err(f) => return Ok(Err(failure(plan, f))),
        };
        for (action, answer) in chunk.iter().zip(answers) {
            match answer {
                Ok(written) => applied.push(sql::Applied {
                    action: action.clone(),
                    written: Some(written),
                    record: None,
                }),
                Err(_item_error) => failed += 1,
            }
        }
    }
    for action in others {
        let mut record = None;
        let result = match &action {
            Action::UpdateItem {
                record_id,
                exchange_id,
                change_key,
                props,
            } => {
                let m = act::marker(here, record_id);
                let send = crate::mail::ews_act::invites(props, here.now);
                session
                    .update(kind, exchange_id, change_key, Some(props), Some(&m), send)
                    .await
                    .map(|r| r.map(Some))
            }
            Action::DeleteItem { exchange_id, .. } => session
                .delete(kind, exchange_id)
                .await
                .map(|r| r.map(|_| None)),
            // The tracked item gets this record's marker before the record exists.
            Action::CreateRecord { item, .. } => {
                let id = new_guid()?;
                let m = act::marker(here, &id);
                record = Some(id);
                session
                    .update(kind, &item.id, &item.change_key, None, Some(&m), false)
                    .await
                    .map(|r| r.map(Some))
            }
            // A meeting linked to its appointment: marked as linked here.
            Action::LinkRecord { item, record_id } => {
                let m = act::marker(here, record_id);
                session
                    .update(kind, &item.id, &item.change_key, None, Some(&m), false)
                    .await
                    .map(|r| r.map(Some))
            }
            _ => Ok(Ok(None)),
        };
        match result {
            Ok(Ok(written)) => applied.push(sql::Applied {
                action,
                written,
                record,
            }),
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
                sql::write_folder(tx, &mbox, &owner, kind, &applied, &new_state, now)?;
                for a in &asks {
                    prompts::ask(tx, &mbox, &name, kind, a, now)?;
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
    let mut changes: Vec<Change> = all
        .iter()
        .enumerate()
        .filter(|(i, c)| last.get(&id(c)) == Some(i))
        .map(|(_, c)| c.clone())
        .collect();
    // Every property: SyncFolderItems, like FindItem, leaves the body and a meeting's
    // attendees out. An item gone meanwhile is left to the next cycle's Delete.
    let upserts: Vec<usize> = (0..changes.len())
        .filter(|i| matches!(changes[*i], Change::Upsert(_)))
        .collect();
    let mut gone = Vec::new();
    for chunk in upserts.chunks(GET_BATCH) {
        let ids: Vec<String> = chunk.iter().map(|i| id(&changes[*i])).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let full = session.get_many(kind, &refs).await?;
        for (i, item) in chunk.iter().zip(full) {
            match item {
                Some(item) => changes[*i] = Change::Upsert(item),
                None => gone.push(*i),
            }
        }
    }
    for i in gone.into_iter().rev() {
        changes.remove(i);
    }
    Ok((changes, state))
}
